//! Running a sync: lock, plan, send in chunks, record member by member, report.
//!
//! A run first untags members who left, then handles the rest in chunks of 500: look up the
//! members not known to exist (10 requests in flight), create the absent ones that may be
//! created, record the chunk as sent, tag it, record what Mailchimp confirmed. Every state
//! write also renews the run's lock, so a run that stops leaves the store consistent and the
//! next run resumes from what was confirmed.

use std::collections::{HashMap, HashSet};
use std::time::Duration;

use chrono::{DateTime, Utc};
use futures::StreamExt;
use tracing::Instrument;

use super::client::{
    ApiError, BATCH_MAX, IN_FLIGHT_MAX, MailchimpClient, MemberError, RemoteMember, RemoteTag,
};
use super::config::{Direction, SyncConfig, tag_key};
use super::plan::{
    self, Remote, SkipReason, Skipped, StateWrite, SyncInput, SyncPlan, Target, Untag,
};
use super::report::{
    Counts, Details, Failure, Operation, RunReport, RunStatus, SegmentChanges, Trigger,
};
use super::store::{self, Database, RunLock, StoreError};

/// How a run is started.
#[derive(Debug, Clone)]
pub struct RunOptions {
    pub trigger: Trigger,
    /// A lock not renewed for this long belongs to a run that died; a new run takes it over.
    pub stale_lock_after: Duration,
}

impl Default for RunOptions {
    fn default() -> RunOptions {
        RunOptions {
            trigger: Trigger::Manual,
            stale_lock_after: Duration::from_secs(600),
        }
    }
}

/// Why a run could not start (once started, every outcome is a [`RunReport`]).
#[derive(Debug, thiserror::Error)]
pub enum SyncError {
    #[error("sync {sync_id}: segment {segment_id} is dynamic; two-way sync needs a static segment")]
    TwoWayOnDynamic { sync_id: i64, segment_id: i64 },
    #[error("sync {sync_id}: segment {segment_id} no longer exists")]
    SegmentGone { sync_id: i64, segment_id: i64 },
    /// Two-way planning reads Mailchimp, and no account is configured.
    #[error("sync {sync_id}: a two-way dry run reads Mailchimp, which is not configured")]
    NoClient { sync_id: i64 },
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error(transparent)]
    Api(#[from] ApiError),
}

/// What stopped a run half-way.
#[derive(Debug, thiserror::Error)]
enum Stop {
    #[error(transparent)]
    Api(#[from] ApiError),
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// Runs one sync of `config` with the segment's current `input`.
///
/// For two-way syncs, the report's `segment_changes` lists what changed in Mailchimp; the
/// caller applies it to the static segment. Until it does, later runs return it again.
///
/// # Errors
/// [`SyncError::TwoWayOnDynamic`], [`StoreError::Busy`] while another run of the sync is
/// alive, or a store failure. Mailchimp failures end in a report with status `failed`.
pub async fn run_sync(
    client: &MailchimpClient,
    db: &dyn Database,
    config: &SyncConfig,
    input: &SyncInput,
    options: &RunOptions,
) -> Result<RunReport, SyncError> {
    check_direction(config, input)?;
    let started = Utc::now();
    let lock = store::begin_run(
        &db.connection(),
        config.id,
        options.trigger,
        started,
        options.stale_lock_after,
    )?;
    let span = tracing::info_span!("mailchimp_sync", sync_id = config.id, run_id = lock.run_id);
    let mut run = Run::new(client, db, config, lock);
    let outcome = run.execute(input).instrument(span.clone()).await;
    let report = run.into_report(outcome, options.trigger, started);
    store::finish_run(&db.connection(), lock, &report, Utc::now())?;
    span.in_scope(|| log_report(&report));
    Ok(report)
}

fn check_direction(config: &SyncConfig, input: &SyncInput) -> Result<(), SyncError> {
    if config.direction == Direction::TwoWay && !input.segment_is_static {
        return Err(SyncError::TwoWayOnDynamic {
            sync_id: config.id,
            segment_id: config.segment_id,
        });
    }
    Ok(())
}

fn log_report(report: &RunReport) {
    let c = report.counts;
    tracing::info!(
        status = report.status.as_str(),
        created = c.created,
        tagged = c.tagged,
        untagged = c.untagged,
        skipped = c.skipped,
        failed = c.failed,
        "mailchimp sync finished"
    );
}

/// What a run would do, without doing it.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct DryRun {
    /// Members to tag (created first where absent from the audience).
    pub tag: usize,
    pub untag: usize,
    /// Two-way: clients that would join or leave the segment.
    pub join: usize,
    pub leave: usize,
    pub unchanged: usize,
    pub sample_tag: Vec<String>,
    pub sample_untag: Vec<String>,
    pub skipped: Vec<Skipped>,
    pub conflicts: Vec<plan::Conflict>,
    pub unmatched: Vec<String>,
}

/// Plans a run and says what it would send. One-way makes no request at all, so it needs
/// no client; two-way reads the tag's members. Whether a member must be created, or is
/// skipped for its Mailchimp status, is only known when the run looks it up.
///
/// # Errors
/// [`SyncError::TwoWayOnDynamic`], a store failure, [`SyncError::NoClient`] for two-way
/// without a client, or (two-way) a failed read.
pub async fn dry_run(
    client: Option<&MailchimpClient>,
    db: &dyn Database,
    config: &SyncConfig,
    input: &SyncInput,
    sample_size: usize,
) -> Result<DryRun, SyncError> {
    check_direction(config, input)?;
    let state = store::load_state(&db.connection(), config.id)?;
    let desired = plan::desired(&input.members);
    let plan = match config.direction {
        Direction::OneWay => plan::plan_run(desired, &state, None),
        Direction::TwoWay => {
            let client = client.ok_or(SyncError::NoClient { sync_id: config.id })?;
            let remote = match client.find_tag(&config.list_id, &config.tag).await? {
                Some(tag) => remote_members(client.tag_members(&config.list_id, tag.id).await?),
                None => Remote::new(),
            };
            let directory = plan::directory(&input.directory);
            plan::plan_run(desired, &state, Some((&remote, &directory)))
        }
    };
    Ok(summarise(plan, sample_size))
}

fn summarise(plan: SyncPlan, sample_size: usize) -> DryRun {
    let sample = |emails: Vec<&String>| emails.into_iter().take(sample_size).cloned().collect();
    DryRun {
        tag: plan.tag.len(),
        untag: plan.untag.len(),
        join: plan.join.len(),
        leave: plan.leave.len(),
        unchanged: plan.unchanged,
        sample_tag: sample(plan.tag.iter().map(|t| &t.email).collect()),
        sample_untag: sample(plan.untag.iter().map(|u| &u.email).collect()),
        skipped: plan.skipped,
        conflicts: plan.conflicts,
        unmatched: plan.unmatched,
    }
}

fn remote_members(members: Vec<RemoteMember>) -> Remote {
    members
        .into_iter()
        .map(|m| (super::address::subscriber_hash(&m.email), m.email))
        .collect()
}

/// A run under way and what it did so far.
struct Run<'a> {
    client: &'a MailchimpClient,
    db: &'a dyn Database,
    config: &'a SyncConfig,
    lock: RunLock,
    counts: Counts,
    details: Details,
    /// Addresses whose outcome is known: confirmed, skipped or failed.
    settled: HashSet<String>,
}

/// Where a looked-up member goes next.
enum Next<'t> {
    Tag(&'t Target),
    Create(&'t Target),
    /// Already carries the tag: nothing to send.
    Confirmed(&'t Target),
}

impl<'a> Run<'a> {
    fn new(
        client: &'a MailchimpClient,
        db: &'a dyn Database,
        config: &'a SyncConfig,
        lock: RunLock,
    ) -> Self {
        Run {
            client,
            db,
            config,
            lock,
            counts: Counts::default(),
            details: Details::default(),
            settled: HashSet::new(),
        }
    }

    fn list(&self) -> &'a str {
        &self.config.list_id
    }

    /// Writes state changes (renewing the lock) and settles the addresses they confirm.
    // TODO: store calls run inline on the async task. They are a few short statements, but
    // on a contended catalog they can wait up to the busy timeout; moving them to the
    // blocking pool needs an owned (`Arc`) database handle instead of `&dyn Database`.
    fn record(&mut self, writes: &[StateWrite]) -> Result<(), StoreError> {
        store::record(&self.db.connection(), self.lock, writes, Utc::now())?;
        for write in writes {
            if let StateWrite::Confirm(target) = write {
                self.settled.insert(target.email.clone());
            }
        }
        Ok(())
    }

    async fn execute(&mut self, input: &SyncInput) -> Result<(), Stop> {
        let tag = self.resolve_tag().await?;
        let plan = self.plan(input, &tag).await?;
        self.details.skipped = plan.skipped;
        self.details.conflicts = plan.conflicts;
        self.details.unmatched = plan.unmatched;
        if self.config.direction == Direction::TwoWay {
            self.details.segment_changes = Some(changes(plan.join, plan.leave));
        }
        store::record(&self.db.connection(), self.lock, &plan.writes, Utc::now())?;
        let mut outcome = self.untag_all(tag.id, &plan.untag).await;
        if outcome.is_ok() {
            outcome = self.tag_all(tag.id, &plan.tag).await;
        }
        if let Err(stop) = &outcome {
            let reason = format!("not done: the run stopped ({stop})");
            self.abandon(
                plan.untag.iter().map(|u| &u.email),
                Operation::Untag,
                &reason,
            );
            self.abandon(plan.tag.iter().map(|t| &t.email), Operation::Tag, &reason);
        }
        outcome
    }

    /// Finds the sync's tag, creating it when missing, and records its id.
    async fn resolve_tag(&self) -> Result<RemoteTag, Stop> {
        let found = self.client.find_tag(self.list(), &self.config.tag).await?;
        let tag = match found {
            Some(tag) => tag,
            None => {
                self.client
                    .create_tag(self.list(), &self.config.tag)
                    .await?
            }
        };
        store::set_remote_tag(&self.db.connection(), self.lock, tag.id, Utc::now())?;
        Ok(tag)
    }

    async fn plan(&self, input: &SyncInput, tag: &RemoteTag) -> Result<SyncPlan, Stop> {
        let state = store::load_state(&self.db.connection(), self.config.id)?;
        let desired = plan::desired(&input.members);
        if self.config.direction == Direction::OneWay {
            return Ok(plan::plan_run(desired, &state, None));
        }
        let remote = remote_members(self.client.tag_members(self.list(), tag.id).await?);
        let directory = plan::directory(&input.directory);
        Ok(plan::plan_run(desired, &state, Some((&remote, &directory))))
    }

    async fn untag_all(&mut self, tag_id: i64, untags: &[Untag]) -> Result<(), Stop> {
        for chunk in untags.chunks(BATCH_MAX) {
            let emails: Vec<String> = chunk.iter().map(|u| u.email.clone()).collect();
            match self
                .client
                .update_tag(self.list(), tag_id, &[], &emails)
                .await
            {
                Ok(update) => self.untagged(chunk, &update.removed, &update.errors)?,
                Err(error) if stops(&error) => return Err(error.into()),
                Err(error) => self.fail_all(&emails, Operation::Untag, &error),
            }
        }
        Ok(())
    }

    /// Records an untag chunk. An address neither removed nor refused was not tagged (or not
    /// in the audience): the member is untagged either way.
    fn untagged(
        &mut self,
        chunk: &[Untag],
        removed: &[String],
        errors: &[MemberError],
    ) -> Result<(), Stop> {
        let refused = by_email(errors);
        let mut writes = Vec::new();
        for untag in chunk {
            match refused.get(untag.email.as_str()) {
                Some(error) => self.fail(&untag.email, Operation::Untag, error),
                None => {
                    self.settled.insert(untag.email.clone());
                    writes.push(StateWrite::Forget(untag.hash.clone()));
                }
            }
        }
        self.counts.untagged += removed.len() as u64;
        self.record(&writes)?;
        Ok(())
    }

    async fn tag_all(&mut self, tag_id: i64, targets: &[Target]) -> Result<(), Stop> {
        for chunk in targets.chunks(BATCH_MAX) {
            self.tag_chunk(tag_id, chunk).await?;
        }
        Ok(())
    }

    /// Look up, create, tag and record one chunk of at most [`BATCH_MAX`] members.
    async fn tag_chunk(&mut self, tag_id: i64, chunk: &[Target]) -> Result<(), Stop> {
        let mut ready = Vec::new();
        let mut create = Vec::new();
        let mut confirmed = Vec::new();
        for step in self.look_up(chunk).await? {
            match step {
                Next::Tag(target) => ready.push(target),
                Next::Create(target) => create.push(target),
                Next::Confirmed(target) => confirmed.push(StateWrite::Confirm(target.clone())),
            }
        }
        self.counts.tagged += confirmed.len() as u64;
        self.record(&confirmed)?;
        ready.extend(self.create(&create).await?);
        self.tag(tag_id, &ready).await
    }

    /// Decides each member's next step, looking up (10 at a time) those not known to exist.
    // TODO: one GET per joining member; a first sync of a very large segment would spend
    // fewer requests listing the audience once (`GET /lists/{id}/members`, paged) when the
    // joiners outnumber a fraction of the audience.
    async fn look_up<'t>(&mut self, chunk: &'t [Target]) -> Result<Vec<Next<'t>>, Stop> {
        // The futures are built first: a closure inside the stream trips the compiler's
        // higher-ranked lifetime check once the run is spawned.
        let requests: Vec<_> = chunk
            .iter()
            .filter(|t| !t.sent_before)
            .map(|target| look_up_one(self.client, self.list(), target))
            .collect();
        let lookups: Vec<_> = futures::stream::iter(requests)
            .buffer_unordered(IN_FLIGHT_MAX)
            .collect()
            .await;
        let mut next: Vec<Next<'t>> = chunk
            .iter()
            .filter(|t| t.sent_before)
            .map(Next::Tag)
            .collect();
        for (target, found) in lookups {
            match found {
                Ok(member) => next.extend(self.classify(target, member)),
                Err(error) if stops(&error) => return Err(error.into()),
                Err(error) => self.fail(&target.email, Operation::Lookup, &error.to_string()),
            }
        }
        Ok(next)
    }

    /// What to do with a member given what Mailchimp holds for it.
    fn classify<'t>(
        &mut self,
        target: &'t Target,
        member: Option<RemoteMember>,
    ) -> Option<Next<'t>> {
        let Some(member) = member else {
            if !target.consent && self.config.status_if_new.needs_consent() {
                self.skip(target, SkipReason::NoConsent);
                return None;
            }
            return Some(Next::Create(target));
        };
        if self.skip_for_status(target, &member.status) {
            None
        } else if self.carries_tag(&member) {
            Some(Next::Confirmed(target))
        } else {
            Some(Next::Tag(target))
        }
    }

    /// Skips a member whose status forbids tagging (cleaned, archived); says whether it did.
    fn skip_for_status(&mut self, target: &Target, status: &str) -> bool {
        let reason = match status {
            "cleaned" => SkipReason::Cleaned,
            "archived" => SkipReason::Archived,
            _ => return false,
        };
        self.skip(target, reason);
        true
    }

    fn carries_tag(&self, member: &RemoteMember) -> bool {
        let wanted = tag_key(&self.config.tag);
        member.tags.iter().any(|t| tag_key(t) == wanted)
    }

    /// Creates absent members with the sync's status for new members; returns those that
    /// now exist (created, or created meanwhile by someone else).
    async fn create<'t>(&mut self, targets: &[&'t Target]) -> Result<Vec<&'t Target>, Stop> {
        if targets.is_empty() {
            return Ok(Vec::new());
        }
        let status = self.config.status_if_new.as_str();
        let members: Vec<(String, &str)> =
            targets.iter().map(|t| (t.email.clone(), status)).collect();
        let created = match self.client.create_members(self.list(), &members).await {
            Ok(created) => created,
            Err(error) if stops(&error) => return Err(error.into()),
            Err(error) => {
                let emails: Vec<String> = members.into_iter().map(|(email, _)| email).collect();
                self.fail_all(&emails, Operation::Create, &error);
                return Ok(Vec::new());
            }
        };
        self.counts.created += created.created.len() as u64;
        let refused = by_email(&created.errors);
        let mut exist = Vec::new();
        for target in targets {
            match refused.get(target.email.as_str()) {
                Some(error) => self.fail(&target.email, Operation::Create, error),
                None => exist.push(*target),
            }
        }
        Ok(exist)
    }

    /// Records the chunk as sent, tags it, and records what Mailchimp confirmed.
    async fn tag(&mut self, tag_id: i64, targets: &[&Target]) -> Result<(), Stop> {
        if targets.is_empty() {
            return Ok(());
        }
        let sent: Vec<StateWrite> = targets
            .iter()
            .map(|t| StateWrite::Sent((*t).clone()))
            .collect();
        self.record(&sent)?;
        let emails: Vec<String> = targets.iter().map(|t| t.email.clone()).collect();
        let update = match self
            .client
            .update_tag(self.list(), tag_id, &emails, &[])
            .await
        {
            Ok(update) => update,
            Err(error) if stops(&error) => return Err(error.into()),
            Err(error) => {
                self.fail_all(&emails, Operation::Tag, &error);
                return Ok(());
            }
        };
        let added: HashSet<&str> = update.added.iter().map(String::as_str).collect();
        let refused = by_email(&update.errors);
        let mut writes = Vec::new();
        let mut ignored = Vec::new();
        for target in targets {
            if added.contains(target.email.as_str()) {
                writes.push(StateWrite::Confirm((*target).clone()));
            } else if let Some(error) = refused.get(target.email.as_str()) {
                self.fail(&target.email, Operation::Tag, error);
                writes.push(StateWrite::Forget(target.hash.clone()));
            } else {
                ignored.push(*target);
            }
        }
        let confirmed = writes
            .iter()
            .filter(|w| matches!(w, StateWrite::Confirm(_)));
        self.counts.tagged += confirmed.count() as u64;
        self.record(&writes)?;
        self.check_ignored(&ignored).await
    }

    /// Mailchimp ignores addresses it does not hold (or holds as archived), and may leave out
    /// of `members_added` a member that already had the tag. Looks each one up to tell.
    async fn check_ignored(&mut self, targets: &[&Target]) -> Result<(), Stop> {
        let mut writes = Vec::new();
        for target in targets {
            match self.client.member(self.list(), &target.hash).await {
                Ok(Some(member)) if self.carries_tag(&member) => {
                    self.counts.tagged += 1;
                    writes.push(StateWrite::Confirm((*target).clone()));
                }
                Ok(found) => {
                    let status = found.map(|m| m.status).unwrap_or_default();
                    if !self.skip_for_status(target, &status) {
                        let error = "ignored by Mailchimp: not in the audience";
                        self.fail(&target.email, Operation::Tag, error);
                    }
                    writes.push(StateWrite::Forget(target.hash.clone()));
                }
                Err(error) if stops(&error) => return Err(error.into()),
                Err(error) => self.fail(&target.email, Operation::Tag, &error.to_string()),
            }
        }
        self.record(&writes)?;
        Ok(())
    }

    /// Lists as failed every address of `emails` whose outcome is not known yet.
    fn abandon<'e>(
        &mut self,
        emails: impl Iterator<Item = &'e String>,
        operation: Operation,
        reason: &str,
    ) {
        for email in emails {
            if !self.settled.contains(email) {
                self.fail(email, operation, reason);
            }
        }
    }

    fn skip(&mut self, target: &Target, reason: SkipReason) {
        self.settled.insert(target.email.clone());
        self.details.skipped.push(Skipped {
            client_ids: target.client_ids.clone(),
            email: Some(target.email.clone()),
            reason,
        });
    }

    fn fail(&mut self, email: &str, operation: Operation, error: &str) {
        self.settled.insert(email.to_string());
        self.details.failures.push(Failure {
            email: email.to_string(),
            operation,
            error: error.to_string(),
        });
    }

    fn fail_all(&mut self, emails: &[String], operation: Operation, error: &ApiError) {
        let error = error.to_string();
        for email in emails {
            self.fail(email, operation, &error);
        }
    }

    fn into_report(
        mut self,
        outcome: Result<(), Stop>,
        trigger: Trigger,
        started: DateTime<Utc>,
    ) -> RunReport {
        self.counts.failed = self.details.failures.len() as u64;
        self.counts.skipped = self.details.skipped.len() as u64;
        let did_something = self.counts.created + self.counts.tagged + self.counts.untagged > 0;
        let (status, error) = match outcome {
            Err(Stop::Api(error)) if error.is_fatal() || !did_something => {
                (RunStatus::Failed, Some(error.to_string()))
            }
            Err(Stop::Store(error)) => (RunStatus::Failed, Some(error.to_string())),
            Err(stop) => (RunStatus::Partial, Some(stop.to_string())),
            Ok(()) if self.details.failures.is_empty() => (RunStatus::Success, None),
            Ok(()) => (RunStatus::Partial, None),
        };
        RunReport {
            run_id: self.lock.run_id,
            sync_id: self.lock.sync_id,
            trigger,
            status,
            started_at: started,
            finished_at: Some(Utc::now()),
            counts: self.counts,
            error,
            details: self.details,
        }
    }
}

async fn look_up_one<'t>(
    client: &MailchimpClient,
    list: &str,
    target: &'t Target,
) -> (&'t Target, Result<Option<RemoteMember>, ApiError>) {
    (target, client.member(list, &target.hash).await)
}

fn by_email(errors: &[MemberError]) -> HashMap<&str, &str> {
    errors
        .iter()
        .map(|e| (e.email.as_str(), e.error.as_str()))
        .collect()
}

/// Whether an error ends the run: the account or audience is unusable, or Mailchimp stayed
/// unavailable through every retry (further requests would only wait the same way).
fn stops(error: &ApiError) -> bool {
    error.is_fatal()
        || matches!(
            error,
            ApiError::RetriesExhausted { .. } | ApiError::Transport { .. }
        )
}

fn changes(mut join: Vec<i64>, mut leave: Vec<i64>) -> SegmentChanges {
    join.sort_unstable();
    join.dedup();
    leave.sort_unstable();
    leave.dedup();
    SegmentChanges {
        add: join,
        remove: leave,
    }
}
