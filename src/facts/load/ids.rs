//! A set of `i64` ids for duplicate checks and for finding rows that point nowhere.

use std::collections::HashSet;
use std::hash::{BuildHasherDefault, Hasher};

/// Ids seen so far. Hashing is a single multiply: ids come from the tenant's own data, and the
/// default SipHash would dominate the load time of tens of millions of rows.
#[derive(Debug, Default)]
pub(super) struct IdSet {
    ids: HashSet<i64, BuildHasherDefault<IdHasher>>,
}

impl IdSet {
    pub fn with_capacity(capacity: usize) -> IdSet {
        IdSet {
            ids: HashSet::with_capacity_and_hasher(capacity, Default::default()),
        }
    }

    /// Adds `id`; false if it was already there.
    pub fn insert(&mut self, id: i64) -> bool {
        self.ids.insert(id)
    }

    pub fn contains(&self, id: i64) -> bool {
        self.ids.contains(&id)
    }

    pub fn remove(&mut self, id: i64) {
        self.ids.remove(&id);
    }
}

/// Multiplicative hashing (Fibonacci), folded so both high and low bits vary.
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

    #[test]
    fn reports_repeats_and_removals() {
        let mut ids = IdSet::with_capacity(4);
        assert!(ids.insert(-7));
        assert!(ids.insert(1 << 40));
        assert!(!ids.insert(-7));
        ids.remove(-7);
        assert!(!ids.contains(-7));
        assert!(ids.contains(1 << 40));
    }
}
