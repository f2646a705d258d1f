//! The pure kernel every context uses: identifiers, money and time.
pub mod ids;
pub mod money;
pub mod numbers;
pub mod time;
