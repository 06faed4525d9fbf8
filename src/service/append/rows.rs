//! Reading appended JSON rows into canonical rows. Every error names the row (its index in
//! the request, from 0) and the field: `rows[3].total: ...`.

use std::collections::HashSet;

use chrono::{DateTime, NaiveDate, NaiveDateTime};
use serde_json::{Map, Value};

use crate::facts::builder::{ClientRow, CustomValue, InvoiceRow, LineRow, OrderRow};
use crate::facts::schema::INVOICE_STATUSES;
use crate::facts::{CustomField, CustomKind, OrderStatus};
use crate::money::{Cents, MoneyError};
use crate::service::error::{Result, ServiceError};
use crate::time::check_request_instant;

const CLIENT_FIELDS: [&str; 10] = [
    "client_id",
    "name",
    "email",
    "client_type",
    "country",
    "city",
    "created_at",
    "tags",
    "deleted_at",
    "marketing_consent",
];
const ORDER_FIELDS: [&str; 6] = [
    "order_id",
    "client_id",
    "ordered_at",
    "status",
    "total",
    "refunded_amount",
];
const LINE_FIELDS: [&str; 4] = ["order_id", "product_id", "quantity", "line_total"];
const INVOICE_FIELDS: [&str; 7] = [
    "invoice_id",
    "client_id",
    "issued_at",
    "due_at",
    "total",
    "paid",
    "status",
];

/// One JSON row being read.
struct Fields<'a> {
    index: usize,
    object: &'a Map<String, Value>,
}

impl<'a> Fields<'a> {
    /// The row as an object whose keys are all in `known`.
    fn new(index: usize, row: &'a Value, known: &[&str]) -> Result<Fields<'a>> {
        let Value::Object(object) = row else {
            let message = format!("rows[{index}]: expected an object, found {}", kind(row));
            return Err(ServiceError::Invalid(message));
        };
        if let Some(key) = object.keys().find(|k| !known.contains(&k.as_str())) {
            return Err(ServiceError::Invalid(format!(
                "rows[{index}].{key}: unknown field; expected one of {}",
                known.join(", ")
            )));
        }
        Ok(Fields { index, object })
    }

    fn error(&self, field: &str, expected: &str) -> ServiceError {
        let found = self.object.get(field).map_or("nothing".into(), kind);
        ServiceError::Invalid(format!(
            "rows[{}].{field}: expected {expected}, found {found}",
            self.index
        ))
    }

    /// The value of `field`, `None` when absent or null.
    fn get(&self, field: &str) -> Option<&'a Value> {
        self.object.get(field).filter(|v| !v.is_null())
    }

    fn required<T>(&self, field: &str, expected: &str, value: Option<T>) -> Result<T> {
        value.ok_or_else(|| self.error(field, expected))
    }

    fn opt<T>(
        &self,
        field: &str,
        expected: &str,
        read: impl Fn(&Value) -> Option<T>,
    ) -> Result<Option<T>> {
        match self.get(field) {
            None => Ok(None),
            Some(value) => read(value)
                .map(Some)
                .ok_or_else(|| self.error(field, expected)),
        }
    }

    fn int(&self, field: &str) -> Result<i64> {
        let value = self.opt(field, "an integer", Value::as_i64)?;
        self.required(field, "an integer", value)
    }

    fn text(&self, field: &str) -> Result<String> {
        let value = self.opt_text(field)?;
        self.required(field, "a string", value)
    }

    fn opt_text(&self, field: &str) -> Result<Option<String>> {
        self.opt(field, "a string", |v| v.as_str().map(str::to_string))
    }

    fn instant(&self, field: &str) -> Result<i64> {
        let value = self.opt_instant(field)?;
        self.required(field, INSTANT, value)
    }

    /// An instant, within the span requests may name: an appended order dated 9999-12-31
    /// would be a purchase no `within_last` rule ever lets go of.
    fn opt_instant(&self, field: &str) -> Result<Option<i64>> {
        let micros = self.opt(field, INSTANT, |v| v.as_str().and_then(parse_instant))?;
        let in_span = |at| {
            DateTime::from_timestamp_micros(at).is_some_and(|at| check_request_instant(at).is_ok())
        };
        match micros {
            Some(at) if !in_span(at) => Err(self.error(field, INSTANT_IN_SPAN)),
            micros => Ok(micros),
        }
    }

    fn opt_date(&self, field: &str) -> Result<Option<NaiveDate>> {
        let parse = |v: &Value| NaiveDate::parse_from_str(v.as_str()?.trim(), "%Y-%m-%d").ok();
        self.opt(field, "a date \"YYYY-MM-DD\"", parse)
    }

    fn money(&self, field: &str) -> Result<i64> {
        let value = self.opt_money(field)?;
        self.required(field, MONEY, value)
    }

    fn opt_money(&self, field: &str) -> Result<Option<i64>> {
        match self.get(field).map(parse_money) {
            None => Ok(None),
            Some(Ok(cents)) => Ok(Some(cents.0)),
            Some(Err(MoneyError::Overflow(_))) => Err(self.error(field, MONEY_IN_RANGE)),
            Some(Err(_)) => Err(self.error(field, MONEY)),
        }
    }
}

const INSTANT: &str = "an RFC 3339 instant or a date \"YYYY-MM-DD\"";
const INSTANT_IN_SPAN: &str = "an instant from 1000-01-02T00:00:00Z to 9999-12-30T23:59:59Z";
const MONEY: &str = "a decimal amount with at most 2 decimal places";
const MONEY_IN_RANGE: &str = "an amount of at most 92233720368547758.07 either way";

fn kind(value: &Value) -> String {
    match value {
        Value::Null => "null".into(),
        Value::Bool(b) => format!("the boolean {b}"),
        Value::Number(n) => format!("the number {n}"),
        Value::String(s) => format!("the string {s:?}"),
        Value::Array(a) => format!("an array of {} items", a.len()),
        Value::Object(_) => "an object".into(),
    }
}

/// Microseconds of an RFC 3339 instant, a zone-less `YYYY-MM-DD HH:MM:SS` (UTC) or a date
/// (midnight UTC), as the loader reads CSV.
fn parse_instant(text: &str) -> Option<i64> {
    let text = text.trim();
    if let Ok(at) = DateTime::parse_from_rfc3339(text) {
        return Some(at.timestamp_micros());
    }
    for format in ["%Y-%m-%d %H:%M:%S%.f", "%Y-%m-%dT%H:%M:%S%.f"] {
        if let Ok(at) = NaiveDateTime::parse_from_str(text, format) {
            return Some(at.and_utc().timestamp_micros());
        }
    }
    let date = NaiveDate::parse_from_str(text, "%Y-%m-%d").ok()?;
    Some(date.and_hms_opt(0, 0, 0)?.and_utc().timestamp_micros())
}

fn parse_money(value: &Value) -> Result<Cents, MoneyError> {
    match value {
        Value::String(text) => Cents::parse(text),
        Value::Number(number) => Cents::from_json_number(number),
        other => Err(MoneyError::NotANumber(other.to_string())),
    }
}

/// Reads client rows; custom fields are read by the tenant's kinds.
///
/// # Errors
/// The first bad row and field.
pub(super) fn clients(rows: &[Value], custom: &[CustomField]) -> Result<Vec<ClientRow>> {
    let mut known: Vec<&str> = CLIENT_FIELDS.to_vec();
    known.extend(custom.iter().map(|c| c.name.as_str()));
    rows.iter()
        .enumerate()
        .map(|(i, row)| client(&Fields::new(i, row, &known)?, custom))
        .collect()
}

fn client(f: &Fields<'_>, custom: &[CustomField]) -> Result<ClientRow> {
    let tags = f.opt(
        "tags",
        "an array of strings or a string of tags split by ';'",
        tags,
    )?;
    let consent = f.opt("marketing_consent", "a boolean", Value::as_bool)?;
    Ok(ClientRow {
        client_id: f.int("client_id")?,
        name: f.text("name")?,
        email: f.opt_text("email")?,
        client_type: f.text("client_type")?,
        country: f.opt_text("country")?,
        city: f.opt_text("city")?,
        created_at: f.instant("created_at")?,
        tags,
        deleted_at: f.opt_instant("deleted_at")?,
        marketing_consent: consent,
        custom: custom_values(f, custom)?,
    })
}

fn tags(value: &Value) -> Option<Vec<String>> {
    match value {
        Value::Array(items) => items
            .iter()
            .map(|t| t.as_str().map(str::to_string))
            .collect(),
        Value::String(text) => {
            let pieces = text.split(';').map(str::trim).filter(|t| !t.is_empty());
            Some(pieces.map(str::to_string).collect())
        }
        _ => None,
    }
}

fn custom_values(f: &Fields<'_>, custom: &[CustomField]) -> Result<Vec<(String, CustomValue)>> {
    let mut values = Vec::new();
    for field in custom {
        let name = field.name.as_str();
        let value = match field.kind {
            CustomKind::Text => f.opt_text(name)?.map(CustomValue::Text),
            CustomKind::Integer => f
                .opt(name, "an integer", Value::as_i64)?
                .map(CustomValue::Integer),
            CustomKind::Float => f
                .opt(name, "a number", Value::as_f64)?
                .map(CustomValue::Float),
            CustomKind::Money => f.opt_money(name)?.map(CustomValue::Money),
            CustomKind::Boolean => f
                .opt(name, "a boolean", Value::as_bool)?
                .map(CustomValue::Boolean),
            CustomKind::Date => f.opt_date(name)?.map(CustomValue::Date),
            CustomKind::Timestamp => f.opt_instant(name)?.map(CustomValue::Timestamp),
        };
        values.extend(value.map(|v| (field.name.clone(), v)));
    }
    Ok(values)
}

/// Reads order rows.
///
/// # Errors
/// The first bad row and field.
pub(super) fn orders(rows: &[Value]) -> Result<Vec<OrderRow>> {
    let statuses: Vec<&str> = OrderStatus::ALL.iter().map(|s| s.as_str()).collect();
    let expected = format!("one of {}", statuses.join(", "));
    let read = |(i, row): (usize, &Value)| {
        let f = Fields::new(i, row, &ORDER_FIELDS)?;
        let status = f.opt("status", &expected, |v| OrderStatus::parse(v.as_str()?))?;
        Ok(OrderRow {
            order_id: f.int("order_id")?,
            client_id: f.opt(
                "client_id",
                "an integer or null (a guest sale)",
                Value::as_i64,
            )?,
            ordered_at: f.instant("ordered_at")?,
            status: f.required("status", &expected, status)?,
            total_cents: f.money("total")?,
            refunded_cents: f.opt_money("refunded_amount")?.unwrap_or(0),
        })
    };
    rows.iter().enumerate().map(read).collect()
}

/// Reads order line rows.
///
/// # Errors
/// The first bad row and field.
pub(super) fn order_lines(rows: &[Value]) -> Result<Vec<LineRow>> {
    let read = |(i, row): (usize, &Value)| {
        let f = Fields::new(i, row, &LINE_FIELDS)?;
        Ok(LineRow {
            order_id: f.int("order_id")?,
            product_id: f.int("product_id")?,
            quantity: f.int("quantity")?,
            line_total_cents: f.money("line_total")?,
        })
    };
    rows.iter().enumerate().map(read).collect()
}

/// Reads invoice rows.
///
/// # Errors
/// The first bad row and field.
pub(super) fn invoices(rows: &[Value]) -> Result<Vec<InvoiceRow>> {
    let expected = format!("one of {}", INVOICE_STATUSES.join(", "));
    let known: HashSet<&str> = INVOICE_STATUSES.into_iter().collect();
    let read = |(i, row): (usize, &Value)| {
        let f = Fields::new(i, row, &INVOICE_FIELDS)?;
        let status = f.opt("status", &expected, |v| {
            let folded = v.as_str()?.trim().to_lowercase();
            known.contains(folded.as_str()).then_some(folded)
        })?;
        Ok(InvoiceRow {
            invoice_id: f.int("invoice_id")?,
            client_id: f.int("client_id")?,
            issued_at: f.instant("issued_at")?,
            due_at: f.opt_date("due_at")?,
            total_cents: f.money("total")?,
            paid_cents: f.money("paid")?,
            status: f.required("status", &expected, status)?,
        })
    };
    rows.iter().enumerate().map(read).collect()
}
