//! The customer's billing details: owners keep them, members read them, invoices print them.
use app::api::dto::{BillingDetails, BillingDetailsPage, Country, SessionUser};
use app::api::error::AppError;
use serde_json::json;

use crate::accounts::db::audit::{AuditEntry, append_audit};
use crate::accounts::db::billing_contacts::billing_contacts;
use crate::accounts::db::billing_details::{self, BillingDetailsRow};
use crate::accounts::domain::billing_details::{self as rules, countries};
use crate::error::Error;
use crate::store::Db;

fn typed(details: &BillingDetails) -> rules::BillingDetails {
    rules::BillingDetails {
        legal_name: details.legal_name.clone(),
        address_line1: details.address_line1.clone(),
        address_line2: details.address_line2.clone(),
        city: details.city.clone(),
        postal_code: details.postal_code.clone(),
        region: details.region.clone(),
        country: details.country.clone(),
        tax_id: details.tax_id.clone(),
        billing_email: details.billing_email.clone(),
    }
}

impl From<BillingDetailsRow> for BillingDetails {
    fn from(row: BillingDetailsRow) -> Self {
        Self {
            legal_name: row.legal_name,
            address_line1: row.address_line1,
            address_line2: row.address_line2,
            city: row.city,
            postal_code: row.postal_code,
            region: row.region,
            country: row.country,
            tax_id: row.tax_id,
            billing_email: row.billing_email,
        }
    }
}

fn page(
    details: BillingDetails,
    contacts: Vec<String>,
    viewer: &SessionUser,
    organization_id: &str,
) -> BillingDetailsPage {
    BillingDetailsPage {
        contacts,
        details,
        countries: countries()
            .into_iter()
            .map(|(code, name)| Country { code: code.to_owned(), name: name.to_owned() })
            .collect(),
        can_edit: viewer.keeps_billing(organization_id),
    }
}

#[tracing::instrument(skip_all, fields(organization_id))]
pub async fn billing_details_page(
    db: &Db,
    organization_id: &str,
    viewer: &SessionUser,
) -> Result<BillingDetailsPage, Error> {
    let mut conn = db.pool.acquire().await?;
    let row = billing_details::billing_details(&mut conn, organization_id).await?.ok_or(AppError::NotFound)?;
    let contacts = billing_contacts(&mut conn, organization_id).await?;
    Ok(page(row.into(), contacts, viewer, organization_id))
}

/// Checks every field first: a refusal names its field and nothing is stored.
#[tracing::instrument(skip_all, fields(organization_id))]
pub async fn save(
    db: &Db,
    actor: &SessionUser,
    organization_id: &str,
    details: &BillingDetails,
) -> Result<BillingDetailsPage, Error> {
    let checked = rules::check(&typed(details)).map_err(|refusal| AppError::invalid(refusal.field, refusal.reason))?;
    let now = db.clock.now_ms();
    let mut tx = db.begin().await?;
    let before = billing_details::billing_details(&mut tx, organization_id).await?.ok_or(AppError::NotFound)?;
    let row = BillingDetailsRow {
        organization_id: organization_id.to_owned(),
        legal_name: checked.legal_name,
        address_line1: checked.address_line1,
        address_line2: checked.address_line2,
        city: checked.city,
        postal_code: checked.postal_code,
        region: checked.region,
        country: checked.country,
        tax_id: checked.tax_id,
        billing_email: checked.billing_email,
    };
    billing_details::save_billing_details(&mut tx, &row, now).await?;
    let audit = AuditEntry {
        organization_id: Some(organization_id),
        actor: &actor.email,
        action: "billing_details.update",
        target: organization_id,
        before: Some(audited(&before)),
        after: Some(audited(&row)),
        reason: None,
    };
    append_audit(&mut tx, audit, now).await?;
    let contacts = billing_contacts(&mut tx, organization_id).await?;
    tx.commit().await?;
    Ok(page(row.into(), contacts, actor, organization_id))
}

fn audited(row: &BillingDetailsRow) -> serde_json::Value {
    json!({
        "legal_name": row.legal_name,
        "address": [&row.address_line1, &row.address_line2, &row.city, &row.postal_code, &row.region, &row.country],
        "tax_id": row.tax_id,
        "billing_email": row.billing_email,
    })
}
