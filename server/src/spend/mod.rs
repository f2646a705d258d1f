//! Spend controls the customer sets: budgets per namespace or for the whole organization, in money
//! or in a metric's quantity, with alert thresholds and an optional hard cap. The rollup worker
//! evaluates them right after it stores the hours it touched (`evaluation`); each crossing is a
//! durable row recorded once, with its notice, in one transaction.
pub mod alerts;
pub mod budgets;
pub mod caps;
pub mod db;
pub mod domain;
pub mod evaluation;
pub mod figures;
pub mod measure;
pub mod settings;
pub mod standing;
