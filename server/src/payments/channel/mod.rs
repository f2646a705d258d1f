//! Payment channels: the processors that hold customers' payment methods and move the money.
//! Billing talks to them only through `PaymentChannel`, so another channel (a cloud marketplace,
//! say) is one more implementation, not a change to billing.
pub mod stripe;
pub mod test_mode;

use async_trait::async_trait;

use crate::error::Error;
use crate::payments::domain::card::CardDetails;

pub struct ChargeRequest<'a> {
    pub customer_id: &'a str,
    pub payment_method_id: &'a str,
    pub amount_minor: i64,
    pub currency: &'a str,
    /// Derived from the invoice and the attempt: the processor answers a repeated request with
    /// the first answer, so a retry after a crash never charges twice.
    pub idempotency_key: &'a str,
    pub invoice_id: &'a str,
    pub payment_id: &'a str,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PaymentFailure {
    /// The processor's decline code, e.g. `card_declined`, `insufficient_funds`.
    pub code: String,
    pub message: String,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ChargeOutcome {
    Succeeded {
        processor_payment_id: String,
    },
    Failed {
        processor_payment_id: Option<String>,
        failure: PaymentFailure,
    },
    /// Accepted but not finished (e.g. a bank still deciding): settled later by its webhook or by
    /// asking for its state.
    Pending {
        processor_payment_id: String,
    },
}

impl From<ChannelError> for Error {
    fn from(error: ChannelError) -> Self {
        match error {
            ChannelError::Store(error) => error,
            other => Self::Processor(other.to_string()),
        }
    }
}

#[derive(Debug, thiserror::Error)]
pub enum ChannelError {
    /// The processor could not be reached or kept failing: the attempt stays pending and is
    /// retried with the same idempotency key.
    #[error("the payment processor is unavailable: {0}")]
    Unavailable(String),
    #[error("the payment processor refused the request: {0}")]
    Refused(String),
    #[error(transparent)]
    Store(#[from] Error),
}

/// An event as the processor keeps it, for the events its webhooks may have failed to deliver.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ListedEvent {
    pub id: String,
    pub event_type: String,
    /// Seconds since the epoch, as Stripe dates events.
    pub created: i64,
    pub livemode: bool,
    /// The event as the processor sent it, stored in the inbox like a delivered one.
    pub payload: String,
}

/// One page of a list the processor keeps, newest first; `next` is where the following page
/// starts, None after the last.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ListPage<T> {
    pub items: Vec<T>,
    pub next: Option<String>,
}

/// A customer as the processor keeps it: the method it would charge by default.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ProcessorCustomer {
    pub customer_id: String,
    pub default_payment_method: Option<String>,
}

/// A successful charge as the processor records it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ProcessorCharge {
    pub processor_payment_id: String,
    /// Our attempt, from the charge's metadata; None for a charge made outside the portal.
    pub payment_id: Option<String>,
    pub amount_minor: i64,
    pub currency: String,
    pub customer_id: Option<String>,
}

/// How a customer adds a card with this channel.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SetupStart {
    /// The portal's own card form (test mode).
    InPortalForm,
    /// The processor's hosted page; the customer comes back to the portal afterwards.
    Redirect(String),
}

#[async_trait]
pub trait PaymentChannel: Send + Sync + 'static {
    /// The processor's customer for an organization, created on first use.
    async fn ensure_customer(&self, organization_id: &str, billing_email: &str) -> Result<String, ChannelError>;
    /// Charges a saved payment method without the customer present.
    async fn charge(&self, request: &ChargeRequest<'_>) -> Result<ChargeOutcome, ChannelError>;
    /// Refunds part of a payment; answers the processor's refund id. The refund's effect on the
    /// books arrives as a `charge.refunded` event, like a refund made in the processor's dashboard.
    async fn refund(
        &self,
        processor_payment_id: &str,
        amount_minor: i64,
        idempotency_key: &str,
    ) -> Result<String, ChannelError>;
    /// What became of a payment the processor accepted without finishing.
    async fn payment_state(&self, processor_payment_id: &str) -> Result<ChargeOutcome, ChannelError>;
    /// The processor's payment for our attempt `payment_id` (a succeeded one first), found by the
    /// id every charge carries in its metadata; None when the processor never received it.
    async fn find_payment(&self, payment_id: &str) -> Result<Option<ChargeOutcome>, ChannelError>;
    /// What the card holder's browser needs to complete a PaymentIntent that waits for them: the
    /// client secret Stripe.js confirms it with; None where the portal shows the step itself.
    async fn client_secret(&self, processor_payment_id: &str) -> Result<Option<String>, ChannelError>;
    /// Starts adding a payment method; the result arrives as a setup webhook event.
    async fn start_setup(&self, customer_id: &str, return_url: &str) -> Result<SetupStart, ChannelError>;
    async fn payment_method(&self, payment_method_id: &str) -> Result<CardDetails, ChannelError>;
    /// A page of the events the processor created since `since_ms`, starting after `after`.
    async fn events_page(&self, since_ms: i64, after: Option<&str>) -> Result<ListPage<ListedEvent>, ChannelError>;
    /// A page of the charges created since `since_ms`, starting after `after`: the succeeded
    /// ones among them.
    async fn charges_page(&self, since_ms: i64, after: Option<&str>)
    -> Result<ListPage<ProcessorCharge>, ChannelError>;
    /// A page of the processor's customers, starting after `after`.
    async fn customers_page(&self, after: Option<&str>) -> Result<ListPage<ProcessorCustomer>, ChannelError>;
}
