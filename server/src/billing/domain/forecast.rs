//! Where a period's usage is heading: each namespace's metric carried to the period's end at its
//! pace so far in the period. Linear on purpose: a billing period is short, the customer can
//! check the arithmetic (so far, times the whole period over the part gone), and it answers
//! steady usage exactly. A spike weighs in as much as it cost, no more; a pattern by weekday or
//! hour would need weeks of history that a new customer does not have.
use std::collections::BTreeMap;

use crate::billing::domain::rating::Usage;
use crate::shared::money::AmountOutOfRange;

/// Earlier than this in a period, a pace says more about when the first events arrived than about
/// the usage: no projection is shown.
pub const MIN_ELAPSED_MS: i64 = 86_400_000;

/// The usage of the stretch under way (`in_stretch`, metered so far) plus, for the `remaining_ms`
/// left of it, what the period's pace (`in_period` metered over `elapsed_ms`) adds.
pub fn projected_usage(
    in_stretch: &[Usage],
    in_period: &[Usage],
    elapsed_ms: i64,
    remaining_ms: i64,
) -> Result<Vec<Usage>, AmountOutOfRange> {
    let mut projected: BTreeMap<(&str, &str), i64> = BTreeMap::new();
    for usage in in_stretch {
        projected.insert((&usage.namespace_id, &usage.metric), usage.quantity);
    }
    if elapsed_ms > 0 && remaining_ms > 0 {
        for usage in in_period {
            let more = i128::from(usage.quantity) * i128::from(remaining_ms) / i128::from(elapsed_ms);
            let entry = projected.entry((&usage.namespace_id, &usage.metric)).or_insert(0);
            let total = i128::from(*entry) + more;
            *entry = i64::try_from(total).map_err(|_| AmountOutOfRange)?;
        }
    }
    Ok(projected
        .into_iter()
        .map(|((namespace_id, metric), quantity)| Usage {
            namespace_id: namespace_id.to_owned(),
            metric: metric.to_owned(),
            quantity,
        })
        .collect())
}

/// The usage `so_far`, metered over `elapsed_ms`, per `span_ms` at the same pace (rounded down):
/// what the Usage chart draws on to the period's end.
pub fn pace(so_far: i64, elapsed_ms: i64, span_ms: i64) -> i64 {
    if elapsed_ms <= 0 {
        return 0;
    }
    let per_span = i128::from(so_far) * i128::from(span_ms) / i128::from(elapsed_ms);
    i64::try_from(per_span).unwrap_or(if per_span < 0 { i64::MIN } else { i64::MAX })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn usage(namespace: &str, quantity: i64) -> Usage {
        Usage { namespace_id: namespace.into(), metric: "actions".into(), quantity }
    }

    const DAY: i64 = 86_400_000;

    #[test]
    fn steady_usage_is_carried_to_the_end_at_the_same_pace() {
        // Ten days of a thirty-day period: 1,000 so far becomes 3,000.
        let so_far = [usage("ns_a", 1_000)];
        assert_eq!(projected_usage(&so_far, &so_far, 10 * DAY, 20 * DAY).unwrap(), [usage("ns_a", 3_000)]);
    }

    #[test]
    fn the_stretch_under_way_grows_at_the_whole_periods_pace() {
        // A plan change on day 8: the new plan's stretch has 200 of the period's 1,000 so far.
        let stretch = [usage("ns_a", 200)];
        let period = [usage("ns_a", 1_000), usage("ns_b", 50)];
        let projected = projected_usage(&stretch, &period, 10 * DAY, 5 * DAY).unwrap();
        assert_eq!(projected, [usage("ns_a", 700), usage("ns_b", 25)], "a namespace quiet in the stretch still grows");
    }

    #[test]
    fn nothing_is_added_at_or_past_the_end_or_before_any_time_has_passed() {
        let so_far = [usage("ns_a", 1_000)];
        assert_eq!(projected_usage(&so_far, &so_far, 10 * DAY, 0).unwrap(), so_far);
        assert_eq!(projected_usage(&so_far, &so_far, 0, 10 * DAY).unwrap(), so_far);
    }

    #[test]
    fn a_projection_beyond_64_bits_is_refused_not_wrapped() {
        let huge = [usage("ns_a", i64::MAX / 2)];
        assert_eq!(projected_usage(&huge, &huge, DAY, 30 * DAY), Err(AmountOutOfRange));
    }

    #[test]
    fn a_pace_is_usage_per_span_at_the_rate_so_far_rounded_down() {
        const HOUR: i64 = 3_600_000;
        assert_eq!(pace(3_000_000, 18 * DAY, HOUR), 6_944, "3,000,000 over 432 hours");
        assert_eq!(pace(10, 0, HOUR), 0, "no time gone, no pace");
        assert_eq!(pace(i64::MAX, 1, HOUR), i64::MAX, "beyond 64 bits it stops at the largest");
    }
}
