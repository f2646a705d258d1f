//! The portal backend the UI's server functions call: a thin layer over the services.
use std::sync::Arc;

use app::api::backend::{
    Authenticated, BudgetForm, CreditForm, PortalBackend, RefundForm, SignedIn, TestCardForm, reads_may_lag,
};
use app::api::dto::admin::{
    AdminCustomer, CouponForm, CouponsPage, CustomerSearch, NewCustomerForm, Operations, PromotionCodeForm,
};
use app::api::dto::billing::{
    InvoiceDetail, InvoicesPage, IssuedCredit, PlanChangePreview, PlanPage, PromotionPreview,
};
use app::api::dto::payments::{BillingStatus, ParkedEvent, PayPage, PaymentMethodPage};
use app::api::dto::spend::BudgetsPage;
use app::api::dto::usage::{UsageReport, UsageWindow};
use app::api::dto::webhooks::{ShownSecret, WebhooksPage};
use app::api::dto::{
    ApiKey, BillingDetails, BillingDetailsPage, CreatedApiKey, Dashboard, Namespace, Preferences, SessionUser, TeamPage,
};
use app::api::error::AppError;
use async_trait::async_trait;

use crate::accounts::billing_contacts;
use crate::accounts::billing_details;
use crate::accounts::login::{self, LoginThrottle};
use crate::accounts::organizations;
use crate::accounts::preferences;
use crate::admin::billing_actions::{self, CreditRequest};
use crate::admin::customers;
use crate::admin::operations;
use crate::admin::payment_actions;
use crate::admin::quotas;
use crate::admin::suspension;
use crate::billing::coupons;
use crate::billing::period_rating::BillingRules;
use crate::billing::plan_change;
use crate::onboarding::invitations::{self, Invite};
use crate::onboarding::mail_throttle::MailThrottle;
use crate::onboarding::password_reset;
use crate::onboarding::signup::{self, SignUpForm};
use crate::onboarding::staff_customers;
use crate::payments::authentication;
use crate::payments::collection::Collector;
use crate::payments::methods::{self, CardForm};
use crate::payments::refunds::{self, RefundRequest};
use crate::payments::views;
use crate::portal::dashboard;
use crate::portal::invoice_pages;
use crate::portal::usage_page;
use crate::spend::budgets;
use crate::store::Db;
use crate::webhooks::endpoints as webhook_endpoints;
use crate::webhooks::targets::TargetPolicy;

pub struct Backend {
    pub db: Db,
    pub login_throttle: LoginThrottle,
    pub billing: BillingRules,
    pub collector: Arc<Collector>,
    /// Where customers come back to after a processor's hosted page, and what mailed links open.
    pub public_base_url: String,
    pub mail_throttle: MailThrottle,
    /// Stripe.js's key, for the Pay page to confirm a payment with the card holder's bank.
    pub stripe_publishable_key: Option<String>,
    /// Where webhook endpoints may point.
    pub webhook_targets: TargetPolicy,
}

impl Backend {
    /// Where a server function that only reads finds its data: a replica when one is set and the
    /// browser has not just written (`serve!(reads …)`), the primary otherwise.
    fn reads(&self) -> Db {
        if reads_may_lag() { self.db.may_lag() } else { self.db.clone() }
    }
}

#[async_trait]
impl PortalBackend for Backend {
    async fn authenticate(&self, email: &str, password: &str, client: &str) -> Result<Authenticated, AppError> {
        let (user_id, generation) = login::authenticate(&self.db, self.login_throttle, email, password, client).await?;
        Ok(Authenticated { user_id, generation })
    }

    async fn session_user(&self, user_id: &str, generation: i64) -> Result<Option<SessionUser>, AppError> {
        Ok(login::session_user(&self.db, user_id, generation).await?)
    }

    async fn user_of_session(&self, session_id: &str) -> Result<Option<SignedIn>, AppError> {
        Ok(login::user_of_session(&self.db, session_id).await?)
    }

    async fn preferences(&self, user: &SessionUser, browser_zone: Option<String>) -> Result<Preferences, AppError> {
        Ok(preferences::preferences(&self.db, user, browser_zone))
    }

    async fn set_time_zone(&self, user: &SessionUser, zone: &str) -> Result<(), AppError> {
        Ok(preferences::set_time_zone(&self.db, user, zone).await?)
    }

    async fn sign_up(&self, email: &str, password: &str, organization_name: &str) -> Result<(), AppError> {
        let form = SignUpForm { email, password, organization_name };
        Ok(signup::sign_up(&self.db, self.mail_throttle, &self.public_base_url, &form).await?)
    }

    async fn confirm_sign_up(&self, token: &str, password: &str) -> Result<(Authenticated, String), AppError> {
        let confirmed = signup::confirm_sign_up(&self.db, token, password).await?;
        let authenticated = Authenticated { user_id: confirmed.user_id, generation: confirmed.session_generation };
        Ok((authenticated, confirmed.organization_id))
    }

    async fn request_password_reset(&self, email: &str) -> Result<(), AppError> {
        Ok(password_reset::request_password_reset(&self.db, self.mail_throttle, &self.public_base_url, email).await?)
    }

    async fn reset_password(&self, token: &str, password: &str) -> Result<(), AppError> {
        Ok(password_reset::reset_password(&self.db, token, password).await?)
    }

    async fn budgets_page(&self, viewer: &SessionUser, organization_id: &str) -> Result<BudgetsPage, AppError> {
        Ok(budgets::budgets_page(&self.db, organization_id, viewer).await?)
    }

    async fn save_budget(
        &self,
        actor: &SessionUser,
        organization_id: &str,
        form: &BudgetForm,
    ) -> Result<BudgetsPage, AppError> {
        Ok(budgets::save_budget(&self.db, actor, organization_id, form).await?)
    }

    async fn delete_budget(
        &self,
        actor: &SessionUser,
        organization_id: &str,
        budget_id: &str,
    ) -> Result<BudgetsPage, AppError> {
        Ok(budgets::delete_budget(&self.db, actor, organization_id, budget_id).await?)
    }

    async fn dismiss_budget_alert(
        &self,
        actor: &SessionUser,
        organization_id: &str,
        alert_id: &str,
    ) -> Result<(), AppError> {
        Ok(budgets::dismiss_alert(&self.db, actor, organization_id, alert_id).await?)
    }

    async fn webhooks_page(&self, viewer: &SessionUser, organization_id: &str) -> Result<WebhooksPage, AppError> {
        Ok(webhook_endpoints::webhooks_page(&self.db, organization_id, viewer).await?)
    }

    async fn add_webhook_endpoint(
        &self,
        actor: &SessionUser,
        organization_id: &str,
        url: &str,
        event_types: &str,
    ) -> Result<ShownSecret, AppError> {
        let policy = &self.webhook_targets;
        Ok(webhook_endpoints::add_endpoint(&self.db, policy, actor, organization_id, url, event_types).await?)
    }

    async fn rotate_webhook_secret(
        &self,
        actor: &SessionUser,
        organization_id: &str,
        endpoint_id: &str,
    ) -> Result<ShownSecret, AppError> {
        Ok(webhook_endpoints::rotate_secret(&self.db, actor, organization_id, endpoint_id).await?)
    }

    async fn set_webhook_endpoint_enabled(
        &self,
        actor: &SessionUser,
        organization_id: &str,
        endpoint_id: &str,
        enabled: bool,
    ) -> Result<WebhooksPage, AppError> {
        Ok(webhook_endpoints::set_enabled(&self.db, actor, organization_id, endpoint_id, enabled).await?)
    }

    async fn send_webhook_again(
        &self,
        actor: &SessionUser,
        organization_id: &str,
        delivery_id: &str,
    ) -> Result<WebhooksPage, AppError> {
        Ok(webhook_endpoints::send_again(&self.db, actor, organization_id, delivery_id).await?)
    }

    async fn dashboard(&self, organization_id: &str, viewer: &SessionUser) -> Result<Dashboard, AppError> {
        Ok(dashboard::dashboard(&self.db, organization_id, viewer, &self.public_base_url).await?)
    }

    async fn team_page(&self, viewer: &SessionUser, organization_id: &str) -> Result<TeamPage, AppError> {
        Ok(invitations::team_page(&self.db, organization_id, viewer).await?)
    }

    async fn invite_member(
        &self,
        actor: &SessionUser,
        organization_id: &str,
        email: &str,
        role: &str,
    ) -> Result<TeamPage, AppError> {
        let invite = Invite { organization_id, email, role };
        Ok(invitations::invite(&self.db, self.mail_throttle, &self.public_base_url, actor, &invite).await?)
    }

    async fn resend_invitation(
        &self,
        actor: &SessionUser,
        organization_id: &str,
        invitation_id: &str,
    ) -> Result<TeamPage, AppError> {
        let (throttle, base_url) = (self.mail_throttle, &self.public_base_url);
        Ok(invitations::resend(&self.db, throttle, base_url, actor, organization_id, invitation_id).await?)
    }

    async fn withdraw_invitation(
        &self,
        actor: &SessionUser,
        organization_id: &str,
        invitation_id: &str,
    ) -> Result<TeamPage, AppError> {
        Ok(invitations::withdraw(&self.db, actor, organization_id, invitation_id).await?)
    }

    async fn remove_member(
        &self,
        actor: &SessionUser,
        organization_id: &str,
        user_id: &str,
    ) -> Result<TeamPage, AppError> {
        Ok(invitations::remove_member(&self.db, actor, organization_id, user_id).await?)
    }

    async fn accept_invitation(
        &self,
        token: &str,
        password: &str,
        client: &str,
    ) -> Result<(Authenticated, String), AppError> {
        Ok(invitations::accept(&self.db, self.login_throttle, client, token, password).await?)
    }

    async fn billing_details(
        &self,
        organization_id: &str,
        viewer: &SessionUser,
    ) -> Result<BillingDetailsPage, AppError> {
        Ok(billing_details::billing_details_page(&self.db, organization_id, viewer).await?)
    }

    async fn save_billing_details(
        &self,
        actor: &SessionUser,
        organization_id: &str,
        details: BillingDetails,
    ) -> Result<BillingDetailsPage, AppError> {
        Ok(billing_details::save(&self.db, actor, organization_id, &details).await?)
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

    async fn add_billing_contact(
        &self,
        actor: &SessionUser,
        organization_id: &str,
        email: &str,
    ) -> Result<BillingDetailsPage, AppError> {
        Ok(billing_contacts::add(&self.db, actor, organization_id, email).await?)
    }

    async fn remove_billing_contact(
        &self,
        actor: &SessionUser,
        organization_id: &str,
        email: &str,
    ) -> Result<BillingDetailsPage, AppError> {
        Ok(billing_contacts::remove(&self.db, actor, organization_id, email).await?)
    }

    async fn search_customers(&self, query: &str, page: u32) -> Result<CustomerSearch, AppError> {
        Ok(customers::search_customers(&self.reads(), query, page).await?)
    }

    async fn operations(&self) -> Result<Operations, AppError> {
        Ok(operations::operations(&self.db).await?)
    }

    async fn set_suspended(
        &self,
        actor: &SessionUser,
        organization_id: &str,
        suspended: bool,
        reason: &str,
    ) -> Result<(), AppError> {
        match suspended {
            true => suspension::suspend(&self.db, &actor.email, organization_id, reason).await?,
            false => suspension::unsuspend(&self.db, &actor.email, organization_id, reason).await?,
        }
        Ok(())
    }

    async fn set_ingest_quota(
        &self,
        actor: &SessionUser,
        organization_id: &str,
        events_per_second: &str,
        reason: &str,
    ) -> Result<(), AppError> {
        Ok(quotas::set_ingest_quota(&self.db, &actor.email, organization_id, events_per_second, reason).await?)
    }

    async fn usage_report(
        &self,
        organization_id: &str,
        metric: &str,
        window: &UsageWindow,
        hidden: &[String],
        by: Option<&str>,
    ) -> Result<UsageReport, AppError> {
        Ok(usage_page::usage_report(&self.reads(), organization_id, metric, window, hidden, by).await?)
    }

    async fn plan_page(&self, organization_id: &str) -> Result<PlanPage, AppError> {
        Ok(plan_change::plan_page(&self.db, organization_id).await?)
    }

    async fn preview_plan_change(&self, organization_id: &str, plan: &str) -> Result<PlanChangePreview, AppError> {
        Ok(plan_change::preview(&self.db, &self.billing, organization_id, plan).await?)
    }

    async fn confirm_plan_change(
        &self,
        actor: &SessionUser,
        organization_id: &str,
        plan: &str,
        token: &str,
        reason: Option<&str>,
    ) -> Result<PlanPage, AppError> {
        let change = plan_change::Confirmation { actor: &actor.email, organization_id, plan, token, reason };
        Ok(plan_change::confirm(&self.db, &self.billing, &change).await?)
    }

    async fn cancel_subscription(
        &self,
        actor: &SessionUser,
        organization_id: &str,
        reason: Option<&str>,
    ) -> Result<PlanPage, AppError> {
        Ok(plan_change::cancel_at_period_end(&self.db, &actor.email, organization_id, reason).await?)
    }

    async fn keep_subscription(&self, actor: &SessionUser, organization_id: &str) -> Result<PlanPage, AppError> {
        Ok(plan_change::keep_subscription(&self.db, &actor.email, organization_id).await?)
    }

    async fn start_plan(&self, actor: &SessionUser, organization_id: &str, plan: &str) -> Result<PlanPage, AppError> {
        Ok(plan_change::start_plan(&self.db, &actor.email, organization_id, plan).await?)
    }

    async fn preview_promotion_code(&self, organization_id: &str, code: &str) -> Result<PromotionPreview, AppError> {
        Ok(coupons::preview_code(&self.db, organization_id, code).await?)
    }

    async fn redeem_promotion_code(
        &self,
        actor: &SessionUser,
        organization_id: &str,
        code: &str,
    ) -> Result<PlanPage, AppError> {
        coupons::redeem_code(&self.db, &actor.email, organization_id, code).await?;
        Ok(plan_change::plan_page(&self.db, organization_id).await?)
    }

    async fn create_customer(&self, actor: &SessionUser, form: NewCustomerForm) -> Result<String, AppError> {
        Ok(staff_customers::create_customer(&self.db, &self.public_base_url, &actor.email, &form).await?)
    }

    async fn invite_owner(
        &self,
        actor: &SessionUser,
        organization_id: &str,
        email: &str,
        reason: &str,
    ) -> Result<(), AppError> {
        let base_url = &self.public_base_url;
        Ok(staff_customers::invite_owner(&self.db, base_url, &actor.email, organization_id, email, reason).await?)
    }

    async fn coupons(&self) -> Result<CouponsPage, AppError> {
        Ok(coupons::coupons_page(&self.db).await?)
    }

    async fn create_coupon(&self, actor: &SessionUser, form: CouponForm) -> Result<CouponsPage, AppError> {
        Ok(coupons::create_coupon(&self.db, &actor.email, &form).await?)
    }

    async fn create_promotion_code(
        &self,
        actor: &SessionUser,
        form: PromotionCodeForm,
    ) -> Result<CouponsPage, AppError> {
        Ok(coupons::create_promotion_code(&self.db, &actor.email, &form).await?)
    }

    async fn invoices_page(&self, organization_id: &str) -> Result<InvoicesPage, AppError> {
        Ok(invoice_pages::invoices_page(&self.reads(), organization_id).await?)
    }

    async fn invoice_detail(&self, organization_id: &str, invoice_id: &str) -> Result<InvoiceDetail, AppError> {
        Ok(invoice_pages::invoice_detail(&self.reads(), organization_id, invoice_id).await?)
    }

    async fn admin_customer(&self, organization_id: &str) -> Result<AdminCustomer, AppError> {
        Ok(customers::admin_customer(&self.db, &self.collector.policy, organization_id).await?)
    }

    async fn issue_credit(&self, actor: &SessionUser, form: CreditForm) -> Result<IssuedCredit, AppError> {
        let request = CreditRequest {
            organization_id: &form.organization_id,
            amount: &form.amount,
            reason: &form.reason,
            expires: &form.expires,
            idempotency_key: &form.idempotency_key,
        };
        Ok(billing_actions::issue_credit(&self.db, &actor.email, self.billing.credit_max_minor, &request).await?)
    }

    async fn void_invoice(&self, actor: &SessionUser, invoice_id: &str, reason: &str) -> Result<(), AppError> {
        Ok(billing_actions::void_invoice(&self.db, &actor.email, invoice_id, reason).await?)
    }

    async fn billing_status(&self, viewer: &SessionUser, organization_id: &str) -> Result<BillingStatus, AppError> {
        Ok(views::billing_status_for(&self.db, &self.collector.policy, viewer, organization_id).await?)
    }

    async fn payment_method_page(&self, organization_id: &str) -> Result<PaymentMethodPage, AppError> {
        let test_mode = self.collector.test_mode.is_some();
        Ok(views::payment_method_page(&self.db, &self.collector.policy, test_mode, organization_id).await?)
    }

    async fn save_test_card(
        &self,
        actor: &SessionUser,
        organization_id: &str,
        card: TestCardForm,
    ) -> Result<PaymentMethodPage, AppError> {
        let form = CardForm { number: &card.number, exp_month: &card.exp_month, exp_year: &card.exp_year };
        methods::add_test_card(&self.db, &self.collector, &actor.email, organization_id, &form).await?;
        self.payment_method_page(organization_id).await
    }

    async fn pay_now(&self, actor: &SessionUser, organization_id: &str) -> Result<PaymentMethodPage, AppError> {
        methods::pay_now(&self.db, &self.collector, &actor.email, organization_id).await?;
        self.payment_method_page(organization_id).await
    }

    async fn pay_page(&self, organization_id: &str, invoice_id: &str) -> Result<PayPage, AppError> {
        let key = self.stripe_publishable_key.as_deref();
        Ok(authentication::pay_page(&self.db, &self.collector, key, organization_id, invoice_id).await?)
    }

    async fn confirm_test_payment(
        &self,
        actor: &SessionUser,
        organization_id: &str,
        invoice_id: &str,
        approve: bool,
    ) -> Result<PayPage, AppError> {
        let (db, collector) = (&self.db, &self.collector);
        Ok(authentication::confirm_test_payment(db, collector, &actor.email, organization_id, invoice_id, approve)
            .await?)
    }

    async fn start_card_setup(&self, organization_id: &str) -> Result<String, AppError> {
        let return_url = format!("{}/orgs/{organization_id}/payment", self.public_base_url);
        Ok(methods::start_setup(&self.db, &self.collector, organization_id, &return_url).await?)
    }

    async fn parked_events(&self) -> Result<Vec<ParkedEvent>, AppError> {
        Ok(views::parked_events(&self.db).await?)
    }

    async fn refund_payment(&self, actor: &SessionUser, form: RefundForm) -> Result<(), AppError> {
        let request = RefundRequest {
            payment_id: &form.payment_id,
            amount: &form.amount,
            reason: &form.reason,
            idempotency_key: &form.idempotency_key,
        };
        Ok(refunds::refund_payment(&self.db, &self.collector, &actor.email, &request).await?)
    }

    async fn admin_retry_payments(
        &self,
        actor: &SessionUser,
        organization_id: &str,
        reason: &str,
    ) -> Result<usize, AppError> {
        let results =
            payment_actions::retry_payments(&self.db, &self.collector, &actor.email, organization_id, reason).await?;
        Ok(results.len())
    }

    async fn mark_uncollectible(&self, actor: &SessionUser, invoice_id: &str, reason: &str) -> Result<(), AppError> {
        Ok(payment_actions::mark_uncollectible(&self.db, &actor.email, invoice_id, reason).await?)
    }

    async fn replay_webhook_event(
        &self,
        actor: &SessionUser,
        event_id: &str,
        reason: &str,
    ) -> Result<String, AppError> {
        Ok(payment_actions::replay_event(&self.db, &self.collector, &actor.email, event_id, reason).await?)
    }
}
