//! The service on tiny tenants written to a temporary folder as contract Parquet.

mod clients;
mod dashboard;
mod facts;
mod members;
mod refresh;
mod segments;

use std::path::Path;
use std::sync::Arc;

use serde_json::{Value, json};

use super::*;
use crate::facts::builder::{ClientRow, FactsBuilder, OrderRow, micros};

/// A client with a country (or none) and an e-mail `c<id>@example.com`.
fn client(id: i64, country: Option<&str>) -> ClientRow {
    ClientRow {
        country: country.map(String::from),
        email: Some(format!("c{id}@example.com")),
        ..ClientRow::new(id)
    }
}

/// Clients 1 (A, US), 2 (B, DE), 3 (C, US), 4 (D, no country).
fn four_clients() -> FactsBuilder {
    FactsBuilder::new()
        .client(client(1, Some("US")))
        .client(client(2, Some("DE")))
        .client(client(3, Some("US")))
        .client(client(4, None))
}

/// Writes every table of `facts` as `<table>.parquet` into `dir`.
fn write_tenant(dir: &Path, facts: &FactsBuilder) {
    let facts = facts.build().expect("test facts");
    crate::facts::builder::write_tenant(&facts, dir).expect("tenant written");
}

/// A tenant folder with `facts` and a service opened on it.
async fn tenant(facts: &FactsBuilder) -> (tempfile::TempDir, Arc<Service>) {
    let dir = tempfile::tempdir().unwrap();
    write_tenant(dir.path(), facts);
    let service = open(dir.path()).await;
    (dir, service)
}

async fn open(dir: &Path) -> Arc<Service> {
    Service::open(ServiceOptions::new(dir))
        .await
        .expect("service opens")
}

fn country_is(country: &str) -> Value {
    json!({"field": "country", "op": "is", "value": country})
}

fn dynamic(name: &str, rule: Value) -> NewSegment {
    NewSegment {
        name: name.into(),
        description: None,
        colour: None,
        kind: SegmentKind::Dynamic,
        rule: Some(rule),
        tier: None,
    }
}

fn listed(name: &str) -> NewSegment {
    NewSegment {
        name: name.into(),
        description: None,
        colour: None,
        kind: SegmentKind::Static,
        rule: None,
        tier: None,
    }
}

fn reads(id: i64) -> Value {
    json!({"field": "segment", "op": "is", "value": id})
}

/// The published members of a segment, as client ids.
#[track_caller]
fn check_members(service: &Service, id: i64, expected: &[i64]) {
    assert_eq!(
        service.state().member_ids(id),
        expected,
        "members of segment {id}"
    );
}

/// How many segments and history rows the catalog holds: what "nothing stored" checks.
fn stored_rows(service: &Service) -> (i64, i64, i64) {
    service
        .catalog()
        .with_conn(|conn| {
            let count = |table: &str| {
                conn.query_row(&format!("SELECT COUNT(*) FROM {table}"), [], |row| {
                    row.get(0)
                })
            };
            Ok((
                count("segments")?,
                count("static_members")?,
                count("segment_history")?,
            ))
        })
        .unwrap()
}

fn order(id: i64, client_id: i64, at: &str, cents: i64) -> OrderRow {
    OrderRow::completed(id, client_id, at, cents)
}

fn at(rfc3339: &str) -> chrono::DateTime<chrono::Utc> {
    crate::catalog::from_micros(micros(rfc3339))
}
