//! The first reading step: the tree's shape, its limits and every node's JSON path.

use serde_json::{Map, Value};

use super::error::describe;
use super::{CONDITIONS_MAX, DEPTH_MAX, GroupOp, RuleError};

/// A rule node whose shape is right but whose condition contents are not yet checked.
#[derive(Debug, Clone, PartialEq)]
pub enum RawNode {
    Group {
        path: String,
        op: GroupOp,
        children: Vec<RawNode>,
    },
    Condition(RawCondition),
}

/// `{"field": F, "op": OP, "value": V}` with its path; `value` may be absent.
#[derive(Debug, Clone, PartialEq)]
pub struct RawCondition {
    pub path: String,
    pub field: String,
    pub op: String,
    pub value: Option<Value>,
}

impl RawNode {
    /// Reads the tree from JSON, refusing bad shapes, depth over [`DEPTH_MAX`] and more than
    /// [`CONDITIONS_MAX`] conditions.
    ///
    /// # Errors
    /// The first bad node, with its path.
    pub fn from_json(json: &Value) -> Result<RawNode, RuleError> {
        let mut conditions = 0;
        read_node(json, "$".to_string(), 0, &mut conditions)
    }
}

fn read_node(
    json: &Value,
    path: String,
    depth: usize,
    conditions: &mut usize,
) -> Result<RawNode, RuleError> {
    let Value::Object(object) = json else {
        let message = format!(
            "expected a group or a condition object, found {}",
            describe(json)
        );
        return Err(RuleError::Malformed { path, message });
    };
    match group_op(object) {
        Some(op) => read_group(object, op, path, depth + 1, conditions),
        None => read_condition(object, path, conditions).map(RawNode::Condition),
    }
}

fn group_op(object: &Map<String, Value>) -> Option<GroupOp> {
    [GroupOp::All, GroupOp::Any, GroupOp::None]
        .into_iter()
        .find(|op| object.contains_key(op.key()))
}

fn read_group(
    object: &Map<String, Value>,
    op: GroupOp,
    path: String,
    depth: usize,
    conditions: &mut usize,
) -> Result<RawNode, RuleError> {
    if depth > DEPTH_MAX {
        return Err(RuleError::TooDeep {
            path,
            limit: DEPTH_MAX,
        });
    }
    if object.len() != 1 {
        let keys: Vec<&str> = object.keys().map(String::as_str).collect();
        let message = format!("a group has exactly one key (all, any or none), found {keys:?}");
        return Err(RuleError::Malformed { path, message });
    }
    let items = &object[op.key()];
    let Value::Array(items) = items else {
        let path = format!("{path}.{}", op.key());
        let message = format!("expected an array of rule nodes, found {}", describe(items));
        return Err(RuleError::Malformed { path, message });
    };
    let children = items
        .iter()
        .enumerate()
        .map(|(i, item)| read_node(item, child_path(&path, op, i), depth, conditions))
        .collect::<Result<_, _>>()?;
    Ok(RawNode::Group { path, op, children })
}

/// The path of a group's `index`th child: `$.all[2]`.
pub fn child_path(parent: &str, op: GroupOp, index: usize) -> String {
    format!("{parent}.{}[{index}]", op.key())
}

fn read_condition(
    object: &Map<String, Value>,
    path: String,
    conditions: &mut usize,
) -> Result<RawCondition, RuleError> {
    *conditions += 1;
    if *conditions > CONDITIONS_MAX {
        return Err(RuleError::TooManyConditions {
            path,
            limit: CONDITIONS_MAX,
        });
    }
    if let Some(key) = object
        .keys()
        .find(|k| !["field", "op", "value"].contains(&k.as_str()))
    {
        let message = format!(
            "unknown key {key:?}; a condition has \"field\", \"op\" and \"value\", \
             a group has one of \"all\", \"any\", \"none\""
        );
        return Err(RuleError::Malformed { path, message });
    }
    let field = string_key(object, "field", &path)?;
    let op = string_key(object, "op", &path)?;
    let value = object.get("value").filter(|v| !v.is_null()).cloned();
    Ok(RawCondition {
        path,
        field,
        op,
        value,
    })
}

fn string_key(object: &Map<String, Value>, key: &str, path: &str) -> Result<String, RuleError> {
    match object.get(key) {
        Some(Value::String(s)) => Ok(s.clone()),
        Some(other) => Err(RuleError::WrongValue {
            path: format!("{path}.{key}"),
            expected: "a string".into(),
            found: describe(other),
        }),
        None => Err(RuleError::Malformed {
            path: path.to_string(),
            message: format!("a condition needs {key:?}"),
        }),
    }
}
