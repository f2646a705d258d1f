//! Double-entry postings. A `Posting` can only be built balanced: the debits equal the credits,
//! so no code path can write half of a money movement.

/// The ledger accounts each organization has.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Account {
    /// What the customer owes.
    Receivable,
    Revenue,
    /// Credits granted and not yet applied.
    CustomerCredit,
    /// Money collected by the processor and not yet paid out.
    ProcessorClearing,
    /// Money received for an invoice no longer owed, held until it is refunded.
    Overpayments,
    /// Money the card network took back while a dispute is open.
    Disputed,
    /// What disputes cost in processor fees.
    DisputeFees,
    /// What coupons took off invoices: revenue given away, kept apart so it can be read.
    Discounts,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Entry {
    pub account: Account,
    /// Positive debit, negative credit, in minor units.
    pub amount_minor: i64,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Posting {
    entries: Vec<Entry>,
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PostingError {
    #[error("debits and credits differ by {0} minor units")]
    Unbalanced(i64),
    #[error("a posting needs at least one non-zero entry")]
    Empty,
}

impl Posting {
    pub fn new(entries: Vec<Entry>) -> Result<Self, PostingError> {
        let entries: Vec<Entry> = entries.into_iter().filter(|e| e.amount_minor != 0).collect();
        if entries.is_empty() {
            return Err(PostingError::Empty);
        }
        let sum: i64 = entries.iter().map(|e| e.amount_minor).sum();
        if sum != 0 {
            return Err(PostingError::Unbalanced(sum));
        }
        Ok(Self { entries })
    }

    pub fn entries(&self) -> &[Entry] {
        &self.entries
    }

    /// Finalizing an invoice: the customer owes its total, first reduced by available credit.
    pub fn invoice_finalized(total_minor: i64, credit_applied_minor: i64) -> Result<Self, PostingError> {
        Self::new(vec![
            Entry { account: Account::Receivable, amount_minor: total_minor - credit_applied_minor },
            Entry { account: Account::CustomerCredit, amount_minor: credit_applied_minor },
            Entry { account: Account::Revenue, amount_minor: -total_minor },
        ])
    }

    /// A coupon's discount on a finalized invoice: the invoice posts what is owed, and this
    /// posting the rest of its revenue, given away.
    pub fn invoice_discounted(discount_minor: i64) -> Result<Self, PostingError> {
        Self::new(vec![
            Entry { account: Account::Discounts, amount_minor: discount_minor },
            Entry { account: Account::Revenue, amount_minor: -discount_minor },
        ])
    }

    /// Voiding a discounted invoice takes back its discount with it.
    pub fn invoice_discount_voided(discount_minor: i64) -> Result<Self, PostingError> {
        Self::new(vec![
            Entry { account: Account::Revenue, amount_minor: discount_minor },
            Entry { account: Account::Discounts, amount_minor: -discount_minor },
        ])
    }

    pub fn payment_received(amount_minor: i64) -> Result<Self, PostingError> {
        Self::new(vec![
            Entry { account: Account::ProcessorClearing, amount_minor },
            Entry { account: Account::Receivable, amount_minor: -amount_minor },
        ])
    }

    /// Money given back to the customer through the processor: revenue reversed.
    pub fn payment_refunded(amount_minor: i64) -> Result<Self, PostingError> {
        Self::new(vec![
            Entry { account: Account::Revenue, amount_minor },
            Entry { account: Account::ProcessorClearing, amount_minor: -amount_minor },
        ])
    }

    /// A credit granted by staff: revenue given back, held for the next invoices.
    /// A payment for an invoice no longer owed: received, but owed back to the customer.
    pub fn overpayment_received(amount_minor: i64) -> Result<Self, PostingError> {
        Self::new(vec![
            Entry { account: Account::ProcessorClearing, amount_minor },
            Entry { account: Account::Overpayments, amount_minor: -amount_minor },
        ])
    }

    /// An overpayment given back: it never was revenue, so only the amount held moves.
    pub fn overpayment_refunded(amount_minor: i64) -> Result<Self, PostingError> {
        Self::new(vec![
            Entry { account: Account::Overpayments, amount_minor },
            Entry { account: Account::ProcessorClearing, amount_minor: -amount_minor },
        ])
    }

    /// A dispute's funds taken back, and its fee: the processor's balance pays both.
    pub fn dispute_funds_withdrawn(amount_minor: i64, fee_minor: i64) -> Result<Self, PostingError> {
        Self::new(vec![
            Entry { account: Account::Disputed, amount_minor },
            Entry { account: Account::DisputeFees, amount_minor: fee_minor },
            Entry { account: Account::ProcessorClearing, amount_minor: -(amount_minor + fee_minor) },
        ])
    }

    /// A dispute won: the funds come back, and the fee if the processor returns it.
    pub fn dispute_funds_reinstated(amount_minor: i64, fee_minor: i64) -> Result<Self, PostingError> {
        Self::new(vec![
            Entry { account: Account::ProcessorClearing, amount_minor: amount_minor + fee_minor },
            Entry { account: Account::Disputed, amount_minor: -amount_minor },
            Entry { account: Account::DisputeFees, amount_minor: -fee_minor },
        ])
    }

    /// A dispute lost: what was held is gone for good, and so is the revenue it paid for.
    pub fn dispute_lost(amount_minor: i64) -> Result<Self, PostingError> {
        Self::new(vec![
            Entry { account: Account::Revenue, amount_minor },
            Entry { account: Account::Disputed, amount_minor: -amount_minor },
        ])
    }

    /// A dispute lost on money held as an overpayment: the bank gave back what we still owed
    /// back (`held_minor`), so that debt is settled; any more was refunded already and is lost.
    pub fn overpayment_dispute_lost(amount_minor: i64, held_minor: i64) -> Result<Self, PostingError> {
        let settled = held_minor.clamp(0, amount_minor);
        Self::new(vec![
            Entry { account: Account::Overpayments, amount_minor: settled },
            Entry { account: Account::Revenue, amount_minor: amount_minor - settled },
            Entry { account: Account::Disputed, amount_minor: -amount_minor },
        ])
    }

    pub fn credit_granted(amount_minor: i64) -> Result<Self, PostingError> {
        Self::new(vec![
            Entry { account: Account::Revenue, amount_minor },
            Entry { account: Account::CustomerCredit, amount_minor: -amount_minor },
        ])
    }

    /// Voiding reverses the finalization exactly: the credit it used goes back to the customer.
    pub fn invoice_voided(total_minor: i64, credit_applied_minor: i64) -> Result<Self, PostingError> {
        Self::new(vec![
            Entry { account: Account::Receivable, amount_minor: credit_applied_minor - total_minor },
            Entry { account: Account::CustomerCredit, amount_minor: -credit_applied_minor },
            Entry { account: Account::Revenue, amount_minor: total_minor },
        ])
    }

    /// The unused rest of an expired credit is no longer owed to the customer.
    pub fn credit_expired(amount_minor: i64) -> Result<Self, PostingError> {
        Self::new(vec![
            Entry { account: Account::CustomerCredit, amount_minor },
            Entry { account: Account::Revenue, amount_minor: -amount_minor },
        ])
    }
}

/// The balance of one account over postings (debits positive).
pub fn balance(postings: &[Posting], account: Account) -> i64 {
    postings.iter().flat_map(|p| p.entries()).filter(|e| e.account == account).map(|e| e.amount_minor).sum()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn unbalanced_or_empty_postings_cannot_be_built() {
        let one_sided = vec![Entry { account: Account::Receivable, amount_minor: 100 }];
        assert_eq!(Posting::new(one_sided), Err(PostingError::Unbalanced(100)));
        assert_eq!(Posting::new(vec![]), Err(PostingError::Empty));
    }

    #[test]
    fn an_invoice_paid_after_a_credit_leaves_nothing_owed() {
        let postings = vec![
            Posting::credit_granted(2_000).unwrap(),
            Posting::invoice_finalized(10_000, 2_000).unwrap(),
            Posting::payment_received(8_000).unwrap(),
        ];
        assert_eq!(balance(&postings, Account::Receivable), 0);
        assert_eq!(balance(&postings, Account::CustomerCredit), 0);
        assert_eq!(balance(&postings, Account::Revenue), -8_000);
        assert_eq!(balance(&postings, Account::ProcessorClearing), 8_000);
    }

    #[test]
    fn a_lost_dispute_of_an_overpayment_settles_what_was_held_and_loses_the_rest() {
        let entries =
            |posting: Posting| posting.entries().iter().map(|e| (e.account, e.amount_minor)).collect::<Vec<_>>();
        let all_held = Posting::overpayment_dispute_lost(5_000, 5_000).unwrap();
        assert_eq!(entries(all_held), vec![(Account::Overpayments, 5_000), (Account::Disputed, -5_000)]);
        let refunded_before = Posting::overpayment_dispute_lost(5_000, 0).unwrap();
        assert_eq!(entries(refunded_before), vec![(Account::Revenue, 5_000), (Account::Disputed, -5_000)]);
    }

    #[test]
    fn a_discounted_invoice_books_its_whole_revenue_and_what_was_given_away() {
        let postings = vec![
            Posting::invoice_finalized(8_000, 0).unwrap(),
            Posting::invoice_discounted(2_000).unwrap(),
            Posting::payment_received(8_000).unwrap(),
        ];
        assert_eq!(balance(&postings, Account::Revenue), -10_000);
        assert_eq!(balance(&postings, Account::Discounts), 2_000);
        assert_eq!(balance(&postings, Account::Receivable), 0);
        let voided = vec![
            Posting::invoice_finalized(8_000, 0).unwrap(),
            Posting::invoice_discounted(2_000).unwrap(),
            Posting::invoice_voided(8_000, 0).unwrap(),
            Posting::invoice_discount_voided(2_000).unwrap(),
        ];
        assert_eq!((balance(&voided, Account::Revenue), balance(&voided, Account::Discounts)), (0, 0));
    }

    #[test]
    fn a_void_undoes_its_finalization_and_returns_the_credit() {
        let postings = vec![
            Posting::credit_granted(2_000).unwrap(),
            Posting::invoice_finalized(10_000, 2_000).unwrap(),
            Posting::invoice_voided(10_000, 2_000).unwrap(),
        ];
        assert_eq!(balance(&postings, Account::Receivable), 0);
        assert_eq!(balance(&postings, Account::CustomerCredit), -2_000);
    }

    #[test]
    fn an_overpayment_refunded_leaves_revenue_and_the_receivable_untouched() {
        let postings = vec![
            Posting::invoice_finalized(10_000, 0).unwrap(),
            Posting::payment_received(10_000).unwrap(),
            Posting::overpayment_received(10_000).unwrap(),
            Posting::overpayment_refunded(10_000).unwrap(),
        ];
        assert_eq!(balance(&postings, Account::Receivable), 0);
        assert_eq!(balance(&postings, Account::Overpayments), 0);
        assert_eq!(balance(&postings, Account::Revenue), -10_000);
        assert_eq!(balance(&postings, Account::ProcessorClearing), 10_000);
    }

    #[test]
    fn a_dispute_lost_costs_the_revenue_and_the_fee_and_one_won_costs_nothing() {
        let paid = [Posting::invoice_finalized(10_000, 0).unwrap(), Posting::payment_received(10_000).unwrap()];
        let mut lost = paid.to_vec();
        lost.extend([Posting::dispute_funds_withdrawn(10_000, 1_500).unwrap(), Posting::dispute_lost(10_000).unwrap()]);
        assert_eq!(balance(&lost, Account::Revenue), 0);
        assert_eq!(balance(&lost, Account::Disputed), 0);
        assert_eq!(balance(&lost, Account::DisputeFees), 1_500);
        assert_eq!(balance(&lost, Account::ProcessorClearing), -1_500);
        let mut won = paid.to_vec();
        won.extend([
            Posting::dispute_funds_withdrawn(10_000, 1_500).unwrap(),
            Posting::dispute_funds_reinstated(10_000, 1_500).unwrap(),
        ]);
        assert_eq!(balance(&won, Account::Revenue), -10_000);
        assert_eq!((balance(&won, Account::Disputed), balance(&won, Account::DisputeFees)), (0, 0));
        assert_eq!(balance(&won, Account::ProcessorClearing), 10_000);
    }

    proptest::proptest! {
        /// Every posting the code can build balances, whatever the amounts.
        #[test]
        fn every_built_posting_sums_to_zero(total in 0i64..i64::MAX / 4, credit_share in 0i64..=100) {
            let credit = total / 100 * credit_share;
            for posting in [
                Posting::invoice_finalized(total, credit),
                Posting::payment_received(total),
                Posting::credit_granted(total),
                Posting::invoice_voided(total, credit),
                Posting::credit_expired(total),
                Posting::payment_refunded(total),
                Posting::overpayment_received(total),
                Posting::overpayment_refunded(total),
                Posting::dispute_funds_withdrawn(total, credit),
                Posting::dispute_funds_reinstated(total, credit),
                Posting::overpayment_dispute_lost(total, credit),
                Posting::dispute_lost(total),
                Posting::invoice_discounted(total),
                Posting::invoice_discount_voided(total),
            ]
            .into_iter()
            .flatten()
            {
                proptest::prop_assert_eq!(posting.entries().iter().map(|e| e.amount_minor).sum::<i64>(), 0);
            }
        }
    }
}
