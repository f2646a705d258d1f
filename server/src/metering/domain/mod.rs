//! Pure rules of metering.
pub mod quota;
pub mod seen_ids;
pub mod usage;
pub mod usage_query;
