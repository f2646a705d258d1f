//! Messages to customers: an outbox written in the transaction of its cause, handed over after commit.
pub mod db;
pub mod delivery;
pub mod mail;
pub mod outbox;
