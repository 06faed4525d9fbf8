//! Why a client is or is not in a dynamic segment: the rule planned once, then every node
//! decided for that one client, with the client's value beside each condition.

use std::collections::HashMap;

use arrow::array::{Array, AsArray};
use chrono::{DateTime, Utc};
use serde_json::Value;

use crate::eval::{EvalError, SegmentLookup, revenue_top};
use crate::plan::{Access, PlanNode, plan};
use crate::rules::raw::{RawCondition, RawNode};
use crate::rules::{Condition, GroupOp, Rule, RuleNode};
use crate::snapshot::Snapshot;

use super::NodeCheck;
use super::values;
use crate::service::error::Result;

/// What is known about the client while deciding nodes.
struct Decider<'a> {
    snapshot: &'a Snapshot,
    position: u32,
    live: bool,
    segments: &'a dyn SegmentLookup,
    raw: HashMap<String, RawCondition>,
    conditions: HashMap<String, Condition>,
    out: Vec<NodeCheck>,
}

/// Decides every node of `json` for the client at `position`, parents before children;
/// returns whether the whole rule holds and the nodes.
///
/// # Errors
/// A stored rule that no longer fits the facts, or an internal fault.
pub(super) fn explain(
    json: &Value,
    snapshot: &Snapshot,
    position: u32,
    as_of: DateTime<Utc>,
    segments: &dyn SegmentLookup,
) -> Result<(bool, Vec<NodeCheck>)> {
    let rule = Rule::from_json(json, &snapshot.facts.custom_fields)?;
    let raw = RawNode::from_json(json)?;
    let planned = plan(&rule, snapshot, as_of)?;
    let mut decider = Decider {
        snapshot,
        position,
        live: snapshot.universe.contains(position),
        segments,
        raw: raw_conditions(&raw),
        conditions: conditions(&rule.root),
        out: Vec::new(),
    };
    let holds = decider.node(&planned.root)?;
    Ok((holds, decider.out))
}

impl Decider<'_> {
    fn node(&mut self, node: &PlanNode<'_>) -> Result<bool> {
        match node {
            PlanNode::Group { path, op, children } => {
                let slot = self.out.len();
                self.out.push(group_check(path, *op));
                let mut held = Vec::with_capacity(children.len());
                for child in children {
                    held.push(self.node(child)?);
                }
                let holds = self.live
                    && match op {
                        GroupOp::All => held.iter().all(|h| *h),
                        GroupOp::Any => held.iter().any(|h| *h),
                        GroupOp::None => !held.iter().any(|h| *h),
                    };
                self.out[slot].held = holds;
                Ok(holds)
            }
            PlanNode::Leaf {
                path,
                negated,
                access,
            } => {
                let positive = self.live && self.positive(path, access)?;
                let holds = self.live && (positive != *negated);
                self.out.push(self.leaf_check(path, holds));
                Ok(holds)
            }
        }
    }

    /// Whether the client passes a leaf's positive test.
    fn positive(&self, path: &str, access: &Access<'_>) -> Result<bool> {
        let position = self.position;
        Ok(match access {
            Access::Index { bitmap, .. } => bitmap.contains(position),
            Access::Scan { physical, .. } => {
                let row = self.snapshot.metrics.batch.slice(position as usize, 1);
                let result = physical.evaluate(&row).map_err(EvalError::from)?;
                let result = result.into_array(1).map_err(EvalError::from)?;
                let result = result.as_boolean();
                result.is_valid(0) && result.value(0)
            }
            Access::Segment(id) => match self.segments.members(*id) {
                Some(members) => members.contains(position),
                None => {
                    let error = EvalError::UnknownSegment {
                        path: path.to_string(),
                        id: *id,
                    };
                    return Err(error.into());
                }
            },
            Access::RevenueTop(n) => revenue_top(self.snapshot, *n).contains(position),
        })
    }

    fn leaf_check(&self, path: &str, held: bool) -> NodeCheck {
        let raw = self.raw.get(path);
        let member_of = |id: i64| {
            let members = self.segments.members(id);
            members.is_some_and(|m| m.contains(self.position))
        };
        let client_value = self
            .conditions
            .get(path)
            .map(|c| values::of_test(&c.test, self.snapshot, self.position, &member_of));
        NodeCheck {
            path: path.to_string(),
            field: raw.map(|r| r.field.clone()),
            op: raw.map_or_else(String::new, |r| r.op.clone()),
            value: raw.and_then(|r| r.value.clone()),
            held,
            client_value,
        }
    }
}

fn group_check(path: &str, op: GroupOp) -> NodeCheck {
    NodeCheck {
        path: path.to_string(),
        field: None,
        op: op.key().to_string(),
        value: None,
        held: false,
        client_value: None,
    }
}

/// Raw conditions by path: the field, op and value as the user wrote them.
fn raw_conditions(root: &RawNode) -> HashMap<String, RawCondition> {
    let mut out = HashMap::new();
    let mut todo = vec![root];
    while let Some(node) = todo.pop() {
        match node {
            RawNode::Group { children, .. } => todo.extend(children),
            RawNode::Condition(condition) => {
                out.insert(condition.path.clone(), condition.clone());
            }
        }
    }
    out
}

/// Validated conditions by path.
fn conditions(root: &RuleNode) -> HashMap<String, Condition> {
    let mut out = HashMap::new();
    root.visit(&mut |node| {
        if let RuleNode::Condition(condition) = node {
            out.insert(condition.path.clone(), condition.clone());
        }
    });
    out
}
