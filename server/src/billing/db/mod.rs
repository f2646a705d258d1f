//! The SQL of billing.
pub mod credits;
pub mod invoices;
pub mod ledger;
pub mod plans;
pub mod subscriptions;
