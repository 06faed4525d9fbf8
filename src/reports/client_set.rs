//! [`ClientSet`]: the clients one aggregate group has seen, built one row at a time.
//!
//! Inserting row by row into a roaring bitmap shifts its sorted arrays on every insert of a
//! random position, which made that the hottest spot of a report. This set is built for
//! the insert pattern of a scan instead: a plain list while small, then one 8 KiB bit
//! block per 65,536 positions, allocated on first touch, so an insert is a push or a bit
//! set. It becomes a roaring bitmap only once, when the group is emitted.

use roaring::RoaringBitmap;

/// Positions per block: the low 16 bits address a bit inside a block.
const BLOCK_BITS: u32 = 16;
const BLOCK_WORDS: usize = 1 << (BLOCK_BITS - 6);
/// Inserts a list takes before it becomes blocks.
const LIST_MAX: usize = 4_096;

type Block = Box<[u64; BLOCK_WORDS]>;

#[derive(Debug, Clone)]
pub enum ClientSet {
    /// Positions as inserted: unsorted, maybe repeated.
    List(Vec<u32>),
    /// Block `i` holds positions `i << 16 ..`; none until one of them is inserted.
    Blocks(Vec<Option<Block>>),
}

impl Default for ClientSet {
    fn default() -> ClientSet {
        ClientSet::List(Vec::new())
    }
}

impl ClientSet {
    pub fn insert(&mut self, position: u32) {
        match self {
            ClientSet::List(list) => {
                list.push(position);
                if list.len() > LIST_MAX {
                    self.make_blocks();
                }
            }
            ClientSet::Blocks(blocks) => set(blocks, position),
        }
    }

    /// Adds every member of `other`.
    pub fn union(&mut self, other: &RoaringBitmap) {
        other.iter().for_each(|position| self.insert(position));
    }

    /// How many different positions the set holds.
    pub fn len(&self) -> u64 {
        match self {
            ClientSet::List(_) => self.to_bitmap().len(),
            ClientSet::Blocks(blocks) => blocks
                .iter()
                .flatten()
                .map(|b| b.iter().map(|w| u64::from(w.count_ones())).sum::<u64>())
                .sum(),
        }
    }

    pub fn to_bitmap(&self) -> RoaringBitmap {
        match self {
            ClientSet::List(list) => {
                let mut sorted = list.clone();
                sorted.sort_unstable();
                sorted.dedup();
                RoaringBitmap::from_sorted_iter(sorted).expect("sorted positions")
            }
            ClientSet::Blocks(blocks) => {
                RoaringBitmap::from_sorted_iter(block_positions(blocks)).expect("ascending bits")
            }
        }
    }

    /// Bytes held, for DataFusion's memory accounting.
    pub fn size(&self) -> usize {
        match self {
            ClientSet::List(list) => list.capacity() * 4,
            ClientSet::Blocks(blocks) => {
                let allocated = blocks.iter().flatten().count();
                blocks.capacity() * size_of::<Option<Block>>() + allocated * BLOCK_WORDS * 8
            }
        }
    }

    fn make_blocks(&mut self) {
        if let ClientSet::List(list) = self {
            let mut blocks = Vec::new();
            list.iter().for_each(|position| set(&mut blocks, *position));
            *self = ClientSet::Blocks(blocks);
        }
    }
}

fn set(blocks: &mut Vec<Option<Block>>, position: u32) {
    let index = (position >> BLOCK_BITS) as usize;
    if blocks.len() <= index {
        blocks.resize_with(index + 1, || None);
    }
    let block = blocks[index].get_or_insert_with(|| Box::new([0; BLOCK_WORDS]));
    let bit = position & ((1 << BLOCK_BITS) - 1);
    block[(bit >> 6) as usize] |= 1 << (bit & 63);
}

/// The set bits of every block, ascending.
fn block_positions(blocks: &[Option<Block>]) -> impl Iterator<Item = u32> + '_ {
    let words = blocks.iter().enumerate().flat_map(|(index, block)| {
        let base = (index as u32) << BLOCK_BITS;
        let block = block.as_deref().map(|b| &b[..]).unwrap_or(&[]);
        block
            .iter()
            .enumerate()
            .map(move |(w, word)| (base + (w as u32) * 64, *word))
    });
    words.flat_map(|(base, mut word)| {
        std::iter::from_fn(move || {
            (word != 0).then(|| {
                let bit = word.trailing_zeros();
                word &= word - 1;
                base + bit
            })
        })
    })
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeSet;

    use proptest::prelude::*;

    use super::*;

    proptest! {
        /// Whatever the inserts and unions, the set is the plain set of what went in.
        #[test]
        fn matches_a_btree_set(
            inserts in prop::collection::vec(0u32..300_000, 0..6_000),
            merged in prop::collection::vec(0u32..300_000, 0..2_000),
        ) {
            let mut set = ClientSet::default();
            inserts.iter().for_each(|p| set.insert(*p));
            set.union(&merged.iter().copied().collect());
            let oracle: BTreeSet<u32> = inserts.iter().chain(&merged).copied().collect();
            prop_assert_eq!(set.len(), oracle.len() as u64);
            let members: Vec<u32> = set.to_bitmap().iter().collect();
            prop_assert_eq!(members, oracle.into_iter().collect::<Vec<_>>());
        }
    }

    #[test]
    fn a_list_becomes_blocks_past_its_limit() {
        let mut set = ClientSet::default();
        (0..=LIST_MAX as u32).for_each(|p| set.insert(p * 3));
        assert!(matches!(set, ClientSet::Blocks(_)));
        set.insert(u32::MAX);
        assert_eq!(set.len(), LIST_MAX as u64 + 2);
        assert_eq!(set.to_bitmap().max(), Some(u32::MAX));
    }
}
