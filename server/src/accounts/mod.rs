//! Who is who: users, sessions, organizations and their members, namespaces, API keys, the audit log.
pub mod audit;
pub mod billing_contacts;
pub mod billing_details;
pub mod db;
pub mod domain;
pub mod login;
pub mod organizations;
pub mod preferences;

impl From<argon2::password_hash::Error> for crate::error::Error {
    fn from(error: argon2::password_hash::Error) -> Self {
        Self::PasswordHash(error.to_string())
    }
}

impl From<domain::refusal::Refusal> for app::api::error::AppError {
    fn from(refusal: domain::refusal::Refusal) -> Self {
        Self::invalid(refusal.field, refusal.reason)
    }
}

impl From<domain::refusal::Refusal> for crate::error::Error {
    fn from(refusal: domain::refusal::Refusal) -> Self {
        Self::App(refusal.into())
    }
}
