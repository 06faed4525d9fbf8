//! Dashboard widgets in the catalog's SQLite database: the table, and create, read and
//! delete. The catalog runs [`MIGRATIONS`] with its own; one database holds one tenant.
//!
//! The store does not know segments: the caller checks that a widget's segment exists
//! before saving it, and calls [`delete_segment_widgets`] when a segment is deleted.

use chrono::NaiveDate;
use rusqlite::{Connection, OptionalExtension, Row, params};
use serde::Deserialize;

use super::calendar::DateRange;
use super::widgets::{Metric, Widget, WidgetPeriod};

/// Statements that create the widget table; each is idempotent.
pub const MIGRATIONS: &[&str] = &[
    "CREATE TABLE IF NOT EXISTS dashboard_widgets (
        widget_id  INTEGER PRIMARY KEY AUTOINCREMENT,
        title      TEXT NOT NULL,
        segment_id INTEGER,
        metric     TEXT NOT NULL,
        period     TEXT NOT NULL,
        fixed_from TEXT,
        fixed_to   TEXT
    )",
    "CREATE INDEX IF NOT EXISTS dashboard_widgets_segment ON dashboard_widgets (segment_id)",
];

/// The longest title, in characters.
pub const TITLE_CHARS_MAX: usize = 120;

/// Why a widget could not be stored or read.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("widget {id} does not exist")]
    NotFound { id: i64 },
    #[error("widget {field}: {reason}")]
    Invalid { field: &'static str, reason: String },
    /// A stored row this code cannot read: a bug or a hand-edited database.
    #[error("widget {id}: column {column} holds {value:?}, which is not a valid value")]
    Corrupt {
        id: i64,
        column: &'static str,
        value: String,
    },
    #[error("widget store: {0}")]
    Sqlite(#[from] rusqlite::Error),
}

pub type Result<T, E = StoreError> = std::result::Result<T, E>;

/// A widget as submitted, before it has an id.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NewWidget {
    pub title: String,
    #[serde(default)]
    pub segment_id: Option<i64>,
    pub metric: Metric,
    pub period: WidgetPeriod,
}

impl NewWidget {
    /// The widget with a trimmed title, checked.
    ///
    /// # Errors
    /// [`StoreError::Invalid`] for a blank or too long title, or fixed dates out of order.
    pub fn validated(&self) -> Result<NewWidget> {
        let title = self.title.trim().to_string();
        let invalid = |field, reason: String| Err(StoreError::Invalid { field, reason });
        if title.is_empty() {
            return invalid("title", "must not be blank".into());
        }
        if title.chars().count() > TITLE_CHARS_MAX {
            return invalid(
                "title",
                format!("is longer than {TITLE_CHARS_MAX} characters"),
            );
        }
        if title.chars().any(char::is_control) {
            return invalid("title", "must not hold control characters".into());
        }
        if let WidgetPeriod::Fixed { from, to } = self.period
            && let Err(error) = DateRange::new(from, to)
        {
            return invalid("period", format!("fixed {error}"));
        }
        Ok(NewWidget {
            title,
            ..self.clone()
        })
    }
}

/// Stores `widget` after [`NewWidget::validated`] and returns it with its id.
///
/// # Errors
/// [`StoreError::Invalid`], or a database failure.
pub fn insert_widget(conn: &Connection, widget: &NewWidget) -> Result<Widget> {
    let widget = widget.validated()?;
    let (period, from, to) = period_columns(widget.period);
    conn.execute(
        "INSERT INTO dashboard_widgets (title, segment_id, metric, period, fixed_from, fixed_to)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
        params![
            widget.title,
            widget.segment_id,
            metric_text(widget.metric),
            period,
            from,
            to
        ],
    )?;
    Ok(Widget {
        id: conn.last_insert_rowid(),
        title: widget.title,
        segment_id: widget.segment_id,
        metric: widget.metric,
        period: widget.period,
    })
}

const SELECT: &str = "SELECT widget_id, title, segment_id, metric, period, fixed_from, fixed_to
     FROM dashboard_widgets";

/// Every widget, in creation order.
///
/// # Errors
/// A database failure, or a stored row that cannot be read.
pub fn widgets(conn: &Connection) -> Result<Vec<Widget>> {
    let mut statement = conn.prepare(&format!("{SELECT} ORDER BY widget_id"))?;
    let rows = statement.query_map([], stored_row)?;
    rows.map(|row| row?.into_widget()).collect()
}

/// The widget `id`.
///
/// # Errors
/// [`StoreError::NotFound`], a database failure, or a stored row that cannot be read.
pub fn widget(conn: &Connection, id: i64) -> Result<Widget> {
    let sql = format!("{SELECT} WHERE widget_id = ?1");
    let row = conn.query_row(&sql, [id], stored_row).optional()?;
    row.ok_or(StoreError::NotFound { id })?.into_widget()
}

/// Deletes the widget `id`.
///
/// # Errors
/// [`StoreError::NotFound`] when there is no such widget, or a database failure.
pub fn delete_widget(conn: &Connection, id: i64) -> Result<()> {
    let deleted = conn.execute("DELETE FROM dashboard_widgets WHERE widget_id = ?1", [id])?;
    if deleted == 0 {
        return Err(StoreError::NotFound { id });
    }
    Ok(())
}

/// Deletes the widgets of a segment that is being deleted; returns how many there were.
///
/// # Errors
/// A database failure.
pub fn delete_segment_widgets(conn: &Connection, segment_id: i64) -> Result<usize> {
    let sql = "DELETE FROM dashboard_widgets WHERE segment_id = ?1";
    Ok(conn.execute(sql, [segment_id])?)
}

fn metric_text(metric: Metric) -> &'static str {
    match metric {
        Metric::Revenue => "revenue",
        Metric::OrderCount => "order_count",
    }
}

/// The `period`, `fixed_from` and `fixed_to` columns of a period.
fn period_columns(period: WidgetPeriod) -> (&'static str, Option<String>, Option<String>) {
    match period {
        WidgetPeriod::Last7Days => ("last_7_days", None, None),
        WidgetPeriod::Last30Days => ("last_30_days", None, None),
        WidgetPeriod::Last90Days => ("last_90_days", None, None),
        WidgetPeriod::MonthToDate => ("month_to_date", None, None),
        WidgetPeriod::YearToDate => ("year_to_date", None, None),
        WidgetPeriod::Fixed { from, to } => ("fixed", Some(from.to_string()), Some(to.to_string())),
    }
}

/// A row as stored, read into a widget in a second step so bad values name their column.
struct StoredRow {
    id: i64,
    title: String,
    segment_id: Option<i64>,
    metric: String,
    period: String,
    fixed_from: Option<String>,
    fixed_to: Option<String>,
}

fn stored_row(row: &Row<'_>) -> rusqlite::Result<StoredRow> {
    Ok(StoredRow {
        id: row.get(0)?,
        title: row.get(1)?,
        segment_id: row.get(2)?,
        metric: row.get(3)?,
        period: row.get(4)?,
        fixed_from: row.get(5)?,
        fixed_to: row.get(6)?,
    })
}

impl StoredRow {
    fn into_widget(self) -> Result<Widget> {
        let metric = match self.metric.as_str() {
            "revenue" => Metric::Revenue,
            "order_count" => Metric::OrderCount,
            _ => return Err(self.corrupt("metric", &self.metric)),
        };
        let period = self.period()?;
        Ok(Widget {
            id: self.id,
            title: self.title,
            segment_id: self.segment_id,
            metric,
            period,
        })
    }

    fn period(&self) -> Result<WidgetPeriod> {
        Ok(match self.period.as_str() {
            "last_7_days" => WidgetPeriod::Last7Days,
            "last_30_days" => WidgetPeriod::Last30Days,
            "last_90_days" => WidgetPeriod::Last90Days,
            "month_to_date" => WidgetPeriod::MonthToDate,
            "year_to_date" => WidgetPeriod::YearToDate,
            "fixed" => WidgetPeriod::Fixed {
                from: self.date("fixed_from", self.fixed_from.as_deref())?,
                to: self.date("fixed_to", self.fixed_to.as_deref())?,
            },
            _ => return Err(self.corrupt("period", &self.period)),
        })
    }

    fn date(&self, column: &'static str, text: Option<&str>) -> Result<NaiveDate> {
        let parsed = text.and_then(|t| NaiveDate::parse_from_str(t, "%Y-%m-%d").ok());
        parsed.ok_or_else(|| self.corrupt(column, text.unwrap_or("NULL")))
    }

    fn corrupt(&self, column: &'static str, value: &str) -> StoreError {
        StoreError::Corrupt {
            id: self.id,
            column,
            value: value.to_string(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn date(text: &str) -> NaiveDate {
        NaiveDate::parse_from_str(text, "%Y-%m-%d").unwrap()
    }

    fn catalog() -> Connection {
        let conn = Connection::open_in_memory().unwrap();
        // Twice: the catalog may run migrations on every start.
        for _ in 0..2 {
            for statement in MIGRATIONS {
                conn.execute(statement, []).unwrap();
            }
        }
        conn
    }

    fn new_widget(title: &str, segment_id: Option<i64>, period: WidgetPeriod) -> NewWidget {
        NewWidget {
            title: title.into(),
            segment_id,
            metric: Metric::Revenue,
            period,
        }
    }

    #[test]
    fn widgets_round_trip_in_creation_order() {
        let conn = catalog();
        let fixed = WidgetPeriod::Fixed {
            from: date("2024-01-01"),
            to: date("2024-03-31"),
        };
        let first = insert_widget(&conn, &new_widget("  VIP revenue ", Some(3), fixed)).unwrap();
        let second = insert_widget(
            &conn,
            &NewWidget {
                metric: Metric::OrderCount,
                ..new_widget("All orders", None, WidgetPeriod::MonthToDate)
            },
        )
        .unwrap();
        assert_eq!(first.title, "VIP revenue");
        assert_eq!(widgets(&conn).unwrap(), [first.clone(), second.clone()]);
        assert_eq!(widget(&conn, second.id).unwrap(), second);
        assert_eq!(delete_segment_widgets(&conn, 3).unwrap(), 1);
        assert_eq!(widgets(&conn).unwrap(), std::slice::from_ref(&second));
        delete_widget(&conn, second.id).unwrap();
        let error = delete_widget(&conn, second.id).unwrap_err();
        assert_eq!(
            error.to_string(),
            format!("widget {} does not exist", second.id)
        );
        assert!(matches!(
            widget(&conn, 42),
            Err(StoreError::NotFound { id: 42 })
        ));
    }

    #[test]
    fn invalid_widgets_are_refused_with_the_reason() {
        let conn = catalog();
        let blank = insert_widget(&conn, &new_widget("  ", None, WidgetPeriod::Last7Days));
        assert_eq!(
            blank.unwrap_err().to_string(),
            "widget title: must not be blank"
        );
        let long = "x".repeat(TITLE_CHARS_MAX + 1);
        let long = insert_widget(&conn, &new_widget(&long, None, WidgetPeriod::Last7Days));
        assert_eq!(
            long.unwrap_err().to_string(),
            "widget title: is longer than 120 characters"
        );
        let backwards = WidgetPeriod::Fixed {
            from: date("2024-02-01"),
            to: date("2024-01-01"),
        };
        let backwards = insert_widget(&conn, &new_widget("Q", None, backwards));
        assert_eq!(
            backwards.unwrap_err().to_string(),
            "widget period: fixed date range 2024-02-01..2024-01-01 is empty: `from` is after `to`"
        );
        let ages = WidgetPeriod::Fixed {
            from: date("1900-01-01"),
            to: date("2024-01-01"),
        };
        let ages = insert_widget(&conn, &new_widget("Ages", None, ages));
        assert_eq!(
            ages.unwrap_err().to_string(),
            "widget period: fixed date range 1900-01-01..2024-01-01 is longer than 36600 days"
        );
        assert!(widgets(&conn).unwrap().is_empty());
    }

    #[test]
    fn a_corrupt_row_names_its_column() {
        let conn = catalog();
        conn.execute(
            "INSERT INTO dashboard_widgets (widget_id, title, metric, period) \
             VALUES (5, 't', 'revenue', 'fixed')",
            [],
        )
        .unwrap();
        let error = widgets(&conn).unwrap_err();
        assert_eq!(
            error.to_string(),
            "widget 5: column fixed_from holds \"NULL\", which is not a valid value"
        );
    }

    #[test]
    fn widgets_read_from_json() {
        let json = r#"{"title": "Q1", "segment_id": 4, "metric": "order_count",
                       "period": {"fixed": {"from": "2024-01-01", "to": "2024-03-31"}}}"#;
        let parsed: NewWidget = serde_json::from_str(json).unwrap();
        assert_eq!(parsed.metric, Metric::OrderCount);
        assert_eq!(
            parsed.period,
            WidgetPeriod::Fixed {
                from: date("2024-01-01"),
                to: date("2024-03-31")
            }
        );
        let parsed: NewWidget =
            serde_json::from_str(r#"{"title": "W", "metric": "revenue", "period": "last_7_days"}"#)
                .unwrap();
        assert_eq!(
            (parsed.segment_id, parsed.period),
            (None, WidgetPeriod::Last7Days)
        );
    }

    #[test]
    fn bad_periods_name_what_a_period_may_be() {
        let refusal = |period: &str| {
            let json = format!(r#"{{"title": "W", "metric": "revenue", "period": {period}}}"#);
            let error = serde_json::from_str::<NewWidget>(&json).unwrap_err();
            (error.classify(), error.to_string())
        };
        let expected = r#"one of "last_7_days", "last_30_days", "last_90_days", "month_to_date", "year_to_date", or {"fixed": {"from": "YYYY-MM-DD", "to": "YYYY-MM-DD"}}"#;
        let data = serde_json::error::Category::Data;
        assert_eq!(
            refusal("7"),
            (
                data,
                format!("invalid type: integer `7`, expected {expected} at line 1 column 47")
            )
        );
        assert_eq!(
            refusal(r#""weekly""#),
            (
                data,
                format!(
                    r#"invalid value: string "weekly", expected {expected} at line 1 column 54"#
                )
            )
        );
        let at = |column| format!(" at line 1 column {column}");
        let sibling = r#"{"fixed": {"from": "2024-01-01", "to": "2024-01-02"}, "x": 1}"#;
        assert_eq!(
            refusal(sibling),
            (
                data,
                format!("`x` next to `fixed`; a period has one key{}", at(103))
            )
        );
        let extra = r#"{"fixed": {"from": "2024-01-01", "to": "2024-01-02", "tz": "UTC"}}"#;
        assert_eq!(
            refusal(extra),
            (
                data,
                format!("unknown field `tz`, expected `from` or `to`{}", at(103))
            )
        );
        let loose = r#"{"fixed": {"from": "2024-1-01", "to": "2024-01-02"}}"#;
        let shape = r#""2024-1-01" is not a date of the form YYYY-MM-DD, years 1000 to 9999"#;
        assert_eq!(refusal(loose), (data, format!("{shape}{}", at(76))));
    }

    #[test]
    fn titles_hold_no_control_characters() {
        let conn = catalog();
        let bell = insert_widget(&conn, &new_widget("a\u{7}b", None, WidgetPeriod::Last7Days));
        assert_eq!(
            bell.unwrap_err().to_string(),
            "widget title: must not hold control characters"
        );
    }
}
