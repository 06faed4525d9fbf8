-- The segment catalog, version 1. Instants are microseconds since the epoch (UTC).

CREATE TABLE segments (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    name TEXT NOT NULL,
    -- The name trimmed and case folded: names are unique per tenant in this form.
    name_key TEXT NOT NULL UNIQUE,
    description TEXT,
    colour TEXT,
    kind TEXT NOT NULL CHECK (kind IN ('static', 'dynamic')),
    -- The rule as JSON text; present exactly for dynamic segments.
    rule TEXT,
    tier TEXT CHECK (tier IN ('retail', 'wholesale', 'vip', 'staff')),
    rule_version INTEGER NOT NULL DEFAULT 1,
    created_at INTEGER NOT NULL,
    updated_at INTEGER NOT NULL,
    CHECK ((kind = 'dynamic') = (rule IS NOT NULL))
);

-- Which segments a dynamic segment's rule reads. Deleting a segment that is still read
-- fails on the foreign key, whatever the caller checked before.
CREATE TABLE segment_refs (
    segment_id INTEGER NOT NULL REFERENCES segments (id) ON DELETE CASCADE,
    refers_to INTEGER NOT NULL REFERENCES segments (id),
    PRIMARY KEY (segment_id, refers_to)
) WITHOUT ROWID;

CREATE INDEX segment_refs_by_target ON segment_refs (refers_to);

-- Static members as client ids; a deleted client stays stored but is no member.
CREATE TABLE static_members (
    segment_id INTEGER NOT NULL REFERENCES segments (id) ON DELETE CASCADE,
    client_id INTEGER NOT NULL,
    PRIMARY KEY (segment_id, client_id)
) WITHOUT ROWID;

-- The last published membership of each segment, as an encoded bitmap of client ids.
CREATE TABLE segment_state (
    segment_id INTEGER PRIMARY KEY REFERENCES segments (id) ON DELETE CASCADE,
    refreshed_at INTEGER NOT NULL,
    rule_version INTEGER NOT NULL,
    member_count INTEGER NOT NULL,
    entered_count INTEGER NOT NULL,
    left_count INTEGER NOT NULL,
    members BLOB NOT NULL
);

-- One row per published refresh: who entered and who left, as encoded bitmaps.
CREATE TABLE segment_history (
    id INTEGER PRIMARY KEY,
    segment_id INTEGER NOT NULL REFERENCES segments (id) ON DELETE CASCADE,
    at INTEGER NOT NULL,
    rule_version INTEGER NOT NULL,
    member_count INTEGER NOT NULL,
    entered_count INTEGER NOT NULL,
    left_count INTEGER NOT NULL,
    entered BLOB NOT NULL,
    left_ids BLOB NOT NULL
);

CREATE INDEX segment_history_by_segment ON segment_history (segment_id, at);
CREATE INDEX segment_history_by_time ON segment_history (at);
