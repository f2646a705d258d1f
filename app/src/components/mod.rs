pub mod error_view;
pub mod field_error;
pub mod layout;
