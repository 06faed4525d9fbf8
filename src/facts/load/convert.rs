//! Converting one input column, of whatever type the file holds, into its canonical Arrow
//! array. Parquet columns are converted value by value over their primitive buffers (never
//! through generic scalars); CSV columns arrive as text and are parsed here.

use std::path::Path;
use std::sync::Arc;

use arrow::array::{
    Array, ArrayRef, AsArray, BooleanBuilder, Date32Array, Float64Array, Int64Array, ListBuilder,
    PrimitiveArray, PrimitiveBuilder, StringArray, StringBuilder, TimestampMicrosecondArray,
};
use arrow::compute::cast;
use arrow::datatypes::{
    ArrowPrimitiveType, DataType, Date32Type, Date64Type, Decimal128Type, Decimal256Type,
    Int64Type, TimeUnit, TimestampMicrosecondType, TimestampMillisecondType,
    TimestampNanosecondType, TimestampSecondType, UInt64Type, i256,
};
use arrow::util::display::array_value_to_string;

use super::error::{LoadError, Result};
use super::spec::ValueKind;
use super::text;
use crate::facts::schema::{INVOICE_STATUSES, OrderStatus, tags_type};
use crate::money::{Cents, MoneyError};

const MICROS_PER_DAY: i64 = 86_400_000_000;

/// Where the values of one input column come from, for error messages.
#[derive(Debug, Clone, Copy)]
pub(super) struct Cells<'a> {
    pub file: &'a Path,
    pub column: &'a str,
    /// Rows of the file before the array's first value.
    pub rows_before: usize,
    /// CSV: text is parsed into every kind. Parquet: values must already have their type.
    pub parse_text: bool,
}

impl Cells<'_> {
    /// The 1-based data row of the value at `index`.
    pub fn row(&self, index: usize) -> usize {
        self.rows_before + index + 1
    }

    pub fn bad_value(&self, index: usize, value: &str, expected: &str) -> LoadError {
        LoadError::BadValue {
            file: self.file.to_path_buf(),
            column: self.column.to_string(),
            row: self.row(index),
            value: value.to_string(),
            expected: expected.to_string(),
        }
    }

    pub fn null_value(&self, index: usize) -> LoadError {
        LoadError::NullValue {
            file: self.file.to_path_buf(),
            column: self.column.to_string(),
            row: self.row(index),
        }
    }

    pub fn wrong_type(&self, found: &DataType, expected: &str) -> LoadError {
        LoadError::WrongType {
            file: self.file.to_path_buf(),
            column: self.column.to_string(),
            found: found.to_string(),
            expected: expected.to_string(),
        }
    }

    fn unknown_status(&self, index: usize, value: &str, expected: &str) -> LoadError {
        LoadError::UnknownStatus {
            file: self.file.to_path_buf(),
            column: self.column.to_string(),
            row: self.row(index),
            value: value.to_string(),
            expected: expected.to_string(),
        }
    }

    fn money_error(&self, index: usize, error: MoneyError) -> LoadError {
        match error {
            MoneyError::TooPrecise(value) => LoadError::TooPrecise {
                file: self.file.to_path_buf(),
                column: self.column.to_string(),
                row: self.row(index),
                value,
            },
            MoneyError::NotANumber(value) => self.bad_value(index, &value, MONEY),
            MoneyError::Overflow(value) => self.bad_value(index, &value, "an amount that fits"),
        }
    }

    fn arrow(&self, error: arrow::error::ArrowError) -> LoadError {
        LoadError::arrow(self.file, error)
    }
}

const MONEY: &str = "a decimal amount such as 12.50";
const INTEGER: &str = "an integer";
const TIMESTAMP: &str = "a timestamp (RFC 3339, `YYYY-MM-DD HH:MM:SS` or `YYYY-MM-DD`)";

/// Converts `array` to the canonical array of `kind`, keeping its nulls.
///
/// # Errors
/// A type that cannot hold `kind`, or a value that cannot be read as one.
pub(super) fn convert(array: &ArrayRef, kind: ValueKind, cells: &Cells) -> Result<ArrayRef> {
    let array = normalize(array, cells)?;
    if *array.data_type() == DataType::Utf8 && !cells.parse_text && !kind.is_text() {
        return Err(cells.wrong_type(&DataType::Utf8, expected_type(kind)));
    }
    match kind {
        ValueKind::Int => to_int(&array, cells),
        ValueKind::Text => to_text(&array, cells),
        ValueKind::AnyText => to_any_text(&array, cells),
        ValueKind::Float => to_float(&array, cells),
        ValueKind::Money => to_money(&array, cells),
        ValueKind::Timestamp => to_timestamp(&array, cells).map(|a| Arc::new(a) as ArrayRef),
        ValueKind::Date => to_date(&array, cells),
        ValueKind::Bool => to_bool(&array, cells),
        ValueKind::Tags => to_tags(&array, cells),
        ValueKind::OrderStatus => to_order_status(&array, cells),
        ValueKind::InvoiceStatus => to_invoice_status(&array, cells),
    }
}

/// How a kind is named in a wrong-type error.
fn expected_type(kind: ValueKind) -> &'static str {
    match kind {
        ValueKind::Int => "an integer type",
        ValueKind::Text | ValueKind::AnyText => "text (Utf8)",
        ValueKind::Float => "a floating-point type",
        ValueKind::Money => "a decimal type (e.g. Decimal128(18,2))",
        ValueKind::Timestamp => "a timestamp or date type",
        ValueKind::Date => "Date32",
        ValueKind::Bool => "Boolean",
        ValueKind::Tags => "a list of text",
        ValueKind::OrderStatus | ValueKind::InvoiceStatus => "text (Utf8)",
    }
}

/// Unpacks dictionaries and brings every string type to `Utf8` and every decimal to
/// `Decimal128`, so the converters see few types.
fn normalize(array: &ArrayRef, cells: &Cells) -> Result<ArrayRef> {
    let target = match array.data_type() {
        DataType::Dictionary(_, value) => value.as_ref().clone(),
        DataType::LargeUtf8 | DataType::Utf8View => DataType::Utf8,
        DataType::Decimal32(_, scale) | DataType::Decimal64(_, scale) => {
            DataType::Decimal128(38, *scale)
        }
        _ => return Ok(array.clone()),
    };
    let cast = cast(array, &target).map_err(|e| cells.arrow(e))?;
    normalize(&cast, cells)
}

/// Maps the valid values of a primitive array one by one; nulls stay null.
fn map_values<I, O>(
    array: &PrimitiveArray<I>,
    mut f: impl FnMut(usize, I::Native) -> Result<O::Native>,
) -> Result<PrimitiveArray<O>>
where
    I: ArrowPrimitiveType,
    O: ArrowPrimitiveType,
{
    let nulls = array.nulls();
    let mut values = Vec::with_capacity(array.len());
    for (index, &value) in array.values().iter().enumerate() {
        let valid = nulls.is_none_or(|n| n.is_valid(index));
        values.push(if valid {
            f(index, value)?
        } else {
            O::Native::default()
        });
    }
    Ok(PrimitiveArray::new(values.into(), nulls.cloned()))
}

/// Parses the non-null texts of a string array; nulls stay null.
fn parse_texts<O: ArrowPrimitiveType>(
    array: &StringArray,
    mut parse: impl FnMut(usize, &str) -> Result<O::Native>,
) -> Result<PrimitiveArray<O>> {
    let mut builder = PrimitiveBuilder::<O>::with_capacity(array.len());
    for (index, value) in array.iter().enumerate() {
        match value {
            Some(text) => builder.append_value(parse(index, text)?),
            None => builder.append_null(),
        }
    }
    Ok(builder.finish())
}

fn to_int(array: &ArrayRef, cells: &Cells) -> Result<ArrayRef> {
    let converted: Int64Array = match array.data_type() {
        DataType::Int64 => return Ok(array.clone()),
        DataType::Int8
        | DataType::Int16
        | DataType::Int32
        | DataType::UInt8
        | DataType::UInt16
        | DataType::UInt32 => return cast(array, &DataType::Int64).map_err(|e| cells.arrow(e)),
        DataType::UInt64 => map_values(array.as_primitive::<UInt64Type>(), |index, value| {
            i64::try_from(value)
                .map_err(|_| cells.bad_value(index, &value.to_string(), "an integer that fits"))
        })?,
        DataType::Utf8 => parse_texts(array.as_string::<i32>(), |index, value| {
            text::parse_int(value).ok_or_else(|| cells.bad_value(index, value, INTEGER))
        })?,
        other => return Err(cells.wrong_type(other, expected_type(ValueKind::Int))),
    };
    Ok(Arc::new(converted))
}

fn to_text(array: &ArrayRef, cells: &Cells) -> Result<ArrayRef> {
    match array.data_type() {
        DataType::Utf8 => Ok(array.clone()),
        other => Err(cells.wrong_type(other, expected_type(ValueKind::Text))),
    }
}

/// Any type Arrow can show as text; used for custom fields whose parts disagree on a type.
fn to_any_text(array: &ArrayRef, cells: &Cells) -> Result<ArrayRef> {
    cast(array, &DataType::Utf8)
        .map_err(|_| cells.wrong_type(array.data_type(), "a type that can be shown as text"))
}

fn to_float(array: &ArrayRef, cells: &Cells) -> Result<ArrayRef> {
    match array.data_type() {
        DataType::Utf8 => {
            let floats: Float64Array = parse_texts(array.as_string::<i32>(), |index, value| {
                text::parse_float(value).ok_or_else(|| cells.bad_value(index, value, "a number"))
            })?;
            Ok(Arc::new(floats))
        }
        numeric if numeric.is_floating() || numeric.is_integer() => {
            cast(array, &DataType::Float64).map_err(|e| cells.arrow(e))
        }
        other => Err(cells.wrong_type(other, expected_type(ValueKind::Float))),
    }
}

fn to_money(array: &ArrayRef, cells: &Cells) -> Result<ArrayRef> {
    let cents: Int64Array = match array.data_type() {
        DataType::Decimal128(_, scale) => decimal128_cents(array, *scale, cells)?,
        DataType::Decimal256(_, scale) => decimal256_cents(array, *scale, cells)?,
        DataType::Utf8 => parse_texts(array.as_string::<i32>(), |index, value| {
            Cents::parse(value)
                .map(|c| c.0)
                .map_err(|e| cells.money_error(index, e))
        })?,
        whole if whole.is_integer() => {
            let whole = to_int(array, cells)?;
            map_values(whole.as_primitive::<Int64Type>(), |index, value| {
                value.checked_mul(100).ok_or_else(|| {
                    cells.bad_value(index, &value.to_string(), "an amount that fits")
                })
            })?
        }
        float if float.is_floating() => {
            return Err(LoadError::FloatMoney {
                file: cells.file.to_path_buf(),
                column: cells.column.to_string(),
                found: float.to_string(),
            });
        }
        other => return Err(cells.wrong_type(other, expected_type(ValueKind::Money))),
    };
    Ok(Arc::new(cents))
}

/// Decimal128 values at any scale. The common scales take a fast path per value; anything
/// unusual goes through [`Cents::from_decimal`], which also words the errors.
fn decimal128_cents(array: &ArrayRef, scale: i8, cells: &Cells) -> Result<Int64Array> {
    let decimals = array.as_primitive::<Decimal128Type>();
    let exact = |index: usize, value: i128| {
        let cents = Cents::from_decimal(value, scale);
        cents.map(|c| c.0).map_err(|e| cells.money_error(index, e))
    };
    match scale {
        2 => map_values(decimals, |index, value| {
            i64::try_from(value).or_else(|_| exact(index, value))
        }),
        3..=20 => {
            let factor = 10i128.pow(u32::from(scale.unsigned_abs() - 2));
            map_values(decimals, |index, value| match value % factor {
                0 => i64::try_from(value / factor).or_else(|_| exact(index, value)),
                _ => exact(index, value),
            })
        }
        _ => map_values(decimals, exact),
    }
}

/// Decimal256 values, first brought down to scale 2 in 256 bits so that nothing overflows
/// before the check that they fit.
fn decimal256_cents(array: &ArrayRef, scale: i8, cells: &Cells) -> Result<Int64Array> {
    let decimals = array.as_primitive::<Decimal256Type>();
    let factor = i256::from_i128(10).wrapping_pow(u32::from(scale.max(2).abs_diff(2)));
    let shown = |index: usize| array_value_to_string(array, index).unwrap_or_default();
    map_values(decimals, |index, value| {
        let (value, scale) = if scale > 2 {
            if value.wrapping_rem(factor) != i256::ZERO {
                return Err(cells.money_error(index, MoneyError::TooPrecise(shown(index))));
            }
            (value.wrapping_div(factor), 2)
        } else {
            (value, scale)
        };
        let overflow = || cells.money_error(index, MoneyError::Overflow(shown(index)));
        let value = value.to_i128().ok_or_else(overflow)?;
        Cents::from_decimal(value, scale)
            .map(|c| c.0)
            .map_err(|_| overflow())
    })
}

/// Microseconds since the epoch, UTC, from any timestamp unit, a date or text.
fn to_timestamp(array: &ArrayRef, cells: &Cells) -> Result<TimestampMicrosecondArray> {
    let out_of_range = |index: usize| {
        let shown = array_value_to_string(array, index).unwrap_or_default();
        cells.bad_value(index, &shown, "a timestamp in range")
    };
    let scale = |index: usize, value: i64, factor: i64| {
        value.checked_mul(factor).ok_or_else(|| out_of_range(index))
    };
    let micros: PrimitiveArray<TimestampMicrosecondType> = match array.data_type() {
        DataType::Timestamp(TimeUnit::Second, _) => {
            map_values(array.as_primitive::<TimestampSecondType>(), |i, v| {
                scale(i, v, 1_000_000)
            })?
        }
        DataType::Timestamp(TimeUnit::Millisecond, _) => {
            map_values(array.as_primitive::<TimestampMillisecondType>(), |i, v| {
                scale(i, v, 1_000)
            })?
        }
        DataType::Timestamp(TimeUnit::Microsecond, _) => {
            array.as_primitive::<TimestampMicrosecondType>().clone()
        }
        DataType::Timestamp(TimeUnit::Nanosecond, _) => {
            map_values(array.as_primitive::<TimestampNanosecondType>(), |_, v| {
                Ok(v.div_euclid(1_000))
            })?
        }
        DataType::Date32 => map_values(array.as_primitive::<Date32Type>(), |_, days| {
            Ok(i64::from(days) * MICROS_PER_DAY)
        })?,
        DataType::Date64 => map_values(array.as_primitive::<Date64Type>(), |i, v| {
            scale(i, v, 1_000)
        })?,
        DataType::Utf8 => parse_texts(array.as_string::<i32>(), |index, value| {
            text::parse_timestamp_micros(value)
                .ok_or_else(|| cells.bad_value(index, value, TIMESTAMP))
        })?,
        other => return Err(cells.wrong_type(other, expected_type(ValueKind::Timestamp))),
    };
    Ok(micros.with_timezone("UTC"))
}

/// Days since the epoch from a date, a timestamp (its UTC date) or `YYYY-MM-DD` text.
fn to_date(array: &ArrayRef, cells: &Cells) -> Result<ArrayRef> {
    let days: Date32Array = match array.data_type() {
        DataType::Date32 => return Ok(array.clone()),
        DataType::Utf8 => parse_texts(array.as_string::<i32>(), |index, value| {
            let date = text::parse_date(value);
            date.map(Date32Type::from_naive_date)
                .ok_or_else(|| cells.bad_value(index, value, "a date `YYYY-MM-DD`"))
        })?,
        DataType::Date64 | DataType::Timestamp(_, _) => {
            let micros = to_timestamp(array, cells)?;
            map_values(&micros, |index, value| {
                i32::try_from(value.div_euclid(MICROS_PER_DAY))
                    .map_err(|_| cells.bad_value(index, &value.to_string(), "a date in range"))
            })?
        }
        other => return Err(cells.wrong_type(other, expected_type(ValueKind::Date))),
    };
    Ok(Arc::new(days))
}

fn to_bool(array: &ArrayRef, cells: &Cells) -> Result<ArrayRef> {
    match array.data_type() {
        DataType::Boolean => Ok(array.clone()),
        DataType::Utf8 => {
            let texts = array.as_string::<i32>();
            let mut builder = BooleanBuilder::with_capacity(texts.len());
            for (index, value) in texts.iter().enumerate() {
                let parsed = value.map(|v| {
                    text::parse_bool(v).ok_or_else(|| cells.bad_value(index, v, "true or false"))
                });
                builder.append_option(parsed.transpose()?);
            }
            Ok(Arc::new(builder.finish()))
        }
        other => Err(cells.wrong_type(other, expected_type(ValueKind::Bool))),
    }
}

/// A list of strings as canonical `List<Utf8>`; CSV text split on `;`.
fn to_tags(array: &ArrayRef, cells: &Cells) -> Result<ArrayRef> {
    match array.data_type() {
        DataType::Utf8 => Ok(Arc::new(split_tag_lists(array.as_string::<i32>()))),
        DataType::List(item) | DataType::LargeList(item) if is_string_type(item.data_type()) => {
            cast(array, &tags_type()).map_err(|e| cells.arrow(e))
        }
        other => Err(cells.wrong_type(other, expected_type(ValueKind::Tags))),
    }
}

fn is_string_type(data_type: &DataType) -> bool {
    match data_type {
        DataType::Utf8 | DataType::LargeUtf8 | DataType::Utf8View => true,
        DataType::Dictionary(_, value) => is_string_type(value),
        _ => false,
    }
}

fn split_tag_lists(texts: &StringArray) -> arrow::array::ListArray {
    let mut builder = ListBuilder::with_capacity(StringBuilder::new(), texts.len());
    for value in texts.iter() {
        match value {
            Some(text) => {
                text::split_tags(text).for_each(|tag| builder.values().append_value(tag));
                builder.append(true);
            }
            None => builder.append(false),
        }
    }
    builder.finish()
}

fn to_order_status(array: &ArrayRef, cells: &Cells) -> Result<ArrayRef> {
    let expected = "completed, cancelled, refunded, open";
    map_statuses(array, cells, expected, |value| {
        let exact = OrderStatus::ALL.into_iter().find(|s| s.as_str() == value);
        exact
            .or_else(|| OrderStatus::parse(value))
            .map(OrderStatus::as_str)
    })
}

fn to_invoice_status(array: &ArrayRef, cells: &Cells) -> Result<ArrayRef> {
    let expected = INVOICE_STATUSES.join(", ");
    map_statuses(array, cells, &expected, |value| {
        let folded = value.trim().to_lowercase();
        INVOICE_STATUSES.into_iter().find(|s| *s == folded)
    })
}

/// Maps each status text to its canonical spelling.
fn map_statuses(
    array: &ArrayRef,
    cells: &Cells,
    expected: &str,
    canonical: impl Fn(&str) -> Option<&'static str>,
) -> Result<ArrayRef> {
    let DataType::Utf8 = array.data_type() else {
        return Err(cells.wrong_type(array.data_type(), "text (Utf8)"));
    };
    let texts = array.as_string::<i32>();
    let mut builder = StringBuilder::with_capacity(texts.len(), texts.len() * 8);
    for (index, value) in texts.iter().enumerate() {
        let status = value
            .map(|v| canonical(v).ok_or_else(|| cells.unknown_status(index, v, expected)))
            .transpose()?;
        builder.append_option(status);
    }
    Ok(Arc::new(builder.finish()))
}

/// A zero-filled copy of an `Int64` array: nulls become 0.
pub(super) fn nulls_to_zero(array: &ArrayRef) -> ArrayRef {
    let values = array.as_primitive::<Int64Type>();
    Arc::new(Int64Array::from_iter_values(
        values.iter().map(|v| v.unwrap_or(0)),
    ))
}

/// The index of the first null, if any.
pub(super) fn first_null(array: &dyn Array) -> Option<usize> {
    array
        .nulls()
        .and_then(|nulls| (0..array.len()).find(|&index| nulls.is_null(index)))
}
