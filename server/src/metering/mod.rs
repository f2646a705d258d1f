//! Usage: ingestion of events, hourly rollups, and the charts drawn from them.
pub mod archive;
pub mod catalog;
pub mod chart;
pub mod db;
pub mod domain;
pub mod id_claims;
pub mod kept_chart;
pub mod kept_totals;
pub mod partitions;
pub mod quotas;
pub mod usage;
