//! What a run must send: the difference between the segment, the state this sync confirmed,
//! and (two-way) the tag's members in Mailchimp. Pure: no requests, no database.
//!
//! Members are keyed by subscriber hash. For each hash the plan compares three booleans:
//! `here` (the segment wants it tagged), `there` (Mailchimp has it tagged; one-way assumes
//! nothing changed there) and `base` (both sides agreed it was tagged after the last run).
//! Only the side that moved away from `base` is applied to the other; when both moved to
//! different places, this side wins and the conflict is reported.

use std::collections::{BTreeMap, BTreeSet};

use arrow::array::{Array, AsArray};
use roaring::RoaringBitmap;
use serde::{Deserialize, Serialize};

use super::address::{is_valid, normalize, subscriber_hash};
use crate::facts::schema::clients;
use crate::snapshot::Snapshot;

/// A client as the sync sees it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MemberInfo {
    pub client_id: i64,
    pub email: Option<String>,
    pub marketing_consent: Option<bool>,
}

/// The segment's side of a run.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct SyncInput {
    /// The segment's current members.
    pub members: Vec<MemberInfo>,
    /// Every live client, to match addresses tagged in Mailchimp back to clients (two-way).
    pub directory: Vec<MemberInfo>,
    pub segment_is_static: bool,
}

impl SyncInput {
    /// The members at `positions` of `snapshot`; a static segment also gets the directory
    /// of live clients, which two-way runs need.
    pub fn from_snapshot(
        snapshot: &Snapshot,
        positions: &RoaringBitmap,
        segment_is_static: bool,
    ) -> SyncInput {
        let directory = if segment_is_static {
            contacts(snapshot, &snapshot.universe)
        } else {
            Vec::new()
        };
        SyncInput {
            members: contacts(snapshot, positions),
            directory,
            segment_is_static,
        }
    }
}

fn contacts(snapshot: &Snapshot, positions: &RoaringBitmap) -> Vec<MemberInfo> {
    let emails = snapshot.client_text(clients::EMAIL);
    let consent = snapshot
        .clients
        .column_by_name(clients::MARKETING_CONSENT)
        .expect("canonical column")
        .as_boolean();
    let info = |pos: u32| {
        let row = pos as usize;
        MemberInfo {
            client_id: snapshot.index.client_id(pos),
            email: emails.is_valid(row).then(|| emails.value(row).to_string()),
            marketing_consent: consent.is_valid(row).then(|| consent.value(row)),
        }
    };
    positions.iter().map(info).collect()
}

/// One Mailchimp member the segment wants tagged: an address and the clients holding it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Target {
    pub hash: String,
    pub email: String,
    pub client_ids: Vec<i64>,
    /// False when any of the clients has `marketing_consent` false.
    pub consent: bool,
    /// A tag request was sent in an earlier run and never confirmed: the member exists.
    #[serde(skip)]
    pub sent_before: bool,
}

/// A member to untag.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Untag {
    pub hash: String,
    pub email: String,
}

/// Why a client was not sent.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum SkipReason {
    MissingEmail,
    InvalidEmail,
    /// Absent from the audience, and creating it would need consent the client refused.
    NoConsent,
    /// In the audience as `cleaned` (bouncing): never tagged.
    Cleaned,
    /// In the audience as `archived`: never tagged, never brought back.
    Archived,
}

/// A client (or clients sharing an address) left out, and why.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Skipped {
    pub client_ids: Vec<i64>,
    pub email: Option<String>,
    pub reason: SkipReason,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ConflictKind {
    /// Several clients share one address; they are one member.
    SharedEmail,
    /// Both sides changed the member since the last run; this side won.
    BothSidesChanged,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Conflict {
    pub kind: ConflictKind,
    pub email: String,
    pub client_ids: Vec<i64>,
}

/// What this sync recorded for a member.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StateEntry {
    pub email: String,
    pub client_ids: Vec<i64>,
    /// Mailchimp confirmed the tag; false while a tag request may or may not have landed.
    pub confirmed: bool,
}

/// The recorded members of one sync, by subscriber hash.
pub type State = BTreeMap<String, StateEntry>;

/// A change to the recorded state. Those in a plan need no request: both sides agree.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum StateWrite {
    /// A tag request is about to be sent: until confirmed, the tag may or may not land.
    Sent(Target),
    /// Mailchimp has the member tagged.
    Confirm(Target),
    /// The member is untagged (or never was): nothing to remember.
    Forget(String),
}

/// Everything a run sends, applies and records, before any request.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct SyncPlan {
    /// Members to tag, created first where absent.
    pub tag: Vec<Target>,
    pub untag: Vec<Untag>,
    /// Clients to add to the static segment (two-way).
    pub join: Vec<i64>,
    /// Clients to remove from the static segment (two-way).
    pub leave: Vec<i64>,
    pub writes: Vec<StateWrite>,
    pub skipped: Vec<Skipped>,
    pub conflicts: Vec<Conflict>,
    /// Addresses tagged in Mailchimp that match no live client (two-way).
    pub unmatched: Vec<String>,
    pub unchanged: usize,
}

/// The members the segment wants, keyed by hash, plus what could not be a member.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Desired {
    pub targets: BTreeMap<String, Target>,
    pub skipped: Vec<Skipped>,
    pub conflicts: Vec<Conflict>,
}

/// Groups members by address: invalid or missing ones are skipped, shared ones conflict.
pub fn desired(members: &[MemberInfo]) -> Desired {
    let mut out = Desired::default();
    let mut sorted: Vec<&MemberInfo> = members.iter().collect();
    sorted.sort_by_key(|m| m.client_id);
    for member in sorted {
        match member.email.as_deref().map(normalize) {
            None => out
                .skipped
                .push(skip(member, None, SkipReason::MissingEmail)),
            Some(email) if email.is_empty() => {
                out.skipped
                    .push(skip(member, None, SkipReason::MissingEmail));
            }
            Some(email) if !is_valid(&email) => {
                out.skipped
                    .push(skip(member, Some(email), SkipReason::InvalidEmail));
            }
            Some(email) => add_target(&mut out.targets, member, email),
        }
    }
    out.conflicts = shared_emails(&out.targets);
    out
}

fn skip(member: &MemberInfo, email: Option<String>, reason: SkipReason) -> Skipped {
    Skipped {
        client_ids: vec![member.client_id],
        email: email.or_else(|| member.email.clone()),
        reason,
    }
}

fn add_target(targets: &mut BTreeMap<String, Target>, member: &MemberInfo, email: String) {
    let hash = subscriber_hash(&email);
    let target = targets.entry(hash.clone()).or_insert_with(|| Target {
        hash,
        email,
        client_ids: Vec::new(),
        consent: true,
        sent_before: false,
    });
    target.client_ids.push(member.client_id);
    target.consent &= member.marketing_consent != Some(false);
}

fn shared_emails(targets: &BTreeMap<String, Target>) -> Vec<Conflict> {
    targets
        .values()
        .filter(|t| t.client_ids.len() > 1)
        .map(|t| Conflict {
            kind: ConflictKind::SharedEmail,
            email: t.email.clone(),
            client_ids: t.client_ids.clone(),
        })
        .collect()
}

/// The tag's members in Mailchimp, by hash, with their addresses (two-way).
pub type Remote = BTreeMap<String, String>;

/// Plans a one-way run: `remote` is `None`, so Mailchimp is assumed unchanged. A two-way run
/// passes the tag's members and the directory of live clients by hash.
pub fn plan_run(
    desired: Desired,
    state: &State,
    remote: Option<(&Remote, &Directory)>,
) -> SyncPlan {
    let mut plan = SyncPlan {
        skipped: desired.skipped,
        conflicts: desired.conflicts,
        ..SyncPlan::default()
    };
    let mut hashes: BTreeSet<&String> = desired.targets.keys().chain(state.keys()).collect();
    if let Some((remote, _)) = remote {
        hashes.extend(remote.keys());
    }
    for hash in hashes {
        let member = Member {
            hash,
            here: desired.targets.get(hash),
            recorded: state.get(hash),
            there: remote.map(|(remote, _)| remote.get(hash)),
        };
        member.decide(&mut plan, remote.map(|(_, dir)| dir));
    }
    plan
}

/// Live clients by subscriber hash of their address.
pub type Directory = BTreeMap<String, Vec<i64>>;

/// Indexes clients by the hash of their valid address.
pub fn directory(clients: &[MemberInfo]) -> Directory {
    let mut out = Directory::new();
    for client in clients {
        let Some(email) = client.email.as_deref().map(normalize) else {
            continue;
        };
        if is_valid(&email) {
            let ids = out.entry(subscriber_hash(&email)).or_default();
            ids.push(client.client_id);
        }
    }
    out
}

/// One hash's three views.
struct Member<'a> {
    hash: &'a String,
    here: Option<&'a Target>,
    recorded: Option<&'a StateEntry>,
    /// `None` in one-way runs; `Some(None)` when the tag is not on the member in Mailchimp.
    there: Option<Option<&'a String>>,
}

impl Member<'_> {
    fn decide(&self, plan: &mut SyncPlan, directory: Option<&Directory>) {
        match self.there {
            None => self.decide_one_way(plan),
            Some(there) => self.decide_two_way(plan, there, directory.expect("two-way")),
        }
    }

    /// Without Mailchimp's view, an unconfirmed request counts as maybe landed: it is sent
    /// again when still wanted, and undone when not, so no removal is lost.
    fn decide_one_way(&self, plan: &mut SyncPlan) {
        match (self.here, self.recorded) {
            (Some(target), Some(entry)) if entry.confirmed => {
                if target.client_ids == entry.client_ids {
                    plan.unchanged += 1;
                } else {
                    plan.writes.push(StateWrite::Confirm(target.clone()));
                }
            }
            (Some(target), recorded) => plan.tag.push(Target {
                sent_before: recorded.is_some(),
                ..target.clone()
            }),
            (None, Some(entry)) => plan.untag.push(self.untag(&entry.email)),
            (None, None) => {}
        }
    }

    fn decide_two_way(&self, plan: &mut SyncPlan, there: Option<&String>, directory: &Directory) {
        let base = match self.recorded {
            Some(entry) if entry.confirmed => true,
            Some(_) => there.is_some(),
            None => false,
        };
        let here = self.here.is_some();
        let clients_moved = match (self.here, self.recorded) {
            (Some(target), Some(entry)) => base && target.client_ids != entry.client_ids,
            _ => false,
        };
        let here_changed = here != base || clients_moved;
        let there_changed = there.is_some() != base;
        match (here_changed, there_changed) {
            (false, false) => self.agree(plan, there.is_some()),
            (true, false) if here == there.is_some() => self.agree(plan, here),
            (true, false) => self.send_here(plan, there),
            (false, true) => self.apply_there(plan, there, directory),
            (true, true) if here == there.is_some() => self.agree(plan, here),
            (true, true) => {
                self.send_here(plan, there);
                plan.conflicts.push(self.both_changed(there));
            }
        }
    }

    /// Both sides say `tagged`; records it when the state says otherwise.
    fn agree(&self, plan: &mut SyncPlan, tagged: bool) {
        match (tagged, self.here, self.recorded) {
            (true, Some(t), Some(e)) if e.confirmed && e.client_ids == t.client_ids => {
                plan.unchanged += 1;
            }
            (true, Some(target), _) => plan.writes.push(StateWrite::Confirm(target.clone())),
            (false, _, Some(_)) => plan.writes.push(StateWrite::Forget(self.hash.clone())),
            _ => {}
        }
    }

    fn send_here(&self, plan: &mut SyncPlan, there: Option<&String>) {
        match (self.here, there) {
            (Some(target), _) => plan.tag.push(target.clone()),
            (None, Some(email)) => plan.untag.push(self.untag(email)),
            (None, None) => {}
        }
    }

    /// Mailchimp moved: the segment follows. The state is left as it was, so the same change
    /// is returned again until the segment holds it, and then both sides agree.
    fn apply_there(&self, plan: &mut SyncPlan, there: Option<&String>, directory: &Directory) {
        match (there, self.here) {
            (Some(email), _) => match directory.get(self.hash) {
                Some(ids) => plan.join.extend(ids),
                None => plan.unmatched.push(email.clone()),
            },
            (None, Some(target)) => plan.leave.extend(&target.client_ids),
            (None, None) => {}
        }
    }

    fn both_changed(&self, there: Option<&String>) -> Conflict {
        let email = self.here.map(|t| &t.email).or(there).cloned();
        Conflict {
            kind: ConflictKind::BothSidesChanged,
            email: email.unwrap_or_default(),
            client_ids: self.here.map(|t| t.client_ids.clone()).unwrap_or_default(),
        }
    }

    fn untag(&self, email: &str) -> Untag {
        Untag {
            hash: self.hash.clone(),
            email: email.to_string(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn client(id: i64, email: Option<&str>, consent: Option<bool>) -> MemberInfo {
        MemberInfo {
            client_id: id,
            email: email.map(String::from),
            marketing_consent: consent,
        }
    }

    /// Clients 1..=n with addresses `c<id>@example.com`.
    fn members(ids: &[i64]) -> Vec<MemberInfo> {
        let email = |id: i64| format!("c{id}@example.com");
        ids.iter()
            .map(|id| client(*id, Some(&email(*id)), None))
            .collect()
    }

    fn state(entries: &[(i64, bool)]) -> State {
        let entry = |(id, confirmed): &(i64, bool)| {
            let email = format!("c{id}@example.com");
            let value = StateEntry {
                email: email.clone(),
                client_ids: vec![*id],
                confirmed: *confirmed,
            };
            (subscriber_hash(&email), value)
        };
        entries.iter().map(entry).collect()
    }

    fn remote(ids: &[i64]) -> Remote {
        ids.iter()
            .map(|id| format!("c{id}@example.com"))
            .map(|email| (subscriber_hash(&email), email))
            .collect()
    }

    fn ids_of_tag(plan: &SyncPlan) -> Vec<i64> {
        let mut ids: Vec<i64> = plan.tag.iter().flat_map(|t| t.client_ids.clone()).collect();
        ids.sort();
        ids
    }

    fn emails_of_untag(plan: &SyncPlan) -> Vec<&str> {
        let mut emails: Vec<&str> = plan.untag.iter().map(|u| u.email.as_str()).collect();
        emails.sort();
        emails
    }

    #[test]
    fn desired_merges_shared_addresses_and_skips_bad_ones() {
        let input = vec![
            client(4, Some(" Ann@Example.com"), Some(true)),
            client(2, Some("ann@example.com "), Some(false)),
            client(3, None, None),
            client(5, Some("   "), None),
            client(6, Some("not-an-address"), None),
            client(1, Some("bob@example.com"), None),
        ];
        let desired = desired(&input);
        let ann = &desired.targets[&subscriber_hash("ann@example.com")];
        assert_eq!(ann.email, "ann@example.com");
        assert_eq!(ann.client_ids, vec![2, 4]);
        assert!(!ann.consent, "one client refused consent");
        assert!(desired.targets[&subscriber_hash("bob@example.com")].consent);
        assert_eq!(desired.targets.len(), 2);
        let conflict = Conflict {
            kind: ConflictKind::SharedEmail,
            email: "ann@example.com".into(),
            client_ids: vec![2, 4],
        };
        assert_eq!(desired.conflicts, vec![conflict]);
        let skipped: Vec<(i64, SkipReason)> = desired
            .skipped
            .iter()
            .map(|s| (s.client_ids[0], s.reason))
            .collect();
        let expected = vec![
            (3, SkipReason::MissingEmail),
            (5, SkipReason::MissingEmail),
            (6, SkipReason::InvalidEmail),
        ];
        assert_eq!(skipped, expected);
    }

    #[track_caller]
    fn check_one_way(segment: &[i64], recorded: &[(i64, bool)], tag: &[i64], untag: &[&str]) {
        let plan = plan_run(desired(&members(segment)), &state(recorded), None);
        assert_eq!(ids_of_tag(&plan), tag, "tag");
        assert_eq!(emails_of_untag(&plan), untag, "untag");
        assert!(plan.join.is_empty() && plan.leave.is_empty());
    }

    #[test]
    fn one_way_sends_the_difference_with_the_confirmed_state() {
        check_one_way(&[1, 2, 3], &[], &[1, 2, 3], &[]);
        check_one_way(&[1, 3], &[(1, true), (2, true)], &[3], &["c2@example.com"]);
        check_one_way(&[1, 2], &[(1, true), (2, true)], &[], &[]);
        check_one_way(&[], &[(1, true)], &[], &["c1@example.com"]);
    }

    #[test]
    fn one_way_resends_unconfirmed_tags_and_undoes_them_when_unwanted() {
        check_one_way(&[1], &[(1, false), (2, false)], &[1], &["c2@example.com"]);
        let plan = plan_run(desired(&members(&[1, 3])), &state(&[(1, false)]), None);
        let sent_before: Vec<(i64, bool)> = plan
            .tag
            .iter()
            .map(|t| (t.client_ids[0], t.sent_before))
            .collect();
        assert_eq!(sent_before, vec![(1, true), (3, false)]);
    }

    #[test]
    fn one_way_records_a_new_client_on_a_confirmed_address_without_a_request() {
        let mut input = members(&[1]);
        input.push(client(9, Some("C1@example.com"), None));
        let plan = plan_run(desired(&input), &state(&[(1, true)]), None);
        assert!(plan.tag.is_empty() && plan.untag.is_empty());
        let StateWrite::Confirm(target) = &plan.writes[0] else {
            panic!("expected a confirm, got {:?}", plan.writes);
        };
        assert_eq!(target.client_ids, vec![1, 9]);
    }

    struct TwoWay {
        tag: Vec<i64>,
        untag: Vec<&'static str>,
        join: Vec<i64>,
        leave: Vec<i64>,
        forget: usize,
        confirm: usize,
        conflicts: usize,
    }

    #[track_caller]
    fn check_two_way(
        segment: &[i64],
        recorded: &[(i64, bool)],
        tagged_there: &[i64],
        expected: TwoWay,
    ) {
        let directory = directory(&members(&[1, 2, 3, 4, 5]));
        let remote = remote(tagged_there);
        let plan = plan_run(
            desired(&members(segment)),
            &state(recorded),
            Some((&remote, &directory)),
        );
        let forget = plan
            .writes
            .iter()
            .filter(|w| matches!(w, StateWrite::Forget(_)));
        let confirm = plan
            .writes
            .iter()
            .filter(|w| matches!(w, StateWrite::Confirm(_)));
        assert_eq!(ids_of_tag(&plan), expected.tag, "tag");
        assert_eq!(emails_of_untag(&plan), expected.untag, "untag");
        assert_eq!(plan.join, expected.join, "join");
        assert_eq!(plan.leave, expected.leave, "leave");
        assert_eq!(forget.count(), expected.forget, "forget");
        assert_eq!(confirm.count(), expected.confirm, "confirm");
        assert_eq!(plan.conflicts.len(), expected.conflicts, "conflicts");
    }

    fn none() -> TwoWay {
        TwoWay {
            tag: vec![],
            untag: vec![],
            join: vec![],
            leave: vec![],
            forget: 0,
            confirm: 0,
            conflicts: 0,
        }
    }

    #[test]
    fn two_way_applies_each_side_only_where_it_moved() {
        // Added here: one tag request.
        check_two_way(
            &[1],
            &[],
            &[],
            TwoWay {
                tag: vec![1],
                ..none()
            },
        );
        // Next run: both sides hold it; nothing to send.
        check_two_way(&[1], &[(1, true)], &[1], none());
        // Untagged in Mailchimp: the client leaves the segment, nothing is sent.
        check_two_way(
            &[1, 3],
            &[(1, true), (3, true)],
            &[1],
            TwoWay {
                leave: vec![3],
                ..none()
            },
        );
        // Once the segment follows, both agree and the record goes.
        check_two_way(
            &[1],
            &[(1, true), (3, true)],
            &[1],
            TwoWay {
                forget: 1,
                ..none()
            },
        );
        // Tagged in Mailchimp: the client joins; removed here: untagged there.
        check_two_way(
            &[],
            &[(2, true)],
            &[2, 4],
            TwoWay {
                join: vec![4],
                untag: vec!["c2@example.com"],
                ..none()
            },
        );
        // Tagged on both sides since the last run: recorded, nothing sent.
        check_two_way(
            &[5],
            &[],
            &[5],
            TwoWay {
                confirm: 1,
                ..none()
            },
        );
    }

    #[test]
    fn two_way_lets_this_side_win_when_both_moved() {
        // Address 1 was tagged for client 1; here client 9 now shares it, there it was
        // untagged. This side wins: tag again, and report.
        let mut input = members(&[1]);
        input.push(client(9, Some("c1@example.com"), None));
        let directory = directory(&input);
        let plan = plan_run(
            desired(&input),
            &state(&[(1, true)]),
            Some((&Remote::new(), &directory)),
        );
        assert_eq!(ids_of_tag(&plan), vec![1, 9]);
        assert!(plan.leave.is_empty());
        let kinds: Vec<ConflictKind> = plan.conflicts.iter().map(|c| c.kind).collect();
        assert_eq!(
            kinds,
            vec![ConflictKind::SharedEmail, ConflictKind::BothSidesChanged]
        );
    }

    #[test]
    fn two_way_resolves_unconfirmed_tags_by_what_mailchimp_shows() {
        // The request landed: record it. It did not: send it again.
        check_two_way(
            &[1],
            &[(1, false)],
            &[1],
            TwoWay {
                confirm: 1,
                ..none()
            },
        );
        check_two_way(
            &[1],
            &[(1, false)],
            &[],
            TwoWay {
                tag: vec![1],
                ..none()
            },
        );
        // It did not land and is no longer wanted: forget it.
        check_two_way(
            &[],
            &[(1, false)],
            &[],
            TwoWay {
                forget: 1,
                ..none()
            },
        );
    }

    #[test]
    fn two_way_reports_tagged_addresses_of_no_client() {
        let remote = remote(&[42]);
        let plan = plan_run(
            desired(&[]),
            &State::new(),
            Some((&remote, &Directory::new())),
        );
        assert_eq!(plan.unmatched, vec!["c42@example.com".to_string()]);
        assert!(plan.join.is_empty());
    }
}
