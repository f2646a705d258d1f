//! Pure rules of accounts.
pub mod api_key;
pub mod billing_details;
pub mod namespace_name;
pub mod password;
