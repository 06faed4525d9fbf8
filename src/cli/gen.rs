//! `segments gen`: writes a deterministic synthetic tenant in the input contract's format.

use std::io::{IsTerminal, Write};
use std::path::PathBuf;
use std::process::ExitCode;

use chrono::{NaiveDate, Utc};
use indicatif::{ProgressBar, ProgressStyle};

use crate::r#gen::{GenOptions, GenSummary, generate};

/// Generate a synthetic tenant: clients, orders, order lines, invoices and products.
#[derive(Debug, clap::Args)]
pub struct GenArgs {
    /// Number of clients.
    #[arg(long)]
    pub clients: u64,
    /// Tenant folder to write.
    #[arg(long)]
    pub out: PathBuf,
    /// Random seed; the same seed, client count and --now give the same files.
    #[arg(long, default_value_t = 1)]
    pub seed: u64,
    /// End of the generated history, YYYY-MM-DD (default: today, UTC).
    #[arg(long)]
    pub now: Option<NaiveDate>,
    /// Replace the tenant data already in --out.
    #[arg(long)]
    pub force: bool,
    /// Orders per part file of orders/ and order_lines/.
    #[arg(long, default_value_t = 1_000_000)]
    pub orders_per_part: u64,
    /// Worker threads (default: one per core); the output does not depend on it.
    #[arg(long)]
    pub threads: Option<usize>,
}

/// Runs `segments gen`.
pub fn run(args: GenArgs) -> ExitCode {
    let now = args.now.unwrap_or_else(|| Utc::now().date_naive());
    let mut options = GenOptions::new(args.clients, args.seed, now);
    options.orders_per_part = args.orders_per_part.max(1);
    options.threads = args.threads.unwrap_or(options.threads).max(1);

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
