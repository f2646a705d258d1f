//! Coupons and promotion codes: staff create them, an owner previews a code against the current
//! period and redeems it, and the invoice run takes the discount off the next invoices.
use std::collections::HashMap;

use app::api::dto::admin::{CouponForm, CouponView, CouponsPage, PromotionCodeForm, PromotionCodeView};
use app::api::dto::billing::{ActiveDiscount, PromotionPreview};
use app::api::error::AppError;
use serde_json::json;
use sqlx::AnyConnection;

use crate::accounts::db::audit::{AuditEntry, append_audit};
use crate::accounts::db::organizations::lock_organizations;
use crate::accounts::domain::throttle::retry_after_secs;
use crate::billing::db::coupons::{self, CouponRow, NewCoupon, NewPromotionCode, NewRedemption, PromotionCodeRow};
use crate::billing::db::plans;
use crate::billing::db::subscriptions;
use crate::billing::domain::discount::{AmountOff, CouponTerms, Duration, normalize_code};
use crate::billing::estimate::month_to_date_estimate;
use crate::error::Error;
use crate::reader::moment;
use crate::shared::ids::{IdKind, new_id};
use crate::shared::money::{format_money, parse_minor};
use crate::shared::time::parse_rfc3339_or_date;
use crate::store::Db;

const MAX_NAME_LEN: usize = 80;
/// The largest amount off: 1,000,000.00.
const MAX_AMOUNT_OFF_MINOR: i64 = 100_000_000;
/// Ten years of monthly invoices.
const MAX_INVOICES: i64 = 120;
const MAX_REDEMPTIONS: i64 = 10_000_000;

pub async fn coupons_page(db: &Db) -> Result<CouponsPage, Error> {
    let mut conn = db.pool.acquire().await?;
    let mut plans_of: HashMap<String, Vec<String>> = HashMap::new();
    for (coupon_id, plan) in coupons::coupon_plan_names(&mut conn).await? {
        plans_of.entry(coupon_id).or_default().push(plan);
    }
    let mut codes_of: HashMap<String, Vec<PromotionCodeView>> = HashMap::new();
    for code in coupons::promotion_codes(&mut conn).await? {
        codes_of.entry(code.coupon_id.clone()).or_default().push(PromotionCodeView {
            redeemed: redeemed(code.times_redeemed, code.max_redemptions),
            redeem_by: code.redeem_by.map(moment),
            code: code.code,
        });
    }
    let coupons = coupons::coupons(&mut conn)
        .await?
        .into_iter()
        .map(|coupon| {
            Ok(CouponView {
                terms: coupon.terms()?.describe(),
                redeemed: redeemed(coupon.times_redeemed, coupon.max_redemptions),
                redeem_by: coupon.redeem_by.map(moment),
                plans: plans_of.remove(&coupon.id).unwrap_or_default(),
                codes: codes_of.remove(&coupon.id).unwrap_or_default(),
                id: coupon.id,
                name: coupon.name,
            })
        })
        .collect::<Result<_, Error>>()?;
    let versions = plans::current_versions(&mut conn).await?;
    let mut currencies: Vec<String> = versions.iter().map(|v| v.currency.clone()).collect();
    currencies.sort();
    currencies.dedup();
    Ok(CouponsPage { coupons, plans: versions.into_iter().map(|v| v.plan_name).collect(), currencies })
}

fn redeemed(times: i64, max: Option<i64>) -> String {
    match max {
        Some(max) => format!("{times} of {max} redeemed"),
        None => format!("{times} redeemed"),
    }
}

/// An optional whole number from 1 to `max`, named by its field.
fn optional_count(field: &str, text: &str, max: i64) -> Result<Option<i64>, AppError> {
    match text.trim() {
        "" => Ok(None),
        text => match text.parse::<i64>() {
            Ok(n) if (1..=max).contains(&n) => Ok(Some(n)),
            _ => Err(AppError::invalid(field, format!("must be a whole number from 1 to {max}"))),
        },
    }
}

/// An optional date in the future: the last moment a coupon or code can be redeemed.
fn optional_deadline(text: &str, now: i64) -> Result<Option<i64>, AppError> {
    match text.trim() {
        "" => Ok(None),
        text => match parse_rfc3339_or_date(text) {
            Some(at) if at > now => Ok(Some(at)),
            Some(_) => Err(AppError::invalid("redeem_by", "must be in the future")),
            None => Err(AppError::invalid("redeem_by", "must be a date such as 2027-03-31")),
        },
    }
}

fn terms_of(form: &CouponForm, currencies: &[String]) -> Result<CouponTerms, AppError> {
    let off = match form.kind.as_str() {
        "percent" => match form.value.trim().parse::<i64>() {
            Ok(percent) if (1..=100).contains(&percent) => AmountOff::Percent(percent),
            _ => return Err(AppError::invalid("value", "must be a whole percentage from 1 to 100")),
        },
        "amount" => {
            let minor = parse_minor(&form.value).map_err(|reason| AppError::invalid("value", reason))?;
            if !(1..=MAX_AMOUNT_OFF_MINOR).contains(&minor) {
                return Err(AppError::invalid("value", "must be more than zero and at most 1000000.00"));
            }
            let currency = form.currency.trim().to_ascii_uppercase();
            if !currencies.contains(&currency) {
                return Err(AppError::invalid("currency", format!("must be one of {}", currencies.join(", "))));
            }
            AmountOff::Fixed { minor, currency }
        }
        _ => return Err(AppError::invalid("kind", "must be percent or amount")),
    };
    let duration = match form.duration.as_str() {
        "once" => Duration::Once,
        "forever" => Duration::Forever,
        "repeating" => match optional_count("invoices", &form.invoices, MAX_INVOICES)? {
            Some(n) => Duration::Repeating(n),
            None => return Err(AppError::invalid("invoices", "is required for a repeating coupon")),
        },
        _ => return Err(AppError::invalid("duration", "must be once, repeating or forever")),
    };
    Ok(CouponTerms { off, duration })
}

#[tracing::instrument(skip_all)]
pub async fn create_coupon(db: &Db, admin: &str, form: &CouponForm) -> Result<CouponsPage, Error> {
    let now = db.clock.now_ms();
    let name = form.name.trim();
    if name.is_empty() || name.chars().count() > MAX_NAME_LEN {
        return Err(AppError::invalid("name", format!("must be 1 to {MAX_NAME_LEN} characters")).into());
    }
    let mut tx = db.begin().await?;
    let versions = plans::current_versions(&mut tx).await?;
    let currencies: Vec<String> = versions.iter().map(|v| v.currency.clone()).collect();
    let terms = terms_of(form, &currencies)?;
    let redeem_by = optional_deadline(&form.redeem_by, now)?;
    let max_redemptions = optional_count("max_redemptions", &form.max_redemptions, MAX_REDEMPTIONS)?;
    let known = coupons::plans(&mut tx).await?;
    let mut plan_ids = Vec::new();
    for wanted in form.plans.split(',').map(str::trim).filter(|p| !p.is_empty()) {
        let (id, _) = known
            .iter()
            .find(|(_, name)| name.eq_ignore_ascii_case(wanted))
            .ok_or_else(|| AppError::invalid("plans", format!("{wanted} is not a plan")))?;
        if !plan_ids.contains(id) {
            plan_ids.push(id.clone());
        }
    }
    let id = new_id(IdKind::Coupon, now);
    let coupon =
        NewCoupon { id: &id, name, terms: &terms, redeem_by, max_redemptions, plan_ids: &plan_ids, created_by: admin };
    coupons::insert_coupon(&mut tx, &coupon, now).await?;
    let audit = AuditEntry {
        organization_id: None,
        actor: admin,
        action: "coupon.create",
        target: &id,
        before: None,
        after: Some(json!({ "name": name, "terms": terms.describe(), "redeem_by": redeem_by,
            "max_redemptions": max_redemptions, "plans": plan_ids })),
        reason: None,
    };
    append_audit(&mut tx, audit, now).await?;
    tx.commit().await?;
    coupons_page(db).await
}

#[tracing::instrument(skip_all)]
pub async fn create_promotion_code(db: &Db, admin: &str, form: &PromotionCodeForm) -> Result<CouponsPage, Error> {
    let now = db.clock.now_ms();
    let code = normalize_code(&form.code).map_err(|reason| AppError::invalid("code", reason))?;
    let redeem_by = optional_deadline(&form.redeem_by, now)?;
    let max_redemptions = optional_count("max_redemptions", &form.max_redemptions, MAX_REDEMPTIONS)?;
    let mut tx = db.begin().await?;
    coupons::coupon(&mut tx, &form.coupon_id).await?.ok_or(AppError::NotFound)?;
    let id = new_id(IdKind::PromotionCode, now);
    let new = NewPromotionCode {
        id: &id,
        coupon_id: &form.coupon_id,
        code: &code,
        redeem_by,
        max_redemptions,
        created_by: admin,
    };
    if !coupons::insert_promotion_code(&mut tx, &new, now).await? {
        return Err(AppError::conflict("code", format!("{code} is taken")).into());
    }
    let audit = AuditEntry {
        organization_id: None,
        actor: admin,
        action: "promotion_code.create",
        target: &id,
        before: None,
        after: Some(json!({ "coupon_id": form.coupon_id, "code": code, "redeem_by": redeem_by,
            "max_redemptions": max_redemptions })),
        reason: None,
    };
    append_audit(&mut tx, audit, now).await?;
    tx.commit().await?;
    coupons_page(db).await
}

/// A code the organization may redeem now, with its coupon and the currency of its invoices.
struct Redeemable {
    code: PromotionCodeRow,
    coupon: CouponRow,
    terms: CouponTerms,
    currency: String,
}

/// Unknown codes an organization may type per window: enough for typos, too few to guess codes.
const MISSES_ALLOWED: i64 = 20;
const MISS_WINDOW_MS: i64 = 3_600_000;

/// The typed code, normalized, if it names a promotion code. Unknown codes are counted per
/// organization, and past the limit every code is refused for a while, known or not.
async fn known_code(db: &Db, organization_id: &str, text: &str, now: i64) -> Result<String, Error> {
    let typed = normalize_code(text).map_err(|reason| AppError::invalid("code", reason))?;
    let mut conn = db.pool.acquire().await?;
    let (misses, oldest) = coupons::recent_misses(&mut conn, organization_id, now - MISS_WINDOW_MS).await?;
    if misses >= MISSES_ALLOWED {
        return Err(AppError::RateLimited { retry_after_secs: retry_after_secs(oldest, MISS_WINDOW_MS, now) }.into());
    }
    if coupons::promotion_code(&mut conn, &typed).await?.is_none() {
        drop(conn);
        let mut tx = db.begin().await?;
        coupons::record_miss(&mut tx, organization_id, now).await?;
        tx.commit().await?;
        return Err(AppError::invalid("code", format!("{typed} is not a promotion code")).into());
    }
    Ok(typed)
}

/// Everything that decides whether the organization may redeem the code now, in the caller's
/// transaction: the code and its coupon, or the refusal a customer can act on.
async fn redeemable(
    conn: &mut AnyConnection,
    organization_id: &str,
    typed: &str,
    now: i64,
) -> Result<Redeemable, Error> {
    let unknown = || AppError::invalid("code", format!("{typed} is not a promotion code"));
    let code = coupons::promotion_code(conn, typed).await?.ok_or_else(unknown)?;
    let coupon = coupons::coupon(conn, &code.coupon_id).await?.ok_or_else(unknown)?;
    let terms = coupon.terms()?;
    if [code.redeem_by, coupon.redeem_by].into_iter().flatten().any(|at| at <= now) {
        return Err(AppError::invalid("code", format!("{typed} has expired")).into());
    }
    let used_up = |times, max: Option<i64>| max.is_some_and(|max| times >= max);
    if used_up(code.times_redeemed, code.max_redemptions) || used_up(coupon.times_redeemed, coupon.max_redemptions) {
        return Err(AppError::invalid("code", format!("{typed} has been used up")).into());
    }
    let subscription = subscriptions::subscription_of(conn, organization_id)
        .await?
        .filter(|s| s.status != "canceled")
        .ok_or_else(|| AppError::conflict("code", "choose a plan before applying a promotion code"))?;
    let redemptions = coupons::redemptions_of(conn, organization_id).await?;
    if redemptions.iter().any(|r| r.coupon.id == coupon.id) {
        return Err(AppError::conflict("code", format!("{typed} was already redeemed by this organization")).into());
    }
    let (plan_id, plan_name) = coupons::plan_of_version(conn, &subscription.plan_version_id).await?;
    if let Some(running) = coupons::running_among(conn, redemptions, &plan_id).await? {
        let message = format!("{} still applies; a second discount cannot be added", running.code);
        return Err(AppError::conflict("code", message).into());
    }
    if !coupons::coupon_allows_plan(conn, &coupon.id, &plan_id).await? {
        return Err(AppError::invalid("code", format!("{typed} does not apply to the {plan_name} plan")).into());
    }
    let version = plans::plan_version(conn, &subscription.plan_version_id).await?;
    if let AmountOff::Fixed { currency, .. } = &terms.off
        && *currency != version.currency
    {
        return Err(AppError::invalid("code", format!("{typed} is for invoices in {currency}")).into());
    }
    Ok(Redeemable { code, coupon, terms, currency: version.currency })
}

/// What the code would take off the current period's invoice as it stands, without redeeming it.
#[tracing::instrument(skip_all, fields(organization_id))]
pub async fn preview_code(db: &Db, organization_id: &str, text: &str) -> Result<PromotionPreview, Error> {
    let now = db.clock.now_ms();
    let typed = known_code(db, organization_id, text, now).await?;
    let Redeemable { code, coupon, terms, currency } = {
        let mut conn = db.pool.acquire().await?;
        redeemable(&mut conn, organization_id, &typed, now).await?
    };
    let estimate = month_to_date_estimate(db, organization_id).await?.ok_or(AppError::NotFound)?;
    let discount = terms.discount_minor(estimate.total_minor, &currency)?;
    let mut conn = db.pool.acquire().await?;
    let plans: Vec<String> = coupons::coupon_plan_names(&mut conn)
        .await?
        .into_iter()
        .filter(|(id, _)| *id == coupon.id)
        .map(|(_, name)| name)
        .collect();
    Ok(PromotionPreview {
        code: code.code,
        terms: terms.describe(),
        period_so_far: estimate.total,
        discount: format_money(-discount, &currency),
        after_discount: format_money(estimate.total_minor - discount, &currency),
        plans,
    })
}

/// Redeems the code for the organization: counted against its limits in this transaction, once
/// per organization and coupon, with no other discount running.
#[tracing::instrument(skip_all, fields(organization_id))]
pub async fn redeem_code(db: &Db, actor: &str, organization_id: &str, text: &str) -> Result<(), Error> {
    let now = db.clock.now_ms();
    let typed = known_code(db, organization_id, text, now).await?;
    let mut tx = db.begin().await?;
    // Two owners applying codes at once: the second sees the first's redemption.
    lock_organizations(&mut tx, &[organization_id.to_owned()]).await?;
    let Redeemable { code, coupon, terms, .. } = redeemable(&mut tx, organization_id, &typed, now).await?;
    if !coupons::count_redemption(&mut tx, &code, now).await? {
        return Err(AppError::invalid("code", format!("{} has been used up", code.code)).into());
    }
    let id = new_id(IdKind::CouponRedemption, now);
    let redemption = NewRedemption { id: &id, code: &code, organization_id, redeemed_by: actor };
    if !coupons::insert_redemption(&mut tx, &redemption, now).await? {
        return Err(
            AppError::conflict("code", format!("{} was already redeemed by this organization", code.code)).into()
        );
    }
    let audit = AuditEntry {
        organization_id: Some(organization_id),
        actor,
        action: "promotion_code.redeem",
        target: &id,
        before: None,
        after: Some(json!({ "code": code.code, "coupon_id": coupon.id, "terms": terms.describe() })),
        reason: None,
    };
    append_audit(&mut tx, audit, now).await?;
    tx.commit().await?;
    Ok(())
}

/// The discount the organization's next invoice receives, if any.
pub async fn active_discount(conn: &mut AnyConnection, organization_id: &str) -> Result<Option<ActiveDiscount>, Error> {
    let Some(subscription) = subscriptions::subscription_of(conn, organization_id).await? else { return Ok(None) };
    let Some(running) = coupons::running_redemption(conn, organization_id, &subscription.plan_version_id).await? else {
        return Ok(None);
    };
    let terms = running.coupon.terms()?;
    let remaining = match terms.duration.invoices().map(|n| n - running.invoices_discounted) {
        Some(1) => "1 invoice left".to_owned(),
        Some(left) => format!("{left} invoices left"),
        None => "every invoice".to_owned(),
    };
    Ok(Some(ActiveDiscount { code: running.code, terms: terms.describe(), remaining }))
}

/// A discount an invoice about to be finalized receives.
pub struct DueDiscount {
    pub redemption_id: String,
    pub code: String,
    pub terms: CouponTerms,
}

/// For each listed invoice, the oldest redemption of its organization that still covers an
/// invoice and allows the plan. The caller holds the organizations' locks.
pub async fn due_discounts(
    conn: &mut AnyConnection,
    invoice_ids: &[String],
) -> Result<HashMap<String, DueDiscount>, Error> {
    let mut due = HashMap::new();
    for row in coupons::redemptions_for_invoices(conn, invoice_ids).await? {
        let terms = row.redemption.coupon.terms()?;
        if due.contains_key(&row.invoice_id) || !terms.duration.covers_another(row.redemption.invoices_discounted) {
            continue;
        }
        due.insert(
            row.invoice_id,
            DueDiscount { redemption_id: row.redemption.redemption_id, code: row.redemption.code, terms },
        );
    }
    Ok(due)
}
