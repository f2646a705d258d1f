//! Invoice states and the only moves between them. Every state is explicit, and a refused move
//! names both states.

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum InvoiceStatus {
    /// Re-rated from the rollups while late usage may still arrive (the grace period).
    Draft,
    /// Lines frozen, number assigned, ledger posted.
    Finalized,
    /// Payment due.
    Open,
    Paid,
    Uncollectible,
    Void,
}

impl InvoiceStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Draft => "draft",
            Self::Finalized => "finalized",
            Self::Open => "open",
            Self::Paid => "paid",
            Self::Uncollectible => "uncollectible",
            Self::Void => "void",
        }
    }

    pub fn parse(text: &str) -> Option<Self> {
        use InvoiceStatus::*;
        [Draft, Finalized, Open, Paid, Uncollectible, Void].into_iter().find(|s| s.as_str() == text)
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("an invoice cannot go from {from} to {to}", from = .from.as_str(), to = .to.as_str())]
pub struct IllegalTransition {
    pub from: InvoiceStatus,
    pub to: InvoiceStatus,
}

/// Paid is final: a late "payment failed" can never move a paid invoice back.
pub fn transition(from: InvoiceStatus, to: InvoiceStatus) -> Result<InvoiceStatus, IllegalTransition> {
    use InvoiceStatus::*;
    let allowed = matches!(
        (from, to),
        (Draft, Finalized)
            | (Finalized, Open)
            | (Open, Paid)
            | (Open, Uncollectible)
            | (Open, Void)
            | (Finalized, Void)
            | (Uncollectible, Paid)
    );
    if allowed { Ok(to) } else { Err(IllegalTransition { from, to }) }
}

/// `INV-2026-000123`: gapless per organization and year.
pub fn invoice_number(year: i32, sequence: u32) -> String {
    format!("INV-{year}-{sequence:06}")
}

#[cfg(test)]
mod tests {
    use super::InvoiceStatus::*;
    use super::*;

    const ALL: [InvoiceStatus; 6] = [Draft, Finalized, Open, Paid, Uncollectible, Void];

    #[test]
    fn the_happy_path_is_allowed() {
        let mut status = Draft;
        for next in [Finalized, Open, Paid] {
            status = transition(status, next).unwrap();
        }
        assert_eq!(status, Paid);
    }

    #[test]
    fn paid_and_void_are_final() {
        for to in ALL {
            assert!(transition(Paid, to).is_err());
            assert!(transition(Void, to).is_err());
        }
    }

    #[test]
    fn a_draft_cannot_be_paid_or_voided_and_the_error_names_both_states() {
        let error = transition(Draft, Paid).unwrap_err();
        assert_eq!(error.to_string(), "an invoice cannot go from draft to paid");
        assert!(transition(Draft, Void).is_err());
    }

    #[test]
    fn exactly_the_listed_moves_are_allowed() {
        let allowed = ALL
            .iter()
            .flat_map(|&f| ALL.iter().map(move |&t| (f, t)))
            .filter(|&(f, t)| transition(f, t).is_ok())
            .count();
        assert_eq!(allowed, 7);
    }

    #[test]
    fn numbers_are_zero_padded() {
        assert_eq!(invoice_number(2026, 123), "INV-2026-000123");
    }
}
