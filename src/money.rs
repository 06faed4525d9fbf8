//! Exact money: integer cents, parsed from decimal strings, numbers or Arrow decimals.

use std::fmt;

use serde::{Serialize, Serializer};

/// An amount of money in integer cents. Never binary floating point.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Cents(pub i64);

/// Why a text could not be read as money.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum MoneyError {
    #[error("{0:?} is not a decimal number")]
    NotANumber(String),
    #[error("{0:?} has more than 2 decimal places")]
    TooPrecise(String),
    #[error("{0:?} is too large")]
    Overflow(String),
}

impl Cents {
    pub const ZERO: Cents = Cents(0);

    /// Parses `"1000"`, `"1000.5"`, `"-3.25"` or `"1000.00"`; more than 2 decimals is refused.
    ///
    /// # Errors
    /// A text that is not a plain decimal, has more than 2 decimal places or does not fit.
    pub fn parse(text: &str) -> Result<Cents, MoneyError> {
        let trimmed = text.trim();
        let (negative, digits) = match trimmed.strip_prefix('-') {
            Some(rest) => (true, rest),
            None => (false, trimmed.strip_prefix('+').unwrap_or(trimmed)),
        };
        let (whole, frac) = digits.split_once('.').unwrap_or((digits, ""));
        let well_formed = !(whole.is_empty() && frac.is_empty())
            && whole.bytes().all(|b| b.is_ascii_digit())
            && frac.bytes().all(|b| b.is_ascii_digit());
        if !well_formed {
            return Err(MoneyError::NotANumber(text.to_string()));
        }
        let frac = frac.trim_end_matches('0');
        if frac.len() > 2 {
            return Err(MoneyError::TooPrecise(text.to_string()));
        }
        let overflow = || MoneyError::Overflow(text.to_string());
        let whole: i64 = if whole.is_empty() {
            0
        } else {
            whole.parse().map_err(|_| overflow())?
        };
        let frac_cents = format!("{frac:0<2}")
            .parse::<i64>()
            .map_err(|_| overflow())?;
        let cents = whole
            .checked_mul(100)
            .and_then(|c| c.checked_add(frac_cents));
        let cents = cents.ok_or_else(overflow)?;
        Ok(Cents(if negative { -cents } else { cents }))
    }

    /// Reads a JSON number exactly through its decimal text, so `0.1` is 10 cents.
    ///
    /// # Errors
    /// As [`Cents::parse`].
    pub fn from_json_number(number: &serde_json::Number) -> Result<Cents, MoneyError> {
        let text = number.to_string();
        if !text.contains(['e', 'E']) {
            return Cents::parse(&text);
        }
        // serde_json writes very large and very small floats with an exponent.
        let value = number.as_f64().unwrap_or(f64::INFINITY);
        if value.abs() >= 1e17 {
            return Err(MoneyError::Overflow(text));
        }
        Cents::parse(&format!("{value}"))
    }

    /// Converts an Arrow decimal value of the given scale, refusing lost precision.
    ///
    /// # Errors
    /// A value with non-zero digits past the second decimal place, or one that does not fit.
    pub fn from_decimal(value: i128, scale: i8) -> Result<Cents, MoneyError> {
        let shown = || format_decimal(value, scale);
        let cents = if scale <= 2 {
            let factor = 10i128.pow(u32::from((2 - scale) as u8));
            value
                .checked_mul(factor)
                .ok_or_else(|| MoneyError::Overflow(shown()))?
        } else {
            let factor = 10i128.pow(u32::from((scale - 2) as u8));
            if value % factor != 0 {
                return Err(MoneyError::TooPrecise(shown()));
            }
            value / factor
        };
        i64::try_from(cents)
            .map(Cents)
            .map_err(|_| MoneyError::Overflow(shown()))
    }

    /// Multiplies by a percentage given in hundredths of a percent (`1250` is 12.5 %),
    /// rounding half away from zero to the cent.
    pub fn percent_of(self, basis_points_hundredths: i64) -> Cents {
        let product = i128::from(self.0) * i128::from(basis_points_hundredths);
        Cents(div_round_half_away(product, 10_000) as i64)
    }

    pub fn checked_add(self, other: Cents) -> Option<Cents> {
        self.0.checked_add(other.0).map(Cents)
    }
}

/// Integer division rounding half away from zero.
pub fn div_round_half_away(numerator: i128, denominator: i128) -> i128 {
    debug_assert!(denominator > 0, "denominator must be positive");
    let quotient = numerator / denominator;
    let remainder = numerator % denominator;
    if remainder.abs() * 2 >= denominator {
        quotient + numerator.signum()
    } else {
        quotient
    }
}

fn format_decimal(value: i128, scale: i8) -> String {
    if scale <= 0 {
        return format!("{value}{}", "0".repeat(scale.unsigned_abs() as usize));
    }
    let digits = format!(
        "{:0>width$}",
        value.unsigned_abs(),
        width = scale as usize + 1
    );
    let (whole, frac) = digits.split_at(digits.len() - scale as usize);
    let sign = if value < 0 { "-" } else { "" };
    format!("{sign}{whole}.{frac}")
}

impl fmt::Display for Cents {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let sign = if self.0 < 0 { "-" } else { "" };
        let abs = self.0.unsigned_abs();
        write!(f, "{sign}{}.{:02}", abs / 100, abs % 100)
    }
}

impl Serialize for Cents {
    /// Money leaves the engine as a decimal string with exactly two places.
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_str(self)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[track_caller]
    fn check(text: &str, expected: Result<i64, MoneyError>) {
        assert_eq!(Cents::parse(text).map(|c| c.0), expected);
    }

    #[test]
    fn parses_equivalent_thresholds_alike() {
        check("1000", Ok(100_000));
        check("1000.0", Ok(100_000));
        check("1000.00", Ok(100_000));
        check(" 12.5 ", Ok(1_250));
        check("-0.01", Ok(-1));
        check(".5", Ok(50));
        check("1.230", Ok(123));
    }

    #[test]
    fn refuses_bad_money() {
        check("1.234", Err(MoneyError::TooPrecise("1.234".into())));
        check("12a", Err(MoneyError::NotANumber("12a".into())));
        check("", Err(MoneyError::NotANumber("".into())));
        check(".", Err(MoneyError::NotANumber(".".into())));
        check("1e3", Err(MoneyError::NotANumber("1e3".into())));
    }

    #[test]
    fn json_numbers_too_large_are_out_of_range_not_malformed() {
        let number = |text: &str| serde_json::from_str::<serde_json::Number>(text).unwrap();
        let read = |text: &str| Cents::from_json_number(&number(text));
        assert_eq!(read("12.5"), Ok(Cents(1_250)));
        assert_eq!(read("1.5e2"), Ok(Cents(15_000)));
        let huge = Err(MoneyError::Overflow("1e+23".into()));
        assert_eq!(read("99999999999999999999999"), huge);
        assert_eq!(
            read("1e-7"),
            Err(MoneyError::TooPrecise("0.0000001".into()))
        );
    }

    #[test]
    fn converts_decimals_of_any_scale() {
        assert_eq!(Cents::from_decimal(12345, 2), Ok(Cents(12345)));
        assert_eq!(Cents::from_decimal(123450, 3), Ok(Cents(12345)));
        assert_eq!(Cents::from_decimal(12, 0), Ok(Cents(1200)));
        assert_eq!(
            Cents::from_decimal(123451, 3),
            Err(MoneyError::TooPrecise("123.451".into()))
        );
    }

    #[test]
    fn percent_rounds_half_away_from_zero() {
        // 10.05 * 50 % = 5.025 -> 5.03; -10.05 * 50 % = -5.025 -> -5.03
        assert_eq!(Cents(1005).percent_of(5_000), Cents(503));
        assert_eq!(Cents(-1005).percent_of(5_000), Cents(-503));
        assert_eq!(Cents(1001).percent_of(5_000), Cents(501));
    }

    #[test]
    fn displays_two_places() {
        assert_eq!(Cents(-5).to_string(), "-0.05");
        assert_eq!(Cents(123_456).to_string(), "1234.56");
    }
}
