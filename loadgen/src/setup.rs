//! Organizations, namespaces and API keys for a load run, made through the server's own code.
use app::api::dto::{Membership, Role, SessionUser};
use serde::{Deserialize, Serialize};
use server::accounts::db::namespaces::{NamespaceRow, insert_namespace};
use server::accounts::db::organizations::{OrganizationRow, insert_membership, insert_organization};
use server::accounts::db::users::{UserRow, insert_user};
use server::accounts::domain::password::hash_password;
use server::accounts::organizations::create_api_key;
use server::billing::subscriptions::{ensure_catalog, subscribe};
use server::metering::db::usage::close_usage_before_many;
use server::shared::ids::{IdKind, new_id};
use server::shared::time::now_ms;
use server::store::Db;

#[derive(Clone, Serialize, Deserialize)]
pub struct Target {
    pub organization_id: String,
    pub key: String,
    pub namespaces: Vec<String>,
}

/// Usage older than an hour counts as a closed period, so the run has late events.
pub async fn create_targets(
    db: &Db,
    organizations: usize,
    namespaces: usize,
) -> Result<Vec<Target>, Box<dyn std::error::Error>> {
    let now = now_ms();
    let password_hash = hash_password("loadgen").map_err(server::error::Error::from)?;
    // Usage is accepted only for organizations with a plan.
    ensure_catalog(db).await?;
    let mut targets = Vec::new();
    for o in 0..organizations {
        let org = OrganizationRow {
            id: new_id(IdKind::Organization, now),
            name: format!("Load {o}"),
            billing_email: format!("billing{o}@load.test"),
            currency: "USD".into(),
            created_at: now,
            onboarded_at: None,
        };
        let user = UserRow {
            id: new_id(IdKind::User, now),
            email: owner_email(&org.id),
            password_hash: password_hash.clone(),
            session_generation: 0,
        };
        let mut tx = db.begin().await?;
        insert_organization(&mut tx, &org).await?;
        insert_user(&mut tx, &user, now).await?;
        insert_membership(&mut tx, &user.id, &org.id, Role::Owner.as_str(), now).await?;
        let mut names = Vec::new();
        for n in 0..namespaces {
            let name = format!("load-{n}");
            let row = NamespaceRow {
                id: new_id(IdKind::Namespace, now),
                organization_id: org.id.clone(),
                name: name.clone(),
                created_at: now,
            };
            insert_namespace(&mut tx, &row).await?;
            names.push(name);
        }
        subscribe(&mut tx, &org.id, "Business", None, now).await?;
        close_usage_before_many(&mut tx, std::slice::from_ref(&org.id), now - 3_600_000).await?;
        tx.commit().await?;
        let owner = SessionUser {
            user_id: user.id.clone(),
            email: user.email.clone(),
            is_staff: false,
            memberships: vec![Membership {
                organization_id: org.id.clone(),
                organization_name: org.name.clone(),
                role: Role::Owner,
                past_due: false,
            }],
            time_zone: None,
        };
        let key = create_api_key(db, &owner, &org.id, "loadgen").await?;
        targets.push(Target { organization_id: org.id, key: key.secret, namespaces: names });
    }
    Ok(targets)
}

pub fn owner_email(organization_id: &str) -> String {
    format!("{organization_id}@load.test")
}
