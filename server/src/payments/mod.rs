//! Getting paid: processor channels, collection and dunning, the processor's event inbox, refunds.
pub mod authentication;
pub mod channel;
pub mod collection;
pub mod db;
pub mod disputes;
pub mod domain;
pub mod methods;
pub mod overpayments;
pub mod pass;
pub mod processor_checks;
pub mod processor_events;
pub mod refunds;
pub mod views;
