//! The Mailchimp routes through the router with `oneshot`, against the fake Mailchimp.
//!
//! Tenant (from `service::mailchimp::tests`): clients 1 (DE), 2 (DE) and 3 (US) with
//! `c<id>@example.com`, 4 (DE) without an e-mail; segment "Listed" (static: 1, 2) and
//! "Germany" (dynamic, country DE: 1, 2, 4).

use std::sync::Arc;

use axum::Router;
use axum::body::Body;
use axum::http::{Request, StatusCode, header};
use http_body_util::BodyExt;
use serde_json::{Value, json};
use tempfile::TempDir;
use tower::ServiceExt;

use crate::api::{ApiConfig, AppState, Metrics, router};
use crate::mailchimp::fake::{FakeMailchimp, Fault};
use crate::mailchimp::{Trigger, store};
use crate::service::Service;
use crate::service::mailchimp::MailchimpRuntime;
use crate::service::mailchimp::tests::{KEY, LIST, client_for, segments, tenant};

struct World {
    app: Router,
    fake: FakeMailchimp,
    service: Arc<Service>,
    listed: i64,
    germany: i64,
    _dir: TempDir,
}

/// The tenant and its router; the sync talks to the fake when `configured`.
async fn world(configured: bool) -> World {
    let fake = FakeMailchimp::start(KEY).await;
    fake.add_list(LIST);
    let (dir, service) = tenant().await;
    let (listed, germany) = segments(&service).await;
    let client = configured.then(|| client_for(&fake));
    let runtime = MailchimpRuntime::open(Arc::clone(&service), client).unwrap();
    let state = AppState::new(
        Arc::clone(&service),
        Arc::new(Metrics::new()),
        ApiConfig::default(),
    );
    World {
        app: router(state.with_mailchimp(Arc::new(runtime))),
        fake,
        service,
        listed,
        germany,
        _dir: dir,
    }
}

#[derive(Debug)]
struct Answer {
    status: StatusCode,
    content_type: String,
    body: Value,
    text: String,
}

async fn call(app: &Router, method: &str, uri: &str, body: Option<Value>) -> Answer {
    let builder = Request::builder().method(method).uri(uri);
    let request = match body {
        Some(json) => builder
            .header(header::CONTENT_TYPE, "application/json")
            .body(Body::from(json.to_string())),
        None => builder.body(Body::empty()),
    };
    let response = app.clone().oneshot(request.unwrap()).await.unwrap();
    let status = response.status();
    let content_type = response.headers().get(header::CONTENT_TYPE);
    let content_type = content_type.map_or("", |v| v.to_str().unwrap()).to_owned();
    let bytes = response.into_body().collect().await.unwrap().to_bytes();
    let text = String::from_utf8(bytes.to_vec()).unwrap();
    let body = serde_json::from_str(&text).unwrap_or(Value::Null);
    Answer {
        status,
        content_type,
        body,
        text,
    }
}

#[track_caller]
fn check_problem(answer: &Answer, status: StatusCode, title: &str, detail: &str) {
    assert_eq!(answer.status, status, "{answer:?}");
    assert_eq!(answer.content_type, "application/problem+json");
    assert_eq!(answer.body["title"], title, "{answer:?}");
    assert_eq!(answer.body["detail"], detail, "{answer:?}");
}

fn new_sync(segment_id: i64, tag: &str, direction: &str) -> Value {
    json!({"segment_id": segment_id, "list_id": LIST, "tag": tag, "direction": direction})
}

/// Creates a sync and returns its id.
async fn create(w: &World, segment_id: i64, tag: &str) -> i64 {
    let body = new_sync(segment_id, tag, "one_way");
    let created = call(&w.app, "POST", "/v1/mailchimp/syncs", Some(body)).await;
    assert_eq!(created.status, StatusCode::CREATED, "{created:?}");
    created.body["id"].as_i64().unwrap()
}

const TAGGED: [&str; 2] = ["c1@example.com", "c2@example.com"];

#[tokio::test]
async fn a_sync_runs_tags_the_members_and_shows_in_the_history() {
    let w = world(true).await;
    let body = new_sync(w.listed, " Key accounts ", "one_way");
    let created = call(&w.app, "POST", "/v1/mailchimp/syncs", Some(body)).await;
    assert_eq!(created.status, StatusCode::CREATED);
    let id = created.body["id"].as_i64().unwrap();
    let settings = [
        ("segment_id", json!(w.listed)),
        ("list_id", json!(LIST)),
        ("tag", json!("Key accounts")),
        ("direction", json!("one_way")),
        ("status_if_new", json!("subscribed")),
        ("interval_secs", json!(14_400)),
        ("enabled", json!(true)),
    ];
    for (field, value) in settings {
        assert_eq!(created.body[field], value, "{field}");
    }
    let listed = call(&w.app, "GET", "/v1/mailchimp/syncs", None).await;
    assert_eq!(listed.body, json!([created.body]));
    let uri = format!("/v1/mailchimp/syncs?segment_id={}", w.germany);
    assert_eq!(call(&w.app, "GET", &uri, None).await.body, json!([]));
    let bad = call(&w.app, "GET", "/v1/mailchimp/syncs?segment_id=abc", None).await;
    assert_eq!(bad.status, StatusCode::BAD_REQUEST);
    assert_eq!(
        bad.body["detail"],
        "Failed to deserialize query string: segment_id: \"abc\" is not an id (a whole number)"
    );

    let ran = call(
        &w.app,
        "POST",
        &format!("/v1/mailchimp/syncs/{id}/run"),
        None,
    )
    .await;
    assert_eq!(ran.status, StatusCode::OK, "{ran:?}");
    assert_eq!(ran.body["status"], "success");
    let counts = json!({"created": 2, "tagged": 2, "untagged": 0, "skipped": 0, "failed": 0});
    assert_eq!(ran.body["counts"], counts);
    assert_eq!(w.fake.tagged(LIST, "Key accounts"), TAGGED);

    let history = call(
        &w.app,
        "GET",
        &format!("/v1/mailchimp/syncs/{id}/runs"),
        None,
    )
    .await;
    assert_eq!(history.status, StatusCode::OK);
    assert_eq!(history.body.as_array().unwrap().len(), 1);
    assert_eq!(history.body[0]["run_id"], ran.body["run_id"]);
    assert_eq!(history.body[0]["trigger"], "manual");
    assert_eq!(history.body[0]["counts"], counts);
}

#[tokio::test]
async fn a_dry_run_sends_nothing() {
    let w = world(true).await;
    let id = create(&w, w.listed, "Listed").await;
    w.fake.clear_log();

    let dry = call(
        &w.app,
        "POST",
        &format!("/v1/mailchimp/syncs/{id}/dry-run"),
        None,
    )
    .await;
    assert_eq!(dry.status, StatusCode::OK, "{dry:?}");
    assert_eq!(
        (&dry.body["tag"], &dry.body["untag"]),
        (&json!(2), &json!(0))
    );
    let mut sample: Vec<&str> = dry.body["sample_tag"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e.as_str().unwrap())
        .collect();
    sample.sort_unstable();
    assert_eq!(sample, TAGGED, "the sample is in subscriber-hash order");
    assert_eq!(
        w.fake.requests(),
        vec![],
        "a one-way dry run makes no request"
    );
    let history = call(
        &w.app,
        "GET",
        &format!("/v1/mailchimp/syncs/{id}/runs"),
        None,
    )
    .await;
    assert_eq!(history.body, json!([]));
}

#[tokio::test]
async fn two_way_on_a_dynamic_segment_is_refused() {
    let w = world(true).await;
    let title = "Two-way sync needs a static segment";
    let detail = format!(
        "segment {} is dynamic; two-way sync needs a static segment",
        w.germany
    );
    let body = new_sync(w.germany, "Germany", "two_way");
    let refused = call(&w.app, "POST", "/v1/mailchimp/syncs", Some(body)).await;
    check_problem(&refused, StatusCode::UNPROCESSABLE_ENTITY, title, &detail);
    assert_eq!(
        call(&w.app, "GET", "/v1/mailchimp/syncs", None).await.body,
        json!([])
    );

    let id = create(&w, w.germany, "Germany").await;
    let uri = format!("/v1/mailchimp/syncs/{id}");
    let patch = json!({"direction": "two_way"});
    let refused = call(&w.app, "PATCH", &uri, Some(patch)).await;
    check_problem(&refused, StatusCode::UNPROCESSABLE_ENTITY, title, &detail);
    assert_eq!(
        call(&w.app, "GET", &uri, None).await.body["direction"],
        "one_way"
    );
    let cleared = call(&w.app, "PATCH", &uri, Some(json!({"enabled": null}))).await;
    assert_eq!(
        cleared.status,
        StatusCode::UNPROCESSABLE_ENTITY,
        "{cleared:?}"
    );
    assert!(
        cleared.body["detail"]
            .as_str()
            .unwrap()
            .contains("enabled: may be left out but not null"),
        "{cleared:?}"
    );

    let static_two_way = call(
        &w.app,
        "POST",
        "/v1/mailchimp/syncs",
        Some(new_sync(w.listed, "L", "two_way")),
    );
    assert_eq!(static_two_way.await.status, StatusCode::CREATED);
}

#[tokio::test]
async fn refusals_answer_problems() {
    let w = world(true).await;
    let id = create(&w, w.listed, "Listed").await;
    let not_found = StatusCode::NOT_FOUND;
    let body = new_sync(99, "Other", "one_way");
    let unknown = call(&w.app, "POST", "/v1/mailchimp/syncs", Some(body)).await;
    check_problem(
        &unknown,
        not_found,
        "Not found",
        "segment 99 does not exist",
    );
    let gone = "Mailchimp sync 77 does not exist";
    for (method, uri) in [
        ("GET", "/v1/mailchimp/syncs/77"),
        ("DELETE", "/v1/mailchimp/syncs/77"),
        ("POST", "/v1/mailchimp/syncs/77/run"),
        ("POST", "/v1/mailchimp/syncs/77/dry-run"),
        ("GET", "/v1/mailchimp/syncs/77/runs"),
    ] {
        check_problem(
            &call(&w.app, method, uri, None).await,
            not_found,
            "Not found",
            gone,
        );
    }
    let patch = call(&w.app, "PATCH", "/v1/mailchimp/syncs/77", Some(json!({}))).await;
    check_problem(&patch, not_found, "Not found", gone);

    let taken = call(
        &w.app,
        "POST",
        "/v1/mailchimp/syncs",
        Some(new_sync(w.germany, "LISTED", "one_way")),
    )
    .await;
    let detail = format!(
        "audience aud1 already syncs tag \"LISTED\" (sync {id}); tags are compared ignoring \
         case and surrounding spaces"
    );
    check_problem(&taken, StatusCode::CONFLICT, "Tag already synced", &detail);
    let bad_list = json!({"segment_id": w.listed, "list_id": "a/b", "tag": "x"});
    let bad_list = call(&w.app, "POST", "/v1/mailchimp/syncs", Some(bad_list)).await;
    let detail = "list_id \"a/b\" is not a Mailchimp audience id (letters and digits)";
    check_problem(
        &bad_list,
        StatusCode::UNPROCESSABLE_ENTITY,
        "Invalid Mailchimp sync",
        detail,
    );
    let key = json!({"segment_id": w.listed, "list_id": LIST, "tag": "x", "api_key": "k"});
    let unknown_field = call(&w.app, "POST", "/v1/mailchimp/syncs", Some(key)).await;
    assert_eq!(unknown_field.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(unknown_field.body["title"], "Invalid JSON body");
    let uri = format!("/v1/mailchimp/syncs/{id}/runs?limit=0");
    let limit = call(&w.app, "GET", &uri, None).await;
    let detail =
        "Failed to deserialize query string: limit: \"0\" is not a whole number from 1 to 100";
    check_problem(
        &limit,
        StatusCode::BAD_REQUEST,
        "Invalid query string",
        detail,
    );

    // A run holding the sync's lock, as from another process.
    let conn = store::open(w.service.catalog().path()).unwrap();
    let stale_after = std::time::Duration::from_secs(600);
    let now = chrono::Utc::now();
    store::begin_run(&conn, id, Trigger::Schedule, now, stale_after).unwrap();
    let busy = call(
        &w.app,
        "POST",
        &format!("/v1/mailchimp/syncs/{id}/run"),
        None,
    )
    .await;
    assert_eq!(busy.status, StatusCode::CONFLICT);
    assert_eq!(busy.body["title"], "Sync already running");
}

#[tokio::test]
async fn without_a_key_syncs_are_set_up_but_not_run() {
    let w = world(false).await;
    let id = create(&w, w.listed, "Listed").await;
    let title = "Mailchimp is not configured";
    let detail = "Mailchimp is not configured: set MAILCHIMP_API_KEY (or `serve \
                  --mailchimp-key-file`) and restart the server";
    let run = call(
        &w.app,
        "POST",
        &format!("/v1/mailchimp/syncs/{id}/run"),
        None,
    )
    .await;
    check_problem(&run, StatusCode::SERVICE_UNAVAILABLE, title, detail);
    // A one-way dry run reads nothing from Mailchimp, so it needs no key.
    let uri = format!("/v1/mailchimp/syncs/{id}/dry-run");
    let dry = call(&w.app, "POST", &uri, None).await;
    assert_eq!(dry.status, StatusCode::OK, "{dry:?}");
    assert_eq!(
        (&dry.body["tag"], &dry.body["untag"]),
        (&json!(2), &json!(0))
    );
    // A two-way one reads the tag's members: it needs the key.
    let body = new_sync(w.listed, "Both ways", "two_way");
    let created = call(&w.app, "POST", "/v1/mailchimp/syncs", Some(body)).await;
    assert_eq!(created.status, StatusCode::CREATED, "{created:?}");
    let two_way = created.body["id"].as_i64().unwrap();
    let uri = format!("/v1/mailchimp/syncs/{two_way}/dry-run");
    let dry = call(&w.app, "POST", &uri, None).await;
    check_problem(&dry, StatusCode::SERVICE_UNAVAILABLE, title, detail);
    // An unknown sync is not found, key or not.
    let unknown = call(&w.app, "POST", "/v1/mailchimp/syncs/999/run", None).await;
    assert_eq!(unknown.status, StatusCode::NOT_FOUND, "{unknown:?}");
    assert_eq!(w.fake.requests(), vec![]);

    let bare = AppState::new(
        Arc::clone(&w.service),
        Arc::new(Metrics::new()),
        ApiConfig::default(),
    );
    let listed = call(&router(bare), "GET", "/v1/mailchimp/syncs", None).await;
    check_problem(&listed, StatusCode::SERVICE_UNAVAILABLE, title, detail);
}

#[tokio::test]
async fn the_key_never_appears_in_any_answer() {
    let w = world(true).await;
    let id = create(&w, w.listed, "Listed").await;
    let sync = format!("/v1/mailchimp/syncs/{id}");
    let mut answers = vec![
        call(&w.app, "GET", "/v1/mailchimp/syncs", None).await,
        call(&w.app, "GET", &sync, None).await,
        call(
            &w.app,
            "PATCH",
            &sync,
            Some(json!({"interval_secs": 3_600})),
        )
        .await,
        call(&w.app, "POST", &format!("{sync}/dry-run"), None).await,
        call(&w.app, "POST", &format!("{sync}/run"), None).await,
    ];
    // Mailchimp refusing the key: the run fails and says so, without the key.
    w.fake.inject(Fault::status("GET", "/segments", 401));
    let refused = call(&w.app, "POST", &format!("{sync}/run"), None).await;
    assert_eq!(refused.body["status"], "failed", "{refused:?}");
    answers.push(refused);
    answers.push(call(&w.app, "GET", &format!("{sync}/runs"), None).await);
    answers.push(call(&w.app, "GET", "/v1/openapi.json", None).await);

    let secret = KEY.split('-').next().unwrap();
    for answer in answers {
        assert!(answer.status.is_success(), "{answer:?}");
        assert!(
            !answer.text.contains(secret),
            "the key leaked: {}",
            answer.text
        );
    }
}

#[tokio::test]
async fn deleting_the_segment_removes_its_syncs() {
    let w = world(true).await;
    let id = create(&w, w.listed, "Listed").await;
    let other = create(&w, w.germany, "Germany").await;
    let ran = call(
        &w.app,
        "POST",
        &format!("/v1/mailchimp/syncs/{id}/run"),
        None,
    )
    .await;
    assert_eq!(ran.body["status"], "success");

    let deleted = call(
        &w.app,
        "DELETE",
        &format!("/v1/segments/{}", w.listed),
        None,
    )
    .await;
    let removal = json!({"deleted": w.listed, "removed_from_pricing": false,
                         "widgets_deleted": 0, "mailchimp_syncs_deleted": 1,
                         "price_updates_kept": []});
    assert_eq!((deleted.status, deleted.body), (StatusCode::OK, removal));
    let left = call(&w.app, "GET", "/v1/mailchimp/syncs", None).await;
    let ids: Vec<i64> = left
        .body
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["id"].as_i64().unwrap())
        .collect();
    assert_eq!(ids, [other]);
    for uri in [
        format!("/v1/mailchimp/syncs/{id}"),
        format!("/v1/mailchimp/syncs/{id}/runs"),
    ] {
        assert_eq!(
            call(&w.app, "GET", &uri, None).await.status,
            StatusCode::NOT_FOUND
        );
    }
    assert_eq!(
        w.fake.tagged(LIST, "Listed"),
        TAGGED,
        "Mailchimp keeps the tag"
    );
}
