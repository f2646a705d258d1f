//! Subscription states and the only moves between them; a refused move names both states.

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SubscriptionStatus {
    Trialing,
    Active,
    /// A payment failed; dunning retries it.
    PastDue,
    /// Dunning ran out of retries: the service is paused until the customer pays.
    Suspended,
    Canceled,
}

impl SubscriptionStatus {
    pub const ALL: [Self; 5] = [Self::Trialing, Self::Active, Self::PastDue, Self::Suspended, Self::Canceled];

    pub fn as_str(self) -> &'static str {
        match self {
            Self::Trialing => "trialing",
            Self::Active => "active",
            Self::PastDue => "past_due",
            Self::Suspended => "suspended",
            Self::Canceled => "canceled",
        }
    }

    pub fn parse(text: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|s| s.as_str() == text)
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("a subscription cannot go from {from} to {to}", from = .from.as_str(), to = .to.as_str())]
pub struct IllegalSubscriptionTransition {
    pub from: SubscriptionStatus,
    pub to: SubscriptionStatus,
}

/// Canceled is final; a trial either converts or is canceled. Staff may suspend an active
/// subscription, and lifting a suspension returns to past due while an invoice is unpaid.
pub fn transition(
    from: SubscriptionStatus,
    to: SubscriptionStatus,
) -> Result<SubscriptionStatus, IllegalSubscriptionTransition> {
    use SubscriptionStatus::*;
    let allowed = matches!(
        (from, to),
        (Trialing, Active)
            | (Trialing, Canceled)
            | (Active, PastDue)
            | (Active, Canceled)
            | (Active, Suspended)
            | (PastDue, Active)
            | (PastDue, Suspended)
            | (PastDue, Canceled)
            | (Suspended, Active)
            | (Suspended, PastDue)
            | (Suspended, Canceled)
    );
    if allowed { Ok(to) } else { Err(IllegalSubscriptionTransition { from, to }) }
}

/// When a move to a cheaper plan takes effect. Upgrades always take effect at once.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum DowngradeTiming {
    PeriodEnd,
    Immediately,
}

/// The cause recorded on a staff suspension; paying never lifts one of these, only staff do.
pub const STAFF_SUSPENSION: &str = "suspended by staff";

#[cfg(test)]
mod tests {
    use super::SubscriptionStatus::*;
    use super::*;

    #[test]
    fn a_trial_converts_and_a_failed_payment_recovers() {
        let mut status = Trialing;
        for next in [Active, PastDue, Active, PastDue, Suspended, PastDue, Active, Suspended, Active, Canceled] {
            status = transition(status, next).unwrap();
        }
        assert_eq!(status, Canceled);
    }

    #[test]
    fn canceled_is_final_and_errors_name_both_states() {
        for to in SubscriptionStatus::ALL {
            assert!(transition(Canceled, to).is_err());
        }
        assert_eq!(
            transition(Trialing, Suspended).unwrap_err().to_string(),
            "a subscription cannot go from trialing to suspended"
        );
    }

    #[test]
    fn exactly_the_listed_moves_are_allowed_and_names_round_trip() {
        let all = SubscriptionStatus::ALL;
        let allowed =
            all.iter().flat_map(|&f| all.iter().map(move |&t| (f, t))).filter(|&(f, t)| transition(f, t).is_ok());
        assert_eq!(allowed.count(), 11);
        for status in all {
            assert_eq!(SubscriptionStatus::parse(status.as_str()), Some(status));
        }
    }
}
