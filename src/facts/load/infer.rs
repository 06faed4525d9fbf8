//! Deciding the kind of each client custom field: from the Parquet type, or inferred from
//! the values of a CSV column; parts that disagree settle on a kind that holds both.

use arrow::array::{AsArray, StringArray};
use arrow::datatypes::{DataType, Field};
use tracing::warn;

use super::part::OpenPart;
use super::spec::TableSpec;
use super::text;
use crate::facts::schema::{CustomField, CustomKind};

/// Name endings that make a numeric CSV column money rather than a number.
const MONEY_SUFFIXES: [&str; 4] = ["_amount", "_price", "_balance", "_revenue"];

/// Every column beyond the contract, in order of first appearance across `parts`.
/// A column empty in every part is `Text`.
pub(super) fn custom_fields(parts: &[OpenPart], spec: &TableSpec) -> Vec<CustomField> {
    let mut found: Vec<(String, Option<CustomKind>)> = Vec::new();
    for part in parts {
        for field in part
            .schema
            .fields()
            .iter()
            .filter(|f| spec.is_custom(f.name()))
        {
            let Some(evidence) = part_evidence(part, field) else {
                continue;
            };
            match found.iter_mut().find(|(name, _)| name == field.name()) {
                Some((_, kind)) => *kind = widen(*kind, evidence),
                None => found.push((field.name().clone(), evidence)),
            }
        }
    }
    let field = |(name, kind): (String, Option<CustomKind>)| CustomField {
        name,
        kind: kind.unwrap_or(CustomKind::Text),
    };
    found.into_iter().map(field).collect()
}

/// What one part says about a column: `Some(None)` for a CSV column with no values, `None`
/// for a Parquet type no custom field can hold (the column is ignored).
fn part_evidence(part: &OpenPart, field: &Field) -> Option<Option<CustomKind>> {
    if let Some(texts) = part.csv_column(field.name()) {
        return Some(infer_from_text(field.name(), texts.as_string::<i32>()));
    }
    let kind = kind_of_type(field.data_type());
    if kind.is_none() {
        let (file, column) = (part.path.display(), field.name());
        warn!(%file, column, data_type = %field.data_type(), "custom field of unsupported type ignored");
    }
    kind.map(Some)
}

/// The kind a Parquet column type gives a custom field.
pub(super) fn kind_of_type(data_type: &DataType) -> Option<CustomKind> {
    match data_type {
        DataType::Utf8 | DataType::LargeUtf8 | DataType::Utf8View => Some(CustomKind::Text),
        DataType::Dictionary(_, value) => kind_of_type(value),
        integer if integer.is_integer() => Some(CustomKind::Integer),
        float if float.is_floating() => Some(CustomKind::Float),
        DataType::Decimal32(..)
        | DataType::Decimal64(..)
        | DataType::Decimal128(..)
        | DataType::Decimal256(..) => Some(CustomKind::Money),
        DataType::Boolean => Some(CustomKind::Boolean),
        DataType::Date32 | DataType::Date64 => Some(CustomKind::Date),
        DataType::Timestamp(..) => Some(CustomKind::Timestamp),
        _ => None,
    }
}

/// The narrowest kind that holds both; `None` is a column with no values yet.
fn widen(a: Option<CustomKind>, b: Option<CustomKind>) -> Option<CustomKind> {
    use CustomKind::*;
    let (Some(a), Some(b)) = (a, b) else {
        return a.or(b);
    };
    Some(match (a, b) {
        _ if a == b => a,
        (Integer, Float) | (Float, Integer) => Float,
        (Integer, Money) | (Money, Integer) => Money,
        (Date, Timestamp) | (Timestamp, Date) => Timestamp,
        _ => Text,
    })
}

/// Which kinds every value seen so far fits.
struct Candidates {
    boolean: bool,
    integer: bool,
    number: bool,
    cents: bool,
    date: bool,
    timestamp: bool,
}

impl Candidates {
    fn observe(&mut self, value: &str) {
        let integer = text::is_plain_integer(value);
        self.boolean &= text::is_bool_word(value);
        self.integer &= integer;
        self.number &= integer || text::is_plain_decimal(value);
        self.cents &= text::decimal_places(value) <= 2;
        self.date = self.date && text::parse_plain_date(value).is_some();
        self.timestamp = self.timestamp && text::parse_timestamp_micros(value).is_some();
    }

    fn any(&self) -> bool {
        self.boolean || self.number || self.date || self.timestamp
    }
}

/// Infers a CSV custom field's kind from its non-empty values; `None` when it has none.
pub(super) fn infer_from_text(name: &str, texts: &StringArray) -> Option<CustomKind> {
    let mut seen = false;
    let mut fits = Candidates {
        boolean: true,
        integer: true,
        number: true,
        cents: true,
        date: true,
        timestamp: true,
    };
    for value in texts
        .iter()
        .flatten()
        .map(str::trim)
        .filter(|v| !v.is_empty())
    {
        seen = true;
        fits.observe(value);
        if !fits.any() {
            break;
        }
    }
    seen.then(|| kind_of(name, &fits))
}

fn kind_of(name: &str, fits: &Candidates) -> CustomKind {
    let lower = name.to_ascii_lowercase();
    let money_named = MONEY_SUFFIXES.iter().any(|suffix| lower.ends_with(suffix));
    if fits.boolean {
        CustomKind::Boolean
    } else if fits.number && money_named {
        CustomKind::Money
    } else if fits.integer {
        CustomKind::Integer
    } else if fits.number {
        CustomKind::Float
    } else if fits.date {
        CustomKind::Date
    } else if fits.timestamp {
        CustomKind::Timestamp
    } else {
        CustomKind::Text
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[track_caller]
    fn check(name: &str, values: &[Option<&str>], expected: Option<CustomKind>) {
        let texts = StringArray::from(values.to_vec());
        assert_eq!(
            infer_from_text(name, &texts),
            expected,
            "{name}: {values:?}"
        );
    }

    #[test]
    fn infers_kinds_from_csv_values() {
        use CustomKind::*;
        check("vip", &[Some("TRUE"), Some("false"), None], Some(Boolean));
        check("seats", &[Some("12"), Some("-3"), Some("0")], Some(Integer));
        check("zip", &[Some("01234"), Some("12345")], Some(Text));
        check("score", &[Some("1.5"), Some("2")], Some(Float));
        check("credit_balance", &[Some("10.50"), Some("3")], Some(Money));
        check("unit_PRICE", &[Some("7")], Some(Money));
        // Money by name even with a third decimal: the load then refuses the value by row.
        check("fee_amount", &[Some("1.125")], Some(Money));
        check(
            "birthday",
            &[Some("1990-02-28"), Some(" 2001-12-01 ")],
            Some(Date),
        );
        check(
            "seen",
            &[Some("2024-01-01T10:00:00Z"), Some("2024-01-02")],
            Some(Timestamp),
        );
        check("note", &[Some("12"), Some("twelve")], Some(Text));
        check("flag", &[Some("1"), Some("0")], Some(Integer));
        check("empty", &[None, Some("  ")], None);
    }

    #[test]
    fn widens_disagreeing_parts() {
        use CustomKind::*;
        assert_eq!(widen(Some(Integer), Some(Float)), Some(Float));
        assert_eq!(widen(Some(Money), Some(Integer)), Some(Money));
        assert_eq!(widen(Some(Date), Some(Timestamp)), Some(Timestamp));
        assert_eq!(widen(Some(Boolean), Some(Integer)), Some(Text));
        assert_eq!(widen(None, Some(Date)), Some(Date));
    }
}
