//! The workload definitions, W1–W6, in the rule format of SEMANTICS.md.

use std::future::Future;
use std::pin::Pin;

use arrow::array::{Array, AsArray};
use arrow::datatypes::Int64Type;
use chrono::{DateTime, Duration, NaiveDate, Utc};
use roaring::RoaringBitmap;
use serde_json::{Value, json};

use crate::eval::{NoSegments, evaluate};
use crate::metrics;
use crate::money::Cents;
use crate::pricing::{Tier, TierAssignment, TieredSegment};
use crate::reports::{DateRange, Granularity, ReportFacts, sales_over_time};
use crate::rules::Rule;
use crate::snapshot::Snapshot;

/// A workload's result: how many items, and the text lines that are hashed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Outcome {
    pub count: u64,
    pub text: String,
}

type Run<'a> = Pin<Box<dyn Future<Output = Result<Outcome, String>> + 'a>>;

/// One named workload.
pub trait Workload {
    fn name(&self) -> &'static str;
    fn run<'a>(&'a self, ctx: &'a Workloads<'a>) -> Run<'a>;
}

/// What the workloads read: the snapshot, the report views, `now`, and W2/W3's members.
pub struct Workloads<'a> {
    pub snapshot: &'a Snapshot,
    pub reports: &'a ReportFacts,
    pub now: DateTime<Utc>,
    at_risk: RoaringBitmap,
    nested: RoaringBitmap,
}

fn cond(field: &str, op: &str, value: Value) -> Value {
    json!({"field": field, "op": op, "value": value})
}

/// W2: the user guide's at-risk clients.
pub fn at_risk_rule() -> Value {
    json!({"all": [
        cond("last_purchase_date", "before", json!({"days_ago": 90})),
        cond("total_revenue", "gt", json!(1000)),
        cond("outstanding_balance", "eq", json!(0)),
    ]})
}

/// W3: nested groups over indexes and metrics.
pub fn nested_rule() -> Value {
    json!({"all": [
        {"any": [
            {"all": [cond("country", "is", json!("DE")), cond("tag", "has", json!("vip"))]},
            {"all": [cond("client_type", "is", json!("wholesale")), cond("lifetime_orders", "gte", json!(10))]},
            cond("purchased_product", "is", json!(42)),
        ]},
        {"none": [cond("tag", "has", json!("blocked"))]},
    ]})
}

impl<'a> Workloads<'a> {
    /// Evaluates W2 and W3 once, for the workloads that reuse their members.
    ///
    /// # Errors
    /// A rule that does not evaluate on this tenant.
    pub fn prepare(
        snapshot: &'a Snapshot,
        reports: &'a ReportFacts,
        now: DateTime<Utc>,
    ) -> Result<Workloads<'a>, String> {
        let at_risk = members(snapshot, &at_risk_rule(), now)?;
        let nested = members(snapshot, &nested_rule(), now)?;
        Ok(Workloads {
            snapshot,
            reports,
            now,
            at_risk,
            nested,
        })
    }
}

fn members(snapshot: &Snapshot, rule: &Value, now: DateTime<Utc>) -> Result<RoaringBitmap, String> {
    let rule = Rule::from_json(rule, &snapshot.facts.custom_fields).map_err(|e| e.to_string())?;
    let evaluation = evaluate(&rule, snapshot, now, &NoSegments).map_err(|e| e.to_string())?;
    Ok(evaluation.members)
}

/// Member client ids, ascending, one per line.
fn id_lines(snapshot: &Snapshot, members: &RoaringBitmap) -> Outcome {
    let mut text = String::with_capacity(members.len() as usize * 8);
    for id in snapshot.index.ids_of(members) {
        text.push_str(&id.to_string());
        text.push('\n');
    }
    Outcome {
        count: members.len(),
        text,
    }
}

pub fn all() -> Vec<Box<dyn Workload>> {
    vec![
        Box::new(Metrics),
        Box::new(RuleMembers {
            name: "W2_at_risk",
            rule: at_risk_rule(),
        }),
        Box::new(RuleMembers {
            name: "W3_nested",
            rule: nested_rule(),
        }),
        Box::new(Report),
        Box::new(Widget),
        Box::new(Tiers),
    ]
}

/// W1: rebuild the client metrics from the facts; the live clients with an order.
struct Metrics;

impl Workload for Metrics {
    fn name(&self) -> &'static str {
        "W1_metrics"
    }

    fn run<'a>(&'a self, ctx: &'a Workloads<'a>) -> Run<'a> {
        Box::pin(async move {
            let s = ctx.snapshot;
            let built = metrics::compute(&s.ctx, &s.facts, &s.clients, &s.index, s.tz)
                .await
                .map_err(|e| e.to_string())?;
            let orders = built.lifetime_orders();
            let buyers = s
                .universe
                .iter()
                .filter(|pos| orders.value(*pos as usize) > 0);
            let buyers = RoaringBitmap::from_sorted_iter(buyers).map_err(|e| e.to_string())?;
            Ok(id_lines(s, &buyers))
        })
    }
}

/// W2 and W3: a rule's members.
struct RuleMembers {
    name: &'static str,
    rule: Value,
}

impl Workload for RuleMembers {
    fn name(&self) -> &'static str {
        self.name
    }

    fn run<'a>(&'a self, ctx: &'a Workloads<'a>) -> Run<'a> {
        Box::pin(async move {
            let members = members(ctx.snapshot, &self.rule, ctx.now)?;
            Ok(id_lines(ctx.snapshot, &members))
        })
    }
}

/// W4: monthly revenue of completed orders in 2025 for the clients in W2 or W3.
struct Report;

impl Workload for Report {
    fn name(&self) -> &'static str {
        "W4_report"
    }

    fn run<'a>(&'a self, ctx: &'a Workloads<'a>) -> Run<'a> {
        Box::pin(async move {
            let members = &ctx.at_risk | &ctx.nested;
            let year =
                DateRange::new(date(2025, 1, 1), date(2025, 12, 31)).map_err(|e| e.to_string())?;
            let report = sales_over_time(ctx.reports, year, Granularity::Month, Some(&members))
                .await
                .map_err(|e| e.to_string())?;
            let months: Vec<String> = report
                .periods
                .iter()
                .filter(|p| p.figures.orders > 0)
                .map(|p| format!("{},{}\n", p.period, p.figures.revenue))
                .collect();
            Ok(Outcome {
                count: months.len() as u64,
                text: months.concat(),
            })
        })
    }
}

fn date(year: i32, month: u32, day: u32) -> NaiveDate {
    NaiveDate::from_ymd_opt(year, month, day).expect("a valid date")
}

/// W5: revenue of W3's members' completed orders with `now - 30 days <= ordered_at < now`.
struct Widget;

impl Workload for Widget {
    fn name(&self) -> &'static str {
        "W5_widget"
    }

    fn run<'a>(&'a self, ctx: &'a Workloads<'a>) -> Run<'a> {
        Box::pin(async move {
            let from = (ctx.now - Duration::days(30)).timestamp_micros();
            let to = ctx.now.timestamp_micros();
            let sql = format!(
                "SELECT client_id, total_cents, refunded_cents FROM orders \
                 WHERE status = 'completed' AND client_id IS NOT NULL \
                 AND ordered_at >= to_timestamp_micros({from}) AND ordered_at < to_timestamp_micros({to})"
            );
            let frame = ctx
                .snapshot
                .ctx
                .sql(&sql)
                .await
                .map_err(|e| e.to_string())?;
            let batches = frame.collect().await.map_err(|e| e.to_string())?;
            let (mut revenue, mut orders) = (0i64, 0u64);
            for batch in &batches {
                let ids = batch.column(0).as_primitive::<Int64Type>();
                let totals = batch.column(1).as_primitive::<Int64Type>();
                let refunds = batch.column(2).as_primitive::<Int64Type>();
                for row in 0..batch.num_rows() {
                    let member = ctx
                        .snapshot
                        .index
                        .position(ids.value(row))
                        .is_some_and(|p| ctx.nested.contains(p));
                    if member && ids.is_valid(row) {
                        revenue += (totals.value(row) - refunds.value(row)).max(0);
                        orders += 1;
                    }
                }
            }
            Ok(Outcome {
                count: orders,
                text: format!("{}\n", Cents(revenue)),
            })
        })
    }
}

/// W6: tiers by priority: W3 vip, W2 wholesale, distributors wholesale, staff-tagged staff.
struct Tiers;

impl Workload for Tiers {
    fn name(&self) -> &'static str {
        "W6_tiers"
    }

    fn run<'a>(&'a self, ctx: &'a Workloads<'a>) -> Run<'a> {
        Box::pin(async move {
            let s = ctx.snapshot;
            let distributors =
                members(s, &cond("client_type", "is", json!("distributor")), ctx.now)?;
            let staff = members(s, &cond("tag", "has", json!("staff")), ctx.now)?;
            let order = [
                TieredSegment {
                    segment_id: 3,
                    tier: Tier::Vip,
                },
                TieredSegment {
                    segment_id: 2,
                    tier: Tier::Wholesale,
                },
                TieredSegment {
                    segment_id: 10,
                    tier: Tier::Wholesale,
                },
                TieredSegment {
                    segment_id: 11,
                    tier: Tier::Staff,
                },
            ];
            let lookup = |id: i64| match id {
                3 => Some(&ctx.nested),
                2 => Some(&ctx.at_risk),
                10 => Some(&distributors),
                11 => Some(&staff),
                _ => None,
            };
            let assignment = TierAssignment::compute(&order, lookup, &s.universe);
            let mut tiers: Vec<(&str, u64)> = Tier::ALL
                .iter()
                .map(|t| (t.as_str(), assignment.members(*t).len()))
                .filter(|(_, n)| *n > 0)
                .collect();
            tiers.sort_unstable();
            let text: String = tiers.iter().map(|(t, n)| format!("{t},{n}\n")).collect();
            Ok(Outcome {
                count: tiers.len() as u64,
                text,
            })
        })
    }
}
