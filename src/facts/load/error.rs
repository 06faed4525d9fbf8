//! What can go wrong while loading a tenant folder. Every message names the file, and the
//! column and 1-based data row (header not counted) where they apply.

use std::io;
use std::path::{Path, PathBuf};

use arrow::error::ArrowError;
use parquet::errors::ParquetError;

/// Why a tenant folder could not be loaded.
#[derive(Debug, thiserror::Error)]
pub enum LoadError {
    #[error("{}: not a folder", .dir.display())]
    NotAFolder { dir: PathBuf },

    #[error(
        "{}: table `{table}` is missing: expected {table}.parquet, {table}.csv or a folder \
         {table}/ holding .parquet or .csv parts",
        .dir.display()
    )]
    MissingTable { dir: PathBuf, table: &'static str },

    #[error("{}: missing column `{column}` (columns found: {found})", .file.display())]
    MissingColumn {
        file: PathBuf,
        column: String,
        found: String,
    },

    #[error("{}: column `{column}` appears more than once", .file.display())]
    DuplicateColumn { file: PathBuf, column: String },

    #[error("{}: column `{column}` has type {found}, expected {expected}", .file.display())]
    WrongType {
        file: PathBuf,
        column: String,
        found: String,
        expected: String,
    },

    #[error(
        "{}: column `{column}` holds money as floating point ({found}); write it as a decimal \
         (e.g. Decimal128(18,2)) so amounts stay exact",
        .file.display()
    )]
    FloatMoney {
        file: PathBuf,
        column: String,
        found: String,
    },

    #[error("{}: column `{column}`, row {row}: value is missing, but the column is required",
        .file.display())]
    NullValue {
        file: PathBuf,
        column: String,
        row: usize,
    },

    #[error("{}: column `{column}`, row {row}: {value:?} is not {expected}", .file.display())]
    BadValue {
        file: PathBuf,
        column: String,
        row: usize,
        value: String,
        expected: String,
    },

    #[error(
        "{}: column `{column}`, row {row}: {value} has more than 2 decimal places",
        .file.display()
    )]
    TooPrecise {
        file: PathBuf,
        column: String,
        row: usize,
        value: String,
    },

    #[error(
        "{}: column `{column}`, row {row}: unknown status {value:?}, expected one of {expected}",
        .file.display()
    )]
    UnknownStatus {
        file: PathBuf,
        column: String,
        row: usize,
        value: String,
        expected: String,
    },

    #[error("{}: column `{column}`, row {row}: duplicate id {id}", .file.display())]
    DuplicateId {
        file: PathBuf,
        column: String,
        row: usize,
        id: i64,
    },

    #[error("{}: {source}", .path.display())]
    Io { path: PathBuf, source: io::Error },

    #[error("{}: cannot read Parquet: {source}", .file.display())]
    Parquet { file: PathBuf, source: ParquetError },

    /// A Parquet file whose footer read well but whose pages do not decode.
    #[error(
        "{}: cannot decode the Parquet data, rows {first_row} to {last_row}; the file may be \
         damaged: {source}",
        .file.display()
    )]
    Decode {
        file: PathBuf,
        first_row: usize,
        last_row: usize,
        source: ArrowError,
    },

    #[error("{}: cannot read CSV: {source}", .file.display())]
    Csv { file: PathBuf, source: csv::Error },

    /// An Arrow kernel failed on data that had passed validation: a bug, not bad input.
    #[error("{}: internal error while converting: {source}", .file.display())]
    Arrow { file: PathBuf, source: ArrowError },
}

/// The loader's result type.
pub type Result<T, E = LoadError> = std::result::Result<T, E>;

impl LoadError {
    pub(super) fn io(path: &Path, source: io::Error) -> LoadError {
        LoadError::Io {
            path: path.to_path_buf(),
            source,
        }
    }

    pub(super) fn parquet(file: &Path, source: ParquetError) -> LoadError {
        LoadError::Parquet {
            file: file.to_path_buf(),
            source,
        }
    }

    pub(super) fn csv(file: &Path, source: csv::Error) -> LoadError {
        LoadError::Csv {
            file: file.to_path_buf(),
            source,
        }
    }

    pub(super) fn arrow(file: &Path, source: ArrowError) -> LoadError {
        LoadError::Arrow {
            file: file.to_path_buf(),
            source,
        }
    }
}
