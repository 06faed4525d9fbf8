//! Why a rule was refused, always with the JSON path of the node at fault.

/// A refused rule. Every variant names the JSON path (`$.all[2].any[0].value`) of the node.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum RuleError {
    #[error("{path}: {message}")]
    Malformed { path: String, message: String },
    #[error("{path}: unknown field {field:?}; expected one of {expected}")]
    UnknownField {
        path: String,
        field: String,
        expected: String,
    },
    #[error("{path}: unknown custom field {name:?}; the tenant has {known}")]
    UnknownCustomField {
        path: String,
        name: String,
        known: String,
    },
    #[error("{path}: op {op:?} does not apply to {field}; expected one of {expected}")]
    UnknownOp {
        path: String,
        op: String,
        field: String,
        expected: String,
    },
    #[error("{path}: expected {expected}, found {found}")]
    WrongValue {
        path: String,
        expected: String,
        found: String,
    },
    #[error("{path}: {value:?} is not a date; expected \"YYYY-MM-DD\"")]
    BadDate { path: String, value: String },
    #[error("{path}: {value} has more than 2 decimal places")]
    TooPrecise { path: String, value: String },
    #[error("{path}: groups nest deeper than the limit of {limit}")]
    TooDeep { path: String, limit: usize },
    #[error("{path}: the rule holds more than the limit of {limit} conditions")]
    TooManyConditions { path: String, limit: usize },
    #[error("{path}: no product with SKU {sku:?}")]
    UnknownProduct { path: String, sku: String },
}

impl RuleError {
    /// The JSON path of the node at fault.
    pub fn path(&self) -> &str {
        match self {
            RuleError::Malformed { path, .. }
            | RuleError::UnknownField { path, .. }
            | RuleError::UnknownCustomField { path, .. }
            | RuleError::UnknownOp { path, .. }
            | RuleError::WrongValue { path, .. }
            | RuleError::BadDate { path, .. }
            | RuleError::TooPrecise { path, .. }
            | RuleError::TooDeep { path, .. }
            | RuleError::TooManyConditions { path, .. }
            | RuleError::UnknownProduct { path, .. } => path,
        }
    }
}

/// A short description of a JSON value's kind, for error messages.
pub(crate) fn describe(value: &serde_json::Value) -> String {
    use serde_json::Value;
    match value {
        Value::Null => "null".into(),
        Value::Bool(b) => format!("the boolean {b}"),
        Value::Number(n) => format!("the number {n}"),
        Value::String(s) => format!("the string {s:?}"),
        Value::Array(a) => format!("an array of {} items", a.len()),
        Value::Object(_) => "an object".into(),
    }
}
