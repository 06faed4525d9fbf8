//! A client's values as JSON, as rules see them: profile text as stored (countries
//! upper-case), local dates, money as decimal strings.

use arrow::array::{Array, AsArray};
use arrow::datatypes::{Date32Type, Float64Type, Int64Type, TimestampMicrosecondType};
use chrono::NaiveDate;
use serde_json::{Value, json};

use crate::facts::CustomKind;
use crate::facts::schema::clients;
use crate::metrics::columns;
use crate::money::{Cents, div_round_half_away};
use crate::rules::{DateField, NumberField, Test, TextField};
use crate::snapshot::Snapshot;
use crate::time::from_date32;

/// The value a condition's test reads for the client at `position`; `member_of` answers
/// for `segment` conditions.
pub(super) fn of_test(
    test: &Test,
    snapshot: &Snapshot,
    position: u32,
    member_of: &dyn Fn(i64) -> bool,
) -> Value {
    let row = position as usize;
    match test {
        Test::Text { field, .. } => match field {
            TextField::ClientType => text(snapshot, clients::CLIENT_TYPE, row),
            TextField::Country => country(snapshot, row),
            TextField::City => text(snapshot, clients::CITY, row),
            TextField::Custom(name) => custom(snapshot, name, row),
        },
        Test::Date { field, .. } => match field {
            DateField::CreatedAt => metric_date(snapshot, columns::CREATED_DATE, row),
            DateField::LastPurchase => metric_date(snapshot, columns::LAST_PURCHASE_DATE, row),
            DateField::Custom(name) => metric_date(snapshot, &columns::custom(name), row),
        },
        Test::Number { field, .. } => number(snapshot, field, row),
        Test::Flag { field, .. } => custom(snapshot, field, row),
        Test::Tag(_) => tags(snapshot, row),
        Test::Product(_) => Value::Null,
        Test::Segment(id) => Value::Bool(member_of(*id)),
        Test::RevenueTop(_) => json!(revenue_rank(snapshot, position)),
    }
}

/// Text of a clients column, or null.
pub(super) fn text(snapshot: &Snapshot, column: &str, row: usize) -> Value {
    let array = snapshot.client_text(column);
    if array.is_valid(row) {
        Value::String(array.value(row).to_string())
    } else {
        Value::Null
    }
}

/// The country, trimmed and upper-case, as country codes are shown.
pub(super) fn country(snapshot: &Snapshot, row: usize) -> Value {
    match text(snapshot, clients::COUNTRY, row) {
        Value::String(s) => Value::String(s.trim().to_uppercase()),
        other => other,
    }
}

/// The client's tags as stored, or an empty list.
pub(super) fn tags(snapshot: &Snapshot, row: usize) -> Value {
    let column = snapshot
        .clients
        .column_by_name(clients::TAGS)
        .expect("canonical");
    let lists = column.as_list::<i32>();
    if !lists.is_valid(row) {
        return json!([]);
    }
    let values = lists.value(row);
    let strings = values.as_string::<i32>();
    let tags: Vec<&str> = strings.iter().flatten().collect();
    json!(tags)
}

/// A custom field's value by its kind.
pub(super) fn custom(snapshot: &Snapshot, name: &str, row: usize) -> Value {
    let kind = snapshot.facts.custom_fields.iter().find(|f| f.name == name);
    let (Some(field), Some(array)) = (kind, snapshot.clients.column_by_name(name)) else {
        return Value::Null;
    };
    if !array.is_valid(row) {
        return Value::Null;
    }
    match field.kind {
        CustomKind::Text => json!(array.as_string::<i32>().value(row)),
        CustomKind::Integer => json!(array.as_primitive::<Int64Type>().value(row)),
        CustomKind::Money => json!(Cents(array.as_primitive::<Int64Type>().value(row))),
        CustomKind::Float => json!(array.as_primitive::<Float64Type>().value(row)),
        CustomKind::Boolean => json!(array.as_boolean().value(row)),
        CustomKind::Date => date(from_date32(array.as_primitive::<Date32Type>().value(row))),
        CustomKind::Timestamp => {
            let micros = array.as_primitive::<TimestampMicrosecondType>().value(row);
            json!(crate::catalog::from_micros(micros))
        }
    }
}

/// A local date of the metrics table, or null.
fn metric_date(snapshot: &Snapshot, column: &str, row: usize) -> Value {
    let Some(array) = snapshot.metrics.batch.column_by_name(column) else {
        return Value::Null;
    };
    let dates = array.as_primitive::<Date32Type>();
    if dates.is_valid(row) {
        date(from_date32(dates.value(row)))
    } else {
        Value::Null
    }
}

fn date(date: NaiveDate) -> Value {
    Value::String(date.format("%Y-%m-%d").to_string())
}

fn number(snapshot: &Snapshot, field: &NumberField, row: usize) -> Value {
    let metrics = &snapshot.metrics;
    match field {
        NumberField::TotalRevenue => json!(Cents(metrics.total_revenue_cents().value(row))),
        NumberField::OutstandingBalance => {
            json!(Cents(metrics.outstanding_balance_cents().value(row)))
        }
        NumberField::LifetimeOrders => json!(metrics.lifetime_orders().value(row)),
        NumberField::AverageOrderValue => json!(average_order_value(snapshot, row)),
        NumberField::Custom(name) => custom(snapshot, name, row),
    }
}

/// Revenue over completed orders, rounded half away from zero; none without orders.
pub(super) fn average_order_value(snapshot: &Snapshot, row: usize) -> Option<Cents> {
    let orders = snapshot.metrics.lifetime_orders().value(row);
    let revenue = snapshot.metrics.total_revenue_cents().value(row);
    (orders > 0).then(|| Cents(div_round_half_away(i128::from(revenue), i128::from(orders)) as i64))
}

/// 1 for the live client with the highest revenue (ties to the lower id); none for a
/// deleted client.
pub(super) fn revenue_rank(snapshot: &Snapshot, position: u32) -> Option<u64> {
    if !snapshot.universe.contains(position) {
        return None;
    }
    let revenue = snapshot.metrics.total_revenue_cents().values();
    let mine = revenue[position as usize];
    let ahead = snapshot.universe.iter().filter(|p| {
        let theirs = revenue[*p as usize];
        theirs > mine || (theirs == mine && *p < position)
    });
    Some(ahead.count() as u64 + 1)
}
