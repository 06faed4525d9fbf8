//! Why a report or a widget value could not be computed.

use chrono::NaiveDate;
use datafusion::error::DataFusionError;

/// A report's failure: a bad request (unknown segment, empty range) or a fault of ours.
#[derive(Debug, thiserror::Error)]
pub enum ReportError {
    #[error("segment {id} in the report's {list} list does not exist")]
    UnknownSegment { id: i64, list: &'static str },
    #[error("date range {from}..{to} is empty: `from` is after `to`")]
    EmptyRange { from: NaiveDate, to: NaiveDate },
    #[error("date range {from}..{to} is longer than {max} days")]
    RangeTooLong {
        from: NaiveDate,
        to: NaiveDate,
        max: u64,
    },
    #[error("`top` is {top}; it must be between 1 and {max}")]
    TopOutOfRange { top: usize, max: usize },
    /// A fault of ours while planning or running a report query: a bug.
    #[error("internal error while computing a report: {0}")]
    Internal(#[from] DataFusionError),
}

impl From<arrow::error::ArrowError> for ReportError {
    fn from(error: arrow::error::ArrowError) -> ReportError {
        ReportError::Internal(error.into())
    }
}

impl ReportError {
    /// A task of a report's computation that panicked or was cancelled: a bug.
    pub(super) fn task(error: tokio::task::JoinError) -> ReportError {
        ReportError::Internal(DataFusionError::External(Box::new(error)))
    }
}

pub type Result<T, E = ReportError> = std::result::Result<T, E>;
