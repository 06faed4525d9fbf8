//! Finding the files that make up one table of a tenant folder.

use std::path::{Path, PathBuf};

use super::error::{LoadError, Result};

/// How a part is encoded.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Format {
    Parquet,
    Csv,
}

/// One file holding rows of a table.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) struct Part {
    pub path: PathBuf,
    pub format: Format,
}

/// Every part of `table` in `dir`, in load order: `<table>.parquet`, `<table>.csv`, then the
/// `.parquet` and `.csv` files of the folder `<table>/` sorted by file name.
///
/// Files whose name starts with `.` or `_` are skipped, so a writer can stage a part under a
/// hidden name and rename it into place once complete.
///
/// # Errors
/// The folder `<table>/` exists but cannot be listed.
pub(super) fn find_parts(dir: &Path, table: &str) -> Result<Vec<Part>> {
    let mut parts: Vec<Part> = [Format::Parquet, Format::Csv]
        .into_iter()
        .map(|format| Part {
            path: dir.join(format!("{table}.{}", extension(format))),
            format,
        })
        .filter(|part| part.path.is_file())
        .collect();
    let folder = dir.join(table);
    if folder.is_dir() {
        parts.extend(folder_parts(&folder)?);
    }
    Ok(parts)
}

fn folder_parts(folder: &Path) -> Result<Vec<Part>> {
    let entries = std::fs::read_dir(folder).map_err(|e| LoadError::io(folder, e))?;
    let mut parts = Vec::new();
    for entry in entries {
        let path = entry.map_err(|e| LoadError::io(folder, e))?.path();
        if let Some(format) = part_format(&path) {
            parts.push(Part { path, format });
        }
    }
    parts.sort_by(|a, b| a.path.file_name().cmp(&b.path.file_name()));
    Ok(parts)
}

/// The format of a visible file named `*.parquet` or `*.csv` (any case), else `None`.
fn part_format(path: &Path) -> Option<Format> {
    let name = path.file_name()?.to_str()?;
    if name.starts_with('.') || name.starts_with('_') || !path.is_file() {
        return None;
    }
    let extension = path.extension()?.to_str()?.to_ascii_lowercase();
    match extension.as_str() {
        "parquet" => Some(Format::Parquet),
        "csv" => Some(Format::Csv),
        _ => None,
    }
}

fn extension(format: Format) -> &'static str {
    match format {
        Format::Parquet => "parquet",
        Format::Csv => "csv",
    }
}
