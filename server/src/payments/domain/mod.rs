//! Pure rules of payments.
pub mod card;
pub mod dunning;
pub mod status;
pub mod stripe_event;
pub mod stripe_signature;
pub mod test_cards;
