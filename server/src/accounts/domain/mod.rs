//! Pure rules of accounts.
pub mod api_key;
pub mod namespace_name;
pub mod password;
