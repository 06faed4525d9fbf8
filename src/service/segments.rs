//! Segment definitions: create, read, list, update, delete, and refreshing one on demand.

use std::collections::HashMap;
use std::sync::Arc;

use roaring::RoaringBitmap;

use crate::catalog::history::{self, HistoryEntry};
use crate::catalog::members;
use crate::catalog::segments::{self, SegmentDraft, SegmentKind, SegmentRecord};
use crate::rules::{Rule, Warning};

use super::compute::{Computed, Job, Source, UNSAVED};
use super::error::{Result, ServiceError};
use super::graph::Graph;
use super::modules::SegmentRemoval;
use super::round::{Prior, compute_blocking};
use super::state::TenantState;
use super::validate::{self, Checked};
use super::views::{NewSegment, SegmentPatch, SegmentView};
use super::{Service, now};

impl Service {
    /// Creates a segment; a dynamic one is evaluated and published with it.
    ///
    /// # Errors
    /// A bad field ([`ServiceError::Invalid`]), a bad rule, a taken name or a rule reading
    /// an unknown segment. Nothing is stored then.
    pub async fn create_segment(&self, new: NewSegment) -> Result<SegmentView> {
        let mut log = self.writes.lock().await;
        let state = self.state();
        let Checked { draft, rule } = validate::new_segment(&new, &state.snapshot)?;
        self.check_name_free(&draft.name, None)?;
        let members = match rule {
            Some(_) => {
                self.compute_one(&state, rule_job(UNSAVED, 1, &draft))
                    .await?
                    .members
            }
            None => RoaringBitmap::new(),
        };
        let record = self.commit(&mut log, |tx| {
            let record = segments::insert(tx, &draft, now())?;
            let computed = Computed {
                segment_id: record.id,
                rule_version: record.rule_version,
                members,
                error: None,
            };
            Ok((record, vec![computed]))
        })?;
        tracing::info!(
            segment_id = record.id,
            kind = record.kind.as_str(),
            "segment created"
        );
        self.view(record)
    }

    /// Changes a segment. A new rule is checked, evaluated and published with the save, and
    /// so are the segments that read this one; its rule version grows by one.
    ///
    /// # Errors
    /// As [`Service::create_segment`], plus [`ServiceError::NotFound`] and a rule that
    /// would make segments read each other in a loop ([`ServiceError::Conflict`]).
    pub async fn update_segment(&self, id: i64, patch: SegmentPatch) -> Result<SegmentView> {
        let mut log = self.writes.lock().await;
        let state = self.state();
        let record = self.record(id)?;
        let Checked { draft, rule } = validate::patch(&record, &patch, &state.snapshot)?;
        self.check_name_free(&draft.name, Some(id))?;
        let bump = rule.is_some();
        let results = if bump {
            self.evaluate_change(&state, &record, &draft).await?
        } else {
            Vec::new()
        };
        let record = self.commit(&mut log, |tx| {
            let record = segments::update(tx, id, &draft, bump, now())?;
            let record = record.expect("checked under the writes lock");
            Ok((record, results))
        })?;
        tracing::info!(
            segment_id = id,
            rule_version = record.rule_version,
            "segment saved"
        );
        self.view(record)
    }

    /// Deletes a segment with its members and history, and in the same transaction its
    /// pricing priority entry, dashboard widgets and Mailchimp syncs; returns what went
    /// with it.
    ///
    /// # Errors
    /// [`ServiceError::NotFound`], or [`ServiceError::Conflict`] naming the segments whose
    /// rules read this one.
    pub async fn delete_segment(&self, id: i64) -> Result<SegmentRemoval> {
        let mut log = self.writes.lock().await;
        let record = self.record(id)?;
        let graph = self.graph()?;
        let readers = graph.readers(id);
        if !readers.is_empty() {
            let names = self.describe(&readers)?.join(", ");
            return Err(ServiceError::Conflict(format!(
                "segment {id} {:?} is read by the rules of {names}; change those rules first",
                record.name
            )));
        }
        let removal = self.catalog.with_tx(|tx| {
            let removal = super::modules::on_segment_deleted(tx, id)?;
            segments::delete(tx, id)?;
            Ok(removal)
        })?;
        log.touch([id]);
        let current = self.state();
        let mut memberships = current.memberships.clone();
        memberships.remove(&id);
        self.swap(TenantState {
            snapshot: Arc::clone(&current.snapshot),
            reports: Arc::clone(&current.reports),
            memberships,
        });
        self.metrics.forget_segment(id);
        tracing::info!(segment_id = id, "segment deleted");
        Ok(removal)
    }

    /// One segment with its member count and last refresh.
    ///
    /// # Errors
    /// [`ServiceError::NotFound`], or a catalog fault.
    pub fn segment(&self, id: i64) -> Result<SegmentView> {
        self.view(self.record(id)?)
    }

    /// Every segment, by id.
    ///
    /// # Errors
    /// A catalog fault.
    pub fn segments(&self) -> Result<Vec<SegmentView>> {
        let (records, mut last) = self
            .catalog
            .with_conn(|conn| Ok((segments::list(conn)?, history::last_all(conn)?)))?;
        let state = self.state();
        let views = records.into_iter().map(|record| {
            let last_refresh = last.remove(&record.id);
            view_of(record, &state, last_refresh)
        });
        Ok(views.collect())
    }

    /// Re-evaluates one segment, and those that read it, now.
    ///
    /// # Errors
    /// [`ServiceError::NotFound`], or a stored rule that no longer fits the facts (the
    /// segment then keeps its members).
    pub async fn refresh_segment(&self, id: i64) -> Result<SegmentView> {
        let mut log = self.writes.lock().await;
        let state = self.state();
        let record = self.record(id)?;
        let mut listed = HashMap::new();
        if record.kind == SegmentKind::Static {
            listed.insert(id, self.catalog.with_conn(|conn| members::ids(conn, id))?);
        }
        let job = Job::of(&record, &mut listed);
        let computed = self.compute_one(&state, job).await?;
        let results = self
            .with_dependents(&state, &self.graph()?, vec![computed])
            .await?;
        self.commit(&mut log, |_| Ok(((), results)))?;
        self.segment(id)
    }

    /// The stored segment `id`.
    pub(super) fn record(&self, id: i64) -> Result<SegmentRecord> {
        let record = self.catalog.with_conn(|conn| segments::get(conn, id))?;
        record.ok_or(ServiceError::NotFound {
            what: "segment",
            id,
        })
    }

    pub(super) fn graph(&self) -> Result<Graph> {
        let edges = self.catalog.with_conn(segments::refs)?;
        Ok(Graph::from_edges(&edges))
    }

    pub(super) fn view(&self, record: SegmentRecord) -> Result<SegmentView> {
        let last = self
            .catalog
            .with_conn(|conn| history::last(conn, record.id))?;
        Ok(view_of(record, &self.state(), last))
    }

    fn check_name_free(&self, name: &str, except: Option<i64>) -> Result<()> {
        let owner = self
            .catalog
            .with_conn(|conn| segments::id_by_name(conn, name))?;
        let Some(owner) = owner.filter(|owner| Some(*owner) != except) else {
            return Ok(());
        };
        let taken = self.record(owner)?.name;
        Err(ServiceError::Conflict(format!(
            "name {name:?} is taken by segment {owner} {taken:?} (names compare after \
             trimming and case folding)"
        )))
    }

    /// The new membership of a segment whose rule changes, and of the segments reading it.
    async fn evaluate_change(
        &self,
        state: &Arc<TenantState>,
        record: &SegmentRecord,
        draft: &SegmentDraft,
    ) -> Result<Vec<Computed>> {
        let graph = self.graph()?.with(record.id, &draft.refs);
        if let Some(path) = graph.find_loop(record.id) {
            let names = self.describe(&path)?.join(" -> ");
            return Err(ServiceError::Conflict(format!(
                "segment conditions would loop: {names}; a segment cannot read itself"
            )));
        }
        let job = rule_job(record.id, record.rule_version + 1, draft);
        let computed = self.compute_one(state, job).await?;
        self.with_dependents(state, &graph, vec![computed]).await
    }

    /// Computes one job on the published state; its failure is the caller's error.
    async fn compute_one(&self, state: &Arc<TenantState>, job: Job) -> Result<Computed> {
        let prior = Prior {
            overlay: HashMap::new(),
            state: Some(Arc::clone(state)),
        };
        let snapshot = Arc::clone(&state.snapshot);
        let mut computed = compute_blocking(snapshot, vec![job], prior, now()).await?;
        let computed = computed.pop().expect("one job, one result");
        match computed.error {
            Some(error) => Err(error),
            None => Ok(computed),
        }
    }

    /// `segment 3 "VIP"` for each id: segments by id and name, for messages.
    fn describe(&self, ids: &[i64]) -> Result<Vec<String>> {
        let records = self.catalog.with_conn(segments::list)?;
        let name = |id: &i64| {
            let record = records.iter().find(|r| r.id == *id);
            record.map_or_else(
                || format!("segment {id}"),
                |r| format!("segment {id} {:?}", r.name),
            )
        };
        Ok(ids.iter().map(name).collect())
    }
}

fn rule_job(id: i64, rule_version: i64, draft: &SegmentDraft) -> Job {
    let rule = draft.rule.clone().expect("a dynamic draft has a rule");
    Job {
        segment_id: id,
        rule_version,
        source: Source::Rule(rule),
    }
}

fn view_of(record: SegmentRecord, state: &TenantState, last: Option<HistoryEntry>) -> SegmentView {
    let member_count = state.membership(record.id).map_or(0, |m| m.members.len());
    let warnings = rule_warnings(record.rule.as_ref(), state);
    SegmentView {
        id: record.id,
        name: record.name,
        description: record.description,
        colour: record.colour,
        kind: record.kind,
        rule: record.rule,
        tier: record.tier,
        rule_version: record.rule_version,
        created_at: record.created_at,
        updated_at: record.updated_at,
        member_count,
        last_refresh: last,
        warnings,
    }
}

/// What the rule's reading warns about (empty groups and lists), with their paths, so a save
/// answers with the same warnings a preview gives.
fn rule_warnings(rule: Option<&serde_json::Value>, state: &TenantState) -> Vec<Warning> {
    let custom = &state.snapshot.facts.custom_fields;
    rule.and_then(|json| Rule::from_json(json, custom).ok())
        .map_or_else(Vec::new, |r| r.warnings)
}
