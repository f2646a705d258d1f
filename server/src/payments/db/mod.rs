//! The SQL of payments.
pub mod attempts;
pub mod collections;
pub mod disputes;
pub mod overpayments;
pub mod processor_checks;
pub mod stripe_events;
pub mod test_mode;
