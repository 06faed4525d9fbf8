//! Importing a static segment's members from CSV: a header row, then a column `client_id`
//! or `email`. E-mails match clients after trimming and case folding. Lines end in LF, CRLF
//! or CR alike, and an empty line is a blank row whichever ending it has.

use std::collections::{HashMap, HashSet};

use arrow::array::Array;

use crate::facts::schema::clients;
use crate::rules::normalize_text;
use crate::snapshot::Snapshot;

use super::Service;
use super::error::{Result, ServiceError};
use super::members::Change;
use super::views::ImportSummary;

/// Values an import's answer lists per kind (unmatched, deleted, ambiguous). Past it only
/// the `_total` count grows, so a file of millions of unknown values gets a small answer.
pub const LISTED_MAX: usize = 1_000;

impl ImportSummary {
    fn record_unmatched(&mut self, value: &str) {
        self.unmatched_total += 1;
        list_first(&mut self.unmatched, || value.to_string());
    }

    fn record_deleted(&mut self, id: i64) {
        self.deleted_total += 1;
        list_first(&mut self.deleted, || id);
    }

    fn record_ambiguous(&mut self, value: &str) {
        self.ambiguous_total += 1;
        list_first(&mut self.ambiguous, || value.trim().to_string());
    }
}

/// Appends while the list holds fewer than [`LISTED_MAX`] values.
fn list_first<T>(list: &mut Vec<T>, value: impl FnOnce() -> T) {
    if list.len() < LISTED_MAX {
        list.push(value());
    }
}

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
        let mut report = ImportSummary {
            column: column.name().into(),
            rows: values.len() as u64,
            ..ImportSummary::default()
        };
        let matched = match column {
            Column::ClientId => match_ids(&snapshot, &values, &mut report)?,
            Column::Email => match_emails(&snapshot, &values, &mut report),
        };
        let change = self.change_members(id, &matched, Change::Add).await?;
        report.added = change.added;
        Ok(report)
    }
}

/// The header's chosen column and every data row's value in it (blank when the row is
/// short or the line empty).
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
        let start = reader.position().byte() as usize;
        let row = values.len() + 1;
        let more = reader
            .read_record(&mut record)
            .map_err(|e| ServiceError::Invalid(format!("CSV row {row}: {e}")))?;
        // The reader skips empty lines; they are blank rows, so count them back in.
        let skipped = empty_lines_at(csv, start);
        values.extend((0..skipped).map(|_| String::new()));
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

/// Empty lines starting at byte `start`, just after the byte that ended the previous line.
///
/// A record never starts with CR or LF (a quoted one starts with a quote), so the run of
/// them at `start` is what the reader skips. CR LF is one line break, also when its CR
/// ended the previous line: the reader stops a record right after that CR.
fn empty_lines_at(csv: &[u8], start: usize) -> usize {
    let rest = &csv[start..];
    let run = rest
        .iter()
        .take_while(|b| matches!(b, b'\r' | b'\n'))
        .count();
    let mut breaks = &rest[..run];
    if start > 0 && csv[start - 1] == b'\r' {
        breaks = breaks.strip_prefix(b"\n").unwrap_or(breaks);
    }
    line_breaks(breaks)
}

/// Line breaks in a run of CR and LF bytes: each LF, and each CR not followed by a LF.
fn line_breaks(run: &[u8]) -> usize {
    let lone_cr = |i: usize| run[i] == b'\r' && run.get(i + 1) != Some(&b'\n');
    (0..run.len())
        .filter(|i| run[*i] == b'\n' || lone_cr(*i))
        .count()
}

/// Live client ids named by the rows, each once; counts the rest in `report`.
///
/// # Errors
/// A value that is not an integer, naming its row.
fn match_ids(
    snapshot: &Snapshot,
    values: &[String],
    report: &mut ImportSummary,
) -> Result<Vec<i64>> {
    let mut seen = HashSet::new();
    let mut matched = Vec::new();
    for (row, value) in values.iter().enumerate() {
        let text = value.trim();
        if text.is_empty() {
            report.blank += 1;
            continue;
        }
        let id: i64 = text.parse().map_err(|_| {
            ServiceError::Invalid(format!(
                "CSV row {}, column client_id: {value:?} is not an integer",
                row + 1
            ))
        })?;
        if !seen.insert(id) {
            report.duplicates += 1;
            continue;
        }
        match snapshot.index.position(id) {
            None => report.record_unmatched(value),
            Some(p) if !snapshot.universe.contains(p) => report.record_deleted(id),
            Some(_) => {
                report.matched += 1;
                matched.push(id);
            }
        }
    }
    Ok(matched)
}

/// Live client ids whose e-mail a row names, each once; counts the rest in `report`.
fn match_emails(snapshot: &Snapshot, values: &[String], report: &mut ImportSummary) -> Vec<i64> {
    let index = email_index(snapshot);
    let mut seen = HashSet::new();
    let mut matched = Vec::new();
    for value in values {
        let key = normalize_text(value);
        if key.is_empty() {
            report.blank += 1;
            continue;
        }
        if !seen.insert(key.clone()) {
            report.duplicates += 1;
            continue;
        }
        let Some(positions) = index.get(&key) else {
            report.record_unmatched(value);
            continue;
        };
        let (live, deleted): (Vec<u32>, Vec<u32>) = positions
            .iter()
            .partition(|p| snapshot.universe.contains(**p));
        let id = |p: &u32| snapshot.index.client_id(*p);
        if live.is_empty() {
            deleted.iter().for_each(|p| report.record_deleted(id(p)));
            continue;
        }
        report.matched += 1;
        if live.len() > 1 {
            report.record_ambiguous(value);
        }
        matched.extend(live.iter().map(id));
    }
    matched
}

/// Every client's position by normalised e-mail, deleted clients included, in client id
/// order.
fn email_index(snapshot: &Snapshot) -> HashMap<String, Vec<u32>> {
    let emails = snapshot.client_text(clients::EMAIL);
    let mut index: HashMap<String, Vec<u32>> = HashMap::new();
    for position in 0..snapshot.index.len() as u32 {
        let row = position as usize;
        if emails.is_valid(row) {
            let key = normalize_text(emails.value(row));
            if !key.is_empty() {
                index.entry(key).or_default().push(position);
            }
        }
    }
    index
}
