//! Collecting a table's canonical batches into one batch. Each column is appended, batch
//! after batch, to a buffer sized once for all the table's rows, so a table is never held
//! twice in memory (as converted batches and as their concatenation).

use std::sync::Arc;

use arrow::array::builder::NullBufferBuilder;
use arrow::array::{
    Array, ArrayRef, ArrowPrimitiveType, AsArray, BooleanBuilder, PrimitiveArray, StringBuilder,
};
use arrow::compute::concat;
use arrow::datatypes::{
    DataType, Date32Type, Float64Type, Int64Type, SchemaRef, TimeUnit, TimestampMicrosecondType,
};
use arrow::error::ArrowError;
use arrow::record_batch::{RecordBatch, RecordBatchOptions};

/// The canonical columns of one table, growing batch by batch.
pub(super) struct TableSink {
    schema: SchemaRef,
    columns: Vec<ColumnSink>,
    rows: usize,
}

impl TableSink {
    /// A sink for `schema`, with room for `capacity` rows.
    pub fn new(schema: &SchemaRef, capacity: usize) -> TableSink {
        let columns = schema
            .fields()
            .iter()
            .map(|f| ColumnSink::new(f.data_type(), capacity));
        TableSink {
            schema: schema.clone(),
            columns: columns.collect(),
            rows: 0,
        }
    }

    /// Rows appended so far.
    pub fn rows(&self) -> usize {
        self.rows
    }

    /// Appends a batch of the sink's schema.
    ///
    /// # Errors
    /// Text beyond the 2 GiB a `Utf8` column can hold.
    pub fn append(&mut self, batch: &RecordBatch) -> Result<(), ArrowError> {
        for (sink, column) in self.columns.iter_mut().zip(batch.columns()) {
            sink.append(column)?;
        }
        self.rows += batch.num_rows();
        Ok(())
    }

    /// The one batch of every row appended.
    ///
    /// # Errors
    /// Only if the columns disagree with the schema, which is a bug.
    pub fn finish(self) -> Result<RecordBatch, ArrowError> {
        let columns: Vec<ArrayRef> = self
            .columns
            .into_iter()
            .map(ColumnSink::finish)
            .collect::<Result<_, _>>()?;
        let options = RecordBatchOptions::new().with_row_count(Some(self.rows));
        RecordBatch::try_new_with_options(self.schema, columns, &options)
    }
}

/// One column's buffers; types without a dedicated buffer keep their arrays for a final
/// concatenation (only `tags`, on the much smaller clients table).
enum ColumnSink {
    Int64(PrimitiveSink<Int64Type>),
    Timestamp(PrimitiveSink<TimestampMicrosecondType>),
    Date(PrimitiveSink<Date32Type>),
    Float(PrimitiveSink<Float64Type>),
    Boolean(BooleanBuilder),
    /// Created on the first batch, whose text length sizes the buffer.
    Text {
        builder: Option<StringBuilder>,
        capacity: usize,
    },
    Arrays {
        data_type: DataType,
        arrays: Vec<ArrayRef>,
    },
}

impl ColumnSink {
    fn new(data_type: &DataType, capacity: usize) -> ColumnSink {
        match data_type {
            DataType::Int64 => ColumnSink::Int64(PrimitiveSink::new(capacity)),
            DataType::Timestamp(TimeUnit::Microsecond, _) => {
                ColumnSink::Timestamp(PrimitiveSink::new(capacity))
            }
            DataType::Date32 => ColumnSink::Date(PrimitiveSink::new(capacity)),
            DataType::Float64 => ColumnSink::Float(PrimitiveSink::new(capacity)),
            DataType::Boolean => ColumnSink::Boolean(BooleanBuilder::with_capacity(capacity)),
            DataType::Utf8 => ColumnSink::Text {
                builder: None,
                capacity,
            },
            other => ColumnSink::Arrays {
                data_type: other.clone(),
                arrays: Vec::new(),
            },
        }
    }

    fn append(&mut self, array: &ArrayRef) -> Result<(), ArrowError> {
        match self {
            ColumnSink::Int64(sink) => sink.append(array.as_primitive()),
            ColumnSink::Timestamp(sink) => sink.append(array.as_primitive()),
            ColumnSink::Date(sink) => sink.append(array.as_primitive()),
            ColumnSink::Float(sink) => sink.append(array.as_primitive()),
            ColumnSink::Boolean(builder) => builder.append_array(array.as_boolean()),
            ColumnSink::Text { builder, capacity } => {
                let texts = array.as_string::<i32>();
                let builder = builder.get_or_insert_with(|| text_builder(texts, *capacity));
                builder.append_array(texts)?;
            }
            ColumnSink::Arrays { arrays, .. } => arrays.push(array.clone()),
        }
        Ok(())
    }

    fn finish(self) -> Result<ArrayRef, ArrowError> {
        match self {
            ColumnSink::Int64(sink) => Ok(sink.finish(DataType::Int64)),
            ColumnSink::Timestamp(sink) => Ok(sink.finish(crate::facts::schema::timestamp_type())),
            ColumnSink::Date(sink) => Ok(sink.finish(DataType::Date32)),
            ColumnSink::Float(sink) => Ok(sink.finish(DataType::Float64)),
            ColumnSink::Boolean(mut builder) => Ok(Arc::new(builder.finish())),
            ColumnSink::Text { builder, .. } => {
                let mut builder = builder.unwrap_or_default();
                Ok(Arc::new(builder.finish()))
            }
            ColumnSink::Arrays { data_type, arrays } => match arrays.as_slice() {
                [] => Ok(arrow::array::new_empty_array(&data_type)),
                arrays => concat(&arrays.iter().map(|a| a.as_ref()).collect::<Vec<_>>()),
            },
        }
    }
}

/// A string builder for `rows` rows, its text buffer sized on the first batch's average.
fn text_builder(first: &arrow::array::StringArray, rows: usize) -> StringBuilder {
    let bytes_per_row = first.value_data().len() / first.len().max(1) + 1;
    StringBuilder::with_capacity(rows, rows.saturating_mul(bytes_per_row))
}

/// Values and validity of a primitive column.
struct PrimitiveSink<T: ArrowPrimitiveType> {
    values: Vec<T::Native>,
    nulls: NullBufferBuilder,
}

impl<T: ArrowPrimitiveType> PrimitiveSink<T> {
    fn new(capacity: usize) -> Self {
        PrimitiveSink {
            values: Vec::with_capacity(capacity),
            nulls: NullBufferBuilder::new(capacity),
        }
    }

    fn append(&mut self, array: &PrimitiveArray<T>) {
        self.values.extend_from_slice(array.values());
        match array.nulls() {
            Some(nulls) => self.nulls.append_buffer(nulls),
            None => self.nulls.append_n_non_nulls(array.len()),
        }
    }

    fn finish(mut self, data_type: DataType) -> ArrayRef {
        let array = PrimitiveArray::<T>::new(self.values.into(), self.nulls.finish());
        Arc::new(array.with_data_type(data_type))
    }
}
