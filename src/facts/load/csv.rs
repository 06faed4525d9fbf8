//! Reading a CSV part (header row required) into text columns. An empty or blank field is a
//! null; the values are parsed later, by the column's kind.

use std::path::Path;
use std::sync::Arc;

use arrow::array::{ArrayRef, StringBuilder};
use arrow::datatypes::{DataType, Field, Schema, SchemaRef};
use arrow::record_batch::{RecordBatch, RecordBatchOptions};

use super::error::{LoadError, Result};

/// A CSV file read into memory: all its column names, and the columns the table reads.
pub(super) struct CsvPart {
    /// Every column of the header, typed `Utf8`.
    pub schema: SchemaRef,
    /// The read columns, as text.
    pub batch: RecordBatch,
}

impl CsvPart {
    /// Reads `path`, keeping the columns for which `reads` is true.
    ///
    /// # Errors
    /// The file cannot be read, is not UTF-8, or a row has the wrong number of fields.
    pub fn read(path: &Path, reads: impl Fn(&str) -> bool) -> Result<CsvPart> {
        let mut reader = csv::ReaderBuilder::new()
            .has_headers(true)
            .from_path(path)
            .map_err(|e| LoadError::csv(path, e))?;
        let header = reader.headers().map_err(|e| LoadError::csv(path, e))?;
        let names: Vec<String> = header.iter().map(|name| name.trim().to_string()).collect();
        let kept: Vec<usize> = (0..names.len()).filter(|&i| reads(&names[i])).collect();

        let mut builders: Vec<StringBuilder> = kept.iter().map(|_| StringBuilder::new()).collect();
        let mut record = csv::StringRecord::new();
        let mut rows = 0;
        while reader
            .read_record(&mut record)
            .map_err(|e| LoadError::csv(path, e))?
        {
            append_record(&record, &kept, &mut builders);
            rows += 1;
        }

        let schema = text_schema(names.iter());
        let kept_schema = text_schema(kept.iter().map(|&i| &names[i]));
        let columns: Vec<ArrayRef> = builders
            .iter_mut()
            .map(|b| Arc::new(b.finish()) as ArrayRef)
            .collect();
        let options = RecordBatchOptions::new().with_row_count(Some(rows));
        let batch = RecordBatch::try_new_with_options(kept_schema, columns, &options)
            .map_err(|e| LoadError::arrow(path, e))?;
        Ok(CsvPart { schema, batch })
    }
}

fn append_record(record: &csv::StringRecord, kept: &[usize], builders: &mut [StringBuilder]) {
    for (builder, &index) in builders.iter_mut().zip(kept) {
        match record.get(index) {
            Some(value) if !value.trim().is_empty() => builder.append_value(value),
            _ => builder.append_null(),
        }
    }
}

fn text_schema<'a>(names: impl Iterator<Item = &'a String>) -> SchemaRef {
    let fields: Vec<Field> = names
        .map(|name| Field::new(name, DataType::Utf8, true))
        .collect();
    Arc::new(Schema::new(fields))
}
