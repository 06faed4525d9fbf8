//! DataFusion filter expressions over the metrics table, one per kind of condition.

use chrono::NaiveDate;
use datafusion::common::{Column, ScalarValue};
use datafusion::logical_expr::{Expr, lit};

use crate::metrics::columns;
use crate::rules::{
    CompareOp, DateField, DateTest, DateValue, Number, NumberField, NumberTest, Span, TextTest,
};
use crate::time::{days_before, months_before, to_date32};

/// A column of the metrics table, by exact name (custom names hold a dot).
pub fn column(name: &str) -> Expr {
    Expr::Column(Column::new_unqualified(name))
}

pub fn text(name: String, test: &TextTest) -> Expr {
    let column = column(&name);
    match test {
        TextTest::Equals(value) => column.eq(lit(value.clone())),
        TextTest::OneOf(values) => {
            column.in_list(values.iter().map(|v| lit(v.clone())).collect(), false)
        }
        TextTest::Empty => column.clone().is_null().or(column.eq(lit(""))),
    }
}

pub fn date_column(field: &DateField) -> String {
    match field {
        DateField::CreatedAt => columns::CREATED_DATE.into(),
        DateField::LastPurchase => columns::LAST_PURCHASE_DATE.into(),
        DateField::Custom(name) => columns::custom(name),
    }
}

fn resolve(value: DateValue, today: NaiveDate) -> NaiveDate {
    match value {
        DateValue::Fixed(date) => date,
        DateValue::DaysAgo(days) => days_before(today, days),
        DateValue::MonthsAgo(months) => months_before(today, months),
    }
}

fn date_lit(date: NaiveDate) -> Expr {
    lit(ScalarValue::Date32(Some(to_date32(date))))
}

pub fn date(name: &str, test: &DateTest, today: NaiveDate) -> Expr {
    let column = column(name);
    let at = |value: DateValue| date_lit(resolve(value, today));
    match *test {
        DateTest::Before(value) => column.lt(at(value)),
        DateTest::After(value) => column.gt(at(value)),
        DateTest::On(value) => column.eq(at(value)),
        DateTest::Between(low, high) => column.between(at(low), at(high)),
        DateTest::WithinLast(span) => {
            let since = match span {
                Span::Days(days) => days_before(today, days),
                Span::Months(months) => months_before(today, months),
            };
            column.gt_eq(date_lit(since))
        }
    }
}

fn number_lit(number: Number) -> Expr {
    match number {
        Number::Int(value) => lit(value),
        Number::Float(value) => lit(value),
    }
}

fn compare(left: Expr, op: CompareOp, right: Expr) -> Expr {
    match op {
        CompareOp::Gt => left.gt(right),
        CompareOp::Gte => left.gt_eq(right),
        CompareOp::Lt => left.lt(right),
        CompareOp::Lte => left.lt_eq(right),
        CompareOp::Eq => left.eq(right),
    }
}

pub fn number(field: &NumberField, test: &NumberTest) -> Expr {
    let name = match field {
        NumberField::TotalRevenue => columns::TOTAL_REVENUE_CENTS.to_string(),
        NumberField::AverageOrderValue => return average_order_value(test),
        NumberField::OutstandingBalance => columns::OUTSTANDING_BALANCE_CENTS.to_string(),
        NumberField::LifetimeOrders => columns::LIFETIME_ORDERS.to_string(),
        NumberField::Custom(name) => columns::custom(name),
    };
    let column = column(&name);
    match *test {
        NumberTest::Compare(op, value) => compare(column, op, number_lit(value)),
        NumberTest::Between(low, high) => column.between(number_lit(low), number_lit(high)),
    }
}

/// Average order value compared exactly: revenue against threshold × orders, for clients
/// with at least one order (the others have no average).
fn average_order_value(test: &NumberTest) -> Expr {
    let revenue = || column(columns::TOTAL_REVENUE_CENTS);
    let orders = || column(columns::LIFETIME_ORDERS);
    let scaled = |threshold: Number| number_lit(threshold) * orders();
    let has_orders = orders().gt(lit(0i64));
    let test = match *test {
        NumberTest::Compare(op, threshold) => compare(revenue(), op, scaled(threshold)),
        NumberTest::Between(low, high) => revenue()
            .gt_eq(scaled(low))
            .and(revenue().lt_eq(scaled(high))),
    };
    has_orders.and(test)
}

pub fn flag(name: &str, value: bool) -> Expr {
    column(name).eq(lit(value))
}
