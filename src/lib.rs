//! `segments`: which clients belong together, and what do they buy.
//!
//! See `ARCHITECTURE.md` for the map of modules and the direction of their dependencies.

pub mod api;
pub mod bench;
pub mod catalog;
pub mod cli;
pub mod eval;
pub mod export;
pub mod facts;
pub mod r#gen;
pub mod import;
pub mod mailchimp;
pub mod metrics;
pub mod money;
pub mod plan;
pub mod pricing;
pub mod reports;
pub mod rules;
pub mod service;
pub mod snapshot;
pub mod tenant;
pub mod time;
