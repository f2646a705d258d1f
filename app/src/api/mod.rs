//! Server functions by area, their wire types and their error type.
pub mod account;
pub mod admin;
#[cfg(feature = "ssr")]
pub mod backend;
pub mod billing;
pub mod dto;
pub mod error;
pub mod organization;
pub mod payments;
pub mod session;
pub mod spend;
pub mod team;
pub mod usage;
pub mod webhooks;
