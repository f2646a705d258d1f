//! The customer's billing details: legal name, address, tax id, and the billing email on the
//! organization.
use sqlx::{AnyConnection, FromRow};

use crate::error::Error;
use crate::store::bulk::{bind_all, list_placeholders, texts};

#[derive(Debug, Clone, Default, FromRow)]
pub struct BillingDetailsRow {
    pub organization_id: String,
    pub legal_name: String,
    pub address_line1: String,
    pub address_line2: String,
    pub city: String,
    pub postal_code: String,
    pub region: String,
    pub country: String,
    pub tax_id: String,
    pub billing_email: String,
}

/// The organization's details; empty fields where none were given yet. None for no organization.
pub async fn billing_details(
    conn: &mut AnyConnection,
    organization_id: &str,
) -> Result<Option<BillingDetailsRow>, Error> {
    Ok(sqlx::query_as(
        "select o.id as organization_id, coalesce(d.legal_name, '') as legal_name,
                coalesce(d.address_line1, '') as address_line1, coalesce(d.address_line2, '') as address_line2,
                coalesce(d.city, '') as city, coalesce(d.postal_code, '') as postal_code,
                coalesce(d.region, '') as region, coalesce(d.country, '') as country,
                coalesce(d.tax_id, '') as tax_id, o.billing_email
         from organizations o left join billing_details d on d.organization_id = o.id where o.id = $1",
    )
    .bind(organization_id)
    .fetch_optional(conn)
    .await?)
}

pub async fn save_billing_details(conn: &mut AnyConnection, row: &BillingDetailsRow, now: i64) -> Result<(), Error> {
    sqlx::query(
        "insert into billing_details (organization_id, legal_name, address_line1, address_line2, city,
             postal_code, region, country, tax_id, updated_at)
         values ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)
         on conflict (organization_id) do update set legal_name = excluded.legal_name,
             address_line1 = excluded.address_line1, address_line2 = excluded.address_line2,
             city = excluded.city, postal_code = excluded.postal_code, region = excluded.region,
             country = excluded.country, tax_id = excluded.tax_id, updated_at = excluded.updated_at",
    )
    .bind(&row.organization_id)
    .bind(&row.legal_name)
    .bind(&row.address_line1)
    .bind(&row.address_line2)
    .bind(&row.city)
    .bind(&row.postal_code)
    .bind(&row.region)
    .bind(&row.country)
    .bind(&row.tax_id)
    .bind(now)
    .execute(&mut *conn)
    .await?;
    sqlx::query("update organizations set billing_email = $1 where id = $2")
        .bind(&row.billing_email)
        .bind(&row.organization_id)
        .execute(conn)
        .await?;
    Ok(())
}

/// Keeps each listed invoice's customer details as they are now: called as the invoices are
/// finalized, so an issued invoice's document never changes with later edits.
pub async fn keep_invoice_customers(conn: &mut AnyConnection, invoice_ids: &[String]) -> Result<(), Error> {
    for chunk in invoice_ids.chunks(1_000) {
        let sql = format!(
            "insert into invoice_customers (invoice_id, organization_name, legal_name, address_line1, address_line2,
                 city, postal_code, region, country, tax_id, billing_email)
             select i.id, o.name, coalesce(d.legal_name, ''), coalesce(d.address_line1, ''),
                 coalesce(d.address_line2, ''), coalesce(d.city, ''), coalesce(d.postal_code, ''),
                 coalesce(d.region, ''), coalesce(d.country, ''), coalesce(d.tax_id, ''), o.billing_email
             from invoices i join organizations o on o.id = i.organization_id
             left join billing_details d on d.organization_id = o.id
             where i.id in ({}) on conflict (invoice_id) do nothing",
            list_placeholders(conn, 1, chunk.len())
        );
        bind_all(sqlx::query(&sql), &texts(chunk)).execute(&mut *conn).await?;
    }
    Ok(())
}

/// The customer an invoice was issued to: its details and the organization's name then. None for
/// an invoice finalized before they were kept.
pub async fn invoice_customer(
    conn: &mut AnyConnection,
    invoice_id: &str,
) -> Result<Option<(BillingDetailsRow, String)>, Error> {
    let row: Option<IssuedTo> = sqlx::query_as(
        "select i.organization_id, c.organization_name, c.legal_name, c.address_line1, c.address_line2, c.city,
                c.postal_code, c.region, c.country, c.tax_id, c.billing_email
         from invoice_customers c join invoices i on i.id = c.invoice_id where c.invoice_id = $1",
    )
    .bind(invoice_id)
    .fetch_optional(conn)
    .await?;
    Ok(row.map(|r| (r.details, r.organization_name)))
}

#[derive(FromRow)]
struct IssuedTo {
    organization_name: String,
    #[sqlx(flatten)]
    details: BillingDetailsRow,
}
