//! Importing a static segment's members from CSV: a header row, then a column `client_id`
//! or `email`. E-mails match live clients after trimming and case folding.

use std::collections::{HashMap, HashSet};

use arrow::array::Array;

use crate::facts::schema::clients;
use crate::rules::normalize_text;
use crate::snapshot::Snapshot;

use super::Service;
use super::error::{Result, ServiceError};
use super::members::Change;
use super::views::ImportSummary;

/// The column an import reads.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Column {
    ClientId,
    Email,
}

impl Column {
    fn name(self) -> &'static str {
        match self {
            Column::ClientId => "client_id",
            Column::Email => "email",
        }
    }
}

impl Service {
    /// Imports members from CSV into a static segment. Importing the same file again adds
    /// nothing; concurrent imports are applied one after the other.
    ///
    /// # Errors
    /// [`ServiceError::NotFound`], [`ServiceError::Conflict`] for a dynamic segment, or
    /// [`ServiceError::Invalid`] for a file without a `client_id` or `email` column, a
    /// malformed row or a `client_id` that is not an integer; nothing is stored then.
    pub async fn import_members_csv(&self, id: i64, csv: &[u8]) -> Result<ImportSummary> {
        self.static_record(id)?;
        let (column, values) = read_column(csv)?;
        let snapshot = std::sync::Arc::clone(&self.state().snapshot);
        let mut summary = ImportSummary {
            column: column.name().into(),
            rows: values.len() as u64,
            ..ImportSummary::default()
        };
        let matched = match column {
            Column::ClientId => match_ids(&snapshot, &values, &mut summary)?,
            Column::Email => match_emails(&snapshot, &values, &mut summary),
        };
        let change = self.change_members(id, &matched, Change::Add).await?;
        summary.added = change.added;
        Ok(summary)
    }
}

/// The header's chosen column and every data row's value in it (blank when the row is
/// short).
fn read_column(csv: &[u8]) -> Result<(Column, Vec<String>)> {
    let csv = csv.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(csv);
    let mut reader = csv::ReaderBuilder::new()
        .has_headers(true)
        .flexible(true)
        .from_reader(csv);
    let headers = reader
        .headers()
        .map_err(|e| ServiceError::Invalid(format!("CSV header: {e}")))?;
    let (column, index) = choose_column(headers)?;
    let mut values = Vec::new();
    let mut record = csv::StringRecord::new();
    loop {
        let before = reader.position().line();
        let row = values.len() + 1;
        let more = reader
            .read_record(&mut record)
            .map_err(|e| ServiceError::Invalid(format!("CSV row {row}: {e}")))?;
        // The reader skips empty lines; they are blank rows, so count them back in.
        let consumed = reader.position().line() - before;
        let own_lines = if more {
            1 + embedded_newlines(&record)
        } else {
            0
        };
        values.extend((own_lines..consumed).map(|_| String::new()));
        if !more {
            break;
        }
        values.push(record.get(index).unwrap_or("").to_string());
    }
    Ok((column, values))
}

/// The column to read: `client_id` when present, else `email` (names trimmed, any case).
fn choose_column(headers: &csv::StringRecord) -> Result<(Column, usize)> {
    let find = |name: &str| headers.iter().position(|h| normalize_text(h) == name);
    match (find("client_id"), find("email")) {
        (Some(index), _) => Ok((Column::ClientId, index)),
        (None, Some(index)) => Ok((Column::Email, index)),
        (None, None) => {
            let found: Vec<&str> = headers.iter().collect();
            Err(ServiceError::Invalid(format!(
                "CSV header has neither a `client_id` nor an `email` column; found {found:?}"
            )))
        }
    }
}

/// Line breaks inside a record's quoted fields.
fn embedded_newlines(record: &csv::StringRecord) -> u64 {
    record
        .iter()
        .map(|field| field.matches('\n').count() as u64)
        .sum()
}

/// Live client ids named by the rows, each once; counts the rest in `summary`.
///
/// # Errors
/// A value that is not an integer, naming its row.
fn match_ids(
    snapshot: &Snapshot,
    values: &[String],
    summary: &mut ImportSummary,
) -> Result<Vec<i64>> {
    let mut seen = HashSet::new();
    let mut matched = Vec::new();
    for (row, value) in values.iter().enumerate() {
        let text = value.trim();
        if text.is_empty() {
            summary.blank += 1;
            continue;
        }
        let id: i64 = text.parse().map_err(|_| {
            ServiceError::Invalid(format!(
                "CSV row {}, column client_id: {value:?} is not an integer",
                row + 1
            ))
        })?;
        if !seen.insert(id) {
            summary.duplicates += 1;
        } else if is_live(snapshot, id) {
            summary.matched += 1;
            matched.push(id);
        } else {
            summary.unmatched.push(value.clone());
        }
    }
    Ok(matched)
}

fn is_live(snapshot: &Snapshot, id: i64) -> bool {
    let position = snapshot.index.position(id);
    position.is_some_and(|p| snapshot.universe.contains(p))
}

/// Live client ids whose e-mail a row names, each once; counts the rest in `summary`.
fn match_emails(snapshot: &Snapshot, values: &[String], summary: &mut ImportSummary) -> Vec<i64> {
    let index = email_index(snapshot);
    let mut seen = HashSet::new();
    let mut matched = Vec::new();
    for value in values {
        let key = normalize_text(value);
        if key.is_empty() {
            summary.blank += 1;
            continue;
        }
        if !seen.insert(key.clone()) {
            summary.duplicates += 1;
            continue;
        }
        match index.get(&key) {
            Some(ids) => {
                summary.matched += 1;
                if ids.len() > 1 {
                    summary.ambiguous.push(value.trim().to_string());
                }
                matched.extend(ids);
            }
            None => summary.unmatched.push(value.clone()),
        }
    }
    matched
}

/// Live clients by normalised e-mail.
fn email_index(snapshot: &Snapshot) -> HashMap<String, Vec<i64>> {
    let emails = snapshot.client_text(clients::EMAIL);
    let mut index: HashMap<String, Vec<i64>> = HashMap::new();
    for position in &snapshot.universe {
        let row = position as usize;
        if emails.is_valid(row) {
            let key = normalize_text(emails.value(row));
            if !key.is_empty() {
                index
                    .entry(key)
                    .or_default()
                    .push(snapshot.index.client_id(position));
            }
        }
    }
    index
}
