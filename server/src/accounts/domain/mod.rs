//! Pure rules of accounts.
pub mod api_key;
pub mod billing_details;
pub mod email;
pub mod namespace_name;
pub mod one_time_token;
pub mod organization_name;
pub mod password;
pub mod refusal;
pub mod throttle;
