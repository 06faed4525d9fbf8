//! Checking a segment's fields before anything is stored: name, description, colour, tier,
//! and that the kind and the rule agree.

use crate::catalog::segments::{SegmentDraft, SegmentKind, SegmentRecord};
use crate::rules::Rule;
use crate::snapshot::Snapshot;

use super::error::{Result, ServiceError};
use super::views::{NewSegment, SegmentPatch};

/// The longest segment name, in characters.
pub const NAME_CHARS_MAX: usize = 100;
/// The longest description, in characters.
pub const DESCRIPTION_CHARS_MAX: usize = 2_000;
/// The pricing tiers a segment may carry (SEMANTICS.md, "Pricing").
pub const TIERS: [&str; 4] = ["retail", "wholesale", "vip", "staff"];

/// A draft ready to store, with its parsed rule (dynamic segments).
#[derive(Debug, Clone)]
pub(super) struct Checked {
    pub draft: SegmentDraft,
    pub rule: Option<Rule>,
}

/// Checks a new segment against the tenant's fields.
///
/// # Errors
/// [`ServiceError::Invalid`] naming the field, or [`ServiceError::BadRule`].
pub(super) fn new_segment(new: &NewSegment, snapshot: &Snapshot) -> Result<Checked> {
    let rule = kind_rule(new.kind, new.rule.as_ref(), snapshot)?;
    let draft = SegmentDraft {
        name: name(&new.name)?,
        description: description(new.description.as_deref())?,
        colour: colour(new.colour.as_deref())?,
        kind: new.kind,
        rule: new.rule.clone(),
        tier: tier(new.tier.as_deref())?,
        refs: rule.as_ref().map(Rule::segment_refs).unwrap_or_default(),
    };
    Ok(Checked { draft, rule })
}

/// Applies a patch to a stored segment. The returned rule is `Some` only when the patch
/// changes the rule.
///
/// # Errors
/// As [`new_segment`], plus a patch that changes the kind or gives a static segment a rule.
pub(super) fn patch(
    record: &SegmentRecord,
    patch: &SegmentPatch,
    snapshot: &Snapshot,
) -> Result<Checked> {
    if let Some(kind) = patch.kind.filter(|k| *k != record.kind) {
        return Err(ServiceError::Invalid(format!(
            "kind: segment {} is {}; a segment's kind cannot change to {}",
            record.id,
            record.kind.as_str(),
            kind.as_str()
        )));
    }
    let new_rule = patch
        .rule
        .as_ref()
        .filter(|r| Some(*r) != record.rule.as_ref());
    let rule = match new_rule {
        Some(json) => kind_rule(record.kind, Some(json), snapshot)?,
        None => None,
    };
    let refs = match (&rule, &record.rule) {
        (Some(rule), _) => rule.segment_refs(),
        (None, Some(json)) => stored_refs(json, snapshot),
        (None, None) => Vec::new(),
    };
    let draft = SegmentDraft {
        name: match &patch.name {
            Some(new) => name(new)?,
            None => record.name.clone(),
        },
        description: match &patch.description {
            Some(new) => description(new.as_deref())?,
            None => record.description.clone(),
        },
        colour: match &patch.colour {
            Some(new) => colour(new.as_deref())?,
            None => record.colour.clone(),
        },
        kind: record.kind,
        rule: new_rule.cloned().or_else(|| record.rule.clone()),
        tier: match &patch.tier {
            Some(new) => tier(new.as_deref())?,
            None => record.tier.clone(),
        },
        refs,
    };
    Ok(Checked { draft, rule })
}

/// The segments a stored rule reads; a rule that no longer parses reads none we can tell.
fn stored_refs(json: &serde_json::Value, snapshot: &Snapshot) -> Vec<i64> {
    Rule::from_json(json, &snapshot.facts.custom_fields)
        .map(|rule| rule.segment_refs())
        .unwrap_or_default()
}

/// A dynamic segment needs a valid rule; a static one takes none.
fn kind_rule(
    kind: SegmentKind,
    rule: Option<&serde_json::Value>,
    snapshot: &Snapshot,
) -> Result<Option<Rule>> {
    match (kind, rule) {
        (SegmentKind::Dynamic, Some(json)) => {
            Ok(Some(Rule::from_json(json, &snapshot.facts.custom_fields)?))
        }
        (SegmentKind::Dynamic, None) => Err(ServiceError::Invalid(
            "rule: a dynamic segment needs a rule".into(),
        )),
        (SegmentKind::Static, Some(_)) => Err(ServiceError::Invalid(
            "rule: a static segment lists its members and takes no rule".into(),
        )),
        (SegmentKind::Static, None) => Ok(None),
    }
}

/// A name, trimmed: not blank, at most [`NAME_CHARS_MAX`] characters, no control characters.
pub(super) fn name(raw: &str) -> Result<String> {
    let name = raw.trim();
    let invalid = |why: &str| {
        Err(ServiceError::Invalid(format!(
            "name {}: {why}",
            quoted(raw)
        )))
    };
    if name.is_empty() {
        return invalid("must not be blank");
    }
    if name.chars().count() > NAME_CHARS_MAX {
        return invalid(&format!("is longer than {NAME_CHARS_MAX} characters"));
    }
    if name.chars().any(char::is_control) {
        return invalid("must not hold control characters");
    }
    Ok(name.to_string())
}

/// Characters of a refused text quoted back in an error; a longer text is cut.
const QUOTED_CHARS_MAX: usize = 60;

/// `text` quoted for an error: whole when short, else its start and its length, so a
/// refused 100 KB name does not come back as a 100 KB answer.
fn quoted(text: &str) -> String {
    let chars = text.chars().count();
    if chars <= QUOTED_CHARS_MAX {
        return format!("{text:?}");
    }
    let start: String = text.chars().take(QUOTED_CHARS_MAX).collect();
    format!("{:?} ({chars} characters)", format!("{start}..."))
}

/// A description, trimmed; blank means none.
fn description(raw: Option<&str>) -> Result<Option<String>> {
    let Some(text) = raw.map(str::trim).filter(|t| !t.is_empty()) else {
        return Ok(None);
    };
    if text.chars().count() > DESCRIPTION_CHARS_MAX {
        return Err(ServiceError::Invalid(format!(
            "description: is longer than {DESCRIPTION_CHARS_MAX} characters"
        )));
    }
    Ok(Some(text.to_string()))
}

/// A colour `#rrggbb`, kept lower-case.
pub(super) fn colour(raw: Option<&str>) -> Result<Option<String>> {
    let Some(text) = raw else {
        return Ok(None);
    };
    let trimmed = text.trim();
    let hex = trimmed.strip_prefix('#').unwrap_or("");
    if hex.len() != 6 || !hex.bytes().all(|b| b.is_ascii_hexdigit()) {
        return Err(ServiceError::Invalid(format!(
            "colour {text:?}: expected #rrggbb, six hexadecimal digits after '#'"
        )));
    }
    Ok(Some(trimmed.to_ascii_lowercase()))
}

/// A pricing tier, trimmed and case folded.
pub(super) fn tier(raw: Option<&str>) -> Result<Option<String>> {
    let Some(text) = raw else {
        return Ok(None);
    };
    let folded = text.trim().to_lowercase();
    if !TIERS.contains(&folded.as_str()) {
        return Err(ServiceError::Invalid(format!(
            "tier {text:?}: expected one of {}",
            TIERS.join(", ")
        )));
    }
    Ok(Some(folded))
}
