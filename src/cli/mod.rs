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

/// Prints a command's error on stderr and gives the exit code of bad input or data, 2, which
/// every command uses alike.
pub fn fail(error: &dyn std::fmt::Display) -> std::process::ExitCode {
    use std::io::Write;
    let _ = writeln!(std::io::stderr(), "error: {error}");
    std::process::ExitCode::from(2)
}

/// Refuses to write new facts beside a catalog, which names the old tenant's clients by
/// id: its segments, static members, price overrides and syncs would pass to whichever new
/// clients share those ids. `keep` is for new facts of the same clients.
///
/// # Errors
/// `out` holds a catalog and `keep` is false, with what to do.
pub fn check_catalog(out: &std::path::Path, keep: bool) -> Result<(), String> {
    let catalog = out.join(crate::catalog::FILE_NAME);
    if keep || !catalog.exists() {
        return Ok(());
    }
    Err(format!(
        "{} names clients by id in its segments, static members, price overrides and syncs; \
         new facts would give them to whichever new clients share those ids. Move it away \
         first, or pass --keep-catalog if the new facts keep the same clients",
        catalog.display()
    ))
}

/// Reads an instant given as RFC 3339 (`2026-12-01T08:00:00Z`) or as a bare date
/// (`2026-12-01`, midnight UTC), for `--as-of` and `--now`.
///
/// # Errors
/// Text that is neither, with both forms named, and an instant whose local date could fall
/// outside the years 1000 to 9999 (as in requests to the server).
pub fn parse_instant(text: &str) -> Result<chrono::DateTime<chrono::Utc>, String> {
    let text = text.trim();
    let instant = match chrono::DateTime::parse_from_rfc3339(text) {
        Ok(instant) => instant.with_timezone(&chrono::Utc),
        Err(_) => chrono::NaiveDate::parse_from_str(text, "%Y-%m-%d")
            .map(|date| date.and_time(chrono::NaiveTime::MIN).and_utc())
            .map_err(|_| {
                format!("{text:?} is neither RFC 3339 (2026-12-01T08:00:00Z) nor YYYY-MM-DD")
            })?,
    };
    crate::time::check_request_instant(instant).map_err(|span| format!("{text:?} {span}"))
}

#[cfg(test)]
mod tests {
    use super::parse_instant;

    #[test]
    fn instants_are_rfc3339_or_bare_dates() {
        let at = |s: &str| parse_instant(s).map(|i| i.to_rfc3339());
        assert_eq!(
            at("2026-12-01"),
            Ok("2026-12-01T00:00:00+00:00".to_string())
        );
        assert_eq!(
            at("2026-12-01T08:30:00+01:00"),
            Ok("2026-12-01T07:30:00+00:00".to_string())
        );
        assert!(at("yesterday").unwrap_err().contains("YYYY-MM-DD"));
    }

    #[test]
    fn new_facts_are_not_written_beside_a_catalog_unless_kept() {
        let dir = tempfile::tempdir().unwrap();
        assert_eq!(super::check_catalog(dir.path(), false), Ok(()));
        let catalog = dir.path().join("catalog.sqlite");
        std::fs::write(&catalog, "").unwrap();
        let refused = super::check_catalog(dir.path(), false).unwrap_err();
        assert!(
            refused.starts_with(&format!("{} names clients by id", catalog.display())),
            "{refused}"
        );
        assert!(refused.ends_with("pass --keep-catalog if the new facts keep the same clients"));
        assert_eq!(super::check_catalog(dir.path(), true), Ok(()));
    }

    #[test]
    fn instants_keep_local_dates_in_four_digit_years() {
        let at = |s: &str| parse_instant(s).map(|i| i.to_rfc3339());
        assert_eq!(
            at("1000-01-02"),
            Ok("1000-01-02T00:00:00+00:00".to_string())
        );
        assert_eq!(
            at("9999-12-30T23:59:59Z"),
            Ok("9999-12-30T23:59:59+00:00".to_string())
        );
        // The span stops a day short of year 10000, whatever the zone.
        assert_eq!(
            at("9999-12-31"),
            Err(
                "\"9999-12-31\" is out of range; an instant must lie between \
                 1000-01-02T00:00:00Z and 9999-12-30T23:59:59Z"
                    .to_string()
            )
        );
        assert!(
            at("1000-01-01T23:00:00Z")
                .unwrap_err()
                .contains("out of range")
        );
    }
}
