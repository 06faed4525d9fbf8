//! One client seen through its segments: profile, metrics, the segments it is in, and for
//! each dynamic segment which conditions held for it, with its values.

mod explain;
mod values;

use arrow::array::{Array, AsArray};
use arrow::datatypes::TimestampMicrosecondType;
use chrono::{DateTime, NaiveDate, Utc};
use serde::Serialize;
use serde_json::Value;

use crate::catalog::from_micros;
use crate::catalog::segments::{self, SegmentKind, SegmentRecord};
use crate::facts::schema::clients;
use crate::money::Cents;
use crate::snapshot::Snapshot;
use crate::time::from_date32;

use super::error::{Result, ServiceError};
use super::state::TenantState;
use super::{Service, now};

/// A client, its metrics and its segments.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ClientView {
    pub client: ClientProfile,
    pub metrics: ClientMetricsView,
    /// Every segment, by id: whether the client is a member, and for dynamic ones why.
    pub segments: Vec<ClientSegment>,
    /// The instant dynamic rules were checked at.
    pub as_of: DateTime<Utc>,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ClientProfile {
    pub client_id: i64,
    pub name: String,
    pub email: Option<String>,
    pub client_type: String,
    pub country: Option<String>,
    pub city: Option<String>,
    pub created_at: DateTime<Utc>,
    pub tags: Vec<String>,
    pub deleted_at: Option<DateTime<Utc>>,
    /// Custom fields in column order.
    pub custom: Vec<CustomFieldValue>,
}

/// One custom field of a client.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct CustomFieldValue {
    pub name: String,
    pub value: Value,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ClientMetricsView {
    pub total_revenue: Cents,
    pub lifetime_orders: i64,
    pub average_order_value: Option<Cents>,
    pub last_purchase_date: Option<NaiveDate>,
    pub outstanding_balance: Cents,
    /// 1 for the highest revenue among live clients; none for a deleted client.
    pub revenue_rank: Option<u64>,
}

/// The client and one segment.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ClientSegment {
    pub segment_id: i64,
    pub name: String,
    pub kind: SegmentKind,
    /// In the published membership.
    pub member: bool,
    /// Dynamic only: whether the rule holds for the client as of `as_of`.
    pub holds: Option<bool>,
    /// Dynamic only: every node of the rule, parents first.
    pub conditions: Vec<NodeCheck>,
    /// Dynamic only: why the rule could not be checked (it no longer fits the facts).
    pub error: Option<String>,
}

/// One node of a rule decided for one client.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct NodeCheck {
    pub path: String,
    /// The condition's field; none for a group.
    pub field: Option<String>,
    /// The condition's op, or the group's `all`, `any`, `none`.
    pub op: String,
    /// The condition's value as written.
    pub value: Option<Value>,
    pub held: bool,
    /// The client's value of the field, as the condition compares it.
    pub client_value: Option<Value>,
}

impl Service {
    /// The client `client_id` (live or deleted) with its segments; dynamic rules are checked
    /// as of `as_of` (now by default).
    ///
    /// # Errors
    /// [`ServiceError::NotFound`] for an id that is no client, or a catalog fault.
    pub fn client(&self, client_id: i64, as_of: Option<DateTime<Utc>>) -> Result<ClientView> {
        let state = self.state();
        let snapshot = &state.snapshot;
        let position = snapshot
            .index
            .position(client_id)
            .ok_or(ServiceError::NotFound {
                what: "client",
                id: client_id,
            })?;
        let as_of = as_of.unwrap_or_else(now);
        let records = self.catalog.with_conn(segments::list)?;
        let segments = records
            .iter()
            .map(|record| client_segment(&state, record, position, as_of))
            .collect();
        Ok(ClientView {
            client: profile(snapshot, position),
            metrics: metrics(snapshot, position),
            segments,
            as_of,
        })
    }
}

fn client_segment(
    state: &TenantState,
    record: &SegmentRecord,
    position: u32,
    as_of: DateTime<Utc>,
) -> ClientSegment {
    let member = state
        .membership(record.id)
        .is_some_and(|m| m.members.contains(position));
    let mut segment = ClientSegment {
        segment_id: record.id,
        name: record.name.clone(),
        kind: record.kind,
        member,
        holds: None,
        conditions: Vec::new(),
        error: None,
    };
    if let Some(rule) = &record.rule {
        match explain::explain(rule, &state.snapshot, position, as_of, state) {
            Ok((holds, conditions)) => {
                segment.holds = Some(holds);
                segment.conditions = conditions;
            }
            Err(error) => segment.error = Some(error.to_string()),
        }
    }
    segment
}

fn profile(snapshot: &Snapshot, position: u32) -> ClientProfile {
    let row = position as usize;
    let text = |column| match values::text(snapshot, column, row) {
        Value::String(s) => Some(s),
        _ => None,
    };
    let instant = |column| {
        let array = snapshot.clients.column_by_name(column).expect("canonical");
        let micros = array.as_primitive::<TimestampMicrosecondType>();
        micros.is_valid(row).then(|| from_micros(micros.value(row)))
    };
    let tags = match values::tags(snapshot, row) {
        Value::Array(tags) => tags
            .into_iter()
            .filter_map(|t| t.as_str().map(String::from))
            .collect(),
        _ => Vec::new(),
    };
    let custom = snapshot
        .facts
        .custom_fields
        .iter()
        .map(|field| CustomFieldValue {
            name: field.name.clone(),
            value: values::custom(snapshot, &field.name, row),
        });
    ClientProfile {
        client_id: snapshot.index.client_id(position),
        name: snapshot.client_name(position).to_string(),
        email: text(clients::EMAIL),
        client_type: text(clients::CLIENT_TYPE).unwrap_or_default(),
        country: values::country(snapshot, row).as_str().map(String::from),
        city: text(clients::CITY),
        created_at: instant(clients::CREATED_AT).unwrap_or(DateTime::<Utc>::MIN_UTC),
        tags,
        deleted_at: instant(clients::DELETED_AT),
        custom: custom.collect(),
    }
}

fn metrics(snapshot: &Snapshot, position: u32) -> ClientMetricsView {
    let row = position as usize;
    let metrics = &snapshot.metrics;
    let last = metrics.last_purchase_date();
    ClientMetricsView {
        total_revenue: Cents(metrics.total_revenue_cents().value(row)),
        lifetime_orders: metrics.lifetime_orders().value(row),
        average_order_value: values::average_order_value(snapshot, row),
        last_purchase_date: last.is_valid(row).then(|| from_date32(last.value(row))),
        outstanding_balance: Cents(metrics.outstanding_balance_cents().value(row)),
        revenue_rank: values::revenue_rank(snapshot, position),
    }
}
