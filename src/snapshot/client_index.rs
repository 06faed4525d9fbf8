//! Dense client positions: `client_id` to a `u32` and back.

use std::collections::HashMap;

use arrow::array::Int64Array;
use roaring::RoaringBitmap;

/// Maps client ids to dense positions, the bit numbers of every membership bitmap.
///
/// Invariant: positions ascend with client ids, so a bitmap iterates its members in id
/// order and "the lower client id" is "the lower position". Positions belong to one
/// snapshot; anything stored across reloads keeps client ids.
#[derive(Debug, Clone, Default)]
pub struct ClientIndex {
    ids: Vec<i64>,
    positions: HashMap<i64, u32>,
}

impl ClientIndex {
    /// Indexes ids that are already sorted ascending and unique.
    pub fn from_sorted(ids: &Int64Array) -> ClientIndex {
        let ids: Vec<i64> = ids.values().to_vec();
        debug_assert!(
            ids.windows(2).all(|w| w[0] < w[1]),
            "client ids must be sorted"
        );
        let positions = ids
            .iter()
            .enumerate()
            .map(|(pos, id)| (*id, pos as u32))
            .collect();
        ClientIndex { ids, positions }
    }

    pub fn len(&self) -> usize {
        self.ids.len()
    }

    pub fn is_empty(&self) -> bool {
        self.ids.is_empty()
    }

    pub fn position(&self, client_id: i64) -> Option<u32> {
        self.positions.get(&client_id).copied()
    }

    pub fn client_id(&self, position: u32) -> i64 {
        self.ids[position as usize]
    }

    /// Every client id, in position order.
    pub fn ids(&self) -> &[i64] {
        &self.ids
    }

    /// The client ids of a bitmap's members, ascending.
    pub fn ids_of(&self, members: &RoaringBitmap) -> Vec<i64> {
        members.iter().map(|pos| self.client_id(pos)).collect()
    }

    /// Positions for client ids; ids not in the index come back apart, in input order.
    pub fn positions_of(&self, ids: &[i64]) -> (RoaringBitmap, Vec<i64>) {
        let mut found = RoaringBitmap::new();
        let mut unknown = Vec::new();
        for id in ids {
            match self.position(*id) {
                Some(pos) => {
                    found.insert(pos);
                }
                None => unknown.push(*id),
            }
        }
        (found, unknown)
    }
}
