//! Property tests: random rules on random tenants through the bitmap engine, checked against
//! an independent DataFusion SQL query over the raw fact tables, and the set laws.

use std::sync::Arc;

use arrow::array::{Array, AsArray, Int64Array, ListArray, RecordBatch, StringArray};
use arrow::datatypes::{DataType, Field, Schema};
use chrono::{DateTime, Days, Months, NaiveDate, Utc};
use datafusion::datasource::MemTable;
use datafusion::prelude::SessionContext;
use proptest::prelude::*;
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use serde_json::{Value, json};

use super::{NoSegments, evaluate};
use crate::facts::builder::{ClientRow, CustomValue, FactsBuilder, InvoiceRow, OrderRow};
use crate::facts::{CustomKind, Facts, OrderStatus};
use crate::rules::Rule;
use crate::snapshot::Snapshot;

const TEXT_VALUES: &[&str] = &[
    "us",
    "US",
    " de",
    "FR",
    "retail",
    "Wholesale",
    "berlin",
    "x",
];
const TAGS: &[&str] = &["vip", "VIP", "blocked", "new", "vip-gold"];
const DATES: &[&str] = &[
    "2020-06-01",
    "2023-01-01",
    "2024-03-10",
    "2024-06-01",
    "2024-06-15",
];
const CENTS: &[i64] = &[0, 1_000, 5_000, 12_345, 50_000, 100_000];

fn as_of() -> DateTime<Utc> {
    DateTime::parse_from_rfc3339("2024-06-15T12:00:00Z")
        .unwrap()
        .with_timezone(&Utc)
}

fn pick<T: Clone + std::fmt::Debug + 'static>(items: &'static [T]) -> impl Strategy<Value = T> {
    proptest::sample::select(items)
}

fn money(cents: i64) -> Value {
    json!(format!("{}.{:02}", cents / 100, cents % 100))
}

fn text_condition() -> impl Strategy<Value = Value> {
    let field = pick(&["client_type", "country", "city", "custom.industry"]);
    let op = pick(&["is", "is_not", "in", "not_in", "is_empty", "is_not_empty"]);
    let values = proptest::collection::vec(pick(TEXT_VALUES), 0..3);
    (field, op, pick(TEXT_VALUES), values).prop_map(|(field, op, value, values)| match op {
        "in" | "not_in" => json!({"field": field, "op": op, "value": values}),
        "is_empty" | "is_not_empty" => json!({"field": field, "op": op}),
        _ => json!({"field": field, "op": op, "value": value}),
    })
}

fn number_condition() -> impl Strategy<Value = Value> {
    let field = pick(&[
        "total_revenue",
        "average_order_value",
        "outstanding_balance",
        "lifetime_orders",
        "custom.employees",
    ]);
    let op = pick(&["gt", "gte", "lt", "lte", "eq", "between"]);
    (field, op, pick(CENTS), pick(CENTS)).prop_map(|(field, op, a, b)| {
        let value = |cents: i64| match field {
            "lifetime_orders" => json!(cents / 5_000),
            "custom.employees" => json!(cents / 1_000),
            _ => money(cents),
        };
        let value = if op == "between" {
            json!([value(a.min(b)), value(a.max(b))])
        } else {
            value(a)
        };
        json!({"field": field, "op": op, "value": value})
    })
}

fn date_value() -> impl Strategy<Value = Value> {
    prop_oneof![
        pick(DATES).prop_map(|d| json!(d)),
        (0u32..400).prop_map(|n| json!({"days_ago": n})),
        (0u32..30).prop_map(|n| json!({"months_ago": n})),
    ]
}

fn date_condition() -> impl Strategy<Value = Value> {
    let field = pick(&["created_at", "last_purchase_date"]);
    let op = pick(&[
        "before",
        "after",
        "on",
        "between",
        "within_last",
        "not_within_last",
    ]);
    let span = prop_oneof![
        (0u32..400).prop_map(|n| json!({"days": n})),
        (0u32..30).prop_map(|n| json!({"months": n}))
    ];
    (field, op, date_value(), pick(DATES), pick(DATES), span).prop_map(
        |(field, op, value, a, b, span)| {
            let value = match op {
                "between" => json!([a.min(b), a.max(b)]),
                "within_last" | "not_within_last" => span,
                _ => value,
            };
            json!({"field": field, "op": op, "value": value})
        },
    )
}

fn other_condition() -> impl Strategy<Value = Value> {
    prop_oneof![
        (pick(&["has", "has_not"]), pick(TAGS))
            .prop_map(|(op, tag)| json!({"field": "tag", "op": op, "value": tag})),
        (pick(&["is", "is_not"]), 1i64..6)
            .prop_map(|(op, p)| json!({"field": "purchased_product", "op": op, "value": p})),
        (0u64..12).prop_map(|n| json!({"field": "revenue_rank", "op": "top", "value": n})),
    ]
}

fn condition() -> impl Strategy<Value = Value> {
    prop_oneof![
        text_condition(),
        number_condition(),
        date_condition(),
        other_condition()
    ]
}

fn rule() -> impl Strategy<Value = Value> {
    condition().prop_recursive(3, 24, 4, |inner| {
        (
            pick(&["all", "any", "none"]),
            proptest::collection::vec(inner, 0..4),
        )
            .prop_map(|(op, children)| json!({op: children}))
    })
}

/// A random tenant: clients with messy text, orders of every status with refunds and guest
/// sales, lines over five products, invoices of every status.
fn random_facts(seed: u64) -> Facts {
    let mut rng = StdRng::seed_from_u64(seed);
    let pick_str =
        |rng: &mut StdRng, items: &[&str]| items[rng.random_range(0..items.len())].to_string();
    let maybe =
        |rng: &mut StdRng, items: &[&str]| rng.random_bool(0.8).then(|| pick_str(rng, items));
    let day = |rng: &mut StdRng, from: i64, span: i64| {
        let date = NaiveDate::from_ymd_opt(2020, 1, 1).unwrap()
            + Days::new((from + rng.random_range(0..span)) as u64);
        date.and_hms_opt(rng.random_range(0..24), 0, 0)
            .unwrap()
            .and_utc()
            .timestamp_micros()
    };
    let mut builder = FactsBuilder::new()
        .custom_field("industry", CustomKind::Text)
        .custom_field("employees", CustomKind::Integer);
    let n = rng.random_range(0..25usize);
    let ids: Vec<i64> = (0..n as i64).map(|i| 10 + i * 3).rev().collect();
    for &id in &ids {
        let mut custom = Vec::new();
        if let Some(industry) = maybe(&mut rng, &["Retail", " retail", "", "Tech"]) {
            custom.push(("industry".to_string(), CustomValue::Text(industry)));
        }
        if rng.random_bool(0.7) {
            custom.push((
                "employees".to_string(),
                CustomValue::Integer(rng.random_range(0..120)),
            ));
        }
        let tags = rng.random_bool(0.8).then(|| {
            (0..rng.random_range(0..3))
                .map(|_| pick_str(&mut rng, &["VIP", "vip ", "blocked", "New", "VIP-Gold"]))
                .collect()
        });
        builder = builder.client(ClientRow {
            client_type: pick_str(&mut rng, &["retail", "Retail ", "wholesale", "distributor"]),
            country: maybe(&mut rng, &["US", "us ", " DE", "fr", ""]),
            city: maybe(&mut rng, &["Berlin", "berlin ", "Paris", ""]),
            created_at: day(&mut rng, 0, 1_700),
            tags,
            deleted_at: rng.random_bool(0.1).then(|| day(&mut rng, 1_600, 100)),
            custom,
            ..ClientRow::new(id)
        });
    }
    let statuses = [
        OrderStatus::Completed,
        OrderStatus::Completed,
        OrderStatus::Cancelled,
        OrderStatus::Refunded,
        OrderStatus::Open,
    ];
    for order_id in 1..rng.random_range(1..60i64) {
        let total = rng.random_range(0..100_000i64);
        let client_id =
            (!ids.is_empty() && rng.random_bool(0.9)).then(|| ids[rng.random_range(0..ids.len())]);
        builder = builder.order(OrderRow {
            order_id,
            client_id,
            ordered_at: day(&mut rng, 1_000, 700),
            status: statuses[rng.random_range(0..statuses.len())],
            total_cents: total,
            refunded_cents: if rng.random_bool(0.2) {
                rng.random_range(0..total + 2_000)
            } else {
                0
            },
        });
        for _ in 0..rng.random_range(0..3) {
            builder = builder.line(order_id, rng.random_range(1..6), 1, 100);
        }
    }
    for invoice_id in 1..rng.random_range(1..20i64) {
        if ids.is_empty() {
            break;
        }
        builder = builder.invoice(InvoiceRow {
            invoice_id,
            client_id: ids[rng.random_range(0..ids.len())],
            issued_at: day(&mut rng, 1_000, 700),
            due_at: None,
            total_cents: rng.random_range(0..50_000),
            paid_cents: rng.random_range(0..50_000),
            status: pick_str(&mut rng, &["open", "paid", "void"]),
        });
    }
    builder.build().expect("random facts")
}

/// The oracle: one SQL query over the raw tables, written without the engine's code.
struct Oracle {
    ctx: SessionContext,
    today: NaiveDate,
}

impl Oracle {
    fn new(facts: &Facts) -> Oracle {
        let ctx = SessionContext::new();
        let register = |name: &str, batch: &RecordBatch| {
            let table = MemTable::try_new(batch.schema(), vec![vec![batch.clone()]]).unwrap();
            ctx.register_table(name, Arc::new(table)).unwrap();
        };
        register("clients", &facts.clients);
        register("orders", &facts.orders);
        register("order_lines", &facts.order_lines);
        register("invoices", &facts.invoices);
        register("client_tags", &client_tags(&facts.clients));
        Oracle {
            ctx,
            today: as_of().date_naive(),
        }
    }

    async fn members(&self, rule: &Value) -> Vec<i64> {
        let sql = format!(
            "WITH rev AS (SELECT client_id, SUM(CASE WHEN total_cents > refunded_cents \
                 THEN total_cents - refunded_cents ELSE 0 END) AS revenue, COUNT(*) AS orders, \
                 MAX(ordered_at) AS last_at FROM orders \
                 WHERE status = 'completed' AND client_id IS NOT NULL GROUP BY client_id), \
             bal AS (SELECT client_id, SUM(total_cents - paid_cents) AS balance FROM invoices \
                 WHERE status <> 'void' GROUP BY client_id), \
             m AS (SELECT c.client_id, c.client_type, c.country, c.city, c.created_at, \
                 c.industry, c.employees, COALESCE(rev.revenue, 0) AS revenue, \
                 COALESCE(rev.orders, 0) AS orders, rev.last_at, \
                 COALESCE(bal.balance, 0) AS balance \
                 FROM clients c LEFT JOIN rev ON c.client_id = rev.client_id \
                 LEFT JOIN bal ON c.client_id = bal.client_id WHERE c.deleted_at IS NULL) \
             SELECT client_id FROM m WHERE {} ORDER BY client_id",
            self.node(rule)
        );
        let batches = self
            .ctx
            .sql(&sql)
            .await
            .unwrap_or_else(|e| panic!("{sql}: {e}"))
            .collect()
            .await
            .unwrap();
        batches
            .iter()
            .flat_map(|b| {
                b.column(0)
                    .as_primitive::<arrow::datatypes::Int64Type>()
                    .values()
                    .to_vec()
            })
            .collect()
    }

    fn node(&self, node: &Value) -> String {
        let object = node.as_object().unwrap();
        let group = |key: &str| object.get(key).and_then(Value::as_array);
        let parts = |items: &Vec<Value>, unit: &str, join: &str| {
            let mut sql = vec![unit.to_string()];
            sql.extend(items.iter().map(|item| self.node(item)));
            format!("({})", sql.join(join))
        };
        if let Some(items) = group("all") {
            return parts(items, "TRUE", " AND ");
        }
        if let Some(items) = group("any") {
            return parts(items, "FALSE", " OR ");
        }
        if let Some(items) = group("none") {
            return format!("(NOT {})", parts(items, "FALSE", " OR "));
        }
        let (negated, test) = self.condition(
            object["field"].as_str().unwrap(),
            object["op"].as_str().unwrap(),
            object.get("value"),
        );
        let test = format!("COALESCE(({test}), FALSE)");
        if negated {
            format!("(NOT {test})")
        } else {
            test
        }
    }

    fn condition(&self, field: &str, op: &str, value: Option<&Value>) -> (bool, String) {
        let value = value.cloned().unwrap_or(Value::Null);
        let negated = matches!(
            op,
            "is_not" | "not_in" | "is_not_empty" | "has_not" | "not_within_last"
        );
        let column = match field {
            "custom.industry" => "industry",
            "custom.employees" => "employees",
            "total_revenue" => "revenue",
            "outstanding_balance" => "balance",
            "lifetime_orders" => "orders",
            "created_at" => "CAST(created_at AS DATE)",
            "last_purchase_date" => "CAST(last_at AS DATE)",
            other => other,
        };
        let sql = match field {
            "tag" => format!(
                "client_id IN (SELECT client_id FROM client_tags WHERE lower(trim(tag)) = {})",
                quote(&value)
            ),
            "purchased_product" => format!(
                "client_id IN (SELECT o.client_id FROM order_lines l JOIN orders o ON l.order_id = o.order_id \
                 WHERE o.status = 'completed' AND o.client_id IS NOT NULL AND l.product_id = {value})"
            ),
            "revenue_rank" => format!(
                "client_id IN (SELECT client_id FROM m ORDER BY revenue DESC, client_id LIMIT {value})"
            ),
            "client_type" | "country" | "city" | "custom.industry" => text_sql(column, op, &value),
            "created_at" | "last_purchase_date" => self.date_sql(column, op, &value),
            "average_order_value" => {
                number_sql("revenue", op, &value, " * orders", "orders > 0 AND ")
            }
            _ => number_sql(column, op, &value, "", ""),
        };
        (negated, sql)
    }

    fn date(&self, value: &Value) -> String {
        let date = match value {
            Value::String(s) => NaiveDate::parse_from_str(s, "%Y-%m-%d").unwrap(),
            Value::Object(o) if o.contains_key("days_ago") => {
                self.today - Days::new(o["days_ago"].as_u64().unwrap())
            }
            Value::Object(o) => self
                .today
                .checked_sub_months(Months::new(o["months_ago"].as_u64().unwrap() as u32))
                .unwrap(),
            other => panic!("not a date: {other}"),
        };
        format!("DATE '{date}'")
    }

    fn date_sql(&self, column: &str, op: &str, value: &Value) -> String {
        match op {
            "before" => format!("{column} < {}", self.date(value)),
            "after" => format!("{column} > {}", self.date(value)),
            "on" => format!("{column} = {}", self.date(value)),
            "between" => format!(
                "{column} >= {} AND {column} <= {}",
                self.date(&value[0]),
                self.date(&value[1])
            ),
            _ => {
                let since = match value.get("days") {
                    Some(days) => json!({"days_ago": days}),
                    None => json!({"months_ago": value["months"]}),
                };
                format!("{column} >= {}", self.date(&since))
            }
        }
    }
}

fn quote(value: &Value) -> String {
    format!("'{}'", value.as_str().unwrap().trim().to_lowercase())
}

fn text_sql(column: &str, op: &str, value: &Value) -> String {
    let folded = format!("lower(trim({column}))");
    match op {
        "is" | "is_not" => format!("{folded} = {}", quote(value)),
        "in" | "not_in" => match value.as_array().unwrap().as_slice() {
            [] => "FALSE".to_string(),
            items => format!(
                "{folded} IN ({})",
                items.iter().map(quote).collect::<Vec<_>>().join(", ")
            ),
        },
        _ => format!("{column} IS NULL OR trim({column}) = ''"),
    }
}

/// Money values are decimal strings: compared in cents, as whole numbers.
fn number_sql(column: &str, op: &str, value: &Value, scale: &str, guard: &str) -> String {
    let number = |v: &Value| match v {
        Value::String(s) => {
            let (whole, frac) = s.split_once('.').unwrap();
            (whole.parse::<i64>().unwrap() * 100 + frac.parse::<i64>().unwrap()).to_string()
        }
        other => other.to_string(),
    };
    let symbol = match op {
        "gt" => ">",
        "gte" => ">=",
        "lt" => "<",
        "lte" => "<=",
        "eq" => "=",
        _ => {
            let (low, high) = (number(&value[0]), number(&value[1]));
            return format!("{guard}{column} >= {low}{scale} AND {column} <= {high}{scale}");
        }
    };
    format!("{guard}{column} {symbol} {}{scale}", number(value))
}

/// The tags list exploded to one row per (client, tag), for the oracle's subqueries.
fn client_tags(clients: &RecordBatch) -> RecordBatch {
    let ids: &Int64Array = clients.column(0).as_primitive();
    let tags: &ListArray = clients.column_by_name("tags").unwrap().as_list();
    let (mut out_ids, mut out_tags) = (Vec::new(), Vec::new());
    for row in 0..clients.num_rows() {
        if tags.is_valid(row) {
            let list = tags.value(row);
            for tag in list.as_string::<i32>().iter().flatten() {
                out_ids.push(ids.value(row));
                out_tags.push(tag.to_string());
            }
        }
    }
    let schema = Schema::new(vec![
        Field::new("client_id", DataType::Int64, false),
        Field::new("tag", DataType::Utf8, false),
    ]);
    let columns: Vec<arrow::array::ArrayRef> = vec![
        Arc::new(Int64Array::from(out_ids)),
        Arc::new(StringArray::from(out_tags)),
    ];
    RecordBatch::try_new(Arc::new(schema), columns).unwrap()
}

fn engine_members(snapshot: &Snapshot, rule: &Value) -> Vec<i64> {
    let rule = Rule::from_json(rule, &snapshot.facts.custom_fields)
        .unwrap_or_else(|e| panic!("{rule}: {e}"));
    let evaluation = evaluate(&rule, snapshot, as_of(), &NoSegments).unwrap();
    snapshot.index.ids_of(&evaluation.members)
}

fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap()
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 48, ..ProptestConfig::default() })]

    #[test]
    fn engine_agrees_with_sql_over_raw_facts(seed in any::<u64>(), rules in proptest::collection::vec(rule(), 4)) {
        let facts = random_facts(seed);
        let rt = runtime();
        let oracle = Oracle::new(&facts);
        let snapshot = rt.block_on(Snapshot::build(facts, chrono_tz::UTC)).unwrap();
        for rule in &rules {
            let expected = rt.block_on(oracle.members(rule));
            prop_assert_eq!(engine_members(&snapshot, rule), expected, "rule {}", rule);
        }
    }

    #[test]
    fn set_laws_hold(seed in any::<u64>(), a in rule(), b in rule()) {
        let snapshot = runtime().block_on(Snapshot::build(random_facts(seed), chrono_tz::UTC)).unwrap();
        let members = |rule: Value| engine_members(&snapshot, &rule);
        let (ma, mb) = (members(a.clone()), members(b.clone()));
        // De Morgan, both ways.
        prop_assert_eq!(members(json!({"none": [{"any": [a.clone(), b.clone()]}]})),
            members(json!({"all": [{"none": [a.clone()]}, {"none": [b.clone()]}]})));
        prop_assert_eq!(members(json!({"none": [{"all": [a.clone(), b.clone()]}]})),
            members(json!({"any": [{"none": [a.clone()]}, {"none": [b.clone()]}]})));
        // Double negation, and `all` with the universe.
        prop_assert_eq!(members(json!({"none": [{"none": [a.clone()]}]})), ma.clone());
        prop_assert_eq!(members(json!({"all": [a.clone(), {"all": []}]})), ma.clone());
        // A rule and its negation split the universe.
        let universe = members(json!({"all": []}));
        let mut split = ma.clone();
        split.extend(members(json!({"none": [a.clone()]})));
        split.sort_unstable();
        prop_assert_eq!(split, universe);
        // `a and not b` is the difference.
        let difference: Vec<i64> = ma.iter().copied().filter(|id| !mb.contains(id)).collect();
        prop_assert_eq!(members(json!({"all": [a, {"none": [b]}]})), difference);
    }
}
