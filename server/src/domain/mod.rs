//! Pure rules without I/O.
pub mod api_key;
pub mod catalog;
pub mod ids;
pub mod invoice;
pub mod invoice_builder;
pub mod ledger;
pub mod money;
pub mod namespace_name;
pub mod password;
pub mod period;
pub mod proration;
pub mod rating;
pub mod stripe_signature;
pub mod subscription;
pub mod time;
pub mod usage;
