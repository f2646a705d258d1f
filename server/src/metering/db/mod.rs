//! The SQL of metering.
pub mod archive;
pub mod ingest_commits;
pub mod partitions;
pub mod rollup_lag;
pub mod set_aside;
pub mod usage;
pub mod usage_copy;
pub mod usage_dimensions;
