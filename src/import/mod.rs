//! Importers that turn other data into a tenant folder in the input contract's format:
//! a TPC-H database ([`tpch`]) and the per-line sales export most shops have
//! ([`sales_lines`]).
//!
//! Invariant: an importer writes only through [`crate::facts::write`], so what it writes
//! is what the loader reads; it never writes into a folder holding a tenant unless asked to
//! replace it.

pub mod countries;
pub mod sales_lines;
pub mod tpch;
