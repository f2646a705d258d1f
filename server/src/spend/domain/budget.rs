//! A budget's rules: what its limit and thresholds may be, and which of them a measured amount
//! has reached.

/// Enough to warn early, late and past the limit; more would read as noise.
pub const MAX_THRESHOLDS: usize = 5;
/// Alerts past the limit (150 %) are useful without a cap; beyond this they say nothing new.
pub const MAX_PERCENT: u32 = 1_000;
/// A limit beyond any real month (ten trillion dollars, or a quadrillion units).
pub const MAX_LIMIT: i64 = 1_000_000_000_000_000;

/// Percentages of the limit at which the organization is told, ascending and distinct.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Thresholds(Vec<u32>);

impl Thresholds {
    /// `50, 80,100` or `50% 80%`: whole percentages from 1 to [`MAX_PERCENT`], at most
    /// [`MAX_THRESHOLDS`], in any order.
    pub fn parse(text: &str) -> Result<Self, String> {
        let mut percents = Vec::new();
        for part in text.split([',', ' ']).map(|p| p.trim().trim_end_matches('%')).filter(|p| !p.is_empty()) {
            let percent: u32 = part
                .parse()
                .ok()
                .filter(|p| (1..=MAX_PERCENT).contains(p))
                .ok_or_else(|| format!("{part:?} is not a whole percentage from 1 to {MAX_PERCENT}"))?;
            percents.push(percent);
        }
        percents.sort_unstable();
        percents.dedup();
        if percents.len() > MAX_THRESHOLDS {
            return Err(format!("at most {MAX_THRESHOLDS} thresholds"));
        }
        Ok(Self(percents))
    }

    /// From whole percentages as a machine sends them, by the same rules as typed ones.
    pub fn from_percents(percents: &[i64]) -> Result<Self, String> {
        Self::parse(&percents.iter().map(i64::to_string).collect::<Vec<_>>().join(","))
    }

    pub fn percents(&self) -> &[u32] {
        &self.0
    }

    /// As stored: `50,80,100`.
    pub fn stored(&self) -> String {
        self.0.iter().map(u32::to_string).collect::<Vec<_>>().join(",")
    }
}

pub fn validate_limit(limit: i64) -> Result<i64, String> {
    if (1..=MAX_LIMIT).contains(&limit) { Ok(limit) } else { Err(format!("must be from 1 to {MAX_LIMIT}")) }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CrossingKind {
    /// A threshold: the organization is told.
    Alert,
    /// The limit of a budget with a hard cap: its namespaces are capped.
    Cap,
}

impl CrossingKind {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Alert => "alert",
            Self::Cap => "cap",
        }
    }

    pub fn parse(text: &str) -> Option<Self> {
        match text {
            "alert" => Some(Self::Alert),
            "cap" => Some(Self::Cap),
            _ => None,
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Crossed {
    pub kind: CrossingKind,
    pub percent: u32,
}

/// Whether `measured` has reached `percent` % of `limit`. Wide arithmetic: no product overflows.
fn reached(limit: i64, percent: u32, measured: i64) -> bool {
    i128::from(measured) * 100 >= i128::from(limit) * i128::from(percent)
}

/// Every threshold `measured` has reached, and the cap once it reaches the limit of a budget with
/// a hard cap. Reaching is for good: later usage only adds, so a reached threshold stays reached.
pub fn crossed(limit: i64, thresholds: &Thresholds, hard_cap: bool, measured: i64) -> Vec<Crossed> {
    let mut crossed: Vec<Crossed> = thresholds
        .percents()
        .iter()
        .filter(|percent| reached(limit, **percent, measured))
        .map(|percent| Crossed { kind: CrossingKind::Alert, percent: *percent })
        .collect();
    if hard_cap && reached(limit, 100, measured) {
        crossed.push(Crossed { kind: CrossingKind::Cap, percent: 100 });
    }
    crossed
}

/// `measured` as a whole percentage of `limit`, rounded down, for the pages' bars.
pub fn percent_of(limit: i64, measured: i64) -> i64 {
    if limit <= 0 {
        return 0;
    }
    let percent = i128::from(measured.max(0)) * 100 / i128::from(limit);
    i64::try_from(percent).unwrap_or(i64::MAX)
}

/// When usage reaches `limit` at its pace so far: along the straight line from `used` now to
/// `projected` at the period's end (the forecast's linear model). `None` when it has reached it
/// already, or will not before the period ends.
pub fn reaches_limit_at(limit: i64, used: i64, projected: i64, now: i64, period_end: i64) -> Option<i64> {
    if used >= limit || projected < limit || projected <= used || now >= period_end {
        return None;
    }
    // Wide before subtracting: `used` may be negative (a credit), `projected` near the top.
    let (limit, used, projected, now, period_end) =
        (i128::from(limit), i128::from(used), i128::from(projected), i128::from(now), i128::from(period_end));
    let share = (limit - used) * (period_end - now) / (projected - used);
    i64::try_from(now + share).ok()
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn thresholds_read_as_people_type_them_and_are_stored_in_order() {
        let thresholds = Thresholds::parse("80%, 50 100,80").unwrap();
        assert_eq!(thresholds.percents(), [50, 80, 100]);
        assert_eq!(thresholds.stored(), "50,80,100");
        assert_eq!(Thresholds::parse("").unwrap().percents(), [] as [u32; 0]);
    }

    #[test]
    fn thresholds_out_of_range_or_too_many_are_refused_with_the_reason() {
        assert!(Thresholds::parse("0").unwrap_err().contains("from 1 to 1000"));
        assert!(Thresholds::parse("1001").is_err());
        assert!(Thresholds::parse("eighty").unwrap_err().contains("\"eighty\""));
        assert!(Thresholds::parse("-5").is_err());
        assert_eq!(Thresholds::parse("10,20,30,40,50,60").unwrap_err(), "at most 5 thresholds");
        assert_eq!(Thresholds::from_percents(&[80, 50]).unwrap().stored(), "50,80");
        assert!(Thresholds::from_percents(&[-50]).is_err());
    }

    #[test]
    fn a_limit_is_positive_and_bounded() {
        assert!(validate_limit(0).is_err());
        assert!(validate_limit(-1).is_err());
        assert_eq!(validate_limit(25_000), Ok(25_000));
        assert!(validate_limit(MAX_LIMIT + 1).is_err());
    }

    #[test]
    fn a_threshold_is_reached_at_exactly_its_share_of_the_limit() {
        let thresholds = Thresholds::parse("50,80,100").unwrap();
        let percents =
            |measured| crossed(10_000, &thresholds, false, measured).iter().map(|c| c.percent).collect::<Vec<_>>();
        assert_eq!(percents(4_999), [] as [u32; 0]);
        assert_eq!(percents(5_000), [50]);
        assert_eq!(percents(7_999), [50]);
        assert_eq!(percents(8_000), [50, 80]);
        assert_eq!(percents(10_000), [50, 80, 100]);
    }

    #[test]
    fn the_cap_is_reached_at_the_limit_only_with_a_hard_cap() {
        let none = Thresholds::parse("").unwrap();
        assert_eq!(crossed(300, &none, true, 299), []);
        assert_eq!(crossed(300, &none, true, 300), [Crossed { kind: CrossingKind::Cap, percent: 100 }]);
        assert_eq!(crossed(300, &none, false, 1_000), []);
    }

    #[test]
    fn the_largest_figures_do_not_overflow() {
        let thresholds = Thresholds::parse("1000").unwrap();
        assert_eq!(crossed(MAX_LIMIT, &thresholds, true, i64::MAX).len(), 2);
        assert_eq!(percent_of(1, i64::MAX), i64::MAX);
        assert_eq!(percent_of(MAX_LIMIT, MAX_LIMIT / 2), 50);
    }

    #[test]
    fn the_limit_is_reached_where_the_pace_line_meets_it() {
        // 400 used at hour 10 of 30, 1,200 projected: 600 is reached at hour 15.
        assert_eq!(reaches_limit_at(600, 400, 1_200, 10, 30), Some(15));
        assert_eq!(reaches_limit_at(1_200, 400, 1_200, 10, 30), Some(30), "at the very end");
        assert_eq!(reaches_limit_at(1_300, 400, 1_200, 10, 30), None, "not within the period");
        assert_eq!(reaches_limit_at(300, 400, 1_200, 10, 30), None, "reached already");
        assert_eq!(reaches_limit_at(MAX_LIMIT, 0, i64::MAX, 0, i64::MAX).is_some(), true, "no overflow");
        assert!(reaches_limit_at(MAX_LIMIT, -5_000, i64::MAX, 0, 100).is_some(), "a credit's negative figure");
    }

    proptest! {
        #[test]
        fn more_usage_never_uncrosses_a_threshold(
            limit in 1..MAX_LIMIT,
            measured in 0..i64::MAX / 2,
            more in 0..i64::MAX / 2,
            percents in proptest::collection::vec(1..=MAX_PERCENT, 0..=MAX_THRESHOLDS),
            hard_cap: bool,
        ) {
            let text = percents.iter().map(u32::to_string).collect::<Vec<_>>().join(",");
            let thresholds = Thresholds::parse(&text).unwrap();
            let before = crossed(limit, &thresholds, hard_cap, measured);
            let after = crossed(limit, &thresholds, hard_cap, measured + more);
            prop_assert!(before.iter().all(|c| after.contains(c)));
            for c in &after {
                prop_assert!(i128::from(measured + more) * 100 >= i128::from(limit) * i128::from(c.percent));
            }
        }
    }
}
