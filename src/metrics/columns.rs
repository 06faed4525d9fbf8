//! Column names of the metrics table.

pub const CLIENT_ID: &str = "client_id";
/// Local date of `created_at`.
pub const CREATED_DATE: &str = "created_date";
/// Sum over completed orders of `total - refunded`, never below 0 per order; 0 for none.
pub const TOTAL_REVENUE_CENTS: &str = "total_revenue_cents";
/// Completed orders; 0 for none.
pub const LIFETIME_ORDERS: &str = "lifetime_orders";
/// Local date of the latest completed order; null for none.
pub const LAST_PURCHASE_DATE: &str = "last_purchase_date";
/// Sum of `total - paid` over invoices not void; 0 for none.
pub const OUTSTANDING_BALANCE_CENTS: &str = "outstanding_balance_cents";
/// Normalised profile text.
pub const CLIENT_TYPE: &str = "client_type";
pub const COUNTRY: &str = "country";
pub const CITY: &str = "city";

/// The metrics column of a custom field: `custom.<name>`.
pub fn custom(name: &str) -> String {
    format!("custom.{name}")
}
