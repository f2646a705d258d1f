//! Counts as people read them: `1,842,500`, on the pages and, through the server, in its words.

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

/// A count from the wire, grouped: `-1234` → `-1,234`.
pub fn count(value: i64) -> String {
    let grouped = group_thousands(value.unsigned_abs());
    if value < 0 { format!("-{grouped}") } else { grouped }
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
        assert_eq!(
            (count(1596), count(-1234), count(i64::MIN)),
            ("1,596".into(), "-1,234".into(), "-9,223,372,036,854,775,808".into())
        );
    }
}
