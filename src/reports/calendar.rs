//! Report calendars: date ranges in local dates, their periods (day, ISO week, month), and
//! a fast conversion of many instants to local dates.

use chrono::{Datelike, Days, NaiveDate, Offset, TimeZone};
use chrono_tz::Tz;
use serde::{Deserialize, Serialize};

use super::error::{ReportError, Result};
use super::label::LabelTable;
use crate::time::{local_date, month_start, to_date32};

/// Local calendar dates `from..=to` of the tenant's zone, never empty.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
pub struct DateRange {
    from: NaiveDate,
    to: NaiveDate,
}

/// The most days a range may hold: a hundred years. A day-by-day report of the longest
/// range has 36,600 periods; without a bound, `0001-01-01..9999-12-31` would ask for 3.65M.
pub const RANGE_DAYS_MAX: u64 = 36_600;

impl DateRange {
    /// # Errors
    /// [`ReportError::EmptyRange`] when `from` is after `to`;
    /// [`ReportError::RangeTooLong`] past [`RANGE_DAYS_MAX`] days.
    pub fn new(from: NaiveDate, to: NaiveDate) -> Result<DateRange> {
        if from > to {
            return Err(ReportError::EmptyRange { from, to });
        }
        let range = DateRange { from, to };
        if range.days() > RANGE_DAYS_MAX {
            let max = RANGE_DAYS_MAX;
            return Err(ReportError::RangeTooLong { from, to, max });
        }
        Ok(range)
    }

    /// The range of one day.
    pub fn day(date: NaiveDate) -> DateRange {
        DateRange {
            from: date,
            to: date,
        }
    }

    pub fn from(&self) -> NaiveDate {
        self.from
    }

    pub fn to(&self) -> NaiveDate {
        self.to
    }

    /// How many days the range holds, both ends included.
    pub fn days(&self) -> u64 {
        (self.to - self.from).num_days() as u64 + 1
    }

    /// The smallest range holding both: for scanning, so it may exceed [`RANGE_DAYS_MAX`].
    pub fn hull(&self, other: DateRange) -> DateRange {
        DateRange {
            from: self.from.min(other.from),
            to: self.to.max(other.to),
        }
    }

    /// The range of the same length that ends the day before this one starts.
    pub fn previous(&self) -> DateRange {
        let to = self.from - Days::new(1);
        DateRange {
            from: to - Days::new(self.days() - 1),
            to,
        }
    }

    /// `from` and `to` as Arrow `Date32` values.
    pub fn date32(&self) -> (i32, i32) {
        (to_date32(self.from), to_date32(self.to))
    }
}

/// The period a time series groups by.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Granularity {
    Day,
    /// ISO 8601 weeks, Monday to Sunday, named by their ISO year (`2025-W01`).
    Week,
    Month,
}

/// One period of a time series, cut to the report's range.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Period {
    /// `2024-03-01`, `2025-W01` or `2024-03`.
    pub label: String,
    pub from: NaiveDate,
    pub to: NaiveDate,
}

/// The periods covering `range`, in order; the first and last are cut to the range.
pub fn periods(range: DateRange, granularity: Granularity) -> Vec<Period> {
    let mut periods = Vec::new();
    let mut day = range.from;
    while day <= range.to {
        let (start, end) = period_bounds(day, granularity);
        periods.push(Period {
            label: period_label(start, granularity),
            from: day,
            to: end.min(range.to),
        });
        day = end + Days::new(1);
    }
    periods
}

/// The first and last day of the period holding `day`.
fn period_bounds(day: NaiveDate, granularity: Granularity) -> (NaiveDate, NaiveDate) {
    match granularity {
        Granularity::Day => (day, day),
        Granularity::Week => {
            let monday = day - Days::new(u64::from(day.weekday().num_days_from_monday()));
            (monday, monday + Days::new(6))
        }
        Granularity::Month => {
            let first = month_start(day);
            let next = first.checked_add_months(chrono::Months::new(1));
            (first, next.map_or(NaiveDate::MAX, |n| n - Days::new(1)))
        }
    }
}

fn period_label(start: NaiveDate, granularity: Granularity) -> String {
    match granularity {
        Granularity::Day => start.format("%Y-%m-%d").to_string(),
        Granularity::Week => {
            let week = start.iso_week();
            format!("{}-W{:02}", week.year(), week.week())
        }
        Granularity::Month => start.format("%Y-%m").to_string(),
    }
}

/// Day to period number over `range`, for the plan's `period(day)` lookup.
pub fn period_table(range: DateRange, periods: &[Period]) -> LabelTable {
    let mut labels = Vec::with_capacity(range.days() as usize);
    for (number, period) in periods.iter().enumerate() {
        let days = (period.to - period.from).num_days() as usize + 1;
        labels.extend(std::iter::repeat_n(number as u32, days));
    }
    LabelTable {
        first_key: i64::from(to_date32(range.from)),
        labels,
    }
}

/// Hours past which [`LocalDays`] stops caching offsets: 228 years of orders.
const CACHED_HOURS_MAX: i64 = 2_000_000;

const MICROS_PER_HOUR: i64 = 3_600_000_000;

/// Local dates of many instants. The zone's UTC offset is looked up once per UTC hour of
/// the instants' span, then each instant is one addition and one division. An hour in
/// which the offset changes (a daylight-saving switch) is left uncached and computed
/// per instant, so the result always equals [`crate::time::local_date`].
pub struct LocalDays {
    tz: Tz,
    first_hour: i64,
    /// Offset in seconds of each hour from `first_hour`; `None` when it changes within.
    offsets: Vec<Option<i32>>,
}

impl LocalDays {
    /// A converter for instants between `min_micros` and `max_micros`.
    pub fn new(tz: Tz, min_micros: i64, max_micros: i64) -> LocalDays {
        let first_hour = min_micros.div_euclid(MICROS_PER_HOUR);
        let hours = max_micros.div_euclid(MICROS_PER_HOUR) - first_hour + 1;
        let offsets = if (1..=CACHED_HOURS_MAX).contains(&hours) {
            (first_hour..first_hour + hours)
                .map(|h| steady_offset(tz, h))
                .collect()
        } else {
            Vec::new()
        };
        LocalDays {
            tz,
            first_hour,
            offsets,
        }
    }

    /// The local date of `micros` as an Arrow `Date32` value.
    pub fn date32(&self, micros: i64) -> i32 {
        let hour = micros.div_euclid(MICROS_PER_HOUR) - self.first_hour;
        let cached = usize::try_from(hour).ok().and_then(|h| self.offsets.get(h));
        match cached {
            Some(Some(offset)) => {
                let local_secs = micros.div_euclid(1_000_000) + i64::from(*offset);
                local_secs.div_euclid(86_400) as i32
            }
            _ => to_date32(local_date(micros, self.tz)),
        }
    }
}

/// The zone's offset during UTC hour `hour`, if it holds for the whole hour.
fn steady_offset(tz: Tz, hour: i64) -> Option<i32> {
    let offset_at = |micros: i64| {
        let utc = chrono::DateTime::from_timestamp_micros(micros)?.naive_utc();
        Some(tz.offset_from_utc_datetime(&utc).fix().local_minus_utc())
    };
    let start = offset_at(hour * MICROS_PER_HOUR)?;
    let end = offset_at((hour + 1) * MICROS_PER_HOUR - 1)?;
    (start == end).then_some(start)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::facts::builder::micros;

    fn date(text: &str) -> NaiveDate {
        NaiveDate::parse_from_str(text, "%Y-%m-%d").unwrap()
    }

    fn range(from: &str, to: &str) -> DateRange {
        DateRange::new(date(from), date(to)).unwrap()
    }

    #[test]
    fn local_days_match_the_zone_at_every_step_around_dst() {
        // Every 7 minutes across the spring and autumn switches of three zones, one of them
        // with a half-hour switch (Lord Howe), the result equals the plain conversion.
        for zone in [
            "Europe/Berlin",
            "America/Los_Angeles",
            "Australia/Lord_Howe",
        ] {
            let tz: Tz = zone.parse().unwrap();
            for (start, end) in [
                ("2024-03-09T00:00:00Z", "2024-04-08T00:00:00Z"),
                ("2024-10-05T00:00:00Z", "2024-11-04T00:00:00Z"),
            ] {
                let (start, end) = (micros(start), micros(end));
                let days = LocalDays::new(tz, start, end);
                for at in (start..=end).step_by(7 * 60 * 1_000_000) {
                    assert_eq!(
                        days.date32(at),
                        to_date32(local_date(at, tz)),
                        "{zone} at {at}"
                    );
                }
            }
        }
    }

    #[test]
    fn period_table_maps_each_day_to_its_period() {
        let march = range("2024-02-28", "2024-03-02");
        let table = period_table(march, &periods(march, Granularity::Month));
        let labels: Vec<u32> = (0..4)
            .map(|d| table.label(i64::from(to_date32(date("2024-02-28"))) + d))
            .collect();
        assert_eq!(labels, [0, 0, 1, 1]);
        assert_eq!(
            table.label(i64::from(to_date32(date("2024-03-03")))),
            crate::reports::label::NO_LABEL
        );
    }
}
