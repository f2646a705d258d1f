//! API tests: the real server over real HTTP, on SQLite or PostgreSQL (see helpers).
mod authz;
mod authz_matrix;
mod billing;
mod crash;
mod fake_stripe;
mod fuzz;
mod helpers;
mod ingest;
mod namespaces_and_keys;
mod operations;
mod payments;
mod rollups;
mod scale_out;
mod sessions;
mod stripe_channel;
mod stripe_webhook;
mod usage_views;
