//! The command-line front end: one module per subcommand, each with its clap arguments and a
//! `run` function returning the process exit code.

pub mod bench;
pub mod eval;
pub mod r#gen;
pub mod import;
pub mod serve;

/// Logs go to stderr, filtered by `RUST_LOG`, else at `default_level`; colours only on a
/// terminal.
pub fn init_tracing(default_level: &str) {
    use std::io::IsTerminal;
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new(default_level));
    tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .with_ansi(std::io::stderr().is_terminal())
        .init();
}
