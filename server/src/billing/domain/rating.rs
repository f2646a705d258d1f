//! Rating: (plan version, usage per namespace and metric) → invoice lines. Pure and exact: line
//! amounts are fractions until each line is rounded once (half-up).
use crate::shared::money::{AmountOutOfRange, Exact, checked_sum};

/// `minor` minor units per `per` units of the metric (e.g. 2,500 cents per 1,000,000 actions).
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct UnitPrice {
    pub minor: i64,
    pub per: i64,
}

/// A tier covers units up to `up_to` (inclusive, cumulative); the last tier has no bound.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Tier {
    pub up_to: Option<i64>,
    pub unit_price: UnitPrice,
    /// Charged once when usage reaches the tier.
    pub flat_minor: i64,
}

#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum PricingModel {
    PerUnit(UnitPrice),
    /// Each unit is priced by the tier it falls in.
    Graduated(Vec<Tier>),
    /// All units are priced by the one tier the total falls in.
    Volume(Vec<Tier>),
    /// Every started block of `block` units costs `minor_per_block`.
    Package {
        block: i64,
        minor_per_block: i64,
    },
}

#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct MetricPrice {
    pub metric: String,
    /// Free units per period, for the whole organization.
    pub included: i64,
    pub model: PricingModel,
}

#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct PlanVersion {
    pub base_fee_minor: i64,
    pub prices: Vec<MetricPrice>,
}

/// Why a plan's prices cannot be rated, and for which metric.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{metric}: {why}")]
pub struct InvalidPlan {
    pub metric: String,
    pub why: &'static str,
}

/// Checks that every price can be rated: positive blocks and unit quantities, no negative price,
/// tiers non-empty and ascending with only the last one unbounded, each metric priced once.
pub fn validate_prices(prices: &[MetricPrice]) -> Result<(), InvalidPlan> {
    for (index, price) in prices.iter().enumerate() {
        let refuse = |why| Err(InvalidPlan { metric: price.metric.clone(), why });
        if prices[..index].iter().any(|earlier| earlier.metric == price.metric) {
            return refuse("a metric is priced twice");
        }
        if price.included < 0 {
            return refuse("included units must not be negative");
        }
        if let Err(why) = validate_model(&price.model) {
            return refuse(why);
        }
    }
    Ok(())
}

fn validate_model(model: &PricingModel) -> Result<(), &'static str> {
    let unit = |price: &UnitPrice| match (price.per > 0, price.minor >= 0) {
        (false, _) => Err("a unit price must be per a positive quantity"),
        (_, false) => Err("a price must not be negative"),
        _ => Ok(()),
    };
    match model {
        PricingModel::PerUnit(price) => unit(price),
        PricingModel::Package { block, minor_per_block } => match (*block > 0, *minor_per_block >= 0) {
            (false, _) => Err("a package block must be positive"),
            (_, false) => Err("a price must not be negative"),
            _ => Ok(()),
        },
        PricingModel::Graduated(tiers) | PricingModel::Volume(tiers) => {
            let Some((last, bounded)) = tiers.split_last() else { return Err("tiers must not be empty") };
            let mut floor = 0;
            for tier in bounded {
                let Some(up_to) = tier.up_to else { return Err("only the last tier may be unbounded") };
                if up_to <= floor {
                    return Err("tiers must ascend");
                }
                floor = up_to;
            }
            if last.up_to.is_some() {
                return Err("the last tier must be unbounded");
            }
            for tier in tiers {
                unit(&tier.unit_price)?;
                if tier.flat_minor < 0 {
                    return Err("a price must not be negative");
                }
            }
            Ok(())
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Usage {
    pub namespace_id: String,
    pub metric: String,
    pub quantity: i64,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Line {
    /// `None` for the base fee and for charges of the whole organization (package blocks, tier fees).
    pub namespace_id: Option<String>,
    pub metric: Option<String>,
    /// Index into the metric's tiers.
    pub tier: Option<usize>,
    pub quantity: i64,
    pub unit_price: Option<UnitPrice>,
    pub unrounded: Exact,
    pub amount_minor: i64,
}

fn line(
    namespace_id: Option<&str>,
    metric: Option<&str>,
    tier: Option<usize>,
    quantity: i64,
    unit_price: Option<UnitPrice>,
    unrounded: Exact,
) -> Result<Line, AmountOutOfRange> {
    Ok(Line {
        namespace_id: namespace_id.map(str::to_owned),
        metric: metric.map(str::to_owned),
        tier,
        quantity,
        unit_price,
        unrounded,
        amount_minor: unrounded.round_half_up()?,
    })
}

/// Rates one whole period under one plan: the base fee, then the usage.
pub fn rate(plan: &PlanVersion, usage: &[Usage]) -> Result<Vec<Line>, AmountOutOfRange> {
    let mut lines = vec![line(None, None, None, 1, None, Exact::whole(plan.base_fee_minor))?];
    lines.extend(rate_usage(&plan.prices, Share::WHOLE, usage)?);
    Ok(lines)
}

/// The part of a period a plan was in effect: it gets that part of each included quantity.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Share {
    pub part: i64,
    pub whole: i64,
}

impl Share {
    pub const WHOLE: Self = Self { part: 1, whole: 1 };

    /// Rounded down: a partial unit is never free.
    fn of(self, included: i64) -> i64 {
        (included as i128 * self.part as i128 / self.whole.max(1) as i128) as i64
    }
}

/// Usage lines only. Included units are used up namespace by namespace in id order, so the
/// result does not depend on the order of `usage`.
pub fn rate_usage(
    prices: &[MetricPrice],
    included_share: Share,
    usage: &[Usage],
) -> Result<Vec<Line>, AmountOutOfRange> {
    let mut lines = Vec::new();
    for price in prices {
        let mut slices: Vec<(&str, i64)> = usage
            .iter()
            .filter(|u| u.metric == price.metric && u.quantity > 0)
            .map(|u| (u.namespace_id.as_str(), u.quantity))
            .collect();
        slices.sort();
        let billable = allocate_included(&slices, included_share.of(price.included));
        lines.extend(rate_metric(&price.metric, &price.model, &billable)?);
    }
    Ok(lines)
}

/// Each namespace's billable units once the included units are used up in order.
fn allocate_included<'a>(slices: &[(&'a str, i64)], included: i64) -> Vec<(&'a str, i64)> {
    let mut free = included.max(0);
    slices
        .iter()
        .map(|&(ns, q)| {
            let covered = q.min(free);
            free -= covered;
            (ns, q - covered)
        })
        .filter(|&(_, q)| q > 0)
        .collect()
}

fn rate_metric(metric: &str, model: &PricingModel, billable: &[(&str, i64)]) -> Result<Vec<Line>, AmountOutOfRange> {
    let total = checked_sum(billable.iter().map(|(_, q)| *q))?;
    let m = Some(metric);
    match model {
        PricingModel::PerUnit(p) => billable
            .iter()
            .map(|&(ns, q)| line(Some(ns), m, None, q, Some(*p), Exact::of_units(q, p.minor, p.per)))
            .collect(),
        PricingModel::Package { block, minor_per_block } => {
            if total == 0 {
                return Ok(Vec::new());
            }
            let block = (*block).max(1);
            let blocks = total / block + i64::from(total % block != 0);
            let amount = blocks.checked_mul(*minor_per_block).ok_or(AmountOutOfRange)?;
            let price = UnitPrice { minor: *minor_per_block, per: block };
            Ok(vec![line(None, m, None, total, Some(price), Exact::whole(amount))?])
        }
        PricingModel::Volume(tiers) => {
            if total == 0 {
                return Ok(Vec::new());
            }
            let index = tiers.iter().position(|t| t.up_to.is_none_or(|up| total <= up)).unwrap_or(tiers.len() - 1);
            let tier = &tiers[index];
            let p = tier.unit_price;
            let mut lines: Vec<Line> = billable
                .iter()
                .map(|&(ns, q)| line(Some(ns), m, Some(index), q, Some(p), Exact::of_units(q, p.minor, p.per)))
                .collect::<Result<_, _>>()?;
            if tier.flat_minor != 0 {
                lines.push(line(None, m, Some(index), 0, None, Exact::whole(tier.flat_minor))?);
            }
            Ok(lines)
        }
        PricingModel::Graduated(tiers) => {
            let mut lines = Vec::new();
            let mut position = 0;
            for &(ns, q) in billable {
                let end = position + q;
                let mut lower = 0;
                for (index, tier) in tiers.iter().enumerate() {
                    let upper = tier.up_to.unwrap_or(i64::MAX);
                    let (from, to) = (position.max(lower), end.min(upper));
                    if to > from {
                        let p = tier.unit_price;
                        lines.push(line(
                            Some(ns),
                            m,
                            Some(index),
                            to - from,
                            Some(p),
                            Exact::of_units(to - from, p.minor, p.per),
                        )?);
                    }
                    lower = upper;
                }
                position = end;
            }
            let mut lower = 0;
            for (index, tier) in tiers.iter().enumerate() {
                if tier.flat_minor != 0 && total > lower {
                    lines.push(line(None, m, Some(index), 0, None, Exact::whole(tier.flat_minor))?);
                }
                lower = tier.up_to.unwrap_or(i64::MAX);
            }
            Ok(lines)
        }
    }
}

pub fn total_minor(lines: &[Line]) -> Result<i64, AmountOutOfRange> {
    checked_sum(lines.iter().map(|l| l.amount_minor))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tiers() -> Vec<Tier> {
        vec![
            Tier { up_to: Some(1_000), unit_price: UnitPrice { minor: 10, per: 1 }, flat_minor: 0 },
            Tier { up_to: Some(10_000), unit_price: UnitPrice { minor: 5, per: 1 }, flat_minor: 0 },
            Tier { up_to: None, unit_price: UnitPrice { minor: 1, per: 2 }, flat_minor: 0 },
        ]
    }

    fn plan(model: PricingModel, included: i64) -> PlanVersion {
        PlanVersion { base_fee_minor: 10_000, prices: vec![MetricPrice { metric: "actions".into(), included, model }] }
    }

    #[test]
    fn the_catalog_s_plans_are_valid() {
        for (name, version) in crate::billing::domain::catalog::plans() {
            assert_eq!(validate_prices(&version.prices), Ok(()), "{name}");
        }
    }

    #[test]
    fn a_plan_that_cannot_be_rated_is_refused_naming_the_metric_and_why() {
        let unit = UnitPrice { minor: 1, per: 1 };
        let tier = |up_to| Tier { up_to, unit_price: unit, flat_minor: 0 };
        let refused = [
            (PricingModel::Package { block: 0, minor_per_block: 5 }, "a package block must be positive"),
            (PricingModel::PerUnit(UnitPrice { minor: 1, per: 0 }), "a unit price must be per a positive quantity"),
            (PricingModel::PerUnit(UnitPrice { minor: -1, per: 1 }), "a price must not be negative"),
            (PricingModel::Graduated(vec![]), "tiers must not be empty"),
            (PricingModel::Volume(vec![tier(Some(100)), tier(Some(100)), tier(None)]), "tiers must ascend"),
            (PricingModel::Graduated(vec![tier(Some(100))]), "the last tier must be unbounded"),
            (PricingModel::Volume(vec![tier(None), tier(None)]), "only the last tier may be unbounded"),
            (PricingModel::Graduated(vec![tier(Some(0)), tier(None)]), "tiers must ascend"),
        ];
        for (model, why) in refused {
            let prices = plan(model.clone(), 0).prices;
            assert_eq!(validate_prices(&prices), Err(InvalidPlan { metric: "actions".into(), why }), "{model:?}");
        }
        let negative_included = plan(PricingModel::PerUnit(unit), -1).prices;
        assert_eq!(validate_prices(&negative_included).unwrap_err().why, "included units must not be negative");
        let twice = [plan(PricingModel::PerUnit(unit), 0).prices, plan(PricingModel::PerUnit(unit), 0).prices].concat();
        assert_eq!(validate_prices(&twice).unwrap_err().why, "a metric is priced twice");
        assert_eq!(validate_prices(&plan(PricingModel::Graduated(tiers()), 0).prices), Ok(()));
    }

    fn rated(plan: &PlanVersion, usage: &[Usage]) -> Vec<Line> {
        rate(plan, usage).expect("amounts in range")
    }

    fn amount_of(lines: &[Line]) -> i64 {
        total_minor(lines).expect("amounts in range")
    }

    #[test]
    fn amounts_beyond_64_bits_are_refused_not_wrapped() {
        let huge = PricingModel::PerUnit(UnitPrice { minor: i64::MAX / 2, per: 1 });
        assert_eq!(rate(&plan(huge, 0), &usage(&[("a", 3)])), Err(AmountOutOfRange));
        let package = PricingModel::Package { block: 1, minor_per_block: i64::MAX / 2 };
        assert_eq!(rate(&plan(package, 0), &usage(&[("a", 3)])), Err(AmountOutOfRange));
        let per_unit = PricingModel::PerUnit(UnitPrice { minor: 1, per: 1 });
        assert_eq!(rate(&plan(per_unit.clone(), 0), &usage(&[("a", i64::MAX), ("b", 1)])), Err(AmountOutOfRange));
        let lines = rated(&plan(per_unit, 0), &usage(&[("a", i64::MAX / 2), ("b", i64::MAX / 2)]));
        assert_eq!(total_minor(&lines), Err(AmountOutOfRange), "the base fee on top is one too many");
    }

    fn usage(parts: &[(&str, i64)]) -> Vec<Usage> {
        parts
            .iter()
            .map(|(ns, q)| Usage { namespace_id: (*ns).into(), metric: "actions".into(), quantity: *q })
            .collect()
    }

    #[test]
    fn the_base_fee_is_always_the_first_line() {
        let lines = rated(&plan(PricingModel::PerUnit(UnitPrice { minor: 1, per: 1 }), 0), &[]);
        assert_eq!(lines.len(), 1);
        assert_eq!(lines[0].amount_minor, 10_000);
    }

    #[test]
    fn included_units_are_used_up_in_namespace_order() {
        let lines = rated(
            &plan(PricingModel::PerUnit(UnitPrice { minor: 2, per: 1 }), 1_000),
            &usage(&[("ns_b", 700), ("ns_a", 600)]),
        );
        let usage_lines: Vec<(Option<&str>, i64, i64)> =
            lines[1..].iter().map(|l| (l.namespace_id.as_deref(), l.quantity, l.amount_minor)).collect();
        assert_eq!(usage_lines, [(Some("ns_b"), 300, 600)]);
    }

    #[test]
    fn graduated_tiers_split_across_namespaces_at_the_boundaries() {
        let lines = rated(&plan(PricingModel::Graduated(tiers()), 0), &usage(&[("ns_a", 800), ("ns_b", 700)]));
        let parts: Vec<(&str, Option<usize>, i64, i64)> = lines[1..]
            .iter()
            .map(|l| (l.namespace_id.as_deref().unwrap(), l.tier, l.quantity, l.amount_minor))
            .collect();
        assert_eq!(
            parts,
            [("ns_a", Some(0), 800, 8_000), ("ns_b", Some(0), 200, 2_000), ("ns_b", Some(1), 500, 2_500)]
        );
    }

    #[test]
    fn volume_pricing_prices_every_unit_by_the_one_tier_of_the_total() {
        let lines = rated(&plan(PricingModel::Volume(tiers()), 0), &usage(&[("ns_a", 8_000), ("ns_b", 7_000)]));
        assert!(lines[1..].iter().all(|l| l.tier == Some(2)));
        assert_eq!(amount_of(&lines[1..]), 4_000 + 3_500);
    }

    #[test]
    fn packages_charge_every_started_block() {
        let model = PricingModel::Package { block: 1_000_000, minor_per_block: 2_500 };
        assert_eq!(amount_of(&rated(&plan(model.clone(), 0), &usage(&[("a", 1_000_001)]))[1..]), 5_000);
        assert_eq!(amount_of(&rated(&plan(model.clone(), 0), &usage(&[("a", 1_000_000)]))[1..]), 2_500);
        assert_eq!(rated(&plan(model, 0), &usage(&[("a", 0)])).len(), 1);
    }

    #[test]
    fn a_tier_fee_is_charged_once_when_usage_reaches_the_tier() {
        let mut t = tiers();
        t[1].flat_minor = 99;
        let within_first = rated(&plan(PricingModel::Graduated(t.clone()), 0), &usage(&[("a", 1_000)]));
        let into_second = rated(&plan(PricingModel::Graduated(t), 0), &usage(&[("a", 1_001), ("b", 5)]));
        assert!(within_first.iter().all(|l| l.amount_minor != 99));
        assert_eq!(into_second.iter().filter(|l| l.amount_minor == 99).count(), 1);
    }

    /// Exact per-tier amounts of `total` units, computed without lines.
    fn graduated_exact(total: i64) -> i128 {
        let (mut lower, mut sum) = (0, 0i128);
        for t in tiers() {
            let upper = t.up_to.unwrap_or(i64::MAX);
            let units = (total.min(upper) - lower).max(0);
            sum += units as i128 * t.unit_price.minor as i128 * 2 / t.unit_price.per as i128;
            lower = upper;
        }
        sum
    }

    fn models() -> impl proptest::strategy::Strategy<Value = PricingModel> {
        proptest::prop_oneof![
            proptest::strategy::Just(PricingModel::PerUnit(UnitPrice { minor: 3, per: 7 })),
            proptest::strategy::Just(PricingModel::Graduated(tiers())),
            proptest::strategy::Just(PricingModel::Volume(tiers())),
            proptest::strategy::Just(PricingModel::Package { block: 1_000, minor_per_block: 7 }),
        ]
    }

    fn namespaces(quantities: &[i64]) -> Vec<Usage> {
        let named: Vec<(String, i64)> = quantities.iter().enumerate().map(|(i, q)| (format!("ns_{i}"), *q)).collect();
        usage(&named.iter().map(|(n, q)| (n.as_str(), *q)).collect::<Vec<_>>())
    }

    proptest::proptest! {
        #[test]
        fn a_graduated_total_is_the_sum_of_its_tiers_and_volume_picks_one_tier(
            quantities in proptest::collection::vec(0i64..30_000, 0..5),
        ) {
            let used = namespaces(&quantities);
            let graduated = rated(&plan(PricingModel::Graduated(tiers()), 0), &used);
            let halves: i128 = graduated[1..].iter().map(|l| l.unrounded.numerator * 2 / l.unrounded.denominator).sum();
            proptest::prop_assert_eq!(halves, graduated_exact(quantities.iter().sum()));
            let volume = rated(&plan(PricingModel::Volume(tiers()), 0), &used);
            let chosen: std::collections::BTreeSet<Option<usize>> = volume[1..].iter().map(|l| l.tier).collect();
            proptest::prop_assert!(chosen.len() <= 1);
        }

        #[test]
        fn amounts_are_never_negative_and_grow_with_usage(
            quantities in proptest::collection::vec(0i64..30_000, 0..5),
            included in 0i64..5_000,
            more in 1i64..1_000,
            model in models(),
        ) {
            let used = namespaces(&quantities);
            let lines = rated(&plan(model.clone(), included), &used);
            proptest::prop_assert!(lines.iter().all(|l| l.amount_minor >= 0));
            // Volume pricing may drop to a cheaper tier as usage grows; every other model grows.
            if !matches!(model, PricingModel::Volume(_)) {
                let mut with_more = used.clone();
                with_more.push(Usage { namespace_id: "ns_more".into(), metric: "actions".into(), quantity: more });
                let p = plan(model, included);
                proptest::prop_assert!(amount_of(&rated(&p, &with_more)) >= amount_of(&rated(&p, &used)));
            }
        }
    }
}
