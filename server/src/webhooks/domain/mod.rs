//! The rules of webhooks to the customer, with no I/O: the signature scheme, the retry schedule,
//! the event types and which addresses an endpoint may not point at.
pub mod addresses;
pub mod event_types;
pub mod schedule;
pub mod signature;
