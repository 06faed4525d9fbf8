//! The API through the router with `oneshot`: no socket. Each test opens a service on a tiny
//! tenant written into a temporary folder.
//!
//! Tenant: clients 1 (US), 2 (DE), 3 (no country), 4 (US, deleted). Client 1 has one
//! completed order of 150.00, client 2 one of 40.00.

use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use axum::body::Body;
use axum::http::{Request, StatusCode, header};
use axum::routing::get;
use http_body_util::BodyExt;
use serde_json::{Value, json};
use tempfile::TempDir;
use tower::ServiceExt;

use super::*;
use crate::facts::builder::{ClientRow, FactsBuilder, OrderRow, ProductRow, micros, write_tenant};
use crate::facts::write::write_tenant_settings;
use crate::service::{Service, ServiceOptions};

fn tenant() -> TempDir {
    let client = |id: i64, country: Option<&str>| ClientRow {
        country: country.map(str::to_owned),
        email: Some(format!("c{id}@example.com")),
        ..ClientRow::new(id)
    };
    let deleted = ClientRow {
        deleted_at: Some(micros("2024-01-01T00:00:00Z")),
        ..client(4, Some("US"))
    };
    let product = ProductRow {
        product_id: 1,
        sku: "SKU-1".into(),
        name: "Widget".into(),
        retail_price_cents: 1_000,
        ..ProductRow::default()
    };
    let facts = FactsBuilder::new()
        .client(client(1, Some("US")))
        .client(client(2, Some("DE")))
        .client(client(3, None))
        .client(deleted)
        .order(OrderRow::completed(10, 1, "2024-05-01T10:00:00Z", 15_000))
        .order(OrderRow::completed(11, 2, "2024-05-02T10:00:00Z", 4_000))
        .line(10, 1, 1, 15_000)
        .product(product)
        .build()
        .unwrap();
    let dir = tempfile::tempdir().unwrap();
    write_tenant(&facts, dir.path()).unwrap();
    write_tenant_settings(dir.path(), "UTC").unwrap();
    dir
}

/// A tenant, its service and the router over it.
struct Fixture {
    app: Router,
    state: AppState,
    _dir: TempDir,
}

async fn fixture_with(config: ApiConfig) -> Fixture {
    let dir = tenant();
    let service = Service::open(ServiceOptions::new(dir.path()))
        .await
        .unwrap();
    let state = AppState::new(service, Arc::new(Metrics::new()), config);
    Fixture {
        app: router(state.clone()),
        state,
        _dir: dir,
    }
}

async fn fixture() -> Fixture {
    fixture_with(ApiConfig::default()).await
}

/// An answer: status, content type and body (JSON when it parses, else a string).
#[derive(Debug)]
struct Answer {
    status: StatusCode,
    content_type: String,
    body: Value,
    headers: axum::http::HeaderMap,
}

async fn send(app: &Router, request: Request<Body>) -> Answer {
    let response = app.clone().oneshot(request).await.unwrap();
    let status = response.status();
    let headers = response.headers().clone();
    let content_type = headers
        .get(header::CONTENT_TYPE)
        .map(|v| v.to_str().unwrap().to_owned())
        .unwrap_or_default();
    let bytes = response.into_body().collect().await.unwrap().to_bytes();
    let text = String::from_utf8(bytes.to_vec()).unwrap();
    let body = serde_json::from_str(&text).unwrap_or(Value::String(text));
    Answer {
        status,
        content_type,
        body,
        headers,
    }
}

fn request(method: &str, uri: &str, body: Option<Value>) -> Request<Body> {
    let builder = Request::builder().method(method).uri(uri);
    match body {
        Some(json) => builder
            .header(header::CONTENT_TYPE, "application/json")
            .body(Body::from(json.to_string()))
            .unwrap(),
        None => builder.body(Body::empty()).unwrap(),
    }
}

fn raw(method: &str, uri: &str, content_type: Option<&str>, body: &str) -> Request<Body> {
    let mut builder = Request::builder().method(method).uri(uri);
    if let Some(content_type) = content_type {
        builder = builder.header(header::CONTENT_TYPE, content_type);
    }
    builder.body(Body::from(body.to_owned())).unwrap()
}

async fn call(app: &Router, method: &str, uri: &str, body: Option<Value>) -> Answer {
    send(app, request(method, uri, body)).await
}

/// Checks an answer's status and the listed fields of its JSON body.
#[track_caller]
fn check(answer: &Answer, status: StatusCode, fields: Value) {
    assert_eq!(answer.status, status, "body: {:#}", answer.body);
    for (key, expected) in fields.as_object().unwrap() {
        assert_eq!(
            &answer.body[key], expected,
            "field {key:?} of {:#}",
            answer.body
        );
    }
}

/// Checks a problem answer: status, media type, title and detail.
#[track_caller]
fn check_problem(answer: &Answer, status: StatusCode, title: &str, detail: &str) {
    assert_eq!(answer.status, status, "body: {:#}", answer.body);
    assert_eq!(answer.content_type, error::PROBLEM_JSON);
    assert_eq!(answer.body["type"], "about:blank");
    assert_eq!(answer.body["status"], status.as_u16());
    assert_eq!(answer.body["title"], title, "{:#}", answer.body);
    let got = answer.body["detail"].as_str().unwrap();
    assert!(got.contains(detail), "detail {got:?} lacks {detail:?}");
}

fn names(answer: &Answer) -> Vec<String> {
    let list = answer.body.as_array().unwrap();
    list.iter()
        .map(|s| s["name"].as_str().unwrap().to_owned())
        .collect()
}

fn static_segment(name: &str) -> Value {
    json!({"name": name, "kind": "static"})
}

fn us_rule() -> Value {
    json!({"field": "country", "op": "is", "value": "US"})
}

#[tokio::test]
async fn segments_are_created_read_changed_and_deleted() {
    let Fixture { app, _dir, .. } = fixture().await;

    let created = call(
        &app,
        "POST",
        "/v1/segments",
        Some(static_segment("Key accounts")),
    )
    .await;
    check(
        &created,
        StatusCode::CREATED,
        json!({"id": 1, "name": "Key accounts", "kind": "static", "member_count": 0}),
    );
    assert_eq!(created.headers[header::LOCATION], "/v1/segments/1");

    let dynamic = json!({"name": "US", "kind": "dynamic", "rule": us_rule(), "tier": "vip"});
    let created = call(&app, "POST", "/v1/segments", Some(dynamic)).await;
    // Client 4 is in the US but deleted.
    check(
        &created,
        StatusCode::CREATED,
        json!({"id": 2, "member_count": 1, "tier": "vip", "rule_version": 1}),
    );

    let listed = call(&app, "GET", "/v1/segments", None).await;
    assert_eq!(names(&listed), ["Key accounts", "US"]);

    let patch =
        json!({"description": "Our best", "rule": {"field": "country", "op": "is", "value": "DE"}});
    let changed = call(&app, "PATCH", "/v1/segments/2", Some(patch)).await;
    check(
        &changed,
        StatusCode::OK,
        json!({"description": "Our best", "member_count": 1, "rule_version": 2}),
    );
    let cleared = call(
        &app,
        "PATCH",
        "/v1/segments/2",
        Some(json!({"description": null})),
    )
    .await;
    check(
        &cleared,
        StatusCode::OK,
        json!({"description": null, "rule_version": 2}),
    );
    for field in ["name", "rule", "kind"] {
        let null = call(
            &app,
            "PATCH",
            "/v1/segments/2",
            Some(json!({ field: null })),
        )
        .await;
        let prefix = "Failed to deserialize the JSON body into the target type";
        check_problem(
            &null,
            StatusCode::UNPROCESSABLE_ENTITY,
            "Invalid JSON body",
            &format!("{prefix}: {field}: may be left out but not null at line 1 column 13"),
        );
    }
    let kept = call(&app, "GET", "/v1/segments/2", None).await;
    check(
        &kept,
        StatusCode::OK,
        json!({"name": "US", "rule_version": 2}),
    );

    let deleted = call(&app, "DELETE", "/v1/segments/1", None).await;
    let removal = json!({"deleted": 1, "removed_from_pricing": false, "widgets_deleted": 0,
                         "mailchimp_syncs_deleted": 0, "price_updates_kept": []});
    assert_eq!((deleted.status, deleted.body), (StatusCode::OK, removal));
    let gone = call(&app, "GET", "/v1/segments/1", None).await;
    check_problem(
        &gone,
        StatusCode::NOT_FOUND,
        "Not found",
        "segment 1 does not exist",
    );
}

#[tokio::test]
async fn static_members_are_added_paged_removed_imported_and_exported() {
    let Fixture { app, _dir, .. } = fixture().await;
    call(
        &app,
        "POST",
        "/v1/segments",
        Some(static_segment("Key accounts")),
    )
    .await;

    let added = call(
        &app,
        "POST",
        "/v1/segments/1/members",
        Some(json!({"client_ids": [1, 2, 2, 4, 99]})),
    )
    .await;
    check(
        &added,
        StatusCode::OK,
        json!({"added": 2, "unknown": [99], "deleted": [4]}),
    );

    let page = call(&app, "GET", "/v1/segments/1/members?limit=1", None).await;
    check(&page, StatusCode::OK, json!({"total": 2, "next_cursor": 1}));
    assert_eq!(page.body["members"][0]["client_id"], 1);
    assert_eq!(page.body["members"][0]["country"], "US");
    let next = call(&app, "GET", "/v1/segments/1/members?cursor=1&limit=1", None).await;
    check(
        &next,
        StatusCode::OK,
        json!({"total": 2, "next_cursor": null}),
    );
    assert_eq!(next.body["members"][0]["client_id"], 2);

    let removed = call(
        &app,
        "DELETE",
        "/v1/segments/1/members",
        Some(json!({"client_ids": [1]})),
    )
    .await;
    check(&removed, StatusCode::OK, json!({"removed": 1}));
    let removed = call(
        &app,
        "POST",
        "/v1/segments/1/members/remove",
        Some(json!({"client_ids": [2, 3]})),
    )
    .await;
    check(
        &removed,
        StatusCode::OK,
        json!({"removed": 1, "unchanged": 1}),
    );

    let csv = "email\nC1@example.com\n  c3@example.com \nnobody@example.com\n\n";
    let imported = send(
        &app,
        raw(
            "POST",
            "/v1/segments/1/members/import",
            Some("text/csv"),
            csv,
        ),
    )
    .await;
    check(
        &imported,
        StatusCode::OK,
        json!({"column": "email", "matched": 2, "added": 2, "unmatched": ["nobody@example.com"]}),
    );

    let export = call(&app, "GET", "/v1/segments/1/members.csv", None).await;
    assert_eq!(export.status, StatusCode::OK);
    assert_eq!(export.content_type, "text/csv; charset=utf-8");
    assert_eq!(
        export.body,
        "client_id,name,email,country\n1,Client 1,c1@example.com,US\n3,Client 3,c3@example.com,\n"
    );
}

#[tokio::test]
async fn preview_counts_without_storing() {
    let Fixture { app, _dir, .. } = fixture().await;
    let rule =
        json!({"any": [us_rule(), {"field": "total_revenue", "op": "gte", "value": "40.00"}]});
    let body = json!({"rule": rule, "as_of": "2024-06-01T00:00:00Z"});
    let preview = call(&app, "POST", "/v1/segments/preview", Some(body)).await;
    check(
        &preview,
        StatusCode::OK,
        json!({"count": 2, "as_of": "2024-06-01T00:00:00Z"}),
    );
    let sample: Vec<i64> = preview.body["sample"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| m["client_id"].as_i64().unwrap())
        .collect();
    assert_eq!(sample, [1, 2]);
    assert_eq!(preview.body["nodes"][0], json!({"path": "$", "count": 2}));

    let empty = call(
        &app,
        "POST",
        "/v1/segments/preview",
        Some(json!({"rule": {"any": []}})),
    )
    .await;
    check(&empty, StatusCode::OK, json!({"count": 0}));
    assert_eq!(empty.body["warnings"][0]["path"], "$");

    let listed = call(&app, "GET", "/v1/segments", None).await;
    assert_eq!(listed.body, json!([]));
}

#[tokio::test]
async fn a_bad_rule_names_its_json_path() {
    let Fixture { app, _dir, .. } = fixture().await;
    let rule = json!({"all": [us_rule(), {"field": "country", "op": "is", "value": 5}]});
    let preview = call(
        &app,
        "POST",
        "/v1/segments/preview",
        Some(json!({"rule": rule})),
    )
    .await;
    check_problem(
        &preview,
        StatusCode::UNPROCESSABLE_ENTITY,
        "Invalid rule",
        "$.all[1].value",
    );
    assert_eq!(preview.body["path"], "$.all[1].value");

    let unknown = json!({"field": "colour", "op": "is", "value": "red"});
    let segment = json!({"name": "Red", "kind": "dynamic", "rule": {"any": [unknown]}});
    let created = call(&app, "POST", "/v1/segments", Some(segment)).await;
    check_problem(
        &created,
        StatusCode::UNPROCESSABLE_ENTITY,
        "Invalid rule",
        "unknown field \"colour\"",
    );
    assert_eq!(created.body["path"], "$.any[0].field");
    assert_eq!(
        call(&app, "GET", "/v1/segments", None).await.body,
        json!([])
    );
}

#[tokio::test]
async fn bad_input_is_refused_with_a_useful_message_and_nothing_stored() {
    let Fixture { app, _dir, .. } = fixture().await;
    let post = |body: &str| raw("POST", "/v1/segments", Some("application/json"), body);

    let malformed = send(&app, post("{\"name\": \"A\",")).await;
    check_problem(
        &malformed,
        StatusCode::BAD_REQUEST,
        "Malformed JSON body",
        "EOF while parsing",
    );
    let wrong_type = send(&app, post("{\"name\": 5, \"kind\": \"static\"}")).await;
    check_problem(
        &wrong_type,
        StatusCode::UNPROCESSABLE_ENTITY,
        "Invalid JSON body",
        "invalid type: integer `5`, expected a string",
    );
    // serde_json takes a null where a name is expected for a syntax error; it is JSON.
    for kind in ["null", "[\"static\"]"] {
        let body = format!("{{\"name\": \"A\", \"kind\": {kind}}}");
        let wrong_kind = send(&app, post(&body)).await;
        check_problem(
            &wrong_kind,
            StatusCode::UNPROCESSABLE_ENTITY,
            "Invalid JSON body",
            "kind: expected a JSON string naming one of the field's values, at line 1 column 23",
        );
    }
    let trailing = send(&app, post("{\"name\": \"A\", \"kind\": \"static\"} x")).await;
    check_problem(
        &trailing,
        StatusCode::BAD_REQUEST,
        "Malformed JSON body",
        "trailing characters",
    );
    let unknown = send(
        &app,
        post("{\"name\": \"A\", \"kind\": \"static\", \"owner\": 1}"),
    )
    .await;
    check_problem(
        &unknown,
        StatusCode::UNPROCESSABLE_ENTITY,
        "Invalid JSON body",
        "unknown field `owner`",
    );
    let missing = send(&app, post("{\"kind\": \"static\"}")).await;
    check_problem(
        &missing,
        StatusCode::UNPROCESSABLE_ENTITY,
        "Invalid JSON body",
        "missing field `name`",
    );
    let bad_kind = send(&app, post("{\"name\": \"A\", \"kind\": \"smart\"}")).await;
    check_problem(
        &bad_kind,
        StatusCode::UNPROCESSABLE_ENTITY,
        "Invalid JSON body",
        "unknown variant `smart`",
    );
    let no_type = send(&app, raw("POST", "/v1/segments", None, "{}")).await;
    check_problem(
        &no_type,
        StatusCode::UNSUPPORTED_MEDIA_TYPE,
        "Expected a JSON body",
        "Content-Type",
    );
    assert_eq!(
        call(&app, "GET", "/v1/segments", None).await.body,
        json!([])
    );

    call(&app, "POST", "/v1/segments", Some(static_segment("VIP"))).await;
    let duplicate = call(&app, "POST", "/v1/segments", Some(static_segment(" vip "))).await;
    check_problem(
        &duplicate,
        StatusCode::CONFLICT,
        "Conflict",
        "is taken by segment 1",
    );
    assert_eq!(
        names(&call(&app, "GET", "/v1/segments", None).await),
        ["VIP"]
    );

    let bad_ids = call(
        &app,
        "POST",
        "/v1/segments/1/members",
        Some(json!({"client_ids": ["1"]})),
    )
    .await;
    check_problem(
        &bad_ids,
        StatusCode::UNPROCESSABLE_ENTITY,
        "Invalid JSON body",
        "client_ids[0]",
    );
    let bad_id = call(&app, "GET", "/v1/segments/abc", None).await;
    check_problem(
        &bad_id,
        StatusCode::BAD_REQUEST,
        "Invalid path parameter",
        "abc",
    );
    let bad_cursor = call(&app, "GET", "/v1/segments/1/members?cursor=abc", None).await;
    check_problem(
        &bad_cursor,
        StatusCode::BAD_REQUEST,
        "Invalid query string",
        "cursor: \"abc\" is not an id (a whole number)",
    );
    for limit in ["0", "1001", "-1"] {
        let uri = format!("/v1/segments/1/members?limit={limit}");
        let bad_limit = call(&app, "GET", &uri, None).await;
        check_problem(
            &bad_limit,
            StatusCode::BAD_REQUEST,
            "Invalid query string",
            &format!("limit: \"{limit}\" is not a whole number from 1 to 1000"),
        );
    }
    let bad_query = call(&app, "GET", "/v1/segments/1/members?page=2", None).await;
    check_problem(
        &bad_query,
        StatusCode::BAD_REQUEST,
        "Invalid query string",
        "unknown field `page`",
    );
    let bad_since = call(&app, "GET", "/v1/segments/1/history?since=yesterday", None).await;
    check_problem(
        &bad_since,
        StatusCode::BAD_REQUEST,
        "Invalid query string",
        "since",
    );
    let bad_at = call(&app, "GET", "/v1/segments/1/history/yesterday", None).await;
    check_problem(
        &bad_at,
        StatusCode::BAD_REQUEST,
        "Bad request",
        "\"yesterday\" is not an RFC 3339 instant",
    );
    let json_csv = send(
        &app,
        raw(
            "POST",
            "/v1/segments/1/members/import",
            Some("application/json"),
            "[]",
        ),
    )
    .await;
    check_problem(
        &json_csv,
        StatusCode::UNSUPPORTED_MEDIA_TYPE,
        "Unsupported media type",
        "text/csv",
    );
    let page = call(&app, "GET", "/v1/segments/1/members", None).await;
    check(&page, StatusCode::OK, json!({"total": 0}));
}

#[tokio::test]
async fn unknown_ids_answer_404() {
    let Fixture { app, _dir, .. } = fixture().await;
    let ids = Some(json!({"client_ids": [1]}));
    for (method, uri, body) in [
        ("GET", "/v1/segments/42", None),
        ("PATCH", "/v1/segments/42", Some(json!({"name": "X"}))),
        ("DELETE", "/v1/segments/42", None),
        ("POST", "/v1/segments/42/refresh", None),
        ("GET", "/v1/segments/42/members", None),
        ("POST", "/v1/segments/42/members", ids.clone()),
        ("DELETE", "/v1/segments/42/members", ids),
        ("GET", "/v1/segments/42/members.csv", None),
        ("GET", "/v1/segments/42/history", None),
    ] {
        let answer = call(&app, method, uri, body).await;
        check_problem(
            &answer,
            StatusCode::NOT_FOUND,
            "Not found",
            "segment 42 does not exist",
        );
    }
    let client = call(&app, "GET", "/v1/clients/42", None).await;
    check_problem(&client, StatusCode::NOT_FOUND, "Not found", "42");
    let table = call(&app, "POST", "/v1/facts/customers", Some(json!([]))).await;
    check_problem(
        &table,
        StatusCode::NOT_FOUND,
        "Not found",
        "no fact table \"customers\"",
    );
    let route = call(&app, "GET", "/v1/nothing", None).await;
    check_problem(
        &route,
        StatusCode::NOT_FOUND,
        "Not found",
        "no route for GET /v1/nothing",
    );
    let method = call(&app, "PUT", "/v1/segments", None).await;
    check_problem(
        &method,
        StatusCode::METHOD_NOT_ALLOWED,
        "Method not allowed",
        "PUT is not allowed on /v1/segments",
    );
}

#[tokio::test]
async fn an_oversized_body_answers_413() {
    let config = ApiConfig {
        body_limit_bytes: 1_000,
        ..ApiConfig::default()
    };
    let Fixture { app, _dir, .. } = fixture_with(config).await;
    call(&app, "POST", "/v1/segments", Some(static_segment("Big"))).await;
    let ids = |n: i64| json!({ "client_ids": vec![1_i64; n as usize] });
    assert!(ids(400).to_string().len() < 1_000);
    let fits = call(&app, "POST", "/v1/segments/1/members", Some(ids(400))).await;
    check(&fits, StatusCode::OK, json!({"added": 1}));
    let huge = call(&app, "POST", "/v1/segments/1/members", Some(ids(600))).await;
    check_problem(
        &huge,
        StatusCode::PAYLOAD_TOO_LARGE,
        "Request body too large",
        "the request body is over this server's limit of 1000 bytes \
         (`segments serve --body-limit-mb` sets it)",
    );
    let csv = format!("client_id\n{}", "2\n".repeat(600));
    let import = send(
        &app,
        raw(
            "POST",
            "/v1/segments/1/members/import",
            Some("text/csv"),
            &csv,
        ),
    )
    .await;
    check_problem(
        &import,
        StatusCode::PAYLOAD_TOO_LARGE,
        "Request body too large",
        "the request body is over this server's limit of 1000 bytes \
         (`segments serve --body-limit-mb` sets it)",
    );
    let page = call(&app, "GET", "/v1/segments/1/members", None).await;
    check(&page, StatusCode::OK, json!({"total": 1}));
}

#[tokio::test]
async fn tokens_guard_the_api_and_metrics_but_not_health() {
    let config = ApiConfig {
        tokens: Tokens::new(["s3cret"]),
        ..ApiConfig::default()
    };
    let Fixture { app, _dir, .. } = fixture_with(config).await;
    let with = |token: &str, uri: &str| {
        Request::get(uri)
            .header(header::AUTHORIZATION, format!("Bearer {token}"))
            .body(Body::empty())
            .unwrap()
    };

    let missing = call(&app, "GET", "/v1/segments", None).await;
    check_problem(
        &missing,
        StatusCode::UNAUTHORIZED,
        "Unauthorized",
        "a bearer token is required",
    );
    assert_eq!(missing.headers[header::WWW_AUTHENTICATE], "Bearer");
    let wrong = send(&app, with("s3cre", "/v1/segments")).await;
    check_problem(
        &wrong,
        StatusCode::UNAUTHORIZED,
        "Unauthorized",
        "not valid",
    );
    let unknown_route = call(&app, "GET", "/v1/nothing", None).await;
    assert_eq!(unknown_route.status, StatusCode::UNAUTHORIZED);
    let metrics = call(&app, "GET", "/metrics", None).await;
    assert_eq!(metrics.status, StatusCode::UNAUTHORIZED);
    let create = call(&app, "POST", "/v1/segments", Some(static_segment("Sneaky"))).await;
    assert_eq!(create.status, StatusCode::UNAUTHORIZED);

    let right = send(&app, with("s3cret", "/v1/segments")).await;
    assert_eq!((right.status, right.body), (StatusCode::OK, json!([])));
    let scheme_case = Request::get("/v1/segments")
        .header(header::AUTHORIZATION, "bearer s3cret")
        .body(Body::empty())
        .unwrap();
    assert_eq!(send(&app, scheme_case).await.status, StatusCode::OK);
    let health = call(&app, "GET", "/healthz", None).await;
    check(&health, StatusCode::OK, json!({"status": "ok"}));
}

#[tokio::test]
async fn metrics_count_requests_by_route_and_show_segment_sizes() {
    let Fixture { app, _dir, .. } = fixture().await;
    let dynamic = json!({"name": "US", "kind": "dynamic", "rule": us_rule()});
    call(&app, "POST", "/v1/segments", Some(dynamic)).await;
    call(&app, "GET", "/v1/segments/1", None).await;
    call(&app, "GET", "/v1/segments/7", None).await;
    call(&app, "POST", "/v1/refresh", None).await;

    let answer = call(&app, "GET", "/metrics", None).await;
    assert_eq!(answer.status, StatusCode::OK);
    assert!(answer.content_type.starts_with("text/plain; version=0.0.4"));
    let text = answer.body.as_str().unwrap();
    for line in [
        "segments_http_requests_total{method=\"POST\",route=\"/v1/segments\",status=\"201\"} 1",
        "segments_http_requests_total{method=\"GET\",route=\"/v1/segments/{id}\",status=\"200\"} 1",
        "segments_http_requests_total{method=\"GET\",route=\"/v1/segments/{id}\",status=\"404\"} 1",
        "segments_http_request_duration_seconds_count{method=\"POST\",route=\"/v1/refresh\"} 1",
        "segments_refresh_duration_seconds_count{scope=\"all\"} 1",
        "segments_segment_members{segment_id=\"1\"} 1",
        "segments_clients_live 3",
    ] {
        assert!(
            text.lines().any(|l| l == line),
            "no line {line:?} in:\n{text}"
        );
    }
}

#[tokio::test]
async fn refresh_and_history_follow_the_rule() {
    let Fixture { app, _dir, .. } = fixture().await;
    let dynamic = json!({"name": "US", "kind": "dynamic", "rule": us_rule()});
    call(&app, "POST", "/v1/segments", Some(dynamic)).await;
    let refreshed = call(&app, "POST", "/v1/segments/1/refresh", None).await;
    check(
        &refreshed,
        StatusCode::OK,
        json!({"id": 1, "member_count": 1}),
    );
    let all = call(&app, "POST", "/v1/refresh", None).await;
    check(
        &all,
        StatusCode::OK,
        json!({"refreshed": [1], "failed": []}),
    );

    let history = call(&app, "GET", "/v1/segments/1/history", None).await;
    assert_eq!(history.status, StatusCode::OK);
    let entries = history.body.as_array().unwrap();
    assert_eq!(entries[0]["entered"], 1);
    let at = entries[0]["at"].as_str().unwrap();
    let uri = format!("/v1/segments/1/history/{at}");
    let changes = call(&app, "GET", &uri, None).await;
    check(
        &changes,
        StatusCode::OK,
        json!({"entered": [1], "left": []}),
    );
    let later = call(
        &app,
        "GET",
        "/v1/segments/1/history?since=2999-01-01T00:00:00Z",
        None,
    )
    .await;
    assert_eq!((later.status, later.body), (StatusCode::OK, json!([])));
}

#[tokio::test]
async fn openapi_documents_routes_that_exist() {
    let Fixture { app, _dir, .. } = fixture().await;
    let served = call(&app, "GET", "/v1/openapi.json", None).await;
    assert_eq!(served.status, StatusCode::OK);
    assert_eq!(served.body["openapi"], "3.1.0");

    let documented = openapi::operations();
    assert_eq!(documented.len(), 50, "{documented:?}");
    for (method, path) in documented {
        let uri = path
            .replace("{id}", "1")
            .replace("{at}", "2024-01-01T00:00:00Z")
            .replace("{table}", "orders");
        let answer = call(&app, &method, &uri, None).await;
        let title = answer.body["title"].as_str().unwrap_or("");
        assert_ne!(
            answer.status,
            StatusCode::METHOD_NOT_ALLOWED,
            "{method} {path}"
        );
        assert!(
            !(answer.status == StatusCode::NOT_FOUND
                && title == "Not found"
                && answer.body["detail"]
                    .as_str()
                    .unwrap()
                    .starts_with("no route")),
            "{method} {path}"
        );
    }
}

#[tokio::test]
async fn every_operation_refuses_an_unknown_query_parameter() {
    let Fixture { app, _dir, .. } = fixture().await;
    let api = openapi::operations().into_iter();
    for (method, path) in api.filter(|(_, path)| path.starts_with("/v1/")) {
        let uri = path
            .replace("{id}", "1")
            .replace("{at}", "2024-01-01T00:00:00Z")
            .replace("{table}", "orders");
        let answer = call(&app, &method, &format!("{uri}?zz=1"), None).await;
        assert_eq!(answer.status, StatusCode::BAD_REQUEST, "{method} {path}");
        assert_eq!(
            answer.body["title"], "Invalid query string",
            "{method} {path}"
        );
    }
    let listed = call(&app, "GET", "/v1/dashboard/widgets?limit=5&", None).await;
    check_problem(
        &listed,
        StatusCode::BAD_REQUEST,
        "Invalid query string",
        "GET /v1/dashboard/widgets takes no query parameters; got `limit`",
    );
    let empty = call(&app, "GET", "/v1/segments?", None).await;
    assert_eq!(empty.status, StatusCode::OK, "{:#}", empty.body);
    for probe in ["/healthz?probe=1", "/metrics?name[]=x"] {
        let answer = call(&app, "GET", probe, None).await;
        assert_eq!(answer.status, StatusCode::OK, "{probe}");
    }
}

#[tokio::test]
async fn an_operation_without_a_body_refuses_one() {
    let Fixture { app, _dir, .. } = fixture().await;
    let created = call(&app, "POST", "/v1/segments", Some(static_segment("Kept"))).await;
    check(&created, StatusCode::CREATED, json!({"id": 1}));
    let expected = [
        ("GET", "/v1/segments"),
        ("DELETE", "/v1/segments/{id}"),
        ("POST", "/v1/segments/{id}/refresh"),
        ("POST", "/v1/refresh"),
        ("POST", "/v1/facts/reload"),
        ("POST", "/v1/price-updates/{id}/revert"),
        ("DELETE", "/v1/dashboard/widgets/{id}"),
    ];
    for (method, path) in expected {
        let uri = path.replace("{id}", "1");
        let body = r#"{"as_of": "2020-01-01T00:00:00Z"}"#;
        let answer = send(&app, raw(method, &uri, Some("application/json"), body)).await;
        check_problem(
            &answer,
            StatusCode::BAD_REQUEST,
            "Unexpected request body",
            &format!("{method} {path} takes no request body; got 33 bytes"),
        );
    }
    // Nothing was deleted: segment 1 is still there.
    let read = call(&app, "GET", "/v1/segments/1", None).await;
    assert_eq!(read.status, StatusCode::OK, "{:#}", read.body);
    let refresh = send(&app, raw("POST", "/v1/refresh", None, "")).await;
    assert_eq!(refresh.status, StatusCode::OK, "{:#}", refresh.body);
}

async fn boom() -> &'static str {
    panic!("secret internals")
}

#[tokio::test]
async fn a_slow_handler_times_out_and_a_panic_answers_500() {
    let Fixture { state, _dir, .. } = fixture().await;
    let config = ApiConfig {
        request_timeout: Duration::from_millis(50),
        ..ApiConfig::default()
    };
    let state = AppState::new(
        Arc::clone(&state.service),
        Arc::clone(&state.metrics),
        config,
    );
    let slow = || async {
        tokio::time::sleep(Duration::from_secs(5)).await;
        "late"
    };
    let routes = Router::new()
        .route("/v1/slow", get(slow))
        .route("/v1/panic", get(boom));
    let app = guard(routes, state);

    let timed_out = call(&app, "GET", "/v1/slow", None).await;
    check_problem(
        &timed_out,
        StatusCode::SERVICE_UNAVAILABLE,
        "Request timed out",
        "longer than the limit",
    );
    let panicked = call(&app, "GET", "/v1/panic", None).await;
    check_problem(
        &panicked,
        StatusCode::INTERNAL_SERVER_ERROR,
        "Internal server error",
        "the cause is logged",
    );
    assert!(!panicked.body.to_string().contains("secret"));
}

#[tokio::test]
async fn a_client_shows_its_metrics_and_segments() {
    let Fixture { app, _dir, .. } = fixture().await;
    let dynamic = json!({"name": "US", "kind": "dynamic", "rule": us_rule()});
    call(&app, "POST", "/v1/segments", Some(dynamic)).await;

    let client = call(
        &app,
        "GET",
        "/v1/clients/1?as_of=2024-06-01T00:00:00Z",
        None,
    )
    .await;
    check(
        &client,
        StatusCode::OK,
        json!({"as_of": "2024-06-01T00:00:00Z"}),
    );
    assert_eq!(client.body["client"]["client_id"], 1);
    assert_eq!(client.body["metrics"]["total_revenue"], "150.00");
    assert_eq!(client.body["metrics"]["lifetime_orders"], 1);
    let segment = &client.body["segments"][0];
    assert_eq!(
        (
            &segment["segment_id"],
            &segment["member"],
            &segment["holds"]
        ),
        (&json!(1), &json!(true), &json!(true))
    );
    let bad = call(&app, "GET", "/v1/clients/1?as_of=soon", None).await;
    check_problem(
        &bad,
        StatusCode::BAD_REQUEST,
        "Invalid query string",
        "as_of",
    );
}

#[tokio::test]
async fn appended_rows_count_after_a_reload() {
    let Fixture { app, _dir, .. } = fixture().await;
    let row = json!({"order_id": 12, "client_id": 3, "ordered_at": "2024-05-03T10:00:00Z", "status": "completed", "total": "99.00"});
    let appended = call(&app, "POST", "/v1/facts/orders", Some(json!([row]))).await;
    check(
        &appended,
        StatusCode::OK,
        json!({"table": "orders", "rows": 1}),
    );
    let reloaded = call(&app, "POST", "/v1/facts/reload", None).await;
    check(
        &reloaded,
        StatusCode::OK,
        json!({"clients": 4, "live_clients": 3}),
    );
    let client = call(&app, "GET", "/v1/clients/3", None).await;
    assert_eq!(client.body["metrics"]["total_revenue"], "99.00");

    let bad = json!([{"order_id": 13, "client_id": 3, "ordered_at": "2024-05-03T10:00:00Z", "status": "completed", "total": "1.234"}]);
    let refused = call(&app, "POST", "/v1/facts/orders", Some(bad)).await;
    assert_eq!(
        refused.status,
        StatusCode::UNPROCESSABLE_ENTITY,
        "{:#}",
        refused.body
    );
    assert_eq!(refused.content_type, error::PROBLEM_JSON);
    assert!(
        refused.body["detail"]
            .as_str()
            .unwrap()
            .contains("rows[0].total"),
        "{:#}",
        refused.body
    );
    let not_array = call(
        &app,
        "POST",
        "/v1/facts/orders",
        Some(json!({"order_id": 13})),
    )
    .await;
    check_problem(
        &not_array,
        StatusCode::UNPROCESSABLE_ENTITY,
        "Invalid JSON body",
        "expected a sequence",
    );
}
