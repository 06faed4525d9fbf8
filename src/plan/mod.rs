//! The planner: a validated rule bound to a snapshot and to "today".
//!
//! Each condition gets an access path: a bitmap read from an index (text values, tags,
//! products), a DataFusion filter expression over the metrics table (dates, money, counts,
//! custom fields), another segment's membership, or the revenue ranking. Relative dates are
//! resolved here, against the local date of `as_of` in the tenant's zone.

mod expr;

use std::borrow::Cow;
use std::fmt::Write;
use std::sync::Arc;

use chrono::{DateTime, NaiveDate, Utc};
use datafusion::common::DFSchema;
use datafusion::logical_expr::Expr;
use datafusion::physical_expr::PhysicalExpr;
use roaring::RoaringBitmap;

use crate::eval::EvalError;
use crate::metrics::columns;
use crate::rules::{
    Condition, GroupOp, ProductRef, Rule, RuleError, RuleNode, Test, TextField, TextTest, Warning,
};
use crate::snapshot::{Snapshot, TextIndex};
use crate::time::today;

/// A rule ready to execute on one snapshot.
#[derive(Debug)]
pub struct RulePlan<'s> {
    pub root: PlanNode<'s>,
    /// The rule's own warnings plus those found while binding it.
    pub warnings: Vec<Warning>,
    /// The local date relative dates were resolved against.
    pub today: NaiveDate,
}

#[derive(Debug)]
pub enum PlanNode<'s> {
    Group {
        path: String,
        op: GroupOp,
        children: Vec<PlanNode<'s>>,
    },
    Leaf {
        path: String,
        negated: bool,
        access: Access<'s>,
    },
}

/// How one condition's positive bitmap is obtained.
#[derive(Debug)]
pub enum Access<'s> {
    /// Read from a bitmap index; `label` says which entry, for `explain`.
    Index {
        label: String,
        bitmap: Cow<'s, RoaringBitmap>,
    },
    /// A filter over the metrics table.
    Scan {
        filter: Expr,
        physical: Arc<dyn PhysicalExpr>,
    },
    /// Another segment's membership, read at execution.
    Segment(i64),
    /// The N live clients with the highest revenue.
    RevenueTop(u64),
}

/// Binds `rule` to `snapshot` with "today" taken from `as_of`.
///
/// # Errors
/// A SKU that names no product (with the condition's path), or an internal planning fault.
pub fn plan<'s>(
    rule: &Rule,
    snapshot: &'s Snapshot,
    as_of: DateTime<Utc>,
) -> Result<RulePlan<'s>, EvalError> {
    let mut planner = Planner {
        snapshot,
        today: today(as_of, snapshot.tz),
        schema: DFSchema::try_from(snapshot.metrics.batch.schema().as_ref().clone())?,
        warnings: rule.warnings.clone(),
    };
    let root = planner.node(&rule.root)?;
    Ok(RulePlan {
        root,
        warnings: planner.warnings,
        today: planner.today,
    })
}

struct Planner<'s> {
    snapshot: &'s Snapshot,
    today: NaiveDate,
    schema: DFSchema,
    warnings: Vec<Warning>,
}

impl<'s> Planner<'s> {
    fn node(&mut self, node: &RuleNode) -> Result<PlanNode<'s>, EvalError> {
        match node {
            RuleNode::Group { path, op, children } => {
                let children = children
                    .iter()
                    .map(|c| self.node(c))
                    .collect::<Result<_, _>>()?;
                Ok(PlanNode::Group {
                    path: path.clone(),
                    op: *op,
                    children,
                })
            }
            RuleNode::Condition(condition) => {
                let access = self.access(condition)?;
                let (path, negated) = (condition.path.clone(), condition.negated);
                Ok(PlanNode::Leaf {
                    path,
                    negated,
                    access,
                })
            }
        }
    }

    fn access(&mut self, condition: &Condition) -> Result<Access<'s>, EvalError> {
        let filter = match &condition.test {
            Test::Text { field, test } => match self.text_index(field) {
                Some((name, index)) => return Ok(index_lookup(name, index, test)),
                None => expr::text(field_column(field), test),
            },
            Test::Tag(tag) => {
                return Ok(index_lookup(
                    "tag",
                    &self.snapshot.tags,
                    &TextTest::Equals(tag.clone()),
                ));
            }
            Test::Product(product) => return self.product(product, &condition.path),
            Test::Segment(id) => return Ok(Access::Segment(*id)),
            Test::RevenueTop(n) => return Ok(Access::RevenueTop(*n)),
            Test::Date { field, test } => expr::date(&expr::date_column(field), test, self.today),
            Test::Number { field, test } => expr::number(field, test),
            Test::Flag { field, value } => expr::flag(&columns::custom(field), *value),
        };
        let physical = self
            .snapshot
            .ctx
            .create_physical_expr(filter.clone(), &self.schema)?;
        Ok(Access::Scan { filter, physical })
    }

    fn text_index(&self, field: &TextField) -> Option<(&'static str, &'s TextIndex)> {
        match field {
            TextField::ClientType => Some(("client_type", &self.snapshot.client_types)),
            TextField::Country => Some(("country", &self.snapshot.countries)),
            TextField::City => Some(("city", &self.snapshot.cities)),
            TextField::Custom(_) => None,
        }
    }

    fn product(&mut self, product: &ProductRef, path: &str) -> Result<Access<'s>, EvalError> {
        let products = &self.snapshot.products;
        let id = match product {
            ProductRef::Id(id) => *id,
            ProductRef::Sku(sku) => match products.product_by_sku(sku).or_else(|| sku.parse().ok())
            {
                Some(id) => id,
                None => {
                    let error = RuleError::UnknownProduct {
                        path: format!("{path}.value"),
                        sku: sku.clone(),
                    };
                    return Err(error.into());
                }
            },
        };
        let buyers = products.buyers(id);
        if buyers.is_none() && !products.is_listed(id) {
            let message = format!("product {id} is not in the products table and was never bought");
            self.warnings.push(Warning {
                path: path.to_string(),
                message,
            });
        }
        let bitmap = buyers.map_or_else(|| Cow::Owned(RoaringBitmap::new()), Cow::Borrowed);
        Ok(Access::Index {
            label: format!("product {id}"),
            bitmap,
        })
    }
}

fn field_column(field: &TextField) -> String {
    match field {
        TextField::ClientType => columns::CLIENT_TYPE.into(),
        TextField::Country => columns::COUNTRY.into(),
        TextField::City => columns::CITY.into(),
        TextField::Custom(name) => columns::custom(name),
    }
}

fn index_lookup<'s>(name: &str, index: &'s TextIndex, test: &TextTest) -> Access<'s> {
    let (label, bitmap) = match test {
        TextTest::Equals(value) => {
            let bitmap = index
                .get(value)
                .map_or_else(|| Cow::Owned(RoaringBitmap::new()), Cow::Borrowed);
            (format!("{name} = {value:?}"), bitmap)
        }
        TextTest::OneOf(values) => {
            let union = values
                .iter()
                .filter_map(|v| index.get(v))
                .fold(RoaringBitmap::new(), |acc, b| acc | b);
            (format!("{name} in {values:?}"), Cow::Owned(union))
        }
        TextTest::Empty => (format!("{name} empty"), Cow::Borrowed(index.empty())),
    };
    Access::Index { label, bitmap }
}

impl RulePlan<'_> {
    /// One line per node: its path and access path, indented by depth.
    pub fn explain(&self) -> String {
        let mut out = String::new();
        explain_node(&self.root, 0, &mut out);
        out
    }
}

fn explain_node(node: &PlanNode<'_>, depth: usize, out: &mut String) {
    let indent = "  ".repeat(depth);
    match node {
        PlanNode::Group { path, op, children } => {
            let _ = writeln!(out, "{indent}{path}: {}", op.key());
            children
                .iter()
                .for_each(|c| explain_node(c, depth + 1, out));
        }
        PlanNode::Leaf {
            path,
            negated,
            access,
        } => {
            let not = if *negated { "universe minus " } else { "" };
            let how = match access {
                Access::Index { label, .. } => format!("index {label}"),
                Access::Scan { filter, .. } => format!("scan metrics where {filter}"),
                Access::Segment(id) => format!("segment {id}"),
                Access::RevenueTop(n) => format!("top {n} by revenue"),
            };
            let _ = writeln!(out, "{indent}{path}: {not}{how}");
        }
    }
}
