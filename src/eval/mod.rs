//! Execution: a planned rule becomes the member bitmap, with the count of every node.
//!
//! Groups combine with roaring operations: `all` intersects (starting from the universe),
//! `any` unites, `none` is the universe minus the union. A negated condition is the universe
//! minus its positive bitmap. Every leaf's positive bitmap is cut to the universe first.

mod error;

#[cfg(test)]
mod cases;
#[cfg(test)]
mod proptests;
#[cfg(test)]
mod tests;

use std::sync::Arc;
use std::time::{Duration, Instant};

use arrow::array::{Array, AsArray, BooleanArray};
use chrono::{DateTime, Utc};
use roaring::RoaringBitmap;
use serde::Serialize;

use crate::plan::{Access, PlanNode, RulePlan, plan};
use crate::rules::{GroupOp, Rule, Warning};
use crate::snapshot::Snapshot;

pub use error::EvalError;

/// Reads other segments' memberships for `segment` conditions.
pub trait SegmentLookup {
    /// The members of `segment_id` as positions of the same snapshot; `None` if unknown.
    fn members(&self, segment_id: i64) -> Option<Arc<RoaringBitmap>>;
}

/// A lookup for callers without a catalog: every segment is unknown.
pub struct NoSegments;

impl SegmentLookup for NoSegments {
    fn members(&self, _segment_id: i64) -> Option<Arc<RoaringBitmap>> {
        None
    }
}

impl<F: Fn(i64) -> Option<Arc<RoaringBitmap>>> SegmentLookup for F {
    fn members(&self, segment_id: i64) -> Option<Arc<RoaringBitmap>> {
        self(segment_id)
    }
}

/// The result of evaluating a rule.
#[derive(Debug, Clone)]
pub struct Evaluation {
    /// Member positions in the snapshot.
    pub members: RoaringBitmap,
    /// Every node's count, parents before children, in rule order.
    pub nodes: Vec<NodeCount>,
    pub warnings: Vec<Warning>,
    pub elapsed: Duration,
}

/// How many clients one node of the rule matches on its own.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct NodeCount {
    pub path: String,
    pub count: u64,
}

/// Plans and executes `rule` on `snapshot` as of `as_of`.
///
/// # Errors
/// A SKU naming no product, an unknown segment, or an internal fault.
pub fn evaluate(
    rule: &Rule,
    snapshot: &Snapshot,
    as_of: DateTime<Utc>,
    segments: &dyn SegmentLookup,
) -> Result<Evaluation, EvalError> {
    let started = Instant::now();
    let plan = plan(rule, snapshot, as_of)?;
    let mut evaluation = execute(&plan, snapshot, segments)?;
    evaluation.elapsed = started.elapsed();
    Ok(evaluation)
}

/// Executes a plan made on the same snapshot.
///
/// # Errors
/// An unknown segment, or an internal fault evaluating a filter.
pub fn execute(
    plan: &RulePlan<'_>,
    snapshot: &Snapshot,
    segments: &dyn SegmentLookup,
) -> Result<Evaluation, EvalError> {
    let started = Instant::now();
    let mut executor = Executor {
        snapshot,
        segments,
        nodes: Vec::new(),
    };
    let members = executor.node(&plan.root)?;
    Ok(Evaluation {
        members,
        nodes: executor.nodes,
        warnings: plan.warnings.clone(),
        elapsed: started.elapsed(),
    })
}

struct Executor<'a> {
    snapshot: &'a Snapshot,
    segments: &'a dyn SegmentLookup,
    nodes: Vec<NodeCount>,
}

impl Executor<'_> {
    fn node(&mut self, node: &PlanNode<'_>) -> Result<RoaringBitmap, EvalError> {
        // Reserve the parent's slot so counts come out parents first.
        let slot = self.nodes.len();
        let path = match node {
            PlanNode::Group { path, .. } | PlanNode::Leaf { path, .. } => path.clone(),
        };
        self.nodes.push(NodeCount { path, count: 0 });
        let bitmap = match node {
            PlanNode::Group { op, children, .. } => self.group(*op, children)?,
            PlanNode::Leaf {
                path,
                negated,
                access,
            } => {
                let positive = self.leaf(path, access)?;
                if *negated {
                    &self.snapshot.universe - positive
                } else {
                    positive
                }
            }
        };
        self.nodes[slot].count = bitmap.len();
        Ok(bitmap)
    }

    fn group(
        &mut self,
        op: GroupOp,
        children: &[PlanNode<'_>],
    ) -> Result<RoaringBitmap, EvalError> {
        let universe = &self.snapshot.universe;
        let mut acc = match op {
            GroupOp::All => universe.clone(),
            GroupOp::Any | GroupOp::None => RoaringBitmap::new(),
        };
        for child in children {
            let bitmap = self.node(child)?;
            match op {
                GroupOp::All => acc &= bitmap,
                GroupOp::Any | GroupOp::None => acc |= bitmap,
            }
        }
        Ok(if op == GroupOp::None {
            universe - acc
        } else {
            acc
        })
    }

    /// The positive bitmap of a leaf, cut to the universe.
    fn leaf(&self, path: &str, access: &Access<'_>) -> Result<RoaringBitmap, EvalError> {
        let universe = &self.snapshot.universe;
        Ok(match access {
            Access::Index { bitmap, .. } => bitmap.as_ref() & universe,
            Access::Scan { physical, .. } => {
                let batch = &self.snapshot.metrics.batch;
                let result = physical.evaluate(batch)?.into_array(batch.num_rows())?;
                true_positions(result.as_boolean()) & universe
            }
            Access::Segment(id) => match self.segments.members(*id) {
                Some(members) => members.as_ref() & universe,
                None => {
                    return Err(EvalError::UnknownSegment {
                        path: format!("{path}.value"),
                        id: *id,
                    });
                }
            },
            Access::RevenueTop(n) => revenue_top(self.snapshot, *n),
        })
    }
}

/// Positions where a filter is true; null counts as false (two-valued logic).
///
/// Arrow packs booleans least significant bit first, as roaring reads a bitset, so the
/// bitmap is built from whole bytes (one container per 65,536 positions) rather than bit by
/// bit; only the bits of a last partial byte are inserted one at a time.
fn true_positions(result: &BooleanArray) -> RoaringBitmap {
    let bits = match result.nulls() {
        Some(nulls) => result.values() & nulls.inner(),
        None => result.values().clone(),
    };
    let whole_bytes = bits.len() / 8;
    let packed = bits.sliced();
    let mut positions = RoaringBitmap::from_lsb0_bytes(0, &packed.as_slice()[..whole_bytes]);
    let tail = (whole_bytes * 8..bits.len()).filter(|i| bits.value(*i));
    positions.extend(tail.map(|i| i as u32));
    positions
}

/// The `n` live clients with the highest total revenue; ties go to the lower client id,
/// which is the lower position.
pub fn revenue_top(snapshot: &Snapshot, n: u64) -> RoaringBitmap {
    let revenue = snapshot.metrics.total_revenue_cents().values();
    let mut ranked: Vec<(i64, u32)> = snapshot
        .universe
        .iter()
        .map(|pos| (-revenue[pos as usize], pos))
        .collect();
    let n = usize::try_from(n).unwrap_or(usize::MAX).min(ranked.len());
    if n < ranked.len() {
        if n > 0 {
            ranked.select_nth_unstable(n - 1);
        }
        ranked.truncate(n);
    }
    ranked.into_iter().map(|(_, pos)| pos).collect()
}
