//! The billing portal's server: HTTP, backend logic and storage.
pub mod backend;
pub mod chart;
pub mod config;
pub mod db;
pub mod domain;
pub mod error;
pub mod http;
pub mod jobs;
pub mod mail;
pub mod payments;
pub mod services;
pub mod startup;
pub mod telemetry;
