//! Which namespaces are capped now: a budget with a hard cap reached its limit in the current
//! period and has not been raised since. The platform's data plane reads it to stop work; usage
//! that still arrives is recorded and billed.
use std::collections::HashSet;

use sqlx::AnyConnection;

use crate::billing::db::subscriptions::{SubscriptionRow, subscription_of};
use crate::error::Error;
use crate::spend::db::{CrossingRow, WHOLE_ORGANIZATION, standing_crossings};
use crate::spend::domain::budget::CrossingKind;

/// The subscription's current period, while it lasts: budgets count in it, and caps end with it
/// (or with the subscription, when it is canceled early).
pub async fn current_period(
    conn: &mut AnyConnection,
    organization_id: &str,
    now: i64,
) -> Result<Option<(i64, i64)>, Error> {
    Ok(period_in_effect(subscription_of(conn, organization_id).await?.as_ref(), now))
}

/// [`current_period`] of a subscription the caller already read.
pub fn period_in_effect(subscription: Option<&SubscriptionRow>, now: i64) -> Option<(i64, i64)> {
    subscription
        .filter(|s| s.ended_at.is_none_or(|ended| ended > now))
        .map(|s| (s.current_period_start, s.current_period_end))
        .filter(|(_, end)| now < *end)
}

pub struct Caps {
    /// A budget of the whole organization is capped: so is every namespace.
    whole_organization: bool,
    namespaces: HashSet<String>,
}

impl Caps {
    pub fn is_capped(&self, namespace_id: &str) -> bool {
        self.whole_organization || self.namespaces.contains(namespace_id)
    }

    /// The scopes of the standing cap crossings of budgets that still have a hard cap.
    pub fn of(standing: &[CrossingRow]) -> Self {
        let scopes: HashSet<&str> = standing
            .iter()
            .filter(|c| CrossingKind::parse(&c.kind) == Some(CrossingKind::Cap) && c.hard_cap == 1)
            .map(|c| c.scope.as_str())
            .collect();
        Caps {
            whole_organization: scopes.contains(WHOLE_ORGANIZATION),
            namespaces: scopes.into_iter().filter(|scope| *scope != WHOLE_ORGANIZATION).map(str::to_owned).collect(),
        }
    }
}

pub async fn caps(conn: &mut AnyConnection, organization_id: &str, now: i64) -> Result<Caps, Error> {
    let period = current_period(conn, organization_id, now).await?;
    Ok(Caps::of(&standing_in(conn, organization_id, period).await?))
}

/// The crossings standing in the current period as the caller read it (`None`: no period runs):
/// what both the caps and the dashboard's budget alerts are made of.
pub async fn standing_in(
    conn: &mut AnyConnection,
    organization_id: &str,
    period: Option<(i64, i64)>,
) -> Result<Vec<CrossingRow>, Error> {
    match period {
        Some((start, _)) => standing_crossings(conn, organization_id, start).await,
        None => Ok(Vec::new()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn crossing(kind: CrossingKind, scope: &str, hard_cap: i64) -> CrossingRow {
        CrossingRow {
            id: format!("{}-{scope}", kind.as_str()),
            budget_id: format!("budget-{scope}"),
            kind: kind.as_str().to_owned(),
            threshold: 100,
            measured: 1_000,
            crossed_at: 0,
            dismissed_at: None,
            scope: scope.to_owned(),
            hard_cap,
        }
    }

    #[test]
    fn only_a_standing_cap_of_a_budget_still_hard_capped_caps_its_scope() {
        let caps = Caps::of(&[
            crossing(CrossingKind::Cap, "ns_capped", 1),
            crossing(CrossingKind::Alert, "ns_alerted", 1),
            crossing(CrossingKind::Cap, "ns_cap_turned_off", 0),
        ]);
        assert!(caps.is_capped("ns_capped"));
        assert!(!caps.is_capped("ns_alerted"), "a threshold only tells");
        assert!(!caps.is_capped("ns_cap_turned_off"));
        assert!(!caps.is_capped("ns_other"));
        let whole = Caps::of(&[crossing(CrossingKind::Cap, WHOLE_ORGANIZATION, 1)]);
        assert!(whole.is_capped("ns_any"), "a cap of the whole organization caps every namespace");
    }
}
