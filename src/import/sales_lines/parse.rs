//! Reading the cells of a sales line: quantities, unit prices, client ids and date-times.
//! Every parser returns the reason a cell is refused, for the row's set-aside report.

use chrono::{DateTime, NaiveDate, NaiveDateTime};

use crate::money::{Cents, MoneyError, div_round_half_away};

/// Unit prices are kept in ten-thousandths of the currency unit, so a price finer than a
/// cent (`0.001`) is kept exactly until its line total is rounded to the cent.
pub const PRICE_SCALE: i64 = 10_000;
const CENTS_TO_PRICE: i64 = PRICE_SCALE / 100;

/// A unit price in ten-thousandths, and whether it was finer than a cent.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct UnitPrice {
    pub ten_thousandths: i64,
    pub sub_cent: bool,
}

impl UnitPrice {
    /// The price rounded half away from zero to the cent.
    pub fn cents(self) -> i64 {
        div_round_half_away(i128::from(self.ten_thousandths), i128::from(CENTS_TO_PRICE)) as i64
    }
}

/// Reads a unit price: a plain decimal, exact to the cent through [`Cents::parse`], or
/// with 3 or 4 decimals (rare, `0.001` in Online Retail) read exactly at that scale.
pub fn unit_price(text: &str) -> Result<UnitPrice, String> {
    match Cents::parse(text) {
        Ok(cents) => {
            let ten_thousandths = cents.0.checked_mul(CENTS_TO_PRICE).ok_or("is too large")?;
            Ok(UnitPrice {
                ten_thousandths,
                sub_cent: false,
            })
        }
        Err(MoneyError::TooPrecise(_)) => fine_price(text.trim()),
        Err(_) => Err("is not a decimal number".into()),
    }
}

/// A decimal with at most 4 decimal places, in ten-thousandths.
fn fine_price(text: &str) -> Result<UnitPrice, String> {
    let (negative, digits) = match text.strip_prefix('-') {
        Some(rest) => (true, rest),
        None => (false, text.strip_prefix('+').unwrap_or(text)),
    };
    let (whole, frac) = digits.split_once('.').ok_or("is not a decimal number")?;
    let frac = frac.trim_end_matches('0');
    if frac.len() > 4 {
        return Err("has more than 4 decimal places".into());
    }
    let whole: i64 = match whole {
        "" => 0,
        _ => whole.parse().map_err(|_| "is not a decimal number")?,
    };
    let frac: i64 = format!("{frac:0<4}")
        .parse()
        .map_err(|_| "is not a decimal number")?;
    let value = whole
        .checked_mul(PRICE_SCALE)
        .and_then(|w| w.checked_add(frac));
    let value = value.ok_or("is too large")?;
    Ok(UnitPrice {
        ten_thousandths: if negative { -value } else { value },
        sub_cent: true,
    })
}

/// A line's total in cents: quantity × unit price, rounded half away from zero.
pub fn line_total_cents(quantity: i64, price: UnitPrice) -> Result<i64, String> {
    let exact = i128::from(quantity) * i128::from(price.ten_thousandths);
    let cents = div_round_half_away(exact, i128::from(CENTS_TO_PRICE));
    i64::try_from(cents).map_err(|_| "gives a line total too large".to_string())
}

/// A whole number; `"6.0"` (a spreadsheet's float) is read as 6, `"6.5"` is refused.
pub fn whole_number(text: &str) -> Result<i64, String> {
    let text = text.trim();
    let whole = match text.split_once('.') {
        Some((whole, frac)) if frac.bytes().all(|b| b == b'0') => whole,
        Some(_) => return Err("is not a whole number".into()),
        None => text,
    };
    whole.parse().map_err(|_| "is not a whole number".into())
}

/// A client id, or `None` for an empty cell (a guest sale).
pub fn client_id(text: &str) -> Result<Option<i64>, String> {
    match text.trim() {
        "" => Ok(None),
        id => whole_number(id).map(Some),
    }
}

/// How date-times are read: one `chrono` format, or the usual ISO forms.
#[derive(Debug, Clone, Default)]
pub struct DateFormat {
    pub format: Option<String>,
}

/// ISO forms tried in order when no format is given.
const ISO_FORMATS: [&str; 4] = [
    "%Y-%m-%d %H:%M:%S",
    "%Y-%m-%d %H:%M",
    "%Y-%m-%dT%H:%M:%S",
    "%Y-%m-%d %H:%M:%S%.f",
];

// TODO: a time zone for date-times without an offset; today they are read as UTC (and the
// imported tenant is in UTC), which keeps their calendar dates as written.
impl DateFormat {
    /// Microseconds since the epoch. Date-times without an offset are UTC; a bare date is
    /// midnight UTC.
    pub fn parse_micros(&self, text: &str) -> Result<i64, String> {
        let text = text.trim();
        let parsed = match &self.format {
            Some(format) => parse_with(text, format),
            None => parse_iso(text),
        };
        parsed.ok_or_else(|| match &self.format {
            Some(format) => format!("is not a date-time of the format {format:?}"),
            None => "is not a date-time (YYYY-MM-DD HH:MM:SS or RFC 3339)".into(),
        })
    }
}

fn parse_with(text: &str, format: &str) -> Option<i64> {
    let naive = NaiveDateTime::parse_from_str(text, format)
        .ok()
        .or_else(|| {
            NaiveDate::parse_from_str(text, format)
                .ok()
                .map(|d| d.and_time(Default::default()))
        });
    naive.map(|n| n.and_utc().timestamp_micros())
}

fn parse_iso(text: &str) -> Option<i64> {
    if let Ok(zoned) = DateTime::parse_from_rfc3339(text) {
        return Some(zoned.timestamp_micros());
    }
    ISO_FORMATS
        .iter()
        .find_map(|f| parse_with(text, f))
        .or_else(|| parse_with(text, "%Y-%m-%d"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[track_caller]
    fn price(text: &str) -> (i64, bool) {
        let p = unit_price(text).unwrap();
        (p.ten_thousandths, p.sub_cent)
    }

    #[test]
    fn prices_are_exact_to_a_ten_thousandth() {
        assert_eq!(price("2.55"), (25_500, false));
        assert_eq!(price("-11062.06"), (-110_620_600, false));
        assert_eq!(price("0.001"), (10, true));
        assert_eq!(price("1.2345"), (12_345, true));
        assert!(unit_price("1.23456").is_err());
        assert!(unit_price("2,55").is_err());
        assert!(unit_price("").is_err());
    }

    #[test]
    fn line_totals_round_half_away_from_zero_to_the_cent() {
        let at = |text| unit_price(text).unwrap();
        assert_eq!(line_total_cents(6, at("2.55")), Ok(1530));
        assert_eq!(line_total_cents(1, at("0.001")), Ok(0));
        assert_eq!(line_total_cents(5, at("0.001")), Ok(1));
        assert_eq!(line_total_cents(-5, at("0.001")), Ok(-1));
        assert_eq!(line_total_cents(-12, at("1.25")), Ok(-1500));
        assert_eq!(at("0.005").cents(), 1);
    }

    #[test]
    fn quantities_and_client_ids_are_whole() {
        assert_eq!(whole_number("-12"), Ok(-12));
        assert_eq!(whole_number("6.0"), Ok(6));
        assert!(whole_number("6.5").is_err());
        assert!(whole_number("six").is_err());
        assert_eq!(client_id("17850.0"), Ok(Some(17850)));
        assert_eq!(client_id(" "), Ok(None));
    }

    #[test]
    fn date_times_default_to_iso_and_utc() {
        let iso = DateFormat::default();
        assert_eq!(iso.parse_micros("1970-01-01 00:01:00"), Ok(60_000_000));
        assert_eq!(iso.parse_micros("1970-01-01T01:00:00+01:00"), Ok(0));
        assert_eq!(iso.parse_micros("1970-01-02"), Ok(86_400_000_000));
        assert!(iso.parse_micros("12/1/2010 8:26").is_err());

        let us = DateFormat {
            format: Some("%m/%d/%Y %H:%M".into()),
        };
        assert_eq!(us.parse_micros("1/2/1970 0:00"), Ok(86_400_000_000));
    }
}
