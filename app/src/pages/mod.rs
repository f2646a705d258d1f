pub mod admin;
pub mod dashboard;
pub mod home;
pub mod login;
pub mod namespaces;
pub mod not_found;
pub mod usage;
