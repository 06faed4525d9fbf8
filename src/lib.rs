//! `segments`: which clients belong together, and what do they buy.
//!
//! See `ARCHITECTURE.md` for the map of modules and the direction of their dependencies.

pub mod api;
pub mod catalog;
pub mod bench;
pub mod cli;
pub mod facts;
pub mod r#gen;
pub mod import;
pub mod mailchimp;
pub mod money;
pub mod rules;
pub mod service;
pub mod time;
pub mod eval;
pub mod metrics;
pub mod plan;
pub mod snapshot;
pub mod tenant;
pub mod reports;
pub mod pricing;
