//! A client for the few Mailchimp Marketing API v3 calls a sync needs.
//!
//! Every request holds one of [`ClientOptions::in_flight_max`] permits (Mailchimp allows 10
//! connections at once per account, so share one client per key), has a timeout, and is
//! retried on 429, 5xx, timeouts and dropped connections with exponential backoff and jitter,
//! honouring `Retry-After`. Retrying a write is safe here: creating with
//! `update_existing: false` and adding or removing static-segment members are idempotent.

use std::sync::Arc;
use std::time::Duration;

use chrono::Utc;
use reqwest::{Method, StatusCode};
use serde::Deserialize;
use serde_json::{Value, json};
use tokio::sync::Semaphore;

use super::address::normalize;
use super::config::{Account, tag_key};
use super::retry::{RetryPolicy, parse_retry_after};

/// Mailchimp's limit on members in one batch request.
pub const BATCH_MAX: usize = 500;
/// Mailchimp's limit on simultaneous connections per account.
pub const IN_FLIGHT_MAX: usize = 10;
/// The largest page Mailchimp serves.
const PAGE_MAX: usize = 1000;
/// The error code of a batch create for an address already in the audience.
const CONTACT_EXISTS: &str = "ERROR_CONTACT_EXISTS";

/// A request that failed for good. Messages name the path, never the key.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ApiError {
    #[error("Mailchimp refused the API key (HTTP {status}): {detail}")]
    Unauthorized { status: u16, detail: String },
    #[error("{method} {path}: not found: {detail}")]
    NotFound {
        method: String,
        path: String,
        detail: String,
    },
    #[error("{method} {path}: HTTP {status} {title}: {detail}")]
    Rejected {
        method: String,
        path: String,
        status: u16,
        title: String,
        detail: String,
    },
    #[error("{method} {path}: gave up after {attempts} attempts; last: {last}")]
    RetriesExhausted {
        method: String,
        path: String,
        attempts: u32,
        last: String,
    },
    #[error("{method} {path}: {message}")]
    Transport {
        method: String,
        path: String,
        message: String,
    },
    #[error("{method} {path}: unexpected response: {message}")]
    Decode {
        method: String,
        path: String,
        message: String,
    },
}

impl ApiError {
    /// Whether the error concerns the whole account or audience, so no further request of
    /// the run can succeed (as opposed to one batch that failed).
    pub fn is_fatal(&self) -> bool {
        matches!(
            self,
            ApiError::Unauthorized { .. } | ApiError::NotFound { .. }
        )
    }
}

/// Limits and timing of a [`MailchimpClient`].
#[derive(Debug, Clone)]
pub struct ClientOptions {
    pub in_flight_max: usize,
    pub timeout: Duration,
    pub retry: RetryPolicy,
}

impl Default for ClientOptions {
    fn default() -> ClientOptions {
        ClientOptions {
            in_flight_max: IN_FLIGHT_MAX,
            timeout: Duration::from_secs(30),
            retry: RetryPolicy::default(),
        }
    }
}

/// A static segment, which Mailchimp's UI calls a tag.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub struct RemoteTag {
    pub id: i64,
    pub name: String,
}

/// A member as Mailchimp shows it, its address normalised.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RemoteMember {
    pub email: String,
    /// `subscribed`, `unsubscribed`, `cleaned`, `pending`, `transactional` or `archived`.
    pub status: String,
    pub tags: Vec<String>,
}

/// A member refused inside a batch answer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MemberError {
    pub email: String,
    pub error: String,
}

/// What a batch create did: members created, addresses already present, refusals.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Created {
    pub created: Vec<String>,
    pub existing: Vec<String>,
    pub errors: Vec<MemberError>,
}

/// What a static-segment update did. Addresses in neither list nor in `errors` were
/// ignored by Mailchimp (not in the audience).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct SegmentUpdate {
    pub added: Vec<String>,
    pub removed: Vec<String>,
    pub errors: Vec<MemberError>,
}

/// One account's API, shared by every sync of that account.
#[derive(Debug, Clone)]
pub struct MailchimpClient {
    http: reqwest::Client,
    account: Account,
    permits: Arc<Semaphore>,
    options: ClientOptions,
}

/// The outcome of one attempt.
enum Attempt {
    Done(Option<Value>),
    Retry {
        reason: String,
        wait: Option<Duration>,
    },
    Fail(ApiError),
}

impl MailchimpClient {
    /// # Errors
    /// Only if the TLS backend cannot start, reported as [`ApiError::Transport`].
    pub fn new(account: Account, options: ClientOptions) -> Result<MailchimpClient, ApiError> {
        let http = reqwest::Client::builder()
            .timeout(options.timeout)
            .build()
            .map_err(|e| transport(&Method::GET, "/", &e))?;
        Ok(MailchimpClient {
            http,
            permits: Arc::new(Semaphore::new(options.in_flight_max.max(1))),
            account,
            options,
        })
    }

    /// The static segment of `list_id` whose name equals `name` after case folding.
    ///
    /// # Errors
    /// Any failed request.
    pub async fn find_tag(&self, list_id: &str, name: &str) -> Result<Option<RemoteTag>, ApiError> {
        let wanted = tag_key(name);
        let path = format!("/lists/{list_id}/segments");
        let pages = self.pages(&path, "segments", &[("type", "static")]).await?;
        for item in pages {
            let tag: RemoteTag = decode(&Method::GET, &path, item)?;
            if tag_key(&tag.name) == wanted {
                return Ok(Some(tag));
            }
        }
        Ok(None)
    }

    /// Creates an empty static segment (a tag) named `name`.
    ///
    /// # Errors
    /// Any failed request.
    pub async fn create_tag(&self, list_id: &str, name: &str) -> Result<RemoteTag, ApiError> {
        let path = format!("/lists/{list_id}/segments");
        let body = json!({"name": name, "static_segment": []});
        let value = self.call(Method::POST, &path, &[], Some(&body)).await?;
        decode(&Method::POST, &path, value.unwrap_or(Value::Null))
    }

    /// The member whose subscriber hash is `hash`, or `None` when not in the audience.
    ///
    /// # Errors
    /// Any failed request but a 404 on the member.
    pub async fn member(
        &self,
        list_id: &str,
        hash: &str,
    ) -> Result<Option<RemoteMember>, ApiError> {
        let path = format!("/lists/{list_id}/members/{hash}");
        let query = [("fields", "email_address,status,tags".to_string())];
        match self.call(Method::GET, &path, &query, None).await {
            Ok(value) => remote_member(&path, value.unwrap_or(Value::Null)).map(Some),
            Err(ApiError::NotFound { .. }) => Ok(None),
            Err(error) => Err(error),
        }
    }

    /// Every member of the static segment `tag_id`, whatever their status.
    ///
    /// # Errors
    /// Any failed request.
    pub async fn tag_members(
        &self,
        list_id: &str,
        tag_id: i64,
    ) -> Result<Vec<RemoteMember>, ApiError> {
        let path = format!("/lists/{list_id}/segments/{tag_id}/members");
        let include = [
            ("include_cleaned", "true"),
            ("include_transactional", "true"),
            ("include_unsubscribed", "true"),
        ];
        let pages = self.pages(&path, "members", &include).await?;
        pages.into_iter().map(|m| remote_member(&path, m)).collect()
    }

    /// Creates members in one batch (at most [`BATCH_MAX`]) with `update_existing: false`,
    /// so an address already in the audience is left exactly as it is.
    ///
    /// # Errors
    /// A failed request; refusals of single members come back in [`Created::errors`].
    pub async fn create_members(
        &self,
        list_id: &str,
        emails: &[(String, &str)],
    ) -> Result<Created, ApiError> {
        let members: Vec<Value> = emails
            .iter()
            .map(|(email, status)| json!({"email_address": email, "status": status}))
            .collect();
        let body = json!({"members": members, "update_existing": false});
        let path = format!("/lists/{list_id}");
        let value = self.call(Method::POST, &path, &[], Some(&body)).await?;
        decode_created(&path, value.unwrap_or(Value::Null))
    }

    /// Adds and removes members of the static segment `tag_id` (at most [`BATCH_MAX`] each).
    ///
    /// # Errors
    /// A failed request; refusals of single members come back in [`SegmentUpdate::errors`].
    pub async fn update_tag(
        &self,
        list_id: &str,
        tag_id: i64,
        add: &[String],
        remove: &[String],
    ) -> Result<SegmentUpdate, ApiError> {
        let path = format!("/lists/{list_id}/segments/{tag_id}");
        let body = json!({"members_to_add": add, "members_to_remove": remove});
        let value = self.call(Method::POST, &path, &[], Some(&body)).await?;
        decode_update(&path, value.unwrap_or(Value::Null))
    }

    /// Every item of a count/offset paginated collection.
    async fn pages(
        &self,
        path: &str,
        key: &str,
        filters: &[(&str, &str)],
    ) -> Result<Vec<Value>, ApiError> {
        let mut items = Vec::new();
        loop {
            let mut query: Vec<(&str, String)> = vec![
                ("count", PAGE_MAX.to_string()),
                ("offset", items.len().to_string()),
            ];
            query.extend(filters.iter().map(|(k, v)| (*k, v.to_string())));
            let page = self.call(Method::GET, path, &query, None).await?;
            let page: Page = decode(&Method::GET, path, page.unwrap_or(Value::Null))?;
            let total = page.total_items;
            let got = page.items(key);
            let done = got.is_empty() || items.len() + got.len() >= total;
            items.extend(got);
            if done {
                return Ok(items);
            }
        }
    }

    /// Sends a request, retrying as the policy says.
    async fn call(
        &self,
        method: Method,
        path: &str,
        query: &[(&str, String)],
        body: Option<&Value>,
    ) -> Result<Option<Value>, ApiError> {
        let retry = &self.options.retry;
        let attempts = retry.attempts_max.max(1);
        let mut last = String::new();
        for attempt in 0..attempts {
            match self.attempt(&method, path, query, body).await {
                Attempt::Done(value) => return Ok(value),
                Attempt::Fail(error) => return Err(error),
                Attempt::Retry { reason, wait } => {
                    tracing::debug!(%method, path, attempt, %reason, "mailchimp request to retry");
                    last = reason;
                    if attempt + 1 < attempts {
                        tokio::time::sleep(retry.delay(attempt, wait)).await;
                    }
                }
            }
        }
        Err(ApiError::RetriesExhausted {
            method: method.to_string(),
            path: path.into(),
            attempts,
            last,
        })
    }

    /// One attempt, holding a permit only while the request is in flight.
    async fn attempt(
        &self,
        method: &Method,
        path: &str,
        query: &[(&str, String)],
        body: Option<&Value>,
    ) -> Attempt {
        let _permit = self.permits.acquire().await.expect("never closed");
        let url = format!("{}{path}", self.account.base_url);
        let mut request = self
            .http
            .request(method.clone(), url)
            .basic_auth("segments", Some(self.account.key.expose()))
            .query(query);
        if let Some(body) = body {
            request = request.json(body);
        }
        match request.send().await {
            Ok(response) => classify(method, path, response).await,
            Err(error) if error.is_timeout() || error.is_connect() || error.is_request() => {
                Attempt::Retry {
                    reason: error_text(&error),
                    wait: None,
                }
            }
            Err(error) => Attempt::Fail(transport(method, path, &error)),
        }
    }
}

/// Sorts a response into done, retry (429, 5xx) or failed (other 4xx).
async fn classify(method: &Method, path: &str, response: reqwest::Response) -> Attempt {
    let status = response.status();
    let wait = response
        .headers()
        .get(reqwest::header::RETRY_AFTER)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| parse_retry_after(v, Utc::now()));
    let text = match response.text().await {
        Ok(text) => text,
        Err(error) => {
            return Attempt::Retry {
                reason: error_text(&error),
                wait: None,
            };
        }
    };
    if status.is_success() {
        return parse_body(method, path, status, &text);
    }
    let problem: Problem = serde_json::from_str(&text).unwrap_or_default();
    if status == StatusCode::TOO_MANY_REQUESTS || status.is_server_error() {
        let reason = format!("HTTP {} {}", status.as_u16(), problem.title);
        return Attempt::Retry { reason, wait };
    }
    Attempt::Fail(refusal(method, path, status, problem))
}

fn parse_body(method: &Method, path: &str, status: StatusCode, text: &str) -> Attempt {
    if status == StatusCode::NO_CONTENT || text.trim().is_empty() {
        return Attempt::Done(None);
    }
    match serde_json::from_str(text) {
        Ok(value) => Attempt::Done(Some(value)),
        Err(error) => Attempt::Fail(ApiError::Decode {
            method: method.to_string(),
            path: path.into(),
            message: error.to_string(),
        }),
    }
}

fn refusal(method: &Method, path: &str, status: StatusCode, problem: Problem) -> ApiError {
    let (method, path) = (method.to_string(), path.to_string());
    match status {
        StatusCode::UNAUTHORIZED | StatusCode::FORBIDDEN => ApiError::Unauthorized {
            status: status.as_u16(),
            detail: problem.detail,
        },
        StatusCode::NOT_FOUND => ApiError::NotFound {
            method,
            path,
            detail: problem.detail,
        },
        _ => ApiError::Rejected {
            method,
            path,
            status: status.as_u16(),
            title: problem.title,
            detail: problem.detail,
        },
    }
}

/// Mailchimp's error body (RFC 7807 problem details).
#[derive(Debug, Default, Deserialize)]
struct Problem {
    #[serde(default)]
    title: String,
    #[serde(default)]
    detail: String,
}

#[derive(Debug, Deserialize)]
struct Page {
    #[serde(default)]
    total_items: usize,
    #[serde(flatten)]
    rest: serde_json::Map<String, Value>,
}

impl Page {
    fn items(self, key: &str) -> Vec<Value> {
        match self.rest.get(key) {
            Some(Value::Array(items)) => items.clone(),
            _ => Vec::new(),
        }
    }
}

#[derive(Debug, Deserialize)]
struct WireMember {
    email_address: String,
    #[serde(default)]
    status: String,
    #[serde(default)]
    tags: Vec<RemoteTag>,
}

fn remote_member(path: &str, value: Value) -> Result<RemoteMember, ApiError> {
    let wire: WireMember = decode(&Method::GET, path, value)?;
    Ok(RemoteMember {
        email: normalize(&wire.email_address),
        status: wire.status,
        tags: wire.tags.into_iter().map(|t| t.name).collect(),
    })
}

#[derive(Debug, Deserialize)]
struct WireCreated {
    #[serde(default)]
    new_members: Vec<WireMember>,
    #[serde(default)]
    errors: Vec<WireCreateError>,
}

#[derive(Debug, Deserialize)]
struct WireCreateError {
    email_address: String,
    #[serde(default)]
    error: String,
    #[serde(default)]
    error_code: String,
}

fn decode_created(path: &str, value: Value) -> Result<Created, ApiError> {
    let wire: WireCreated = decode(&Method::POST, path, value)?;
    let mut created = Created {
        created: emails(wire.new_members),
        ..Created::default()
    };
    for error in wire.errors {
        let email = normalize(&error.email_address);
        if error.error_code == CONTACT_EXISTS {
            created.existing.push(email);
        } else {
            created.errors.push(MemberError {
                email,
                error: error.error,
            });
        }
    }
    Ok(created)
}

#[derive(Debug, Deserialize)]
struct WireUpdate {
    #[serde(default)]
    members_added: Vec<WireMember>,
    #[serde(default)]
    members_removed: Vec<WireMember>,
    #[serde(default)]
    errors: Vec<WireUpdateError>,
}

#[derive(Debug, Deserialize)]
struct WireUpdateError {
    #[serde(default)]
    email_addresses: Vec<String>,
    #[serde(default)]
    error: String,
}

fn decode_update(path: &str, value: Value) -> Result<SegmentUpdate, ApiError> {
    let wire: WireUpdate = decode(&Method::POST, path, value)?;
    let errors = wire
        .errors
        .into_iter()
        .flat_map(|e| {
            let error = e.error;
            e.email_addresses.into_iter().map(move |email| MemberError {
                email: normalize(&email),
                error: error.clone(),
            })
        })
        .collect();
    Ok(SegmentUpdate {
        added: emails(wire.members_added),
        removed: emails(wire.members_removed),
        errors,
    })
}

fn emails(members: Vec<WireMember>) -> Vec<String> {
    members
        .into_iter()
        .map(|m| normalize(&m.email_address))
        .collect()
}

fn decode<T: serde::de::DeserializeOwned>(
    method: &Method,
    path: &str,
    value: Value,
) -> Result<T, ApiError> {
    serde_json::from_value(value).map_err(|error| ApiError::Decode {
        method: method.to_string(),
        path: path.into(),
        message: error.to_string(),
    })
}

fn transport(method: &Method, path: &str, error: &reqwest::Error) -> ApiError {
    ApiError::Transport {
        method: method.to_string(),
        path: path.into(),
        message: error_text(error),
    }
}

/// A transport error's kind and cause, without the URL (noise in run histories).
fn error_text(error: &reqwest::Error) -> String {
    let kind = if error.is_timeout() {
        "timed out"
    } else if error.is_connect() {
        "could not connect"
    } else {
        "transport error"
    };
    match std::error::Error::source(error) {
        Some(cause) => format!("{kind}: {cause}"),
        None => kind.to_string(),
    }
}
