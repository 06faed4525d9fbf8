//! Why a service operation was refused or failed.

use crate::catalog::CatalogError;
use crate::eval::EvalError;
use crate::facts::LoadError;
use crate::facts::write::WriteError;
use crate::rules::RuleError;
use crate::tenant::TenantError;

/// A refused or failed operation. `NotFound`, `Conflict`, `BadRule`, `Invalid`, `Load` and
/// `Eval` other than `EvalError::Internal` are the caller's to fix and carry a message
/// naming the offending value; the rest are faults of ours ([`ServiceError::is_internal`]).
#[derive(Debug, thiserror::Error)]
pub enum ServiceError {
    #[error("{what} {id} does not exist")]
    NotFound { what: &'static str, id: i64 },
    /// A duplicate name, a loop of `segment` conditions, the delete of a segment another one
    /// reads, or an operation that does not fit the segment's kind.
    #[error("{0}")]
    Conflict(String),
    #[error("invalid rule: {0}")]
    BadRule(RuleError),
    /// Bad input; the message names the field, row or value.
    #[error("{0}")]
    Invalid(String),
    #[error(transparent)]
    Eval(EvalError),
    #[error(transparent)]
    Load(LoadError),
    #[error(transparent)]
    Catalog(CatalogError),
    /// A fact table could not be written to the tenant folder.
    #[error("cannot write facts: {0}")]
    Write(#[from] WriteError),
    /// A broken invariant or a failed background task: a bug.
    #[error("internal error: {0}")]
    Internal(String),
}

/// The service's result type.
pub type Result<T, E = ServiceError> = std::result::Result<T, E>;

impl ServiceError {
    /// Whether the error is a fault of ours rather than of the request.
    pub fn is_internal(&self) -> bool {
        match self {
            ServiceError::Eval(EvalError::Internal(_)) => true,
            ServiceError::Catalog(CatalogError::DuplicateName { .. }) => false,
            ServiceError::Catalog(_) | ServiceError::Write(_) | ServiceError::Internal(_) => true,
            _ => false,
        }
    }

    pub(crate) fn internal(what: impl std::fmt::Display) -> ServiceError {
        ServiceError::Internal(what.to_string())
    }
}

impl From<CatalogError> for ServiceError {
    fn from(error: CatalogError) -> ServiceError {
        match error {
            CatalogError::DuplicateName { name } => {
                ServiceError::Conflict(format!("a segment named {name:?} already exists"))
            }
            other => ServiceError::Catalog(other),
        }
    }
}

impl From<RuleError> for ServiceError {
    fn from(error: RuleError) -> ServiceError {
        ServiceError::BadRule(error)
    }
}

/// A rule that is fine in form but wrong for this tenant (an unknown SKU) is a bad rule.
impl From<EvalError> for ServiceError {
    fn from(error: EvalError) -> ServiceError {
        match error {
            EvalError::Rule(rule) => ServiceError::BadRule(rule),
            other => ServiceError::Eval(other),
        }
    }
}

impl From<LoadError> for ServiceError {
    fn from(error: LoadError) -> ServiceError {
        ServiceError::Load(error)
    }
}

impl From<TenantError> for ServiceError {
    fn from(error: TenantError) -> ServiceError {
        match error {
            TenantError::Load(load) => ServiceError::Load(load),
            TenantError::Internal(message) => ServiceError::Internal(message),
            other => ServiceError::Invalid(other.to_string()),
        }
    }
}
