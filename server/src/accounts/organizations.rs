//! An organization's dashboard, namespaces and API keys, with an audit entry for every change.
use app::api::dto::{ApiKey, CreatedApiKey, Namespace, SessionUser};
use app::api::error::AppError;
use serde_json::json;

use crate::accounts::db::api_keys::{self, ApiKeyRow};
use crate::accounts::db::audit::{AuditEntry, append_audit};
use crate::accounts::db::namespaces::{self, NamespaceRow};
use crate::accounts::domain::api_key::generate_api_key;
use crate::accounts::domain::namespace_name::NamespaceName;
use crate::error::Error;
use crate::reader::moment;
use crate::shared::ids::{IdKind, new_id};
use crate::store::{Db, is_unique_violation};

const MAX_KEY_NAME_LEN: usize = 100;

impl From<NamespaceRow> for Namespace {
    fn from(row: NamespaceRow) -> Self {
        Self { id: row.id, name: row.name, created_at: moment(row.created_at) }
    }
}

impl From<ApiKeyRow> for ApiKey {
    fn from(row: ApiKeyRow) -> Self {
        Self {
            id: row.id,
            name: row.name,
            prefix: row.prefix,
            created_by: row.created_by,
            created_at: moment(row.created_at),
            last_used_at: row.last_used_at.map(moment),
            revoked_at: row.revoked_at.map(moment),
        }
    }
}

#[tracing::instrument(skip_all, fields(organization_id))]
pub async fn list_namespaces(db: &Db, organization_id: &str) -> Result<Vec<Namespace>, Error> {
    let mut conn = db.pool.acquire().await?;
    Ok(namespaces::list_namespaces(&mut conn, organization_id).await?.into_iter().map(Namespace::from).collect())
}

#[tracing::instrument(skip_all, fields(organization_id))]
pub async fn create_namespace(db: &Db, actor: &str, organization_id: &str, raw_name: &str) -> Result<Namespace, Error> {
    let name = NamespaceName::parse(raw_name).map_err(|why| AppError::invalid("name", why.0))?;
    let now = db.clock.now_ms();
    let row = NamespaceRow {
        id: new_id(IdKind::Namespace, now),
        organization_id: organization_id.to_owned(),
        name: name.as_str().to_owned(),
        created_at: now,
    };
    let mut tx = db.begin().await?;
    namespaces::insert_namespace(&mut tx, &row).await.map_err(|error| match error {
        Error::Database(ref cause) if is_unique_violation(cause) => {
            AppError::conflict("name", "a namespace with this name already exists").into()
        }
        other => other,
    })?;
    let audit = AuditEntry {
        organization_id: Some(organization_id),
        actor,
        action: "namespace.create",
        target: &row.id,
        before: None,
        after: Some(json!({ "name": row.name })),
        reason: None,
    };
    append_audit(&mut tx, audit, now).await?;
    tx.commit().await?;
    Ok(row.into())
}

#[tracing::instrument(skip_all, fields(organization_id))]
pub async fn list_api_keys(db: &Db, organization_id: &str) -> Result<Vec<ApiKey>, Error> {
    let mut conn = db.pool.acquire().await?;
    Ok(api_keys::list_api_keys(&mut conn, organization_id).await?.into_iter().map(ApiKey::from).collect())
}

#[tracing::instrument(skip_all, fields(organization_id))]
pub async fn create_api_key(
    db: &Db,
    actor: &SessionUser,
    organization_id: &str,
    raw_name: &str,
) -> Result<CreatedApiKey, Error> {
    let name = raw_name.trim();
    if name.is_empty() {
        return Err(AppError::invalid("name", "give the key a name").into());
    }
    if name.chars().count() > MAX_KEY_NAME_LEN {
        return Err(AppError::invalid("name", format!("must be at most {MAX_KEY_NAME_LEN} characters")).into());
    }
    let now = db.clock.now_ms();
    let generated = generate_api_key();
    let row = ApiKeyRow {
        id: new_id(IdKind::ApiKey, now),
        organization_id: organization_id.to_owned(),
        name: name.to_owned(),
        prefix: generated.prefix.clone(),
        created_by: actor.email.clone(),
        created_at: now,
        last_used_at: None,
        revoked_at: None,
    };
    let mut tx = db.begin().await?;
    api_keys::insert_api_key(&mut tx, &row, &actor.user_id, &generated.secret_hash).await?;
    let audit = AuditEntry {
        organization_id: Some(organization_id),
        actor: &actor.email,
        action: "api_key.create",
        target: &row.id,
        before: None,
        after: Some(json!({ "name": row.name, "prefix": row.prefix })),
        reason: None,
    };
    append_audit(&mut tx, audit, now).await?;
    tx.commit().await?;
    Ok(CreatedApiKey { key: row.into(), secret: generated.secret })
}

/// A key of another organization is "not found"; revoking twice is harmless.
#[tracing::instrument(skip_all, fields(organization_id))]
pub async fn revoke_api_key(db: &Db, actor: &str, organization_id: &str, key_id: &str) -> Result<(), Error> {
    let now = db.clock.now_ms();
    let mut tx = db.begin().await?;
    api_keys::find_api_key(&mut tx, organization_id, key_id).await?.ok_or(AppError::NotFound)?;
    if api_keys::revoke_api_key(&mut tx, key_id, now).await? {
        let audit = AuditEntry {
            organization_id: Some(organization_id),
            actor,
            action: "api_key.revoke",
            target: key_id,
            before: Some(json!({ "revoked": false })),
            after: Some(json!({ "revoked": true })),
            reason: None,
        };
        append_audit(&mut tx, audit, now).await?;
    }
    tx.commit().await?;
    Ok(())
}
