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

/// A card is good through the last day of its expiry month (UTC); this is the first instant it
/// is not. None for a month or year that is not one.
pub fn lapses_at(exp_month: i64, exp_year: i64) -> Option<i64> {
    if !(1..=12).contains(&exp_month) {
        return None;
    }
    let (year, month) = if exp_month == 12 { (exp_year + 1, 1) } else { (exp_year, exp_month + 1) };
    let month = time::Month::try_from(u8::try_from(month).ok()?).ok()?;
    let first = time::Date::from_calendar_date(i32::try_from(year).ok()?, month, 1).ok()?;
    Some(first.midnight().assume_utc().unix_timestamp() * 1000)
}

#[cfg(test)]
mod tests {
    use super::*;

    const DAY: i64 = 86_400_000;

    #[test]
    fn a_card_lapses_when_its_expiry_month_is_over() {
        let december = lapses_at(12, 2026).unwrap();
        assert_eq!(december, crate::shared::time::parse_rfc3339_or_date("2027-01-01").unwrap());
        let march = lapses_at(3, 2027).unwrap();
        assert_eq!(march, crate::shared::time::parse_rfc3339_or_date("2027-04-01").unwrap());
        assert_eq!(march - lapses_at(2, 2027).unwrap(), 31 * DAY);
        assert_eq!(lapses_at(13, 2027), None);
        assert_eq!(lapses_at(0, 2027), None);
    }
}
