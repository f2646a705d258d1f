//! Numbers as people read them: `1,842,500` with separators, and `1.84 M` where a glance is
//! enough (chart axes, tiles). Tables, invoices and exports keep every digit.

pub use app::numbers::group_thousands;

/// A fixed-point value (`scale` of its stored unit make one) with separators and without the
/// fraction's trailing zeros: `1_000_000` at scale 1000 → `1,000`, `1_250` → `1.25`. Exact: no
/// digit is rounded away.
pub fn exact_decimal(value: i64, scale: i64) -> String {
    let sign = if value < 0 { "-" } else { "" };
    let magnitude = value.unsigned_abs();
    if scale <= 1 {
        return format!("{sign}{}", group_thousands(magnitude));
    }
    let scale = scale.unsigned_abs();
    let digits = scale.ilog10() as usize;
    let fraction = format!("{:0digits$}", magnitude % scale);
    let fraction = fraction.trim_end_matches('0');
    let whole = group_thousands(magnitude / scale);
    if fraction.is_empty() { format!("{sign}{whole}") } else { format!("{sign}{whole}.{fraction}") }
}

/// The reverse of [`exact_decimal`]: `5,000,000` or `1.25` typed by a person, at `scale` stored
/// units per one, → `1_250` at scale 1000. Non-negative, with no more decimals than the scale
/// keeps; anything else is refused with the reason.
pub fn parse_decimal(text: &str, scale: i64) -> Result<i64, &'static str> {
    let text: String = text.trim().chars().filter(|c| *c != ',' && *c != '_').collect();
    let (whole, fraction) = text.split_once('.').unwrap_or((&text, ""));
    let digits = |s: &str| !s.is_empty() && s.len() <= 18 && s.bytes().all(|b| b.is_ascii_digit());
    if !digits(whole) || (!fraction.is_empty() && !digits(fraction)) || text.ends_with('.') {
        return Err("must be a number such as 5000000 or 2.5");
    }
    // Decimals only where the scale is a power of ten: a digit after the point is then a whole
    // number of stored units.
    let places = if scale > 1 && 10i64.pow(scale.ilog10()) == scale { scale.ilog10() as usize } else { 0 };
    if fraction.len() > places {
        return Err("has more decimals than the unit keeps");
    }
    let whole: i64 = whole.parse().map_err(|_| "is too large")?;
    let fraction: i64 =
        if places == 0 { 0 } else { format!("{fraction:0<places$}").parse().map_err(|_| "is not a number")? };
    whole.checked_mul(scale.max(1)).and_then(|w| w.checked_add(fraction)).ok_or("is too large")
}

/// Three significant digits with a k, M, B or T suffix from a thousand up: `1_842_500.0` →
/// `1.84 M`, `61.4` → `61.4`, `0.125` → `0.125`. For figures read at a glance, never for money.
pub fn compact(value: f64) -> String {
    const SUFFIXES: [(f64, &str); 4] = [(1e12, " T"), (1e9, " B"), (1e6, " M"), (1e3, " k")];
    let (scaled, suffix) =
        SUFFIXES.iter().find(|(size, _)| value.abs() >= *size).map_or((value, ""), |(size, s)| (value / size, *s));
    let decimals = match scaled.abs() {
        v if v >= 100.0 => 0,
        v if v >= 10.0 => 1,
        v if v >= 1.0 || v == 0.0 => 2,
        _ => 3,
    };
    let text = format!("{scaled:.decimals$}");
    let text = if text.contains('.') { text.trim_end_matches('0').trim_end_matches('.') } else { &text };
    format!("{text}{suffix}")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn exact_decimals_keep_every_digit_and_drop_only_trailing_zeros() {
        assert_eq!(exact_decimal(1_842_500, 1), "1,842,500");
        assert_eq!(exact_decimal(1_000_000, 1000), "1,000");
        assert_eq!(exact_decimal(1_250, 1000), "1.25");
        assert_eq!(exact_decimal(5, 1000), "0.005");
        for (value, scale) in [(1_842_500, 1), (1_000_000, 1000), (1_250, 1000), (5, 1000)] {
            assert_eq!(parse_decimal(&exact_decimal(value, scale), scale), Ok(value), "round trip");
        }
        assert_eq!(parse_decimal("2.5", 1000), Ok(2_500));
        assert!(parse_decimal("2.5", 1).is_err(), "actions are whole");
        assert!(parse_decimal("1.0005", 1000).is_err());
        assert!(parse_decimal("-3", 1).is_err());
        assert!(parse_decimal("9223372036854775807", 1000).is_err(), "too large, not wrapped");
        assert!(parse_decimal("", 1).is_err());
        assert!(parse_decimal("1.5", 60).is_err(), "a scale of 60 keeps no decimal digits");
        assert_eq!(parse_decimal("2", 60), Ok(120));
        assert_eq!(exact_decimal(61_437, 1000), "61.437");
        assert_eq!(exact_decimal(-2_500, 1000), "-2.5");
        assert_eq!(exact_decimal(i64::MIN, 1), "-9,223,372,036,854,775,808");
    }

    #[test]
    fn compact_figures_have_three_significant_digits_and_a_suffix() {
        assert_eq!(compact(1_842_500.0), "1.84 M");
        assert_eq!(compact(61.437), "61.4");
        assert_eq!(compact(16_000.0), "16 k");
        assert_eq!(compact(999.0), "999");
        assert_eq!(compact(0.0), "0");
        assert_eq!(compact(0.125), "0.125");
        assert_eq!(compact(2.5), "2.5");
        assert_eq!(compact(0.1 + 0.2), "0.3");
        assert_eq!(compact(250_000_000_000.0), "250 B");
    }
}
