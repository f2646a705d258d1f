pub mod confirm;
pub mod disputes;
pub mod error_view;
pub mod estimate;
pub mod field_error;
pub mod layout;
pub mod past_due;
pub mod proration;
