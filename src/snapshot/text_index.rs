//! Bitmaps per normalised text value, so text and tag conditions never scan.

use std::collections::HashMap;

use arrow::array::{Array, ListArray, StringArray};
use roaring::RoaringBitmap;

use crate::rules::normalize_text;

/// For one text column: the clients holding each normalised value, and those with none.
#[derive(Debug, Clone, Default)]
pub struct TextIndex {
    by_value: HashMap<String, RoaringBitmap>,
    /// Missing, empty or blank.
    empty: RoaringBitmap,
}

impl TextIndex {
    /// Indexes a column whose row `i` is client position `i`.
    pub fn from_column(column: &StringArray) -> TextIndex {
        let mut index = TextIndex::default();
        for (pos, value) in column.iter().enumerate() {
            index.add(pos as u32, value);
        }
        index
    }

    /// Indexes a list column (tags): a client is under each of its values.
    pub fn from_lists(column: &ListArray) -> TextIndex {
        let mut index = TextIndex::default();
        for pos in 0..column.len() {
            let values = (!column.is_null(pos)).then(|| column.value(pos));
            let strings = values
                .as_ref()
                .and_then(|v| v.as_any().downcast_ref::<StringArray>());
            let present: Vec<&str> = strings
                .map(|s| s.iter().flatten().collect())
                .unwrap_or_default();
            if present.iter().all(|s| s.trim().is_empty()) {
                index.empty.insert(pos as u32);
            }
            for value in present {
                index.add(pos as u32, Some(value));
            }
        }
        index
    }

    fn add(&mut self, pos: u32, value: Option<&str>) {
        let normalized = value.map(normalize_text).unwrap_or_default();
        if normalized.is_empty() {
            self.empty.insert(pos);
        } else {
            self.by_value.entry(normalized).or_default().insert(pos);
        }
    }

    /// Clients holding this already-normalised value.
    pub fn get(&self, normalized: &str) -> Option<&RoaringBitmap> {
        self.by_value.get(normalized)
    }

    pub fn empty(&self) -> &RoaringBitmap {
        &self.empty
    }

    /// Distinct values with their client counts, most common first.
    pub fn values(&self) -> Vec<(&str, u64)> {
        let mut values: Vec<_> = self
            .by_value
            .iter()
            .map(|(v, b)| (v.as_str(), b.len()))
            .collect();
        values.sort_by(|a, b| b.1.cmp(&a.1).then(a.0.cmp(b.0)));
        values
    }
}
