//! The portal backend the UI's server functions call: a thin layer over the services.
use app::api::backend::PortalBackend;
use app::api::dto::usage::{UsageRange, UsageReport};
use app::api::dto::{ApiKey, CreatedApiKey, Dashboard, Namespace, OrganizationSummary, SessionUser};
use app::api::error::AppError;
use async_trait::async_trait;

use crate::db::Db;
use crate::services::accounts::{self, LoginThrottle};
use crate::services::{organizations, usage_report};

pub struct Backend {
    pub db: Db,
    pub login_throttle: LoginThrottle,
}

#[async_trait]
impl PortalBackend for Backend {
    async fn authenticate(&self, email: &str, password: &str, client: &str) -> Result<String, AppError> {
        Ok(accounts::authenticate(&self.db, self.login_throttle, email, password, client).await?)
    }

    async fn session_user(&self, user_id: &str) -> Result<Option<SessionUser>, AppError> {
        Ok(accounts::session_user(&self.db, user_id).await?)
    }

    async fn dashboard(&self, organization_id: &str, viewer: &SessionUser) -> Result<Dashboard, AppError> {
        Ok(organizations::dashboard(&self.db, organization_id, viewer).await?)
    }

    async fn create_namespace(
        &self,
        actor: &SessionUser,
        organization_id: &str,
        name: &str,
    ) -> Result<Namespace, AppError> {
        Ok(organizations::create_namespace(&self.db, &actor.email, organization_id, name).await?)
    }

    async fn list_api_keys(&self, organization_id: &str) -> Result<Vec<ApiKey>, AppError> {
        Ok(organizations::list_api_keys(&self.db, organization_id).await?)
    }

    async fn create_api_key(
        &self,
        actor: &SessionUser,
        organization_id: &str,
        name: &str,
    ) -> Result<CreatedApiKey, AppError> {
        Ok(organizations::create_api_key(&self.db, actor, organization_id, name).await?)
    }

    async fn revoke_api_key(&self, actor: &SessionUser, organization_id: &str, key_id: &str) -> Result<(), AppError> {
        Ok(organizations::revoke_api_key(&self.db, &actor.email, organization_id, key_id).await?)
    }

    async fn list_organizations(&self) -> Result<Vec<OrganizationSummary>, AppError> {
        Ok(organizations::list_organizations(&self.db).await?)
    }

    async fn usage_report(
        &self,
        organization_id: &str,
        metric: &str,
        range: UsageRange,
    ) -> Result<UsageReport, AppError> {
        Ok(usage_report::usage_report(&self.db, organization_id, metric, range).await?)
    }
}
