//! `label(key)`: a table lookup inside a plan, from an integer key (a local day, a client
//! position) to a small label number (a period of the report, a country), so that grouping
//! runs on plain integers instead of dates or strings.

use std::hash::{Hash, Hasher};
use std::sync::Arc;

use arrow::array::{Array, ArrayRef, AsArray, UInt32Array};
use arrow::buffer::{BooleanBuffer, NullBuffer, ScalarBuffer};
use arrow::datatypes::{DataType, Date32Type, UInt32Type};
use datafusion::common::exec_err;
use datafusion::logical_expr::{
    ColumnarValue, ScalarFunctionArgs, ScalarUDF, ScalarUDFImpl, Signature, TypeSignature,
    Volatility,
};
use datafusion::prelude::{Expr, col};

/// The label of a key that has none: the lookup returns null for it.
pub const NO_LABEL: u32 = u32::MAX;

/// Labels of the consecutive keys `first_key, first_key + 1, ...`; keys outside have none.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LabelTable {
    pub first_key: i64,
    pub labels: Vec<u32>,
}

impl LabelTable {
    pub fn label(&self, key: i64) -> u32 {
        let index = usize::try_from(key - self.first_key).ok();
        index
            .and_then(|i| self.labels.get(i))
            .copied()
            .unwrap_or(NO_LABEL)
    }

    /// Labels of `keys`, null where the key is null or has no label.
    fn apply(
        &self,
        keys: impl ExactSizeIterator<Item = i64>,
        nulls: Option<&NullBuffer>,
    ) -> UInt32Array {
        let labels: ScalarBuffer<u32> = keys.map(|k| self.label(k)).collect();
        let labelled = BooleanBuffer::collect_bool(labels.len(), |i| labels[i] != NO_LABEL);
        let valid = match nulls {
            Some(nulls) => &labelled & nulls.inner(),
            None => labelled,
        };
        UInt32Array::new(labels, Some(NullBuffer::new(valid)))
    }
}

/// The expression `name(column)` looking `column` (`Date32` or `UInt32`) up in `table`.
pub fn label(name: &'static str, table: Arc<LabelTable>, column: &str) -> Expr {
    ScalarUDF::new_from_impl(Label::new(name, table)).call(vec![col(column)])
}

#[derive(Debug)]
struct Label {
    name: &'static str,
    table: Arc<LabelTable>,
    signature: Signature,
}

impl Label {
    fn new(name: &'static str, table: Arc<LabelTable>) -> Label {
        let accepted = [DataType::Date32, DataType::UInt32]
            .map(|t| TypeSignature::Exact(vec![t]))
            .to_vec();
        let signature = Signature::one_of(accepted, Volatility::Immutable);
        Label {
            name,
            table,
            signature,
        }
    }
}

// Equal only when the table is shared, so plans of two queries are never merged.
impl PartialEq for Label {
    fn eq(&self, other: &Label) -> bool {
        self.name == other.name && Arc::ptr_eq(&self.table, &other.table)
    }
}

impl Eq for Label {}

impl Hash for Label {
    fn hash<H: Hasher>(&self, state: &mut H) {
        self.name.hash(state);
        Arc::as_ptr(&self.table).hash(state);
    }
}

impl ScalarUDFImpl for Label {
    fn name(&self) -> &str {
        self.name
    }

    fn signature(&self) -> &Signature {
        &self.signature
    }

    fn return_type(&self, _args: &[DataType]) -> datafusion::error::Result<DataType> {
        Ok(DataType::UInt32)
    }

    fn invoke_with_args(
        &self,
        args: ScalarFunctionArgs,
    ) -> datafusion::error::Result<ColumnarValue> {
        let [ColumnarValue::Array(keys)] = &args.args[..] else {
            let keys = args.args[0].to_array(args.number_rows)?;
            return self.invoke_array(&keys);
        };
        self.invoke_array(keys)
    }
}

impl Label {
    fn invoke_array(&self, keys: &ArrayRef) -> datafusion::error::Result<ColumnarValue> {
        let nulls = keys.nulls();
        let labels = match keys.data_type() {
            DataType::Date32 => {
                let days = keys.as_primitive::<Date32Type>().values();
                self.table.apply(days.iter().map(|d| i64::from(*d)), nulls)
            }
            DataType::UInt32 => {
                let positions = keys.as_primitive::<UInt32Type>().values();
                self.table
                    .apply(positions.iter().map(|p| i64::from(*p)), nulls)
            }
            other => return exec_err!("{} takes a Date32 or UInt32 key, got {other}", self.name),
        };
        Ok(ColumnarValue::Array(Arc::new(labels)))
    }
}
