//! The `segments` command: a thin shell over the library.

use std::process::ExitCode;

use clap::{Parser, Subcommand};

/// Which clients belong together, and what do they buy.
#[derive(Debug, Parser)]
#[command(name = "segments", version, about)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {}

fn main() -> ExitCode {
    segments::cli::init_tracing();
    let cli = Cli::parse();
    match cli.command {}
}
