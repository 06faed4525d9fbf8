//! The Mailchimp sync: a segment's members become the members of an audience tag.
//!
//! Layers, top down: [`scheduler`] runs due syncs; [`sync`] runs one (lock, plan, send,
//! record, report); [`plan`] decides what to send, purely; [`client`] talks to the API with
//! batching, a limit of 10 requests in flight and retries; [`store`] keeps configurations,
//! per-member state and run history in SQLite; [`config`] and [`address`] hold the
//! vocabulary. [`fake`] is a Mailchimp stand-in on loopback for tests.
//!
//! Invariants (from `SEMANTICS.md`, Mailchimp):
//! - a member is keyed by the MD5 of its trimmed, lower-cased address;
//! - `status` is sent only when creating a member found absent, so no existing member's
//!   status ever changes; nothing is deleted, archived or unsubscribed;
//! - only members this sync tagged are ever untagged;
//! - state is written before a tag request (as unconfirmed) and after Mailchimp confirms,
//!   so a run that stops half-way loses no removal and resends nothing confirmed.

pub mod address;
pub mod client;
pub mod config;
pub mod fake;
pub mod plan;
pub mod report;
pub mod retry;
pub mod scheduler;
pub mod store;
pub mod sync;

#[cfg(test)]
mod tests;

pub use client::{ApiError, ClientOptions, MailchimpClient};
pub use config::{Account, ApiKey, ConfigError, Direction, NewStatus, SyncConfig, SyncSpec};
pub use plan::{MemberInfo, SyncInput, SyncPlan};
pub use report::{Counts, RunReport, RunStatus, SegmentChanges, Trigger};
pub use store::{Database, MIGRATIONS, StoreError};
pub use sync::{DryRun, RunOptions, SyncError, dry_run, run_sync};
