//! Configuration, the API key, the fake's own rules, the client, the scheduler.

use super::*;
use std::sync::Arc;

use futures::future::BoxFuture;

use serde_json::json;

use crate::mailchimp::address::subscriber_hash;
use crate::mailchimp::client::ApiError;
use crate::mailchimp::fake::Fault;
use crate::mailchimp::report::{RunStatus, SegmentChanges};
use crate::mailchimp::scheduler::{Scheduler, SegmentSource, TickOutcome};
use crate::mailchimp::store::StoreError;

#[tokio::test]
async fn tags_equal_after_case_folding_are_refused_per_audience() {
    let w = world().await;
    let conn = w.db.lock().unwrap();
    let create = |segment_id, list: &str, tag: &str| {
        let mut spec = spec(segment_id, tag, Direction::OneWay);
        spec.list_id = list.into();
        store::create_sync(&conn, &spec.validate(true).unwrap(), Utc::now())
    };
    let first = create(1, LIST, "VIP").unwrap();
    let refused = create(2, LIST, " vip ").unwrap_err();
    assert!(matches!(refused, StoreError::TagTaken { other, .. } if other == first.id));
    assert!(refused.to_string().contains("aud1"));
    create(2, "other1", "vip").unwrap();
    let second = create(3, LIST, "Gold").unwrap();
    let collide = spec(3, "Vip", Direction::OneWay).validate(true).unwrap();
    let updated = store::update_sync(&conn, second.id, &collide, Utc::now());
    assert!(matches!(updated, Err(StoreError::TagTaken { .. })));
}

#[tokio::test]
async fn the_api_key_never_shows() {
    let buffer = Arc::new(Mutex::new(Vec::<u8>::new()));
    let sink = buffer.clone();
    let subscriber = tracing_subscriber::fmt()
        .with_max_level(tracing::Level::TRACE)
        .with_writer(move || LogSink(sink.clone()))
        .finish();
    let _guard = tracing::subscriber::set_default(subscriber);
    let w = world().await;
    let config = w.sync(Direction::OneWay);
    w.fake.inject(Fault::storm(2));
    let report = w.run(&config, &segment([1, 2])).await;
    let wrong = client_for(&w.fake, "ffffffffffffffff-us21", fast_options());
    let refused = run_sync(
        &wrong,
        &w.db,
        &config,
        &segment([3]),
        &RunOptions::default(),
    )
    .await
    .unwrap();
    assert_eq!(refused.status, RunStatus::Failed);
    assert!(
        refused
            .error
            .as_deref()
            .unwrap()
            .contains("refused the API key")
    );

    let secret = &KEY[..32];
    let logs = String::from_utf8(buffer.lock().unwrap().clone()).unwrap();
    assert!(
        logs.contains("mailchimp sync finished"),
        "logs were captured"
    );
    let shown = [
        logs,
        format!("{:?}", w.client),
        serde_json::to_string(&config).unwrap(),
        serde_json::to_string(&report).unwrap(),
        serde_json::to_string(&refused).unwrap(),
        format!("{:?}", Account::new(ApiKey::new(KEY).unwrap()).unwrap()),
    ];
    for text in shown {
        assert!(!text.contains(secret), "the key leaked into: {text}");
    }
}

struct LogSink(Arc<Mutex<Vec<u8>>>);

impl std::io::Write for LogSink {
    fn write(&mut self, bytes: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(bytes);
        Ok(bytes.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

#[tokio::test]
async fn the_fake_enforces_the_api_rules() {
    let w = world().await;
    w.fake.forget(LIST, "gone@example.com");
    let http = reqwest::Client::new();
    let url = |path: &str| format!("{}{path}", w.fake.base_url());
    let send = |method: reqwest::Method, path: &str, key: &str, body: Value| {
        let request = http.request(method, url(path)).basic_auth("any", Some(key));
        async move { request.json(&body).send().await.unwrap().status().as_u16() }
    };
    let members: Vec<Value> = (0..501)
        .map(|i| json!({"email_address": email(i), "status": "subscribed"}))
        .collect();
    let post = reqwest::Method::POST;
    assert_eq!(
        send(
            post.clone(),
            "/lists/aud1",
            "wrong-us21",
            json!({"members": []})
        )
        .await,
        401
    );
    assert_eq!(
        send(
            post.clone(),
            "/lists/aud1",
            KEY,
            json!({"members": members})
        )
        .await,
        400
    );
    let tags = json!({"tags": [{"name": "x", "status": "active"}]});
    let forgotten = format!(
        "/lists/aud1/members/{}/tags",
        subscriber_hash("gone@example.com")
    );
    assert_eq!(send(post, &forgotten, KEY, tags).await, 400);
    let page = send(
        reqwest::Method::GET,
        "/lists/aud1/segments?count=1001",
        KEY,
        Value::Null,
    );
    assert_eq!(page.await, 400);
}

#[tokio::test]
async fn the_client_reports_addresses_the_bulk_tag_call_ignored() {
    let w = world().await;
    w.fake.put_member(LIST, &email(1), "subscribed");
    let tag = w.client.create_tag(LIST, TAG).await.unwrap();
    let update = w
        .client
        .update_tag(LIST, tag.id, &[email(1), email(2)], &[])
        .await
        .unwrap();
    assert_eq!(update.added, vec![email(1)]);
    assert!(
        update.errors.is_empty(),
        "unknown addresses are ignored, not refused"
    );
    let found = w.client.find_tag(LIST, "KEY ACCOUNTS").await.unwrap();
    assert_eq!(found, Some(tag));
    let missing = w
        .client
        .member(LIST, &subscriber_hash(&email(2)))
        .await
        .unwrap();
    assert_eq!(missing, None);
    let other = w.client.member("nolist", "x").await.unwrap();
    assert_eq!(other, None);
    let err = w.client.find_tag("nolist", TAG).await.unwrap_err();
    assert!(matches!(err, ApiError::NotFound { .. }));
}

/// A source whose segment 1 holds clients 1 and 2 and whose other segments are gone.
struct TwoClients;

impl SegmentSource for TwoClients {
    fn input(&self, segment_id: i64) -> Option<SyncInput> {
        (segment_id == 1).then(|| segment([1, 2]))
    }

    fn apply<'a>(
        &'a self,
        _segment_id: i64,
        _changes: &'a SegmentChanges,
    ) -> BoxFuture<'a, Result<(), String>> {
        Box::pin(async { Ok(()) })
    }
}

#[tokio::test]
async fn a_deleted_sync_id_is_never_given_again() {
    let w = world().await;
    let conn = w.db.lock().unwrap();
    let create = |segment_id, tag: &str| {
        let valid = spec(segment_id, tag, Direction::OneWay)
            .validate(true)
            .unwrap();
        store::create_sync(&conn, &valid, Utc::now()).unwrap().id
    };
    let first = create(1, "One");
    let second = create(2, "Two");
    assert_eq!((first, second), (1, 2));
    store::delete_sync(&conn, second).unwrap();
    store::delete_sync(&conn, first).unwrap();
    assert_eq!(create(3, "Three"), 3);
    // Running the migrations again keeps the highest id given.
    store::migrate(&conn).unwrap();
    assert_eq!(create(4, "Four"), 4);
}

#[tokio::test]
async fn the_scheduler_runs_what_fell_due_while_it_was_down() {
    let fake = FakeMailchimp::start(KEY).await;
    fake.add_list(LIST);
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("catalog.sqlite");
    // The catalog creates the tables; each process then opens its own connection.
    drop(crate::catalog::Catalog::open(&path, store::CATALOG_MIGRATIONS).unwrap());
    let open = || Arc::new(Mutex::new(store::open(&path).unwrap()));
    let start = Utc::now() - chrono::Duration::hours(10);
    let (due, gone) = {
        let db = open();
        let conn = db.lock().unwrap();
        let due = store::create_sync(
            &conn,
            &spec(1, TAG, Direction::OneWay).validate(true).unwrap(),
            start,
        )
        .unwrap();
        let gone = store::create_sync(
            &conn,
            &spec(9, "Gone", Direction::OneWay).validate(true).unwrap(),
            start,
        )
        .unwrap();
        (due, gone)
    };

    // A new process over the same file.
    let client = Arc::new(client_for(&fake, KEY, fast_options()));
    let scheduler = Scheduler::new(client, open(), Arc::new(TwoClients));
    let now = Utc::now();
    let outcomes = scheduler.tick(now).await.unwrap();
    assert_eq!(outcomes.len(), 2);
    assert!(
        matches!(&outcomes[0], TickOutcome::Ran(report) if report.status == RunStatus::Success && report.sync_id == due.id)
    );
    assert!(matches!(&outcomes[1], TickOutcome::Refused { sync_id, .. } if *sync_id == gone.id));
    assert_eq!(fake.tagged(LIST, TAG), vec![email(1), email(2)]);

    let next = store::get_sync(&open().lock().unwrap(), due.id)
        .unwrap()
        .next_run_at;
    assert!(next >= now + chrono::Duration::seconds(14_400));
    assert!(next <= Utc::now() + chrono::Duration::seconds(14_400));
    assert_eq!(
        scheduler.tick(now).await.unwrap().len(),
        0,
        "nothing is due twice"
    );
}
