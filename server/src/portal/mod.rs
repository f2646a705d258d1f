//! The customer's pages that read across contexts.
pub mod dashboard;
pub mod documents;
pub mod invoice_pages;
pub mod machine_api;
pub mod namespace_activity;
pub mod overview;
pub mod usage_page;
