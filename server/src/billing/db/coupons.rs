//! Coupons, their promotion codes, redemptions and the discounts invoices received.
use sqlx::{AnyConnection, FromRow};

use crate::billing::domain::discount::{AmountOff, CouponTerms, Duration};
use crate::error::Error;
use crate::store::bulk::{bind_all_as, list_placeholders, texts};

pub struct NewCoupon<'a> {
    pub id: &'a str,
    pub name: &'a str,
    pub terms: &'a CouponTerms,
    pub redeem_by: Option<i64>,
    pub max_redemptions: Option<i64>,
    pub plan_ids: &'a [String],
    pub created_by: &'a str,
}

pub async fn insert_coupon(conn: &mut AnyConnection, coupon: &NewCoupon<'_>, now: i64) -> Result<(), Error> {
    let (percent, amount, currency) = match &coupon.terms.off {
        AmountOff::Percent(percent) => (Some(*percent), None, None),
        AmountOff::Fixed { minor, currency } => (None, Some(*minor), Some(currency.as_str())),
    };
    let duration = coupon.terms.duration;
    let invoices = matches!(duration, Duration::Repeating(_)).then(|| duration.invoices()).flatten();
    sqlx::query(
        "insert into coupons (id, name, percent_off, amount_off_minor, currency, duration, duration_invoices,
             redeem_by, max_redemptions, created_by, created_at)
         values ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11)",
    )
    .bind(coupon.id)
    .bind(coupon.name)
    .bind(percent)
    .bind(amount)
    .bind(currency)
    .bind(duration.as_str())
    .bind(invoices)
    .bind(coupon.redeem_by)
    .bind(coupon.max_redemptions)
    .bind(coupon.created_by)
    .bind(now)
    .execute(&mut *conn)
    .await?;
    for plan_id in coupon.plan_ids {
        sqlx::query("insert into coupon_plans (coupon_id, plan_id) values ($1, $2)")
            .bind(coupon.id)
            .bind(plan_id)
            .execute(&mut *conn)
            .await?;
    }
    Ok(())
}

pub struct NewPromotionCode<'a> {
    pub id: &'a str,
    pub coupon_id: &'a str,
    pub code: &'a str,
    pub redeem_by: Option<i64>,
    pub max_redemptions: Option<i64>,
    pub created_by: &'a str,
}

/// False when the code is taken (by any coupon): codes are what customers type, so each is one.
pub async fn insert_promotion_code(
    conn: &mut AnyConnection,
    code: &NewPromotionCode<'_>,
    now: i64,
) -> Result<bool, Error> {
    let inserted = sqlx::query(
        "insert into promotion_codes (id, coupon_id, code, redeem_by, max_redemptions, created_by, created_at)
         values ($1, $2, $3, $4, $5, $6, $7) on conflict (code) do nothing",
    )
    .bind(code.id)
    .bind(code.coupon_id)
    .bind(code.code)
    .bind(code.redeem_by)
    .bind(code.max_redemptions)
    .bind(code.created_by)
    .bind(now)
    .execute(conn)
    .await?;
    Ok(inserted.rows_affected() == 1)
}

/// A coupon as stored, with its redemption counters.
#[derive(Debug, Clone, FromRow)]
pub struct CouponRow {
    pub id: String,
    pub name: String,
    pub percent_off: Option<i64>,
    pub amount_off_minor: Option<i64>,
    pub currency: Option<String>,
    pub duration: String,
    pub duration_invoices: Option<i64>,
    pub redeem_by: Option<i64>,
    pub max_redemptions: Option<i64>,
    pub times_redeemed: i64,
    pub created_at: i64,
}

impl CouponRow {
    pub fn terms(&self) -> Result<CouponTerms, Error> {
        let off = match (self.percent_off, self.amount_off_minor, &self.currency) {
            (Some(percent), None, None) => AmountOff::Percent(percent),
            (None, Some(minor), Some(currency)) => AmountOff::Fixed { minor, currency: currency.clone() },
            _ => return Err(Error::Corrupt(format!("coupon {} has no single amount off", self.id))),
        };
        let duration = Duration::parse(&self.duration, self.duration_invoices)
            .ok_or_else(|| Error::Corrupt(format!("coupon {} duration {}", self.id, self.duration)))?;
        Ok(CouponTerms { off, duration })
    }
}

const COUPON_COLUMNS: &str = "c.id, c.name, c.percent_off, c.amount_off_minor, c.currency, c.duration,
    c.duration_invoices, c.redeem_by, c.max_redemptions, c.times_redeemed, c.created_at";

pub async fn coupon(conn: &mut AnyConnection, coupon_id: &str) -> Result<Option<CouponRow>, Error> {
    Ok(sqlx::query_as(&format!("select {COUPON_COLUMNS} from coupons c where c.id = $1"))
        .bind(coupon_id)
        .fetch_optional(conn)
        .await?)
}

/// Every coupon, newest first.
pub async fn coupons(conn: &mut AnyConnection) -> Result<Vec<CouponRow>, Error> {
    Ok(sqlx::query_as(&format!("select {COUPON_COLUMNS} from coupons c order by c.created_at desc, c.id"))
        .fetch_all(conn)
        .await?)
}

/// The plans a coupon is limited to; empty for a coupon for every plan. (coupon id, plan name).
pub async fn coupon_plan_names(conn: &mut AnyConnection) -> Result<Vec<(String, String)>, Error> {
    Ok(sqlx::query_as(
        "select cp.coupon_id, p.name from coupon_plans cp join plans p on p.id = cp.plan_id order by p.name",
    )
    .fetch_all(conn)
    .await?)
}

#[derive(Debug, Clone, FromRow)]
pub struct PromotionCodeRow {
    pub id: String,
    pub coupon_id: String,
    pub code: String,
    pub redeem_by: Option<i64>,
    pub max_redemptions: Option<i64>,
    pub times_redeemed: i64,
}

const CODE_COLUMNS: &str = "id, coupon_id, code, redeem_by, max_redemptions, times_redeemed";

pub async fn promotion_codes(conn: &mut AnyConnection) -> Result<Vec<PromotionCodeRow>, Error> {
    Ok(sqlx::query_as(&format!("select {CODE_COLUMNS} from promotion_codes order by code")).fetch_all(conn).await?)
}

pub async fn promotion_code(conn: &mut AnyConnection, code: &str) -> Result<Option<PromotionCodeRow>, Error> {
    Ok(sqlx::query_as(&format!("select {CODE_COLUMNS} from promotion_codes where code = $1"))
        .bind(code)
        .fetch_optional(conn)
        .await?)
}

/// Whether the coupon may be used by a subscription on the plan: unlimited, or limited to it.
pub async fn coupon_allows_plan(conn: &mut AnyConnection, coupon_id: &str, plan_id: &str) -> Result<bool, Error> {
    let (limited, listed): (i64, i64) = sqlx::query_as(
        "select cast(count(*) as bigint), cast(coalesce(sum(case when plan_id = $1 then 1 else 0 end), 0) as bigint)
         from coupon_plans where coupon_id = $2",
    )
    .bind(plan_id)
    .bind(coupon_id)
    .fetch_one(conn)
    .await?;
    Ok(limited == 0 || listed > 0)
}

/// Counts one redemption on the code and on its coupon, if both are still under their limits and
/// dates. The guarded updates hold the rows to the end of the transaction, so concurrent
/// redemptions queue behind each other and the last place goes once. False when either refused.
pub async fn count_redemption(conn: &mut AnyConnection, code: &PromotionCodeRow, now: i64) -> Result<bool, Error> {
    let guarded = "set times_redeemed = times_redeemed + 1
         where id = $1 and (max_redemptions is null or times_redeemed < max_redemptions)
           and (redeem_by is null or redeem_by > $2)";
    for (table, id) in [("promotion_codes", &code.id), ("coupons", &code.coupon_id)] {
        let counted = sqlx::query(&format!("update {table} {guarded}")).bind(id).bind(now).execute(&mut *conn).await?;
        if counted.rows_affected() != 1 {
            return Ok(false);
        }
    }
    Ok(true)
}

pub struct NewRedemption<'a> {
    pub id: &'a str,
    pub code: &'a PromotionCodeRow,
    pub organization_id: &'a str,
    pub redeemed_by: &'a str,
}

/// False when the organization redeemed this coupon before, through any of its codes.
pub async fn insert_redemption(
    conn: &mut AnyConnection,
    redemption: &NewRedemption<'_>,
    now: i64,
) -> Result<bool, Error> {
    let inserted = sqlx::query(
        "insert into coupon_redemptions (id, coupon_id, promotion_code_id, organization_id, redeemed_by, redeemed_at)
         values ($1, $2, $3, $4, $5, $6) on conflict (coupon_id, organization_id) do nothing",
    )
    .bind(redemption.id)
    .bind(&redemption.code.coupon_id)
    .bind(&redemption.code.id)
    .bind(redemption.organization_id)
    .bind(redemption.redeemed_by)
    .bind(now)
    .execute(conn)
    .await?;
    Ok(inserted.rows_affected() == 1)
}

/// A redemption with its coupon and how many invoices it discounted so far.
#[derive(Debug, Clone, FromRow)]
pub struct RedemptionRow {
    pub redemption_id: String,
    pub organization_id: String,
    pub code: String,
    pub redeemed_at: i64,
    pub invoices_discounted: i64,
    #[sqlx(flatten)]
    pub coupon: CouponRow,
}

/// A voided invoice gives its turn back: only discounts on invoices still standing count.
const REDEMPTION_SELECT: &str = "select r.id as redemption_id, r.organization_id, p.code, r.redeemed_at,
    (select cast(count(*) as bigint) from discount_applications a join invoices d on d.id = a.invoice_id
     where a.redemption_id = r.id and d.status <> 'void') as invoices_discounted,";

/// The organization's redemptions, oldest first.
pub async fn redemptions_of(conn: &mut AnyConnection, organization_id: &str) -> Result<Vec<RedemptionRow>, Error> {
    Ok(sqlx::query_as(&format!(
        "{REDEMPTION_SELECT} {COUPON_COLUMNS} from coupon_redemptions r
         join coupons c on c.id = r.coupon_id join promotion_codes p on p.id = r.promotion_code_id
         where r.organization_id = $1 order by r.redeemed_at, r.id"
    ))
    .bind(organization_id)
    .fetch_all(conn)
    .await?)
}

/// The redemption whose discount the organization's invoices on the plan version receive: the
/// oldest one still running that allows the plan. One limited to another plan waits meanwhile.
pub async fn running_redemption(
    conn: &mut AnyConnection,
    organization_id: &str,
    plan_version_id: &str,
) -> Result<Option<RedemptionRow>, Error> {
    let redemptions = redemptions_of(conn, organization_id).await?;
    // Most organizations have none: every estimate asks, so the plan is read only when needed.
    if redemptions.is_empty() {
        return Ok(None);
    }
    let (plan_id, _) = plan_of_version(conn, plan_version_id).await?;
    running_among(conn, redemptions, &plan_id).await
}

/// `running_redemption` among redemptions already read, for the plan `plan_id`.
pub async fn running_among(
    conn: &mut AnyConnection,
    redemptions: Vec<RedemptionRow>,
    plan_id: &str,
) -> Result<Option<RedemptionRow>, Error> {
    for redemption in redemptions {
        if redemption.coupon.terms()?.duration.covers_another(redemption.invoices_discounted)
            && coupon_allows_plan(conn, &redemption.coupon.id, plan_id).await?
        {
            return Ok(Some(redemption));
        }
    }
    Ok(None)
}

/// For each listed invoice, the redemptions of its organization made before its period ended
/// whose coupon allows the plan the period ended on, oldest first. A plan change at the period
/// end has moved the subscription on already; the change's `from` version is the plan billed.
pub async fn redemptions_for_invoices(
    conn: &mut AnyConnection,
    invoice_ids: &[String],
) -> Result<Vec<InvoiceRedemption>, Error> {
    if invoice_ids.is_empty() {
        return Ok(Vec::new());
    }
    let sql = format!(
        "{REDEMPTION_SELECT} i.id as invoice_id, {COUPON_COLUMNS} from invoices i
         join subscriptions s on s.id = i.subscription_id
         join plan_versions v on v.id = coalesce(
             (select pc.from_version_id from plan_changes pc
              where pc.subscription_id = i.subscription_id and pc.status = 'applied' and pc.effective_at >= i.period_end
              order by pc.effective_at limit 1),
             s.plan_version_id)
         join coupon_redemptions r on r.organization_id = i.organization_id and r.redeemed_at < i.period_end
         join coupons c on c.id = r.coupon_id join promotion_codes p on p.id = r.promotion_code_id
         where i.id in ({})
           and (not exists (select 1 from coupon_plans cp where cp.coupon_id = c.id)
                or exists (select 1 from coupon_plans cp where cp.coupon_id = c.id and cp.plan_id = v.plan_id))
         order by r.redeemed_at, r.id",
        list_placeholders(conn, 1, invoice_ids.len())
    );
    let values = texts(invoice_ids);
    Ok(bind_all_as(sqlx::query_as(&sql), &values).fetch_all(conn).await?)
}

#[derive(Debug, Clone, FromRow)]
pub struct InvoiceRedemption {
    pub invoice_id: String,
    #[sqlx(flatten)]
    pub redemption: RedemptionRow,
}

/// Records the discount an invoice received; an invoice receives at most one.
pub async fn record_discount(
    conn: &mut AnyConnection,
    invoice_id: &str,
    redemption_id: &str,
    amount_minor: i64,
) -> Result<(), Error> {
    sqlx::query("insert into discount_applications (invoice_id, redemption_id, amount_minor) values ($1, $2, $3)")
        .bind(invoice_id)
        .bind(redemption_id)
        .bind(amount_minor)
        .execute(conn)
        .await?;
    Ok(())
}

/// What a coupon took off the invoice; 0 for an invoice without a discount.
pub async fn discount_of(conn: &mut AnyConnection, invoice_id: &str) -> Result<i64, Error> {
    Ok(sqlx::query_scalar::<_, i64>(
        "select cast(coalesce(sum(amount_minor), 0) as bigint) from discount_applications where invoice_id = $1",
    )
    .bind(invoice_id)
    .fetch_one(conn)
    .await?)
}

/// Invoices whose discount line differs from the discount recorded for them: (invoice id, on
/// the lines, recorded). Empty in sound books.
pub async fn discount_mismatches(conn: &mut AnyConnection) -> Result<Vec<(String, i64, i64)>, Error> {
    Ok(sqlx::query_as(
        "select d.invoice_id, cast(sum(d.on_lines) as bigint), cast(sum(d.recorded) as bigint) from (
             select invoice_id, -amount_minor as on_lines, 0 as recorded from invoice_lines where kind = 'discount'
             union all
             select invoice_id, 0, amount_minor from discount_applications) d
         group by d.invoice_id having sum(d.on_lines) <> sum(d.recorded)",
    )
    .fetch_all(conn)
    .await?)
}

/// Organizations whose discounts account differs from the discounts of their standing invoices:
/// (organization id, posted, recorded). Empty in sound books.
pub async fn discount_ledger_mismatches(conn: &mut AnyConnection) -> Result<Vec<(String, i64, i64)>, Error> {
    Ok(sqlx::query_as(
        "select d.organization_id, cast(sum(d.posted) as bigint), cast(sum(d.recorded) as bigint) from (
             select t.organization_id, e.amount_minor as posted, 0 as recorded
             from ledger_entries e join ledger_transactions t on t.id = e.transaction_id where e.account = 'discounts'
             union all
             select i.organization_id, 0, a.amount_minor
             from discount_applications a join invoices i on i.id = a.invoice_id where i.status <> 'void') d
         group by d.organization_id having sum(d.posted) <> sum(d.recorded)",
    )
    .fetch_all(conn)
    .await?)
}

/// Every plan: (id, name).
pub async fn plans(conn: &mut AnyConnection) -> Result<Vec<(String, String)>, Error> {
    Ok(sqlx::query_as("select id, name from plans order by name").fetch_all(conn).await?)
}

/// The plan of a plan version: (plan id, plan name).
pub async fn plan_of_version(conn: &mut AnyConnection, version_id: &str) -> Result<(String, String), Error> {
    Ok(sqlx::query_as("select p.id, p.name from plan_versions v join plans p on p.id = v.plan_id where v.id = $1")
        .bind(version_id)
        .fetch_one(conn)
        .await?)
}

/// Notes an unknown code typed by the organization.
pub async fn record_miss(conn: &mut AnyConnection, organization_id: &str, now: i64) -> Result<(), Error> {
    sqlx::query("insert into promotion_code_misses (organization_id, at) values ($1, $2)")
        .bind(organization_id)
        .bind(now)
        .execute(conn)
        .await?;
    Ok(())
}

/// (count, oldest time) of the organization's unknown codes since `since`.
pub async fn recent_misses(
    conn: &mut AnyConnection,
    organization_id: &str,
    since: i64,
) -> Result<(i64, Option<i64>), Error> {
    Ok(sqlx::query_as(
        "select cast(count(*) as bigint), min(at) from promotion_code_misses where organization_id = $1 and at >= $2",
    )
    .bind(organization_id)
    .bind(since)
    .fetch_one(conn)
    .await?)
}

pub async fn delete_misses_before(conn: &mut AnyConnection, before: i64) -> Result<u64, Error> {
    Ok(sqlx::query("delete from promotion_code_misses where at < $1").bind(before).execute(conn).await?.rows_affected())
}
