//! A plan change in the middle of a period: credit for the unused time of the old base fee,
//! charge for the remaining time of the new one, computed to the second and rounded once per line.
use crate::shared::money::{AmountOutOfRange, Exact, checked_sum};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ProrationInput {
    pub period_start_ms: i64,
    pub period_end_ms: i64,
    pub change_at_ms: i64,
    pub old_base_fee_minor: i64,
    pub new_base_fee_minor: i64,
}

/// Every input and result is kept, so an auditor can recompute it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Proration {
    pub input: ProrationInput,
    pub remaining_seconds: i64,
    pub period_seconds: i64,
    /// Negative: money back for the old plan's unused time.
    pub credit_minor: i64,
    pub charge_minor: i64,
    pub net_minor: i64,
    pub credit_unrounded: Exact,
    pub charge_unrounded: Exact,
}

impl Proration {
    /// Remaining time in days with one decimal, for people.
    pub fn remaining_days(&self) -> String {
        let tenths = (self.remaining_seconds * 10 + 43_200) / 86_400;
        format!("{}.{}", tenths / 10, tenths % 10)
    }
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ProrationError {
    #[error("the change must fall inside the billing period")]
    OutsidePeriod,
    #[error(transparent)]
    Amount(#[from] AmountOutOfRange),
}

/// A change that waits for the period end: the old plan runs its whole period, nothing to prorate.
pub fn at_period_end(input: ProrationInput) -> Proration {
    let period_seconds = (input.period_end_ms - input.period_start_ms) / 1000;
    Proration {
        input: ProrationInput { change_at_ms: input.period_end_ms, ..input },
        remaining_seconds: 0,
        period_seconds,
        credit_minor: 0,
        charge_minor: 0,
        net_minor: 0,
        credit_unrounded: Exact::whole(0),
        charge_unrounded: Exact::whole(0),
    }
}

pub fn prorate(input: ProrationInput) -> Result<Proration, ProrationError> {
    let ProrationInput { period_start_ms, period_end_ms, change_at_ms, .. } = input;
    if !(period_start_ms <= change_at_ms && change_at_ms < period_end_ms) {
        return Err(ProrationError::OutsidePeriod);
    }
    let period_seconds = (period_end_ms - period_start_ms) / 1000;
    let remaining_seconds = (period_end_ms - change_at_ms) / 1000;
    let share = |fee: i64| Exact {
        numerator: fee as i128 * remaining_seconds as i128,
        denominator: period_seconds.max(1) as i128,
    };
    let credit_unrounded =
        Exact { numerator: -share(input.old_base_fee_minor).numerator, ..share(input.old_base_fee_minor) };
    let charge_unrounded = share(input.new_base_fee_minor);
    let (credit_minor, charge_minor) = (credit_unrounded.round_half_up()?, charge_unrounded.round_half_up()?);
    Ok(Proration {
        input,
        remaining_seconds,
        period_seconds,
        credit_minor,
        charge_minor,
        net_minor: checked_sum([credit_minor, charge_minor])?,
        credit_unrounded,
        charge_unrounded,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    const DAY: i64 = 86_400_000;

    fn input(change_day: i64, old: i64, new: i64) -> ProrationInput {
        ProrationInput {
            period_start_ms: 0,
            period_end_ms: 30 * DAY,
            change_at_ms: change_day * DAY,
            old_base_fee_minor: old,
            new_base_fee_minor: new,
        }
    }

    #[test]
    fn an_upgrade_halfway_credits_half_the_old_fee_and_charges_half_the_new() {
        let p = prorate(input(15, 10_000, 50_000)).unwrap();
        assert_eq!((p.credit_minor, p.charge_minor, p.net_minor), (-5_000, 25_000, 20_000));
        assert_eq!(p.remaining_days(), "15.0");
    }

    #[test]
    fn a_downgrade_nets_to_a_credit() {
        let p = prorate(input(10, 50_000, 10_000)).unwrap();
        assert_eq!(p.net_minor, -33_333 + 6_667);
        assert!(p.net_minor < 0);
    }

    #[test]
    fn the_remaining_time_is_counted_to_the_second() {
        let mut i = input(0, 0, 2_592_000);
        i.change_at_ms = 30 * DAY - 1_000;
        assert_eq!(prorate(i).unwrap().charge_minor, 1, "one second of a 2,592,000-per-30-days fee");
    }

    #[test]
    fn a_change_outside_the_period_is_refused() {
        assert_eq!(prorate(input(30, 1, 2)), Err(ProrationError::OutsidePeriod));
        assert_eq!(prorate(input(-1, 1, 2)), Err(ProrationError::OutsidePeriod));
    }

    proptest::proptest! {
        /// At any second of the period: the credit is at most the old fee, the charge at most the
        /// new one, both shrink as the change comes later, and an unchanged fee nets to zero.
        #[test]
        fn prorated_amounts_stay_within_the_fees(
            second in 0i64..30 * 86_400,
            later in 1i64..86_400,
            old in 0i64..10_000_000_000,
            new in 0i64..10_000_000_000,
        ) {
            let mut i = input(0, old, new);
            i.change_at_ms = second * 1000;
            let p = prorate(i).unwrap();
            proptest::prop_assert!(-old <= p.credit_minor && p.credit_minor <= 0);
            proptest::prop_assert!(0 <= p.charge_minor && p.charge_minor <= new);
            proptest::prop_assert_eq!(p.net_minor, p.credit_minor + p.charge_minor);
            i.change_at_ms = ((second + later) * 1000).min(30 * DAY - 1000);
            let after = prorate(i).unwrap();
            proptest::prop_assert!(after.charge_minor <= p.charge_minor && after.credit_minor >= p.credit_minor);
            let same = prorate(ProrationInput { new_base_fee_minor: old, ..i }).unwrap();
            proptest::prop_assert_eq!(same.net_minor, 0);
        }
    }
}
