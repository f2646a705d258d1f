//! Pure rules of metering.
pub mod dimensions;
pub mod quota;
pub mod seen_ids;
pub mod sent;
pub mod usage;
pub mod usage_months;
pub mod usage_query;
