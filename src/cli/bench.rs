//! `segments bench`: the standard workloads on a tenant folder, one JSON line each.

use std::io::Write;
use std::path::PathBuf;
use std::process::ExitCode;

use chrono::{DateTime, Utc};

#[derive(Debug, clap::Args)]
pub struct BenchArgs {
    /// The tenant folder (for example one made by `segments gen`).
    #[arg(long)]
    pub data: PathBuf,
    /// The instant the workloads are evaluated at (RFC 3339, or YYYY-MM-DD for midnight UTC).
    #[arg(long, value_parser = super::parse_instant)]
    pub now: DateTime<Utc>,
    /// Timed runs per workload, 1 to 1000, after one warm-up run.
    #[arg(long, default_value_t = 5, value_parser = clap::value_parser!(u16).range(1..=1000))]
    pub runs: u16,
}

/// Runs the command: 0 on success, 2 when the tenant or a workload fails.
pub async fn run(args: BenchArgs) -> ExitCode {
    match crate::bench::run(&args.data, args.now, usize::from(args.runs)).await {
        Ok(lines) => {
            let mut out = std::io::stdout().lock();
            for line in lines {
                let _ = writeln!(out, "{line}");
            }
            ExitCode::SUCCESS
        }
        Err(error) => super::fail(&error),
    }
}
