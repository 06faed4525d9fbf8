//! Why an evaluation failed.

use datafusion::error::DataFusionError;

use crate::rules::RuleError;

#[derive(Debug, thiserror::Error)]
pub enum EvalError {
    /// The rule is valid in form but not against this snapshot (a SKU naming no product).
    #[error(transparent)]
    Rule(#[from] RuleError),
    #[error("{path}: segment {id} does not exist")]
    UnknownSegment { path: String, id: i64 },
    /// A fault of ours while planning or running a filter: a bug.
    #[error("internal error while evaluating a rule: {0}")]
    Internal(#[from] DataFusionError),
}

impl From<arrow::error::ArrowError> for EvalError {
    fn from(error: arrow::error::ArrowError) -> EvalError {
        EvalError::Internal(error.into())
    }
}
