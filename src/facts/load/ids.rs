//! A set of `i64` ids for duplicate checks and for finding rows that point nowhere.
//!
//! Ids are usually dense (1..n with few gaps): then the set is a bitmap over their range,
//! a few megabytes for tens of millions of ids, and lookups stay in cache. Sparse ids fall
//! back to a hash set.

use std::collections::HashSet;
use std::hash::{BuildHasherDefault, Hasher};

use arrow::array::Int64Array;
use arrow::compute::{max, min};

/// How many bits per id a dense set may spend before a hash set is smaller.
const DENSE_BITS_PER_ID_MAX: u64 = 64;
/// Ranges this small are always dense (8 KiB).
const DENSE_RANGE_MIN: u64 = 1 << 16;

/// Ids seen so far.
#[derive(Debug)]
pub(super) enum IdSet {
    /// Bit `id - low` is set for each id in the set.
    Dense {
        low: i64,
        bits: Vec<u64>,
    },
    Sparse(HashSet<i64, BuildHasherDefault<IdHasher>>),
}

impl Default for IdSet {
    fn default() -> IdSet {
        IdSet::Dense {
            low: 0,
            bits: Vec::new(),
        }
    }
}

impl IdSet {
    /// An empty set with room for the values of `ids`, dense when their range is small
    /// next to their count.
    pub fn for_values(ids: &Int64Array) -> IdSet {
        let (Some(low), Some(high)) = (min(ids), max(ids)) else {
            return IdSet::default();
        };
        let range = high.abs_diff(low).saturating_add(1);
        let count = ids.len() as u64;
        if range <= DENSE_RANGE_MIN.max(count.saturating_mul(DENSE_BITS_PER_ID_MAX)) {
            let words = usize::try_from(range.div_ceil(64)).expect("bounded by the row count");
            IdSet::Dense {
                low,
                bits: vec![0; words],
            }
        } else {
            let hasher = BuildHasherDefault::default();
            IdSet::Sparse(HashSet::with_capacity_and_hasher(ids.len(), hasher))
        }
    }

    /// Adds `id`; false if it was already there.
    ///
    /// # Panics
    /// A dense set only holds ids within the range it was made for.
    pub fn insert(&mut self, id: i64) -> bool {
        match self {
            IdSet::Dense { low, bits } => {
                let (word, mask) = bit(*low, id).expect("id within the set's range");
                let fresh = bits[word] & mask == 0;
                bits[word] |= mask;
                fresh
            }
            IdSet::Sparse(ids) => ids.insert(id),
        }
    }

    pub fn contains(&self, id: i64) -> bool {
        match self {
            IdSet::Dense { low, bits } => bit(*low, id)
                .is_some_and(|(word, mask)| bits.get(word).is_some_and(|w| w & mask != 0)),
            IdSet::Sparse(ids) => ids.contains(&id),
        }
    }

    pub fn remove(&mut self, id: i64) {
        match self {
            IdSet::Dense { low, bits } => {
                if let Some((word, mask)) = bit(*low, id)
                    && let Some(bits) = bits.get_mut(word)
                {
                    *bits &= !mask;
                }
            }
            IdSet::Sparse(ids) => {
                ids.remove(&id);
            }
        }
    }
}

/// The word and mask of `id` in a bitmap starting at `low`; `None` below `low`.
fn bit(low: i64, id: i64) -> Option<(usize, u64)> {
    let offset = u64::try_from(i128::from(id) - i128::from(low)).ok()?;
    let word = usize::try_from(offset / 64).ok()?;
    Some((word, 1 << (offset % 64)))
}

/// Multiplicative hashing (Fibonacci), folded so both high and low bits vary. Ids come from
/// the tenant's own data, and SipHash would dominate the load of tens of millions of rows.
#[derive(Debug, Default)]
pub(super) struct IdHasher(u64);

impl Hasher for IdHasher {
    fn finish(&self) -> u64 {
        self.0
    }

    fn write(&mut self, bytes: &[u8]) {
        for &byte in bytes {
            self.write_u64(u64::from(byte));
        }
    }

    fn write_u64(&mut self, value: u64) {
        let mixed = (self.0 ^ value).wrapping_mul(0x9E37_79B9_7F4A_7C15);
        self.0 = mixed ^ (mixed >> 32);
    }

    fn write_i64(&mut self, value: i64) {
        self.write_u64(value as u64);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[track_caller]
    fn check(values: Vec<i64>, absent: &[i64], dense: bool) {
        let array = Int64Array::from(values.clone());
        let mut ids = IdSet::for_values(&array);
        assert_eq!(matches!(ids, IdSet::Dense { .. }), dense, "{values:?}");
        for &id in &values {
            assert!(ids.insert(id), "{id} is new");
        }
        assert!(!ids.insert(values[0]), "{} is a repeat", values[0]);
        ids.remove(values[0]);
        assert!(!ids.contains(values[0]));
        assert!(values[1..].iter().all(|&id| ids.contains(id)));
        assert!(
            absent.iter().all(|&id| !ids.contains(id)),
            "{absent:?} absent"
        );
    }

    #[test]
    fn holds_dense_and_sparse_ids_alike() {
        check(
            vec![5, -3, 60_000, 64, 0],
            &[-4, 1, 60_001, i64::MIN, i64::MAX],
            true,
        );
        check(vec![1 << 40, -7, 1, i64::MAX - 1], &[0, i64::MAX], false);
        check(vec![i64::MIN, i64::MAX, 0], &[1, i64::MIN + 1], false);
    }
}
