//! Demo data: two customers, an owner and a member, and a staff admin. Loading twice changes nothing.
use app::api::dto::Role;
use app::api::dto::admin::{CouponForm, PromotionCodeForm};
use serde_json::json;

use crate::accounts::db::api_keys::{ApiKeyRow, insert_api_key};
use crate::accounts::db::namespaces::{NamespaceRow, insert_namespace};
use crate::accounts::db::organizations::{OrganizationRow, insert_membership, insert_organization};
use crate::accounts::db::users::{UserRow, find_user_by_email, insert_staff_admin, insert_user};
use crate::accounts::domain::api_key::generate_api_key;
use crate::accounts::domain::password::hash_password;
use crate::billing::coupons::{create_coupon, create_promotion_code};
use crate::billing::domain::period::instant;
use crate::billing::invoicing::run_billing_cycle;
use crate::billing::period_rating::BillingRules;
use crate::billing::subscriptions::{ensure_catalog, subscribe};
use crate::error::Error;
use crate::metering::domain::usage::HOUR_MS;
use crate::metering::usage::{check_batch, last_commit_id, roll_up_dirty_hours, store_batches};
use crate::notifications::delivery::Outbox;
use crate::payments::collection::Collector;
use crate::payments::methods::{CardForm, add_test_card};
use crate::payments::pass::run_payments_pass;
use crate::shared::ids::{IdKind, new_id};
use crate::shared::time::display_rfc3339;
use crate::store::Db;

pub struct DemoLogin {
    pub who: &'static str,
    pub email: &'static str,
    pub password: &'static str,
}

pub const DEMO_LOGINS: [DemoLogin; 6] = [
    DemoLogin { who: "customer owner (Acme Corp)", email: "owner@acme.test", password: "acme-owner-pass" },
    DemoLogin { who: "customer member (Acme Corp)", email: "member@acme.test", password: "acme-member-pass" },
    DemoLogin { who: "customer owner (Globex)", email: "owner@globex.test", password: "globex-owner-pass" },
    DemoLogin { who: "staff admin", email: "admin@portal.test", password: "portal-admin-pass" },
    DemoLogin { who: "past-due owner (Initech)", email: "owner@initech.test", password: "initech-owner-pass" },
    DemoLogin {
        who: "owner asked to confirm a payment (Vandelay)",
        email: "owner@vandelay.test",
        password: "vandelay-owner-pass",
    },
];

struct DemoOrganization {
    name: &'static str,
    billing_email: &'static str,
    namespaces: &'static [&'static str],
    members: &'static [(usize, Role)],
    plan: &'static str,
    trial_days: Option<i64>,
    /// With history, the subscription started this many days ago and has usage since.
    history_days: i64,
    /// A Stripe test card saved before the first invoice (with history only).
    card: Option<&'static str>,
}

const DEMO_ORGANIZATIONS: [DemoOrganization; 4] = [
    DemoOrganization {
        name: "Acme Corp",
        billing_email: "billing@acme.test",
        namespaces: &["payments-prod", "payments-staging"],
        members: &[(0, Role::Owner), (1, Role::Member)],
        plan: "Business",
        trial_days: None,
        history_days: 40,
        card: None,
    },
    DemoOrganization {
        name: "Globex",
        billing_email: "ap@globex.test",
        namespaces: &["logistics"],
        members: &[(2, Role::Owner)],
        plan: "Essentials",
        trial_days: Some(14),
        history_days: 0,
        card: None,
    },
    // Its card attaches but every charge is declined: the first invoice fails and dunning starts.
    DemoOrganization {
        name: "Initech",
        billing_email: "billing@initech.test",
        namespaces: &["tps-reports"],
        members: &[(4, Role::Owner)],
        plan: "Essentials",
        trial_days: None,
        history_days: 40,
        card: Some("4000 0000 0000 0341"),
    },
    // Its bank asks the card holder to confirm every payment: the automatic charge of the first
    // invoice waits on the invoice's Pay page.
    DemoOrganization {
        name: "Vandelay Industries",
        billing_email: "billing@vandelay.test",
        namespaces: &["imports"],
        members: &[(5, Role::Owner)],
        plan: "Essentials",
        trial_days: None,
        history_days: 40,
        card: Some("4000 0025 0000 3155"),
    },
];

/// Returns false when the demo data was already there. With `history`, Acme Corp, Initech and
/// Vandelay have been customers for 40 days: daily usage, their first period invoiced and
/// finalized; Initech's card is declined, so it is past due, and Vandelay's bank asks the card
/// holder to confirm the payment.
#[tracing::instrument(skip_all)]
/// The history's notices (invoices, the failed and the waiting payments) go out through `Outbox`:
/// with a mail log, the demo's mail folder holds them from the start.
pub async fn seed_demo(db: &Db, history: Option<(&BillingRules, &Collector, &Outbox)>) -> Result<bool, Error> {
    ensure_catalog(db).await?;
    let mut tx = db.begin().await?;
    if find_user_by_email(&mut tx, DEMO_LOGINS[3].email).await?.is_some() {
        return Ok(false);
    }
    let now = db.clock.now_ms();
    let mut user_ids = Vec::new();
    for login in &DEMO_LOGINS {
        let password = login.password.to_owned();
        let password_hash = tokio::task::spawn_blocking(move || hash_password(&password)).await??;
        let user = UserRow {
            id: new_id(IdKind::User, now),
            email: login.email.to_owned(),
            password_hash,
            session_generation: 0,
        };
        insert_user(&mut tx, &user, now).await?;
        user_ids.push(user.id);
    }
    insert_staff_admin(&mut tx, &user_ids[3], now).await?;
    let mut seeded = Vec::new();
    // The past-due customer only makes sense with the history that made it past due.
    for demo in DEMO_ORGANIZATIONS.iter().filter(|d| d.card.is_none() || history.is_some()) {
        let org = OrganizationRow {
            id: new_id(IdKind::Organization, now),
            name: demo.name.to_owned(),
            billing_email: demo.billing_email.to_owned(),
            currency: "USD".to_owned(),
            created_at: now,
            onboarded_at: None,
        };
        insert_organization(&mut tx, &org).await?;
        seeded.push((demo, org.id.clone()));
        for &(user, role) in demo.members {
            insert_membership(&mut tx, &user_ids[user], &org.id, role.as_str(), now).await?;
        }
        let started = if history.is_some() { now - demo.history_days * DAY_MS } else { now };
        subscribe(&mut tx, &org.id, demo.plan, demo.trial_days, started).await?;
        for name in demo.namespaces {
            let ns = NamespaceRow {
                id: new_id(IdKind::Namespace, now),
                organization_id: org.id.clone(),
                name: (*name).to_owned(),
                created_at: now,
            };
            insert_namespace(&mut tx, &ns).await?;
        }
        // A customer with a history sends its usage with a key: its secret lives in that
        // customer's service, not here, so it is generated and thrown away.
        if history.is_some() && demo.history_days > 0 {
            let owner = demo.members[0].0;
            let generated = generate_api_key();
            let key = ApiKeyRow {
                id: new_id(IdKind::ApiKey, now),
                organization_id: org.id.clone(),
                name: "production".to_owned(),
                prefix: generated.prefix,
                created_by: DEMO_LOGINS[owner].email.to_owned(),
                created_at: started,
                last_used_at: None,
                revoked_at: None,
            };
            insert_api_key(&mut tx, &key, &user_ids[owner], &generated.secret_hash).await?;
        }
    }
    tx.commit().await?;
    if let Some((rules, collector, outbox)) = history {
        for (demo, organization_id) in &seeded {
            if demo.history_days > 0 {
                seed_usage(db, demo, organization_id, rules, now).await?;
            }
            if let Some(number) = demo.card {
                let year = (instant(now).year() + 3).to_string();
                let card = CardForm { number, exp_month: "12", exp_year: &year };
                add_test_card(db, collector, DEMO_LOGINS[demo.members[0].0].email, organization_id, &card).await?;
            }
        }
        run_billing_cycle(db, rules, now).await?;
        run_payments_pass(db, collector, outbox).await?;
        seed_welcome_offer(db).await?;
    }
    Ok(true)
}

/// A coupon ready to use: 20 % off the next three invoices with the code `WELCOME20`.
async fn seed_welcome_offer(db: &Db) -> Result<(), Error> {
    let staff = DEMO_LOGINS[3].email;
    let coupon = CouponForm {
        name: "Welcome offer".into(),
        kind: "percent".into(),
        value: "20".into(),
        currency: String::new(),
        duration: "repeating".into(),
        invoices: "3".into(),
        redeem_by: String::new(),
        max_redemptions: String::new(),
        plans: String::new(),
    };
    let page = create_coupon(db, staff, &coupon).await?;
    let coupon_id = page.coupons.iter().find(|c| c.name == coupon.name).map(|c| c.id.clone()).unwrap_or_default();
    let code = PromotionCodeForm {
        coupon_id,
        code: "WELCOME20".into(),
        redeem_by: String::new(),
        max_redemptions: String::new(),
    };
    create_promotion_code(db, staff, &code).await?;
    Ok(())
}

const DAY_MS: i64 = 86_400_000;
/// A quiet day's usage of the first namespace, per metric.
const DAILY_USAGE: [(&str, i64); 3] =
    [("actions", 60_000), ("active_storage_gbh", 2_000), ("retained_storage_gbh", 40_000)];

/// The demo's mix of actions, in percent; the last takes what rounding leaves.
const DEMO_ACTION_TYPES: [(Option<&str>, i64); 5] =
    [(Some("workflow_start"), 8), (Some("signal"), 6), (Some("query"), 3), (Some("timer"), 18), (Some("activity"), 65)];

/// One event per namespace, metric and day (actions one per action type), and the last day hour by hour (so the Usage page's
/// default range, the last 24 hours, is not empty), stored through the same checks as the
/// ingestion API.
async fn seed_usage(
    db: &Db,
    demo: &DemoOrganization,
    organization_id: &str,
    rules: &BillingRules,
    now: i64,
) -> Result<(), Error> {
    let days = demo.history_days.min(rules.late_usage_window_ms / DAY_MS - 1);
    let mut events = Vec::new();
    // Actions are sent per action type, so the Usage page has a breakdown to show.
    let mut push = |id: String, namespace: &str, metric: &str, quantity: i64, timestamp: i64| {
        let kinds: &[(Option<&str>, i64)] = if metric == "actions" { &DEMO_ACTION_TYPES } else { &[(None, 100)] };
        let mut left = quantity;
        for (n, (action_type, percent)) in kinds.iter().enumerate() {
            let share = if n + 1 == kinds.len() { left } else { quantity * percent / 100 };
            left -= share;
            let mut event = json!({
                "id": action_type.map_or_else(|| id.clone(), |kind| format!("{id}-{kind}")),
                "namespace": namespace,
                "metric": metric,
                "quantity": share,
                "timestamp": display_rfc3339(timestamp),
            });
            if let Some(kind) = action_type {
                event["dimensions"] = json!({ "action_type": kind });
            }
            events.push(serde_json::value::to_raw_value(&event).expect("an event of strings and numbers serializes"));
        }
    };
    for (index, namespace) in demo.namespaces.iter().enumerate() {
        let size = index as i64 + 1;
        for day in 1..=days {
            let scale = size * (1 + day % 5);
            for (metric, quantity) in DAILY_USAGE {
                push(
                    format!("demo-{namespace}-{metric}-{day}"),
                    namespace,
                    metric,
                    quantity * scale,
                    now - day * DAY_MS,
                );
            }
        }
        for hours_ago in 1..24 {
            let timestamp = now - hours_ago * HOUR_MS;
            // Busier during the (UTC) working day.
            let busy = if (8..18).contains(&(timestamp.rem_euclid(DAY_MS) / HOUR_MS)) { 3 } else { 1 };
            for (metric, quantity) in DAILY_USAGE {
                let id = format!("demo-{namespace}-{metric}-h{hours_ago}");
                push(id, namespace, metric, quantity / 24 * size * busy, timestamp);
            }
        }
    }
    let events: Vec<&serde_json::value::RawValue> = events.iter().map(AsRef::as_ref).collect();
    let batch = check_batch(db, organization_id, &events, rules.late_usage_window_ms).await?;
    store_batches(db, &[batch], None).await?;
    // Every demo commit has ended, so all of them may be folded.
    let through = last_commit_id(db).await?;
    while roll_up_dirty_hours(db, 1_000, Some(through)).await?.0 > 0 {}
    Ok(())
}
