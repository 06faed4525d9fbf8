//! Sync runs against the fake Mailchimp server, asserting on its request log and state.

mod cases;
mod faults;
mod members;
mod setup;

use std::time::Duration;

use chrono::Utc;
use rusqlite::Connection;
use serde_json::Value;
use std::sync::Mutex;

use super::client::{ClientOptions, MailchimpClient};
use super::config::{Account, ApiKey, Direction, SyncConfig, SyncSpec};
use super::fake::{FakeMailchimp, LoggedRequest};
use super::plan::{MemberInfo, SkipReason, SyncInput};
use super::report::RunReport;
use super::retry::RetryPolicy;
use super::store;
use super::sync::{RunOptions, run_sync};

const KEY: &str = "0123456789abcdef0123456789abcdef-us21";
const LIST: &str = "aud1";
const TAG: &str = "Key accounts";

struct World {
    fake: FakeMailchimp,
    client: MailchimpClient,
    db: Mutex<Connection>,
}

fn fast_options() -> ClientOptions {
    ClientOptions {
        in_flight_max: 10,
        timeout: Duration::from_secs(10),
        retry: RetryPolicy {
            attempts_max: 5,
            base_delay: Duration::from_millis(1),
            max_delay: Duration::from_millis(5),
            retry_after_max: Duration::from_secs(5),
        },
    }
}

fn client_for(fake: &FakeMailchimp, key: &str, options: ClientOptions) -> MailchimpClient {
    let account = Account::new(ApiKey::new(key).unwrap()).unwrap();
    let account = account.with_base_url(fake.base_url()).unwrap();
    MailchimpClient::new(account, options).unwrap()
}

async fn world_with(options: ClientOptions) -> World {
    let fake = FakeMailchimp::start(KEY).await;
    fake.add_list(LIST);
    let client = client_for(&fake, KEY, options);
    let conn = Connection::open_in_memory().unwrap();
    store::migrate(&conn).unwrap();
    World {
        fake,
        client,
        db: Mutex::new(conn),
    }
}

async fn world() -> World {
    world_with(fast_options()).await
}

fn email(id: i64) -> String {
    format!("client{id}@example.com")
}

fn spec(segment_id: i64, tag: &str, direction: Direction) -> SyncSpec {
    SyncSpec {
        segment_id,
        list_id: LIST.into(),
        tag: tag.into(),
        direction,
        status_if_new: Default::default(),
        interval_secs: 14_400,
        enabled: true,
    }
}

impl World {
    fn sync(&self, direction: Direction) -> SyncConfig {
        let valid = spec(1, TAG, direction).validate(true).unwrap();
        store::create_sync(&self.db.lock().unwrap(), &valid, Utc::now()).unwrap()
    }

    async fn run(&self, config: &SyncConfig, input: &SyncInput) -> RunReport {
        self.run_with(config, input, &RunOptions::default()).await
    }

    async fn run_with(
        &self,
        config: &SyncConfig,
        input: &SyncInput,
        options: &RunOptions,
    ) -> RunReport {
        run_sync(&self.client, &self.db, config, input, options)
            .await
            .expect("the run starts")
    }

    /// Write requests since the log was last cleared.
    fn writes(&self) -> Vec<LoggedRequest> {
        self.fake
            .requests()
            .into_iter()
            .filter(|r| r.is_write())
            .collect()
    }

    /// `(members_to_add, members_to_remove)` of every bulk tag request.
    fn tag_requests(&self) -> Vec<(Vec<String>, Vec<String>)> {
        let tag_path = |r: &LoggedRequest| r.path.contains("/segments/") && r.is_write();
        self.fake
            .requests()
            .into_iter()
            .filter(tag_path)
            .map(|r| {
                (
                    strings(&r.body["members_to_add"]),
                    strings(&r.body["members_to_remove"]),
                )
            })
            .collect()
    }

    /// `(email, status)` of every member of every batch create.
    fn creates(&self) -> Vec<Vec<(String, String)>> {
        let create_path = format!("/lists/{LIST}");
        let requests = self
            .fake
            .requests()
            .into_iter()
            .filter(|r| r.path == create_path);
        requests
            .map(|r| {
                let members = r.body["members"].as_array().cloned().unwrap_or_default();
                members
                    .iter()
                    .map(|m| (text(&m["email_address"]), text(&m["status"])))
                    .collect()
            })
            .collect()
    }
}

fn strings(value: &Value) -> Vec<String> {
    let items = value.as_array().cloned().unwrap_or_default();
    items.iter().map(text).collect()
}

fn text(value: &Value) -> String {
    value.as_str().unwrap_or_default().to_string()
}

fn member(id: i64, email: Option<&str>, consent: Option<bool>) -> MemberInfo {
    MemberInfo {
        client_id: id,
        email: email.map(String::from),
        marketing_consent: consent,
    }
}

/// A segment of clients `ids`, each with the address [`email`]`(id)`.
fn segment(ids: impl IntoIterator<Item = i64>) -> SyncInput {
    let members: Vec<MemberInfo> = ids
        .into_iter()
        .map(|id| member(id, Some(&email(id)), None))
        .collect();
    SyncInput {
        directory: members.clone(),
        members,
        segment_is_static: true,
    }
}

fn skipped_of(report: &RunReport) -> Vec<(Vec<i64>, SkipReason)> {
    let skipped = report.details.skipped.iter();
    skipped.map(|s| (s.client_ids.clone(), s.reason)).collect()
}
