//! Pure rules of billing.
pub mod catalog;
pub mod discount;
pub mod forecast;
pub mod invoice;
pub mod invoice_builder;
pub mod ledger;
pub mod period;
pub mod proration;
pub mod rating;
pub mod subscription;
pub mod trend;
