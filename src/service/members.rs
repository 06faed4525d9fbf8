//! Static members and member listings: add and remove client ids in bulk, page through a
//! segment's members by client id, export them as CSV.

use crate::export::spreadsheet_safe;
use std::collections::HashSet;
use std::sync::Arc;

use roaring::RoaringBitmap;

use crate::catalog::members;
use crate::catalog::segments::{SegmentKind, SegmentRecord};
use crate::facts::schema::clients;
use crate::snapshot::Snapshot;

use super::compute::Computed;
use super::error::{Result, ServiceError};
use super::state::{TenantState, live_positions};
use super::views::{MemberChange, MemberRow, MembersPage};
use super::{PAGE_LIMIT_MAX, Service};

/// Whether a bulk change adds or removes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Change {
    Add,
    Remove,
}

impl Service {
    /// Adds clients to a static segment. Ids that are not clients, or are deleted clients,
    /// are reported back and not stored; repeats change nothing.
    ///
    /// # Errors
    /// [`ServiceError::NotFound`], or [`ServiceError::Conflict`] for a dynamic segment.
    pub async fn add_members(&self, id: i64, client_ids: &[i64]) -> Result<MemberChange> {
        self.change_members(id, client_ids, Change::Add).await
    }

    /// Removes clients from a static segment; ids that were not members are counted as
    /// unchanged (or reported as unknown or deleted clients).
    ///
    /// # Errors
    /// As [`Service::add_members`].
    pub async fn remove_members(&self, id: i64, client_ids: &[i64]) -> Result<MemberChange> {
        self.change_members(id, client_ids, Change::Remove).await
    }

    /// Adds or removes, under the writes lock, and republishes the segments that read it.
    pub(super) async fn change_members(
        &self,
        id: i64,
        client_ids: &[i64],
        change: Change,
    ) -> Result<MemberChange> {
        let mut log = self.writes.lock().await;
        let state = self.state();
        let record = self.static_record(id)?;
        let unique = unique_in_order(client_ids);
        let results = self.republish(&state, &record, &unique, change).await?;
        let stored = match change {
            Change::Add => live_ids(&state.snapshot, &unique),
            Change::Remove => unique.clone(),
        };
        let changed = self.commit(&mut log, |tx| {
            let changed = match change {
                Change::Add => members::add(tx, id, &stored)?,
                Change::Remove => members::remove(tx, id, &stored)?,
            };
            Ok((changed, results))
        })?;
        tracing::info!(
            segment_id = id,
            changed = changed.len(),
            ?change,
            "static members"
        );
        Ok(summarize(
            &state.snapshot,
            client_ids,
            &unique,
            &changed,
            change,
        ))
    }

    /// The static segment's new membership and those of the segments reading it; nothing
    /// when its members do not change.
    async fn republish(
        &self,
        state: &Arc<TenantState>,
        record: &SegmentRecord,
        ids: &[i64],
        change: Change,
    ) -> Result<Vec<Computed>> {
        let positions = live_positions(&state.snapshot, ids);
        let before = state
            .membership(record.id)
            .map(|m| m.members.clone())
            .unwrap_or_default();
        let after = match change {
            Change::Add => &before | &positions,
            Change::Remove => &before - &positions,
        };
        if after == before {
            return Ok(Vec::new());
        }
        let computed = Computed {
            segment_id: record.id,
            rule_version: record.rule_version,
            members: after,
            error: None,
        };
        self.with_dependents(state, &self.graph()?, vec![computed])
            .await
    }

    /// The stored static segment `id`.
    pub(super) fn static_record(&self, id: i64) -> Result<SegmentRecord> {
        let record = self.record(id)?;
        if record.kind != SegmentKind::Static {
            return Err(ServiceError::Conflict(format!(
                "segment {id} {:?} is dynamic: its members come from its rule and cannot be \
                 added or removed by hand",
                record.name
            )));
        }
        Ok(record)
    }

    /// A page of a segment's members in ascending client id, starting after the client id
    /// `after`. Pages stay consistent across refreshes because the cursor is a client id.
    ///
    /// # Errors
    /// [`ServiceError::NotFound`], or a limit of 0 or over [`PAGE_LIMIT_MAX`].
    pub fn members_page(&self, id: i64, after: Option<i64>, limit: usize) -> Result<MembersPage> {
        if limit == 0 || limit > PAGE_LIMIT_MAX {
            return Err(ServiceError::Invalid(format!(
                "limit {limit}: expected 1 to {PAGE_LIMIT_MAX}"
            )));
        }
        self.record(id)?;
        let state = self.state();
        let snapshot = &state.snapshot;
        let empty = RoaringBitmap::new();
        let members = state.membership(id).map_or(&empty, |m| &m.members);
        let start = after.map_or(0, |after| {
            snapshot.index.ids().partition_point(|id| *id <= after) as u32
        });
        let mut positions: Vec<u32> = members.range(start..).take(limit + 1).collect();
        let more = positions.len() > limit;
        positions.truncate(limit);
        let rows: Vec<MemberRow> = positions.iter().map(|p| member_row(snapshot, *p)).collect();
        let next_cursor = rows.last().filter(|_| more).map(|row| row.client_id);
        Ok(MembersPage {
            members: rows,
            next_cursor,
            total: members.len(),
        })
    }

    /// Every member as CSV: `client_id,name,email,country`, by client id.
    ///
    /// # Errors
    /// [`ServiceError::NotFound`].
    pub fn export_members_csv(&self, id: i64) -> Result<String> {
        self.record(id)?;
        let state = self.state();
        let mut writer = csv::Writer::from_writer(Vec::new());
        let csv_error = |e: csv::Error| ServiceError::internal(format!("writing CSV: {e}"));
        writer
            .write_record(["client_id", "name", "email", "country"])
            .map_err(csv_error)?;
        if let Some(membership) = state.membership(id) {
            for position in &membership.members {
                let row = member_row(&state.snapshot, position);
                let id = row.client_id.to_string();
                let fields = [id.as_str(), &row.name, opt(&row.email), opt(&row.country)]
                    .map(spreadsheet_safe);
                writer
                    .write_record(fields.iter().map(|f| f.as_bytes()))
                    .map_err(csv_error)?;
            }
        }
        let bytes = writer
            .into_inner()
            .map_err(|e| ServiceError::internal(format!("writing CSV: {e}")))?;
        String::from_utf8(bytes).map_err(ServiceError::internal)
    }
}

fn opt(value: &Option<String>) -> &str {
    value.as_deref().unwrap_or("")
}

/// The listing row of the client at `position`.
pub(super) fn member_row(snapshot: &Snapshot, position: u32) -> MemberRow {
    let text = |column: &str| {
        let array = snapshot.client_text(column);
        let index = position as usize;
        arrow::array::Array::is_valid(array, index).then(|| array.value(index).to_string())
    };
    MemberRow {
        client_id: snapshot.index.client_id(position),
        name: snapshot.client_name(position).to_string(),
        email: text(clients::EMAIL),
        country: text(clients::COUNTRY).map(|c| c.trim().to_uppercase()),
    }
}

/// The ids, each once, in first-seen order.
pub(super) fn unique_in_order(ids: &[i64]) -> Vec<i64> {
    let mut seen = HashSet::with_capacity(ids.len());
    ids.iter().copied().filter(|id| seen.insert(*id)).collect()
}

/// The ids that are live clients of `snapshot`, in input order.
fn live_ids(snapshot: &Snapshot, ids: &[i64]) -> Vec<i64> {
    let live = |id: &i64| {
        let position = snapshot.index.position(*id);
        position.is_some_and(|p| snapshot.universe.contains(p))
    };
    ids.iter().copied().filter(live).collect()
}

/// What a bulk change did with each requested id.
fn summarize(
    snapshot: &Snapshot,
    requested: &[i64],
    unique: &[i64],
    changed: &[i64],
    change: Change,
) -> MemberChange {
    let changed_set: HashSet<i64> = changed.iter().copied().collect();
    let mut summary = MemberChange {
        unchanged: (requested.len() - unique.len()) as u64,
        ..MemberChange::default()
    };
    match change {
        Change::Add => summary.added = changed.len() as u64,
        Change::Remove => summary.removed = changed.len() as u64,
    }
    for id in unique.iter().filter(|id| !changed_set.contains(id)) {
        match snapshot.index.position(*id) {
            None => summary.unknown.push(*id),
            Some(p) if !snapshot.universe.contains(p) => summary.deleted.push(*id),
            Some(_) => summary.unchanged += 1,
        }
    }
    summary
}
