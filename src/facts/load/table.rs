//! Loading one table: open its parts, settle its custom fields, convert every batch to the
//! canonical schema into one batch, and check unique ids.

use std::path::{Path, PathBuf};

use arrow::array::{ArrayRef, AsArray, Int64Array, new_null_array};
use arrow::datatypes::{Field, Int64Type, SchemaRef};
use arrow::record_batch::{RecordBatch, RecordBatchOptions};
use std::sync::Arc;
use tracing::info;

use super::convert::{self, Cells};
use super::discover::{self, Format};
use super::error::{LoadError, Result};
use super::ids::IdSet;
use super::infer;
use super::part::{self, OpenPart};
use super::sink::TableSink;
use super::spec::{ColumnSpec, Presence, TableSpec};
use crate::facts::schema::CustomField;

/// A table in canonical form, before rows that point nowhere are left out.
pub(super) struct LoadedTable {
    pub batch: RecordBatch,
    pub custom_fields: Vec<CustomField>,
    /// The values of the table's unique column, when it has one.
    pub ids: Option<IdSet>,
    pub parts: usize,
}

/// Loads every part of `spec`'s table in `dir`.
///
/// # Errors
/// A required table is absent, or any part is unreadable or breaks the contract.
pub(super) fn load(dir: &Path, spec: &TableSpec) -> Result<LoadedTable> {
    let parts = discover::find_parts(dir, spec.name)?;
    if parts.is_empty() {
        return absent(dir, spec);
    }
    let opened: Vec<OpenPart> = parts
        .iter()
        .map(|p| part::open(p, spec))
        .collect::<Result<_>>()?;
    let custom_fields = if spec.has_custom_fields {
        infer::custom_fields(&opened, spec)
    } else {
        Vec::new()
    };
    let schema = spec.schema(&custom_fields);
    let columns = spec.all_columns(&custom_fields);

    let rows = opened.iter().map(|p| p.rows).sum();
    let mut sink = TableSink::new(&schema, rows);
    let mut spans = Vec::with_capacity(opened.len());
    // TODO: parts are decoded one after another; decoding them on several threads, still
    // appended in order, would cut the wall time of large tenants on multi-core machines.
    for part in opened {
        spans.push(PartSpan {
            file: part.path.clone(),
            first_row: sink.rows(),
        });
        let target = Target {
            spec,
            columns: &columns,
            schema: &schema,
        };
        convert_part(part, &target, &mut sink)?;
    }

    let batch = sink.finish().map_err(|e| LoadError::arrow(dir, e))?;
    let ids = spec
        .unique
        .map(|column| unique_ids(&batch, column, &spans))
        .transpose()?;
    Ok(LoadedTable {
        batch,
        custom_fields,
        ids,
        parts: parts.len(),
    })
}

/// An absent optional table loads empty; an absent required one is an error.
fn absent(dir: &Path, spec: &TableSpec) -> Result<LoadedTable> {
    if spec.required {
        return Err(LoadError::MissingTable {
            dir: dir.to_path_buf(),
            table: spec.name,
        });
    }
    info!(table = spec.name, dir = %dir.display(), "table absent; loaded empty");
    let batch = RecordBatch::new_empty(spec.schema(&[]));
    let ids = spec.unique.map(|_| IdSet::default());
    Ok(LoadedTable {
        batch,
        custom_fields: Vec::new(),
        ids,
        parts: 0,
    })
}

/// What every batch of a table is converted into.
struct Target<'a> {
    spec: &'a TableSpec,
    columns: &'a [ColumnSpec],
    schema: &'a SchemaRef,
}

fn convert_part(part: OpenPart, target: &Target, sink: &mut TableSink) -> Result<()> {
    let path = part.path.clone();
    let parse_text = part.format == Format::Csv;
    let mut rows_before = 0;
    for raw in part.batches(target.spec)? {
        let raw = raw?;
        let origin = Origin {
            file: &path,
            rows_before,
            parse_text,
        };
        let batch = canonical_batch(&raw, target, &origin)?;
        sink.append(&batch)
            .map_err(|e| LoadError::arrow(&path, e))?;
        rows_before += raw.num_rows();
    }
    Ok(())
}

/// Where a raw batch sits in its file.
struct Origin<'a> {
    file: &'a Path,
    rows_before: usize,
    parse_text: bool,
}

impl<'a> Origin<'a> {
    fn cells(&self, column: &'a str) -> Cells<'a> {
        Cells {
            file: self.file,
            column,
            rows_before: self.rows_before,
            parse_text: self.parse_text,
        }
    }
}

fn canonical_batch(raw: &RecordBatch, target: &Target, origin: &Origin) -> Result<RecordBatch> {
    let fields = target.schema.fields().iter();
    let arrays: Vec<ArrayRef> = target
        .columns
        .iter()
        .zip(fields)
        .map(|(column, field)| canonical_column(raw, column, field, origin))
        .collect::<Result<_>>()?;
    let options = RecordBatchOptions::new().with_row_count(Some(raw.num_rows()));
    RecordBatch::try_new_with_options(target.schema.clone(), arrays, &options)
        .map_err(|e| LoadError::arrow(origin.file, e))
}

/// One canonical column: converted, checked for nulls, or filled when absent.
fn canonical_column(
    raw: &RecordBatch,
    column: &ColumnSpec,
    field: &Field,
    origin: &Origin,
) -> Result<ArrayRef> {
    let Some(array) = raw.column_by_name(&column.source) else {
        return Ok(absent_column(column.presence, field, raw.num_rows()));
    };
    let cells = origin.cells(&column.source);
    let converted = convert::convert(array, column.kind, &cells)?;
    match column.presence {
        Presence::Required => match convert::first_null(&converted) {
            Some(index) => Err(cells.null_value(index)),
            None => Ok(converted),
        },
        Presence::ZeroDefault => Ok(convert::nulls_to_zero(&converted)),
        Presence::Nullable | Presence::Optional => Ok(converted),
    }
}

fn absent_column(presence: Presence, field: &Field, rows: usize) -> ArrayRef {
    match presence {
        Presence::ZeroDefault => Arc::new(Int64Array::from(vec![0; rows])),
        _ => new_null_array(field.data_type(), rows),
    }
}

/// Where one part's rows start in the table.
struct PartSpan {
    file: PathBuf,
    first_row: usize,
}

/// The set of the values of `column`, which must be unique; a repeat is an error naming
/// the file and row of its second occurrence.
fn unique_ids(batch: &RecordBatch, column: &str, spans: &[PartSpan]) -> Result<IdSet> {
    let values = batch[column].as_primitive::<Int64Type>();
    let mut ids = IdSet::for_values(values);
    let repeat = values.values().iter().position(|&id| !ids.insert(id));
    let Some(index) = repeat else {
        return Ok(ids);
    };
    let span = spans
        .iter()
        .rev()
        .find(|s| s.first_row <= index)
        .expect("a part holds every row");
    Err(LoadError::DuplicateId {
        file: span.file.clone(),
        column: column.to_string(),
        row: index - span.first_row + 1,
        id: values.value(index),
    })
}
