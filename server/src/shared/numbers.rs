//! Numbers as people read them: `1,842,500` with separators, and `1.84 M` where a glance is
//! enough (chart axes, tiles). Tables, invoices and exports keep every digit.

/// `1842500` → `1,842,500`.
pub fn group_thousands(value: u64) -> String {
    let digits = value.to_string();
    let mut grouped = String::with_capacity(digits.len() + digits.len() / 3);
    for (i, digit) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i) % 3 == 0 {
            grouped.push(',');
        }
        grouped.push(digit);
    }
    grouped
}

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
    fn thousands_are_grouped_by_three() {
        assert_eq!(group_thousands(0), "0");
        assert_eq!(group_thousands(999), "999");
        assert_eq!(group_thousands(1_000), "1,000");
        assert_eq!(group_thousands(1_842_500), "1,842,500");
        assert_eq!(group_thousands(u64::MAX), "18,446,744,073,709,551,615");
    }

    #[test]
    fn exact_decimals_keep_every_digit_and_drop_only_trailing_zeros() {
        assert_eq!(exact_decimal(1_842_500, 1), "1,842,500");
        assert_eq!(exact_decimal(1_000_000, 1000), "1,000");
        assert_eq!(exact_decimal(1_250, 1000), "1.25");
        assert_eq!(exact_decimal(5, 1000), "0.005");
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
