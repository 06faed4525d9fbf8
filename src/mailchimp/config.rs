//! What a sync is configured with: the account (API key and base URL) and, per segment,
//! the audience, tag, direction, status for new members and interval.
//!
//! Invariant: the API key never leaves [`ApiKey`] except as the Basic-auth password of a
//! request. It has no `Display`, no `Serialize`, and its `Debug` is redacted.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use crate::rules::normalize_text;

/// Environment variable holding the API key, `<key>-<data centre>`.
pub const API_KEY_ENV: &str = "MAILCHIMP_API_KEY";
/// Environment variable overriding the API's base URL (tests, proxies).
pub const BASE_URL_ENV: &str = "MAILCHIMP_BASE_URL";
/// How often a sync runs unless configured otherwise: every 4 hours.
pub const INTERVAL_DEFAULT_SECS: u64 = 4 * 3600;
pub const INTERVAL_MIN_SECS: u64 = 300;
pub const INTERVAL_MAX_SECS: u64 = 30 * 86_400;
/// Mailchimp's limit on a tag (static segment) name.
pub const TAG_LENGTH_MAX: usize = 100;

/// A refused account or sync configuration. Messages never contain the API key.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ConfigError {
    #[error("no Mailchimp API key: set {API_KEY_ENV} or the server's configuration")]
    MissingApiKey,
    #[error("the Mailchimp API key has no data-centre suffix such as `-us21`")]
    NoDataCentre,
    #[error("base URL {url:?} is not an http(s) URL")]
    BadBaseUrl { url: String },
    #[error("list_id {list_id:?} is not a Mailchimp audience id (letters and digits)")]
    BadListId { list_id: String },
    #[error("tag is empty")]
    EmptyTag,
    #[error("tag {tag:?} is longer than {TAG_LENGTH_MAX} characters")]
    TagTooLong { tag: String },
    #[error("interval_secs {secs} is outside {INTERVAL_MIN_SECS}..={INTERVAL_MAX_SECS}")]
    IntervalOutOfRange { secs: u64 },
    #[error("segment {segment_id} is dynamic; two-way sync needs a static segment")]
    TwoWayOnDynamic { segment_id: i64 },
}

/// A Mailchimp API key. Only [`ApiKey::expose`] reads it, for the Authorization header.
#[derive(Clone, PartialEq, Eq)]
pub struct ApiKey(String);

impl std::fmt::Debug for ApiKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("ApiKey(<redacted>)")
    }
}

impl ApiKey {
    /// # Errors
    /// [`ConfigError::MissingApiKey`] for a blank key.
    pub fn new(key: &str) -> Result<ApiKey, ConfigError> {
        let key = key.trim();
        if key.is_empty() {
            return Err(ConfigError::MissingApiKey);
        }
        Ok(ApiKey(key.to_string()))
    }

    /// The data centre after the last `-` (`us21` in `abc-us21`).
    ///
    /// # Errors
    /// [`ConfigError::NoDataCentre`] when the suffix is missing or not letters then digits.
    pub fn data_centre(&self) -> Result<&str, ConfigError> {
        let (_, dc) = self.0.rsplit_once('-').ok_or(ConfigError::NoDataCentre)?;
        let letters = dc.trim_end_matches(|c: char| c.is_ascii_digit());
        let well_formed = !letters.is_empty()
            && letters.len() < dc.len()
            && letters.chars().all(|c| c.is_ascii_lowercase());
        well_formed.then_some(dc).ok_or(ConfigError::NoDataCentre)
    }

    pub(super) fn expose(&self) -> &str {
        &self.0
    }
}

/// The account every sync talks to: a key and the API's base URL (ending in `/3.0`).
#[derive(Debug, Clone)]
pub struct Account {
    pub key: ApiKey,
    pub base_url: String,
}

impl Account {
    /// The account of `key`, at `https://<dc>.api.mailchimp.com/3.0`.
    ///
    /// # Errors
    /// When the key has no data-centre suffix.
    pub fn new(key: ApiKey) -> Result<Account, ConfigError> {
        let base_url = format!("https://{}.api.mailchimp.com/3.0", key.data_centre()?);
        Ok(Account { key, base_url })
    }

    /// The same account at another base URL (a fake server, a proxy).
    ///
    /// # Errors
    /// When `url` is not an http or https URL.
    pub fn with_base_url(self, url: &str) -> Result<Account, ConfigError> {
        let url = url.trim().trim_end_matches('/');
        if !(url.starts_with("http://") || url.starts_with("https://")) {
            return Err(ConfigError::BadBaseUrl { url: url.into() });
        }
        Ok(Account {
            base_url: url.into(),
            ..self
        })
    }

    /// The account from [`API_KEY_ENV`] and, when set, [`BASE_URL_ENV`].
    ///
    /// # Errors
    /// When the key is missing or malformed, or the base URL is not a URL.
    pub fn from_env() -> Result<Account, ConfigError> {
        let key = std::env::var(API_KEY_ENV).map_err(|_| ConfigError::MissingApiKey)?;
        let account = Account::new(ApiKey::new(&key)?)?;
        match std::env::var(BASE_URL_ENV) {
            Ok(url) if !url.trim().is_empty() => account.with_base_url(&url),
            _ => Ok(account),
        }
    }
}

/// Which way changes flow.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Direction {
    /// Segment to Mailchimp only.
    #[default]
    OneWay,
    /// Both ways; static segments only.
    TwoWay,
}

/// The status a member gets when the sync creates it. Existing members keep theirs.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum NewStatus {
    #[default]
    Subscribed,
    /// Mailchimp sends a confirmation e-mail (double opt-in).
    Pending,
    /// Receives transactional e-mail only; no consent needed.
    Transactional,
}

impl NewStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            NewStatus::Subscribed => "subscribed",
            NewStatus::Pending => "pending",
            NewStatus::Transactional => "transactional",
        }
    }

    pub fn parse(text: &str) -> Option<NewStatus> {
        [Self::Subscribed, Self::Pending, Self::Transactional]
            .into_iter()
            .find(|s| s.as_str() == text)
    }

    /// Whether creating a member with this status needs marketing consent. Both subscribed
    /// and pending lead to marketing e-mail (pending first sends an opt-in request).
    pub fn needs_consent(self) -> bool {
        self != NewStatus::Transactional
    }
}

/// A sync as the API receives it, before validation.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SyncSpec {
    pub segment_id: i64,
    pub list_id: String,
    pub tag: String,
    #[serde(default)]
    pub direction: Direction,
    #[serde(default)]
    pub status_if_new: NewStatus,
    #[serde(default = "default_interval")]
    pub interval_secs: u64,
    #[serde(default = "default_enabled")]
    pub enabled: bool,
}

fn default_interval() -> u64 {
    INTERVAL_DEFAULT_SECS
}

fn default_enabled() -> bool {
    true
}

/// A checked [`SyncSpec`]: trimmed ids and tag, interval in range, direction allowed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ValidSpec(SyncSpec);

impl ValidSpec {
    pub fn spec(&self) -> &SyncSpec {
        &self.0
    }
}

impl SyncSpec {
    /// Checks the spec for a segment that is static or not.
    ///
    /// # Errors
    /// A malformed list id or tag, an interval out of range, or two-way on a dynamic segment.
    pub fn validate(mut self, segment_is_static: bool) -> Result<ValidSpec, ConfigError> {
        self.list_id = self.list_id.trim().to_string();
        self.tag = self.tag.trim().to_string();
        check_list_id(&self.list_id)?;
        check_tag(&self.tag)?;
        if !(INTERVAL_MIN_SECS..=INTERVAL_MAX_SECS).contains(&self.interval_secs) {
            return Err(ConfigError::IntervalOutOfRange {
                secs: self.interval_secs,
            });
        }
        if self.direction == Direction::TwoWay && !segment_is_static {
            return Err(ConfigError::TwoWayOnDynamic {
                segment_id: self.segment_id,
            });
        }
        Ok(ValidSpec(self))
    }
}

fn check_list_id(list_id: &str) -> Result<(), ConfigError> {
    let ok = !list_id.is_empty() && list_id.len() <= 64;
    if ok && list_id.chars().all(|c| c.is_ascii_alphanumeric()) {
        return Ok(());
    }
    Err(ConfigError::BadListId {
        list_id: list_id.into(),
    })
}

fn check_tag(tag: &str) -> Result<(), ConfigError> {
    if tag.is_empty() {
        return Err(ConfigError::EmptyTag);
    }
    if tag.chars().count() > TAG_LENGTH_MAX {
        return Err(ConfigError::TagTooLong { tag: tag.into() });
    }
    Ok(())
}

/// The key two tags of one audience are compared by: trimmed and case folded.
pub fn tag_key(tag: &str) -> String {
    normalize_text(tag)
}

/// A stored sync of one segment to one audience tag.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct SyncConfig {
    pub id: i64,
    pub segment_id: i64,
    pub list_id: String,
    pub tag: String,
    pub direction: Direction,
    pub status_if_new: NewStatus,
    pub interval_secs: u64,
    pub enabled: bool,
    pub next_run_at: DateTime<Utc>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[track_caller]
    fn check_dc(key: &str, expected: Result<&str, ConfigError>) {
        let key = ApiKey::new(key).unwrap();
        assert_eq!(key.data_centre(), expected);
    }

    #[test]
    fn data_centre_is_the_key_suffix() {
        check_dc("0123abcd-us21", Ok("us21"));
        check_dc("a-b-us6", Ok("us6"));
        check_dc("0123abcd", Err(ConfigError::NoDataCentre));
        check_dc("0123abcd-", Err(ConfigError::NoDataCentre));
        check_dc("0123abcd-21", Err(ConfigError::NoDataCentre));
        check_dc("0123abcd-us", Err(ConfigError::NoDataCentre));
        check_dc("0123abcd-US21", Err(ConfigError::NoDataCentre));
    }

    #[test]
    fn base_url_comes_from_the_data_centre_or_the_override() {
        let account = Account::new(ApiKey::new("k-us21").unwrap()).unwrap();
        assert_eq!(account.base_url, "https://us21.api.mailchimp.com/3.0");
        let local = account.with_base_url("http://127.0.0.1:9/3.0/").unwrap();
        assert_eq!(local.base_url, "http://127.0.0.1:9/3.0");
        let bad = Account::new(ApiKey::new("k-us21").unwrap())
            .unwrap()
            .with_base_url("ftp://x");
        assert_eq!(
            bad.unwrap_err(),
            ConfigError::BadBaseUrl {
                url: "ftp://x".into()
            }
        );
    }

    #[test]
    fn the_key_is_redacted_in_debug() {
        let account = Account::new(ApiKey::new("s3cr3t-us21").unwrap()).unwrap();
        assert!(!format!("{account:?}").contains("s3cr3t"));
        assert!(!format!("{:?}", account.key).contains("s3cr3t"));
    }

    fn spec(json: serde_json::Value) -> SyncSpec {
        serde_json::from_value(json).unwrap()
    }

    #[test]
    fn spec_defaults_and_validation() {
        let valid = spec(serde_json::json!({"segment_id": 1, "list_id": " ab12 ", "tag": " VIP "}))
            .validate(false)
            .unwrap();
        let expected = SyncSpec {
            segment_id: 1,
            list_id: "ab12".into(),
            tag: "VIP".into(),
            direction: Direction::OneWay,
            status_if_new: NewStatus::Subscribed,
            interval_secs: 14_400,
            enabled: true,
        };
        assert_eq!(valid.spec(), &expected);
        let refused = |json, is_static| spec(json).validate(is_static).unwrap_err();
        assert_eq!(
            refused(
                serde_json::json!({"segment_id": 7, "list_id": "l", "tag": "t", "direction": "two_way"}),
                false
            ),
            ConfigError::TwoWayOnDynamic { segment_id: 7 }
        );
        assert_eq!(
            refused(
                serde_json::json!({"segment_id": 7, "list_id": "l/x", "tag": "t"}),
                true
            ),
            ConfigError::BadListId {
                list_id: "l/x".into()
            }
        );
        assert_eq!(
            refused(
                serde_json::json!({"segment_id": 7, "list_id": "l", "tag": "  "}),
                true
            ),
            ConfigError::EmptyTag
        );
        assert_eq!(
            refused(
                serde_json::json!({"segment_id": 7, "list_id": "l", "tag": "t", "interval_secs": 10}),
                true
            ),
            ConfigError::IntervalOutOfRange { secs: 10 }
        );
    }
}
