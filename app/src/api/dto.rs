//! Wire types shared by the server render and the browser bundle. No database rows, no domain internals.
use serde::{Deserialize, Serialize};

use super::error::AppError;

/// The longest reason a staff action may carry (the audit log keeps it).
pub const MAX_REASON_LEN: usize = 500;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Role {
    Owner,
    Member,
    /// Reads what members read, and keeps the card and the billing details: for finance people.
    Billing,
}

impl Role {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Owner => "owner",
            Self::Member => "member",
            Self::Billing => "billing",
        }
    }

    pub fn parse(text: &str) -> Option<Self> {
        match text {
            "owner" => Some(Self::Owner),
            "member" => Some(Self::Member),
            "billing" => Some(Self::Billing),
            _ => None,
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Membership {
    pub organization_id: String,
    pub organization_name: String,
    pub role: Role,
    /// A payment of the organization is past due, as of this request: read with the user, so that
    /// the banner every page asks for reads nothing more while none is. Absent from an instance of
    /// the release before (both answer during a rolling upgrade): asked for, then.
    #[serde(default = "past_due_unknown")]
    pub past_due: bool,
}

fn past_due_unknown() -> bool {
    true
}

/// The logged-in person as every page and server function sees them.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SessionUser {
    pub user_id: String,
    pub email: String,
    pub is_staff: bool,
    pub memberships: Vec<Membership>,
    /// The IANA zone they chose to read times in; `None`: their browser's.
    pub time_zone: Option<String>,
}

/// What the preferences page shows and edits.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Preferences {
    pub email: String,
    /// The zone chosen, or `None` for the browser's.
    pub time_zone: Option<String>,
    pub browser_time_zone: Option<String>,
    /// Every zone to choose from.
    pub time_zones: Vec<String>,
    /// The current time as the portal now shows it, e.g. `2026-12-04 23:40 CET`.
    pub now: String,
}

impl SessionUser {
    /// Someone outside the organization learns nothing about it, not even that it exists: 404.
    pub fn role_in(&self, organization_id: &str) -> Result<Role, AppError> {
        self.memberships.iter().find(|m| m.organization_id == organization_id).map(|m| m.role).ok_or(AppError::NotFound)
    }

    /// Changes to the service (keys, namespaces, plans, the team) are for owners only.
    pub fn require_owner(&self, organization_id: &str) -> Result<(), AppError> {
        match self.role_in(organization_id)? {
            Role::Owner => Ok(()),
            Role::Member | Role::Billing => Err(AppError::Forbidden),
        }
    }

    /// The card, payments and billing details: owners and the billing role.
    pub fn require_billing(&self, organization_id: &str) -> Result<(), AppError> {
        match self.role_in(organization_id)? {
            Role::Owner | Role::Billing => Ok(()),
            Role::Member => Err(AppError::Forbidden),
        }
    }

    /// Whether the user keeps the card and billing details of the organization.
    pub fn keeps_billing(&self, organization_id: &str) -> bool {
        self.require_billing(organization_id).is_ok()
    }

    pub fn require_staff(&self) -> Result<(), AppError> {
        if self.is_staff { Ok(()) } else { Err(AppError::NotFound) }
    }

    /// Where a fresh login lands.
    pub fn home_path(&self) -> String {
        match self.memberships.first() {
            Some(m) => format!("/orgs/{}", m.organization_id),
            None if self.is_staff => "/admin".to_owned(),
            // A user in no organization any more is told so, and what to do.
            None => "/no-organization".to_owned(),
        }
    }
}

/// A moment as its reader reads it, in their time zone, with UTC kept for the hover and for
/// machines.
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Moment {
    /// `2026-11-25 18:30 JST`
    pub local: String,
    /// `2026-11-25T09:30:00Z`
    pub utc: String,
}

impl Moment {
    /// `2026-11-25 09:30 UTC`, the same moment for someone comparing notes across zones.
    pub fn utc_text(&self) -> String {
        match (self.utc.get(..10), self.utc.get(11..16)) {
            (Some(day), Some(time)) => format!("{day} {time} UTC"),
            _ => self.utc.clone(),
        }
    }
}

#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Namespace {
    pub id: String,
    pub name: String,
    pub created_at: Moment,
}

/// A namespace on the dashboard: its last seven days of the headline metric.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct NamespaceActivity {
    pub name: String,
    /// A budget's hard cap stops work in it this period.
    pub capped: bool,
    /// e.g. `1.84 M actions`.
    pub last_7_days: String,
    /// One point per day, oldest first, drawn by the server.
    pub sparkline_svg: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Dashboard {
    pub organization_id: String,
    pub organization_name: String,
    pub billing_email: String,
    pub currency: String,
    pub role: Role,
    pub namespaces: Vec<Namespace>,
    /// The same namespaces' last seven days, for the dashboard's cards.
    pub activity: Vec<NamespaceActivity>,
    pub estimate: Option<usage::CostEstimate>,
    /// Every budget with where it stands and when the pace so far reaches it.
    pub budgets: Vec<spend::Budget>,
    /// The first steps of a new organization, until all are done.
    pub getting_started: Option<GettingStarted>,
    pub overview: Overview,
}

/// The dashboard's tiles: where the organization stands, each linking to its page.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Overview {
    /// The plan subscribed to; None before one is chosen or after the subscription ended.
    pub plan: Option<String>,
    /// The subscription's status (`active`, `trialing`, `past_due`, …), or `none`.
    pub status: String,
    /// When the current period ends and its invoice is drafted.
    pub next_invoice_on: Option<Moment>,
    /// The same in words: `in 21 days`.
    pub next_invoice_in: Option<String>,
    pub balance_due: String,
    pub credit_balance: String,
    /// The newest three.
    pub latest_invoices: Vec<billing::InvoiceSummary>,
    /// Everything that needs the customer, most urgent first.
    pub alerts: Vec<Alert>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Alert {
    pub severity: Severity,
    pub message: String,
    /// The organization's page where it is dealt with: `payment`, `plan`, ….
    pub section: String,
    /// What to send `dismiss_budget_alert` to hide it; `None` while it needs action.
    pub dismiss: Option<String>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum Severity {
    Danger,
    Warning,
    Info,
}

impl Severity {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Danger => "danger",
            Self::Warning => "warning",
            Self::Info => "info",
        }
    }
}

/// An organization's people and the invitations waiting for an answer.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TeamPage {
    pub members: Vec<TeamMember>,
    pub invitations: Vec<TeamInvitation>,
    /// Owners invite and remove; members read.
    pub can_manage: bool,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TeamMember {
    pub user_id: String,
    pub email: String,
    pub role: String,
    pub since: Moment,
    /// False for the last owner, who stays.
    pub removable: bool,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TeamInvitation {
    pub id: String,
    pub email: String,
    pub role: String,
    pub invited_by: String,
    pub expires: Moment,
}

/// The steps from sign-up to the first metered event, each done once its row exists.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct GettingStarted {
    pub has_plan: bool,
    pub first_namespace: Option<String>,
    pub has_api_key: bool,
    pub has_usage: bool,
    /// Where usage events are sent: `<public base URL>/v1/usage/events`.
    pub events_url: String,
}

/// What invoices print about the customer, and where its billing mail goes.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct BillingDetails {
    pub legal_name: String,
    pub address_line1: String,
    pub address_line2: String,
    pub city: String,
    pub postal_code: String,
    pub region: String,
    /// ISO 3166-1 alpha-2, or empty.
    pub country: String,
    pub tax_id: String,
    pub billing_email: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Country {
    pub code: String,
    pub name: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct BillingDetailsPage {
    pub details: BillingDetails,
    pub countries: Vec<Country>,
    /// Owners change the details; members read them.
    pub can_edit: bool,
    /// Who receives invoices and payment notices beside the billing email.
    pub contacts: Vec<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ApiKey {
    pub id: String,
    pub name: String,
    /// The visible start of the secret, so owners can tell keys apart.
    pub prefix: String,
    pub created_by: String,
    pub created_at: Moment,
    pub last_used_at: Option<Moment>,
    pub revoked_at: Option<Moment>,
}

/// Returned once, when the key is made; only its hash is kept.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CreatedApiKey {
    pub key: ApiKey,
    pub secret: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct OrganizationSummary {
    pub id: String,
    pub name: String,
    pub billing_email: String,
    pub namespace_count: i64,
    pub member_count: i64,
    pub created_at: Moment,
    /// The subscription's status (`active`, `past_due`…), or `none`.
    pub status: String,
    /// What the customer owes and their unused credit, formatted with their currency.
    pub owed: String,
    pub credit: String,
}

#[cfg(test)]
mod tests {
    use super::*;

    fn user(memberships: &[(&str, Role)], is_staff: bool) -> SessionUser {
        SessionUser {
            user_id: "usr_1".into(),
            email: "a@b.test".into(),
            is_staff,
            memberships: memberships
                .iter()
                .map(|(org, role)| Membership {
                    organization_id: (*org).into(),
                    organization_name: (*org).into(),
                    role: *role,
                    past_due: false,
                })
                .collect(),
            time_zone: None,
        }
    }

    #[test]
    fn an_organization_the_user_is_not_in_is_not_found() {
        let u = user(&[("org_a", Role::Owner)], false);
        assert_eq!(u.role_in("org_b"), Err(AppError::NotFound));
        assert_eq!(u.require_owner("org_b"), Err(AppError::NotFound));
    }

    #[test]
    fn members_read_and_owners_change() {
        let u = user(&[("org_a", Role::Member), ("org_b", Role::Owner)], false);
        assert_eq!(u.role_in("org_a"), Ok(Role::Member));
        assert_eq!(u.require_owner("org_a"), Err(AppError::Forbidden));
        assert_eq!(u.require_owner("org_b"), Ok(()));
    }

    #[test]
    fn staff_pages_are_invisible_to_customers() {
        assert_eq!(user(&[("org_a", Role::Owner)], false).require_staff(), Err(AppError::NotFound));
        assert_eq!(user(&[], true).require_staff(), Ok(()));
    }

    #[test]
    fn a_login_lands_on_the_first_organization_or_the_admin_console() {
        assert_eq!(user(&[("org_a", Role::Member)], true).home_path(), "/orgs/org_a");
        assert_eq!(user(&[], true).home_path(), "/admin");
    }

    #[test]
    fn roles_round_trip_through_their_stored_text() {
        for role in [Role::Owner, Role::Member, Role::Billing] {
            assert_eq!(Role::parse(role.as_str()), Some(role));
        }
        assert_eq!(Role::parse("admin"), None);
    }
}

/// What the JSON API for machines answers (`/v1/…`): figures rather than words. Quantities are
/// integers in the metric's stored unit (`units_per_display` of them make one `unit`), money
/// integers in the currency's minor units, times RFC 3339 in UTC.
pub mod machine {
    use serde::{Deserialize, Serialize};

    /// `GET /v1/usage`: rolled-up totals of one metric per namespace and bucket.
    #[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
    #[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
    pub struct UsageTotals {
        pub metric: String,
        pub unit: String,
        pub units_per_display: i64,
        /// `hour` or `day` (UTC days).
        pub granularity: String,
        /// The buckets asked for, widened to whole ones and ending with the current hour.
        pub from: String,
        pub to: String,
        /// Usage is complete through this instant (the watermark); later hours may still grow.
        pub complete_through: String,
        /// Each namespace asked for, with its total over the whole span (zero included).
        pub namespaces: Vec<NamespaceTotal>,
        /// Buckets with usage, by namespace and then start (and then group, when grouped).
        pub buckets: Vec<UsageBucket>,
        /// The dimension asked for with `group_by`, e.g. `action_type`.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        pub group_by: Option<String>,
        /// With `group_by`: each value's total over the whole span, usage without the dimension
        /// under `unspecified`. They add up to the namespaces' totals.
        #[serde(default, skip_serializing_if = "Vec::is_empty")]
        pub groups: Vec<GroupTotal>,
    }

    #[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
    #[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
    pub struct NamespaceTotal {
        pub namespace: String,
        pub quantity: i64,
    }

    #[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
    #[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
    pub struct GroupTotal {
        /// A declared value of the dimension, or `unspecified`.
        pub group: String,
        pub quantity: i64,
    }

    #[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
    #[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
    pub struct UsageBucket {
        pub namespace: String,
        pub start: String,
        /// With `group_by`: the dimension's value (or `unspecified`) this bucket counts.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        pub group: Option<String>,
        pub quantity: i64,
    }

    /// `GET /v1/namespaces/:ns`: what the platform's data plane reads before starting work.
    #[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
    #[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
    pub struct NamespaceStatus {
        pub id: String,
        pub name: String,
        pub created_at: String,
        /// A budget with a hard cap reached its limit this period: stop starting new work.
        /// Usage that still arrives is recorded and billed.
        pub capped: bool,
    }

    /// One budget of `PUT /v1/budgets`, which replaces the organization's budgets with the list.
    #[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
    #[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
    #[serde(deny_unknown_fields)]
    pub struct BudgetSetting {
        /// A namespace's name; absent or `null` for all namespaces together.
        #[serde(default)]
        pub namespace: Option<String>,
        /// `cost` or a metric's key.
        pub measure: String,
        /// Minor units for cost, the metric's stored unit otherwise.
        pub limit: i64,
        /// Whole percentages of the limit, 1 to 1000, at most five.
        #[serde(default)]
        pub thresholds: Vec<i64>,
        #[serde(default)]
        pub hard_cap: bool,
    }

    /// `GET /v1/budgets`: each budget and where it stands this period.
    #[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
    #[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
    pub struct BudgetFigures {
        pub id: String,
        /// The namespace's name; `None` for all namespaces together.
        pub namespace: Option<String>,
        /// `cost` (money in minor units) or a metric's key (its stored unit).
        pub measure: String,
        pub limit: i64,
        /// Percentages of the limit that alert.
        pub thresholds: Vec<i64>,
        pub hard_cap: bool,
        /// So far this period; `None` before a plan is chosen.
        pub used: Option<i64>,
        pub crossed: Vec<i64>,
        pub capped: bool,
        /// When `used` reaches `limit` at the pace so far, if it does within the period (an
        /// estimate, by the forecast's linear model).
        pub reaches_at: Option<String>,
    }

    /// `GET /v1/invoices` (without lines) and `GET /v1/invoices/:id` (with them).
    #[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
    #[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
    pub struct InvoiceFigures {
        pub id: String,
        /// Given at finalization; none on a draft.
        pub number: Option<String>,
        /// `draft`, `open`, `paid`, `void` or `uncollectible`.
        pub status: String,
        pub currency: String,
        pub period_start: String,
        pub period_end: String,
        pub subtotal_minor: i64,
        pub credit_applied_minor: i64,
        pub amount_due_minor: i64,
        pub due_at: Option<String>,
        pub finalized_at: Option<String>,
        pub paid_at: Option<String>,
        #[serde(skip_serializing_if = "Option::is_none", default)]
        pub lines: Option<Vec<InvoiceLineFigures>>,
    }

    #[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
    #[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
    pub struct InvoiceLineFigures {
        /// `base_fee`, `usage`, `proration`, `adjustment`, `credit`, `discount`…
        pub kind: String,
        pub description: String,
        /// The namespace's name, for usage lines.
        pub namespace: Option<String>,
        pub metric: Option<String>,
        /// The price tier, from 1.
        pub tier: Option<i64>,
        pub quantity: i64,
        /// `unit_price_minor` for every `unit_price_per` of the metric's stored unit.
        pub unit_price_minor: Option<i64>,
        pub unit_price_per: Option<i64>,
        pub amount_minor: i64,
        /// The usage period the line was rated from.
        pub usage_from: Option<String>,
        pub usage_to: Option<String>,
    }
}

/// Budgets per namespace or for the whole organization (`/orgs/:org/budgets`).
pub mod spend {
    use serde::{Deserialize, Serialize};

    #[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
    pub struct BudgetsPage {
        pub organization_id: String,
        pub can_edit: bool,
        /// The current billing period in words; `None` before a plan is chosen.
        pub period: Option<String>,
        pub budgets: Vec<Budget>,
        /// What a budget may be for: all namespaces together (`""`), then each namespace.
        pub scopes: Vec<Choice>,
        /// What it may count: `cost`, then each metric.
        pub measures: Vec<Choice>,
    }

    #[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
    pub struct Choice {
        pub value: String,
        pub label: String,
    }

    #[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
    pub struct Budget {
        pub id: String,
        /// A namespace's id, or `""` for all namespaces together.
        pub scope: String,
        pub scope_label: String,
        /// `cost` or a metric's key.
        pub measure: String,
        pub measure_label: String,
        /// `$250.00`, `5,000,000 actions`.
        pub limit: String,
        /// The limit as the form takes it: `250.00`, `5000000`.
        pub limit_input: String,
        /// `50, 80, 100`.
        pub thresholds: String,
        pub hard_cap: bool,
        /// So far this period; `None` before a plan is chosen.
        pub used: Option<String>,
        pub used_percent: Option<i64>,
        /// Thresholds crossed this period, ascending.
        pub crossed: Vec<i64>,
        pub capped: bool,
        /// When it reaches the budget at the pace so far: `on 20 Dec 2026 (in 15 days)`.
        pub reaches: Option<String>,
    }
}

pub mod webhooks {
    use serde::{Deserialize, Serialize};

    use super::spend::Choice;

    /// The organization's webhook endpoints with their recent deliveries; owners only.
    #[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
    pub struct WebhooksPage {
        pub organization_id: String,
        pub endpoints: Vec<WebhookEndpoint>,
        /// Every event type, with what it announces.
        pub event_types: Vec<Choice>,
        /// How many endpoints an organization may have.
        pub max_endpoints: usize,
    }

    #[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
    pub struct WebhookEndpoint {
        pub id: String,
        pub url: String,
        pub event_types: Vec<String>,
        pub enabled: bool,
        /// Why it is disabled: by an owner, or after failing for three days.
        pub disabled_reason: Option<String>,
        pub created: String,
        /// While the secret before the last rotation still signs: until when.
        pub previous_secret_until: Option<String>,
        /// The newest first.
        pub deliveries: Vec<WebhookDelivery>,
    }

    #[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
    pub struct WebhookDelivery {
        pub id: String,
        /// The `webhook-id` the endpoint received.
        pub event_id: String,
        pub event_type: String,
        /// `pending`, `delivered` or `failed`.
        pub status: String,
        pub created: String,
        /// When it is tried again, for one still pending.
        pub next_attempt: Option<String>,
        pub attempts: Vec<WebhookAttempt>,
    }

    #[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
    pub struct WebhookAttempt {
        pub at: String,
        /// `HTTP 200`, `HTTP 500: …`, `no answer within 10 seconds`.
        pub result: String,
        pub succeeded: bool,
        pub duration_ms: i64,
    }

    /// A signing secret, shown once: after registering an endpoint or rotating its secret.
    #[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
    pub struct ShownSecret {
        pub endpoint_id: String,
        pub secret: String,
        pub page: WebhooksPage,
    }
}

pub mod usage {
    use serde::{Deserialize, Serialize};

    #[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
    pub enum UsageRange {
        Last24Hours,
        Last7Days,
        BillingPeriod,
        /// Whole UTC days chosen by the customer: [`UsageWindow::from`] through [`UsageWindow::to`].
        Custom,
    }

    impl UsageRange {
        pub const ALL: [UsageRange; 3] = [Self::Last24Hours, Self::Last7Days, Self::BillingPeriod];

        pub fn key(self) -> &'static str {
            match self {
                Self::Last24Hours => "24h",
                Self::Last7Days => "7d",
                Self::BillingPeriod => "period",
                Self::Custom => "custom",
            }
        }

        pub fn label(self) -> &'static str {
            match self {
                Self::Last24Hours => "Last 24 hours",
                Self::Last7Days => "Last 7 days",
                Self::BillingPeriod => "Current billing period",
                Self::Custom => "Custom dates",
            }
        }

        /// Unknown keys fall back to the last 24 hours.
        pub fn from_key(key: &str) -> Self {
            Self::ALL.into_iter().chain([Self::Custom]).find(|r| r.key() == key).unwrap_or(Self::Last24Hours)
        }
    }

    /// The hours a usage view covers: a preset range, or the days `from` through `to`
    /// (`2026-11-01`), which only [`UsageRange::Custom`] reads.
    #[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
    pub struct UsageWindow {
        pub range: UsageRange,
        pub from: Option<String>,
        pub to: Option<String>,
    }

    impl UsageWindow {
        pub fn preset(range: UsageRange) -> Self {
            Self { range, from: None, to: None }
        }

        /// `range=custom&from=2026-11-01&to=2026-11-15`: the window as a link's query.
        pub fn query(&self) -> String {
            match (self.range, &self.from, &self.to) {
                (UsageRange::Custom, Some(from), Some(to)) => format!("range=custom&from={from}&to={to}"),
                (range, _, _) => format!("range={}", range.key()),
            }
        }
    }

    /// A namespace's line on the chart: its color, and whether the customer hid it.
    #[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
    pub struct LegendEntry {
        pub name: String,
        pub color: String,
        pub hidden: bool,
    }

    #[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
    pub struct MetricInfo {
        pub key: String,
        pub display_name: String,
        pub display_unit: String,
    }

    #[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
    /// A series of the page: a namespace, or a value of the dimension the page is broken down by.
    pub struct NamespaceUsage {
        pub id: String,
        pub name: String,
        /// The period total, formatted in the metric's display unit.
        pub total: String,
        /// In the current period's view, the hourly pace so far that the chart's dashed line
        /// goes on at, e.g. `1,240.5`, in the metric's display unit.
        pub pace: Option<String>,
    }

    /// One row of the accessible table: an hour with usage, and each namespace's total in it.
    #[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
    pub struct HourRow {
        pub hour: super::Moment,
        pub totals: Vec<String>,
    }

    /// The current period's cost so far, rated like an invoice.
    #[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
    pub struct CostEstimate {
        pub plan: String,
        pub period: String,
        /// Formatted with its currency, e.g. `512.34 USD`.
        pub total: String,
        pub total_minor: i64,
        /// The promotion code's discount already taken off `total`, e.g. `$100.00 off with LAUNCH20`.
        pub discount: Option<String>,
        /// The dashboard's: usage charges so far against the previous period's at the same point,
        /// e.g. `Usage so far $120.00, up 12% on the same point last period ($107.14)`.
        pub usage_change: Option<String>,
        /// The whole period's cost if usage keeps its pace so far; none in a trial or in the
        /// period's first day.
        pub projection: Option<Projection>,
    }

    /// An estimate of where the period ends (`billing::domain::forecast` on the server).
    #[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
    pub struct Projection {
        /// The period's projected total, with its currency, e.g. `$1,240.00`.
        pub total: String,
        pub total_minor: i64,
        /// Each namespace's projected usage charges, by name.
        pub per_namespace: Vec<NamespaceProjection>,
    }

    #[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
    pub struct NamespaceProjection {
        pub namespace: String,
        pub usage: String,
        pub usage_minor: i64,
    }

    /// `GET /v1/estimate`: the current period's cost so far and where it is heading, as figures
    /// in the currency's minor units (cents), rated like the period's invoice.
    #[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
    #[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
    pub struct UsageEstimate {
        pub plan: String,
        /// ISO 4217, e.g. `USD`.
        pub currency: String,
        /// RFC 3339, UTC.
        pub period_start: String,
        pub period_end: String,
        /// In a free trial nothing is charged: every figure is zero and there is no projection.
        pub trial: bool,
        /// What the period's invoice would hold if it were finalized now, discount taken off.
        pub month_to_date_minor: i64,
        /// An estimate: the period's total if usage keeps its pace so far; null in a trial and
        /// in the period's first day.
        pub projected_minor: Option<i64>,
        /// Every namespace of the organization, by name.
        pub namespaces: Vec<NamespaceEstimate>,
    }

    #[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
    #[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
    pub struct NamespaceEstimate {
        pub namespace_id: String,
        pub name: String,
        /// The namespace's usage charges so far.
        pub usage_to_date_minor: i64,
        /// Its usage charges by the period's end at its pace so far (null when the total is).
        pub projected_usage_minor: Option<i64>,
    }

    #[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
    pub struct UsageReport {
        pub metric: MetricInfo,
        pub metrics: Vec<MetricInfo>,
        pub window: UsageWindow,
        pub from: String,
        pub to: String,
        /// The first and last day shown (`2026-11-01`), to fill in the custom range's fields.
        pub first_day: String,
        pub last_day: String,
        pub legend: Vec<LegendEntry>,
        /// The chart ends with the current hour, still counting.
        pub in_progress: bool,
        pub namespaces: Vec<NamespaceUsage>,
        /// Every series' total together, written like theirs.
        pub total: String,
        pub rows: Vec<HourRow>,
        pub chart_svg: String,
        /// In the current period's view a day or more in: what the dashed lines to the period's
        /// end are.
        pub projection_note: Option<String>,
        pub complete_through: String,
        pub late_events: i64,
        pub estimate: Option<CostEstimate>,
        /// Every budget with where it stands and when the pace so far reaches it.
        pub budgets: Vec<super::spend::Budget>,
        /// The metric's dimensions, each a way to break the page down instead of by namespace.
        pub dimensions: Vec<DimensionInfo>,
        /// The dimension the series are the values of; by namespace when `None`.
        pub by: Option<DimensionInfo>,
    }

    #[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
    pub struct DimensionInfo {
        /// As events and `group_by` name it: `action_type`.
        pub key: String,
        /// As people read it: "Action type".
        pub label: String,
    }
}

/// Plans, plan changes, invoices and credits as the portal shows them. Amounts arrive formatted
/// with their currency: the browser never does money arithmetic.
pub mod billing {
    use serde::{Deserialize, Serialize};

    #[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
    pub struct PlanOption {
        pub name: String,
        pub base_fee: String,
        /// One line per metric: what is included and the price after it.
        pub terms: Vec<String>,
        pub current: bool,
        /// e.g. "14-day free trial": what starting on this plan gives a customer without one.
        pub trial: Option<String>,
    }

    #[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
    pub struct PlanPage {
        pub current_plan: String,
        pub status: String,
        pub period: String,
        /// e.g. "Essentials from 2026-12-10 09:00 UTC".
        pub scheduled_change: Option<String>,
        /// When a requested cancellation takes effect.
        pub cancels_at: Option<String>,
        pub plans: Vec<PlanOption>,
        /// False for an organization that has not chosen a plan yet (just signed up).
        pub subscribed: bool,
        /// The promotion code whose discount the next invoices receive.
        pub discount: Option<ActiveDiscount>,
        /// When the last subscription ended, for an organization that may subscribe again.
        pub ended: Option<String>,
    }

    #[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
    pub struct ActiveDiscount {
        pub code: String,
        /// e.g. "20% off the next 3 invoices".
        pub terms: String,
        /// e.g. "2 invoices left", "every invoice".
        pub remaining: String,
    }

    /// What a promotion code would do, before the owner applies it.
    #[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
    pub struct PromotionPreview {
        pub code: String,
        pub terms: String,
        /// The current period's invoice so far, as it stands and with the discount.
        pub period_so_far: String,
        pub discount: String,
        pub after_discount: String,
        /// Plans the coupon is limited to; empty for every plan.
        pub plans: Vec<String>,
    }

    #[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
    pub struct PlanChangePreview {
        pub from_plan: String,
        pub to_plan: String,
        pub upgrade: bool,
        /// False when the change waits for the end of the period.
        pub immediate: bool,
        pub effective_at: String,
        pub period: String,
        pub remaining_days: String,
        pub period_days: String,
        pub credit: String,
        pub charge: String,
        pub net: String,
        /// How usage and included quantities split at the change.
        pub usage_split: Vec<String>,
        /// Confirming with this token applies exactly this preview, if nothing changed since.
        pub token: String,
    }

    #[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
    pub struct InvoiceSummary {
        pub id: String,
        pub number: Option<String>,
        pub period: String,
        pub status: String,
        pub total: String,
        pub amount_due: String,
        pub due: Option<super::Moment>,
    }

    #[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
    pub struct CreditView {
        pub amount: String,
        pub remaining: String,
        pub reason: String,
        pub expires: Option<super::Moment>,
    }

    #[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
    pub struct InvoicesPage {
        pub invoices: Vec<InvoiceSummary>,
        /// What the customer owes across open invoices, from the ledger.
        pub balance_due: String,
        /// Credit held for the next invoices, from the ledger.
        pub credit_balance: String,
        pub credits: Vec<CreditView>,
    }

    #[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
    pub struct InvoiceLineView {
        pub kind: String,
        pub description: String,
        pub namespace: Option<String>,
        pub tier: Option<String>,
        pub quantity: String,
        pub unit_price: Option<String>,
        pub amount: String,
    }

    #[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
    pub struct InvoiceDetail {
        pub summary: InvoiceSummary,
        pub organization_name: String,
        pub billing_email: String,
        pub lines: Vec<InvoiceLineView>,
        pub subtotal: String,
        pub credit_applied: String,
        pub void_reason: Option<String>,
        /// Every charge attempt on this invoice, oldest first.
        pub payments: Vec<super::payments::PaymentView>,
        /// Chargebacks of this invoice's payments, oldest first.
        pub disputes: Vec<super::payments::DisputeView>,
    }

    #[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
    pub struct IssuedCredit {
        pub id: String,
        pub amount: String,
        /// False when the idempotency key was used before: the earlier credit is returned.
        pub created: bool,
    }
}

pub mod payments {
    use serde::{Deserialize, Serialize};

    #[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
    pub struct CardView {
        pub brand: String,
        pub last4: String,
        /// `MM/YYYY`.
        pub expires: String,
    }

    #[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
    pub struct TimelineEntry {
        pub at: super::Moment,
        pub kind: String,
        pub detail: String,
    }

    /// An invoice in dunning, with what happened so far and what comes next.
    #[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
    pub struct PastDueInvoice {
        pub invoice_id: String,
        pub number: String,
        pub amount_due: String,
        pub next_retry: Option<String>,
        /// The same in words: `in 3 days`.
        pub next_retry_in: Option<String>,
        /// Whole days until the service is suspended, while it is not yet.
        pub suspends_in_days: Option<i64>,
        pub cancels_on: Option<String>,
        /// The last attempt waits for the card holder to confirm it with their bank.
        pub awaits_confirmation: bool,
        pub timeline: Vec<TimelineEntry>,
    }

    /// What the past-due banner shows on every page of an organization.
    #[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
    pub struct BillingStatus {
        /// The service is suspended for what is past due.
        pub suspended: bool,
        pub past_due: Vec<PastDueInvoice>,
        /// While something is past due, the most recent failure, as the processor explained it.
        pub last_failure: Option<String>,
    }

    #[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
    pub struct PaymentView {
        pub id: String,
        pub invoice_id: String,
        pub invoice_number: String,
        pub attempt: i64,
        pub amount: String,
        pub status: String,
        pub failure: Option<String>,
        pub at: super::Moment,
        /// `automatic` (first charge, dunning) or `customer` (method update, Pay now).
        pub trigger: String,
        /// How much of it was refunded, when any was.
        pub refunded: Option<String>,
    }

    #[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
    pub struct PaymentMethodPage {
        pub card: Option<CardView>,
        /// The built-in test-mode processor: the card form takes Stripe's test cards.
        pub test_mode: bool,
        pub status: BillingStatus,
        pub payments: Vec<PaymentView>,
    }

    /// An invoice's Pay page: a payment the card holder's bank asked them to confirm, and how.
    #[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
    pub struct PayPage {
        pub invoice_id: String,
        pub invoice_number: String,
        pub amount_due: String,
        pub card: Option<CardView>,
        pub step: PayStep,
        /// What the last confirmation on this page came to, when it did not pay the invoice.
        pub notice: Option<String>,
    }

    #[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
    pub enum PayStep {
        Paid,
        /// Nothing waits for the card holder: the invoice is not open, or its last attempt
        /// failed for another reason (a new card is the way then).
        NothingToConfirm,
        /// Test mode: the portal shows the bank's step itself, to approve or to fail.
        TestAuthentication,
        /// Stripe: Stripe.js confirms the PaymentIntent in the browser with these.
        Stripe {
            publishable_key: String,
            client_secret: String,
            payment_method_id: String,
        },
    }

    /// A webhook event that failed every retry and waits for a person (`server webhooks replay`).
    #[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
    pub struct ParkedEvent {
        pub id: String,
        pub event_type: String,
        pub attempts: i64,
        pub last_error: String,
        pub received: super::Moment,
    }

    /// A chargeback: the card holder's bank disputes one of our payments.
    #[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
    pub struct DisputeView {
        pub id: String,
        pub customer: String,
        pub invoice: String,
        pub amount: String,
        pub reason: String,
        pub status: String,
        /// When the evidence must reach the processor, while that is still open.
        pub evidence_due: Option<super::Moment>,
        pub opened: super::Moment,
    }

    #[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
    pub struct NotificationView {
        pub at: super::Moment,
        pub kind: String,
        pub recipient: String,
        pub subject: String,
        pub body: String,
        pub delivery: Option<String>,
    }
}

pub mod admin {
    use serde::{Deserialize, Serialize};

    /// The coupons staff created, with their promotion codes and how often each was redeemed.
    #[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
    pub struct CouponsPage {
        pub coupons: Vec<CouponView>,
        /// Every plan a coupon can be limited to.
        pub plans: Vec<String>,
        /// Currencies an amount off can be in: those of the plans.
        pub currencies: Vec<String>,
    }

    #[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
    pub struct CouponView {
        pub id: String,
        pub name: String,
        pub terms: String,
        /// e.g. "3 of 100 redeemed".
        pub redeemed: String,
        pub redeem_by: Option<super::Moment>,
        /// Empty for every plan.
        pub plans: Vec<String>,
        pub codes: Vec<PromotionCodeView>,
    }

    #[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
    pub struct PromotionCodeView {
        pub code: String,
        pub redeemed: String,
        pub redeem_by: Option<super::Moment>,
    }

    /// A new coupon as staff type it; every field is checked and a refusal names it.
    #[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
    pub struct CouponForm {
        pub name: String,
        /// `percent` or `amount`.
        pub kind: String,
        /// A whole percentage (`20`) or an amount (`25.00`).
        pub value: String,
        /// For an amount off.
        pub currency: String,
        /// `once`, `repeating` or `forever`.
        pub duration: String,
        /// Invoices discounted by a repeating coupon.
        pub invoices: String,
        /// A date; empty for no end.
        pub redeem_by: String,
        /// Empty for no limit.
        pub max_redemptions: String,
        /// Plan names separated by commas; empty for every plan.
        pub plans: String,
    }

    /// A customer staff create for someone sold to by hand.
    #[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
    pub struct NewCustomerForm {
        pub name: String,
        pub billing_email: String,
        /// A plan name, or empty to let the owner choose.
        pub plan: String,
        /// Days of free trial; empty for none.
        pub trial_days: String,
        /// Invited by mail as the first owner.
        pub owner_email: String,
        /// Why staff create it (the deal, the contract), for the audit log.
        pub reason: String,
    }

    #[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
    pub struct PromotionCodeForm {
        pub coupon_id: String,
        pub code: String,
        pub redeem_by: String,
        pub max_redemptions: String,
    }

    use super::billing::InvoicesPage;
    use super::payments::{BillingStatus, NotificationView};

    /// One customer as staff see it on its admin page.
    #[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
    pub struct AdminCustomer {
        pub organization_id: String,
        pub name: String,
        pub billing_email: String,
        pub plan: String,
        pub subscription_status: String,
        pub billing: InvoicesPage,
        pub payment_status: BillingStatus,
        /// The customer's mail log: every notification, newest first.
        pub notifications: Vec<NotificationView>,
        /// Every payment attempt, newest first; succeeded ones can be refunded.
        pub payments: Vec<super::payments::PaymentView>,
        /// Chargebacks, newest first.
        pub disputes: Vec<super::payments::DisputeView>,
        /// A fresh idempotency key for the credit form: a double submit of that form grants once.
        pub credit_form_key: String,
        pub estimate: Option<super::usage::CostEstimate>,
        /// Usage of the current period per namespace and metric, from the hourly rollups.
        pub period_usage: Vec<UsageTotal>,
        pub namespaces: Vec<NamespaceState>,
        /// Every status change of the subscription, newest first.
        pub status_history: Vec<StatusChange>,
        /// Ledger transactions, newest first, with the balances after each.
        pub ledger: Vec<LedgerLine>,
        /// Stripe events about this customer, newest first.
        pub webhook_events: Vec<WebhookEventView>,
        /// Every audited change to this customer, newest first.
        pub audit: Vec<AuditView>,
        /// Plans staff can move the customer to, with the same proration preview as the owner's.
        pub plans: Vec<String>,
        /// Its ingestion rate limit in words: its own, or the portal's.
        pub ingest_quota: String,
        /// Its own rate as the form takes it; empty when it follows the portal's.
        pub ingest_quota_input: String,
    }

    #[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
    pub struct UsageTotal {
        pub namespace: String,
        /// The metric's name, e.g. `Active storage`.
        pub metric: String,
        /// In the metric's display unit, e.g. `61.569 GBh`.
        pub quantity: String,
    }

    #[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
    pub struct NamespaceState {
        pub id: String,
        pub name: String,
        pub suspended_since: Option<super::Moment>,
    }

    #[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
    pub struct StatusChange {
        pub at: super::Moment,
        pub from: String,
        pub to: String,
        pub cause: String,
        pub actor: String,
    }

    #[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
    pub struct LedgerLine {
        pub at: super::Moment,
        pub kind: String,
        pub reference: String,
        /// Change of what the customer owes (receivable), signed, formatted.
        pub receivable_change: String,
        /// What the customer owes after this transaction.
        pub receivable_balance: String,
        /// Unused credit after this transaction.
        pub credit_balance: String,
    }

    #[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
    pub struct WebhookEventView {
        pub id: String,
        pub event_type: String,
        pub status: String,
        pub attempts: i64,
        pub received: super::Moment,
    }

    #[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
    pub struct AuditView {
        pub at: super::Moment,
        pub actor: String,
        pub action: String,
        pub target: String,
        pub reason: Option<String>,
        /// `before → after`, as stored.
        pub change: String,
    }

    /// One page of the staff customer search.
    #[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
    pub struct CustomerSearch {
        pub query: String,
        pub page: u32,
        pub customers: Vec<super::OrganizationSummary>,
        pub has_next: bool,
        /// The plans a new customer can start on.
        pub plans: Vec<String>,
    }

    /// The operations view: is the machinery keeping up?
    #[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
    pub struct Operations {
        pub events_last_minute: i64,
        pub events_last_hour: i64,
        /// The newest event time stored, i.e. how far ingestion has come.
        pub ingestion_watermark: Option<super::Moment>,
        pub dirty_hours: i64,
        /// Age of the oldest hour still waiting for its rollup, in seconds.
        pub rollup_lag_seconds: i64,
        /// Events stored in each minute of the last hour.
        pub ingestion_trend: MinuteTrend,
        /// The worst rollup lag sampled in each minute of the last hour, in milliseconds.
        pub rollup_lag_trend: MinuteTrend,
        pub jobs: Vec<JobQueue>,
        pub parked_events: i64,
        pub last_reconcile: Option<ReconcileRun>,
        /// The last comparison with the payment processor's records.
        pub last_processor_check: Option<ProcessorCheckRun>,
        /// Hours whose rollup cannot be computed (a sum beyond 64 bits), newest first.
        pub rollups_set_aside: Vec<SetAsideRollup>,
        /// Chargebacks still being decided, the soonest evidence deadline first.
        pub open_disputes: Vec<super::payments::DisputeView>,
        /// Overpayments the processor would not refund, waiting for staff.
        pub refused_refunds: Vec<RefusedRefund>,
    }

    /// An hour of a figure, minute by minute, oldest first, drawn small with words beside it.
    #[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
    pub struct MinuteTrend {
        pub per_minute: Vec<i64>,
        /// The figure's latest and largest values in words, e.g. `now 1,200/min, peak 9,800/min`.
        pub summary: String,
        pub svg: String,
    }

    #[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
    pub struct RefusedRefund {
        pub organization: String,
        pub payment_id: String,
        /// What is still owed back, formatted with its currency.
        pub amount: String,
        pub reason: String,
        pub refused: super::Moment,
    }

    #[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
    pub struct SetAsideRollup {
        pub organization: String,
        pub namespace: String,
        pub metric: String,
        pub hour: super::Moment,
        pub set_aside: super::Moment,
        pub error: String,
    }

    #[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
    pub struct JobQueue {
        pub name: String,
        pub queued: i64,
        pub running: i64,
        pub failed: i64,
    }

    #[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
    pub struct ProcessorCheckRun {
        pub finished: String,
        /// Processor records from this instant on were read.
        pub since: String,
        /// Events the processor holds that never reached the webhook inbox, applied by this check.
        pub events_recovered: i64,
        pub charges_checked: i64,
        pub discrepancies: i64,
        pub detail: String,
    }

    #[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
    pub struct ReconcileRun {
        pub finished: String,
        pub invoices_checked: i64,
        pub mismatches: i64,
        pub detail: String,
    }
}
