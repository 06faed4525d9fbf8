//! Previewing an unsaved rule: count, per-node counts, a sample of members, warnings.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Instant;

use chrono::{DateTime, Utc};
use roaring::RoaringBitmap;

use crate::eval;
use crate::rules::Rule;

use super::compute::compute;
use super::error::Result;
use super::state::TenantState;
use super::views::{Preview, SampleMember};
use super::{SAMPLE_SIZE, Service, elapsed_ms, now};

impl Service {
    /// Evaluates `rule` on the published state as of `as_of` (now by default). Without
    /// `as_of`, `segment` conditions read the published memberships; with it, the segments
    /// the rule reads are evaluated as of that instant too, so the answer is the same
    /// whenever it is asked. Nothing is stored.
    ///
    /// # Errors
    /// A bad rule (with its JSON path), a rule reading an unknown segment, or a fault.
    pub fn preview(
        &self,
        rule: &serde_json::Value,
        as_of: Option<DateTime<Utc>>,
    ) -> Result<Preview> {
        let started = Instant::now();
        let state = self.state();
        let snapshot = &state.snapshot;
        let rule = Rule::from_json(rule, &snapshot.facts.custom_fields)?;
        let refs = rule.segment_refs();
        let at = as_of.unwrap_or_else(now);
        let evaluation = if as_of.is_some() && !refs.is_empty() {
            let read = self.memberships_as_of(&refs, &state, at)?;
            let lookup = |id: i64| read.get(&id).cloned();
            eval::evaluate(&rule, snapshot, at, &lookup)?
        } else {
            eval::evaluate(&rule, snapshot, at, state.as_ref())?
        };
        let sample = evaluation
            .members
            .iter()
            .take(SAMPLE_SIZE)
            .map(|position| SampleMember {
                client_id: snapshot.index.client_id(position),
                name: snapshot.client_name(position).to_string(),
            })
            .collect();
        Ok(Preview {
            count: evaluation.members.len(),
            nodes: evaluation.nodes,
            sample,
            warnings: evaluation.warnings,
            elapsed_ms: elapsed_ms(started),
            as_of: at,
        })
    }

    /// The memberships of `ids` and of every segment they read, evaluated on the published
    /// snapshot as of `as_of`: static segments are their lists, dynamic ones their stored
    /// rules at that instant. A segment that fails keeps its published members, as in a
    /// refresh.
    ///
    /// # Errors
    /// A catalog fault.
    pub(super) fn memberships_as_of(
        &self,
        ids: &[i64],
        state: &TenantState,
        as_of: DateTime<Utc>,
    ) -> Result<HashMap<i64, Arc<RoaringBitmap>>> {
        let jobs = self.stored_jobs(Some(ids))?;
        let computed = compute(&state.snapshot, &jobs, state, as_of);
        let memberships = computed
            .into_iter()
            .map(|c| (c.segment_id, Arc::new(c.members)));
        Ok(memberships.collect())
    }
}
