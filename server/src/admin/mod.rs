//! The staff console: customers, staff actions, operations and the books' checks.
pub mod billing_actions;
pub mod customers;
pub mod db;
pub mod operations;
pub mod payment_actions;
pub mod quotas;
pub mod reconciliation;
pub mod suspension;
