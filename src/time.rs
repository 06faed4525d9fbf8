//! The tenant's calendar: local dates of instants and relative dates, in one IANA zone.
//!
//! Every date condition compares calendar dates in the tenant's zone, never instants, so
//! "30 days ago" is 30 calendar days before the local date of `as_of`, whatever daylight
//! saving does in between.

use std::ops::RangeInclusive;

use chrono::{DateTime, Datelike, Months, NaiveDate, TimeZone, Utc};
use chrono_tz::Tz;
use serde::{Deserialize, Deserializer};

/// Days from 0001-01-01 (chrono's CE count) to 1970-01-01, the epoch of Arrow's `Date32`.
const UNIX_EPOCH_DAYS_FROM_CE: i32 = 719_163;

/// The local calendar date of an instant given in microseconds since the epoch.
pub fn local_date(micros: i64, tz: Tz) -> NaiveDate {
    let utc = DateTime::<Utc>::from_timestamp_micros(micros).unwrap_or(DateTime::<Utc>::MIN_UTC);
    tz.from_utc_datetime(&utc.naive_utc()).date_naive()
}

/// An Arrow `Date32` value (days since 1970-01-01) for a date.
pub fn to_date32(date: NaiveDate) -> i32 {
    date.num_days_from_ce() - UNIX_EPOCH_DAYS_FROM_CE
}

/// The date of an Arrow `Date32` value.
pub fn from_date32(days: i32) -> NaiveDate {
    NaiveDate::from_num_days_from_ce_opt(days + UNIX_EPOCH_DAYS_FROM_CE).unwrap_or(NaiveDate::MIN)
}

/// "Today" for an evaluation: the local date of `as_of`.
pub fn today(as_of: DateTime<Utc>, tz: Tz) -> NaiveDate {
    as_of.with_timezone(&tz).date_naive()
}

/// `today` minus `days` calendar days.
pub fn days_before(today: NaiveDate, days: u32) -> NaiveDate {
    today
        .checked_sub_days(chrono::Days::new(u64::from(days)))
        .unwrap_or(NaiveDate::MIN)
}

/// `today` minus `months` calendar months, clamped to the last day of the target month.
pub fn months_before(today: NaiveDate, months: u32) -> NaiveDate {
    today
        .checked_sub_months(Months::new(months))
        .unwrap_or(NaiveDate::MIN)
}

/// Parses a tenant time zone name such as `Europe/Berlin`.
///
/// # Errors
/// A name that is not in the IANA database.
pub fn parse_zone(name: &str) -> Result<Tz, String> {
    name.trim()
        .parse::<Tz>()
        .map_err(|_| format!("{name:?} is not an IANA time zone"))
}

/// The first day of the month of `date`.
pub fn month_start(date: NaiveDate) -> NaiveDate {
    date.with_day(1).unwrap_or(date)
}

/// Years a date in a request may have: four digits, so every date prints as `YYYY-MM-DD`,
/// and the period before a long range still lies in the common era.
const REQUEST_YEARS: RangeInclusive<i32> = 1000..=9999;

/// Reads a date a request names (a report's `from`, a widget's fixed dates): exactly
/// `YYYY-MM-DD`, a real calendar day, in the years 1000 to 9999.
///
/// # Errors
/// Any other text, quoted, with the expected form.
pub fn parse_request_date(text: &str) -> Result<NaiveDate, String> {
    let shaped = text.len() == 10
        && text.bytes().enumerate().all(|(i, b)| match i {
            4 | 7 => b == b'-',
            _ => b.is_ascii_digit(),
        });
    let date = NaiveDate::parse_from_str(text, "%Y-%m-%d").ok();
    match date.filter(|d| shaped && REQUEST_YEARS.contains(&d.year())) {
        Some(date) => Ok(date),
        None if shaped && date.is_none() => Err(format!("{text:?} is not a calendar day")),
        None => Err(format!(
            "{text:?} is not a date of the form YYYY-MM-DD, years 1000 to 9999"
        )),
    }
}

/// Reads an instant a request names (`as_of`, `now`): RFC 3339 with an offset, from
/// 1000-01-02 to 9999-12-30 in UTC, so that its local date lies in the years 1000 to 9999
/// in every zone, as the dates of requests do.
///
/// # Errors
/// An instant out of that span, or any other text, quoted, with an example and a hint for
/// the two usual slips: a bare date, and a `+` offset left unescaped in a URL, which
/// arrives as a space.
pub fn parse_request_instant(text: &str) -> Result<DateTime<Utc>, String> {
    if let Ok(instant) = DateTime::parse_from_rfc3339(text) {
        let instant = instant.with_timezone(&Utc);
        return check_request_instant(instant).map_err(|span| format!("{text:?} {span}"));
    }
    let hint = if parse_request_date(text).is_ok() {
        format!("; for the start of that day in UTC write {text}T00:00:00Z")
    } else if text.contains(' ') {
        "; a + in a URL arrives as a space: write it as %2B".to_string()
    } else {
        String::new()
    };
    Err(format!(
        "{text:?} is not an RFC 3339 instant such as 2026-12-01T09:00:00Z{hint}"
    ))
}

/// Checks that `instant` lies from 1000-01-02 to 9999-12-30 in UTC, the span of
/// [`parse_request_instant`].
///
/// # Errors
/// An instant out of that span; the message continues a quoted instant ("... is out of
/// range; ...").
pub fn check_request_instant(instant: DateTime<Utc>) -> Result<DateTime<Utc>, String> {
    // A zone moves the date at most one day from the UTC date.
    let date = instant.date_naive();
    let dates = [date.pred_opt(), Some(date), date.succ_opt()];
    let in_years = |d: Option<NaiveDate>| d.is_some_and(|d| REQUEST_YEARS.contains(&d.year()));
    if dates.into_iter().all(in_years) {
        Ok(instant)
    } else {
        Err("is out of range; an instant must lie between \
             1000-01-02T00:00:00Z and 9999-12-30T23:59:59Z"
            .to_string())
    }
}

/// `#[serde(deserialize_with)]` for a date field read by [`parse_request_date`].
pub fn deserialize_request_date<'de, D: Deserializer<'de>>(d: D) -> Result<NaiveDate, D::Error> {
    let text = String::deserialize(d)?;
    parse_request_date(&text).map_err(serde::de::Error::custom)
}

/// `#[serde(default, deserialize_with)]` for an optional instant read by
/// [`parse_request_instant`].
pub fn deserialize_request_instant<'de, D: Deserializer<'de>>(
    d: D,
) -> Result<Option<DateTime<Utc>>, D::Error> {
    let Some(text) = Option::<String>::deserialize(d)? else {
        return Ok(None);
    };
    parse_request_instant(&text)
        .map(Some)
        .map_err(serde::de::Error::custom)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn date(text: &str) -> NaiveDate {
        NaiveDate::parse_from_str(text, "%Y-%m-%d").unwrap()
    }

    fn micros(rfc3339: &str) -> i64 {
        DateTime::parse_from_rfc3339(rfc3339)
            .unwrap()
            .timestamp_micros()
    }

    #[test]
    fn local_date_follows_the_zone() {
        let berlin: Tz = "Europe/Berlin".parse().unwrap();
        assert_eq!(
            local_date(micros("2024-02-29T22:30:00Z"), berlin),
            date("2024-02-29")
        );
        assert_eq!(
            local_date(micros("2024-02-29T23:30:00Z"), berlin),
            date("2024-03-01")
        );
    }

    #[test]
    fn months_clamp_to_the_last_day() {
        assert_eq!(months_before(date("2024-03-31"), 1), date("2024-02-29"));
        assert_eq!(months_before(date("2023-03-31"), 1), date("2023-02-28"));
        assert_eq!(months_before(date("2024-01-15"), 13), date("2022-12-15"));
    }

    #[test]
    fn days_are_calendar_days_across_dst() {
        // 2024-03-31 is the spring-forward day in Berlin: 23 hours long.
        assert_eq!(days_before(date("2024-04-01"), 1), date("2024-03-31"));
        assert_eq!(days_before(date("2024-04-01"), 2), date("2024-03-30"));
    }

    #[test]
    fn date32_round_trips() {
        assert_eq!(to_date32(date("1970-01-01")), 0);
        assert_eq!(to_date32(date("2024-03-01")), 19783);
        assert_eq!(from_date32(19783), date("2024-03-01"));
    }

    #[test]
    fn request_dates_are_exactly_yyyy_mm_dd() {
        assert_eq!(parse_request_date("2024-02-29"), Ok(date("2024-02-29")));
        assert_eq!(parse_request_date("9999-12-31"), Ok(date("9999-12-31")));
        assert_eq!(
            parse_request_date("2026-02-30"),
            Err(r#""2026-02-30" is not a calendar day"#.into())
        );
        let shape = |text: &str| {
            format!("{text:?} is not a date of the form YYYY-MM-DD, years 1000 to 9999")
        };
        for text in [
            "2026-1-1",
            "-0098-01-01",
            "0999-12-31",
            "",
            "2026-01-01T00:00:00Z",
        ] {
            assert_eq!(parse_request_date(text), Err(shape(text)), "{text}");
        }
    }

    #[test]
    fn request_instants_are_rfc3339_and_slips_get_a_hint() {
        assert_eq!(
            parse_request_instant("2026-12-01T09:30:00+02:00").map(|at| at.to_rfc3339()),
            Ok("2026-12-01T07:30:00+00:00".to_string())
        );
        let example = "is not an RFC 3339 instant such as 2026-12-01T09:00:00Z";
        assert_eq!(
            parse_request_instant("2026-12-01"),
            Err(format!(
                r#""2026-12-01" {example}; for the start of that day in UTC write 2026-12-01T00:00:00Z"#
            ))
        );
        assert_eq!(
            parse_request_instant("2026-12-01T09:30:00 02:00"),
            Err(format!(
                r#""2026-12-01T09:30:00 02:00" {example}; a + in a URL arrives as a space: write it as %2B"#
            ))
        );
        assert_eq!(
            parse_request_instant("soon"),
            Err(format!(r#""soon" {example}"#))
        );
    }

    #[test]
    fn request_instants_keep_their_local_dates_in_four_digit_years() {
        let span = "is out of range; an instant must lie between 1000-01-02T00:00:00Z and \
                    9999-12-30T23:59:59Z";
        for text in [
            "0000-01-01T12:00:00Z",
            "1000-01-01T23:59:59Z",
            "9999-12-31T00:00:00Z",
            "9999-12-31T23:59:59-12:00",
        ] {
            assert_eq!(
                parse_request_instant(text),
                Err(format!("{text:?} {span}")),
                "{text}"
            );
        }
        for (text, utc) in [
            ("1000-01-02T00:00:00Z", "1000-01-02T00:00:00+00:00"),
            ("9999-12-30T23:59:59Z", "9999-12-30T23:59:59+00:00"),
            ("1000-01-02T09:00:00+09:00", "1000-01-02T00:00:00+00:00"),
        ] {
            let got = parse_request_instant(text).map(|at| at.to_rfc3339());
            assert_eq!(got, Ok(utc.to_string()), "{text}");
        }
    }
}
