//! Pure rules of spend controls.
pub mod budget;
