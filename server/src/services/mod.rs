//! Use cases: each one opens its own transaction and calls the database modules.
pub mod accounts;
pub mod billing;
pub mod demo;
pub mod organizations;
pub mod usage;
pub mod usage_report;
