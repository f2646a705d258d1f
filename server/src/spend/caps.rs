//! Which namespaces are capped now: a budget with a hard cap reached its limit in the current
//! period and has not been raised since. The platform's data plane reads it to stop work; usage
//! that still arrives is recorded and billed.
use std::collections::HashSet;

use sqlx::AnyConnection;

use crate::billing::db::subscriptions::{SubscriptionRow, subscription_of};
use crate::error::Error;
use crate::spend::db::{WHOLE_ORGANIZATION, capped_scopes};

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
}

pub async fn caps(conn: &mut AnyConnection, organization_id: &str, now: i64) -> Result<Caps, Error> {
    let period = current_period(conn, organization_id, now).await?;
    caps_in(conn, organization_id, period).await
}

/// [`caps`] in the current period as the caller read it (`None`: no period runs).
pub async fn caps_in(
    conn: &mut AnyConnection,
    organization_id: &str,
    period: Option<(i64, i64)>,
) -> Result<Caps, Error> {
    let scopes = match period {
        Some((start, _)) => capped_scopes(conn, organization_id, start).await?,
        None => Vec::new(),
    };
    Ok(Caps {
        whole_organization: scopes.iter().any(|scope| scope == WHOLE_ORGANIZATION),
        namespaces: scopes.into_iter().filter(|scope| scope != WHOLE_ORGANIZATION).collect(),
    })
}
