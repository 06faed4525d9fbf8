//! Dashboard widgets: a segment's revenue or order count over a period, with the value of
//! the period before for comparison.
//!
//! Periods end today (the local date of `now`, today included):
//! - `last_N_days`: the N days ending today; before it, the N days before those.
//! - `month_to_date`: the 1st of this month to today; before it, the same days of the
//!   previous month, its end clamped to that month's last day (on 31 March: 1 to 29
//!   February in a leap year).
//! - `year_to_date`: 1 January to today; before it, the same span last year (29 February
//!   ends on 28 February).
//! - `fixed`: the given dates; before it, as many days ending the day before `from`.
//!
//! [`widget_values`] computes from the snapshot's views and the memberships the caller
//! passes, so values follow new facts and refreshed segments; `service::dashboard` keeps
//! the answer until one of those changes.

use std::collections::HashMap;
use std::fmt;
use std::sync::Arc;

use chrono::{DateTime, Datelike, NaiveDate, Utc};
use serde::de::{self, MapAccess, Unexpected, Visitor};
use serde::{Deserialize, Deserializer, Serialize};

use super::calendar::DateRange;
use super::error::{ReportError, Result};
use super::filter::{MemberMask, SegmentFilter, resolve};
use super::sales::{RangeAsk, range_sums};
use super::views::ReportFacts;
use crate::eval::SegmentLookup;
use crate::money::Cents;
use crate::time::{days_before, deserialize_request_date, month_start, months_before, today};

/// What a widget shows.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Metric {
    Revenue,
    OrderCount,
}

/// The dates a widget covers, relative to today or fixed. In JSON a name
/// (`"last_30_days"`) or `{"fixed": {"from": "2024-01-01", "to": "2024-03-31"}}`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum WidgetPeriod {
    #[serde(rename = "last_7_days")]
    Last7Days,
    #[serde(rename = "last_30_days")]
    Last30Days,
    #[serde(rename = "last_90_days")]
    Last90Days,
    MonthToDate,
    YearToDate,
    Fixed {
        from: NaiveDate,
        to: NaiveDate,
    },
}

/// The names of the relative periods, as JSON writes them.
const NAMED_PERIODS: [(&str, WidgetPeriod); 5] = [
    ("last_7_days", WidgetPeriod::Last7Days),
    ("last_30_days", WidgetPeriod::Last30Days),
    ("last_90_days", WidgetPeriod::Last90Days),
    ("month_to_date", WidgetPeriod::MonthToDate),
    ("year_to_date", WidgetPeriod::YearToDate),
];

/// Read by hand rather than derived: serde's derived enum reader answers a number or a
/// `true` with a syntax error ("expected value"), and a body of valid JSON deserves a
/// message naming what a period may be.
impl<'de> Deserialize<'de> for WidgetPeriod {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<WidgetPeriod, D::Error> {
        deserializer.deserialize_any(PeriodVisitor)
    }
}

struct PeriodVisitor;

impl<'de> Visitor<'de> for PeriodVisitor {
    type Value = WidgetPeriod;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let names: Vec<String> = NAMED_PERIODS
            .iter()
            .map(|(n, _)| format!("{n:?}"))
            .collect();
        write!(
            f,
            "one of {}, or {{\"fixed\": {{\"from\": \"YYYY-MM-DD\", \"to\": \"YYYY-MM-DD\"}}}}",
            names.join(", ")
        )
    }

    fn visit_str<E: de::Error>(self, name: &str) -> Result<WidgetPeriod, E> {
        let named = NAMED_PERIODS.iter().find(|(n, _)| *n == name);
        named
            .map(|(_, period)| *period)
            .ok_or_else(|| E::invalid_value(Unexpected::Str(name), &self))
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<WidgetPeriod, A::Error> {
        let Some(key) = map.next_key::<String>()? else {
            return Err(de::Error::invalid_length(0, &self));
        };
        if key != "fixed" {
            return Err(de::Error::unknown_field(&key, &["fixed"]));
        }
        let FixedDates { from, to } = map.next_value()?;
        if let Some(extra) = map.next_key::<String>()? {
            let message = format!("`{extra}` next to `fixed`; a period has one key");
            return Err(de::Error::custom(message));
        }
        Ok(WidgetPeriod::Fixed { from, to })
    }
}

/// The dates of a fixed period.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct FixedDates {
    #[serde(deserialize_with = "deserialize_request_date")]
    from: NaiveDate,
    #[serde(deserialize_with = "deserialize_request_date")]
    to: NaiveDate,
}

impl WidgetPeriod {
    /// The current range and the one before it, for the local date `today`.
    ///
    /// # Errors
    /// [`ReportError::EmptyRange`] for fixed dates whose `from` is after `to`, and
    /// [`ReportError::RangeTooLong`] for fixed dates too far apart (refused when stored,
    /// so only a hand-edited catalog holds them).
    pub fn ranges(&self, today: NaiveDate) -> Result<(DateRange, DateRange)> {
        let last = |days: u32| DateRange::new(days_before(today, days - 1), today);
        let current = match *self {
            WidgetPeriod::Last7Days => last(7)?,
            WidgetPeriod::Last30Days => last(30)?,
            WidgetPeriod::Last90Days => last(90)?,
            WidgetPeriod::MonthToDate => DateRange::new(month_start(today), today)?,
            WidgetPeriod::YearToDate => DateRange::new(year_start(today), today)?,
            WidgetPeriod::Fixed { from, to } => DateRange::new(from, to)?,
        };
        let previous = match *self {
            WidgetPeriod::MonthToDate => calendar_before(today, 1, month_start)?,
            WidgetPeriod::YearToDate => calendar_before(today, 12, year_start)?,
            _ => current.previous(),
        };
        Ok((current, previous))
    }
}

fn year_start(date: NaiveDate) -> NaiveDate {
    NaiveDate::from_ymd_opt(date.year(), 1, 1).unwrap_or(date)
}

/// From the start (`start_of`) of the date `months` before today, to that date.
fn calendar_before(
    today: NaiveDate,
    months: u32,
    start_of: fn(NaiveDate) -> NaiveDate,
) -> Result<DateRange> {
    let end = months_before(today, months);
    DateRange::new(start_of(end), end)
}

/// A widget as stored in the catalog.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Widget {
    pub id: i64,
    pub title: String,
    /// The segment whose clients count; none counts every sale, guest sales included.
    pub segment_id: Option<i64>,
    pub metric: Metric,
    pub period: WidgetPeriod,
}

/// A widget's value now and in the period before.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct WidgetValue {
    pub widget: Widget,
    pub from: NaiveDate,
    pub to: NaiveDate,
    pub previous_from: NaiveDate,
    pub previous_to: NaiveDate,
    /// None when `unavailable` says why.
    pub current: Option<Amount>,
    pub previous: Option<Amount>,
    /// Why there is no value: the widget's segment no longer exists.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub unavailable: Option<String>,
}

/// A widget's number: money as a decimal string, a count as a number.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(untagged)]
pub enum Amount {
    Money(Cents),
    Count(u64),
}

impl Amount {
    fn of(metric: Metric, (revenue, orders): (Cents, u64)) -> Amount {
        match metric {
            Metric::Revenue => Amount::Money(revenue),
            Metric::OrderCount => Amount::Count(orders),
        }
    }
}

/// The value of every widget as of `now`, in the order given. Memberships are read from
/// `segments`; a widget whose segment is unknown comes back `unavailable`, not as an error,
/// so one stale widget never hides the dashboard.
///
/// Every widget's two periods are answered together by [`range_sums`]: unfiltered ones from
/// the daily running totals, and those on segments by one pass per segment over the days
/// its widgets cover, testing the segment's mask per order.
///
/// # Errors
/// Only an internal fault running a query.
pub async fn widget_values(
    facts: &ReportFacts,
    segments: &(dyn SegmentLookup + Sync),
    widgets: &[Widget],
    now: DateTime<Utc>,
) -> Result<Vec<WidgetValue>> {
    let today = today(now, facts.snapshot.tz);
    let scopes = scopes(facts, segments, widgets)?;
    let mut asks = Vec::with_capacity(2 * widgets.len());
    let mut values = Vec::with_capacity(widgets.len());
    // Per value, the index of its current period's ask; the period before follows it.
    let mut first_ask = Vec::with_capacity(widgets.len());
    for widget in widgets {
        let ranges = widget.period.ranges(today);
        // A widget without a value still shows its dates, or today's when it has none.
        let (current, previous) = match &ranges {
            Ok(ranges) => *ranges,
            Err(_) => (DateRange::day(today), DateRange::day(today)),
        };
        let unavailable = match (ranges, &scopes[&widget.segment_id]) {
            (Ok(_), Ok(mask)) => {
                first_ask.push(Some(asks.len()));
                for range in [current, previous] {
                    let mask = mask.clone();
                    asks.push(RangeAsk { mask, range });
                }
                None
            }
            (Err(error), _) => Some(error.to_string()),
            (_, Err(why)) => Some(why.clone()),
        };
        if unavailable.is_some() {
            first_ask.push(None);
        }
        values.push(WidgetValue {
            widget: widget.clone(),
            from: current.from(),
            to: current.to(),
            previous_from: previous.from(),
            previous_to: previous.to(),
            current: None,
            previous: None,
            unavailable,
        });
    }
    let sums = range_sums(facts, &asks).await?;
    for (value, first) in values.iter_mut().zip(first_ask) {
        if let Some(first) = first {
            let metric = value.widget.metric;
            value.current = Some(Amount::of(metric, sums[first]));
            value.previous = Some(Amount::of(metric, sums[first + 1]));
        }
    }
    Ok(values)
}

/// Whose sales a widget counts: everyone (`None`), a segment's member mask, or nobody
/// because the segment no longer exists.
type Scope = std::result::Result<Option<Arc<MemberMask>>, String>;

/// The scope of every segment the widgets name, each read and masked once.
fn scopes(
    facts: &ReportFacts,
    segments: &(dyn SegmentLookup + Sync),
    widgets: &[Widget],
) -> Result<HashMap<Option<i64>, Scope>> {
    let mut scopes = HashMap::new();
    for segment_id in widgets.iter().map(|w| w.segment_id) {
        if scopes.contains_key(&segment_id) {
            continue;
        }
        let filter = SegmentFilter {
            include: segment_id.into_iter().collect(),
            exclude: Vec::new(),
        };
        let scope = match resolve(&filter, &facts.snapshot.universe, |id| segments.members(id)) {
            Ok(members) => Ok(facts.mask(members.as_ref())),
            Err(ReportError::UnknownSegment { id, .. }) => {
                Err(format!("segment {id} does not exist"))
            }
            Err(error) => return Err(error),
        };
        scopes.insert(segment_id, scope);
    }
    Ok(scopes)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn date(text: &str) -> NaiveDate {
        NaiveDate::parse_from_str(text, "%Y-%m-%d").unwrap()
    }

    #[track_caller]
    fn check_periods(
        period: WidgetPeriod,
        today: &str,
        current: (&str, &str),
        previous: (&str, &str),
    ) {
        let (now, before) = period.ranges(date(today)).unwrap();
        assert_eq!(
            (now.from(), now.to()),
            (date(current.0), date(current.1)),
            "{period:?}"
        );
        assert_eq!(
            (before.from(), before.to()),
            (date(previous.0), date(previous.1)),
            "{period:?}"
        );
    }

    #[test]
    fn widget_periods_and_the_periods_before() {
        // 30 days ending 1 March 2024: 1 March and the 29 days of February.
        use WidgetPeriod::*;
        check_periods(
            Last7Days,
            "2024-04-01",
            ("2024-03-26", "2024-04-01"),
            ("2024-03-19", "2024-03-25"),
        );
        check_periods(
            Last30Days,
            "2024-03-01",
            ("2024-02-01", "2024-03-01"),
            ("2024-01-02", "2024-01-31"),
        );
        check_periods(
            Last90Days,
            "2024-04-01",
            ("2024-01-03", "2024-04-01"),
            ("2023-10-05", "2024-01-02"),
        );
        check_periods(
            MonthToDate,
            "2024-03-31",
            ("2024-03-01", "2024-03-31"),
            ("2024-02-01", "2024-02-29"),
        );
        check_periods(
            MonthToDate,
            "2024-03-15",
            ("2024-03-01", "2024-03-15"),
            ("2024-02-01", "2024-02-15"),
        );
        check_periods(
            MonthToDate,
            "2024-01-10",
            ("2024-01-01", "2024-01-10"),
            ("2023-12-01", "2023-12-10"),
        );
        check_periods(
            YearToDate,
            "2024-02-29",
            ("2024-01-01", "2024-02-29"),
            ("2023-01-01", "2023-02-28"),
        );
        let march = Fixed {
            from: date("2024-03-01"),
            to: date("2024-03-31"),
        };
        check_periods(
            march,
            "2030-01-01",
            ("2024-03-01", "2024-03-31"),
            ("2024-01-30", "2024-02-29"),
        );
        let backwards = Fixed {
            from: date("2024-03-02"),
            to: date("2024-03-01"),
        };
        assert!(matches!(
            backwards.ranges(date("2024-04-01")),
            Err(ReportError::EmptyRange { .. })
        ));
    }
}
