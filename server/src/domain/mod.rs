//! Pure rules without I/O.
pub mod api_key;
pub mod ids;
pub mod namespace_name;
pub mod password;
pub mod time;
pub mod usage;
