//! The rule model: what a dynamic segment's rule says, validated so that it cannot be wrong.
//!
//! A rule arrives as JSON (SEMANTICS.md, "Rules"). It is read in two steps: [`raw`] checks
//! the tree's shape and limits and keeps the JSON path of every node; [`validate`] turns each
//! raw condition into a typed [`Condition`] for the tenant's fields. Only a validated
//! [`Rule`] reaches the planner.
//!
//! Invariant: every negative op (`is_not`, `not_in`, `is_not_empty`, `has_not`,
//! `not_within_last`, `purchased_product is_not`, `segment is_not`) is held as its positive
//! test with `negated: true`, so a condition and its negation split the universe exactly.

mod error;
pub mod raw;
mod validate;

#[cfg(test)]
mod tests;

use chrono::NaiveDate;
use serde::Serialize;

use crate::facts::CustomField;

pub use error::RuleError;

/// The deepest nesting of groups a rule may have.
pub const DEPTH_MAX: usize = 32;
/// The most conditions a rule may hold.
pub const CONDITIONS_MAX: usize = 10_000;
/// The largest relative span in days (`days_ago`, `within_last {"days"}`): a century.
pub const DAYS_MAX: u32 = 36_600;
/// The largest relative span in months: a century.
pub const MONTHS_MAX: u32 = 1_200;

/// A validated rule, with the warnings its reading produced.
#[derive(Debug, Clone, PartialEq)]
pub struct Rule {
    pub root: RuleNode,
    pub warnings: Vec<Warning>,
}

impl Rule {
    /// Reads and validates a rule for a tenant with these custom fields.
    ///
    /// # Errors
    /// The first problem found, with the JSON path of the offending node.
    pub fn from_json(json: &serde_json::Value, custom: &[CustomField]) -> Result<Rule, RuleError> {
        let raw = raw::RawNode::from_json(json)?;
        let mut warnings = Vec::new();
        let root = validate::validate(&raw, custom, &mut warnings)?;
        Ok(Rule { root, warnings })
    }

    /// Reads a rule from JSON text.
    ///
    /// # Errors
    /// Malformed JSON (path `$`) or any error of [`Rule::from_json`].
    pub fn parse(text: &str, custom: &[CustomField]) -> Result<Rule, RuleError> {
        let json: serde_json::Value =
            serde_json::from_str(text).map_err(|e| RuleError::Malformed {
                path: "$".into(),
                message: e.to_string(),
            })?;
        Rule::from_json(&json, custom)
    }

    /// Ids of the segments this rule reads through `segment` conditions.
    pub fn segment_refs(&self) -> Vec<i64> {
        let mut ids = Vec::new();
        self.root.visit(&mut |node| {
            if let RuleNode::Condition(Condition {
                test: Test::Segment(id),
                ..
            }) = node
            {
                ids.push(*id);
            }
        });
        ids.sort_unstable();
        ids.dedup();
        ids
    }
}

/// Something the user should know about a rule that is still valid.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Warning {
    pub path: String,
    pub message: String,
}

/// A node of a rule: a group of nodes or a single condition.
#[derive(Debug, Clone, PartialEq)]
pub enum RuleNode {
    Group {
        path: String,
        op: GroupOp,
        children: Vec<RuleNode>,
    },
    Condition(Condition),
}

impl RuleNode {
    pub fn path(&self) -> &str {
        match self {
            RuleNode::Group { path, .. } => path,
            RuleNode::Condition(condition) => &condition.path,
        }
    }

    /// Calls `f` on this node and every node below it, parents first.
    pub fn visit(&self, f: &mut impl FnMut(&RuleNode)) {
        f(self);
        if let RuleNode::Group { children, .. } = self {
            children.iter().for_each(|child| child.visit(f));
        }
    }
}

/// How a group combines its children.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum GroupOp {
    /// Every child holds; `all []` is the universe.
    All,
    /// At least one child holds; `any []` is nobody.
    Any,
    /// No child holds; `none []` is the universe.
    None,
}

impl GroupOp {
    pub fn key(self) -> &'static str {
        match self {
            GroupOp::All => "all",
            GroupOp::Any => "any",
            GroupOp::None => "none",
        }
    }
}

/// One condition: a positive test, possibly negated against the universe.
#[derive(Debug, Clone, PartialEq)]
pub struct Condition {
    pub path: String,
    pub negated: bool,
    pub test: Test,
}

/// The positive test a condition makes on one client.
#[derive(Debug, Clone, PartialEq)]
pub enum Test {
    Text {
        field: TextField,
        test: TextTest,
    },
    Date {
        field: DateField,
        test: DateTest,
    },
    Number {
        field: NumberField,
        test: NumberTest,
    },
    /// A boolean custom field equals the value.
    Flag {
        field: String,
        value: bool,
    },
    /// Has this tag (normalised).
    Tag(String),
    /// Has bought this product in a completed order.
    Product(ProductRef),
    /// Is a member of this segment.
    Segment(i64),
    /// Is among the N clients with the highest total revenue; ties go to the lower id.
    RevenueTop(u64),
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TextField {
    ClientType,
    Country,
    City,
    Custom(String),
}

/// Text tests compare normalised text: trimmed and case folded.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TextTest {
    Equals(String),
    OneOf(Vec<String>),
    /// Missing, empty or blank.
    Empty,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum DateField {
    CreatedAt,
    LastPurchase,
    Custom(String),
}

/// Tests on a local calendar date.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DateTest {
    Before(DateValue),
    After(DateValue),
    On(DateValue),
    Between(DateValue, DateValue),
    /// On or after today minus the span.
    WithinLast(Span),
}

/// A date, fixed or relative to the evaluation's "today".
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DateValue {
    Fixed(NaiveDate),
    DaysAgo(u32),
    MonthsAgo(u32),
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Span {
    Days(u32),
    Months(u32),
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum NumberField {
    TotalRevenue,
    AverageOrderValue,
    OutstandingBalance,
    LifetimeOrders,
    /// An integer, money or float custom field.
    Custom(String),
}

/// A comparison with one bound or an inclusive range.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum NumberTest {
    Compare(CompareOp, Number),
    Between(Number, Number),
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CompareOp {
    Gt,
    Gte,
    Lt,
    Lte,
    Eq,
}

/// A threshold: integer cents or counts, or a float for float custom fields.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Number {
    Int(i64),
    Float(f64),
}

/// A product named by id or by SKU.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ProductRef {
    Id(i64),
    Sku(String),
}

/// Text as rules compare it: trimmed and case folded.
pub fn normalize_text(text: &str) -> String {
    text.trim().to_lowercase()
}
