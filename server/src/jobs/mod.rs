//! Background workers. Their work lives in durable rows, so a restart picks up where a crash left off.
pub mod ingest_writer;
pub mod payments;
pub mod rollup;
pub mod rollup_lag;
pub mod webhooks;
