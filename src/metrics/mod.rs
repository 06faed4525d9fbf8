//! Client metrics: one Arrow table aligned with the client index, computed with DataFusion
//! from the facts exactly as SEMANTICS.md defines them.
//!
//! Invariant: row `i` of [`ClientMetrics::batch`] is client position `i`. Money is `Int64`
//! cents; dates are `Date32` local dates in the tenant's zone; text is normalised (trimmed,
//! case folded, a blank value is `""`), so rule plans compare plain values.

pub mod columns;

use std::sync::Arc;

use arrow::array::{
    Array, ArrayRef, AsArray, Date32Array, Int64Array, RecordBatch, StringArray,
    TimestampMicrosecondArray,
};
use arrow::datatypes::{DataType, Field, Schema, TimestampMicrosecondType};
use chrono_tz::Tz;
use datafusion::error::DataFusionError;
use datafusion::prelude::SessionContext;

use crate::facts::{CustomKind, Facts, schema::clients};
use crate::rules::normalize_text;
use crate::snapshot::ClientIndex;
use crate::time::{local_date, to_date32};

/// Why metrics could not be computed; always a fault of ours, since facts are validated.
pub type MetricsError = DataFusionError;

/// The metrics table and quick typed views of its hottest columns.
#[derive(Debug, Clone)]
pub struct ClientMetrics {
    pub batch: RecordBatch,
}

impl ClientMetrics {
    pub fn total_revenue_cents(&self) -> &Int64Array {
        self.int64(columns::TOTAL_REVENUE_CENTS)
    }

    pub fn lifetime_orders(&self) -> &Int64Array {
        self.int64(columns::LIFETIME_ORDERS)
    }

    pub fn outstanding_balance_cents(&self) -> &Int64Array {
        self.int64(columns::OUTSTANDING_BALANCE_CENTS)
    }

    pub fn last_purchase_date(&self) -> &Date32Array {
        self.batch
            .column_by_name(columns::LAST_PURCHASE_DATE)
            .expect("metrics column")
            .as_primitive()
    }

    fn int64(&self, name: &str) -> &Int64Array {
        self.batch
            .column_by_name(name)
            .expect("metrics column")
            .as_primitive()
    }
}

/// Per-client aggregates of orders and invoices, scattered onto positions.
struct Aggregates {
    revenue: Vec<i64>,
    orders: Vec<i64>,
    last_purchase_at: Vec<Option<i64>>,
    balance: Vec<i64>,
}

/// Computes the metrics of every client of `clients` (sorted by id, as the index).
///
/// # Errors
/// Only a DataFusion failure, which means a bug: the facts are already validated.
pub async fn compute(
    ctx: &SessionContext,
    facts: &Facts,
    clients_sorted: &RecordBatch,
    index: &ClientIndex,
    tz: Tz,
) -> Result<ClientMetrics, MetricsError> {
    let aggregates = aggregate(ctx, index).await?;
    let batch = assemble(facts, clients_sorted, &aggregates, tz)?;
    Ok(ClientMetrics { batch })
}

const ORDER_AGGREGATES: &str = "
    SELECT client_id,
           SUM(CASE WHEN total_cents > refunded_cents THEN total_cents - refunded_cents
                    ELSE 0 END) AS revenue,
           COUNT(*) AS orders,
           MAX(ordered_at) AS last_at
    FROM orders
    WHERE status = 'completed' AND client_id IS NOT NULL
    GROUP BY client_id";

const INVOICE_AGGREGATES: &str = "
    SELECT client_id, SUM(total_cents - paid_cents) AS balance
    FROM invoices
    WHERE status <> 'void'
    GROUP BY client_id";

async fn aggregate(ctx: &SessionContext, index: &ClientIndex) -> Result<Aggregates, MetricsError> {
    let n = index.len();
    let mut out = Aggregates {
        revenue: vec![0; n],
        orders: vec![0; n],
        last_purchase_at: vec![None; n],
        balance: vec![0; n],
    };
    for batch in ctx.sql(ORDER_AGGREGATES).await?.collect().await? {
        let ids: &Int64Array = batch.column(0).as_primitive();
        let revenue: &Int64Array = batch.column(1).as_primitive();
        let orders: &Int64Array = batch.column(2).as_primitive();
        let last: &TimestampMicrosecondArray = batch.column(3).as_primitive();
        for row in 0..batch.num_rows() {
            let Some(pos) = index.position(ids.value(row)) else {
                continue;
            };
            let pos = pos as usize;
            out.revenue[pos] = revenue.value(row);
            out.orders[pos] = orders.value(row);
            out.last_purchase_at[pos] = last.is_valid(row).then(|| last.value(row));
        }
    }
    for batch in ctx.sql(INVOICE_AGGREGATES).await?.collect().await? {
        let ids: &Int64Array = batch.column(0).as_primitive();
        let balance: &Int64Array = batch.column(1).as_primitive();
        for row in 0..batch.num_rows() {
            if let Some(pos) = index.position(ids.value(row)) {
                out.balance[pos as usize] = balance.value(row);
            }
        }
    }
    Ok(out)
}

fn assemble(
    facts: &Facts,
    clients_sorted: &RecordBatch,
    agg: &Aggregates,
    tz: Tz,
) -> Result<RecordBatch, MetricsError> {
    let column = |name: &str| {
        clients_sorted
            .column_by_name(name)
            .expect("canonical column")
    };
    let local = |micros: Option<i64>| micros.map(|m| to_date32(local_date(m, tz)));
    let created: &TimestampMicrosecondArray = column(clients::CREATED_AT).as_primitive();
    let mut fields = vec![
        Field::new(columns::CLIENT_ID, DataType::Int64, false),
        Field::new(columns::CREATED_DATE, DataType::Date32, true),
        Field::new(columns::TOTAL_REVENUE_CENTS, DataType::Int64, false),
        Field::new(columns::LIFETIME_ORDERS, DataType::Int64, false),
        Field::new(columns::LAST_PURCHASE_DATE, DataType::Date32, true),
        Field::new(columns::OUTSTANDING_BALANCE_CENTS, DataType::Int64, false),
    ];
    let mut arrays: Vec<ArrayRef> = vec![
        column(clients::CLIENT_ID).clone(),
        Arc::new(created.iter().map(local).collect::<Date32Array>()),
        Arc::new(Int64Array::from(agg.revenue.clone())),
        Arc::new(Int64Array::from(agg.orders.clone())),
        Arc::new(
            agg.last_purchase_at
                .iter()
                .map(|m| local(*m))
                .collect::<Date32Array>(),
        ),
        Arc::new(Int64Array::from(agg.balance.clone())),
    ];
    for name in [clients::CLIENT_TYPE, clients::COUNTRY, clients::CITY] {
        fields.push(Field::new(name, DataType::Utf8, true));
        arrays.push(normalized_text(column(name)));
    }
    for custom in &facts.custom_fields {
        let (data_type, array) = custom_metric(column(&custom.name), custom.kind, tz);
        fields.push(Field::new(columns::custom(&custom.name), data_type, true));
        arrays.push(array);
    }
    Ok(RecordBatch::try_new(Arc::new(Schema::new(fields)), arrays)?)
}

fn normalized_text(array: &ArrayRef) -> ArrayRef {
    let strings: &StringArray = array.as_string();
    Arc::new(
        strings
            .iter()
            .map(|v| v.map(normalize_text))
            .collect::<StringArray>(),
    )
}

/// A custom column as rules compare it: text normalised, timestamps as local dates.
fn custom_metric(array: &ArrayRef, kind: CustomKind, tz: Tz) -> (DataType, ArrayRef) {
    match kind {
        CustomKind::Text => (DataType::Utf8, normalized_text(array)),
        CustomKind::Timestamp => {
            let micros = array.as_primitive::<TimestampMicrosecondType>();
            let local = micros
                .iter()
                .map(|m| m.map(|m| to_date32(local_date(m, tz))));
            (DataType::Date32, Arc::new(local.collect::<Date32Array>()))
        }
        other => (other.data_type(), array.clone()),
    }
}
