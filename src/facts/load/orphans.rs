//! Leaving out rows that point to a client or order that is not loaded. Such rows are not an
//! error: they are counted, a few of their ids kept as samples, and reported once per table.

use std::path::Path;

use arrow::array::{Array, AsArray, BooleanArray};
use arrow::buffer::BooleanBuffer;
use arrow::compute::{filter, filter_record_batch, not};
use arrow::datatypes::Int64Type;

use super::error::{LoadError, Result};
use super::ids::IdSet;
use super::table::LoadedTable;

/// How many left-out ids a report keeps.
const SAMPLES_MAX: usize = 5;

/// A reference from one table to another: `column` must be null or in `parents`.
pub(super) struct Link<'a> {
    pub column: &'static str,
    pub parents: &'a IdSet,
    pub parent_table: &'static str,
    /// The column whose values identify a left-out row in the report.
    pub row_id: &'static str,
}

/// Rows left out of one table.
#[derive(Debug, Default, PartialEq, Eq)]
pub(super) struct Orphans {
    pub count: usize,
    pub samples: Vec<i64>,
}

/// Removes the rows of `table` whose link points nowhere, and their ids from its id set.
///
/// # Errors
/// Only an Arrow kernel failure, which is a bug.
pub(super) fn drop_orphans(table: &mut LoadedTable, link: &Link, dir: &Path) -> Result<Orphans> {
    let keep = linked_rows(table, link);
    let count = keep.len() - keep.true_count();
    if count == 0 {
        return Ok(Orphans::default());
    }
    let arrow_error = |e| LoadError::arrow(dir, e);
    let left_out = not(&keep).map_err(arrow_error)?;
    let row_ids = filter(
        table.batch.column_by_name(link.row_id).expect("canonical"),
        &left_out,
    )
    .map_err(arrow_error)?;
    let row_ids = row_ids.as_primitive::<Int64Type>();
    if let Some(ids) = table.ids.as_mut() {
        row_ids.values().iter().for_each(|&id| ids.remove(id));
    }
    table.batch = filter_record_batch(&table.batch, &keep).map_err(arrow_error)?;
    Ok(Orphans {
        count,
        samples: samples(row_ids.values()),
    })
}

/// True for each row whose link is null or known. Lines of one order usually follow each
/// other, so the last lookup is reused.
fn linked_rows(table: &LoadedTable, link: &Link) -> BooleanArray {
    let column = table
        .batch
        .column_by_name(link.column)
        .expect("canonical column");
    let references = column.as_primitive::<Int64Type>();
    let mut last: Option<(i64, bool)> = None;
    let keep = BooleanBuffer::collect_bool(references.len(), |index| {
        if references.is_null(index) {
            return true;
        }
        let id = references.value(index);
        match last {
            Some((seen, known)) if seen == id => known,
            _ => {
                let known = link.parents.contains(id);
                last = Some((id, known));
                known
            }
        }
    });
    BooleanArray::new(keep, None)
}

/// The first few distinct ids.
fn samples(ids: &[i64]) -> Vec<i64> {
    let mut samples = Vec::with_capacity(SAMPLES_MAX);
    for &id in ids {
        if samples.len() == SAMPLES_MAX {
            break;
        }
        if !samples.contains(&id) {
            samples.push(id);
        }
    }
    samples
}
