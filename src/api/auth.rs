//! Bearer-token authentication of `/v1` and `/metrics`.
//!
//! Tokens come from a file (one a line, `#` comments) and from `SEGMENTS_TOKENS`
//! (comma-separated). When none are configured the API is open, which `serve` allows only on
//! a loopback address. A presented token is compared with every configured one in constant
//! time, over SHA-256 digests, so neither its content nor its length leaks through timing.

use std::path::{Path, PathBuf};

use axum::extract::{Request, State};
use axum::http::header;
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use sha2::{Digest, Sha256};
use subtle::{Choice, ConstantTimeEq};

use super::AppState;
use super::error::ApiError;

/// Why the configured tokens could not be read.
#[derive(Debug, thiserror::Error)]
pub enum TokenError {
    #[error("{}: cannot read the tokens file: {source}", .path.display())]
    Unreadable {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("{source_name} holds no token; remove it or add at least one")]
    Empty { source_name: String },
}

/// The accepted bearer tokens, kept as digests.
#[derive(Clone, Default)]
pub struct Tokens {
    digests: Vec<[u8; 32]>,
}

impl std::fmt::Debug for Tokens {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Tokens({} configured)", self.digests.len())
    }
}

impl Tokens {
    /// No tokens: every request is let through.
    pub fn none() -> Tokens {
        Tokens::default()
    }

    /// Accepts exactly these tokens (trimmed; blank ones are skipped).
    pub fn new<S: AsRef<str>>(tokens: impl IntoIterator<Item = S>) -> Tokens {
        let digests = tokens
            .into_iter()
            .map(|t| t.as_ref().trim().to_owned())
            .filter(|t| !t.is_empty())
            .map(|t| digest(&t))
            .collect();
        Tokens { digests }
    }

    /// Reads the tokens of a file (one a line, `#` starts a comment) and of the value of
    /// `SEGMENTS_TOKENS` (comma-separated).
    ///
    /// # Errors
    /// The file cannot be read, or a given source holds no token at all.
    pub fn from_sources(file: Option<&Path>, env: Option<&str>) -> Result<Tokens, TokenError> {
        let mut tokens = Vec::new();
        if let Some(path) = file {
            let from_file = read_file(path)?;
            if from_file.is_empty() {
                let source_name = path.display().to_string();
                return Err(TokenError::Empty { source_name });
            }
            tokens.extend(from_file);
        }
        if let Some(value) = env {
            let from_env = split_list(value);
            if from_env.is_empty() {
                let source_name = "SEGMENTS_TOKENS".to_string();
                return Err(TokenError::Empty { source_name });
            }
            tokens.extend(from_env);
        }
        Ok(Tokens::new(tokens))
    }

    /// Whether any token is configured, so that requests must present one.
    pub fn required(&self) -> bool {
        !self.digests.is_empty()
    }

    /// Whether `presented` is one of the tokens, compared in constant time.
    pub fn accepts(&self, presented: &str) -> bool {
        let presented = digest(presented);
        let mut matched = Choice::from(0);
        for known in &self.digests {
            matched |= known.ct_eq(&presented);
        }
        matched.into()
    }

    pub fn len(&self) -> usize {
        self.digests.len()
    }

    pub fn is_empty(&self) -> bool {
        self.digests.is_empty()
    }
}

fn digest(token: &str) -> [u8; 32] {
    Sha256::digest(token.as_bytes()).into()
}

fn read_file(path: &Path) -> Result<Vec<String>, TokenError> {
    let text = std::fs::read_to_string(path).map_err(|source| TokenError::Unreadable {
        path: path.to_path_buf(),
        source,
    })?;
    let lines = text
        .lines()
        .map(|line| line.split('#').next().unwrap_or("").trim())
        .filter(|line| !line.is_empty())
        .map(str::to_owned);
    Ok(lines.collect())
}

fn split_list(value: &str) -> Vec<String> {
    let tokens = value.split(',').map(str::trim).filter(|t| !t.is_empty());
    tokens.map(str::to_owned).collect()
}

/// Whether a path needs a token when tokens are configured: the API and the metrics.
fn protected(path: &str) -> bool {
    path == "/v1" || path.starts_with("/v1/") || path == "/metrics"
}

/// Middleware: a protected request without a valid bearer token gets 401 and no data.
pub async fn require_token(
    State(state): State<AppState>,
    request: Request,
    next: Next,
) -> Response {
    let tokens = &state.config.tokens;
    if !tokens.required() || !protected(request.uri().path()) {
        return next.run(request).await;
    }
    match bearer(&request) {
        None => ApiError::Unauthorized("a bearer token is required: Authorization: Bearer <token>")
            .into_response(),
        Some(token) if tokens.accepts(token) => next.run(request).await,
        Some(_) => ApiError::Unauthorized("the bearer token is not valid").into_response(),
    }
}

/// The token of an `Authorization: Bearer <token>` header (the scheme in any case).
fn bearer(request: &Request) -> Option<&str> {
    let value = request
        .headers()
        .get(header::AUTHORIZATION)?
        .to_str()
        .ok()?;
    let (scheme, token) = value.trim().split_once(' ')?;
    scheme.eq_ignore_ascii_case("bearer").then(|| token.trim())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[track_caller]
    fn check(tokens: &Tokens, presented: &str, expected: bool) {
        assert_eq!(tokens.accepts(presented), expected, "token {presented:?}");
    }

    #[test]
    fn accepts_only_configured_tokens() {
        let tokens = Tokens::new(["alpha", " beta ", ""]);
        assert_eq!(tokens.len(), 2);
        check(&tokens, "alpha", true);
        check(&tokens, "beta", true);
        check(&tokens, "alph", false);
        check(&tokens, "alphaa", false);
        check(&tokens, "", false);
        check(&Tokens::none(), "alpha", false);
    }

    #[test]
    fn reads_file_and_env() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("tokens");
        std::fs::write(&file, "# ops\none\n\n two # laptop\n").unwrap();
        let tokens = Tokens::from_sources(Some(&file), Some("three, ,four")).unwrap();
        assert_eq!(tokens.len(), 4);
        for token in ["one", "two", "three", "four"] {
            check(&tokens, token, true);
        }
        check(&tokens, "# ops", false);
    }

    #[test]
    fn refuses_empty_or_missing_sources() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("tokens");
        std::fs::write(&file, "# nothing here\n").unwrap();
        let empty = Tokens::from_sources(Some(&file), None).unwrap_err();
        assert!(matches!(empty, TokenError::Empty { .. }), "{empty}");
        let env = Tokens::from_sources(None, Some(" , ")).unwrap_err();
        assert_eq!(
            env.to_string(),
            "SEGMENTS_TOKENS holds no token; remove it or add at least one"
        );
        let missing = Tokens::from_sources(Some(&dir.path().join("nope")), None).unwrap_err();
        assert!(
            matches!(missing, TokenError::Unreadable { .. }),
            "{missing}"
        );
        assert!(!Tokens::from_sources(None, None).unwrap().required());
    }

    #[test]
    fn protects_api_and_metrics_only() {
        for (path, expected) in [
            ("/v1/segments", true),
            ("/v1", true),
            ("/v1/openapi.json", true),
            ("/metrics", true),
            ("/healthz", false),
            ("/v10", false),
        ] {
            assert_eq!(protected(path), expected, "{path}");
        }
    }
}
