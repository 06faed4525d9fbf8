//! Canonical fact tables built from plain rows: for tests, examples and JSON appends.

use std::sync::Arc;

use arrow::array::{
    ArrayRef, BooleanBuilder, Date32Builder, Float64Builder, Int64Builder, ListBuilder,
    StringBuilder, TimestampMicrosecondBuilder,
};
use arrow::error::ArrowError;
use arrow::record_batch::RecordBatch;
use chrono::{DateTime, NaiveDate};

use super::schema::{self, CustomField, CustomKind, OrderStatus};
use super::{Facts, LoadReport};
use crate::time::to_date32;

/// One client, with the contract's columns and custom values by name.
#[derive(Debug, Clone, Default)]
pub struct ClientRow {
    pub client_id: i64,
    pub name: String,
    pub email: Option<String>,
    pub client_type: String,
    pub country: Option<String>,
    pub city: Option<String>,
    /// Microseconds since the epoch, UTC.
    pub created_at: i64,
    pub tags: Option<Vec<String>>,
    pub deleted_at: Option<i64>,
    pub marketing_consent: Option<bool>,
    pub custom: Vec<(String, CustomValue)>,
}

impl ClientRow {
    /// A retail client named after its id, created 2020-01-01.
    pub fn new(client_id: i64) -> ClientRow {
        ClientRow {
            client_id,
            name: format!("Client {client_id}"),
            client_type: "retail".into(),
            created_at: micros("2020-01-01T00:00:00Z"),
            ..ClientRow::default()
        }
    }
}

/// A custom field's value in a [`ClientRow`].
#[derive(Debug, Clone, PartialEq)]
pub enum CustomValue {
    Text(String),
    Integer(i64),
    Float(f64),
    /// Cents.
    Money(i64),
    Boolean(bool),
    Date(NaiveDate),
    /// Microseconds since the epoch, UTC.
    Timestamp(i64),
}

#[derive(Debug, Clone)]
pub struct OrderRow {
    pub order_id: i64,
    pub client_id: Option<i64>,
    pub ordered_at: i64,
    pub status: OrderStatus,
    pub total_cents: i64,
    pub refunded_cents: i64,
}

impl OrderRow {
    /// A completed order of `total_cents` at the RFC 3339 instant `at`.
    pub fn completed(order_id: i64, client_id: i64, at: &str, total_cents: i64) -> OrderRow {
        OrderRow {
            order_id,
            client_id: Some(client_id),
            ordered_at: micros(at),
            status: OrderStatus::Completed,
            total_cents,
            refunded_cents: 0,
        }
    }
}

#[derive(Debug, Clone)]
pub struct LineRow {
    pub order_id: i64,
    pub product_id: i64,
    pub quantity: i64,
    pub line_total_cents: i64,
}

#[derive(Debug, Clone)]
pub struct InvoiceRow {
    pub invoice_id: i64,
    pub client_id: i64,
    pub issued_at: i64,
    pub due_at: Option<NaiveDate>,
    pub total_cents: i64,
    pub paid_cents: i64,
    pub status: String,
}

#[derive(Debug, Clone, Default)]
pub struct ProductRow {
    pub product_id: i64,
    pub sku: String,
    pub name: String,
    pub category: Option<String>,
    pub retail_price_cents: i64,
    pub wholesale_price_cents: Option<i64>,
    pub vip_price_cents: Option<i64>,
    pub staff_price_cents: Option<i64>,
}

/// Microseconds since the epoch of an RFC 3339 instant; panics on a bad literal, so it is
/// for tests and examples only.
pub fn micros(rfc3339: &str) -> i64 {
    DateTime::parse_from_rfc3339(rfc3339)
        .expect("an RFC 3339 literal")
        .timestamp_micros()
}

/// Collects rows of every table and builds canonical [`Facts`].
#[derive(Debug, Clone, Default)]
pub struct FactsBuilder {
    pub custom_fields: Vec<CustomField>,
    pub clients: Vec<ClientRow>,
    pub orders: Vec<OrderRow>,
    pub lines: Vec<LineRow>,
    pub invoices: Vec<InvoiceRow>,
    pub products: Vec<ProductRow>,
}

impl FactsBuilder {
    pub fn new() -> FactsBuilder {
        FactsBuilder::default()
    }

    pub fn custom_field(mut self, name: &str, kind: CustomKind) -> FactsBuilder {
        self.custom_fields.push(CustomField {
            name: name.into(),
            kind,
        });
        self
    }

    pub fn client(mut self, row: ClientRow) -> FactsBuilder {
        self.clients.push(row);
        self
    }

    pub fn order(mut self, row: OrderRow) -> FactsBuilder {
        self.orders.push(row);
        self
    }

    pub fn line(mut self, order_id: i64, product_id: i64, quantity: i64, cents: i64) -> Self {
        let line = LineRow {
            order_id,
            product_id,
            quantity,
            line_total_cents: cents,
        };
        self.lines.push(line);
        self
    }

    pub fn invoice(mut self, row: InvoiceRow) -> FactsBuilder {
        self.invoices.push(row);
        self
    }

    pub fn product(mut self, row: ProductRow) -> FactsBuilder {
        self.products.push(row);
        self
    }

    /// Builds the canonical tables. Rows are taken as given: nothing is validated.
    ///
    /// # Errors
    /// Only if a column cannot be assembled, which means a bug here.
    pub fn build(&self) -> Result<Facts, ArrowError> {
        Ok(Facts {
            clients: clients_batch(&self.clients, &self.custom_fields)?,
            orders: orders_batch(&self.orders)?,
            order_lines: lines_batch(&self.lines)?,
            invoices: invoices_batch(&self.invoices)?,
            products: products_batch(&self.products)?,
            custom_fields: self.custom_fields.clone(),
            report: LoadReport::default(),
        })
    }
}

fn int64(values: impl Iterator<Item = Option<i64>>) -> ArrayRef {
    let mut builder = Int64Builder::new();
    values.for_each(|v| builder.append_option(v));
    Arc::new(builder.finish())
}

fn text<S: AsRef<str>>(values: impl Iterator<Item = Option<S>>) -> ArrayRef {
    let mut builder = StringBuilder::new();
    values.for_each(|v| builder.append_option(v));
    Arc::new(builder.finish())
}

fn timestamps(values: impl Iterator<Item = Option<i64>>) -> ArrayRef {
    let mut builder = TimestampMicrosecondBuilder::new().with_timezone("UTC");
    values.for_each(|v| builder.append_option(v));
    Arc::new(builder.finish())
}

fn dates(values: impl Iterator<Item = Option<NaiveDate>>) -> ArrayRef {
    let mut builder = Date32Builder::new();
    values.for_each(|v| builder.append_option(v.map(to_date32)));
    Arc::new(builder.finish())
}

fn booleans(values: impl Iterator<Item = Option<bool>>) -> ArrayRef {
    let mut builder = BooleanBuilder::new();
    values.for_each(|v| builder.append_option(v));
    Arc::new(builder.finish())
}

fn tags(rows: &[ClientRow]) -> ArrayRef {
    let mut builder = ListBuilder::new(StringBuilder::new());
    for row in rows {
        match &row.tags {
            Some(tags) => {
                tags.iter().for_each(|t| builder.values().append_value(t));
                builder.append(true);
            }
            None => builder.append(false),
        }
    }
    Arc::new(builder.finish())
}

fn custom_column(rows: &[ClientRow], field: &CustomField) -> ArrayRef {
    let value = |row: &ClientRow| {
        row.custom
            .iter()
            .find(|(name, _)| *name == field.name)
            .map(|(_, v)| v.clone())
    };
    let values = rows.iter().map(value);
    match field.kind {
        CustomKind::Text => text(values.map(|v| match v {
            Some(CustomValue::Text(s)) => Some(s),
            _ => None,
        })),
        CustomKind::Integer | CustomKind::Money => int64(values.map(|v| match v {
            Some(CustomValue::Integer(i) | CustomValue::Money(i)) => Some(i),
            _ => None,
        })),
        CustomKind::Float => {
            let mut builder = Float64Builder::new();
            values.for_each(|v| match v {
                Some(CustomValue::Float(f)) => builder.append_value(f),
                _ => builder.append_null(),
            });
            Arc::new(builder.finish())
        }
        CustomKind::Boolean => booleans(values.map(|v| match v {
            Some(CustomValue::Boolean(b)) => Some(b),
            _ => None,
        })),
        CustomKind::Date => dates(values.map(|v| match v {
            Some(CustomValue::Date(d)) => Some(d),
            _ => None,
        })),
        CustomKind::Timestamp => timestamps(values.map(|v| match v {
            Some(CustomValue::Timestamp(t)) => Some(t),
            _ => None,
        })),
    }
}

fn clients_batch(rows: &[ClientRow], custom: &[CustomField]) -> Result<RecordBatch, ArrowError> {
    let mut columns = vec![
        int64(rows.iter().map(|r| Some(r.client_id))),
        text(rows.iter().map(|r| Some(&r.name))),
        text(rows.iter().map(|r| r.email.as_ref())),
        text(rows.iter().map(|r| Some(&r.client_type))),
        text(rows.iter().map(|r| r.country.as_ref())),
        text(rows.iter().map(|r| r.city.as_ref())),
        timestamps(rows.iter().map(|r| Some(r.created_at))),
        tags(rows),
        timestamps(rows.iter().map(|r| r.deleted_at)),
        booleans(rows.iter().map(|r| r.marketing_consent)),
    ];
    columns.extend(custom.iter().map(|field| custom_column(rows, field)));
    RecordBatch::try_new(schema::clients_schema(custom), columns)
}

fn orders_batch(rows: &[OrderRow]) -> Result<RecordBatch, ArrowError> {
    let columns = vec![
        int64(rows.iter().map(|r| Some(r.order_id))),
        int64(rows.iter().map(|r| r.client_id)),
        timestamps(rows.iter().map(|r| Some(r.ordered_at))),
        text(rows.iter().map(|r| Some(r.status.as_str()))),
        int64(rows.iter().map(|r| Some(r.total_cents))),
        int64(rows.iter().map(|r| Some(r.refunded_cents))),
    ];
    RecordBatch::try_new(schema::orders_schema(), columns)
}

fn lines_batch(rows: &[LineRow]) -> Result<RecordBatch, ArrowError> {
    let columns = vec![
        int64(rows.iter().map(|r| Some(r.order_id))),
        int64(rows.iter().map(|r| Some(r.product_id))),
        int64(rows.iter().map(|r| Some(r.quantity))),
        int64(rows.iter().map(|r| Some(r.line_total_cents))),
    ];
    RecordBatch::try_new(schema::order_lines_schema(), columns)
}

fn invoices_batch(rows: &[InvoiceRow]) -> Result<RecordBatch, ArrowError> {
    let columns = vec![
        int64(rows.iter().map(|r| Some(r.invoice_id))),
        int64(rows.iter().map(|r| Some(r.client_id))),
        timestamps(rows.iter().map(|r| Some(r.issued_at))),
        dates(rows.iter().map(|r| r.due_at)),
        int64(rows.iter().map(|r| Some(r.total_cents))),
        int64(rows.iter().map(|r| Some(r.paid_cents))),
        text(rows.iter().map(|r| Some(&r.status))),
    ];
    RecordBatch::try_new(schema::invoices_schema(), columns)
}

fn products_batch(rows: &[ProductRow]) -> Result<RecordBatch, ArrowError> {
    let columns = vec![
        int64(rows.iter().map(|r| Some(r.product_id))),
        text(rows.iter().map(|r| Some(&r.sku))),
        text(rows.iter().map(|r| Some(&r.name))),
        text(rows.iter().map(|r| r.category.as_ref())),
        int64(rows.iter().map(|r| Some(r.retail_price_cents))),
        int64(rows.iter().map(|r| r.wholesale_price_cents)),
        int64(rows.iter().map(|r| r.vip_price_cents)),
        int64(rows.iter().map(|r| r.staff_price_cents)),
    ];
    RecordBatch::try_new(schema::products_schema(), columns)
}

/// Writes every table of `facts` into `dir` as `<table>.parquet`, in the input contract's
/// format: a tenant folder for tests, examples and benches.
///
/// # Errors
/// A file that cannot be written.
pub fn write_tenant(facts: &Facts, dir: &std::path::Path) -> Result<(), super::write::WriteError> {
    use super::write::{Table, write_parquet};
    let tables = [
        (Table::Clients, &facts.clients),
        (Table::Orders, &facts.orders),
        (Table::OrderLines, &facts.order_lines),
        (Table::Invoices, &facts.invoices),
        (Table::Products, &facts.products),
    ];
    for (table, batch) in tables {
        write_parquet(table, batch, &dir.join(format!("{}.parquet", table.name())))?;
    }
    Ok(())
}
