//! Money in integer minor units. Intermediate amounts are exact fractions of a minor unit (i128
//! numerator over a positive denominator); they are rounded once, per invoice line, half-up.
use crate::shared::numbers::group_thousands;

/// A money amount or quantity sum too large for a 64-bit integer of minor units.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("an amount or quantity is too large to bill")]
pub struct AmountOutOfRange;

/// The sum of minor amounts or quantities, or an error instead of a wrapped total.
pub fn checked_sum(values: impl IntoIterator<Item = i64>) -> Result<i64, AmountOutOfRange> {
    values.into_iter().try_fold(0i64, |sum, value| sum.checked_add(value).ok_or(AmountOutOfRange))
}

/// An exact amount in minor units: `numerator / denominator`, denominator > 0.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Exact {
    pub numerator: i128,
    pub denominator: i128,
}

impl Exact {
    pub fn whole(minor: i64) -> Self {
        Self { numerator: minor as i128, denominator: 1 }
    }

    /// `quantity × minor / per`: a price of `minor` per `per` units.
    pub fn of_units(quantity: i64, minor: i64, per: i64) -> Self {
        Self { numerator: quantity as i128 * minor as i128, denominator: per.max(1) as i128 }
    }

    /// The one rounding rule: half-up (away from zero at exactly one half), to the minor unit.
    /// An amount beyond what a minor-unit integer holds is an error, never a wrapped number.
    pub fn round_half_up(self) -> Result<i64, AmountOutOfRange> {
        let (n, d) = (self.numerator, self.denominator);
        let twice = n.unsigned_abs().checked_mul(2).ok_or(AmountOutOfRange)?;
        let magnitude = twice.checked_add(d.unsigned_abs()).ok_or(AmountOutOfRange)? / (2 * d.unsigned_abs());
        let magnitude = i64::try_from(magnitude).map_err(|_| AmountOutOfRange)?;
        Ok(if n >= 0 { magnitude } else { -magnitude })
    }

    /// Fixed-point text for audit records: the unrounded amount to six decimals of a minor unit.
    pub fn audit_text(self) -> String {
        let micro = (self.numerator * 1_000_000) / self.denominator;
        let sign = if micro < 0 { "-" } else { "" };
        format!("{sign}{}.{:06}", micro.abs() / 1_000_000, micro.abs() % 1_000_000)
    }
}

/// `12345` minor units of a two-decimal currency → `123.45`.
pub fn format_minor(minor: i64) -> String {
    let sign = if minor < 0 { "-" } else { "" };
    format!("{sign}{}.{:02}", minor.unsigned_abs() / 100, minor.unsigned_abs() % 100)
}

/// `25`, `25.5` or `25.50` → 2550 minor units. Only non-negative amounts with at most two
/// decimals; anything else is refused with the reason.
pub fn parse_minor(text: &str) -> Result<i64, &'static str> {
    let text = text.trim();
    let (whole, fraction) = text.split_once('.').unwrap_or((text, ""));
    let digits = |s: &str| !s.is_empty() && s.len() <= 12 && s.bytes().all(|b| b.is_ascii_digit());
    if !digits(whole) || (!fraction.is_empty() && !digits(fraction)) || text.ends_with('.') {
        return Err("must be an amount such as 25 or 25.50");
    }
    if fraction.len() > 2 {
        return Err("has more than two decimals");
    }
    let whole: i64 = whole.parse().map_err(|_| "is too large")?;
    let cents: i64 = format!("{fraction:0<2}").parse().map_err(|_| "is not a number")?;
    Ok(whole * 100 + cents)
}

/// `184250` minor units of `USD` → `$1,842.50`: how amounts are shown everywhere. Currencies
/// without a symbol of their own here keep their code: `1,842.50 CHF`.
pub fn format_money(minor: i64, currency: &str) -> String {
    let sign = if minor < 0 { "-" } else { "" };
    let amount = format!("{}.{:02}", group_thousands(minor.unsigned_abs() / 100), minor.unsigned_abs() % 100);
    match currency_symbol(currency) {
        Some(symbol) => format!("{sign}{symbol}{amount}"),
        None => format!("{sign}{amount} {currency}"),
    }
}

fn currency_symbol(currency: &str) -> Option<&'static str> {
    match currency {
        "USD" => Some("$"),
        "EUR" => Some("€"),
        "GBP" => Some("£"),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn amounts_parse_to_minor_units_or_say_what_is_wrong() {
        assert_eq!(parse_minor("25"), Ok(2_500));
        assert_eq!(parse_minor("25.5"), Ok(2_550));
        assert_eq!(parse_minor(" 0.07 "), Ok(7));
        for bad in ["", "-5", "1.234", "1e3", "abc", "1.", ".5", "1,000.00", "9999999999999"] {
            assert!(parse_minor(bad).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn rounds_half_up_once() {
        assert_eq!(Exact { numerator: 5, denominator: 10 }.round_half_up(), Ok(1));
        assert_eq!(Exact { numerator: 4, denominator: 10 }.round_half_up(), Ok(0));
        assert_eq!(Exact { numerator: 15, denominator: 10 }.round_half_up(), Ok(2));
        assert_eq!(Exact { numerator: 25, denominator: 10 }.round_half_up(), Ok(3));
        assert_eq!(Exact { numerator: -5, denominator: 10 }.round_half_up(), Ok(-1));
        assert_eq!(Exact { numerator: -4, denominator: 10 }.round_half_up(), Ok(0));
        assert_eq!(Exact::whole(700).round_half_up(), Ok(700));
    }

    #[test]
    fn fractional_unit_prices_stay_exact_until_the_line_is_rounded() {
        // 25.00 USD per million actions, 1,234,567 actions → 3086.4175 cents → 3086.
        let amount = Exact::of_units(1_234_567, 2_500, 1_000_000);
        assert_eq!(amount.audit_text(), "3086.417500");
        assert_eq!(amount.round_half_up(), Ok(3086));
    }

    #[test]
    fn minor_units_print_with_two_decimals() {
        assert_eq!(format_minor(12_345), "123.45");
        assert_eq!(format_minor(5), "0.05");
        assert_eq!(format_minor(-250), "-2.50");
        assert_eq!(format_money(-5_161, "USD"), "-$51.61");
        assert_eq!(format_money(184_250, "USD"), "$1,842.50");
        assert_eq!(format_money(100_000_000, "EUR"), "€1,000,000.00");
        assert_eq!(format_money(7, "GBP"), "£0.07");
        assert_eq!(format_money(184_250, "CHF"), "1,842.50 CHF");
    }

    #[test]
    fn no_overflow_at_the_largest_quantities() {
        let amount = Exact::of_units(1_000_000_000_000, 1_000_000, 1);
        assert_eq!(amount.round_half_up(), Ok(1_000_000_000_000_000_000));
    }

    #[test]
    fn amounts_beyond_64_bits_are_errors_not_wrapped_numbers() {
        assert_eq!(Exact::of_units(i64::MAX, i64::MAX, 1).round_half_up(), Err(AmountOutOfRange));
        assert_eq!(Exact::of_units(-i64::MAX, i64::MAX, 1).round_half_up(), Err(AmountOutOfRange));
        assert_eq!(Exact::of_units(i64::MAX, 2, 2).round_half_up(), Ok(i64::MAX));
        assert_eq!(checked_sum([i64::MAX, 1]), Err(AmountOutOfRange));
        assert_eq!(checked_sum([i64::MAX, 1, -1]), Err(AmountOutOfRange));
        assert_eq!(checked_sum([5, -2, 7]), Ok(10));
    }
}
