//! The SQL of metering.
pub mod ingest_commits;
pub mod usage;
pub mod usage_copy;
