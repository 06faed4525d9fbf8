//! Reports as CSV: a header row, one row per line of the report, and a `total` row where
//! the report has one. Money is a plain decimal with two places; a missing value is empty.
//! Text cells (client and product names, SKUs) are made spreadsheet-safe, so a client named
//! `=HYPERLINK(...)` opens as text.

use super::balances::{Ageing, Balances};
use super::sales::{ClientSales, CountrySales, ProductSales, SalesFigures, SalesOverTime};
use crate::export::spreadsheet_safe;
use crate::money::Cents;

/// A report that can be written as CSV text.
pub trait ToCsv {
    fn to_csv(&self) -> String;
}

/// Collects records and renders them; writing to memory cannot fail.
struct Table {
    writer: csv::Writer<Vec<u8>>,
}

impl Table {
    fn new(header: &[&str]) -> Table {
        let mut table = Table {
            writer: csv::Writer::from_writer(Vec::new()),
        };
        table.row(header.iter().map(|h| h.to_string()).collect());
        table
    }

    fn row(&mut self, fields: Vec<String>) {
        let cells: Vec<_> = fields.iter().map(|field| spreadsheet_safe(field)).collect();
        // Every row of a table has the header's width, and memory takes any write.
        self.writer
            .write_record(cells.iter().map(|cell| cell.as_bytes()))
            .expect("in-memory CSV write");
    }

    fn finish(self) -> String {
        let bytes = self.writer.into_inner().expect("in-memory CSV flush");
        String::from_utf8(bytes).expect("CSV of UTF-8 fields")
    }
}

fn money(cents: Cents) -> String {
    cents.to_string()
}

fn optional_money(cents: Option<Cents>) -> String {
    cents.map(money).unwrap_or_default()
}

/// `revenue, orders, average_order_value, clients` of a row.
fn figures(f: &SalesFigures) -> [String; 4] {
    [
        money(f.revenue),
        f.orders.to_string(),
        optional_money(f.average_order_value),
        f.clients.to_string(),
    ]
}

const FIGURES: [&str; 4] = ["revenue", "orders", "average_order_value", "clients"];

impl ToCsv for SalesOverTime {
    fn to_csv(&self) -> String {
        let mut table = Table::new(&[&["period", "from", "to"][..], &FIGURES[..]].concat());
        for p in &self.periods {
            let lead = [p.period.clone(), p.from.to_string(), p.to.to_string()];
            table.row([&lead[..], &figures(&p.figures)[..]].concat());
        }
        let (from, to) = (self.range.from().to_string(), self.range.to().to_string());
        table.row([&["total".into(), from, to][..], &figures(&self.total)[..]].concat());
        table.finish()
    }
}

impl ToCsv for ProductSales {
    fn to_csv(&self) -> String {
        let header = [
            "rank",
            "product_id",
            "sku",
            "name",
            "quantity",
            "revenue",
            "clients",
        ];
        let mut table = Table::new(&header);
        for p in &self.products {
            table.row(vec![
                p.rank.to_string(),
                p.product_id.to_string(),
                p.sku.clone().unwrap_or_default(),
                p.name.clone().unwrap_or_default(),
                p.quantity.to_string(),
                money(p.revenue),
                p.clients.to_string(),
            ]);
        }
        table.finish()
    }
}

impl ToCsv for ClientSales {
    fn to_csv(&self) -> String {
        let header = [
            "rank",
            "client_id",
            "name",
            "revenue",
            "orders",
            "average_order_value",
            "clients",
        ];
        let mut table = Table::new(&header);
        for c in &self.clients {
            table.row(vec![
                c.rank.to_string(),
                c.client_id.to_string(),
                c.name.clone(),
                money(c.revenue),
                c.orders.to_string(),
                optional_money(c.average_order_value),
                // A ranked client is one buying client; the total row counts them all.
                "1".into(),
            ]);
        }
        let lead = ["total".to_string(), String::new(), String::new()];
        table.row([&lead[..], &figures(&self.total)[..]].concat());
        table.finish()
    }
}

impl ToCsv for CountrySales {
    fn to_csv(&self) -> String {
        let mut table = Table::new(&[&["country"][..], &FIGURES[..]].concat());
        for c in &self.countries {
            let country = c.country.clone().unwrap_or_default();
            table.row([&[country][..], &figures(&c.figures)[..]].concat());
        }
        table.row([&["total".to_string()][..], &figures(&self.total)[..]].concat());
        table.finish()
    }
}

const AGEING: [&str; 7] = [
    "not_yet_due",
    "days_1_30",
    "days_31_60",
    "days_61_90",
    "over_90_days",
    "total",
    "invoices",
];

fn ageing(a: &Ageing) -> [String; 7] {
    [
        money(a.not_yet_due),
        money(a.days_1_30),
        money(a.days_31_60),
        money(a.days_61_90),
        money(a.over_90_days),
        money(a.total),
        a.invoices.to_string(),
    ]
}

impl ToCsv for Balances {
    fn to_csv(&self) -> String {
        let mut table = Table::new(&[&["client_id", "name"][..], &AGEING[..]].concat());
        for c in &self.clients {
            let lead = [c.client_id.to_string(), c.name.clone()];
            table.row([&lead[..], &ageing(&c.ageing)[..]].concat());
        }
        let lead = ["total".to_string(), String::new()];
        table.row([&lead[..], &ageing(&self.total)[..]].concat());
        table.finish()
    }
}

#[cfg(test)]
mod tests {
    use chrono::NaiveDate;

    use super::ToCsv;
    use crate::money::Cents;
    use crate::reports::calendar::DateRange;
    use crate::reports::sales::{ProductRanking, ProductSales, RankedProduct};

    #[test]
    fn names_that_look_like_formulas_open_as_text() {
        let day = NaiveDate::from_ymd_opt(2024, 3, 1).unwrap();
        let product = |rank, sku: &str, name: &str, revenue| RankedProduct {
            rank,
            product_id: rank as i64,
            sku: Some(sku.into()),
            name: Some(name.into()),
            quantity: -2,
            revenue: Cents(revenue),
            clients: 1,
        };
        let report = ProductSales {
            range: DateRange::day(day),
            ranked_by: ProductRanking::Revenue,
            products: vec![
                product(1, "@A1", "=HYPERLINK(\"http://x\")", 1250),
                product(2, "-5", "+49 shop", -1250),
            ],
        };
        assert_eq!(
            report.to_csv(),
            "rank,product_id,sku,name,quantity,revenue,clients\n\
             1,1,'@A1,\"'=HYPERLINK(\"\"http://x\"\")\",-2,12.50,1\n\
             2,2,-5,'+49 shop,-2,-12.50,1\n"
        );
    }
}
