//! Outstanding balances with ageing buckets, as of a local date.
//!
//! An invoice counts when it is not void, its `total - paid` is not zero (a credit counts as
//! a negative amount) and it was issued on or before the as-of date. It is aged by the days
//! from its due date to the as-of date: due that day or later is "not yet due". An invoice
//! without a due date is taken as due on its issue date (local), the strictest reading: a
//! bill with no agreed terms is payable on receipt. Paid amounts are today's: the facts
//! hold no payment history, so an as-of date in the past ages today's balances.

use std::collections::BTreeMap;

use arrow::array::{Array, AsArray, RecordBatch, UInt8Array, UInt32Array};
use chrono::{DateTime, NaiveDate, Utc};
use datafusion::common::ScalarValue;
use datafusion::functions_aggregate::count::count_all;
use datafusion::functions_aggregate::expr_fn::sum;
use datafusion::prelude::{Expr, col, lit, when};
use roaring::RoaringBitmap;
use serde::Serialize;

use super::error::Result;
use super::views::{ReportFacts, column};
use crate::money::Cents;
use crate::time::{to_date32, today};

/// Amounts outstanding by how long past due they are.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
pub struct Ageing {
    pub not_yet_due: Cents,
    pub days_1_30: Cents,
    pub days_31_60: Cents,
    pub days_61_90: Cents,
    pub over_90_days: Cents,
    pub total: Cents,
    /// Invoices with a balance.
    pub invoices: u64,
}

impl Ageing {
    /// Adds `cents` over `invoices` invoices to bucket `bucket` (0: not yet due .. 4: over 90).
    fn add(&mut self, bucket: u8, cents: i64, invoices: u64) {
        let slot = match bucket {
            0 => &mut self.not_yet_due,
            1 => &mut self.days_1_30,
            2 => &mut self.days_31_60,
            3 => &mut self.days_61_90,
            _ => &mut self.over_90_days,
        };
        slot.0 += cents;
        self.total.0 += cents;
        self.invoices += invoices;
    }
}

/// The balance report: one row per client owing or owed, and the total.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Balances {
    pub as_of: NaiveDate,
    /// By total descending, then client id; only clients with invoices in scope.
    pub clients: Vec<ClientBalance>,
    pub total: Ageing,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ClientBalance {
    pub client_id: i64,
    pub name: String,
    #[serde(flatten)]
    pub ageing: Ageing,
}

/// Outstanding balances aged as of the local date of `as_of`, for `members` (`None`: all
/// clients, deleted ones included); `top` keeps the largest client rows only.
///
/// # Errors
/// [`super::ReportError::TopOutOfRange`], or an internal fault running the query.
pub async fn balances(
    facts: &ReportFacts,
    as_of: DateTime<Utc>,
    top: Option<usize>,
    members: Option<&RoaringBitmap>,
) -> Result<Balances> {
    if let Some(top) = top {
        super::sales::check_top(top)?;
    }
    let as_of = today(as_of, facts.snapshot.tz);
    let day = to_date32(as_of);
    let mask = facts.mask(members);
    let aggregates = vec![
        sum(col(column::OUTSTANDING_CENTS)).alias("cents"),
        count_all(),
    ];
    let batches = facts
        .scan_invoices(mask.as_ref())?
        .filter(col(column::ISSUED_DAY).lt_eq(date(day)))?
        .aggregate(
            vec![col(column::CLIENT_POS), ageing_bucket(day)?.alias("bucket")],
            aggregates,
        )?
        .collect()
        .await?;
    let (per_client, total) = accumulate(&batches);
    let mut clients: Vec<ClientBalance> = per_client
        .into_iter()
        .map(|(position, ageing)| client_balance(facts, position, ageing))
        .collect();
    clients.sort_by(|a, b| (b.ageing.total, a.client_id).cmp(&(a.ageing.total, b.client_id)));
    clients.truncate(top.unwrap_or(usize::MAX));
    Ok(Balances {
        as_of,
        clients,
        total,
    })
}

/// `0` not yet due, `1` 1-30 days past due, `2` 31-60, `3` 61-90, `4` over 90.
fn ageing_bucket(as_of: i32) -> Result<Expr> {
    let due = || col(column::DUE_DAY);
    Ok(when(due().gt_eq(date(as_of)), lit(0u8))
        .when(due().gt_eq(date(as_of - 30)), lit(1u8))
        .when(due().gt_eq(date(as_of - 60)), lit(2u8))
        .when(due().gt_eq(date(as_of - 90)), lit(3u8))
        .otherwise(lit(4u8))?)
}

fn date(day: i32) -> Expr {
    lit(ScalarValue::Date32(Some(day)))
}

/// Per-client ageing keyed by position, and the total (which also holds invoices of
/// clients the snapshot does not know, when unfiltered).
fn accumulate(batches: &[RecordBatch]) -> (BTreeMap<u32, Ageing>, Ageing) {
    let mut per_client: BTreeMap<u32, Ageing> = BTreeMap::new();
    let mut total = Ageing::default();
    for batch in batches {
        let positions: &UInt32Array = batch.column(0).as_primitive();
        let buckets: &UInt8Array = batch.column(1).as_primitive();
        let cents = batch
            .column(2)
            .as_primitive::<arrow::datatypes::Int64Type>();
        let counts = batch
            .column(3)
            .as_primitive::<arrow::datatypes::Int64Type>();
        for row in 0..batch.num_rows() {
            let (bucket, amount) = (buckets.value(row), cents.value(row));
            let invoices = counts.value(row) as u64;
            total.add(bucket, amount, invoices);
            if positions.is_valid(row) {
                let client = per_client.entry(positions.value(row)).or_default();
                client.add(bucket, amount, invoices);
            }
        }
    }
    (per_client, total)
}

fn client_balance(facts: &ReportFacts, position: u32, ageing: Ageing) -> ClientBalance {
    ClientBalance {
        client_id: facts.snapshot.index.client_id(position),
        name: facts.snapshot.client_name(position).to_string(),
        ageing,
    }
}
