//! `/v1/reports/*` and `/v1/dashboard*`: sales and balance reports filtered by segments, as
//! JSON or CSV (`format=csv`), and the dashboard's widgets with their values.
//!
//! Every report takes `segments=1,2` (clients in any of them) and `exclude=3`; without
//! either, it counts every sale, guest sales included. Dates are the tenant's local dates.

use std::sync::Arc;

use axum::extract::State;
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::{Json as JsonOut, Router};
use chrono::{DateTime, NaiveDate, Utc};
use roaring::RoaringBitmap;
use serde::{Deserialize, Serialize};

use super::extract::{Json, Path, Query, count};
use super::{ApiError, AppState, blocking};
use crate::reports::store::NewWidget;
use crate::reports::{
    self, DateRange, Granularity, ProductRanking, ReportError, ReportFacts, SegmentFilter, TOP_MAX,
    ToCsv, Widget,
};
use crate::time::{deserialize_request_date, deserialize_request_instant};

/// Rows a ranking report returns when `top` is not given.
const TOP_DEFAULT: usize = 10;

pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/v1/reports/sales", get(sales))
        .route("/v1/reports/sales/by-product", get(by_product))
        .route("/v1/reports/sales/by-client", get(by_client))
        .route("/v1/reports/sales/by-country", get(by_country))
        .route("/v1/reports/balances", get(balances))
        .route("/v1/dashboard", get(dashboard))
        .route(
            "/v1/dashboard/widgets",
            get(list_widgets).post(create_widget),
        )
        .route(
            "/v1/dashboard/widgets/{id}",
            get(read_widget).delete(delete_widget),
        )
}

/// How a report is answered.
#[derive(Debug, Clone, Copy, Default, Deserialize)]
#[serde(rename_all = "lowercase")]
enum Format {
    #[default]
    Json,
    Csv,
}

fn answer<R: Serialize + ToCsv>(report: &R, format: Format) -> Response {
    match format {
        Format::Json => JsonOut(report).into_response(),
        Format::Csv => {
            let content_type = [(header::CONTENT_TYPE, "text/csv; charset=utf-8")];
            (content_type, report.to_csv()).into_response()
        }
    }
}

/// The report views of one published state and the positions of the clients a report
/// counts (`None`: all sales). Views and memberships always come from the same state.
struct Scope {
    facts: Arc<ReportFacts>,
    members: Option<RoaringBitmap>,
}

/// Resolves `segments` and `exclude` against the published memberships, and the views of
/// the same snapshot.
async fn scope(
    state: &AppState,
    segments: Option<&str>,
    exclude: Option<&str>,
) -> Result<Scope, ApiError> {
    let filter = SegmentFilter {
        include: segment_ids("segments", segments)?,
        exclude: segment_ids("exclude", exclude)?,
    };
    let tenant = state.service.state();
    let facts = Arc::clone(&tenant.reports);
    let lookup = |id| tenant.membership(id).map(|m| &m.members);
    let members = reports::resolve(&filter, &tenant.snapshot.universe, lookup).map_err(refused)?;
    Ok(Scope { facts, members })
}

/// `1,2` as segment ids; empty or absent is none.
fn segment_ids(parameter: &str, list: Option<&str>) -> Result<Vec<i64>, ApiError> {
    let list = list.unwrap_or("").trim();
    if list.is_empty() {
        return Ok(Vec::new());
    }
    let parse = |item: &str| {
        let item = item.trim();
        item.parse::<i64>().map_err(|_| {
            let what = if item.is_empty() {
                "an empty item".to_string()
            } else {
                format!("{item:?}, which is not a segment id")
            };
            ApiError::BadRequest(format!("{parameter}: {list:?} holds {what}"))
        })
    };
    list.split(',').map(parse).collect()
}

/// A report refused for its request is a 400 naming the value; anything else is ours.
fn refused(error: ReportError) -> ApiError {
    match error {
        ReportError::Internal(_) => ApiError::Internal(error.to_string()),
        expected => ApiError::BadRequest(expected.to_string()),
    }
}

fn range(from: NaiveDate, to: NaiveDate) -> Result<DateRange, ApiError> {
    DateRange::new(from, to).map_err(refused)
}

/// `?from=&to=&granularity=&segments=&exclude=&format=` of the sales report.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct SalesQuery {
    #[serde(deserialize_with = "deserialize_request_date")]
    from: NaiveDate,
    #[serde(deserialize_with = "deserialize_request_date")]
    to: NaiveDate,
    /// `day`, `week` (ISO) or `month` (the default).
    granularity: Option<Granularity>,
    segments: Option<String>,
    exclude: Option<String>,
    #[serde(default)]
    format: Format,
}

/// `GET /v1/reports/sales`: revenue, orders, average order value and buying clients per
/// period.
async fn sales(
    State(state): State<AppState>,
    Query(query): Query<SalesQuery>,
) -> Result<Response, ApiError> {
    let range = range(query.from, query.to)?;
    let scope = scope(&state, query.segments.as_deref(), query.exclude.as_deref()).await?;
    let granularity = query.granularity.unwrap_or(Granularity::Month);
    let members = scope.members.as_ref();
    let report = reports::sales_over_time(&scope.facts, range, granularity, members).await;
    Ok(answer(&report.map_err(refused)?, query.format))
}

/// `?from=&to=&top=&by=&segments=&exclude=&format=` of the product ranking.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct ProductQuery {
    #[serde(deserialize_with = "deserialize_request_date")]
    from: NaiveDate,
    #[serde(deserialize_with = "deserialize_request_date")]
    to: NaiveDate,
    #[serde(default, deserialize_with = "count::<_, { TOP_MAX }>")]
    top: Option<usize>,
    /// `revenue` (the default) or `quantity`.
    by: Option<ProductRanking>,
    segments: Option<String>,
    exclude: Option<String>,
    #[serde(default)]
    format: Format,
}

/// `GET /v1/reports/sales/by-product`: the top products.
async fn by_product(
    State(state): State<AppState>,
    Query(query): Query<ProductQuery>,
) -> Result<Response, ApiError> {
    let range = range(query.from, query.to)?;
    let scope = scope(&state, query.segments.as_deref(), query.exclude.as_deref()).await?;
    let ranking = query.by.unwrap_or(ProductRanking::Revenue);
    let top = query.top.unwrap_or(TOP_DEFAULT);
    let members = scope.members.as_ref();
    let report = reports::sales_by_product(&scope.facts, range, ranking, top, members).await;
    Ok(answer(&report.map_err(refused)?, query.format))
}

/// `?from=&to=&top=&segments=&exclude=&format=` of the client ranking.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct ClientQuery {
    #[serde(deserialize_with = "deserialize_request_date")]
    from: NaiveDate,
    #[serde(deserialize_with = "deserialize_request_date")]
    to: NaiveDate,
    #[serde(default, deserialize_with = "count::<_, { TOP_MAX }>")]
    top: Option<usize>,
    segments: Option<String>,
    exclude: Option<String>,
    #[serde(default)]
    format: Format,
}

/// `GET /v1/reports/sales/by-client`: the top clients and the total of every sale.
async fn by_client(
    State(state): State<AppState>,
    Query(query): Query<ClientQuery>,
) -> Result<Response, ApiError> {
    let range = range(query.from, query.to)?;
    let scope = scope(&state, query.segments.as_deref(), query.exclude.as_deref()).await?;
    let top = query.top.unwrap_or(TOP_DEFAULT);
    let members = scope.members.as_ref();
    let report = reports::sales_by_client(&scope.facts, range, top, members).await;
    Ok(answer(&report.map_err(refused)?, query.format))
}

/// `?from=&to=&segments=&exclude=&format=` of the country breakdown.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct CountryQuery {
    #[serde(deserialize_with = "deserialize_request_date")]
    from: NaiveDate,
    #[serde(deserialize_with = "deserialize_request_date")]
    to: NaiveDate,
    segments: Option<String>,
    exclude: Option<String>,
    #[serde(default)]
    format: Format,
}

/// `GET /v1/reports/sales/by-country`.
async fn by_country(
    State(state): State<AppState>,
    Query(query): Query<CountryQuery>,
) -> Result<Response, ApiError> {
    let range = range(query.from, query.to)?;
    let scope = scope(&state, query.segments.as_deref(), query.exclude.as_deref()).await?;
    let report = reports::sales_by_country(&scope.facts, range, scope.members.as_ref()).await;
    Ok(answer(&report.map_err(refused)?, query.format))
}

/// `?as_of=&top=&segments=&exclude=&format=` of the balance report.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct BalanceQuery {
    /// An RFC 3339 instant; now by default. Its local date is the ageing date.
    #[serde(default, deserialize_with = "deserialize_request_instant")]
    as_of: Option<DateTime<Utc>>,
    #[serde(default, deserialize_with = "count::<_, { TOP_MAX }>")]
    top: Option<usize>,
    segments: Option<String>,
    exclude: Option<String>,
    #[serde(default)]
    format: Format,
}

/// `GET /v1/reports/balances`: outstanding balances with ageing buckets.
async fn balances(
    State(state): State<AppState>,
    Query(query): Query<BalanceQuery>,
) -> Result<Response, ApiError> {
    let scope = scope(&state, query.segments.as_deref(), query.exclude.as_deref()).await?;
    let as_of = query.as_of.unwrap_or_else(Utc::now);
    let members = scope.members.as_ref();
    let report = reports::balances(&scope.facts, as_of, query.top, members).await;
    Ok(answer(&report.map_err(refused)?, query.format))
}

/// `?now=` of the dashboard.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct DashboardQuery {
    /// An RFC 3339 instant; now by default. Its local date is "today".
    #[serde(default, deserialize_with = "deserialize_request_instant")]
    now: Option<DateTime<Utc>>,
}

/// `GET /v1/dashboard`: every widget's value now and in the period before.
async fn dashboard(
    State(state): State<AppState>,
    Query(query): Query<DashboardQuery>,
) -> Result<Response, ApiError> {
    let now = query.now.unwrap_or_else(Utc::now);
    let answer = state.service.dashboard(now).await?;
    let content_type = [(header::CONTENT_TYPE, "application/json")];
    Ok((content_type, answer.json.clone()).into_response())
}

/// `GET /v1/dashboard/widgets`: every widget, in creation order.
async fn list_widgets(State(state): State<AppState>) -> Result<JsonOut<Vec<Widget>>, ApiError> {
    let widgets = blocking(&state, |service| service.widgets()).await?;
    Ok(JsonOut(widgets))
}

/// `GET /v1/dashboard/widgets/{id}`.
async fn read_widget(
    State(state): State<AppState>,
    Path(id): Path<i64>,
) -> Result<JsonOut<Widget>, ApiError> {
    let widget = blocking(&state, move |service| service.widget(id)).await?;
    Ok(JsonOut(widget))
}

/// `POST /v1/dashboard/widgets`: 201 with the widget and its `Location`. The segment must
/// exist (422 otherwise); deleting it later deletes the widget.
async fn create_widget(
    State(state): State<AppState>,
    Json(new): Json<NewWidget>,
) -> Result<Response, ApiError> {
    let widget = blocking(&state, move |service| service.create_widget(&new)).await?;
    let location = format!("/v1/dashboard/widgets/{}", widget.id);
    Ok(super::created(&location, widget))
}

/// `DELETE /v1/dashboard/widgets/{id}`: 204.
async fn delete_widget(
    State(state): State<AppState>,
    Path(id): Path<i64>,
) -> Result<StatusCode, ApiError> {
    blocking(&state, move |service| service.delete_widget(id)).await?;
    Ok(StatusCode::NO_CONTENT)
}

#[cfg(test)]
mod tests {
    //! The report and dashboard routes through the router with `oneshot`, on a tenant in
    //! Europe/Berlin. Clients 1 (US), 2 (DE), 3 (no country). Completed orders: o10 client
    //! 1 on 1 May 150.00 (product 1); o11 client 2 on 2 May 40.00; o12 a guest on 3 May
    //! 10.00; o13 client 1 at 2024-05-31T22:30Z, which is 1 June in Berlin, 20.00.
    //! Invoice 1: client 2, 50.00 due 1 May.

    use axum::body::Body;
    use axum::http::Request;
    use http_body_util::BodyExt;
    use serde_json::{Value, json};
    use tempfile::TempDir;
    use tower::ServiceExt;

    use super::*;
    use crate::api::{ApiConfig, Metrics, router};
    use crate::facts::builder::write_tenant;
    use crate::facts::builder::{
        ClientRow, FactsBuilder, InvoiceRow, OrderRow, ProductRow, micros,
    };
    use crate::facts::write::write_tenant_settings;
    use crate::service::{Service, ServiceOptions};

    fn tenant() -> TempDir {
        let client = |id: i64, country: Option<&str>| ClientRow {
            country: country.map(str::to_owned),
            ..ClientRow::new(id)
        };
        let product = ProductRow {
            product_id: 1,
            sku: "SKU-1".into(),
            name: "Widget".into(),
            retail_price_cents: 1_000,
            ..ProductRow::default()
        };
        let invoice = InvoiceRow {
            invoice_id: 1,
            client_id: 2,
            issued_at: micros("2024-04-01T10:00:00Z"),
            due_at: NaiveDate::from_ymd_opt(2024, 5, 1),
            total_cents: 5_000,
            paid_cents: 0,
            status: "open".into(),
        };
        let facts = FactsBuilder::new()
            .client(client(1, Some("US")))
            .client(client(2, Some("DE")))
            .client(client(3, None))
            .order(OrderRow::completed(10, 1, "2024-05-01T10:00:00Z", 15_000))
            .order(OrderRow::completed(11, 2, "2024-05-02T10:00:00Z", 4_000))
            .order(OrderRow {
                client_id: None,
                ..OrderRow::completed(12, 0, "2024-05-03T10:00:00Z", 1_000)
            })
            .order(OrderRow::completed(13, 1, "2024-05-31T22:30:00Z", 2_000))
            .line(10, 1, 1, 15_000)
            .invoice(invoice)
            .product(product)
            .build()
            .unwrap();
        let dir = tempfile::tempdir().unwrap();
        write_tenant(&facts, dir.path()).unwrap();
        write_tenant_settings(dir.path(), "Europe/Berlin").unwrap();
        dir
    }

    async fn app() -> (Router, TempDir) {
        let dir = tenant();
        let service = Service::open(ServiceOptions::new(dir.path()))
            .await
            .unwrap();
        let state = AppState::new(service, Arc::new(Metrics::new()), ApiConfig::default());
        (router(state), dir)
    }

    /// Status, content type and body (JSON when it parses, else text).
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
        let headers = response.headers().clone();
        let bytes = response.into_body().collect().await.unwrap().to_bytes();
        let text = String::from_utf8(bytes.to_vec()).unwrap();
        let body = serde_json::from_str(&text).unwrap_or(Value::String(text));
        let content_type = headers
            .get(header::CONTENT_TYPE)
            .map(|v| v.to_str().unwrap());
        Answer {
            status,
            content_type: content_type.unwrap_or_default().to_owned(),
            location: headers
                .get(header::LOCATION)
                .map(|v| v.to_str().unwrap().to_owned()),
            body,
        }
    }

    struct Answer {
        status: StatusCode,
        content_type: String,
        location: Option<String>,
        body: Value,
    }

    #[track_caller]
    fn check(answer: &Answer, status: StatusCode, body: Value) {
        assert_eq!(answer.status, status, "{:#}", answer.body);
        assert_eq!(answer.body, body);
    }

    #[track_caller]
    fn check_refused(answer: &Answer, status: StatusCode, detail: &str) {
        assert_eq!(answer.status, status, "{:#}", answer.body);
        assert_eq!(answer.body["detail"], detail, "{:#}", answer.body);
    }

    /// Creates a static segment holding `clients`; returns its id.
    async fn segment(app: &Router, name: &str, clients: &[i64]) -> i64 {
        let created = call(
            app,
            "POST",
            "/v1/segments",
            Some(json!({"name": name, "kind": "static"})),
        );
        let id = created.await.body["id"].as_i64().unwrap();
        let members = json!({ "client_ids": clients });
        let added = call(
            app,
            "POST",
            &format!("/v1/segments/{id}/members"),
            Some(members),
        )
        .await;
        assert_eq!(added.status, StatusCode::OK, "{:#}", added.body);
        id
    }

    /// The `total` of a sales report: `[revenue, orders, average, clients]`.
    fn total(answer: &Answer) -> Value {
        let t = &answer.body["total"];
        json!([
            t["revenue"],
            t["orders"],
            t["average_order_value"],
            t["clients"]
        ])
    }

    #[tokio::test]
    async fn sales_answer_json_and_csv_in_the_tenant_zone() {
        let (app, _dir) = app().await;
        let uri = "/v1/reports/sales?from=2024-05-01&to=2024-06-30";
        let json = call(&app, "GET", uri, None).await;
        assert_eq!(json.status, StatusCode::OK, "{:#}", json.body);
        // May: 150.00 + 40.00 + 10.00 (guest); o13 falls on 1 June in Berlin.
        assert_eq!(json.body["periods"][0]["revenue"], "200.00");
        assert_eq!(total(&json), json!(["220.00", 4, "55.00", 2]));

        let csv = call(
            &app,
            "GET",
            &format!("{uri}&granularity=month&format=csv"),
            None,
        )
        .await;
        assert_eq!(csv.content_type, "text/csv; charset=utf-8");
        assert_eq!(
            csv.body,
            "period,from,to,revenue,orders,average_order_value,clients\n\
             2024-05,2024-05-01,2024-05-31,200.00,3,66.67,2\n\
             2024-06,2024-06-01,2024-06-30,20.00,1,20.00,1\n\
             total,2024-05-01,2024-06-30,220.00,4,55.00,2\n"
        );
    }

    #[tokio::test]
    async fn segments_filter_every_report() {
        let (app, _dir) = app().await;
        let key = segment(&app, "Key", &[1]).await;
        let both = segment(&app, "Both", &[1, 2]).await;
        let sales = |query: String| {
            let app = app.clone();
            async move {
                let uri = format!("/v1/reports/sales?from=2024-05-01&to=2024-06-30&{query}");
                call(&app, "GET", &uri, None).await
            }
        };
        // Client 1 is in both segments and counts once: 150.00 + 20.00 + 40.00.
        let union = sales(format!("segments={key},{both}")).await;
        assert_eq!(total(&union), json!(["210.00", 3, "70.00", 2]));
        let excluded = sales(format!("segments={both}&exclude={key}")).await;
        assert_eq!(total(&excluded), json!(["40.00", 1, "40.00", 1]));

        let range = "from=2024-05-01&to=2024-06-30";
        let uri = format!("/v1/reports/sales/by-client?{range}&segments={both}&top=1");
        let clients = call(&app, "GET", &uri, None).await;
        assert_eq!(clients.body["clients"][0]["client_id"], 1);
        assert_eq!(clients.body["clients"].as_array().unwrap().len(), 1);
        let uri = format!("/v1/reports/sales/by-country?{range}&exclude={key}&format=csv");
        let countries = call(&app, "GET", &uri, None).await;
        assert_eq!(
            countries.body,
            "country,revenue,orders,average_order_value,clients\n\
             DE,40.00,1,40.00,1\n\
             total,40.00,1,40.00,1\n"
        );
        let uri = format!("/v1/reports/sales/by-product?{range}&segments={key}&by=quantity");
        let products = call(&app, "GET", &uri, None).await;
        assert_eq!(products.body["products"][0]["sku"], "SKU-1");
        let uri = format!("/v1/reports/balances?as_of=2024-06-01T12:00:00Z&segments={both}");
        let balances = call(&app, "GET", &uri, None).await;
        assert_eq!(
            balances.body["total"]["days_31_60"], "50.00",
            "{:#}",
            balances.body
        );
    }

    #[tokio::test]
    async fn bad_report_requests_name_the_value() {
        let (app, _dir) = app().await;
        let base = "/v1/reports/sales?from=2024-05-01&to=2024-06-30";
        let unknown = call(&app, "GET", &format!("{base}&segments=9"), None).await;
        let detail = "segment 9 in the report's include list does not exist";
        check_refused(&unknown, StatusCode::BAD_REQUEST, detail);
        let malformed = call(&app, "GET", &format!("{base}&exclude=1,x"), None).await;
        let detail = "exclude: \"1,x\" holds \"x\", which is not a segment id";
        check_refused(&malformed, StatusCode::BAD_REQUEST, detail);
        let gap = call(&app, "GET", &format!("{base}&segments=1,,2"), None).await;
        let detail = "segments: \"1,,2\" holds an empty item";
        check_refused(&gap, StatusCode::BAD_REQUEST, detail);
        let query = "Failed to deserialize query string";
        let no_day = "/v1/reports/sales?from=2024-02-30&to=2024-03-31";
        let detail = format!("{query}: from: \"2024-02-30\" is not a calendar day");
        check_refused(
            &call(&app, "GET", no_day, None).await,
            StatusCode::BAD_REQUEST,
            &detail,
        );
        let loose = "/v1/reports/sales?from=2024-01-01&to=2024-3-1";
        let detail = format!(
            "{query}: to: \"2024-3-1\" is not a date of the form YYYY-MM-DD, years 1000 to 9999"
        );
        check_refused(
            &call(&app, "GET", loose, None).await,
            StatusCode::BAD_REQUEST,
            &detail,
        );
        let bare = "/v1/reports/balances?as_of=2024-06-01";
        let detail = format!(
            "{query}: as_of: \"2024-06-01\" is not an RFC 3339 instant such as \
             2026-12-01T09:00:00Z; for the start of that day in UTC write 2024-06-01T00:00:00Z"
        );
        check_refused(
            &call(&app, "GET", bare, None).await,
            StatusCode::BAD_REQUEST,
            &detail,
        );
        let backwards = "/v1/reports/sales?from=2024-06-01&to=2024-05-01";
        let detail = "date range 2024-06-01..2024-05-01 is empty: `from` is after `to`";
        check_refused(
            &call(&app, "GET", backwards, None).await,
            StatusCode::BAD_REQUEST,
            detail,
        );
        let everything = "/v1/reports/sales?from=1000-01-01&to=9999-12-31&granularity=day";
        let detail = "date range 1000-01-01..9999-12-31 is longer than 36600 days";
        check_refused(
            &call(&app, "GET", everything, None).await,
            StatusCode::BAD_REQUEST,
            detail,
        );
        for top in ["0", "10001", "-1", "%2B5", "%205", "1.5", "ten"] {
            let uri = format!("/v1/reports/balances?top={top}");
            let detail = format!(
                "Failed to deserialize query string: top: {:?} is not a whole number from \
                 1 to 10000",
                top.replace("%2B", "+").replace("%20", " ")
            );
            let answer = call(&app, "GET", &uri, None).await;
            check_refused(&answer, StatusCode::BAD_REQUEST, &detail);
        }
        let typo = call(&app, "GET", &format!("{base}&segment=1"), None).await;
        assert_eq!(typo.status, StatusCode::BAD_REQUEST, "{:#}", typo.body);
    }

    #[tokio::test]
    async fn widgets_are_stored_valued_and_deleted() {
        let (app, _dir) = app().await;
        let key = segment(&app, "Key", &[1]).await;
        let body = json!({"title": " Key revenue ", "segment_id": key, "metric": "revenue",
                          "period": "last_30_days"});
        let created = call(&app, "POST", "/v1/dashboard/widgets", Some(body)).await;
        let widget = json!({"id": 1, "title": "Key revenue", "segment_id": key,
                            "metric": "revenue", "period": "last_30_days"});
        check(&created, StatusCode::CREATED, widget.clone());
        assert_eq!(created.location.as_deref(), Some("/v1/dashboard/widgets/1"));
        let orphan = json!({"title": "Gone", "segment_id": 99, "metric": "revenue",
                            "period": "year_to_date"});
        let orphan = call(&app, "POST", "/v1/dashboard/widgets", Some(orphan)).await;
        check_refused(
            &orphan,
            StatusCode::UNPROCESSABLE_ENTITY,
            "segment_id: segment 99 does not exist",
        );
        check(
            &call(&app, "GET", "/v1/dashboard/widgets", None).await,
            StatusCode::OK,
            json!([widget]),
        );

        // Today is 1 June in Berlin: 3 May..1 June holds o13 (20.00); 3 April..2 May o10.
        let dashboard = call(&app, "GET", "/v1/dashboard?now=2024-06-01T12:00:00Z", None).await;
        let value = &dashboard.body["widgets"][0];
        assert_eq!(
            json!([
                value["from"],
                value["to"],
                value["current"],
                value["previous"]
            ]),
            json!(["2024-05-03", "2024-06-01", "20.00", "150.00"]),
            "{:#}",
            dashboard.body
        );

        // Client 2 joins: the answer follows the new membership (o11, 2 May, 40.00).
        let joined = json!({ "client_ids": [2] });
        call(
            &app,
            "POST",
            &format!("/v1/segments/{key}/members"),
            Some(joined),
        )
        .await;
        let dashboard = call(&app, "GET", "/v1/dashboard?now=2024-06-01T13:00:00Z", None).await;
        assert_eq!(dashboard.body["widgets"][0]["previous"], "190.00");

        let deleted = call(&app, "DELETE", "/v1/dashboard/widgets/1", None).await;
        assert_eq!(deleted.status, StatusCode::NO_CONTENT);
        let dashboard = call(&app, "GET", "/v1/dashboard?now=2024-06-01T13:00:00Z", None).await;
        check(&dashboard, StatusCode::OK, json!({ "widgets": [] }));
        let again = call(&app, "DELETE", "/v1/dashboard/widgets/1", None).await;
        check_refused(&again, StatusCode::NOT_FOUND, "widget 1 does not exist");
    }

    #[tokio::test]
    async fn deleting_a_segment_deletes_its_widgets() {
        let (app, _dir) = app().await;
        let key = segment(&app, "Key", &[1]).await;
        let body = json!({"title": "Key orders", "segment_id": key, "metric": "order_count",
                          "period": "month_to_date"});
        call(&app, "POST", "/v1/dashboard/widgets", Some(body)).await;
        let deleted = call(&app, "DELETE", &format!("/v1/segments/{key}"), None).await;
        let removal = json!({"deleted": key, "removed_from_pricing": false,
                             "widgets_deleted": 1, "mailchimp_syncs_deleted": 0,
                             "price_updates_kept": []});
        assert_eq!((deleted.status, deleted.body), (StatusCode::OK, removal));
        check(
            &call(&app, "GET", "/v1/dashboard/widgets", None).await,
            StatusCode::OK,
            json!([]),
        );
    }

    #[tokio::test]
    async fn a_widget_is_read_from_an_object_only() {
        let (app, _dir) = app().await;
        for body in [
            json!(["Revenue", null, "revenue", "last_7_days"]),
            json!([]),
        ] {
            let refused = call(&app, "POST", "/v1/dashboard/widgets", Some(body)).await;
            assert_eq!(refused.body["title"], "Invalid JSON body");
            check_refused(
                &refused,
                StatusCode::UNPROCESSABLE_ENTITY,
                "Failed to deserialize the JSON body into the target type: invalid type: \
                 sequence, expected a JSON object at line 1 column 0",
            );
        }
        check(
            &call(&app, "GET", "/v1/dashboard/widgets", None).await,
            StatusCode::OK,
            json!([]),
        );
    }

    #[tokio::test]
    async fn a_period_of_the_wrong_type_is_an_invalid_body_not_malformed_json() {
        let (app, _dir) = app().await;
        let body = json!({"title": "T", "metric": "revenue", "period": 7});
        let refused = call(&app, "POST", "/v1/dashboard/widgets", Some(body)).await;
        assert_eq!(refused.status, StatusCode::UNPROCESSABLE_ENTITY);
        assert_eq!(refused.body["title"], "Invalid JSON body");
        let detail = refused.body["detail"].as_str().unwrap();
        assert!(
            detail.contains("period: invalid type: integer `7`, expected one of \"last_7_days\""),
            "{detail}"
        );
        check(
            &call(&app, "GET", "/v1/dashboard/widgets", None).await,
            StatusCode::OK,
            json!([]),
        );
    }
}
