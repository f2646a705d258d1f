//! The SQL of accounts.
pub mod api_keys;
pub mod audit;
pub mod billing_contacts;
pub mod billing_details;
pub mod invitations;
pub mod login_failures;
pub mod mail_requests;
pub mod namespaces;
pub mod organizations;
pub mod password_resets;
pub mod sessions;
pub mod signups;
pub mod users;
