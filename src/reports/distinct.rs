//! `distinct_clients(client_pos)` and `client_set(client_pos)`: the different clients of
//! a group of rows, kept as one roaring bitmap per group instead of a hash set of values.
//!
//! Positions are dense `u32`s, so a group's clients are a [`ClientSet`] while rows stream
//! in (inserting is a push or a bit set) and a roaring bitmap between partitions: partial
//! results travel serialized and merge with a union. `distinct_clients` answers the count;
//! `client_set` answers the serialized bitmap itself, so a caller can also unite groups
//! (the clients of a whole report are the union of its periods) without a second scan.
//! Null positions (guest sales) are not clients and are skipped.

use std::sync::Arc;

use arrow::array::{Array, ArrayRef, AsArray, BinaryArray, BooleanArray, Int64Array};
use arrow::datatypes::{DataType, Field, FieldRef, UInt32Type};
use datafusion::common::{ScalarValue, exec_datafusion_err};
use datafusion::error::Result;
use datafusion::logical_expr::function::{AccumulatorArgs, StateFieldsArgs};
use datafusion::logical_expr::{
    Accumulator, AggregateUDF, AggregateUDFImpl, EmitTo, GroupsAccumulator, Signature, Volatility,
};
use datafusion::prelude::Expr;
use roaring::RoaringBitmap;

use super::client_set::ClientSet;

/// The aggregate `distinct_clients(positions)`, an `Int64` count.
pub fn distinct_clients(positions: Expr) -> Expr {
    AggregateUDF::new_from_impl(DistinctClients::new(Output::Count)).call(vec![positions])
}

/// The aggregate `client_set(positions)`, a serialized roaring bitmap (`Binary`); read it
/// with [`read_client_set`].
pub fn client_set(positions: Expr) -> Expr {
    AggregateUDF::new_from_impl(DistinctClients::new(Output::Bitmap)).call(vec![positions])
}

/// Reads a `client_set` value.
///
/// # Errors
/// Only bytes that are not a bitmap, which means a bug.
pub fn read_client_set(bytes: &[u8]) -> Result<RoaringBitmap> {
    deserialize(bytes)
}

/// What the aggregate answers per group.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
enum Output {
    Count,
    Bitmap,
}

#[derive(Debug, PartialEq, Eq, Hash)]
struct DistinctClients {
    output: Output,
    signature: Signature,
}

impl DistinctClients {
    fn new(output: Output) -> DistinctClients {
        let signature = Signature::exact(vec![DataType::UInt32], Volatility::Immutable);
        DistinctClients { output, signature }
    }
}

impl AggregateUDFImpl for DistinctClients {
    fn name(&self) -> &str {
        match self.output {
            Output::Count => "distinct_clients",
            Output::Bitmap => "client_set",
        }
    }

    fn signature(&self) -> &Signature {
        &self.signature
    }

    fn return_type(&self, _args: &[DataType]) -> Result<DataType> {
        Ok(match self.output {
            Output::Count => DataType::Int64,
            Output::Bitmap => DataType::Binary,
        })
    }

    fn is_nullable(&self) -> bool {
        false
    }

    fn state_fields(&self, args: StateFieldsArgs) -> Result<Vec<FieldRef>> {
        let name = format!("{}[bitmap]", args.name);
        Ok(vec![Arc::new(Field::new(name, DataType::Binary, true))])
    }

    fn accumulator(&self, _args: AccumulatorArgs) -> Result<Box<dyn Accumulator>> {
        Ok(Box::new(OneGroup {
            output: self.output,
            clients: ClientSet::default(),
        }))
    }

    fn groups_accumulator_supported(&self, _args: AccumulatorArgs) -> bool {
        true
    }

    fn create_groups_accumulator(
        &self,
        _args: AccumulatorArgs,
    ) -> Result<Box<dyn GroupsAccumulator>> {
        Ok(Box::new(Groups {
            output: self.output,
            clients: Vec::new(),
        }))
    }

    fn default_value(&self, _data_type: &DataType) -> Result<ScalarValue> {
        Ok(self.output.of(&ClientSet::default()))
    }
}

impl Output {
    fn of(self, clients: &ClientSet) -> ScalarValue {
        match self {
            Output::Count => ScalarValue::Int64(Some(clients.len() as i64)),
            Output::Bitmap => ScalarValue::Binary(Some(serialize(&clients.to_bitmap()))),
        }
    }

    fn of_each(self, groups: &[ClientSet]) -> ArrayRef {
        match self {
            Output::Count => {
                let counts = groups.iter().map(|c| c.len() as i64);
                Arc::new(Int64Array::from_iter_values(counts))
            }
            Output::Bitmap => states(groups),
        }
    }
}

/// Each group's clients as a serialized bitmap: the partial state and the `client_set`
/// answer alike.
fn states(groups: &[ClientSet]) -> ArrayRef {
    let bytes: Vec<Vec<u8>> = groups.iter().map(|c| serialize(&c.to_bitmap())).collect();
    Arc::new(BinaryArray::from_iter_values(bytes.iter()))
}

fn serialize(bitmap: &RoaringBitmap) -> Vec<u8> {
    let mut bytes = Vec::with_capacity(bitmap.serialized_size());
    bitmap
        .serialize_into(&mut bytes)
        .expect("writing to memory");
    bytes
}

fn deserialize(bytes: &[u8]) -> Result<RoaringBitmap> {
    RoaringBitmap::deserialize_unchecked_from(bytes)
        .map_err(|e| exec_datafusion_err!("distinct_clients: a partial state is corrupt: {e}"))
}

/// The non-null positions of `values[0]`, where `filter` (if any) is true.
fn positions<'a>(
    values: &'a [ArrayRef],
    filter: Option<&'a BooleanArray>,
) -> impl Iterator<Item = (usize, u32)> + 'a {
    let array = values[0].as_primitive::<UInt32Type>();
    let kept = move |row: usize| array.is_valid(row) && filter.is_none_or(|f| f.value(row));
    (0..array.len())
        .filter(move |row| kept(*row))
        .map(move |row| (row, array.value(row)))
}

/// Without grouping: one set.
#[derive(Debug)]
struct OneGroup {
    output: Output,
    clients: ClientSet,
}

impl Accumulator for OneGroup {
    fn update_batch(&mut self, values: &[ArrayRef]) -> Result<()> {
        positions(values, None).for_each(|(_, p)| self.clients.insert(p));
        Ok(())
    }

    fn evaluate(&mut self) -> Result<ScalarValue> {
        Ok(self.output.of(&self.clients))
    }

    fn size(&self) -> usize {
        size_of::<Self>() + self.clients.size()
    }

    fn state(&mut self) -> Result<Vec<ScalarValue>> {
        let bytes = serialize(&self.clients.to_bitmap());
        Ok(vec![ScalarValue::Binary(Some(bytes))])
    }

    fn merge_batch(&mut self, states: &[ArrayRef]) -> Result<()> {
        for bytes in states[0].as_binary::<i32>().iter().flatten() {
            self.clients.union(&deserialize(bytes)?);
        }
        Ok(())
    }
}

/// One set per group.
#[derive(Debug)]
struct Groups {
    output: Output,
    clients: Vec<ClientSet>,
}

impl GroupsAccumulator for Groups {
    fn update_batch(
        &mut self,
        values: &[ArrayRef],
        group_indices: &[usize],
        opt_filter: Option<&BooleanArray>,
        total_num_groups: usize,
    ) -> Result<()> {
        self.clients
            .resize_with(total_num_groups, ClientSet::default);
        for (row, position) in positions(values, opt_filter) {
            self.clients[group_indices[row]].insert(position);
        }
        Ok(())
    }

    fn evaluate(&mut self, emit_to: EmitTo) -> Result<ArrayRef> {
        let emitted = emit_to.take_needed(&mut self.clients);
        Ok(self.output.of_each(&emitted))
    }

    fn state(&mut self, emit_to: EmitTo) -> Result<Vec<ArrayRef>> {
        let emitted = emit_to.take_needed(&mut self.clients);
        Ok(vec![states(&emitted)])
    }

    fn merge_batch(
        &mut self,
        values: &[ArrayRef],
        group_indices: &[usize],
        total_num_groups: usize,
    ) -> Result<()> {
        self.clients
            .resize_with(total_num_groups, ClientSet::default);
        let states = values[0].as_binary::<i32>();
        for (row, group) in group_indices.iter().enumerate() {
            if states.is_valid(row) {
                self.clients[*group].union(&deserialize(states.value(row))?);
            }
        }
        Ok(())
    }

    fn convert_to_state(
        &self,
        values: &[ArrayRef],
        opt_filter: Option<&BooleanArray>,
    ) -> Result<Vec<ArrayRef>> {
        let mut states: Vec<Vec<u8>> = vec![serialize(&RoaringBitmap::new()); values[0].len()];
        for (row, position) in positions(values, opt_filter) {
            states[row] = serialize(&RoaringBitmap::from_iter([position]));
        }
        Ok(vec![Arc::new(BinaryArray::from_iter_values(states.iter()))])
    }

    fn size(&self) -> usize {
        let sets: usize = self.clients.iter().map(ClientSet::size).sum();
        size_of::<Self>() + sets
    }
}

#[cfg(test)]
mod tests {
    use arrow::array::UInt32Array;

    use super::*;

    fn column(values: &[Option<u32>]) -> Vec<ArrayRef> {
        vec![Arc::new(UInt32Array::from(values.to_vec()))]
    }

    fn counting() -> Groups {
        Groups {
            output: Output::Count,
            clients: Vec::new(),
        }
    }

    #[test]
    fn groups_count_each_position_once_and_skip_nulls() {
        let mut groups = counting();
        let values = column(&[Some(1), Some(1), None, Some(2), Some(7), Some(7)]);
        groups
            .update_batch(&values, &[0, 0, 0, 1, 1, 2], None, 3)
            .unwrap();
        let filter = BooleanArray::from(vec![true, false]);
        groups
            .update_batch(&column(&[Some(3), Some(9)]), &[0, 0], Some(&filter), 3)
            .unwrap();
        let counts = groups.evaluate(EmitTo::All).unwrap();
        assert_eq!(
            counts
                .as_primitive::<arrow::datatypes::Int64Type>()
                .values(),
            &[2, 2, 1]
        );
    }

    #[test]
    fn partial_states_merge_by_union() {
        let mut left = counting();
        left.update_batch(&column(&[Some(1), Some(2)]), &[0, 1], None, 2)
            .unwrap();
        let mut right = counting();
        let converted = right
            .convert_to_state(&column(&[Some(2), None, Some(5)]), None)
            .unwrap();
        right.merge_batch(&converted, &[1, 0, 1], 2).unwrap();
        right
            .merge_batch(&left.state(EmitTo::All).unwrap(), &[0, 1], 2)
            .unwrap();
        let counts = right.evaluate(EmitTo::All).unwrap();
        // Group 0: {1}; group 1: {2, 5} ∪ {2}.
        assert_eq!(
            counts
                .as_primitive::<arrow::datatypes::Int64Type>()
                .values(),
            &[1, 2]
        );
    }

    #[test]
    fn one_group_counts_across_batches_and_merges() {
        let one = || OneGroup {
            output: Output::Count,
            clients: ClientSet::default(),
        };
        let mut first = one();
        first
            .update_batch(&column(&[Some(4), None, Some(4), Some(8)]))
            .unwrap();
        let mut second = one();
        second.update_batch(&column(&[Some(8), Some(9)])).unwrap();
        let ScalarValue::Binary(Some(state)) = second.state().unwrap().remove(0) else {
            panic!("a binary state");
        };
        let states: ArrayRef = Arc::new(BinaryArray::from_iter_values([state]));
        first.merge_batch(&[states]).unwrap();
        assert_eq!(first.evaluate().unwrap(), ScalarValue::Int64(Some(3)));
    }

    #[test]
    fn client_sets_answer_the_bitmaps() {
        let mut groups = Groups {
            output: Output::Bitmap,
            clients: Vec::new(),
        };
        groups
            .update_batch(&column(&[Some(3), Some(1), Some(3)]), &[0, 1, 1], None, 2)
            .unwrap();
        let sets = groups.evaluate(EmitTo::All).unwrap();
        let sets: Vec<Vec<u32>> = sets
            .as_binary::<i32>()
            .iter()
            .map(|b| read_client_set(b.unwrap()).unwrap().iter().collect())
            .collect();
        assert_eq!(sets, [vec![3], vec![1, 3]]);
    }
}
