//! One opened part of a table, whatever its format: its columns, its row count, and its rows
//! as raw Arrow batches.

use std::path::{Path, PathBuf};

use arrow::array::{ArrayRef, RecordBatch};
use arrow::datatypes::SchemaRef;

use super::csv::CsvPart;
use super::discover::{Format, Part};
use super::error::{LoadError, Result};
use super::parquet::ParquetPart;
use super::spec::{Presence, TableSpec};

/// A part whose columns are known and checked against the table's contract.
pub(super) struct OpenPart {
    pub path: PathBuf,
    pub format: Format,
    /// Every column of the file as stored (all `Utf8` for CSV).
    pub schema: SchemaRef,
    pub rows: usize,
    body: Body,
}

enum Body {
    Parquet(ParquetPart),
    /// CSV is read whole when opened: custom field kinds are inferred from its values.
    // TODO: tables without custom fields could stream CSV in chunks, so a huge CSV part is
    // not held as text and as canonical columns at once.
    Csv(RecordBatch),
}

/// Opens `part` and checks that it holds the table's required columns, each once.
///
/// # Errors
/// The file cannot be read, or a required column is missing or appears twice.
pub(super) fn open(part: &Part, spec: &TableSpec) -> Result<OpenPart> {
    let (schema, rows, body) = match part.format {
        Format::Parquet => {
            let parquet = ParquetPart::open(&part.path)?;
            (parquet.schema(), parquet.rows(), Body::Parquet(parquet))
        }
        Format::Csv => {
            let csv = CsvPart::read(&part.path, |name| spec.reads(name))?;
            (csv.schema, csv.batch.num_rows(), Body::Csv(csv.batch))
        }
    };
    check_columns(&part.path, &schema, spec)?;
    Ok(OpenPart {
        path: part.path.clone(),
        format: part.format,
        schema,
        rows,
        body,
    })
}

impl OpenPart {
    /// A CSV column as read (text); `None` for Parquet parts or an absent column.
    pub fn csv_column(&self, name: &str) -> Option<&ArrayRef> {
        match &self.body {
            Body::Csv(batch) => batch.column_by_name(name),
            Body::Parquet(_) => None,
        }
    }

    /// The part's rows in raw batches, holding the columns the table reads.
    ///
    /// # Errors
    /// A Parquet part fails to decode.
    pub fn batches(
        self,
        spec: &TableSpec,
    ) -> Result<Box<dyn Iterator<Item = Result<RecordBatch>>>> {
        match self.body {
            Body::Parquet(parquet) => {
                let batches = parquet.batches(&self.path, &|name| spec.reads(name))?;
                Ok(Box::new(batches))
            }
            Body::Csv(batch) => Ok(Box::new(std::iter::once(Ok(batch)))),
        }
    }
}

fn check_columns(file: &Path, schema: &SchemaRef, spec: &TableSpec) -> Result<()> {
    let names: Vec<&str> = schema.fields().iter().map(|f| f.name().as_str()).collect();
    for (index, name) in names.iter().enumerate() {
        if names[..index].contains(name) {
            let column = name.to_string();
            return Err(LoadError::DuplicateColumn {
                file: file.to_path_buf(),
                column,
            });
        }
    }
    let must_exist = |p: Presence| matches!(p, Presence::Required | Presence::Nullable);
    let missing = spec
        .columns
        .iter()
        .find(|c| must_exist(c.presence) && !names.contains(&&*c.source));
    match missing {
        Some(column) => Err(LoadError::MissingColumn {
            file: file.to_path_buf(),
            column: column.source.clone(),
            found: names.join(", "),
        }),
        None => Ok(()),
    }
}
