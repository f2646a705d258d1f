//! Webhooks to the customer: endpoints its owners register receive signed events (an invoice
//! finalized, a budget crossed, …). Events are written with their cause and sent after commit by
//! the webhook job, retried for up to three days.
pub mod db;
pub mod delivery;
pub mod domain;
pub mod endpoints;
pub mod events;
pub mod targets;
