//! Previewing an unsaved rule: count, per-node counts, a sample of members, warnings.

use std::time::Instant;

use chrono::{DateTime, Utc};

use crate::eval;
use crate::rules::Rule;

use super::error::Result;
use super::views::{Preview, SampleMember};
use super::{SAMPLE_SIZE, Service, elapsed_ms, now};

impl Service {
    /// Evaluates `rule` on the published state as of `as_of` (now by default). `segment`
    /// conditions read the published memberships. Nothing is stored.
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
        let as_of = as_of.unwrap_or_else(now);
        let rule = Rule::from_json(rule, &snapshot.facts.custom_fields)?;
        let evaluation = eval::evaluate(&rule, snapshot, as_of, state.as_ref())?;
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
            as_of,
        })
    }
}
