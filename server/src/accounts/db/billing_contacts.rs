//! The people who receive an organization's invoices and payment notices beside its billing email.
use std::collections::HashMap;

use sqlx::AnyConnection;

use crate::error::Error;
use crate::store::bulk::{bind_all_as, list_placeholders, texts};

/// The organization's billing contacts, in the order they were added.
pub async fn billing_contacts(conn: &mut AnyConnection, organization_id: &str) -> Result<Vec<String>, Error> {
    Ok(sqlx::query_scalar("select email from billing_contacts where organization_id = $1 order by created_at, email")
        .bind(organization_id)
        .fetch_all(conn)
        .await?)
}

/// False when the address is listed already.
pub async fn add_billing_contact(
    conn: &mut AnyConnection,
    organization_id: &str,
    email: &str,
    added_by: &str,
    now: i64,
) -> Result<bool, Error> {
    let added = sqlx::query(
        "insert into billing_contacts (organization_id, email, added_by, created_at) values ($1, $2, $3, $4)
         on conflict (organization_id, email) do nothing",
    )
    .bind(organization_id)
    .bind(email)
    .bind(added_by)
    .bind(now)
    .execute(conn)
    .await?;
    Ok(added.rows_affected() == 1)
}

/// False when the address was not listed.
pub async fn remove_billing_contact(
    conn: &mut AnyConnection,
    organization_id: &str,
    email: &str,
) -> Result<bool, Error> {
    let removed = sqlx::query("delete from billing_contacts where organization_id = $1 and email = $2")
        .bind(organization_id)
        .bind(email)
        .execute(conn)
        .await?;
    Ok(removed.rows_affected() == 1)
}

/// Where each organization's invoices and payment notices go: its billing email, then its billing
/// contacts, as one `To:` list.
pub async fn billing_recipients(
    conn: &mut AnyConnection,
    organization_ids: &[String],
) -> Result<HashMap<String, String>, Error> {
    let mut recipients = HashMap::new();
    for chunk in organization_ids.chunks(1_000) {
        let sql = format!(
            "select o.id, o.billing_email, c.email from organizations o
             left join billing_contacts c on c.organization_id = o.id
             where o.id in ({}) order by o.id, c.created_at, c.email",
            list_placeholders(conn, 1, chunk.len())
        );
        let rows: Vec<(String, String, Option<String>)> =
            bind_all_as(sqlx::query_as(&sql), &texts(chunk)).fetch_all(&mut *conn).await?;
        for (id, billing_email, contact) in rows {
            let to: &mut String = recipients.entry(id).or_insert(billing_email);
            if let Some(contact) = contact {
                to.push_str(", ");
                to.push_str(&contact);
            }
        }
    }
    Ok(recipients)
}
