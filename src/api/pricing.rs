//! `/v1/pricing/*`, `/v1/quotes`, `/v1/clients/{id}/pricing` and the price updates: tiers
//! decided by segment priority, quotes, and bulk price updates for a segment's members
//! (SEMANTICS.md, "Pricing").
//!
//! Tiers are computed per request from the published memberships over the effective order
//! of tiered segments (the stored priority list, then unlisted tiered segments by id). Money
//! goes in and out as decimal strings.

use axum::extract::State;
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json as JsonOut, Router};
use rusqlite::Connection;
use serde::{Deserialize, Serialize};
use serde_json::Value;

use super::extract::{Json, Path};
use super::{ApiError, AppState, blocking};
use crate::pricing::{
    self, BulkPreview, BulkSpec, ClientPricing, PriceList, PriceUpdate, PricingContext,
    PricingError, Quote, QuoteRequest, SegmentCount, Tier, TierAssignment, TierCounts,
    TierProposal, TieredSegment, WhatIf, bulk, store,
};
use crate::service::{Service, ServiceError, TenantState};

pub fn routes() -> Router<AppState> {
    Router::new()
        .route(
            "/v1/pricing/priority",
            get(read_priority).put(replace_priority),
        )
        .route("/v1/pricing/tiers", get(tiers))
        .route("/v1/pricing/what-if", post(what_if))
        .route("/v1/clients/{id}/pricing", get(client_pricing))
        .route("/v1/quotes", post(quote))
        .route("/v1/segments/{id}/price-updates", post(price_update))
        .route("/v1/price-updates", get(list_updates))
        .route("/v1/price-updates/{id}", get(read_update))
        .route("/v1/price-updates/{id}/revert", post(revert))
}

/// The stored priority list and the effective order it gives.
#[derive(Debug, Serialize)]
struct Priority {
    segment_ids: Vec<i64>,
    effective: Vec<TieredSegment>,
}

/// `PUT /v1/pricing/priority`'s body.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct PriorityBody {
    segment_ids: Vec<i64>,
}

/// How many clients each tier has, and how many each tiered segment decided, in order.
#[derive(Debug, Serialize)]
struct Tiers {
    counts: TierCounts,
    segments: Vec<SegmentCount>,
}

#[derive(Debug, Serialize)]
struct ClientPricingView {
    client_id: i64,
    #[serde(flatten)]
    pricing: ClientPricing,
}

/// The segments that exist and those that carry a tier.
struct Segments {
    known: Vec<i64>,
    tiered: Vec<(i64, Tier)>,
}

impl Segments {
    fn read(conn: &Connection) -> Result<Segments, ServiceError> {
        let records = crate::catalog::segments::list(conn)?;
        let mut known = Vec::with_capacity(records.len());
        let mut tiered = Vec::new();
        for record in records {
            known.push(record.id);
            if let Some(tier) = record.tier.as_deref() {
                let tier = tier.parse::<Tier>().map_err(|e| {
                    ServiceError::internal(format!("segment {}: stored tier: {e}", record.id))
                })?;
                tiered.push((record.id, tier));
            }
        }
        Ok(Segments { known, tiered })
    }

    /// The effective order under the stored priority list.
    fn order(&self, conn: &Connection) -> Result<Vec<TieredSegment>, ServiceError> {
        let priority = store::read_priority(conn).map_err(refused)?;
        Ok(pricing::effective_order(&priority, &self.tiered))
    }
}

/// Every live client's tier under `order`, from the published memberships.
fn assign(state: &TenantState, order: &[TieredSegment]) -> TierAssignment {
    TierAssignment::compute(
        order,
        |id| state.membership(id).map(|m| &m.members),
        &state.snapshot.universe,
    )
}

/// Maps a pricing refusal onto the service's errors: unknown updates 404, a second revert
/// or one under a later update 409, store faults 500, everything else the request's to fix
/// (422).
fn refused(error: PricingError) -> ServiceError {
    if error.is_internal() {
        return ServiceError::internal(error);
    }
    match error {
        PricingError::UnknownUpdate { update_id } => ServiceError::NotFound {
            what: "price update",
            id: update_id,
        },
        PricingError::AlreadyReverted { .. } | PricingError::LaterUpdateInForce { .. } => {
            ServiceError::Conflict(error.to_string())
        }
        other => ServiceError::Invalid(other.to_string()),
    }
}

/// Runs pricing reads on the catalog's reader.
fn read<T>(
    service: &Service,
    work: impl FnOnce(&Connection) -> Result<T, ServiceError>,
) -> Result<T, ServiceError> {
    service.catalog().with_conn(|conn| Ok(work(conn)))?
}

/// Runs pricing writes in one catalog transaction; the pricing store rolls its own
/// savepoint back when it refuses, so a refusal commits nothing.
fn write<T>(
    service: &Service,
    work: impl FnOnce(&Connection) -> Result<T, ServiceError>,
) -> Result<T, ServiceError> {
    service.catalog().with_tx(|tx| Ok(work(tx)))?
}

fn priority_of(conn: &Connection) -> Result<Priority, ServiceError> {
    let segments = Segments::read(conn)?;
    let segment_ids = store::read_priority(conn).map_err(refused)?;
    let effective = pricing::effective_order(&segment_ids, &segments.tiered);
    Ok(Priority {
        segment_ids,
        effective,
    })
}

/// `GET /v1/pricing/priority`: the stored list and the effective order.
async fn read_priority(State(state): State<AppState>) -> Result<JsonOut<Priority>, ApiError> {
    let priority = blocking(&state, |service| read(service, priority_of)).await?;
    Ok(JsonOut(priority))
}

/// `PUT /v1/pricing/priority`: replaces the list; unknown or repeated ids answer 422 naming
/// them, and nothing changes.
async fn replace_priority(
    State(state): State<AppState>,
    Json(body): Json<PriorityBody>,
) -> Result<JsonOut<Priority>, ApiError> {
    let priority = blocking(&state, move |service| {
        write(service, |conn| {
            let segments = Segments::read(conn)?;
            store::replace_priority(conn, &body.segment_ids, &segments.known).map_err(refused)?;
            priority_of(conn)
        })
    })
    .await?;
    Ok(JsonOut(priority))
}

/// `GET /v1/pricing/tiers`: clients per tier from the published memberships.
async fn tiers(State(state): State<AppState>) -> Result<JsonOut<Tiers>, ApiError> {
    let tiers = blocking(&state, |service| {
        let order = read(service, |conn| Segments::read(conn)?.order(conn))?;
        let assignment = assign(&service.state(), &order);
        Ok(Tiers {
            counts: assignment.counts(),
            segments: assignment.segment_counts(),
        })
    })
    .await?;
    Ok(JsonOut(tiers))
}

/// `GET /v1/clients/{id}/pricing`: the client's tier, the segment that decided it and the
/// tiered segments it is in that lost, in order. 404 for an unknown or deleted client.
async fn client_pricing(
    State(state): State<AppState>,
    Path(client_id): Path<i64>,
) -> Result<JsonOut<ClientPricingView>, ApiError> {
    let view = blocking(&state, move |service| {
        let order = read(service, |conn| Segments::read(conn)?.order(conn))?;
        let tenant = service.state();
        let position = tenant
            .snapshot
            .index
            .position(client_id)
            .filter(|p| tenant.snapshot.universe.contains(*p))
            .ok_or(ServiceError::NotFound {
                // A deleted client has a profile but no pricing.
                what: "live client",
                id: client_id,
            })?;
        let pricing = pricing::client_pricing(position, &order, |id| {
            tenant.membership(id).map(|m| &m.members)
        });
        Ok(ClientPricingView { client_id, pricing })
    })
    .await?;
    Ok(JsonOut(view))
}

/// `POST /v1/pricing/what-if`: the tier counts and the clients that would change tier under
/// a proposed priority list and/or segment tiers. Nothing is saved.
async fn what_if(
    State(state): State<AppState>,
    Json(proposal): Json<TierProposal>,
) -> Result<JsonOut<WhatIf>, ApiError> {
    let answer = blocking(&state, move |service| {
        let (current, proposed) = read(service, |conn| {
            let segments = Segments::read(conn)?;
            let priority = store::read_priority(conn).map_err(refused)?;
            let current = pricing::effective_order(&priority, &segments.tiered);
            let proposed = proposal
                .effective_order(&priority, &segments.tiered, &segments.known)
                .map_err(refused)?;
            Ok((current, proposed))
        })?;
        let tenant = service.state();
        Ok(pricing::what_if(
            &assign(&tenant, &current),
            &assign(&tenant, &proposed),
            &tenant.snapshot.index,
            pricing::what_if::CHANGED_SAMPLE_MAX,
        ))
    })
    .await?;
    Ok(JsonOut(answer))
}

/// `POST /v1/quotes`: unit prices with their source, line totals and the total for a
/// client. An unknown client or product answers 422 naming it.
async fn quote(
    State(state): State<AppState>,
    Json(request): Json<QuoteRequest>,
) -> Result<JsonOut<Quote>, ApiError> {
    let quote = blocking(&state, move |service| {
        let tenant = service.state();
        let prices = PriceList::from_batch(&tenant.snapshot.facts.products);
        read(service, |conn| {
            let order = Segments::read(conn)?.order(conn)?;
            let assignment = assign(&tenant, &order);
            let ctx = PricingContext::new(&tenant.snapshot, &prices, &assignment);
            pricing::quote::quote(conn, &ctx, &request, crate::service::now()).map_err(refused)
        })
    })
    .await?;
    Ok(JsonOut(quote))
}

/// What `POST /v1/segments/{id}/price-updates` answers.
#[derive(Debug, Serialize)]
#[serde(untagged)]
enum UpdateAnswer {
    DryRun(BulkPreview),
    Applied(PriceUpdate),
}

/// `POST /v1/segments/{id}/price-updates`: a bulk update spec (`products`, `change`,
/// `ends_at`) for the segment's current members. With `"dry_run": true` it answers the
/// counts and a sample; else it applies in one transaction and answers 201 with the update.
async fn price_update(
    State(state): State<AppState>,
    Path(segment_id): Path<i64>,
    Json(body): Json<Value>,
) -> Result<Response, ApiError> {
    let (spec, dry_run) = spec_of(body)?;
    let answer = blocking(&state, move |service| {
        let tenant = service.state();
        let prices = PriceList::from_batch(&tenant.snapshot.facts.products);
        let members = tenant
            .membership(segment_id)
            .map(|m| m.members.clone())
            .unwrap_or_default();
        let work = |conn: &Connection| {
            let segments = Segments::read(conn)?;
            if !segments.known.contains(&segment_id) {
                return Err(ServiceError::NotFound {
                    what: "segment",
                    id: segment_id,
                });
            }
            let assignment = assign(&tenant, &segments.order(conn)?);
            let ctx = PricingContext::new(&tenant.snapshot, &prices, &assignment);
            let now = crate::service::now();
            if dry_run {
                bulk::preview(
                    conn,
                    &ctx,
                    segment_id,
                    &members,
                    &spec,
                    now,
                    bulk::SAMPLE_MAX,
                )
                .map(UpdateAnswer::DryRun)
            } else {
                bulk::apply(conn, &ctx, segment_id, &members, &spec, now).map(UpdateAnswer::Applied)
            }
            .map_err(refused)
        };
        if dry_run {
            read(service, work)
        } else {
            write(service, work)
        }
    })
    .await?;
    Ok(match answer {
        UpdateAnswer::DryRun(_) => JsonOut(answer).into_response(),
        UpdateAnswer::Applied(ref update) => {
            super::created(&format!("/v1/price-updates/{}", update.update_id), &answer)
        }
    })
}

/// Takes `dry_run` out of a price update body and reads the rest as a [`BulkSpec`].
fn spec_of(mut body: Value) -> Result<(BulkSpec, bool), ApiError> {
    let dry_run = match body.as_object_mut().and_then(|o| o.remove("dry_run")) {
        None | Some(Value::Null) => false,
        Some(Value::Bool(flag)) => flag,
        Some(other) => {
            let detail = format!("$.dry_run: expected true or false, found {other}");
            return Err(ServiceError::Invalid(detail).into());
        }
    };
    let spec = BulkSpec::from_json(&body).map_err(refused)?;
    Ok((spec, dry_run))
}

/// `GET /v1/price-updates`: every applied update, oldest first.
async fn list_updates(
    State(state): State<AppState>,
) -> Result<JsonOut<Vec<PriceUpdate>>, ApiError> {
    let updates = blocking(&state, |service| {
        read(service, |conn| store::list_updates(conn).map_err(refused))
    })
    .await?;
    Ok(JsonOut(updates))
}

/// `GET /v1/price-updates/{id}`: one update, where an applied update's `Location` points.
async fn read_update(
    State(state): State<AppState>,
    Path(update_id): Path<i64>,
) -> Result<JsonOut<PriceUpdate>, ApiError> {
    let update = blocking(&state, move |service| {
        read(service, |conn| {
            store::get_update(conn, update_id).map_err(refused)
        })
    })
    .await?;
    Ok(JsonOut(update))
}

/// `POST /v1/price-updates/{id}/revert`: removes the update's overrides, restoring the
/// prices before it. 404 for an unknown update, 409 for one already reverted or while a
/// later update still overrides some of its prices.
async fn revert(
    State(state): State<AppState>,
    Path(update_id): Path<i64>,
) -> Result<JsonOut<PriceUpdate>, ApiError> {
    let update = blocking(&state, move |service| {
        write(service, |conn| {
            store::revert_update(conn, update_id, crate::service::now()).map_err(refused)
        })
    })
    .await?;
    Ok(JsonOut(update))
}

#[cfg(test)]
mod tests {
    //! The pricing routes through the router with `oneshot`. Clients 1 to 4. Products: 1
    //! `SKU-1` retail 10.00, wholesale 8.50, no VIP price; 2 `SKU-2` retail 20.00, VIP 15.99,
    //! no wholesale price. Static segments: 1 "Trade" (wholesale) holds clients 1 and 2;
    //! 2 "Gold" (VIP) holds 2 and 3; 3 "Plain" has no tier.

    use std::sync::Arc;

    use axum::body::Body;
    use axum::http::Request;
    use http_body_util::BodyExt;
    use serde_json::json;
    use tempfile::TempDir;
    use tower::ServiceExt;

    use super::*;
    use crate::api::{ApiConfig, Metrics, router};
    use crate::facts::builder::write_tenant;
    use crate::facts::builder::{ClientRow, FactsBuilder, ProductRow};
    use crate::facts::write::write_tenant_settings;
    use crate::service::ServiceOptions;
    use axum::http::{StatusCode, header};

    fn tenant() -> TempDir {
        let facts = FactsBuilder::new()
            .client(ClientRow::new(1))
            .client(ClientRow::new(2))
            .client(ClientRow::new(3))
            .client(ClientRow::new(4))
            .product(ProductRow {
                product_id: 1,
                sku: "SKU-1".into(),
                name: "Widget".into(),
                retail_price_cents: 1_000,
                wholesale_price_cents: Some(850),
                ..ProductRow::default()
            })
            .product(ProductRow {
                product_id: 2,
                sku: "SKU-2".into(),
                name: "Gadget".into(),
                retail_price_cents: 2_000,
                vip_price_cents: Some(1_599),
                ..ProductRow::default()
            })
            .build()
            .unwrap();
        let dir = tempfile::tempdir().unwrap();
        write_tenant(&facts, dir.path()).unwrap();
        write_tenant_settings(dir.path(), "UTC").unwrap();
        dir
    }

    async fn app() -> (Router, TempDir) {
        let dir = tenant();
        let service = Service::open(ServiceOptions::new(dir.path()))
            .await
            .unwrap();
        let state = AppState::new(service, Arc::new(Metrics::new()), ApiConfig::default());
        let app = router(state);
        let segments = [
            json!({"name": "Trade", "kind": "static", "tier": "wholesale"}),
            json!({"name": "Gold", "kind": "static", "tier": "vip"}),
            json!({"name": "Plain", "kind": "static"}),
        ];
        for segment in segments {
            let created = call(&app, "POST", "/v1/segments", Some(segment)).await;
            assert_eq!(created.0, StatusCode::CREATED, "{}", created.1);
        }
        for (segment, ids) in [(1, [1, 2]), (2, [2, 3])] {
            let uri = format!("/v1/segments/{segment}/members");
            let added = call(&app, "POST", &uri, Some(json!({"client_ids": ids}))).await;
            assert_eq!(added.0, StatusCode::OK, "{}", added.1);
        }
        (app, dir)
    }

    async fn call(
        app: &Router,
        method: &str,
        uri: &str,
        body: Option<Value>,
    ) -> (StatusCode, Value) {
        let builder = Request::builder().method(method).uri(uri);
        let request = match body {
            Some(json) => builder
                .header(header::CONTENT_TYPE, "application/json")
                .body(Body::from(json.to_string())),
            None => builder.body(Body::empty()),
        };
        let response = app.clone().oneshot(request.unwrap()).await.unwrap();
        let status = response.status();
        let bytes = response.into_body().collect().await.unwrap().to_bytes();
        let body = serde_json::from_slice(&bytes).unwrap_or(Value::Null);
        (status, body)
    }

    #[track_caller]
    fn refused_naming(answer: &(StatusCode, Value), status: StatusCode, named: &str) {
        assert_eq!(answer.0, status, "{}", answer.1);
        let detail = answer.1["detail"].as_str().unwrap();
        assert!(detail.contains(named), "{detail:?} does not name {named:?}");
    }

    async fn quote(app: &Router, client_id: i64, lines: Value) -> (StatusCode, Value) {
        let body = json!({"client_id": client_id, "lines": lines});
        call(app, "POST", "/v1/quotes", Some(body)).await
    }

    #[tokio::test]
    async fn priority_is_replaced_and_unknown_or_repeated_ids_are_refused() {
        let (app, _dir) = app().await;
        let (status, body) = call(&app, "GET", "/v1/pricing/priority", None).await;
        assert_eq!(status, StatusCode::OK);
        let by_creation = json!({"segment_ids": [], "effective": [
            {"segment_id": 1, "tier": "wholesale"}, {"segment_id": 2, "tier": "vip"}]});
        assert_eq!(body, by_creation);

        let put = json!({"segment_ids": [2, 3, 1]});
        let (status, body) = call(&app, "PUT", "/v1/pricing/priority", Some(put)).await;
        assert_eq!(status, StatusCode::OK, "{body}");
        let replaced = json!({"segment_ids": [2, 3, 1], "effective": [
            {"segment_id": 2, "tier": "vip"}, {"segment_id": 1, "tier": "wholesale"}]});
        assert_eq!(body, replaced);

        let unknown = json!({"segment_ids": [2, 99, 98]});
        let answer = call(&app, "PUT", "/v1/pricing/priority", Some(unknown)).await;
        refused_naming(&answer, StatusCode::UNPROCESSABLE_ENTITY, "99, 98");
        let repeated = json!({"segment_ids": [1, 2, 1]});
        let answer = call(&app, "PUT", "/v1/pricing/priority", Some(repeated)).await;
        refused_naming(&answer, StatusCode::UNPROCESSABLE_ENTITY, "segment 1 named");
        let extra = json!({"segment_ids": [1], "ids": [2]});
        let answer = call(&app, "PUT", "/v1/pricing/priority", Some(extra)).await;
        assert!(answer.0.is_client_error(), "{}", answer.1);

        let (_, body) = call(&app, "GET", "/v1/pricing/priority", None).await;
        assert_eq!(body, replaced, "a refused list changes nothing");
    }

    #[tokio::test]
    async fn tiers_count_clients_under_the_effective_order() {
        let (app, _dir) = app().await;
        let (status, body) = call(&app, "GET", "/v1/pricing/tiers", None).await;
        assert_eq!(status, StatusCode::OK);
        assert_eq!(
            body,
            json!({
                "counts": {"retail": 1, "wholesale": 2, "vip": 1, "staff": 0},
                "segments": [
                    {"segment_id": 1, "tier": "wholesale", "decided": 2},
                    {"segment_id": 2, "tier": "vip", "decided": 1},
                ],
            })
        );
        let put = json!({"segment_ids": [2]});
        call(&app, "PUT", "/v1/pricing/priority", Some(put)).await;
        let (_, body) = call(&app, "GET", "/v1/pricing/tiers", None).await;
        let counts = json!({"retail": 1, "wholesale": 1, "vip": 2, "staff": 0});
        assert_eq!(body["counts"], counts);
    }

    #[tokio::test]
    async fn a_clients_pricing_names_the_deciding_and_losing_segments() {
        let (app, _dir) = app().await;
        let (status, body) = call(&app, "GET", "/v1/clients/2/pricing", None).await;
        assert_eq!(status, StatusCode::OK);
        assert_eq!(
            body,
            json!({
                "client_id": 2,
                "tier": "wholesale",
                "deciding_segment": {"segment_id": 1, "tier": "wholesale"},
                "lost": [{"segment_id": 2, "tier": "vip"}],
            })
        );
        let (_, body) = call(&app, "GET", "/v1/clients/4/pricing", None).await;
        let retail =
            json!({"client_id": 4, "tier": "retail", "deciding_segment": null, "lost": []});
        assert_eq!(body, retail);
        let answer = call(&app, "GET", "/v1/clients/99/pricing", None).await;
        refused_naming(
            &answer,
            StatusCode::NOT_FOUND,
            "live client 99 does not exist",
        );
    }

    #[tokio::test]
    async fn what_if_compares_without_saving() {
        let (app, _dir) = app().await;
        // Tier names are read as a segment's are: trimmed, any case.
        let proposal = json!({"priority": [2], "tiers": [{"segment_id": 3, "tier": " Staff "}]});
        let (status, body) = call(&app, "POST", "/v1/pricing/what-if", Some(proposal)).await;
        assert_eq!(status, StatusCode::OK, "{body}");
        assert_eq!(
            body,
            json!({
                "counts_before": {"retail": 1, "wholesale": 2, "vip": 1, "staff": 0},
                "counts_after": {"retail": 1, "wholesale": 1, "vip": 2, "staff": 0},
                "changed_total": 1,
                "changed": [{"client_id": 2, "from": "wholesale", "to": "vip"}],
            })
        );
        let unknown = json!({"tiers": [{"segment_id": 42, "tier": "vip"}]});
        let answer = call(&app, "POST", "/v1/pricing/what-if", Some(unknown)).await;
        refused_naming(&answer, StatusCode::UNPROCESSABLE_ENTITY, "42");
        let unknown_tier = json!({"tiers": [{"segment_id": 3, "tier": "gold"}]});
        let answer = call(&app, "POST", "/v1/pricing/what-if", Some(unknown_tier)).await;
        refused_naming(
            &answer,
            StatusCode::UNPROCESSABLE_ENTITY,
            "tiers[0].tier: \"gold\" is not a tier; expected one of retail, wholesale, vip, staff",
        );
        let forgotten = json!({"tiers": [{"segment_id": 3}]});
        let answer = call(&app, "POST", "/v1/pricing/what-if", Some(forgotten)).await;
        refused_naming(
            &answer,
            StatusCode::UNPROCESSABLE_ENTITY,
            "tiers[0]: missing field `tier`",
        );
        let twice = json!({"tiers": [{"segment_id": 3, "tier": "vip"},
                                     {"segment_id": 3, "tier": "staff"}]});
        let answer = call(&app, "POST", "/v1/pricing/what-if", Some(twice)).await;
        refused_naming(
            &answer,
            StatusCode::UNPROCESSABLE_ENTITY,
            "segment 3 named more than once in `tiers`",
        );
        let (_, body) = call(&app, "GET", "/v1/pricing/priority", None).await;
        assert_eq!(body["segment_ids"], json!([]), "nothing saved");
        let (_, body) = call(&app, "GET", "/v1/clients/2/pricing", None).await;
        assert_eq!(body["tier"], "wholesale");
    }

    #[tokio::test]
    async fn quotes_price_lines_to_the_cent() {
        let (app, _dir) = app().await;
        // Client 1 is wholesale: SKU-1 at its tier price, SKU-2 falls back to retail.
        let lines = json!([{"sku": "sku-1", "quantity": 3}, {"product_id": 2, "quantity": 2}]);
        let (status, body) = quote(&app, 1, lines).await;
        assert_eq!(status, StatusCode::OK, "{body}");
        assert_eq!(body["tier"], "wholesale");
        assert_eq!(body["lines"][0]["unit_price"], "8.50");
        assert_eq!(body["lines"][0]["source"], "tier");
        assert_eq!(body["lines"][0]["line_total"], "25.50");
        assert_eq!(body["lines"][1]["unit_price"], "20.00");
        assert_eq!(body["lines"][1]["source"], "retail_fallback");
        assert_eq!(body["lines"][1]["line_total"], "40.00");
        assert_eq!(body["total"], "65.50");

        // Client 3 is VIP; client 4 retail.
        let (_, body) = quote(&app, 3, json!([{"sku": "SKU-2", "quantity": 3}])).await;
        assert_eq!(
            (&body["lines"][0]["source"], &body["total"]),
            (&json!("tier"), &json!("47.97"))
        );
        let (_, body) = quote(&app, 4, json!([{"product_id": 1, "quantity": 1}])).await;
        assert_eq!(body["lines"][0]["source"], "retail");
        assert_eq!(body["total"], "10.00");

        let answer = quote(&app, 99, json!([{"product_id": 1, "quantity": 1}])).await;
        refused_naming(
            &answer,
            StatusCode::UNPROCESSABLE_ENTITY,
            "client with id 99",
        );
        let answer = quote(&app, 1, json!([{"sku": "NOPE", "quantity": 1}])).await;
        refused_naming(&answer, StatusCode::UNPROCESSABLE_ENTITY, "NOPE");
        let answer = quote(&app, 1, json!([{"product_id": 77, "quantity": 1}])).await;
        refused_naming(&answer, StatusCode::UNPROCESSABLE_ENTITY, "id 77");
    }

    #[tokio::test]
    async fn a_bulk_update_is_previewed_applied_quoted_and_reverted() {
        let (app, _dir) = app().await;
        let uri = "/v1/segments/1/price-updates";
        let spec = json!({"products": {"skus": ["SKU-1"]}, "change": {"percent": "-10"}});
        let mut dry = spec.clone();
        dry["dry_run"] = json!(true);
        let (status, body) = call(&app, "POST", uri, Some(dry)).await;
        assert_eq!(status, StatusCode::OK, "{body}");
        assert_eq!(body["clients"], 2);
        assert_eq!(body["products"], 1);
        assert_eq!(body["overrides"], 2);
        // Client 1 wholesale 8.50 -> 7.65; client 2 wholesale too.
        assert_eq!(body["sample"][0]["client_id"], 1);
        assert_eq!(body["sample"][0]["old_price"], "8.50");
        assert_eq!(body["sample"][0]["new_price"], "7.65");
        let (_, list) = call(&app, "GET", "/v1/price-updates", None).await;
        assert_eq!(list, json!([]), "a dry run saves nothing");

        let (status, update) = call(&app, "POST", uri, Some(spec)).await;
        assert_eq!(status, StatusCode::CREATED, "{update}");
        let update_id = update["update_id"].as_i64().unwrap();
        assert_eq!(update["member_count"], 2);
        assert_eq!(update["reverted_at"], Value::Null);

        let line = json!([{"sku": "SKU-1", "quantity": 3}]);
        let (_, body) = quote(&app, 1, line.clone()).await;
        assert_eq!(body["lines"][0]["unit_price"], "7.65");
        assert_eq!(body["lines"][0]["source"], "override");
        assert_eq!(body["lines"][0]["update_id"], update_id);
        assert_eq!(body["total"], "22.95");

        let (_, list) = call(&app, "GET", "/v1/price-updates", None).await;
        assert_eq!(list.as_array().unwrap().len(), 1);
        let one = format!("/v1/price-updates/{update_id}");
        let (status, read_back) = call(&app, "GET", &one, None).await;
        assert_eq!(status, StatusCode::OK, "{read_back}");
        assert_eq!(read_back, update);

        let revert = format!("/v1/price-updates/{update_id}/revert");
        let (status, body) = call(&app, "POST", &revert, None).await;
        assert_eq!(status, StatusCode::OK, "{body}");
        assert!(body["reverted_at"].is_string());
        let reverted_at = body["reverted_at"].as_str().unwrap().to_string();
        let (_, body) = quote(&app, 1, line).await;
        assert_eq!(body["lines"][0]["unit_price"], "8.50");
        assert_eq!(body["lines"][0]["source"], "tier");
        assert_eq!(body["total"], "25.50");

        let (_, read_back) = call(&app, "GET", &one, None).await;
        assert_eq!(read_back["reverted_at"], reverted_at);
        let again = call(&app, "POST", &revert, None).await;
        refused_naming(
            &again,
            StatusCode::CONFLICT,
            &format!("already reverted at {reverted_at}"),
        );
        let unknown = call(&app, "GET", "/v1/price-updates/99", None).await;
        refused_naming(&unknown, StatusCode::NOT_FOUND, "price update 99");
        let unknown = call(&app, "POST", "/v1/price-updates/99/revert", None).await;
        refused_naming(&unknown, StatusCode::NOT_FOUND, "price update 99");
        let no_segment = json!({"products": {"ids": [1]}, "change": {"set": "1.00"}});
        let answer = call(
            &app,
            "POST",
            "/v1/segments/9/price-updates",
            Some(no_segment),
        )
        .await;
        refused_naming(&answer, StatusCode::NOT_FOUND, "segment 9");
        let bad = json!({"products": {"ids": [5]}, "change": {"set": "1.00"}, "dry_run": true});
        let answer = call(&app, "POST", uri, Some(bad)).await;
        refused_naming(&answer, StatusCode::UNPROCESSABLE_ENTITY, "id 5");
    }

    #[tokio::test]
    async fn deleting_a_segment_names_its_updates_whose_prices_stay() {
        let (app, _dir) = app().await;
        let uri = "/v1/segments/1/price-updates";
        let spec = json!({"products": {"skus": ["SKU-1"]}, "change": {"set": "5.00"}});
        let (status, update) = call(&app, "POST", uri, Some(spec)).await;
        assert_eq!(status, StatusCode::CREATED, "{update}");
        let ended = json!({"products": {"skus": ["SKU-1"]}, "change": {"set": "4.00"}});
        let (status, reverted) = call(&app, "POST", uri, Some(ended)).await;
        assert_eq!(status, StatusCode::CREATED, "{reverted}");
        let revert = format!("/v1/price-updates/{}/revert", reverted["update_id"]);
        assert_eq!(call(&app, "POST", &revert, None).await.0, StatusCode::OK);

        let (status, removal) = call(&app, "DELETE", "/v1/segments/1", None).await;

        assert_eq!(status, StatusCode::OK, "{removal}");
        assert_eq!(removal["price_updates_kept"], json!([update["update_id"]]));
        let (_, body) = quote(&app, 1, json!([{"sku": "SKU-1", "quantity": 1}])).await;
        assert_eq!(body["lines"][0]["unit_price"], "5.00");
        assert_eq!(body["lines"][0]["source"], "override");
    }

    #[tokio::test]
    async fn a_revert_under_a_later_update_is_refused_until_that_one_is_reverted() {
        let (app, _dir) = app().await;
        let line = json!([{"sku": "SKU-1", "quantity": 1}]);
        let unit_price = |body: &Value| {
            let line = &body["lines"][0];
            (line["unit_price"].clone(), line["source"].clone())
        };
        let prices = async || {
            let mut found = Vec::new();
            for client in [1, 2, 3] {
                found.push(unit_price(&quote(&app, client, line.clone()).await.1));
            }
            found
        };
        let before = prices().await;
        assert_eq!(
            before,
            [
                (json!("8.50"), json!("tier")),
                (json!("8.50"), json!("tier")),
                (json!("10.00"), json!("retail_fallback")),
            ]
        );

        // Segment 1 (clients 1, 2) +1000 %: 8.50 -> 93.50. Then segment 2 (clients 2, 3)
        // -10 %: client 2 93.50 -> 84.15, client 3 10.00 -> 9.00.
        let rise = json!({"products": {"skus": ["SKU-1"]}, "change": {"percent": "1000"}});
        let cut = json!({"products": {"skus": ["SKU-1"]}, "change": {"percent": "-10"}});
        let (status, body) = call(&app, "POST", "/v1/segments/1/price-updates", Some(rise)).await;
        assert_eq!(status, StatusCode::CREATED, "{body}");
        let (status, body) = call(&app, "POST", "/v1/segments/2/price-updates", Some(cut)).await;
        assert_eq!(status, StatusCode::CREATED, "{body}");
        let stacked = [
            (json!("93.50"), json!("override")),
            (json!("84.15"), json!("override")),
            (json!("9.00"), json!("override")),
        ];
        assert_eq!(prices().await, stacked);

        let (status, body) = call(&app, "POST", "/v1/price-updates/1/revert", None).await;
        assert_eq!(status, StatusCode::CONFLICT, "{body}");
        assert_eq!(
            body["detail"],
            "price update 1 cannot be reverted while later updates 2 override the same \
             prices; revert them first"
        );
        assert_eq!(prices().await, stacked, "a refused revert changes no price");
        let (_, list) = call(&app, "GET", "/v1/price-updates", None).await;
        let reverted: Vec<_> = list
            .as_array()
            .unwrap()
            .iter()
            .map(|u| &u["reverted_at"])
            .collect();
        assert_eq!(reverted, [&Value::Null, &Value::Null]);

        // Newest first: back to 93.50 for client 2, then to the prices from before.
        let (status, _) = call(&app, "POST", "/v1/price-updates/2/revert", None).await;
        assert_eq!(status, StatusCode::OK);
        let (_, body) = quote(&app, 2, line.clone()).await;
        assert_eq!(unit_price(&body), (json!("93.50"), json!("override")));
        let (status, _) = call(&app, "POST", "/v1/price-updates/1/revert", None).await;
        assert_eq!(status, StatusCode::OK);
        assert_eq!(prices().await, before);
    }

    #[tokio::test]
    async fn a_percent_change_outside_minus_100_to_plus_1000_is_refused() {
        let (app, _dir) = app().await;
        let uri = "/v1/segments/1/price-updates";
        for dry_run in [true, false] {
            let spec = json!({"products": {"skus": ["SKU-1"]},
                "change": {"percent": "99999999999999"}, "dry_run": dry_run});
            let (status, body) = call(&app, "POST", uri, Some(spec)).await;
            assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{body}");
            assert_eq!(
                body["detail"],
                "$.change.percent: percent 99999999999999.00 is outside -100 to +1000"
            );
        }
        let (_, list) = call(&app, "GET", "/v1/price-updates", None).await;
        assert_eq!(list, json!([]));

        // The bounds themselves are accepted: -100 % takes 8.50 to 0.
        let free = json!({"products": {"skus": ["SKU-1"]}, "change": {"percent": -100},
            "dry_run": true});
        let (status, body) = call(&app, "POST", uri, Some(free)).await;
        assert_eq!(status, StatusCode::OK, "{body}");
        assert_eq!(body["sample"][0]["new_price"], "0.00");
    }

    #[tokio::test]
    async fn a_percent_change_rounds_the_change_to_cents() {
        let (app, _dir) = app().await;
        let uri = "/v1/segments/1/price-updates";
        let set = json!({"products": {"skus": ["SKU-1"]}, "change": {"set": "7.95"}});
        call(&app, "POST", uri, Some(set)).await;
        // 7.95 * -10 % = -0.795 -> -0.80: 7.15, not 7.155 -> 7.16.
        let cut = json!({"products": {"skus": ["SKU-1"]}, "change": {"percent": "-10"},
            "dry_run": true});
        let (_, body) = call(&app, "POST", uri, Some(cut)).await;
        assert_eq!(body["sample"][0]["old_price"], "7.95");
        assert_eq!(body["sample"][0]["new_price"], "7.15");
    }
}
