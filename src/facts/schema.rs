//! The canonical Arrow schemas of the fact tables and their column names.

use std::sync::Arc;

use arrow::datatypes::{DataType, Field, Schema, SchemaRef, TimeUnit};

/// Canonical timestamp type: microseconds since the epoch, UTC.
pub fn timestamp_type() -> DataType {
    DataType::Timestamp(TimeUnit::Microsecond, Some("UTC".into()))
}

/// Canonical type of the `tags` column.
pub fn tags_type() -> DataType {
    DataType::List(Arc::new(Field::new("item", DataType::Utf8, true)))
}

pub mod clients {
    pub const CLIENT_ID: &str = "client_id";
    pub const NAME: &str = "name";
    pub const EMAIL: &str = "email";
    pub const CLIENT_TYPE: &str = "client_type";
    pub const COUNTRY: &str = "country";
    pub const CITY: &str = "city";
    pub const CREATED_AT: &str = "created_at";
    pub const TAGS: &str = "tags";
    pub const DELETED_AT: &str = "deleted_at";
    pub const MARKETING_CONSENT: &str = "marketing_consent";
    /// Every column of the contract; any other column is a custom field.
    pub const ALL: [&str; 10] = [
        CLIENT_ID,
        NAME,
        EMAIL,
        CLIENT_TYPE,
        COUNTRY,
        CITY,
        CREATED_AT,
        TAGS,
        DELETED_AT,
        MARKETING_CONSENT,
    ];
}

pub mod orders {
    pub const ORDER_ID: &str = "order_id";
    pub const CLIENT_ID: &str = "client_id";
    pub const ORDERED_AT: &str = "ordered_at";
    pub const STATUS: &str = "status";
    pub const TOTAL_CENTS: &str = "total_cents";
    pub const REFUNDED_CENTS: &str = "refunded_cents";
}

pub mod order_lines {
    pub const ORDER_ID: &str = "order_id";
    pub const PRODUCT_ID: &str = "product_id";
    pub const QUANTITY: &str = "quantity";
    pub const LINE_TOTAL_CENTS: &str = "line_total_cents";
}

pub mod invoices {
    pub const INVOICE_ID: &str = "invoice_id";
    pub const CLIENT_ID: &str = "client_id";
    pub const ISSUED_AT: &str = "issued_at";
    pub const DUE_AT: &str = "due_at";
    pub const TOTAL_CENTS: &str = "total_cents";
    pub const PAID_CENTS: &str = "paid_cents";
    pub const STATUS: &str = "status";
}

pub mod products {
    pub const PRODUCT_ID: &str = "product_id";
    pub const SKU: &str = "sku";
    pub const NAME: &str = "name";
    /// Optional in the input (an extra column); used by bulk price updates by category.
    pub const CATEGORY: &str = "category";
    pub const RETAIL_PRICE_CENTS: &str = "retail_price_cents";
    pub const WHOLESALE_PRICE_CENTS: &str = "wholesale_price_cents";
    pub const VIP_PRICE_CENTS: &str = "vip_price_cents";
    pub const STAFF_PRICE_CENTS: &str = "staff_price_cents";
}

/// The canonical `clients` schema: the contract's columns, then the custom fields.
pub fn clients_schema(custom: &[CustomField]) -> SchemaRef {
    use clients::*;
    let mut fields = vec![
        Field::new(CLIENT_ID, DataType::Int64, false),
        Field::new(NAME, DataType::Utf8, false),
        Field::new(EMAIL, DataType::Utf8, true),
        Field::new(CLIENT_TYPE, DataType::Utf8, false),
        Field::new(COUNTRY, DataType::Utf8, true),
        Field::new(CITY, DataType::Utf8, true),
        Field::new(CREATED_AT, timestamp_type(), false),
        Field::new(TAGS, tags_type(), true),
        Field::new(DELETED_AT, timestamp_type(), true),
        Field::new(MARKETING_CONSENT, DataType::Boolean, true),
    ];
    fields.extend(
        custom
            .iter()
            .map(|c| Field::new(&c.name, c.kind.data_type(), true)),
    );
    Arc::new(Schema::new(fields))
}

pub fn orders_schema() -> SchemaRef {
    use orders::*;
    Arc::new(Schema::new(vec![
        Field::new(ORDER_ID, DataType::Int64, false),
        Field::new(CLIENT_ID, DataType::Int64, true),
        Field::new(ORDERED_AT, timestamp_type(), false),
        Field::new(STATUS, DataType::Utf8, false),
        Field::new(TOTAL_CENTS, DataType::Int64, false),
        Field::new(REFUNDED_CENTS, DataType::Int64, false),
    ]))
}

pub fn order_lines_schema() -> SchemaRef {
    use order_lines::*;
    Arc::new(Schema::new(vec![
        Field::new(ORDER_ID, DataType::Int64, false),
        Field::new(PRODUCT_ID, DataType::Int64, false),
        Field::new(QUANTITY, DataType::Int64, false),
        Field::new(LINE_TOTAL_CENTS, DataType::Int64, false),
    ]))
}

pub fn invoices_schema() -> SchemaRef {
    use invoices::*;
    Arc::new(Schema::new(vec![
        Field::new(INVOICE_ID, DataType::Int64, false),
        Field::new(CLIENT_ID, DataType::Int64, false),
        Field::new(ISSUED_AT, timestamp_type(), false),
        Field::new(DUE_AT, DataType::Date32, true),
        Field::new(TOTAL_CENTS, DataType::Int64, false),
        Field::new(PAID_CENTS, DataType::Int64, false),
        Field::new(STATUS, DataType::Utf8, false),
    ]))
}

pub fn products_schema() -> SchemaRef {
    use products::*;
    Arc::new(Schema::new(vec![
        Field::new(PRODUCT_ID, DataType::Int64, false),
        Field::new(SKU, DataType::Utf8, false),
        Field::new(NAME, DataType::Utf8, false),
        Field::new(CATEGORY, DataType::Utf8, true),
        Field::new(RETAIL_PRICE_CENTS, DataType::Int64, false),
        Field::new(WHOLESALE_PRICE_CENTS, DataType::Int64, true),
        Field::new(VIP_PRICE_CENTS, DataType::Int64, true),
        Field::new(STAFF_PRICE_CENTS, DataType::Int64, true),
    ]))
}

/// A client column beyond the contract's, usable in rules as `custom.<name>`.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct CustomField {
    pub name: String,
    pub kind: CustomKind,
}

/// The kind of a custom field, which decides its canonical type and the ops it takes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum CustomKind {
    /// `Utf8`; text ops, compared after trimming and case folding.
    Text,
    /// `Int64`; count ops.
    Integer,
    /// `Float64`; number ops.
    Float,
    /// A decimal input, held as `Int64` cents; money ops.
    Money,
    /// `Boolean`; `is`.
    Boolean,
    /// `Date32`; date ops.
    Date,
    /// `Timestamp(Microsecond, "UTC")`; date ops on the tenant's local date.
    Timestamp,
}

impl CustomKind {
    pub fn data_type(self) -> DataType {
        match self {
            CustomKind::Text => DataType::Utf8,
            CustomKind::Integer | CustomKind::Money => DataType::Int64,
            CustomKind::Float => DataType::Float64,
            CustomKind::Boolean => DataType::Boolean,
            CustomKind::Date => DataType::Date32,
            CustomKind::Timestamp => timestamp_type(),
        }
    }
}

/// The statuses an order can have; only `Completed` counts as a purchase and as revenue.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum OrderStatus {
    Completed,
    Cancelled,
    Refunded,
    Open,
}

impl OrderStatus {
    pub const ALL: [OrderStatus; 4] = [
        OrderStatus::Completed,
        OrderStatus::Cancelled,
        OrderStatus::Refunded,
        OrderStatus::Open,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            OrderStatus::Completed => "completed",
            OrderStatus::Cancelled => "cancelled",
            OrderStatus::Refunded => "refunded",
            OrderStatus::Open => "open",
        }
    }

    /// Reads a status after trimming and case folding.
    pub fn parse(text: &str) -> Option<OrderStatus> {
        let folded = text.trim().to_lowercase();
        OrderStatus::ALL.into_iter().find(|s| s.as_str() == folded)
    }
}

/// Invoice statuses; a `void` invoice does not count towards the outstanding balance.
pub const INVOICE_STATUSES: [&str; 3] = ["open", "paid", "void"];
