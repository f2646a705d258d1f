//! Pure rules of metering.
pub mod archive_months;
pub mod dimensions;
pub mod quota;
pub mod seen_ids;
pub mod sent;
pub mod usage;
pub mod usage_query;
