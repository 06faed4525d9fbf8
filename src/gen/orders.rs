//! Orders, their lines and the invoices of business clients, generated one part at a time
//! and streamed to that part's files.

use std::ops::Range;
use std::path::Path;
use std::sync::Arc;

use arrow::array::{ArrayRef, Date32Array, Int64Array, StringArray, TimestampMicrosecondArray};
use arrow::error::ArrowError;
use arrow::record_batch::RecordBatch;
use rand::Rng;
use rand_chacha::ChaCha8Rng;

use super::clients::{ClientKind, ClientPlan, Tier};
use super::products::Prices;
use super::random::{self, Domain};
use super::{GenError, Span};
use crate::facts::schema::{self, OrderStatus};
use crate::facts::write::{ContractMap, Table, TableWriter, WriteOptions, part_file_name};

/// Clients per block: the unit of random streams and of order-id bookkeeping.
pub const BLOCK_CLIENTS: usize = 1024;
/// One guest sale (an order without a client) for every this many client orders.
const ORDERS_PER_GUEST_ORDER: u64 = 100;
/// Orders buffered before a batch goes to the writers.
const FLUSH_ORDERS: usize = 1 << 16;
const DAY_US: i64 = 86_400_000_000;
/// Orders this recent may still be open.
const OPEN_WINDOW_US: i64 = 14 * DAY_US;
const OPEN_SHARE: f64 = 0.35;
const CANCELLED_SHARE: f64 = 0.03;
const REFUNDED_SHARE: f64 = 0.02;
const PARTIAL_REFUND_SHARE: f64 = 0.03;
/// Business orders this recent are invoiced.
const INVOICED_WINDOW_US: i64 = 400 * DAY_US;

/// The orders of one block of clients: theirs plus the block's guest sales.
pub fn block_orders(plans: &[ClientPlan]) -> u64 {
    let own: u64 = plans.iter().map(|p| u64::from(p.orders)).sum();
    own + own / ORDERS_PER_GUEST_ORDER
}

/// One part: consecutive blocks whose orders go to `orders/part-NNNN.parquet` and whose
/// lines go to `order_lines/part-NNNN.parquet`.
#[derive(Debug, Clone)]
pub struct PartPlan {
    /// 0-based; the file is numbered `index + 1`.
    pub index: usize,
    pub blocks: Range<usize>,
    pub first_order_id: i64,
}

/// Cuts the blocks into parts of at least `orders_per_part` orders (the last may be smaller).
pub fn plan_parts(block_totals: &[u64], orders_per_part: u64) -> Vec<PartPlan> {
    let mut parts = Vec::new();
    let (mut start, mut in_part, mut next_id) = (0, 0, 1_i64);
    for (block, total) in block_totals.iter().enumerate() {
        in_part += total;
        if in_part >= orders_per_part || block + 1 == block_totals.len() {
            let index = parts.len();
            parts.push(PartPlan {
                index,
                blocks: start..block + 1,
                first_order_id: next_id,
            });
            next_id += in_part as i64;
            (start, in_part) = (block + 1, 0);
        }
    }
    parts
}

/// What one part produced; its invoices wait for their ids until all parts are done.
#[derive(Debug, Default)]
pub struct PartOutput {
    pub orders: u64,
    pub lines: u64,
    pub invoices: InvoiceColumns,
}

/// The read-only world a part is generated in.
pub struct PartContext<'a> {
    pub seed: u64,
    pub span: &'a Span,
    pub plans: &'a [ClientPlan],
    pub prices: &'a [Prices],
    pub out: &'a Path,
    pub options: WriteOptions,
    /// Called with the number of clients whose orders were just written.
    pub progress: &'a (dyn Fn(u64) + Sync),
}

/// Generates and writes one part.
///
/// # Errors
/// A part file cannot be written.
pub fn write_part(context: &PartContext<'_>, part: &PartPlan) -> Result<PartOutput, GenError> {
    let file = part_file_name(part.index as u32 + 1);
    let orders_map = ContractMap::new(Table::Orders, &schema::orders_schema(), &[])?;
    let lines_map = ContractMap::new(Table::OrderLines, &schema::order_lines_schema(), &[])?;
    let orders_path = context.out.join(Table::Orders.name()).join(&file);
    let lines_path = context.out.join(Table::OrderLines.name()).join(&file);
    let mut orders_writer = TableWriter::create(orders_map, &orders_path, context.options)?;
    let mut lines_writer = TableWriter::create(lines_map, &lines_path, context.options)?;

    let mut columns = OrderColumns::new(part.first_order_id);
    let mut output = PartOutput::default();
    for block in part.blocks.clone() {
        let clients = block_clients(context.plans, block);
        columns.push_block(context, block, clients, &mut output.invoices);
        if columns.order_id.len() >= FLUSH_ORDERS {
            columns.flush(&mut orders_writer, &mut lines_writer)?;
        }
        (context.progress)(clients.len() as u64);
    }
    columns.flush(&mut orders_writer, &mut lines_writer)?;

    output.orders = orders_writer.finish()?;
    output.lines = lines_writer.finish()?;
    Ok(output)
}

/// The plans of the clients in `block`.
pub fn block_clients(plans: &[ClientPlan], block: usize) -> &[ClientPlan] {
    let start = block * BLOCK_CLIENTS;
    &plans[start..(start + BLOCK_CLIENTS).min(plans.len())]
}

/// The orders and lines of a part while they are drawn.
struct OrderColumns {
    next_order_id: i64,
    order_id: Vec<i64>,
    client_id: Vec<Option<i64>>,
    ordered_at: Vec<i64>,
    status: Vec<&'static str>,
    total: Vec<i64>,
    refunded: Vec<i64>,
    line_order_id: Vec<i64>,
    line_product_id: Vec<i64>,
    line_quantity: Vec<i64>,
    line_total: Vec<i64>,
}

/// One client's side of an order: who buys, at which prices, in which quantities.
#[derive(Clone, Copy)]
struct Buyer {
    client_id: Option<i64>,
    kind: ClientKind,
    tier: Tier,
}

impl OrderColumns {
    fn new(first_order_id: i64) -> Self {
        OrderColumns {
            next_order_id: first_order_id,
            order_id: Vec::new(),
            client_id: Vec::new(),
            ordered_at: Vec::new(),
            status: Vec::new(),
            total: Vec::new(),
            refunded: Vec::new(),
            line_order_id: Vec::new(),
            line_product_id: Vec::new(),
            line_quantity: Vec::new(),
            line_total: Vec::new(),
        }
    }

    /// Draws every order of a block: each client's, in time order, then the guest sales.
    fn push_block(
        &mut self,
        context: &PartContext<'_>,
        block: usize,
        clients: &[ClientPlan],
        invoices: &mut InvoiceColumns,
    ) {
        let mut rng = random::stream(context.seed, Domain::Orders, block as u64);
        let span = context.span;
        let mut times = Vec::new();
        for plan in clients {
            draw_times(
                &mut rng,
                plan.orders as usize,
                plan.created_us..plan.active_until_us,
                &mut times,
            );
            let buyer = Buyer {
                client_id: Some(plan.client_id),
                kind: plan.kind,
                tier: plan.tier,
            };
            for &at in &times {
                let (status, revenue) = self.push_order(&mut rng, context, buyer, at);
                if plan.kind.is_business() && at >= span.now_us - INVOICED_WINDOW_US {
                    invoices.push(&mut rng, span, plan, at, status, revenue);
                }
            }
        }

        let own: u64 = clients.iter().map(|p| u64::from(p.orders)).sum();
        let guests = (own / ORDERS_PER_GUEST_ORDER) as usize;
        draw_times(&mut rng, guests, span.start_us..span.now_us, &mut times);
        let guest = Buyer {
            client_id: None,
            kind: ClientKind::Online,
            tier: Tier::Retail,
        };
        for &at in &times {
            self.push_order(&mut rng, context, guest, at);
        }
    }

    /// Draws one order with its lines; returns its status and its revenue.
    fn push_order(
        &mut self,
        rng: &mut ChaCha8Rng,
        context: &PartContext<'_>,
        buyer: Buyer,
        at: i64,
    ) -> (OrderStatus, i64) {
        let order_id = self.next_order_id;
        self.next_order_id += 1;
        let lines = 1 + random::geometric(rng, 0.4).min(11);
        let mut total = 0;
        for _ in 0..lines {
            total += self.push_line(rng, context.prices, buyer, order_id);
        }
        let (status, refunded) = draw_status(rng, context.span, at, total);

        self.order_id.push(order_id);
        self.client_id.push(buyer.client_id);
        self.ordered_at.push(at);
        self.status.push(status.as_str());
        self.total.push(total);
        self.refunded.push(refunded);
        (status, total - refunded)
    }

    /// Draws one line; returns its total.
    fn push_line(
        &mut self,
        rng: &mut ChaCha8Rng,
        prices: &[Prices],
        buyer: Buyer,
        order_id: i64,
    ) -> i64 {
        let product = random::skewed_index(rng, prices.len(), 2.2);
        let quantity = 1 + i64::from(random::geometric(rng, quantity_p(buyer.kind)).min(499));
        let line_total = quantity * prices[product].for_tier(buyer.tier);
        self.line_order_id.push(order_id);
        self.line_product_id.push(product as i64 + 1);
        self.line_quantity.push(quantity);
        self.line_total.push(line_total);
        line_total
    }

    /// Hands the buffered rows to the writers as canonical batches.
    fn flush(&mut self, orders: &mut TableWriter, lines: &mut TableWriter) -> Result<(), GenError> {
        if !self.order_id.is_empty() {
            orders.write(&self.take_orders()?)?;
        }
        if !self.line_order_id.is_empty() {
            lines.write(&self.take_lines()?)?;
        }
        Ok(())
    }

    fn take_orders(&mut self) -> Result<RecordBatch, ArrowError> {
        let at = TimestampMicrosecondArray::from(std::mem::take(&mut self.ordered_at));
        let columns: Vec<ArrayRef> = vec![
            Arc::new(Int64Array::from(std::mem::take(&mut self.order_id))),
            Arc::new(Int64Array::from(std::mem::take(&mut self.client_id))),
            Arc::new(at.with_timezone("UTC")),
            Arc::new(StringArray::from(std::mem::take(&mut self.status))),
            Arc::new(Int64Array::from(std::mem::take(&mut self.total))),
            Arc::new(Int64Array::from(std::mem::take(&mut self.refunded))),
        ];
        RecordBatch::try_new(schema::orders_schema(), columns)
    }

    fn take_lines(&mut self) -> Result<RecordBatch, ArrowError> {
        let columns: Vec<ArrayRef> = vec![
            Arc::new(Int64Array::from(std::mem::take(&mut self.line_order_id))),
            Arc::new(Int64Array::from(std::mem::take(&mut self.line_product_id))),
            Arc::new(Int64Array::from(std::mem::take(&mut self.line_quantity))),
            Arc::new(Int64Array::from(std::mem::take(&mut self.line_total))),
        ];
        RecordBatch::try_new(schema::order_lines_schema(), columns)
    }
}

/// `count` sorted instants in `range`; all at its start when it is empty, as the order ids
/// were counted in advance and every planned order must be drawn.
fn draw_times(rng: &mut ChaCha8Rng, count: usize, range: Range<i64>, times: &mut Vec<i64>) {
    times.clear();
    match range.is_empty() {
        true => times.resize(count, range.start),
        false => times.extend((0..count).map(|_| rng.random_range(range.clone()))),
    }
    times.sort_unstable();
}

/// The chance of stopping at each extra unit: businesses buy in bulk.
fn quantity_p(kind: ClientKind) -> f64 {
    match kind {
        ClientKind::Retail | ClientKind::Online => 0.55,
        ClientKind::Corporate => 0.3,
        ClientKind::Wholesale => 0.12,
        ClientKind::Distributor => 0.05,
    }
}

/// An order's status and refunded cents: recent orders may be open, a few are cancelled
/// or refunded, and a few completed ones are partly refunded.
fn draw_status(rng: &mut ChaCha8Rng, span: &Span, at: i64, total: i64) -> (OrderStatus, i64) {
    if at >= span.now_us - OPEN_WINDOW_US && rng.random_bool(OPEN_SHARE) {
        return (OrderStatus::Open, 0);
    }
    let roll: f64 = rng.random();
    if roll < CANCELLED_SHARE {
        (OrderStatus::Cancelled, 0)
    } else if roll < CANCELLED_SHARE + REFUNDED_SHARE {
        (OrderStatus::Refunded, total)
    } else if roll < CANCELLED_SHARE + REFUNDED_SHARE + PARTIAL_REFUND_SHARE && total > 1 {
        (OrderStatus::Completed, rng.random_range(1..total))
    } else {
        (OrderStatus::Completed, 0)
    }
}

/// Invoices of a part, without their ids: ids are numbered across parts at the end.
#[derive(Debug, Default)]
pub struct InvoiceColumns {
    pub client_id: Vec<i64>,
    pub issued_at: Vec<i64>,
    pub due_at: Vec<i32>,
    pub total: Vec<i64>,
    pub paid: Vec<i64>,
    pub status: Vec<&'static str>,
}

impl InvoiceColumns {
    /// Bills one order: issued a day or two after it, due after the client's terms, and by
    /// now mostly paid, unless the order was refunded (void) or cancelled (no invoice).
    fn push(
        &mut self,
        rng: &mut ChaCha8Rng,
        span: &Span,
        plan: &ClientPlan,
        ordered_at: i64,
        status: OrderStatus,
        amount: i64,
    ) {
        if status == OrderStatus::Cancelled {
            return;
        }
        let issued = (ordered_at + rng.random_range(0..2 * DAY_US)).min(span.now_us - 1);
        let due = Span::date32(issued) + terms_days(plan.kind);
        let (state, paid) = match status {
            OrderStatus::Refunded => ("void", 0),
            _ if rng.random_bool(0.01) => ("void", 0),
            _ => draw_payment(rng, due >= span.now_date32(), amount),
        };
        self.client_id.push(plan.client_id);
        self.issued_at.push(issued);
        self.due_at.push(due);
        self.total.push(amount);
        self.paid.push(paid);
        self.status.push(state);
    }

    pub(super) fn len(&self) -> usize {
        self.client_id.len()
    }

    /// The canonical invoices batch, numbering invoices from `first_id`.
    ///
    /// # Errors
    /// Only if the columns do not fit the canonical schema, which is a bug.
    pub fn into_batch(self, first_id: i64) -> Result<RecordBatch, ArrowError> {
        let ids = Int64Array::from_iter_values(first_id..first_id + self.len() as i64);
        let issued = TimestampMicrosecondArray::from(self.issued_at).with_timezone("UTC");
        let columns: Vec<ArrayRef> = vec![
            Arc::new(ids),
            Arc::new(Int64Array::from(self.client_id)),
            Arc::new(issued),
            Arc::new(Date32Array::from(self.due_at)),
            Arc::new(Int64Array::from(self.total)),
            Arc::new(Int64Array::from(self.paid)),
            Arc::new(StringArray::from(self.status)),
        ];
        RecordBatch::try_new(schema::invoices_schema(), columns)
    }
}

fn terms_days(kind: ClientKind) -> i32 {
    match kind {
        ClientKind::Distributor => 60,
        ClientKind::Wholesale => 30,
        _ => 14,
    }
}

/// Status and paid cents of an invoice not yet due (`pending`) or already due.
fn draw_payment(rng: &mut ChaCha8Rng, pending: bool, amount: i64) -> (&'static str, i64) {
    let roll: f64 = rng.random();
    let partly = |rng: &mut ChaCha8Rng| {
        if amount > 1 {
            rng.random_range(1..amount)
        } else {
            0
        }
    };
    match (pending, roll) {
        (true, r) if r < 0.75 => ("open", 0),
        (true, r) if r < 0.85 => ("open", partly(rng)),
        (true, _) => ("paid", amount),
        (false, r) if r < 0.93 => ("paid", amount),
        (false, r) if r < 0.98 => ("open", partly(rng)),
        (false, _) => ("open", 0),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parts_hold_whole_blocks_and_number_orders_on() {
        let parts = plan_parts(&[600, 600, 600, 100], 1000);

        let shape: Vec<_> = parts
            .iter()
            .map(|p| (p.blocks.clone(), p.first_order_id))
            .collect();
        assert_eq!(shape, [(0..2, 1), (2..4, 1201)]);
    }

    #[test]
    fn a_single_small_block_is_one_part() {
        let parts = plan_parts(&[5], 1_000_000);
        assert_eq!(parts.len(), 1);
        assert_eq!(parts[0].blocks, 0..1);
    }

    #[test]
    fn guest_orders_are_one_in_a_hundred() {
        let plan = |orders| ClientPlan {
            client_id: 1,
            kind: ClientKind::Retail,
            tier: Tier::Retail,
            created_us: 0,
            active_until_us: 1,
            orders,
        };
        assert_eq!(block_orders(&[plan(150), plan(60)]), 212);
    }
}
