//! What each table's input must hold: its contract columns, how each becomes its canonical
//! column, and which may be absent or null.

use arrow::datatypes::SchemaRef;

use crate::facts::schema::{self, CustomField, CustomKind};

/// How an input column's values are read.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum ValueKind {
    /// Any integer type that fits `Int64`.
    Int,
    /// String types only (a contract text column).
    Text,
    /// Any type, shown as text (a custom field whose parts disagree on a type).
    AnyText,
    Float,
    /// Decimals or integers, to `Int64` cents.
    Money,
    Timestamp,
    Date,
    Bool,
    Tags,
    OrderStatus,
    InvoiceStatus,
}

impl ValueKind {
    /// Whether the input holds this kind as text in every format (statuses included).
    pub fn is_text(self) -> bool {
        use ValueKind::*;
        matches!(self, Text | AnyText | OrderStatus | InvoiceStatus)
    }

    /// The kind that reads a custom field of `kind`.
    pub fn of_custom(kind: CustomKind) -> ValueKind {
        match kind {
            CustomKind::Text => ValueKind::AnyText,
            CustomKind::Integer => ValueKind::Int,
            CustomKind::Float => ValueKind::Float,
            CustomKind::Money => ValueKind::Money,
            CustomKind::Boolean => ValueKind::Bool,
            CustomKind::Date => ValueKind::Date,
            CustomKind::Timestamp => ValueKind::Timestamp,
        }
    }
}

/// Whether an input column must exist, and what a null in it means.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Presence {
    /// Must exist; a null is an error.
    Required,
    /// Must exist; nulls are kept.
    Nullable,
    /// May be absent (all null); nulls are kept.
    Optional,
    /// May be absent; absent or null means 0.
    ZeroDefault,
}

/// One input column and the canonical column it becomes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) struct ColumnSpec {
    pub source: String,
    pub target: String,
    pub kind: ValueKind,
    pub presence: Presence,
}

/// One table of the contract.
#[derive(Debug, Clone)]
pub(super) struct TableSpec {
    pub name: &'static str,
    /// Absent required tables are an error; absent optional ones load empty.
    pub required: bool,
    /// The contract columns, in canonical order.
    pub columns: Vec<ColumnSpec>,
    /// A canonical column whose values must be unique across all parts.
    pub unique: Option<&'static str>,
    /// Whether columns beyond the contract are custom fields (else they are ignored).
    pub has_custom_fields: bool,
}

impl TableSpec {
    /// Whether the input column `name` is read at all.
    pub fn reads(&self, name: &str) -> bool {
        self.has_custom_fields || self.columns.iter().any(|c| c.source == name)
    }

    /// Whether the input column `name` is a custom field.
    pub fn is_custom(&self, name: &str) -> bool {
        self.has_custom_fields && self.columns.iter().all(|c| c.source != name)
    }

    /// The canonical schema once the custom fields are known.
    pub fn schema(&self, custom: &[CustomField]) -> SchemaRef {
        match self.name {
            CLIENTS => schema::clients_schema(custom),
            ORDERS => schema::orders_schema(),
            ORDER_LINES => schema::order_lines_schema(),
            INVOICES => schema::invoices_schema(),
            _ => schema::products_schema(),
        }
    }

    /// Every column to convert: the contract's, then the custom fields (which may be absent).
    pub fn all_columns(&self, custom: &[CustomField]) -> Vec<ColumnSpec> {
        let custom = custom.iter().map(|field| ColumnSpec {
            source: field.name.clone(),
            target: field.name.clone(),
            kind: ValueKind::of_custom(field.kind),
            presence: Presence::Optional,
        });
        self.columns.iter().cloned().chain(custom).collect()
    }
}

pub(super) const CLIENTS: &str = "clients";
pub(super) const ORDERS: &str = "orders";
pub(super) const ORDER_LINES: &str = "order_lines";
pub(super) const INVOICES: &str = "invoices";
pub(super) const PRODUCTS: &str = "products";

fn col(source: &str, target: &str, kind: ValueKind, presence: Presence) -> ColumnSpec {
    ColumnSpec {
        source: source.into(),
        target: target.into(),
        kind,
        presence,
    }
}

/// A column read under its own name.
fn same(name: &str, kind: ValueKind, presence: Presence) -> ColumnSpec {
    col(name, name, kind, presence)
}

pub(super) fn clients() -> TableSpec {
    use Presence::*;
    use ValueKind::*;
    use schema::clients as c;
    TableSpec {
        name: CLIENTS,
        required: true,
        columns: vec![
            same(c::CLIENT_ID, Int, Required),
            same(c::NAME, Text, Required),
            same(c::EMAIL, Text, Optional),
            same(c::CLIENT_TYPE, Text, Required),
            same(c::COUNTRY, Text, Optional),
            same(c::CITY, Text, Optional),
            same(c::CREATED_AT, Timestamp, Required),
            same(c::TAGS, Tags, Optional),
            same(c::DELETED_AT, Timestamp, Optional),
            same(c::MARKETING_CONSENT, Bool, Optional),
        ],
        unique: Some(c::CLIENT_ID),
        has_custom_fields: true,
    }
}

pub(super) fn orders() -> TableSpec {
    use Presence::*;
    use ValueKind::*;
    use schema::orders as o;
    TableSpec {
        name: ORDERS,
        required: true,
        columns: vec![
            same(o::ORDER_ID, Int, Required),
            same(o::CLIENT_ID, Int, Nullable),
            same(o::ORDERED_AT, Timestamp, Required),
            same(o::STATUS, OrderStatus, Required),
            col("total", o::TOTAL_CENTS, Money, Required),
            col("refunded_amount", o::REFUNDED_CENTS, Money, ZeroDefault),
        ],
        unique: Some(o::ORDER_ID),
        has_custom_fields: false,
    }
}

pub(super) fn order_lines() -> TableSpec {
    use Presence::*;
    use ValueKind::*;
    use schema::order_lines as l;
    TableSpec {
        name: ORDER_LINES,
        required: false,
        columns: vec![
            same(l::ORDER_ID, Int, Required),
            same(l::PRODUCT_ID, Int, Required),
            same(l::QUANTITY, Int, Required),
            col("line_total", l::LINE_TOTAL_CENTS, Money, Required),
        ],
        unique: None,
        has_custom_fields: false,
    }
}

pub(super) fn invoices() -> TableSpec {
    use Presence::*;
    use ValueKind::*;
    use schema::invoices as i;
    TableSpec {
        name: INVOICES,
        required: false,
        columns: vec![
            same(i::INVOICE_ID, Int, Required),
            same(i::CLIENT_ID, Int, Required),
            same(i::ISSUED_AT, Timestamp, Required),
            same(i::DUE_AT, Date, Nullable),
            col("total", i::TOTAL_CENTS, Money, Required),
            col("paid", i::PAID_CENTS, Money, Required),
            same(i::STATUS, InvoiceStatus, Required),
        ],
        unique: None,
        has_custom_fields: false,
    }
}

pub(super) fn products() -> TableSpec {
    use Presence::*;
    use ValueKind::*;
    use schema::products as p;
    TableSpec {
        name: PRODUCTS,
        required: false,
        columns: vec![
            same(p::PRODUCT_ID, Int, Required),
            same(p::SKU, Text, Required),
            same(p::NAME, Text, Required),
            same(p::CATEGORY, Text, Optional),
            col("retail_price", p::RETAIL_PRICE_CENTS, Money, Required),
            col("wholesale_price", p::WHOLESALE_PRICE_CENTS, Money, Optional),
            col("vip_price", p::VIP_PRICE_CENTS, Money, Optional),
            col("staff_price", p::STAFF_PRICE_CENTS, Money, Optional),
        ],
        unique: Some(p::PRODUCT_ID),
        has_custom_fields: false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The specs must list the canonical columns in the canonical order.
    #[test]
    fn spec_targets_match_canonical_schemas() {
        for spec in [clients(), orders(), order_lines(), invoices(), products()] {
            let schema = spec.schema(&[]);
            let canonical: Vec<&str> = schema.fields().iter().map(|f| f.name().as_str()).collect();
            let targets: Vec<&str> = spec.columns.iter().map(|c| c.target.as_str()).collect();
            assert_eq!(targets, canonical, "table {}", spec.name);
        }
    }
}
