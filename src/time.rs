//! The tenant's calendar: local dates of instants and relative dates, in one IANA zone.
//!
//! Every date condition compares calendar dates in the tenant's zone, never instants, so
//! "30 days ago" is 30 calendar days before the local date of `as_of`, whatever daylight
//! saving does in between.

use chrono::{DateTime, Datelike, Months, NaiveDate, TimeZone, Utc};
use chrono_tz::Tz;

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
}
