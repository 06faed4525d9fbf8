//! The second reading step: each raw condition becomes a typed [`Condition`] for the tenant.

use chrono::NaiveDate;
use serde_json::Value;

use super::error::describe;
use super::raw::{RawCondition, RawNode};
use super::{
    CompareOp, Condition, DAYS_MAX, DateField, DateTest, DateValue, GroupOp, MONTHS_MAX, Number,
    NumberField, NumberTest, ProductRef, RuleError, RuleNode, Span, Test, TextField, TextTest,
    Warning, normalize_text,
};
use crate::facts::{CustomField, CustomKind};
use crate::money::{Cents, MoneyError};

const FIELDS: &str = "client_type, country, city, created_at, total_revenue, \
    average_order_value, outstanding_balance, lifetime_orders, last_purchase_date, \
    purchased_product, tag, segment, revenue_rank, custom.<column>";

pub(super) fn validate(
    raw: &RawNode,
    custom: &[CustomField],
    warnings: &mut Vec<Warning>,
) -> Result<RuleNode, RuleError> {
    match raw {
        RawNode::Group { path, op, children } => {
            if children.is_empty() {
                warnings.push(empty_group_warning(path, *op));
            }
            let children = children
                .iter()
                .map(|child| validate(child, custom, warnings))
                .collect::<Result<_, _>>()?;
            Ok(RuleNode::Group {
                path: path.clone(),
                op: *op,
                children,
            })
        }
        RawNode::Condition(raw) => {
            let condition = validate_condition(raw, custom, warnings)?;
            Ok(RuleNode::Condition(condition))
        }
    }
}

fn empty_group_warning(path: &str, op: GroupOp) -> Warning {
    let meaning = match op {
        GroupOp::All | GroupOp::None => "matches every client",
        GroupOp::Any => "matches nobody",
    };
    Warning {
        path: path.to_string(),
        message: format!("empty \"{}\" group {meaning}", op.key()),
    }
}

/// What a field is, which decides the ops and values it takes.
enum FieldKind {
    Text(TextField),
    Date(DateField),
    Money(NumberField),
    Count(NumberField),
    Float(String),
    Flag(String),
    Product,
    Tag,
    Segment,
    RevenueRank,
}

impl FieldKind {
    fn ops(&self) -> &'static [&'static str] {
        match self {
            FieldKind::Text(_) => &["is", "is_not", "in", "not_in", "is_empty", "is_not_empty"],
            FieldKind::Date(_) => &[
                "before",
                "after",
                "on",
                "between",
                "within_last",
                "not_within_last",
            ],
            FieldKind::Money(_) | FieldKind::Count(_) | FieldKind::Float(_) => {
                &["gt", "gte", "lt", "lte", "eq", "between"]
            }
            FieldKind::Flag(_) => &["is"],
            FieldKind::Product | FieldKind::Segment => &["is", "is_not"],
            FieldKind::Tag => &["has", "has_not"],
            FieldKind::RevenueRank => &["top"],
        }
    }
}

fn field_kind(field: &str, custom: &[CustomField], path: &str) -> Result<FieldKind, RuleError> {
    let kind = match field {
        "client_type" => FieldKind::Text(TextField::ClientType),
        "country" => FieldKind::Text(TextField::Country),
        "city" => FieldKind::Text(TextField::City),
        "created_at" => FieldKind::Date(DateField::CreatedAt),
        "last_purchase_date" => FieldKind::Date(DateField::LastPurchase),
        "total_revenue" => FieldKind::Money(NumberField::TotalRevenue),
        "average_order_value" => FieldKind::Money(NumberField::AverageOrderValue),
        "outstanding_balance" => FieldKind::Money(NumberField::OutstandingBalance),
        "lifetime_orders" => FieldKind::Count(NumberField::LifetimeOrders),
        "purchased_product" => FieldKind::Product,
        "tag" => FieldKind::Tag,
        "segment" => FieldKind::Segment,
        "revenue_rank" => FieldKind::RevenueRank,
        _ => match field.strip_prefix("custom.") {
            Some(name) => custom_kind(name, custom, path)?,
            None => {
                return Err(RuleError::UnknownField {
                    path: format!("{path}.field"),
                    field: field.to_string(),
                    expected: FIELDS.to_string(),
                });
            }
        },
    };
    Ok(kind)
}

fn custom_kind(name: &str, custom: &[CustomField], path: &str) -> Result<FieldKind, RuleError> {
    let Some(field) = custom.iter().find(|f| f.name == name) else {
        let known: Vec<String> = custom
            .iter()
            .map(|f| format!("custom.{}", f.name))
            .collect();
        let known = if known.is_empty() {
            "no custom fields".into()
        } else {
            known.join(", ")
        };
        return Err(RuleError::UnknownCustomField {
            path: format!("{path}.field"),
            name: name.to_string(),
            known,
        });
    };
    let name = name.to_string();
    Ok(match field.kind {
        CustomKind::Text => FieldKind::Text(TextField::Custom(name)),
        CustomKind::Integer => FieldKind::Count(NumberField::Custom(name)),
        CustomKind::Money => FieldKind::Money(NumberField::Custom(name)),
        CustomKind::Float => FieldKind::Float(name),
        CustomKind::Boolean => FieldKind::Flag(name),
        CustomKind::Date | CustomKind::Timestamp => FieldKind::Date(DateField::Custom(name)),
    })
}

fn validate_condition(
    raw: &RawCondition,
    custom: &[CustomField],
    warnings: &mut Vec<Warning>,
) -> Result<Condition, RuleError> {
    let kind = field_kind(&raw.field, custom, &raw.path)?;
    let op = raw.op.as_str();
    if !kind.ops().contains(&op) {
        return Err(RuleError::UnknownOp {
            path: format!("{}.op", raw.path),
            op: raw.op.clone(),
            field: raw.field.clone(),
            expected: kind.ops().join(", "),
        });
    }
    let value = ValueReader {
        path: format!("{}.value", raw.path),
        value: raw.value.as_ref(),
    };
    let negated = matches!(
        op,
        "is_not" | "not_in" | "is_not_empty" | "has_not" | "not_within_last"
    );
    let test = read_test(kind, op, &value, raw, warnings)?;
    Ok(Condition {
        path: raw.path.clone(),
        negated,
        test,
    })
}

fn read_test(
    kind: FieldKind,
    op: &str,
    value: &ValueReader<'_>,
    raw: &RawCondition,
    warnings: &mut Vec<Warning>,
) -> Result<Test, RuleError> {
    Ok(match kind {
        FieldKind::Text(field) => Test::Text {
            field,
            test: text_test(op, value, raw, warnings)?,
        },
        FieldKind::Date(field) => Test::Date {
            field,
            test: date_test(op, value)?,
        },
        FieldKind::Money(field) => Test::Number {
            field,
            test: number_test(op, value, money)?,
        },
        FieldKind::Count(field) => Test::Number {
            field,
            test: number_test(op, value, count)?,
        },
        FieldKind::Float(name) => Test::Number {
            field: NumberField::Custom(name),
            test: number_test(op, value, float)?,
        },
        FieldKind::Flag(field) => Test::Flag {
            field,
            value: value.boolean()?,
        },
        FieldKind::Product => Test::Product(value.product()?),
        FieldKind::Tag => Test::Tag(value.text()?),
        FieldKind::Segment => Test::Segment(value.integer()?),
        FieldKind::RevenueRank => Test::RevenueTop(value.non_negative()?.into()),
    })
}

fn text_test(
    op: &str,
    value: &ValueReader<'_>,
    raw: &RawCondition,
    warnings: &mut Vec<Warning>,
) -> Result<TextTest, RuleError> {
    Ok(match op {
        "is" | "is_not" => TextTest::Equals(value.text()?),
        "in" | "not_in" => {
            let items = value.text_list()?;
            if items.is_empty() {
                let meaning = if op == "in" { "nobody" } else { "every client" };
                let message = format!("\"{op}\" with an empty list matches {meaning}");
                warnings.push(Warning {
                    path: raw.path.clone(),
                    message,
                });
            }
            TextTest::OneOf(items)
        }
        _ => {
            value.nothing()?;
            TextTest::Empty
        }
    })
}

fn date_test(op: &str, value: &ValueReader<'_>) -> Result<DateTest, RuleError> {
    Ok(match op {
        "before" => DateTest::Before(value.date()?),
        "after" => DateTest::After(value.date()?),
        "on" => DateTest::On(value.date()?),
        "between" => {
            let [low, high] = value.pair()?;
            let (low, high) = (low.date()?, high.date()?);
            if let (DateValue::Fixed(l), DateValue::Fixed(h)) = (low, high) {
                value.ordered(l <= h)?;
            }
            DateTest::Between(low, high)
        }
        _ => DateTest::WithinLast(value.span()?),
    })
}

type NumberReader = fn(&ValueReader<'_>) -> Result<Number, RuleError>;

fn number_test(
    op: &str,
    value: &ValueReader<'_>,
    read: NumberReader,
) -> Result<NumberTest, RuleError> {
    let compare = match op {
        "gt" => CompareOp::Gt,
        "gte" => CompareOp::Gte,
        "lt" => CompareOp::Lt,
        "lte" => CompareOp::Lte,
        "eq" => CompareOp::Eq,
        _ => {
            let [low, high] = value.pair()?;
            let (low, high) = (read(&low)?, read(&high)?);
            value.ordered(number_le(low, high))?;
            return Ok(NumberTest::Between(low, high));
        }
    };
    Ok(NumberTest::Compare(compare, read(value)?))
}

fn number_le(low: Number, high: Number) -> bool {
    match (low, high) {
        (Number::Int(l), Number::Int(h)) => l <= h,
        (Number::Float(l), Number::Float(h)) => l <= h,
        _ => true,
    }
}

fn money(value: &ValueReader<'_>) -> Result<Number, RuleError> {
    value.money().map(|c| Number::Int(c.0))
}

fn count(value: &ValueReader<'_>) -> Result<Number, RuleError> {
    value.integer().map(Number::Int)
}

fn float(value: &ValueReader<'_>) -> Result<Number, RuleError> {
    value.float().map(Number::Float)
}

/// Reads a condition's value, naming its path in every error.
struct ValueReader<'a> {
    path: String,
    value: Option<&'a Value>,
}

impl<'a> ValueReader<'a> {
    fn wrong(&self, expected: &str) -> RuleError {
        let found = self.value.map_or_else(|| "no value".to_string(), describe);
        RuleError::WrongValue {
            path: self.path.clone(),
            expected: expected.into(),
            found,
        }
    }

    fn string(&self) -> Result<String, RuleError> {
        match self.value {
            Some(Value::String(s)) => Ok(s.clone()),
            _ => Err(self.wrong("a string")),
        }
    }

    /// A text to compare with: blank text is refused, since no value equals it after
    /// trimming; `is_empty` is the way to ask for missing or blank values.
    fn text(&self) -> Result<String, RuleError> {
        let text = normalize_text(&self.string()?);
        if text.is_empty() {
            return Err(self.wrong("a non-blank text (use is_empty for missing or blank values)"));
        }
        Ok(text)
    }

    fn text_list(&self) -> Result<Vec<String>, RuleError> {
        let Some(Value::Array(items)) = self.value else {
            return Err(self.wrong("a list of strings"));
        };
        items
            .iter()
            .enumerate()
            .map(|(i, item)| self.item(i, item).text())
            .collect()
    }

    fn item(&self, index: usize, value: &'a Value) -> ValueReader<'a> {
        ValueReader {
            path: format!("{}[{index}]", self.path),
            value: Some(value),
        }
    }

    fn nothing(&self) -> Result<(), RuleError> {
        match self.value {
            None | Some(Value::Bool(true)) => Ok(()),
            Some(Value::String(s)) if s.is_empty() => Ok(()),
            Some(_) => Err(self.wrong("no value")),
        }
    }

    fn boolean(&self) -> Result<bool, RuleError> {
        match self.value {
            Some(Value::Bool(b)) => Ok(*b),
            _ => Err(self.wrong("true or false")),
        }
    }

    fn integer(&self) -> Result<i64, RuleError> {
        match self.value {
            Some(Value::Number(n)) => n.as_i64().ok_or_else(|| self.wrong("a whole number")),
            Some(Value::String(s)) => s.trim().parse().map_err(|_| self.wrong("a whole number")),
            _ => Err(self.wrong("a whole number")),
        }
    }

    fn non_negative(&self) -> Result<u32, RuleError> {
        let n = self.integer()?;
        u32::try_from(n).map_err(|_| self.wrong("a whole number from 0 to 4294967295"))
    }

    fn float(&self) -> Result<f64, RuleError> {
        match self.value {
            Some(Value::Number(n)) => n.as_f64().ok_or_else(|| self.wrong("a number")),
            Some(Value::String(s)) => s.trim().parse().map_err(|_| self.wrong("a number")),
            _ => Err(self.wrong("a number")),
        }
    }

    fn money(&self) -> Result<Cents, RuleError> {
        const AMOUNT_IN_RANGE: &str = "an amount of at most 92233720368547758.07 either way";
        let parsed = match self.value {
            Some(Value::Number(n)) => Cents::from_json_number(n),
            Some(Value::String(s)) => Cents::parse(s),
            _ => return Err(self.wrong("an amount as a decimal string or number")),
        };
        parsed.map_err(|e| match e {
            MoneyError::TooPrecise(value) => RuleError::TooPrecise {
                path: self.path.clone(),
                value,
            },
            MoneyError::NotANumber(_) => self.wrong("an amount as a decimal string or number"),
            MoneyError::Overflow(_) => self.wrong(AMOUNT_IN_RANGE),
        })
    }

    fn date(&self) -> Result<DateValue, RuleError> {
        match self.value {
            Some(Value::String(s)) => NaiveDate::parse_from_str(s.trim(), "%Y-%m-%d")
                .map(DateValue::Fixed)
                .map_err(|_| RuleError::BadDate {
                    path: self.path.clone(),
                    value: s.clone(),
                }),
            Some(Value::Object(_)) => match self.single_key(&["days_ago", "months_ago"])? {
                ("days_ago", n) => Ok(DateValue::DaysAgo(n)),
                (_, n) => Ok(DateValue::MonthsAgo(n)),
            },
            _ => Err(self.wrong("a date \"YYYY-MM-DD\", {\"days_ago\": N} or {\"months_ago\": N}")),
        }
    }

    fn span(&self) -> Result<Span, RuleError> {
        match self.single_key(&["days", "months"])? {
            ("days", n) => Ok(Span::Days(n)),
            (_, n) => Ok(Span::Months(n)),
        }
    }

    /// Reads `{"<key>": N}` for one of `keys`, N a non-negative whole number.
    fn single_key(&self, keys: &[&'static str]) -> Result<(&'static str, u32), RuleError> {
        let expected = keys
            .iter()
            .map(|k| format!("{{\"{k}\": N}}"))
            .collect::<Vec<_>>();
        let expected = expected.join(" or ");
        let Some(Value::Object(object)) = self.value else {
            return Err(self.wrong(&expected));
        };
        let found = keys.iter().find(|k| object.contains_key(**k));
        let (Some(key), 1) = (found, object.len()) else {
            return Err(self.wrong(&expected));
        };
        let inner = ValueReader {
            path: format!("{}.{key}", self.path),
            value: object.get(*key),
        };
        let limit = if key.starts_with("days") {
            DAYS_MAX
        } else {
            MONTHS_MAX
        };
        match u32::try_from(inner.integer()?) {
            Ok(n) if n <= limit => Ok((key, n)),
            _ => Err(inner.wrong(&format!("a whole number from 0 to {limit}"))),
        }
    }

    fn pair(&self) -> Result<[ValueReader<'a>; 2], RuleError> {
        match self.value {
            Some(Value::Array(items)) if items.len() == 2 => {
                Ok([self.item(0, &items[0]), self.item(1, &items[1])])
            }
            _ => Err(self.wrong("a list [low, high]")),
        }
    }

    /// Refuses a `[low, high]` pair out of order, showing the ends as the user wrote them.
    fn ordered(&self, ok: bool) -> Result<(), RuleError> {
        if ok {
            return Ok(());
        }
        let end = |i: usize| {
            self.value
                .and_then(|v| v.get(i))
                .map_or_else(String::new, Value::to_string)
        };
        let message = format!("the low end {} is above the high end {}", end(0), end(1));
        Err(RuleError::Malformed {
            path: self.path.clone(),
            message,
        })
    }

    fn product(&self) -> Result<ProductRef, RuleError> {
        match self.value {
            Some(Value::Number(_)) => self.integer().map(ProductRef::Id),
            Some(Value::String(s)) if !s.trim().is_empty() => Ok(ProductRef::Sku(s.trim().into())),
            Some(Value::Object(o)) if o.len() == 1 && o.contains_key("id") => {
                self.item_key("id", &o["id"]).integer().map(ProductRef::Id)
            }
            Some(Value::Object(o)) if o.len() == 1 && o.contains_key("sku") => self
                .item_key("sku", &o["sku"])
                .string()
                .map(|s| ProductRef::Sku(s.trim().into())),
            _ => Err(self.wrong("a product id, a SKU, {\"id\": N} or {\"sku\": \"...\"}")),
        }
    }

    fn item_key(&self, key: &str, value: &'a Value) -> ValueReader<'a> {
        ValueReader {
            path: format!("{}.{key}", self.path),
            value: Some(value),
        }
    }
}
