//! The billing portal's server, cut by what the business calls things.
//!
//! Contexts, lowest first (each imports only the ones before it): `accounts`, `notifications`,
//! `webhooks` (events sent to the customer's endpoints), `metering`, `billing`, `payments`,
//! `spend` (budgets, alerts and caps), `onboarding` (sign-up and password reset). Above them, `portal` (the customer's pages, read across
//! contexts) and `admin` (the staff console, its actions and the books' checks). `shared` and
//! `store` are the pure kernel and the database plumbing every context stands on; `http` and
//! `jobs` call into contexts and nothing calls into them.
pub mod accounts;
pub mod admin;
pub mod backend;
pub mod billing;
pub mod config;
pub mod demo;
pub mod error;
pub mod http;
pub mod jobs;
pub mod metering;
pub mod notifications;
pub mod onboarding;
pub mod payments;
pub mod portal;
pub mod reader;
pub mod shared;
pub mod spend;
pub mod startup;
pub mod store;
pub mod telemetry;
pub mod webhooks;

#[cfg(test)]
mod layering;
