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
enum Command {
    /// Run the standard workloads on a tenant and print one JSON line each.
    Bench(segments::cli::bench::BenchArgs),
    /// Evaluate a rule on a tenant folder and print its members.
    Eval(segments::cli::eval::EvalArgs),
    /// Generate a deterministic synthetic tenant.
    Gen(segments::cli::r#gen::GenArgs),
    /// Import a tenant from a TPC-H database or a sales-lines export.
    Import(segments::cli::import::ImportArgs),
    /// Serve the HTTP API over one tenant.
    Serve(segments::cli::serve::ServeArgs),
}

#[tokio::main]
async fn main() -> ExitCode {
    let cli = Cli::parse();
    // Commands that print a result keep their logs to warnings; a server logs its lifecycle.
    let default_level = match &cli.command {
        Command::Bench(_) | Command::Eval(_) | Command::Gen(_) | Command::Import(_) => "warn",
        Command::Serve(_) => "info",
    };
    segments::cli::init_tracing(default_level);
    match cli.command {
        Command::Bench(args) => segments::cli::bench::run(args).await,
        Command::Eval(args) => segments::cli::eval::run(args).await,
        Command::Gen(args) => segments::cli::r#gen::run(args),
        Command::Import(args) => segments::cli::import::run(args),
        Command::Serve(args) => segments::cli::serve::run(args).await,
    }
}
