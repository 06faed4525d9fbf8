//! `segments gen`: writes a deterministic synthetic tenant in the input contract's format.

use std::io::{IsTerminal, Write};
use std::path::PathBuf;
use std::process::ExitCode;

use chrono::{NaiveDate, Utc};
use indicatif::{ProgressBar, ProgressStyle};

use crate::r#gen::{GenOptions, GenSummary, generate};

/// The most clients `gen` writes: about a billion orders, far past what one machine loads.
const CLIENTS_MAX: u64 = 50_000_000;

/// Generate a synthetic tenant: clients, orders, order lines, invoices and products.
#[derive(Debug, clap::Args)]
pub struct GenArgs {
    /// Number of clients, 1 to 50 million.
    #[arg(long, value_parser = clap::value_parser!(u64).range(1..=CLIENTS_MAX))]
    pub clients: u64,
    /// Tenant folder to write.
    #[arg(long)]
    pub out: PathBuf,
    /// Random seed; the same seed, client count and --now give the same files.
    #[arg(long, default_value_t = 1)]
    pub seed: u64,
    /// End of the generated history, YYYY-MM-DD from 2019-01-03 to 9999-12-31 (default:
    /// today, UTC).
    #[arg(long, value_parser = parse_now)]
    pub now: Option<NaiveDate>,
    /// Replace the tenant data already in --out.
    #[arg(long)]
    pub force: bool,
    /// Write even though --out holds a catalog (catalog.sqlite), which then applies to the
    /// new facts by client id: for new facts of the same clients.
    #[arg(long)]
    pub keep_catalog: bool,
    /// Orders per part file of orders/ and order_lines/, at least 1. Parts are cut between
    /// blocks of 1024 clients, so a part holds this many orders or a block's more, and a
    /// small tenant may be one part.
    #[arg(long, default_value_t = 1_000_000, value_parser = clap::value_parser!(u64).range(1..))]
    pub orders_per_part: u64,
    /// Worker threads (default: one per core); the output does not depend on it.
    #[arg(long)]
    pub threads: Option<usize>,
}

/// `--now`: a date as requests take them (exactly `YYYY-MM-DD`, years 1000 to 9999).
fn parse_now(text: &str) -> Result<NaiveDate, String> {
    crate::time::parse_request_date(text.trim())
}

/// Runs `segments gen`.
pub fn run(args: GenArgs) -> ExitCode {
    let now = args.now.unwrap_or_else(|| Utc::now().date_naive());
    let mut options = GenOptions::new(args.clients, args.seed, now);
    options.orders_per_part = args.orders_per_part;
    options.threads = args.threads.unwrap_or(options.threads).max(1);

    if let Err(message) = super::check_catalog(&args.out, args.keep_catalog) {
        return super::fail(&message);
    }
    let bar = progress_bar(args.clients);
    let result = generate(&options, &args.out, args.force, &|n| bar.inc(n));
    bar.finish_and_clear();
    match result {
        Ok(summary) => report(&summary, &args, now),
        Err(error) => super::fail(&error),
    }
}

/// A bar of clients done on stderr, hidden when stderr is not a terminal.
fn progress_bar(clients: u64) -> ProgressBar {
    if !std::io::stderr().is_terminal() {
        return ProgressBar::hidden();
    }
    let style = ProgressStyle::with_template("{bar:40} {pos}/{len} clients, {elapsed} (eta {eta})")
        .expect("the template is valid");
    ProgressBar::new(clients).with_style(style)
}

fn report(summary: &GenSummary, args: &GenArgs, now: NaiveDate) -> ExitCode {
    let text = format!(
        "generated {} clients, {} orders in {} part(s), {} order lines, {} invoices, \
         {} products up to {now} (seed {}) into {} in {:.1} s",
        summary.clients,
        summary.orders,
        summary.parts,
        summary.order_lines,
        summary.invoices,
        summary.products,
        args.seed,
        args.out.display(),
        summary.elapsed.as_secs_f64(),
    );
    // A closed stdout (a pipe to `head`) is no failure of the generation.
    let _ = writeln!(std::io::stdout().lock(), "{text}");
    ExitCode::SUCCESS
}

#[cfg(test)]
mod tests {
    use clap::Parser;

    use super::GenArgs;

    #[derive(Debug, Parser)]
    struct Cli {
        #[command(flatten)]
        r#gen: GenArgs,
    }

    fn refusal(args: &[&str]) -> String {
        let args = [&["segments", "--out", "/tmp/x"][..], args].concat();
        Cli::try_parse_from(args).unwrap_err().to_string()
    }

    #[test]
    fn counts_outside_their_bounds_are_refused_before_any_work() {
        let too_many = refusal(&["--clients", "99999999999999"]);
        assert!(
            too_many.contains("99999999999999 is not in 1..=50000000"),
            "{too_many}"
        );
        let none = refusal(&["--clients", "0"]);
        assert!(none.contains("0 is not in 1..=50000000"), "{none}");
        let empty_parts = refusal(&["--clients", "10", "--orders-per-part", "0"]);
        assert!(empty_parts.contains("0 is not in 1.."), "{empty_parts}");
        let ok = Cli::try_parse_from(["segments", "--out", "/tmp/x", "--clients", "200"]);
        assert_eq!(ok.unwrap().r#gen.clients, 200);
    }
}
