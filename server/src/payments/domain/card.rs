//! The card on file, as processors report it and the Payment page shows it.

/// A payment method as the customer recognises it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CardDetails {
    pub payment_method_id: String,
    pub brand: String,
    pub last4: String,
    pub exp_month: i64,
    pub exp_year: i64,
}
