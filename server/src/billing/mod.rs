//! What a customer owes: plans, rating, subscriptions, plan changes, invoices, credits, the ledger.
pub mod announcements;
pub mod coupons;
pub mod db;
pub mod domain;
pub mod estimate;
pub mod invoice_run;
pub mod invoicing;
pub mod period_rating;
pub mod plan_change;
pub mod run_lanes;
pub mod subscriptions;

use app::api::error::AppError;

use crate::error::Error;

/// A refused state change is the caller's conflict, and the message names both states.
impl From<domain::invoice::IllegalTransition> for Error {
    fn from(refused: domain::invoice::IllegalTransition) -> Self {
        Self::App(AppError::conflict("status", refused.to_string()))
    }
}

impl From<domain::subscription::IllegalSubscriptionTransition> for Error {
    fn from(refused: domain::subscription::IllegalSubscriptionTransition) -> Self {
        Self::App(AppError::conflict("status", refused.to_string()))
    }
}

impl From<domain::ledger::PostingError> for Error {
    fn from(error: domain::ledger::PostingError) -> Self {
        Self::Ledger(error.to_string())
    }
}
