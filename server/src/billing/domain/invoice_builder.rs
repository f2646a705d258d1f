//! The lines of one period's invoice, from everything that happened in it: the base fee of the
//! plan the period started on, proration of plan changes, usage rated under the plan in effect
//! when it happened, and adjustments for late usage of periods already finalized. Pure.
use std::collections::BTreeMap;

use super::proration::Proration;
use super::rating::{Line, MetricPrice, Share, UnitPrice, Usage, rate_usage};
use crate::shared::money::{AmountOutOfRange, Exact, checked_sum};
use crate::shared::time::display_ms;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LineKind {
    BaseFee,
    Usage,
    Proration,
    Adjustment,
    Discount,
}

impl LineKind {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::BaseFee => "base_fee",
            Self::Usage => "usage",
            Self::Proration => "proration",
            Self::Adjustment => "adjustment",
            Self::Discount => "discount",
        }
    }

    pub fn parse(text: &str) -> Option<Self> {
        [Self::BaseFee, Self::Usage, Self::Proration, Self::Adjustment, Self::Discount]
            .into_iter()
            .find(|k| k.as_str() == text)
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct InvoiceLine {
    pub kind: LineKind,
    pub description: String,
    pub namespace_id: Option<String>,
    pub metric: Option<String>,
    pub tier: Option<i64>,
    pub quantity: i64,
    pub unit_price: Option<UnitPrice>,
    pub amount_minor: i64,
    pub unrounded: Exact,
    /// The usage period a usage or adjustment line was rated from.
    pub usage_period: Option<(i64, i64)>,
}

/// A stretch of the period under one plan, with the usage metered in it.
#[derive(Debug, Clone)]
pub struct PlanSegment<'a> {
    pub plan_name: &'a str,
    pub prices: &'a [MetricPrice],
    pub from_ms: i64,
    pub to_ms: i64,
    pub usage: Vec<Usage>,
}

/// A plan change inside the period and its proration.
#[derive(Debug, Clone)]
pub struct ProratedChange<'a> {
    pub from_plan: &'a str,
    pub to_plan: &'a str,
    pub proration: &'a Proration,
}

/// A finalized earlier period: its usage rated again from today's rollups, and what was billed
/// for it so far (its own usage lines plus earlier adjustments).
#[derive(Debug, Clone)]
pub struct EarlierPeriod {
    pub from_ms: i64,
    pub to_ms: i64,
    pub rated_now: Vec<InvoiceLine>,
    pub billed: Vec<InvoiceLine>,
}

pub struct PeriodCharges<'a> {
    pub period: (i64, i64),
    pub base_plan: &'a str,
    pub base_fee_minor: i64,
    pub changes: Vec<ProratedChange<'a>>,
    /// The subscription was canceled before the period's end: the fee for the rest comes back.
    pub ended_early: Option<ProratedChange<'a>>,
    pub segments: Vec<PlanSegment<'a>>,
    pub earlier: Vec<EarlierPeriod>,
}

fn whole_line(kind: LineKind, description: String, amount: Exact) -> Result<InvoiceLine, AmountOutOfRange> {
    Ok(InvoiceLine {
        kind,
        description,
        namespace_id: None,
        metric: None,
        tier: None,
        quantity: 1,
        unit_price: None,
        amount_minor: amount.round_half_up()?,
        unrounded: amount,
        usage_period: None,
    })
}

fn span(from_ms: i64, to_ms: i64) -> String {
    format!("{} to {}", display_ms(from_ms), display_ms(to_ms))
}

/// Usage lines of one segment, with the segment's share of each included quantity.
pub fn rate_segment(segment: &PlanSegment, period: (i64, i64)) -> Result<Vec<InvoiceLine>, AmountOutOfRange> {
    let share = Share { part: segment.to_ms - segment.from_ms, whole: period.1 - period.0 };
    Ok(rate_usage(segment.prices, share, &segment.usage)?
        .into_iter()
        .map(|line: Line| InvoiceLine {
            kind: LineKind::Usage,
            description: format!("{} under {}", line.metric.as_deref().unwrap_or("usage"), segment.plan_name),
            namespace_id: line.namespace_id,
            metric: line.metric,
            tier: line.tier.map(|t| t as i64),
            quantity: line.quantity,
            unit_price: line.unit_price,
            amount_minor: line.amount_minor,
            unrounded: line.unrounded,
            usage_period: Some((segment.from_ms, segment.to_ms)),
        })
        .collect())
}

/// Per metric: (quantity, amount) of the lines, counting tier fee lines (quantity 0) by amount only.
fn by_metric(lines: &[InvoiceLine]) -> Result<BTreeMap<&str, (i64, i64)>, AmountOutOfRange> {
    let mut sums = BTreeMap::new();
    for line in lines {
        let entry: &mut (i64, i64) = sums.entry(line.metric.as_deref().unwrap_or("")).or_insert((0, 0));
        entry.0 = checked_sum([entry.0, line.quantity])?;
        entry.1 = checked_sum([entry.1, line.amount_minor])?;
    }
    Ok(sums)
}

/// One line per metric whose quantity or amount changed since the period was billed. A negative
/// amount is a credit for usage that was billed and is no longer there.
pub fn adjustments(earlier: &EarlierPeriod) -> Result<Vec<InvoiceLine>, AmountOutOfRange> {
    let (now, billed) = (by_metric(&earlier.rated_now)?, by_metric(&earlier.billed)?);
    let metrics: std::collections::BTreeSet<&str> = now.keys().chain(billed.keys()).copied().collect();
    let mut lines = Vec::new();
    for metric in metrics {
        let (q_now, a_now) = now.get(metric).copied().unwrap_or_default();
        let (q_billed, a_billed) = billed.get(metric).copied().unwrap_or_default();
        let quantity = q_now.checked_sub(q_billed).ok_or(AmountOutOfRange)?;
        let amount = a_now.checked_sub(a_billed).ok_or(AmountOutOfRange)?;
        if quantity == 0 && amount == 0 {
            continue;
        }
        let what = if amount >= 0 { "Late usage" } else { "Usage correction" };
        lines.push(InvoiceLine {
            kind: LineKind::Adjustment,
            description: format!("{what}: {metric} for {}", span(earlier.from_ms, earlier.to_ms)),
            namespace_id: None,
            metric: Some(metric.to_owned()),
            tier: None,
            quantity,
            unit_price: None,
            amount_minor: amount,
            unrounded: Exact::whole(amount),
            usage_period: Some((earlier.from_ms, earlier.to_ms)),
        });
    }
    Ok(lines)
}

/// Every line of the period's invoice, in a stable order: base fee, prorations, usage, adjustments.
pub fn build_lines(charges: &PeriodCharges) -> Result<Vec<InvoiceLine>, AmountOutOfRange> {
    let (start, end) = charges.period;
    let mut lines = vec![whole_line(
        LineKind::BaseFee,
        format!("{} plan, {}", charges.base_plan, span(start, end)),
        Exact::whole(charges.base_fee_minor),
    )?];
    for change in &charges.changes {
        let p = change.proration;
        let days = p.remaining_days();
        lines.push(whole_line(
            LineKind::Proration,
            format!("Unused time on {} ({days} days)", change.from_plan),
            p.credit_unrounded,
        )?);
        lines.push(whole_line(
            LineKind::Proration,
            format!("Remaining time on {} ({days} days)", change.to_plan),
            p.charge_unrounded,
        )?);
    }
    if let Some(ended) = &charges.ended_early {
        lines.push(whole_line(
            LineKind::Proration,
            format!(
                "Unused time on {} after the cancellation ({} days)",
                ended.from_plan,
                ended.proration.remaining_days()
            ),
            ended.proration.credit_unrounded,
        )?);
    }
    for segment in &charges.segments {
        lines.extend(rate_segment(segment, charges.period)?);
    }
    for earlier in &charges.earlier {
        lines.extend(adjustments(earlier)?);
    }
    Ok(lines)
}

pub fn subtotal_minor(lines: &[InvoiceLine]) -> Result<i64, AmountOutOfRange> {
    checked_sum(lines.iter().map(|l| l.amount_minor))
}

/// Credit applied to an invoice: as much as is available, never more than the subtotal.
pub fn credit_to_apply(subtotal_minor: i64, available_minor: i64) -> i64 {
    subtotal_minor.min(available_minor).max(0)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::billing::domain::proration::{ProrationInput, prorate};
    use crate::billing::domain::rating::PricingModel;

    const HOUR: i64 = 3_600_000;
    const PERIOD: (i64, i64) = (0, 720 * HOUR);

    fn prices(included: i64, cents_per_unit: i64) -> Vec<MetricPrice> {
        vec![MetricPrice {
            metric: "actions".into(),
            included,
            model: PricingModel::PerUnit(UnitPrice { minor: cents_per_unit, per: 1 }),
        }]
    }

    fn usage(ns: &str, quantity: i64) -> Usage {
        Usage { namespace_id: ns.into(), metric: "actions".into(), quantity }
    }

    #[test]
    fn a_period_ended_early_credits_the_unused_fee_and_includes_only_its_share() {
        let small = prices(100, 2);
        let ended_at = 180 * HOUR;
        let proration = prorate(ProrationInput {
            period_start_ms: PERIOD.0,
            period_end_ms: PERIOD.1,
            change_at_ms: ended_at,
            old_base_fee_minor: 1_000,
            new_base_fee_minor: 0,
        })
        .unwrap();
        let charges = PeriodCharges {
            period: PERIOD,
            base_plan: "Small",
            base_fee_minor: 1_000,
            changes: vec![],
            ended_early: Some(ProratedChange { from_plan: "Small", to_plan: "", proration: &proration }),
            segments: vec![PlanSegment {
                plan_name: "Small",
                prices: &small,
                from_ms: 0,
                to_ms: ended_at,
                usage: vec![usage("a", 150)],
            }],
            earlier: vec![],
        };
        let lines = build_lines(&charges).unwrap();
        let amounts: Vec<(LineKind, i64)> = lines.iter().map(|l| (l.kind, l.amount_minor)).collect();
        // A quarter of the period: three quarters of the fee back, a quarter of 100 included.
        assert_eq!(amounts, vec![(LineKind::BaseFee, 1_000), (LineKind::Proration, -750), (LineKind::Usage, 250)]);
        assert_eq!(lines[1].description, "Unused time on Small after the cancellation (22.5 days)");
    }

    #[test]
    fn a_mid_period_upgrade_splits_fees_usage_and_included_units() {
        let (old, new) = (prices(100, 2), prices(1_000, 1));
        let proration = prorate(ProrationInput {
            period_start_ms: PERIOD.0,
            period_end_ms: PERIOD.1,
            change_at_ms: 360 * HOUR,
            old_base_fee_minor: 1_000,
            new_base_fee_minor: 5_000,
        })
        .unwrap();
        let charges = PeriodCharges {
            period: PERIOD,
            base_plan: "Small",
            base_fee_minor: 1_000,
            changes: vec![ProratedChange { from_plan: "Small", to_plan: "Large", proration: &proration }],
            ended_early: None,
            segments: vec![
                PlanSegment {
                    plan_name: "Small",
                    prices: &old,
                    from_ms: 0,
                    to_ms: 360 * HOUR,
                    usage: vec![usage("a", 150)],
                },
                PlanSegment {
                    plan_name: "Large",
                    prices: &new,
                    from_ms: 360 * HOUR,
                    to_ms: PERIOD.1,
                    usage: vec![usage("a", 700)],
                },
            ],
            earlier: vec![],
        };
        let lines = build_lines(&charges).unwrap();
        let amounts: Vec<(LineKind, i64)> = lines.iter().map(|l| (l.kind, l.amount_minor)).collect();
        // half of 100 included under Small: 100 billable at 2; half of 1,000 under Large: 200 at 1.
        assert_eq!(
            amounts,
            [
                (LineKind::BaseFee, 1_000),
                (LineKind::Proration, -500),
                (LineKind::Proration, 2_500),
                (LineKind::Usage, 200),
                (LineKind::Usage, 200)
            ]
        );
        assert_eq!(subtotal_minor(&lines), Ok(3_400));
        assert_eq!(lines[1].description, "Unused time on Small (15.0 days)");
    }

    #[test]
    fn late_usage_of_a_finalized_period_becomes_one_adjustment_per_metric() {
        let p = prices(0, 3);
        let rate = |q| {
            rate_segment(
                &PlanSegment { plan_name: "P", prices: &p, from_ms: 0, to_ms: PERIOD.1, usage: vec![usage("a", q)] },
                PERIOD,
            )
            .unwrap()
        };
        let earlier = EarlierPeriod { from_ms: 0, to_ms: PERIOD.1, rated_now: rate(120), billed: rate(100) };
        let lines = adjustments(&earlier).unwrap();
        assert_eq!(lines.len(), 1);
        assert_eq!((lines[0].kind, lines[0].quantity, lines[0].amount_minor), (LineKind::Adjustment, 20, 60));
        assert!(lines[0].description.starts_with("Late usage: actions for 1970-01-01 00:00 UTC"));
        let lowered = EarlierPeriod { rated_now: rate(90), billed: rate(100), ..earlier.clone() };
        assert_eq!(adjustments(&lowered).unwrap()[0].amount_minor, -30);
        let settled = EarlierPeriod { rated_now: rate(100), billed: rate(100), ..earlier };
        assert!(adjustments(&settled).unwrap().is_empty());
    }

    #[test]
    fn credit_never_exceeds_the_subtotal_or_the_balance() {
        assert_eq!(credit_to_apply(10_000, 2_500), 2_500);
        assert_eq!(credit_to_apply(10_000, 25_000), 10_000);
        assert_eq!(credit_to_apply(-300, 25_000), 0);
        assert_eq!(credit_to_apply(500, 0), 0);
    }
}
