//! `segments import`: writes a tenant folder from a TPC-H database or a sales-lines export.

use std::io::Write;
use std::path::PathBuf;
use std::process::ExitCode;

use crate::import::sales_lines::{
    self, CancelRule, DateFormat, Mapping, SalesLinesOptions, SalesLinesSummary,
};
use crate::import::tpch::{self, TpchOptions, TpchSummary};

/// Import a tenant from other data.
#[derive(Debug, clap::Args)]
pub struct ImportArgs {
    #[command(subcommand)]
    pub source: ImportSource,
}

#[derive(Debug, clap::Subcommand)]
pub enum ImportSource {
    /// A TPC-H database generated at a scale factor (see docs/tpch-mapping.md).
    Tpch(TpchArgs),
    /// A sales export of one row per order line, CSV or gzip CSV.
    SalesLines(SalesLinesArgs),
}

#[derive(Debug, clap::Args)]
pub struct TpchArgs {
    /// TPC-H scale factor, 0.0001 to 300: 1 is 150,000 clients, 1.5 million orders, 6 million
    /// lines.
    #[arg(long)]
    pub scale: f64,
    /// Tenant folder to write.
    #[arg(long)]
    pub out: PathBuf,
    /// Replace the tenant data already in --out.
    #[arg(long)]
    pub force: bool,
    /// Write even though --out holds a catalog (catalog.sqlite), which then applies to the
    /// new facts by client id: for new facts of the same clients.
    #[arg(long)]
    pub keep_catalog: bool,
    /// Rows per part file of orders/ and order_lines/.
    #[arg(long, default_value_t = 1_000_000)]
    pub rows_per_part: usize,
}

#[derive(Debug, clap::Args)]
pub struct SalesLinesArgs {
    /// The export: CSV with a header row, gzip-compressed or not.
    pub file: PathBuf,
    /// Tenant folder to write.
    #[arg(long)]
    pub out: PathBuf,
    /// The file's column for a key, as KEY=COLUMN; keys: order_id, ordered_at, client_id,
    /// product_code, description, quantity, unit_price, country. Unmapped keys are found
    /// by the UCI Online Retail (I and II) and common header names.
    #[arg(long = "map", value_name = "KEY=COLUMN")]
    pub mappings: Vec<Mapping>,
    /// Orders whose id is this prefix followed by digits are cancelled [default: C].
    #[arg(long, value_name = "PREFIX", conflicts_with = "cancel_negative")]
    pub cancel_prefix: Option<String>,
    /// Orders whose every line has a negative quantity are cancelled.
    #[arg(long)]
    pub cancel_negative: bool,
    /// Orders whose id is this prefix followed by digits are adjustments, not sales.
    #[arg(long, value_name = "PREFIX", default_value = "A")]
    pub adjust_prefix: String,
    /// Keep orders of the adjust prefix as sales.
    #[arg(long, conflicts_with = "adjust_prefix")]
    pub no_adjust_prefix: bool,
    /// chrono format of the date-time column, e.g. "%m/%d/%Y %H:%M" [default: ISO forms].
    #[arg(long)]
    pub date_format: Option<String>,
    /// Replace the tenant data already in --out.
    #[arg(long)]
    pub force: bool,
    /// Write even though --out holds a catalog (catalog.sqlite), which then applies to the
    /// new facts by client id: for new facts of the same clients.
    #[arg(long)]
    pub keep_catalog: bool,
}

/// Runs `segments import`.
pub fn run(args: ImportArgs) -> ExitCode {
    let outcome = match args.source {
        ImportSource::Tpch(args) => run_tpch(&args),
        ImportSource::SalesLines(args) => run_sales_lines(&args),
    };
    match outcome {
        Ok(text) => {
            // A closed stdout (a pipe to `head`) is no failure of the import.
            let _ = write!(std::io::stdout().lock(), "{text}");
            ExitCode::SUCCESS
        }
        Err(message) => super::fail(&message),
    }
}

fn run_tpch(args: &TpchArgs) -> Result<String, String> {
    super::check_catalog(&args.out, args.keep_catalog)?;
    let options = TpchOptions {
        rows_per_part: args.rows_per_part.max(1),
        replace: args.force,
        ..TpchOptions::new(args.scale)
    };
    let summary = tpch::import_tpch(&args.out, &options).map_err(|e| e.to_string())?;
    Ok(tpch_report(&summary, args))
}

fn tpch_report(summary: &TpchSummary, args: &TpchArgs) -> String {
    format!(
        "imported TPC-H scale {} into {}: {} clients, {} orders, {} order lines, {} products, \
         {} invoices in {:.1} s\n",
        args.scale,
        args.out.display(),
        summary.clients,
        summary.orders,
        summary.order_lines,
        summary.products,
        summary.invoices,
        summary.elapsed.as_secs_f64(),
    )
}

fn run_sales_lines(args: &SalesLinesArgs) -> Result<String, String> {
    let options = sales_lines_options(args)?;
    super::check_catalog(&args.out, args.keep_catalog)?;
    let summary = sales_lines::import_sales_lines(&args.file, &args.out, &options)
        .map_err(|e| e.to_string())?;
    Ok(sales_lines_report(&summary, args))
}

/// A prefix is followed by the order's digits, so it must hold something other than
/// digits and spaces: `1` would cancel order 12, and an empty one every order.
fn check_prefix(flag: &str, prefix: &str) -> Result<(), String> {
    let bad = |c: char| c.is_ascii_digit() || c.is_whitespace();
    if prefix.is_empty() || prefix.chars().any(bad) {
        return Err(format!(
            "{flag} {prefix:?} must be letters or signs without digits or spaces, as in \"C\""
        ));
    }
    Ok(())
}

/// The import's options from the flags; a key mapped twice or an empty prefix is refused,
/// as either would change what is read without a word.
fn sales_lines_options(args: &SalesLinesArgs) -> Result<SalesLinesOptions, String> {
    for (i, mapping) in args.mappings.iter().enumerate() {
        if let Some(again) = args.mappings[i + 1..].iter().find(|m| m.key == mapping.key) {
            return Err(format!(
                "--map {key} is given twice ({:?} and {:?}); map each key once",
                mapping.column,
                again.column,
                key = mapping.key,
            ));
        }
    }
    if let Some(prefix) = &args.cancel_prefix {
        check_prefix("--cancel-prefix", prefix)?;
    }
    if !args.no_adjust_prefix {
        check_prefix("--adjust-prefix", &args.adjust_prefix)?;
        let cancel = args.cancel_prefix.as_deref().unwrap_or("C");
        if !args.cancel_negative && cancel == args.adjust_prefix {
            return Err(format!(
                "--cancel-prefix and --adjust-prefix are both {cancel:?}; an order id \
                 cannot be both"
            ));
        }
    }
    let cancel = match (&args.cancel_prefix, args.cancel_negative) {
        (_, true) => CancelRule::Negative,
        (Some(prefix), false) => CancelRule::Prefix(prefix.clone()),
        (None, false) => CancelRule::Prefix("C".into()),
    };
    Ok(SalesLinesOptions {
        mappings: args.mappings.clone(),
        cancel,
        adjust_prefix: (!args.no_adjust_prefix).then(|| args.adjust_prefix.clone()),
        dates: DateFormat {
            format: args.date_format.clone(),
        },
        replace: args.force,
    })
}

fn sales_lines_report(summary: &SalesLinesSummary, args: &SalesLinesArgs) -> String {
    let elapsed = summary.elapsed.as_secs_f64();
    format!("{summary}wrote {} in {elapsed:.1} s\n", args.out.display())
}

#[cfg(test)]
mod tests {
    use clap::Parser;

    use super::{SalesLinesArgs, sales_lines_options};

    #[derive(Parser)]
    struct Command {
        #[command(flatten)]
        args: SalesLinesArgs,
    }

    fn options_of(flags: &[&str]) -> Result<(), String> {
        let argv = ["import", "sales.csv", "--out", "t"].iter().chain(flags);
        let command = Command::try_parse_from(argv).unwrap();
        sales_lines_options(&command.args).map(|_| ())
    }

    #[test]
    fn a_key_mapped_twice_or_an_empty_prefix_is_refused() {
        assert_eq!(options_of(&["--map", "order_id=InvoiceNo"]), Ok(()));
        assert_eq!(
            options_of(&["--map", "order_id=InvoiceNo", "--map", "order_id=StockCode"]),
            Err(
                "--map order_id is given twice (\"InvoiceNo\" and \"StockCode\"); map each \
                 key once"
                    .to_string()
            )
        );
        assert_eq!(
            options_of(&["--cancel-prefix", ""]),
            Err(
                "--cancel-prefix \"\" must be letters or signs without digits or spaces, \
                 as in \"C\""
                    .to_string()
            )
        );
        for prefix in ["1", " ", "C 1"] {
            assert!(
                options_of(&["--cancel-prefix", prefix]).is_err(),
                "{prefix:?}"
            );
        }
        assert!(options_of(&["--adjust-prefix", ""]).is_err());
        assert_eq!(
            options_of(&["--cancel-prefix", "X", "--adjust-prefix", "X"]),
            Err(
                "--cancel-prefix and --adjust-prefix are both \"X\"; an order id cannot be \
                 both"
                    .to_string()
            )
        );
        assert!(options_of(&["--adjust-prefix", "C"]).is_err());
        assert_eq!(
            options_of(&["--cancel-prefix", "CX-", "--adjust-prefix", "A"]),
            Ok(())
        );
        assert_eq!(options_of(&["--no-adjust-prefix"]), Ok(()));
    }
}
