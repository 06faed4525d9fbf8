//! Which segments read which through `segment` conditions: loops, dependents and the order
//! in which a refresh evaluates segments (what a rule reads comes before it).

use std::collections::{BTreeMap, BTreeSet};

/// Edges from a segment to the segments its rule reads.
#[derive(Debug, Clone, Default)]
pub(super) struct Graph {
    reads: BTreeMap<i64, BTreeSet<i64>>,
}

impl Graph {
    pub fn from_edges(edges: &[(i64, i64)]) -> Graph {
        let mut graph = Graph::default();
        for (from, to) in edges {
            graph.reads.entry(*from).or_default().insert(*to);
        }
        graph
    }

    /// The same graph with `id`'s rule reading `refs` instead.
    pub fn with(mut self, id: i64, refs: &[i64]) -> Graph {
        self.reads.insert(id, refs.iter().copied().collect());
        self
    }

    /// The segments `id` reads directly.
    pub fn reads(&self, id: i64) -> impl Iterator<Item = i64> + '_ {
        self.reads.get(&id).into_iter().flatten().copied()
    }

    /// The segments whose rules read `id` directly, ascending.
    pub fn readers(&self, id: i64) -> Vec<i64> {
        let readers = self.reads.iter().filter(|(_, to)| to.contains(&id));
        readers.map(|(from, _)| *from).collect()
    }

    /// A loop through `start`, as the path `start, ..., start`, if there is one.
    pub fn find_loop(&self, start: i64) -> Option<Vec<i64>> {
        let mut path = vec![start];
        let mut seen = BTreeSet::new();
        self.walk(start, start, &mut path, &mut seen)
            .then_some(path)
    }

    fn walk(&self, start: i64, at: i64, path: &mut Vec<i64>, seen: &mut BTreeSet<i64>) -> bool {
        for next in self.reads(at) {
            path.push(next);
            if next == start {
                return true;
            }
            if seen.insert(next) && self.walk(start, next, path, seen) {
                return true;
            }
            path.pop();
        }
        false
    }

    /// Every segment that reads `id`, directly or through others, not `id` itself.
    pub fn dependents(&self, id: i64) -> BTreeSet<i64> {
        let mut found = BTreeSet::new();
        let mut todo = vec![id];
        while let Some(at) = todo.pop() {
            for reader in self.readers(at) {
                if reader != id && found.insert(reader) {
                    todo.push(reader);
                }
            }
        }
        found
    }

    /// `ids` and every segment they read, directly or through others.
    pub fn read_by(&self, ids: &[i64]) -> BTreeSet<i64> {
        let mut found: BTreeSet<i64> = ids.iter().copied().collect();
        let mut todo = ids.to_vec();
        while let Some(at) = todo.pop() {
            for read in self.reads(at) {
                if found.insert(read) {
                    todo.push(read);
                }
            }
        }
        found
    }

    /// `ids` ordered so that every segment comes after those of `ids` it reads; ties by id.
    /// Segments caught in a loop (which saving refuses) come last, by id.
    pub fn order(&self, ids: &BTreeSet<i64>) -> Vec<i64> {
        let mut placed = BTreeSet::new();
        let mut out = Vec::with_capacity(ids.len());
        loop {
            let ready: Vec<i64> = ids
                .iter()
                .filter(|id| !placed.contains(*id))
                .filter(|id| {
                    self.reads(**id)
                        .all(|r| !ids.contains(&r) || placed.contains(&r))
                })
                .copied()
                .collect();
            if ready.is_empty() {
                break;
            }
            placed.extend(ready.iter().copied());
            out.extend(ready);
        }
        out.extend(ids.iter().filter(|id| !placed.contains(*id)));
        out
    }
}
