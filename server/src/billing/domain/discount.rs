//! Coupons: what they take off an invoice and for how many invoices. Pure.
use super::invoice_builder::{InvoiceLine, LineKind};
use crate::shared::money::{AmountOutOfRange, Exact, format_money};

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AmountOff {
    /// 1 to 100.
    Percent(i64),
    /// A fixed amount, only off invoices in its currency.
    Fixed { minor: i64, currency: String },
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Duration {
    Once,
    /// The next N invoices.
    Repeating(i64),
    Forever,
}

impl Duration {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Once => "once",
            Self::Repeating(_) => "repeating",
            Self::Forever => "forever",
        }
    }

    /// From the stored pair (duration, duration_invoices).
    pub fn parse(text: &str, invoices: Option<i64>) -> Option<Self> {
        match (text, invoices) {
            ("once", None) => Some(Self::Once),
            ("repeating", Some(n)) if n > 0 => Some(Self::Repeating(n)),
            ("forever", None) => Some(Self::Forever),
            _ => None,
        }
    }

    pub fn invoices(self) -> Option<i64> {
        match self {
            Self::Once => Some(1),
            Self::Repeating(n) => Some(n),
            Self::Forever => None,
        }
    }

    /// Whether one more invoice is discounted after `used` were.
    pub fn covers_another(self, used: i64) -> bool {
        self.invoices().is_none_or(|n| used < n)
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CouponTerms {
    pub off: AmountOff,
    pub duration: Duration,
}

impl CouponTerms {
    /// "20% off the next 3 invoices", "25.00 USD off the next invoice", "10% off every invoice".
    pub fn describe(&self) -> String {
        let off = match &self.off {
            AmountOff::Percent(percent) => format!("{percent}% off"),
            AmountOff::Fixed { minor, currency } => format!("{} off", format_money(*minor, currency)),
        };
        match self.duration {
            Duration::Once => format!("{off} the next invoice"),
            Duration::Repeating(n) => format!("{off} the next {n} invoices"),
            Duration::Forever => format!("{off} every invoice"),
        }
    }

    /// What comes off an invoice of `gross_minor`: never more than the invoice, nothing off an
    /// invoice that owes nothing or is in another currency than a fixed amount. Rounded once.
    pub fn discount_minor(&self, gross_minor: i64, currency: &str) -> Result<i64, AmountOutOfRange> {
        if gross_minor <= 0 {
            return Ok(0);
        }
        let off = match &self.off {
            AmountOff::Percent(percent) => {
                Exact { numerator: gross_minor as i128 * *percent as i128, denominator: 100 }.round_half_up()?
            }
            AmountOff::Fixed { minor, currency: own } if own == currency => *minor,
            AmountOff::Fixed { .. } => 0,
        };
        Ok(off.clamp(0, gross_minor))
    }
}

/// The invoice line of a discount: a negative amount named after the code and its terms.
pub fn discount_line(code: &str, terms: &CouponTerms, amount_minor: i64) -> InvoiceLine {
    InvoiceLine {
        kind: LineKind::Discount,
        description: format!("Discount {code}: {}", terms.describe()),
        namespace_id: None,
        metric: None,
        tier: None,
        quantity: 1,
        unit_price: None,
        amount_minor: -amount_minor,
        unrounded: Exact::whole(-amount_minor),
        usage_period: None,
    }
}

pub const CODE_LENGTH: std::ops::RangeInclusive<usize> = 3..=32;

/// A promotion code as stored: trimmed and upper case, letters, digits, `-` and `_` only.
pub fn normalize_code(text: &str) -> Result<String, &'static str> {
    let code = text.trim().to_ascii_uppercase();
    if code.is_empty() {
        return Err("is required");
    }
    if !CODE_LENGTH.contains(&code.len()) {
        return Err("must be 3 to 32 characters");
    }
    if !code.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_') {
        return Err("may hold only letters, digits, - and _");
    }
    Ok(code)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn percent(p: i64, duration: Duration) -> CouponTerms {
        CouponTerms { off: AmountOff::Percent(p), duration }
    }

    fn fixed(minor: i64) -> CouponTerms {
        CouponTerms { off: AmountOff::Fixed { minor, currency: "USD".into() }, duration: Duration::Once }
    }

    #[test]
    fn a_percentage_is_rounded_once_half_up() {
        let terms = percent(15, Duration::Once);
        assert_eq!(terms.discount_minor(10_000, "USD"), Ok(1_500));
        // 15% of 1,003 is 150.45; of 1,010 is 151.5, which rounds up.
        assert_eq!(terms.discount_minor(1_003, "USD"), Ok(150));
        assert_eq!(terms.discount_minor(1_010, "USD"), Ok(152));
        assert_eq!(percent(100, Duration::Forever).discount_minor(4_321, "EUR"), Ok(4_321));
    }

    #[test]
    fn a_fixed_amount_never_exceeds_the_invoice_and_keeps_to_its_currency() {
        assert_eq!(fixed(2_500).discount_minor(10_000, "USD"), Ok(2_500));
        assert_eq!(fixed(2_500).discount_minor(1_000, "USD"), Ok(1_000));
        assert_eq!(fixed(2_500).discount_minor(10_000, "EUR"), Ok(0));
    }

    #[test]
    fn nothing_comes_off_a_credit_note_or_an_empty_invoice() {
        assert_eq!(percent(50, Duration::Once).discount_minor(0, "USD"), Ok(0));
        assert_eq!(percent(50, Duration::Once).discount_minor(-700, "USD"), Ok(0));
        assert_eq!(fixed(100).discount_minor(-700, "USD"), Ok(0));
    }

    #[test]
    fn durations_count_the_invoices_discounted() {
        assert!(Duration::Once.covers_another(0));
        assert!(!Duration::Once.covers_another(1));
        assert!(Duration::Repeating(3).covers_another(2));
        assert!(!Duration::Repeating(3).covers_another(3));
        assert!(Duration::Forever.covers_another(1_000));
        assert_eq!(Duration::parse("repeating", Some(3)), Some(Duration::Repeating(3)));
        assert_eq!(Duration::parse("repeating", None), None);
        assert_eq!(Duration::parse("once", Some(2)), None);
    }

    #[test]
    fn terms_and_lines_read_as_a_customer_would_say_them() {
        assert_eq!(percent(20, Duration::Repeating(3)).describe(), "20% off the next 3 invoices");
        assert_eq!(fixed(2_500).describe(), "$25.00 off the next invoice");
        let line = discount_line("SPRING", &percent(10, Duration::Forever), 1_234);
        assert_eq!((line.kind, line.amount_minor), (LineKind::Discount, -1_234));
        assert_eq!(line.description, "Discount SPRING: 10% off every invoice");
    }

    #[test]
    fn codes_are_stored_upper_case_and_checked() {
        assert_eq!(normalize_code("  spring-25 "), Ok("SPRING-25".into()));
        assert!(normalize_code("").is_err());
        assert!(normalize_code("ab").is_err());
        assert!(normalize_code("SPRING 25").is_err());
        assert!(normalize_code(&"A".repeat(33)).is_err());
    }

    proptest::proptest! {
        /// Whatever the invoice and the coupon, the discount lies between nothing and the invoice.
        #[test]
        fn a_discount_never_exceeds_the_invoice(gross in -1_000_000i64..i64::MAX / 2, p in 1i64..=100, minor in 1i64..i64::MAX) {
            for terms in [percent(p, Duration::Once), fixed(minor)] {
                let off = terms.discount_minor(gross, "USD").unwrap();
                proptest::prop_assert!(off >= 0 && off <= gross.max(0));
            }
        }
    }
}
