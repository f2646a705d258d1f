//! Pure rules of metering.
pub mod seen_ids;
pub mod usage;
