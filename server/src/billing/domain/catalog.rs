//! The plans the portal sells, version 1 of each. Amounts in US cents; storage quantities in
//! milli-GBh, so "per 1,000" below means per GBh.
use super::rating::{MetricPrice, PlanVersion, PricingModel, Tier, UnitPrice};

pub const CURRENCY: &str = "USD";

fn per(minor: i64, units: i64) -> UnitPrice {
    UnitPrice { minor, per: units }
}

fn storage(included_gbh: i64, active_cents_per_gbh: i64, retained_millicents_per_gbh: i64) -> [MetricPrice; 2] {
    [
        MetricPrice {
            metric: "active_storage_gbh".into(),
            included: included_gbh * 1_000,
            model: PricingModel::PerUnit(per(active_cents_per_gbh, 1_000)),
        },
        MetricPrice {
            metric: "retained_storage_gbh".into(),
            included: included_gbh * 40 * 1_000,
            model: PricingModel::PerUnit(per(retained_millicents_per_gbh, 1_000_000)),
        },
    ]
}

/// Days of free trial a customer starting on a plan gets; Enterprise is sold with a contract.
pub fn trial_days(plan: &str) -> Option<i64> {
    match plan {
        "Essentials" | "Business" => Some(14),
        _ => None,
    }
}

/// (name, version 1) of every plan in the catalog.
pub fn plans() -> Vec<(&'static str, PlanVersion)> {
    let [essentials_active, essentials_retained] = storage(1_000, 42, 1_050);
    let [business_active, business_retained] = storage(2_500, 40, 1_000);
    let [enterprise_active, enterprise_retained] = storage(10_000, 35, 900);
    vec![
        (
            "Essentials",
            PlanVersion {
                base_fee_minor: 10_000,
                prices: vec![
                    MetricPrice {
                        metric: "actions".into(),
                        included: 1_000_000,
                        model: PricingModel::Package { block: 1_000_000, minor_per_block: 5_000 },
                    },
                    essentials_active,
                    essentials_retained,
                ],
            },
        ),
        (
            "Business",
            PlanVersion {
                base_fee_minor: 50_000,
                prices: vec![
                    MetricPrice {
                        metric: "actions".into(),
                        included: 2_500_000,
                        model: PricingModel::Graduated(vec![
                            Tier { up_to: Some(5_000_000), unit_price: per(4_500, 1_000_000), flat_minor: 0 },
                            Tier { up_to: None, unit_price: per(4_000, 1_000_000), flat_minor: 0 },
                        ]),
                    },
                    business_active,
                    business_retained,
                ],
            },
        ),
        (
            "Enterprise",
            PlanVersion {
                base_fee_minor: 200_000,
                prices: vec![
                    MetricPrice {
                        metric: "actions".into(),
                        included: 10_000_000,
                        model: PricingModel::Volume(vec![
                            Tier { up_to: Some(50_000_000), unit_price: per(3_500, 1_000_000), flat_minor: 0 },
                            Tier { up_to: None, unit_price: per(2_500, 1_000_000), flat_minor: 0 },
                        ]),
                    },
                    enterprise_active,
                    enterprise_retained,
                ],
            },
        ),
    ]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn three_plans_price_every_metric_and_survive_a_json_round_trip() {
        let plans = plans();
        assert_eq!(plans.iter().map(|(n, _)| *n).collect::<Vec<_>>(), ["Essentials", "Business", "Enterprise"]);
        for (_, version) in plans {
            let metrics: Vec<&str> = version.prices.iter().map(|p| p.metric.as_str()).collect();
            assert_eq!(metrics, ["actions", "active_storage_gbh", "retained_storage_gbh"]);
            let json = serde_json::to_string(&version.prices).unwrap();
            assert_eq!(serde_json::from_str::<Vec<MetricPrice>>(&json).unwrap(), version.prices);
        }
    }
}
