//! `segments serve`: load a tenant, open its catalog and answer the HTTP API until SIGTERM
//! or Ctrl-C.
//!
//! With no arguments it serves `data/sample` on 127.0.0.1:8080, seeding the example segments
//! of `<data>/segments.json` into a catalog that holds none. It refuses to listen on a
//! non-loopback address unless bearer tokens are configured. With a Mailchimp API key it
//! also runs the syncs that are due, checking every minute from the start.

use std::fs::{File, OpenOptions, TryLockError};
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::Arc;
use std::time::{Duration, Instant};

use chrono_tz::Tz;
use tokio::net::TcpListener;

use crate::api::auth::TokenError;
use crate::api::{self, ApiConfig, AppState, Metrics, Tokens};
use crate::service::mailchimp::{self, MailchimpError, MailchimpRuntime};
use crate::service::{Service, ServiceError, ServiceOptions};

/// The environment variable holding comma-separated bearer tokens.
pub const TOKENS_ENV: &str = "SEGMENTS_TOKENS";

/// The seed file of example segments inside the data folder.
const SEED_FILE: &str = "segments.json";

/// The file a server holds locked inside the data folder while it runs, so that a second
/// server never writes to the same catalog.
pub const LOCK_FILE: &str = crate::facts::write::SERVE_LOCK;

/// Serve the HTTP API over one tenant.
#[derive(Debug, Clone, clap::Args)]
pub struct ServeArgs {
    /// The tenant folder: its facts, `segments.json` seeds and the catalog.
    #[arg(long, value_name = "DIR", default_value = "data/sample")]
    pub data: PathBuf,
    /// The address to listen on; non-loopback addresses need tokens.
    #[arg(long, value_name = "ADDR", default_value = "127.0.0.1:8080")]
    pub listen: SocketAddr,
    /// The tenant's IANA time zone (overrides the folder's `tenant.json`).
    #[arg(long, value_name = "ZONE", value_parser = parse_tz)]
    pub tz: Option<Tz>,
    /// How often dynamic segments are refreshed: `1h`, `30m`, `90s`, `1h30m`.
    #[arg(long, value_name = "DURATION", default_value = "1h", value_parser = parse_duration)]
    pub refresh_interval: Duration,
    /// How often the facts are reloaded from the folder; never when absent.
    #[arg(long, value_name = "DURATION", value_parser = parse_duration)]
    pub reload_interval: Option<Duration>,
    /// A file of bearer tokens, one a line (`#` comments). `SEGMENTS_TOKENS` adds more.
    #[arg(long, value_name = "FILE")]
    pub tokens_file: Option<PathBuf>,
    /// The largest request body accepted, in MiB.
    #[arg(long, value_name = "MIB", default_value_t = 16, value_parser = clap::value_parser!(u64).range(1..=4096))]
    pub body_limit_mb: u64,
    /// How long one request may run before it is answered 503, in seconds.
    #[arg(long, value_name = "SECS", default_value_t = 30, value_parser = clap::value_parser!(u64).range(1..))]
    pub request_timeout_secs: u64,
    /// A file holding the Mailchimp API key (`<key>-<dc>`); else `MAILCHIMP_API_KEY`.
    /// `MAILCHIMP_BASE_URL` overrides the API's address. Without a key syncs do not run.
    #[arg(long, value_name = "FILE")]
    pub mailchimp_key_file: Option<PathBuf>,
}

/// Why the server could not start or stopped on a fault.
#[derive(Debug, thiserror::Error)]
pub enum ServeError {
    #[error(transparent)]
    Tokens(#[from] TokenError),
    #[error(
        "refusing to listen on {addr} without tokens: anyone on the network could read and \
         change segments; set --tokens-file or SEGMENTS_TOKENS, or listen on 127.0.0.1"
    )]
    OpenToNetwork { addr: SocketAddr },
    #[error("cannot open the tenant {}: {source}", .data.display())]
    Open {
        data: PathBuf,
        source: Box<ServiceError>,
    },
    #[error("{}: cannot seed the example segments: {source}", .path.display())]
    Seed {
        path: PathBuf,
        source: Box<ServiceError>,
    },
    #[error(
        "another `segments serve` is serving {} (it holds {}); stop it, or serve a copy of \
         the folder",
        .data.display(),
        .lock.display()
    )]
    Busy { data: PathBuf, lock: PathBuf },
    #[error("cannot lock {}: {source}", .lock.display())]
    Lock {
        lock: PathBuf,
        source: std::io::Error,
    },
    #[error("cannot listen on {addr}: {source}")]
    Bind {
        addr: SocketAddr,
        source: std::io::Error,
    },
    #[error("cannot start the Mailchimp sync: {0}")]
    Mailchimp(#[from] MailchimpError),
    #[error("the server stopped on an I/O error: {0}")]
    Io(#[from] std::io::Error),
}

/// Runs the server until a shutdown signal; the exit code is 0 after a clean stop.
pub async fn run(args: ServeArgs) -> ExitCode {
    match serve(args).await {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => {
            tracing::error!("{error}");
            ExitCode::FAILURE
        }
    }
}

/// Locks the tenant, binds the address, opens the tenant and serves until SIGTERM or
/// Ctrl-C.
///
/// Everything that can refuse a start cheaply (tokens, exposure, the Mailchimp key, the
/// lock, the address) comes before the tenant is opened, because opening writes to its
/// catalog: a start that fails never leaves a trace there. Connections made while the facts load wait in the
/// listen queue.
///
/// # Errors
/// Bad tokens, an open address without tokens, a tenant another server holds, an address
/// that cannot be bound, or a tenant that cannot be opened or seeded.
pub async fn serve(args: ServeArgs) -> Result<(), ServeError> {
    let env_tokens = std::env::var(TOKENS_ENV).ok();
    let tokens = Tokens::from_sources(args.tokens_file.as_deref(), env_tokens.as_deref())?;
    check_exposure(args.listen, &tokens)?;
    let key_file = args.mailchimp_key_file.as_deref();
    let mailchimp_client = MailchimpRuntime::client_from_env(key_file)?;
    let _lock = lock_tenant(&args.data)?;
    let listener = TcpListener::bind(args.listen)
        .await
        .map_err(|source| ServeError::Bind {
            addr: args.listen,
            source,
        })?;
    let local = listener.local_addr()?;
    let metrics = Arc::new(Metrics::new());
    let service = open(&args, &metrics).await?;
    seed(&service, &args.data).await?;
    let syncs = Arc::new(MailchimpRuntime::start(
        Arc::clone(&service),
        mailchimp_client,
    )?);
    let config = api_config(&args, tokens);
    log_ready(&service, local, &config);

    let scheduler = service.start_scheduler();
    let sync_scheduler = syncs.start_scheduler(mailchimp::TICK_EVERY);
    let state = AppState::new(Arc::clone(&service), metrics, config).with_mailchimp(syncs);
    axum::serve(api::nodelay(listener), api::router(state))
        .with_graceful_shutdown(shutdown_signal())
        .await?;
    service.shutdown();
    if let Err(error) = scheduler.await {
        tracing::error!(%error, "the scheduler ended abnormally");
    }
    if let Some(handle) = sync_scheduler {
        mailchimp::stop_scheduler(handle, mailchimp::STOP_WAIT).await;
    }
    tracing::info!("server stopped");
    Ok(())
}

/// Without tokens the API is open to whoever can connect, so only loopback is allowed.
///
/// # Errors
/// A non-loopback address without tokens.
pub fn check_exposure(addr: SocketAddr, tokens: &Tokens) -> Result<(), ServeError> {
    if tokens.required() || addr.ip().is_loopback() {
        return Ok(());
    }
    Err(ServeError::OpenToNetwork { addr })
}

/// Takes the lock of the tenant folder `data`, held until the returned file is dropped (or
/// the process ends, however it ends). A missing folder takes no lock: opening it fails
/// with a clearer message before anything is written.
///
/// # Errors
/// [`ServeError::Busy`] when another server holds the lock.
pub fn lock_tenant(data: &Path) -> Result<Option<File>, ServeError> {
    if !data.is_dir() {
        return Ok(None);
    }
    let lock = data.join(LOCK_FILE);
    let failed = |source| ServeError::Lock {
        lock: lock.clone(),
        source,
    };
    let file = OpenOptions::new()
        .create(true)
        .truncate(false)
        .write(true)
        .open(&lock)
        .map_err(failed)?;
    match file.try_lock() {
        Ok(()) => Ok(Some(file)),
        Err(TryLockError::WouldBlock) => Err(ServeError::Busy {
            data: data.to_path_buf(),
            lock,
        }),
        Err(TryLockError::Error(source)) => Err(failed(source)),
    }
}

async fn open(args: &ServeArgs, metrics: &Metrics) -> Result<Arc<Service>, ServeError> {
    let started = Instant::now();
    let options = ServiceOptions {
        data_dir: args.data.clone(),
        tz: args.tz,
        refresh_interval: args.refresh_interval,
        reload_interval: args.reload_interval,
    };
    let service = Service::open(options)
        .await
        .map_err(|source| ServeError::Open {
            data: args.data.clone(),
            source: Box::new(source),
        })?;
    metrics.record_load("open", started.elapsed());
    Ok(service)
}

/// Seeds `<data>/segments.json`; the service does so only into a catalog without segments,
/// so the seeds arrive on the first start and never again.
async fn seed(service: &Service, data: &Path) -> Result<(), ServeError> {
    let path = data.join(SEED_FILE);
    if !path.is_file() {
        return Ok(());
    }
    // The service logs what it seeded, or that the catalog already had segments.
    service
        .seed_from_file(&path)
        .await
        .map_err(|source| ServeError::Seed {
            path: path.clone(),
            source: Box::new(source),
        })?;
    Ok(())
}

fn api_config(args: &ServeArgs, tokens: Tokens) -> ApiConfig {
    let body_limit_bytes = usize::try_from(args.body_limit_mb * 1024 * 1024).unwrap_or(usize::MAX);
    ApiConfig {
        tokens,
        body_limit_bytes,
        request_timeout: Duration::from_secs(args.request_timeout_secs),
    }
}

/// One line for what was loaded, one for where it is served.
fn log_ready(service: &Service, local: SocketAddr, config: &ApiConfig) {
    let tenant = service.state();
    let segments = service.segments().map_or(0, |s| s.len());
    tracing::info!(
        clients = tenant.snapshot.index.len(),
        live = tenant.snapshot.universe.len(),
        segments,
        tz = %tenant.snapshot.tz,
        "ready"
    );
    tracing::info!(
        tokens = config.tokens.len(),
        body_limit_bytes = config.body_limit_bytes,
        request_timeout_secs = config.request_timeout.as_secs(),
        "serving http://{local}/v1 (OpenAPI at /v1/openapi.json)"
    );
}

/// Resolves on SIGTERM or Ctrl-C, so in-flight requests finish before the process exits.
async fn shutdown_signal() {
    let ctrl_c = async {
        if let Err(error) = tokio::signal::ctrl_c().await {
            tracing::error!(%error, "cannot listen for Ctrl-C");
            std::future::pending::<()>().await;
        }
    };
    tokio::select! {
        () = ctrl_c => tracing::info!("Ctrl-C received; shutting down"),
        () = sigterm() => tracing::info!("SIGTERM received; shutting down"),
    }
}

#[cfg(unix)]
async fn sigterm() {
    use tokio::signal::unix::{SignalKind, signal};
    match signal(SignalKind::terminate()) {
        Ok(mut stream) => {
            stream.recv().await;
        }
        Err(error) => {
            tracing::error!(%error, "cannot listen for SIGTERM");
            std::future::pending::<()>().await;
        }
    }
}

#[cfg(not(unix))]
async fn sigterm() {
    std::future::pending::<()>().await;
}

fn parse_tz(text: &str) -> Result<Tz, String> {
    crate::time::parse_zone(text)
}

/// Parses a duration such as `1h`, `30m`, `90s`, `2d` or `1h30m`; a unit is required.
///
/// # Errors
/// A missing or unknown unit, a missing number, or a zero duration.
pub fn parse_duration(text: &str) -> Result<Duration, String> {
    let bad = || format!("{text:?} is not a duration; write e.g. 1h, 30m, 90s or 1h30m");
    let mut total_secs: u64 = 0;
    let mut rest = text.trim();
    if rest.is_empty() {
        return Err(bad());
    }
    while !rest.is_empty() {
        let digits = rest.find(|c: char| !c.is_ascii_digit()).ok_or_else(bad)?;
        let number: u64 = rest[..digits].parse().map_err(|_| bad())?;
        let unit = rest[digits..].chars().next().ok_or_else(bad)?;
        let secs = unit_secs(unit).ok_or_else(bad)?;
        let part = number.checked_mul(secs).ok_or_else(bad)?;
        total_secs = total_secs.checked_add(part).ok_or_else(bad)?;
        rest = &rest[digits + unit.len_utf8()..];
    }
    if total_secs == 0 {
        return Err(format!("{text:?} is zero; a duration must be positive"));
    }
    Ok(Duration::from_secs(total_secs))
}

fn unit_secs(unit: char) -> Option<u64> {
    match unit {
        'd' => Some(86_400),
        'h' => Some(3_600),
        'm' => Some(60),
        's' => Some(1),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[track_caller]
    fn check(text: &str, expected: Result<u64, &str>) {
        let got = parse_duration(text).map(|d| d.as_secs());
        match expected {
            Ok(secs) => assert_eq!(got, Ok(secs), "{text:?}"),
            Err(message) => assert_eq!(got, Err(message.to_string()), "{text:?}"),
        }
    }

    #[test]
    fn parses_durations() {
        check("1h", Ok(3_600));
        check("30m", Ok(1_800));
        check("90s", Ok(90));
        check("2d", Ok(172_800));
        check("1h30m", Ok(5_400));
        check(" 45s ", Ok(45));
    }

    #[test]
    fn refuses_bad_durations() {
        let bad = |t: &str| format!("{t:?} is not a duration; write e.g. 1h, 30m, 90s or 1h30m");
        check("90", Err(&bad("90")));
        check("h", Err(&bad("h")));
        check("1x", Err(&bad("1x")));
        check("", Err(&bad("")));
        check("1.5h", Err(&bad("1.5h")));
        check("0s", Err("\"0s\" is zero; a duration must be positive"));
    }

    #[test]
    fn defaults_serve_the_sample_on_loopback() {
        use clap::Parser;
        #[derive(Parser)]
        struct Cli {
            #[command(flatten)]
            serve: ServeArgs,
        }
        let args = Cli::parse_from(["segments"]).serve;
        assert_eq!(args.data, PathBuf::from("data/sample"));
        assert_eq!(args.listen, "127.0.0.1:8080".parse::<SocketAddr>().unwrap());
        assert_eq!(args.refresh_interval, Duration::from_secs(3_600));
        assert_eq!(args.reload_interval, None);
        assert_eq!(args.body_limit_mb, 16);
        assert_eq!(args.request_timeout_secs, 30);
        assert_eq!(args.mailchimp_key_file, None);
    }

    #[test]
    fn a_second_server_on_one_tenant_is_refused() {
        let dir = tempfile::tempdir().unwrap();
        let held = lock_tenant(dir.path()).unwrap();
        assert!(held.is_some());
        let error = lock_tenant(dir.path()).unwrap_err();
        assert_eq!(
            error.to_string(),
            format!(
                "another `segments serve` is serving {} (it holds {}); stop it, or serve a \
                 copy of the folder",
                dir.path().display(),
                dir.path().join(LOCK_FILE).display()
            )
        );
        drop(held);
        assert!(lock_tenant(dir.path()).unwrap().is_some());
        assert!(lock_tenant(&dir.path().join("missing")).unwrap().is_none());
    }

    #[tokio::test]
    async fn a_start_refused_on_its_address_or_key_writes_nothing_to_the_tenant() {
        use clap::Parser;
        #[derive(Parser)]
        struct Cli {
            #[command(flatten)]
            serve: ServeArgs,
        }
        let taken = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let addr = taken.local_addr().unwrap().to_string();
        let dir = tempfile::tempdir().unwrap();
        let sample = Path::new(concat!(env!("CARGO_MANIFEST_DIR"), "/data/sample"));
        copy_facts(sample, dir.path());
        let data = dir.path().to_str().unwrap();
        let args = Cli::parse_from(["segments", "--data", data, "--listen", &addr]).serve;
        let error = serve(args).await.unwrap_err();
        assert!(matches!(error, ServeError::Bind { .. }), "{error}");
        let catalog = dir.path().join(crate::catalog::FILE_NAME);
        assert!(
            !catalog.exists(),
            "a failed start created {}",
            catalog.display()
        );

        drop(taken);
        let key = dir.path().join("empty.key");
        std::fs::write(&key, "\n").unwrap();
        let key = key.to_str().unwrap();
        let flags = [
            "--data",
            data,
            "--listen",
            "127.0.0.1:0",
            "--mailchimp-key-file",
            key,
        ];
        let args = Cli::parse_from(std::iter::once("segments").chain(flags)).serve;
        let error = serve(args).await.unwrap_err();
        let expected =
            format!("cannot start the Mailchimp sync: the Mailchimp API key file {key} is empty");
        assert_eq!(error.to_string(), expected);
        assert!(
            !catalog.exists(),
            "a refused key created {}",
            catalog.display()
        );
    }

    /// Copies the tenant folder `from` into `to`, without a catalog or lock it may hold.
    fn copy_facts(from: &Path, to: &Path) {
        std::fs::create_dir_all(to).unwrap();
        for entry in std::fs::read_dir(from).unwrap() {
            let entry = entry.unwrap();
            let name = entry.file_name();
            let kept = name != crate::catalog::FILE_NAME && name != LOCK_FILE;
            if entry.file_type().unwrap().is_dir() {
                copy_facts(&entry.path(), &to.join(&name));
            } else if kept {
                std::fs::copy(entry.path(), to.join(&name)).unwrap();
            }
        }
    }

    #[test]
    fn refuses_network_address_without_tokens() {
        let addr = |text: &str| text.parse::<SocketAddr>().unwrap();
        let open = Tokens::none();
        let error = check_exposure(addr("0.0.0.0:8080"), &open).unwrap_err();
        assert_eq!(
            error.to_string(),
            "refusing to listen on 0.0.0.0:8080 without tokens: anyone on the network could \
             read and change segments; set --tokens-file or SEGMENTS_TOKENS, or listen on \
             127.0.0.1"
        );
        assert!(check_exposure(addr("192.168.1.5:80"), &open).is_err());
        assert!(check_exposure(addr("127.0.0.1:8080"), &open).is_ok());
        assert!(check_exposure(addr("[::1]:8080"), &open).is_ok());
        assert!(check_exposure(addr("0.0.0.0:8080"), &Tokens::new(["t"])).is_ok());
    }
}
