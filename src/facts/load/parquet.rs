//! Reading a Parquet part: its schema up front, then its rows in large batches of only the
//! columns the table reads.

use std::fs::File;
use std::path::Path;

use arrow::datatypes::SchemaRef;
use arrow::record_batch::RecordBatch;
use parquet::arrow::ProjectionMask;
use parquet::arrow::arrow_reader::ParquetRecordBatchReaderBuilder;

use super::error::{LoadError, Result};

/// Rows per decoded batch: large, so per-batch overhead vanishes at millions of rows.
const BATCH_ROWS: usize = 128 * 1024;

/// An opened Parquet file whose rows are not read yet.
pub(super) struct ParquetPart {
    builder: ParquetRecordBatchReaderBuilder<File>,
}

impl ParquetPart {
    /// Opens `path` and reads its footer.
    ///
    /// # Errors
    /// The file cannot be opened or is not Parquet.
    pub fn open(path: &Path) -> Result<ParquetPart> {
        let file = File::open(path).map_err(|e| LoadError::io(path, e))?;
        let builder = ParquetRecordBatchReaderBuilder::try_new(file)
            .map_err(|e| LoadError::parquet(path, e))?;
        Ok(ParquetPart { builder })
    }

    pub fn schema(&self) -> SchemaRef {
        self.builder.schema().clone()
    }

    pub fn rows(&self) -> usize {
        let rows = self.builder.metadata().file_metadata().num_rows();
        usize::try_from(rows).unwrap_or(0)
    }

    /// The file's rows, in batches holding only the columns for which `reads` is true.
    ///
    /// # Errors
    /// The reader cannot be built; each batch may fail to decode.
    pub fn batches(
        self,
        path: &Path,
        reads: &dyn Fn(&str) -> bool,
    ) -> Result<impl Iterator<Item = Result<RecordBatch>> + use<>> {
        let total = self.rows();
        let read_columns = self.builder.schema().fields().iter().enumerate();
        let roots: Vec<usize> = read_columns
            .filter(|(_, field)| reads(field.name()))
            .map(|(i, _)| i)
            .collect();
        let mask = ProjectionMask::roots(self.builder.parquet_schema(), roots);
        let reader = self
            .builder
            .with_projection(mask)
            .with_batch_size(BATCH_ROWS)
            .build()
            .map_err(|e| LoadError::parquet(path, e))?;
        let path = path.to_path_buf();
        let mut first_row = 1;
        Ok(reader.map(move |batch| match batch {
            Ok(batch) => {
                first_row += batch.num_rows();
                Ok(batch)
            }
            Err(source) => Err(LoadError::Decode {
                file: path.clone(),
                first_row,
                last_row: (first_row + BATCH_ROWS - 1).min(total),
                source,
            }),
        }))
    }
}
