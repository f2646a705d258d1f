//! The SQL of billing.
pub mod coupons;
pub mod credits;
pub mod invoices;
pub mod ledger;
pub mod plans;
pub mod subscriptions;
