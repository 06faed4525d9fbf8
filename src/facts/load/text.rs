//! Reading single CSV values: integers, numbers, booleans, dates, timestamps and tag lists.
//! Every reader trims the value first.

use arrow::compute::kernels::cast_utils::string_to_datetime;
use chrono::{NaiveDate, Utc};

pub(super) fn parse_int(text: &str) -> Option<i64> {
    text.trim().parse().ok()
}

/// A finite number; `NaN` and infinities are refused.
pub(super) fn parse_float(text: &str) -> Option<f64> {
    text.trim().parse().ok().filter(|f: &f64| f.is_finite())
}

/// `true`/`false`, `yes`/`no`, `1`/`0`, in any case.
pub(super) fn parse_bool(text: &str) -> Option<bool> {
    let text = text.trim();
    let is = |word: &str| text.eq_ignore_ascii_case(word);
    if is("true") || is("yes") || text == "1" {
        Some(true)
    } else if is("false") || is("no") || text == "0" {
        Some(false)
    } else {
        None
    }
}

/// Microseconds since the epoch of an RFC 3339 timestamp, of `YYYY-MM-DD[T| ]HH:MM:SS[.f]`
/// without a zone (UTC), or of a bare `YYYY-MM-DD` (midnight UTC).
pub(super) fn parse_timestamp_micros(text: &str) -> Option<i64> {
    string_to_datetime(&Utc, text.trim())
        .ok()
        .map(|t| t.timestamp_micros())
}

/// Exactly `YYYY-MM-DD`.
pub(super) fn parse_plain_date(text: &str) -> Option<NaiveDate> {
    let text = text.trim();
    if text.len() != 10 {
        return None;
    }
    NaiveDate::parse_from_str(text, "%Y-%m-%d").ok()
}

/// A `YYYY-MM-DD` date, or the UTC date of a timestamp.
pub(super) fn parse_date(text: &str) -> Option<NaiveDate> {
    parse_plain_date(text).or_else(|| {
        let micros = parse_timestamp_micros(text)?;
        chrono::DateTime::from_timestamp_micros(micros).map(|t| t.date_naive())
    })
}

/// The tags of a `;`-separated list, trimmed, without empty pieces, in their original case.
pub(super) fn split_tags(text: &str) -> impl Iterator<Item = &str> {
    text.split(';').map(str::trim).filter(|tag| !tag.is_empty())
}

/// Case-insensitive `true` or `false`: the only texts that make a custom field Boolean.
pub(super) fn is_bool_word(text: &str) -> bool {
    text.eq_ignore_ascii_case("true") || text.eq_ignore_ascii_case("false")
}

/// An optional `-`, then digits without a leading zero (`0` itself is fine), so zip codes
/// such as `01234` stay text.
pub(super) fn is_plain_integer(text: &str) -> bool {
    let digits = text.strip_prefix('-').unwrap_or(text);
    let leading_zero = digits.len() > 1 && digits.starts_with('0');
    !digits.is_empty() && digits.bytes().all(|b| b.is_ascii_digit()) && !leading_zero
}

/// Like [`is_plain_integer`], followed by `.` and at least one digit.
pub(super) fn is_plain_decimal(text: &str) -> bool {
    let Some((whole, fraction)) = text.split_once('.') else {
        return false;
    };
    is_plain_integer(whole) && !fraction.is_empty() && fraction.bytes().all(|b| b.is_ascii_digit())
}

/// The number of significant decimal places (trailing zeros do not count).
pub(super) fn decimal_places(text: &str) -> usize {
    text.split_once('.')
        .map_or(0, |(_, fraction)| fraction.trim_end_matches('0').len())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_timestamps_in_every_accepted_shape() {
        let noon = 1_704_110_400_000_000; // 2024-01-01T12:00:00Z
        assert_eq!(parse_timestamp_micros("2024-01-01T12:00:00Z"), Some(noon));
        assert_eq!(
            parse_timestamp_micros("2024-01-01T13:00:00+01:00"),
            Some(noon)
        );
        assert_eq!(parse_timestamp_micros("2024-01-01 12:00:00"), Some(noon));
        assert_eq!(parse_timestamp_micros("2024-01-01T12:00:00"), Some(noon));
        assert_eq!(
            parse_timestamp_micros("2024-01-01 12:00:00.25"),
            Some(noon + 250_000)
        );
        assert_eq!(
            parse_timestamp_micros(" 2024-01-01 "),
            Some(noon - 12 * 3_600_000_000)
        );
        assert_eq!(parse_timestamp_micros("01/01/2024"), None);
        assert_eq!(parse_timestamp_micros("2024-13-01"), None);
    }

    #[test]
    fn tells_plain_integers_from_zip_codes() {
        assert!(is_plain_integer("0"));
        assert!(is_plain_integer("-12"));
        assert!(!is_plain_integer("01234"));
        assert!(!is_plain_integer("12a"));
        assert!(is_plain_decimal("0.5"));
        assert!(is_plain_decimal("-12.50"));
        assert!(!is_plain_decimal("01.5"));
        assert!(!is_plain_decimal("1."));
        assert_eq!(decimal_places("12.500"), 1);
    }

    #[test]
    fn splits_tags_keeping_case() {
        let tags: Vec<&str> = split_tags(" VIP ; ;late-payer;").collect();
        assert_eq!(tags, ["VIP", "late-payer"]);
    }
}
