//! Stripe's test cards, as the built-in test-mode processor honours them.

/// Stripe's code for an off-session charge the card holder must authenticate.
pub const AUTHENTICATION_REQUIRED: &str = "authentication_required";
/// Stripe's code for a PaymentIntent whose authentication the card holder failed.
pub const AUTHENTICATION_FAILED: &str = "payment_intent_authentication_failure";

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CardBehaviour {
    /// `4242 4242 4242 4242`: every charge succeeds.
    Succeeds,
    /// `4000 0000 0000 0341`: attaches, but every charge is declined.
    DeclinesCharges,
    /// `4000 0000 0000 9995`: declined for insufficient funds.
    InsufficientFunds,
    /// `4000 0025 0000 3155`: needs authentication, so off-session charges fail.
    RequiresAuthentication,
}

impl CardBehaviour {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Succeeds => "succeeds",
            Self::DeclinesCharges => "declines_charges",
            Self::InsufficientFunds => "insufficient_funds",
            Self::RequiresAuthentication => "requires_authentication",
        }
    }

    pub fn parse(text: &str) -> Option<Self> {
        [Self::Succeeds, Self::DeclinesCharges, Self::InsufficientFunds, Self::RequiresAuthentication]
            .into_iter()
            .find(|b| b.as_str() == text)
    }

    /// What an off-session charge on this card answers: None for success, else Stripe's
    /// decline code and message.
    pub fn charge_failure(self) -> Option<(&'static str, &'static str)> {
        match self {
            Self::Succeeds => None,
            Self::DeclinesCharges => Some(("card_declined", "Your card was declined.")),
            Self::InsufficientFunds => Some(("insufficient_funds", "Your card has insufficient funds.")),
            Self::RequiresAuthentication => Some((
                AUTHENTICATION_REQUIRED,
                "Your card requires authentication, which is not possible for an automatic payment.",
            )),
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TestCard {
    pub behaviour: CardBehaviour,
    pub last4: String,
    pub brand: &'static str,
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CardError {
    #[error("must be 16 digits")]
    NotACardNumber,
    #[error("is not a valid card number")]
    FailsChecksum,
    #[error("is declined: your card was declined")]
    Declined,
    #[error("is not a test card; in test mode use e.g. 4242 4242 4242 4242")]
    NotATestCard,
}

/// Reads a card number as typed (spaces and dashes allowed) and finds its test behaviour.
pub fn test_card(number: &str) -> Result<TestCard, CardError> {
    let digits: String = number.chars().filter(|c| !matches!(c, ' ' | '-')).collect();
    if digits.len() != 16 || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return Err(CardError::NotACardNumber);
    }
    if !luhn_valid(&digits) {
        return Err(CardError::FailsChecksum);
    }
    let behaviour = match digits.as_str() {
        "4242424242424242" => CardBehaviour::Succeeds,
        "4000000000000341" => CardBehaviour::DeclinesCharges,
        "4000000000009995" => CardBehaviour::InsufficientFunds,
        "4000002500003155" => CardBehaviour::RequiresAuthentication,
        // Stripe's generic decline card is refused when it is attached.
        "4000000000000002" => return Err(CardError::Declined),
        _ => return Err(CardError::NotATestCard),
    };
    Ok(TestCard { behaviour, last4: digits[12..].to_owned(), brand: "visa" })
}

fn luhn_valid(digits: &str) -> bool {
    let sum: u32 = digits
        .bytes()
        .rev()
        .enumerate()
        .map(|(i, b)| {
            let d = u32::from(b - b'0');
            if i % 2 == 1 {
                let doubled = d * 2;
                if doubled > 9 { doubled - 9 } else { doubled }
            } else {
                d
            }
        })
        .sum();
    sum.is_multiple_of(10)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stripe_test_cards_have_their_documented_behaviours() {
        assert_eq!(test_card("4242 4242 4242 4242").unwrap().behaviour, CardBehaviour::Succeeds);
        assert_eq!(test_card("4000-0000-0000-0341").unwrap().behaviour, CardBehaviour::DeclinesCharges);
        assert_eq!(test_card("4000000000009995").unwrap().behaviour, CardBehaviour::InsufficientFunds);
        assert_eq!(test_card("4000 0025 0000 3155").unwrap().behaviour, CardBehaviour::RequiresAuthentication);
        assert_eq!(test_card("4242424242424242").unwrap().last4, "4242");
        assert_eq!(CardBehaviour::Succeeds.charge_failure(), None);
        assert_eq!(CardBehaviour::InsufficientFunds.charge_failure().unwrap().0, "insufficient_funds");
    }

    #[test]
    fn other_numbers_are_refused_with_a_reason() {
        assert_eq!(test_card("4242"), Err(CardError::NotACardNumber));
        assert_eq!(test_card("4242 4242 4242 424x"), Err(CardError::NotACardNumber));
        assert_eq!(test_card("4242 4242 4242 4241"), Err(CardError::FailsChecksum));
        assert_eq!(test_card("4000 0000 0000 0002"), Err(CardError::Declined));
        assert_eq!(test_card("5555 5555 5555 4444"), Err(CardError::NotATestCard));
    }

    #[test]
    fn behaviours_round_trip_through_their_names() {
        for number in ["4242424242424242", "4000000000000341", "4000000000009995", "4000002500003155"] {
            let behaviour = test_card(number).unwrap().behaviour;
            assert_eq!(CardBehaviour::parse(behaviour.as_str()), Some(behaviour));
        }
    }
}
