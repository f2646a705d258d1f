//! Use cases: each one opens its own transaction and calls the database modules.
pub mod accounts;
pub mod admin_billing;
pub mod billing;
pub mod billing_reconcile;
pub mod collection;
pub mod demo;
pub mod invoice_run;
pub mod invoice_views;
pub mod invoicing;
pub mod organizations;
pub mod payment_events;
pub mod payment_methods;
pub mod payment_views;
pub mod plan_change;
pub mod refunds;
pub mod usage;
pub mod usage_report;
