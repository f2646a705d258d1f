//! What a crossing says: the notice mailed to the billing contacts, and the dashboard's alert,
//! worded from the same parts.
use std::collections::{HashMap, HashSet};

use app::api::dto::{Alert, Severity};
use serde_json::json;
use sqlx::AnyConnection;

use crate::accounts::db::namespaces::NamespaceRow;
use crate::error::Error;
use crate::metering::catalog::metric_catalog;
use crate::reader::display_time;
use crate::shared::time::display_rfc3339;
use crate::spend::db::{BudgetRow, CrossingRow, WHOLE_ORGANIZATION};
use crate::spend::domain::budget::CrossingKind;
use crate::spend::measure::{COST, Measured, amount_words};
use crate::webhooks::domain::event_types::{NAMESPACE_CAPPED, USAGE_THRESHOLD_CROSSED};
use crate::webhooks::events::Announcement;

/// The budget's scope as a subject: a namespace's name, or the whole organization.
pub fn scope_words(scope: &str, names: &HashMap<String, String>) -> String {
    match scope {
        WHOLE_ORGANIZATION => "All namespaces together".to_owned(),
        namespace => names.get(namespace).cloned().unwrap_or_else(|| namespace.to_owned()),
    }
}

pub struct CrossingNotice {
    pub kind: &'static str,
    pub subject: String,
    pub body: String,
}

/// The notice of a crossing just recorded.
pub fn crossing_notice(
    budget: &BudgetRow,
    kind: CrossingKind,
    percent: u32,
    measured_amount: i64,
    period: (i64, i64),
    names: &HashMap<String, String>,
    measured: &Measured,
) -> CrossingNotice {
    let scope = scope_words(&budget.scope, names);
    let limit = measured.words(&budget.measure, budget.limit_amount);
    let used = measured.words(&budget.measure, measured_amount);
    let span = format!("{} to {}", display_time(period.0), display_time(period.1));
    match kind {
        CrossingKind::Alert => CrossingNotice {
            kind: "budget_threshold",
            subject: format!("{scope} reached {percent}% of its budget"),
            body: format!(
                "{scope} has used {used} of its {limit} budget for the period {span}, crossing your {percent}% \
                 alert.\n\nThe budgets page of the billing portal shows where it stands and lets owners change it."
            ),
        },
        CrossingKind::Cap => CrossingNotice {
            kind: "namespace_capped",
            subject: format!("{scope}: hard cap of {limit} reached"),
            body: format!(
                "{scope} reached its hard cap of {limit} for the period {span} ({used} so far), so it is capped: \
                 the platform stops starting new work in it until the period ends or an owner raises the cap.\n\n\
                 Usage that still arrives is recorded and billed."
            ),
        },
    }
}

/// The webhook event of a crossing just recorded (`crossing_id`): exact figures in the budget's
/// measure (minor units of `currency` for cost, the metric's unit otherwise).
pub fn crossing_event(
    crossing_id: &str,
    budget: &BudgetRow,
    kind: CrossingKind,
    percent: u32,
    measured_amount: i64,
    period: (i64, i64),
    measured: &Measured,
) -> Announcement {
    let namespace_id = (budget.scope != WHOLE_ORGANIZATION).then_some(budget.scope.as_str());
    let event_type = match kind {
        CrossingKind::Alert => USAGE_THRESHOLD_CROSSED,
        CrossingKind::Cap => NAMESPACE_CAPPED,
    };
    Announcement {
        organization_id: budget.organization_id.clone(),
        event_type,
        reference: crossing_id.to_owned(),
        data: json!({
            "budget_id": budget.id,
            // `null`: the budget of all namespaces together (a cap of it caps every namespace).
            "namespace_id": namespace_id,
            "measure": budget.measure,
            "currency": (budget.measure == COST).then_some(&measured.spend.currency),
            "limit": budget.limit_amount,
            "threshold_percent": percent,
            "measured": measured_amount,
            "period_start": display_rfc3339(period.0),
            "period_end": display_rfc3339(period.1),
        }),
    }
}

/// The dashboard's alerts of the crossings standing in the current period ([`standing_in`]):
/// each threshold crossed until it is dismissed, and each cap until it is lifted. `budgets` and
/// `namespaces` are the organization's, as the caller read them.
///
/// [`standing_in`]: crate::spend::caps::standing_in
pub async fn budget_alerts(
    conn: &mut AnyConnection,
    currency: &str,
    budgets: &[BudgetRow],
    crossings: &[CrossingRow],
    namespaces: &[NamespaceRow],
) -> Result<Vec<Alert>, Error> {
    if crossings.is_empty() {
        return Ok(Vec::new());
    }
    let budgets: HashMap<&str, &BudgetRow> = budgets.iter().map(|b| (b.id.as_str(), b)).collect();
    let names: HashMap<String, String> = namespaces.iter().map(|n| (n.id.clone(), n.name.clone())).collect();
    let catalog = metric_catalog(conn).await?;
    let words = |budget: &BudgetRow, amount: i64| amount_words(&catalog.metrics, currency, &budget.measure, amount);
    let mut alerts = Vec::new();
    let mut alerted = HashSet::new();
    // Newest and highest first: a budget's highest threshold says all its lower ones do.
    for crossing in crossings.iter().rev() {
        let Some(budget) = budgets.get(crossing.budget_id.as_str()).copied() else { continue };
        let scope = scope_words(&budget.scope, &names);
        let limit = words(budget, budget.limit_amount);
        match CrossingKind::parse(&crossing.kind) {
            Some(CrossingKind::Cap) => alerts.push(Alert {
                severity: Severity::Danger,
                message: format!("{scope} is capped: it reached its hard cap of {limit}. Raise the cap to lift it."),
                section: "budgets".to_owned(),
                dismiss: None,
            }),
            Some(CrossingKind::Alert) if crossing.dismissed_at.is_none() && alerted.insert(&budget.id) => {
                alerts.push(Alert {
                    severity: Severity::Warning,
                    message: format!(
                        "{scope} reached {}% of its {limit} budget ({} when it crossed).",
                        crossing.threshold,
                        words(budget, crossing.measured)
                    ),
                    section: "budgets".to_owned(),
                    dismiss: Some(crossing.id.clone()),
                })
            }
            _ => {}
        }
    }
    Ok(alerts)
}
