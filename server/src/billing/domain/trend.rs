//! This period's usage charges so far beside the previous period's at the same point: what the
//! dashboard says about the month's direction.
use crate::shared::money::format_money;
use crate::shared::numbers::group_thousands;

/// The change from `before` to `now` in whole percent, toward zero; `None` with nothing before.
pub fn change_percent(now: i64, before: i64) -> Option<i64> {
    if before <= 0 {
        return None;
    }
    i64::try_from((i128::from(now) - i128::from(before)) * 100 / i128::from(before)).ok()
}

/// `Usage so far $120.00, up 12% on the same point last period ($107.14)`; from ten times up,
/// `152× the same point last period`.
pub fn describe_change(now: i64, before: i64, currency: &str) -> String {
    let so_far = format!("Usage so far {}", format_money(now, currency));
    let then = format_money(before, currency);
    match change_percent(now, before) {
        None => format!("{so_far}, none by this point last period"),
        Some(0) => format!("{so_far}, about the same as at this point last period ({then})"),
        Some(p) if p >= 900 => {
            format!("{so_far}, {}× the same point last period ({then})", group_thousands((now / before).unsigned_abs()))
        }
        Some(p) if p > 0 => format!("{so_far}, up {p}% on the same point last period ({then})"),
        Some(p) => format!("{so_far}, down {}% on the same point last period ({then})", p.unsigned_abs()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn changes_are_whole_percents_toward_zero_and_need_something_before() {
        assert_eq!(change_percent(112, 100), Some(12));
        assert_eq!(change_percent(95, 100), Some(-5));
        assert_eq!(change_percent(1, 3), Some(-66));
        assert_eq!(change_percent(5, 0), None);
        assert_eq!(change_percent(i64::MAX, 1), None, "beyond 64 bits is no figure, not a wrapped one");
        assert_eq!(change_percent(i64::MAX, i64::MAX), Some(0));
    }

    #[test]
    fn the_change_reads_as_a_sentence_with_both_amounts() {
        assert_eq!(
            describe_change(12_000, 10_714, "USD"),
            "Usage so far $120.00, up 12% on the same point last period ($107.14)"
        );
        assert_eq!(
            describe_change(9_500, 10_000, "USD"),
            "Usage so far $95.00, down 5% on the same point last period ($100.00)"
        );
        assert_eq!(
            describe_change(10_000, 10_000, "EUR"),
            "Usage so far €100.00, about the same as at this point last period (€100.00)"
        );
        assert_eq!(describe_change(700, 0, "USD"), "Usage so far $7.00, none by this point last period");
        // From ten times up a percentage stops reading well: a multiple does.
        assert_eq!(describe_change(13_691, 90, "USD"), "Usage so far $136.91, 152× the same point last period ($0.90)");
        assert_eq!(
            describe_change(1_000_000_000, 1, "USD"),
            "Usage so far $10,000,000.00, 1,000,000,000× the same point last period ($0.01)"
        );
        assert_eq!(
            describe_change(999, 100, "USD"),
            "Usage so far $9.99, up 899% on the same point last period ($1.00)"
        );
    }
}
