//! The seam between the UI crate and the server: `server` implements this trait and provides it as
//! context, so server functions stay thin and this crate never sees SQL.
use std::sync::Arc;

use async_trait::async_trait;
use leptos::prelude::*;

use super::dto::admin::{
    AdminCustomer, CouponForm, CouponsPage, CustomerSearch, NewCustomerForm, Operations, PromotionCodeForm,
};
use super::dto::billing::{InvoiceDetail, InvoicesPage, IssuedCredit, PlanChangePreview, PlanPage, PromotionPreview};
use super::dto::payments::{BillingStatus, ParkedEvent, PayPage, PaymentMethodPage};
use super::dto::spend::BudgetsPage;
use super::dto::usage::{UsageReport, UsageWindow};
use super::dto::webhooks::{ShownSecret, WebhooksPage};
use super::dto::{
    ApiKey, BillingDetails, BillingDetailsPage, CreatedApiKey, Dashboard, Namespace, Preferences, SessionUser, TeamPage,
};
use super::error::AppError;

#[async_trait]
pub trait PortalBackend: Send + Sync + 'static {
    /// Checks a password, counting failures per account and per client address.
    async fn authenticate(&self, email: &str, password: &str, client: &str) -> Result<Authenticated, AppError>;
    /// `None` when the user is gone or the session began in an earlier session generation (before
    /// a password reset).
    async fn session_user(&self, user_id: &str, generation: i64) -> Result<Option<SessionUser>, AppError>;
    /// The user the session `session_id` belongs to, read with the session.
    async fn user_of_session(&self, session_id: &str) -> Result<Option<SignedIn>, AppError>;
    /// `browser_zone` is the zone the reader's browser reports, for the page to name.
    async fn preferences(&self, user: &SessionUser, browser_zone: Option<String>) -> Result<Preferences, AppError>;
    /// Empty goes back to the browser's zone; an unknown name is refused, naming `time_zone`.
    async fn set_time_zone(&self, user: &SessionUser, zone: &str) -> Result<(), AppError>;
    /// Mails a confirmation link (or, to an address with an account, a note saying so).
    async fn sign_up(&self, email: &str, password: &str, organization_name: &str) -> Result<(), AppError>;
    /// Makes the organization and its owner from a confirmation link and the password chosen at
    /// sign-up, and logs the owner in.
    async fn confirm_sign_up(&self, token: &str, password: &str) -> Result<(Authenticated, String), AppError>;
    async fn request_password_reset(&self, email: &str) -> Result<(), AppError>;
    async fn reset_password(&self, token: &str, password: &str) -> Result<(), AppError>;
    async fn dashboard(&self, organization_id: &str, viewer: &SessionUser) -> Result<Dashboard, AppError>;
    async fn team_page(&self, viewer: &SessionUser, organization_id: &str) -> Result<TeamPage, AppError>;
    async fn budgets_page(&self, viewer: &SessionUser, organization_id: &str) -> Result<BudgetsPage, AppError>;
    /// Sets the scope's budget (replacing its previous one) and evaluates it at once.
    async fn save_budget(
        &self,
        actor: &SessionUser,
        organization_id: &str,
        form: &BudgetForm,
    ) -> Result<BudgetsPage, AppError>;
    async fn delete_budget(
        &self,
        actor: &SessionUser,
        organization_id: &str,
        budget_id: &str,
    ) -> Result<BudgetsPage, AppError>;
    async fn dismiss_budget_alert(
        &self,
        actor: &SessionUser,
        organization_id: &str,
        alert_id: &str,
    ) -> Result<(), AppError>;
    async fn webhooks_page(&self, viewer: &SessionUser, organization_id: &str) -> Result<WebhooksPage, AppError>;
    /// Registers an endpoint; its signing secret is answered this once.
    async fn add_webhook_endpoint(
        &self,
        actor: &SessionUser,
        organization_id: &str,
        url: &str,
        event_types: &str,
    ) -> Result<ShownSecret, AppError>;
    /// A new secret, answered this once; the one before it also signs for 24 hours.
    async fn rotate_webhook_secret(
        &self,
        actor: &SessionUser,
        organization_id: &str,
        endpoint_id: &str,
    ) -> Result<ShownSecret, AppError>;
    async fn set_webhook_endpoint_enabled(
        &self,
        actor: &SessionUser,
        organization_id: &str,
        endpoint_id: &str,
        enabled: bool,
    ) -> Result<WebhooksPage, AppError>;
    async fn send_webhook_again(
        &self,
        actor: &SessionUser,
        organization_id: &str,
        delivery_id: &str,
    ) -> Result<WebhooksPage, AppError>;
    async fn invite_member(
        &self,
        actor: &SessionUser,
        organization_id: &str,
        email: &str,
        role: &str,
    ) -> Result<TeamPage, AppError>;
    async fn resend_invitation(
        &self,
        actor: &SessionUser,
        organization_id: &str,
        invitation_id: &str,
    ) -> Result<TeamPage, AppError>;
    async fn withdraw_invitation(
        &self,
        actor: &SessionUser,
        organization_id: &str,
        invitation_id: &str,
    ) -> Result<TeamPage, AppError>;
    async fn remove_member(
        &self,
        actor: &SessionUser,
        organization_id: &str,
        user_id: &str,
    ) -> Result<TeamPage, AppError>;
    /// Joins the organization of an invitation's link; answers who to log in and the organization.
    async fn accept_invitation(
        &self,
        token: &str,
        password: &str,
        client: &str,
    ) -> Result<(Authenticated, String), AppError>;
    async fn create_namespace(
        &self,
        actor: &SessionUser,
        organization_id: &str,
        name: &str,
    ) -> Result<Namespace, AppError>;
    async fn list_api_keys(&self, organization_id: &str) -> Result<Vec<ApiKey>, AppError>;
    async fn create_api_key(
        &self,
        actor: &SessionUser,
        organization_id: &str,
        name: &str,
    ) -> Result<CreatedApiKey, AppError>;
    async fn revoke_api_key(&self, actor: &SessionUser, organization_id: &str, key_id: &str) -> Result<(), AppError>;
    async fn billing_details(
        &self,
        organization_id: &str,
        viewer: &SessionUser,
    ) -> Result<BillingDetailsPage, AppError>;
    /// Refuses the first bad field and changes nothing; audited.
    async fn save_billing_details(
        &self,
        actor: &SessionUser,
        organization_id: &str,
        details: BillingDetails,
    ) -> Result<BillingDetailsPage, AppError>;
    async fn add_billing_contact(
        &self,
        actor: &SessionUser,
        organization_id: &str,
        email: &str,
    ) -> Result<BillingDetailsPage, AppError>;
    async fn remove_billing_contact(
        &self,
        actor: &SessionUser,
        organization_id: &str,
        email: &str,
    ) -> Result<BillingDetailsPage, AppError>;
    async fn search_customers(&self, query: &str, page: u32) -> Result<CustomerSearch, AppError>;
    async fn operations(&self) -> Result<Operations, AppError>;
    /// Staff: suspend (`true`) or lift a suspension (`false`), with the reason for the audit log.
    async fn set_suspended(
        &self,
        actor: &SessionUser,
        organization_id: &str,
        suspended: bool,
        reason: &str,
    ) -> Result<(), AppError>;
    /// Staff: the organization's own ingestion rate (empty: the portal's; 0: no limit), with the
    /// reason for the audit log.
    async fn set_ingest_quota(
        &self,
        actor: &SessionUser,
        organization_id: &str,
        events_per_second: &str,
        reason: &str,
    ) -> Result<(), AppError>;
    /// `hidden` names the series left off the chart; the tables still show them. The series are
    /// the namespaces, or with `by` the values of that dimension of the metric.
    async fn usage_report(
        &self,
        organization_id: &str,
        metric: &str,
        window: &UsageWindow,
        hidden: &[String],
        by: Option<&str>,
    ) -> Result<UsageReport, AppError>;
    async fn plan_page(&self, organization_id: &str) -> Result<PlanPage, AppError>;
    async fn preview_plan_change(&self, organization_id: &str, plan: &str) -> Result<PlanChangePreview, AppError>;
    /// `reason` is required when staff act for the customer, and audited.
    async fn confirm_plan_change(
        &self,
        actor: &SessionUser,
        organization_id: &str,
        plan: &str,
        token: &str,
        reason: Option<&str>,
    ) -> Result<PlanPage, AppError>;
    async fn cancel_subscription(
        &self,
        actor: &SessionUser,
        organization_id: &str,
        reason: Option<&str>,
    ) -> Result<PlanPage, AppError>;
    /// Takes back a cancellation at the period end while the period runs.
    async fn keep_subscription(&self, actor: &SessionUser, organization_id: &str) -> Result<PlanPage, AppError>;
    /// Starts an organization without a plan on one (with its free trial, if it has one).
    async fn start_plan(&self, actor: &SessionUser, organization_id: &str, plan: &str) -> Result<PlanPage, AppError>;
    async fn preview_promotion_code(&self, organization_id: &str, code: &str) -> Result<PromotionPreview, AppError>;
    async fn redeem_promotion_code(
        &self,
        actor: &SessionUser,
        organization_id: &str,
        code: &str,
    ) -> Result<PlanPage, AppError>;
    /// Staff: a new customer with its plan, and its first owner invited by mail; answers its id.
    async fn create_customer(&self, actor: &SessionUser, form: NewCustomerForm) -> Result<String, AppError>;
    /// Staff: invite an owner into a customer (the first owner's invitation lapsed, say).
    async fn invite_owner(
        &self,
        actor: &SessionUser,
        organization_id: &str,
        email: &str,
        reason: &str,
    ) -> Result<(), AppError>;
    async fn coupons(&self) -> Result<CouponsPage, AppError>;
    async fn create_coupon(&self, actor: &SessionUser, form: CouponForm) -> Result<CouponsPage, AppError>;
    async fn create_promotion_code(
        &self,
        actor: &SessionUser,
        form: PromotionCodeForm,
    ) -> Result<CouponsPage, AppError>;
    async fn invoices_page(&self, organization_id: &str) -> Result<InvoicesPage, AppError>;
    async fn invoice_detail(&self, organization_id: &str, invoice_id: &str) -> Result<InvoiceDetail, AppError>;
    async fn admin_customer(&self, organization_id: &str) -> Result<AdminCustomer, AppError>;
    async fn issue_credit(&self, actor: &SessionUser, form: CreditForm) -> Result<IssuedCredit, AppError>;
    async fn void_invoice(&self, actor: &SessionUser, invoice_id: &str, reason: &str) -> Result<(), AppError>;
    async fn billing_status(&self, viewer: &SessionUser, organization_id: &str) -> Result<BillingStatus, AppError>;
    async fn payment_method_page(&self, organization_id: &str) -> Result<PaymentMethodPage, AppError>;
    /// Test mode only: attaches one of Stripe's test cards and retries what is owed at once.
    async fn save_test_card(
        &self,
        actor: &SessionUser,
        organization_id: &str,
        card: TestCardForm,
    ) -> Result<PaymentMethodPage, AppError>;
    async fn pay_now(&self, actor: &SessionUser, organization_id: &str) -> Result<PaymentMethodPage, AppError>;
    async fn pay_page(&self, organization_id: &str, invoice_id: &str) -> Result<PayPage, AppError>;
    /// Test mode: the card holder approves or fails the bank's confirmation of a payment.
    async fn confirm_test_payment(
        &self,
        actor: &SessionUser,
        organization_id: &str,
        invoice_id: &str,
        approve: bool,
    ) -> Result<PayPage, AppError>;
    /// Stripe: the address of a hosted page where the customer adds a card.
    async fn start_card_setup(&self, organization_id: &str) -> Result<String, AppError>;
    async fn parked_events(&self) -> Result<Vec<ParkedEvent>, AppError>;
    async fn refund_payment(&self, actor: &SessionUser, form: RefundForm) -> Result<(), AppError>;
    /// Staff: charge what the organization owes now. Answers how many invoices were tried.
    async fn admin_retry_payments(
        &self,
        actor: &SessionUser,
        organization_id: &str,
        reason: &str,
    ) -> Result<usize, AppError>;
    async fn mark_uncollectible(&self, actor: &SessionUser, invoice_id: &str, reason: &str) -> Result<(), AppError>;
    /// Staff: run a stored webhook event again; answers the status it ended in.
    async fn replay_webhook_event(&self, actor: &SessionUser, event_id: &str, reason: &str)
    -> Result<String, AppError>;
}

/// The staff refund form as submitted.
pub struct RefundForm {
    pub payment_id: String,
    pub amount: String,
    pub reason: String,
    pub idempotency_key: String,
}

/// The test-mode card form as submitted.
pub struct TestCardForm {
    pub number: String,
    pub exp_month: String,
    pub exp_year: String,
}

/// A budget as its form sends it: the limit as typed, in the currency or the metric's unit.
pub struct BudgetForm {
    pub scope: String,
    pub measure: String,
    pub limit: String,
    pub thresholds: String,
    pub hard_cap: bool,
}

/// The admin's credit form as submitted.
pub struct CreditForm {
    pub organization_id: String,
    pub amount: String,
    pub reason: String,
    /// A date, or empty for no expiry.
    pub expires: String,
    pub idempotency_key: String,
}

pub type SharedBackend = Arc<dyn PortalBackend>;

/// Who logged in, and the session generation their password was checked in: a password reset
/// starts the next one, and sessions of an earlier one are not honored.
pub struct Authenticated {
    pub user_id: String,
    pub generation: i64,
}

/// The user a session belongs to, and when the session expires unless it is renewed.
pub struct SignedIn {
    pub user: SessionUser,
    pub session_expires_at: i64,
}

/// Sessions expire after a time without use: one used with less than half of that time left is
/// renewed for the whole of it (the session layer saves it and sends its cookie again on the way
/// out). Not on every request, which would be a write each.
pub fn keep_alive(session: &tower_sessions::Session, expires_at_ms: i64) {
    let Some(tower_sessions::Expiry::OnInactivity(idle)) = session.expiry() else { return };
    let now_ms = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |since| i64::try_from(since.as_millis()).unwrap_or(i64::MAX));
    let idle_ms = i64::try_from(idle.whole_milliseconds()).unwrap_or(i64::MAX);
    if expires_at_ms.saturating_sub(now_ms) < idle_ms / 2 {
        session.set_expiry(Some(tower_sessions::Expiry::OnInactivity(idle)));
    }
}

pub const SESSION_USER_KEY: &str = "user_id";
pub const SESSION_GENERATION_KEY: &str = "session_generation";

/// Starts the session of someone who just proved who they are.
pub async fn log_in(authenticated: &Authenticated) -> Result<(), AppError> {
    let session = session().await?;
    // A new id at login, so an id planted before login (session fixation) is worthless.
    session.cycle_id().await.map_err(|_| AppError::Internal)?;
    session.insert(SESSION_USER_KEY, &authenticated.user_id).await.map_err(|_| AppError::Internal)?;
    session.insert(SESSION_GENERATION_KEY, authenticated.generation).await.map_err(|_| AppError::Internal)?;
    Ok(())
}

pub fn backend() -> Result<SharedBackend, AppError> {
    use_context::<SharedBackend>().ok_or(AppError::Internal)
}

pub async fn session() -> Result<tower_sessions::Session, AppError> {
    leptos_axum::extract::<tower_sessions::Session>().await.map_err(|_| AppError::Internal)
}

/// The logged-in user, or `Unauthorized`.
/// The session's user, read once per request: a page's layout and each of its resources ask.
#[derive(Clone, Default)]
pub struct RequestUser(Arc<tokio::sync::OnceCell<SessionUser>>);

pub async fn require_user() -> Result<SessionUser, AppError> {
    let read_user = async {
        let session = session().await?;
        let session_id = session.id().ok_or(AppError::Unauthorized)?;
        let signed_in = backend()?.user_of_session(&session_id.to_string()).await?.ok_or(AppError::Unauthorized)?;
        keep_alive(&session, signed_in.session_expires_at);
        Ok(signed_in.user)
    };
    match use_context::<RequestUser>() {
        // Resources render side by side: the first reads, the others wait for its answer.
        Some(read) => read.0.get_or_try_init(|| read_user).await.cloned(),
        None => read_user.await,
    }
}

tokio::task_local! {
    /// The IANA zone the reader of a server function's answer sees times in.
    static READER_TIME_ZONE: String;
}

/// The zone of the server function running now, if its reader has one; times are UTC otherwise
/// (background jobs, mail, exports).
pub fn reader_time_zone() -> Option<String> {
    READER_TIME_ZONE.try_with(Clone::clone).ok()
}

/// Runs `work` with times shown in `zone`.
pub async fn in_time_zone<F: std::future::Future>(zone: Option<String>, work: F) -> F::Output {
    match zone {
        Some(zone) => READER_TIME_ZONE.scope(zone, work).await,
        None => work.await,
    }
}

/// The cookie the page's script keeps at the browser's zone (`Intl…timeZone`).
pub const BROWSER_ZONE_COOKIE: &str = "tz";

/// The zone `user` reads times in: their choice, else their browser's.
pub fn zone_of(user: &SessionUser) -> Option<String> {
    user.time_zone.clone().or_else(browser_time_zone)
}

/// The browser's zone as its cookie says, when it looks like a zone name.
pub fn browser_time_zone() -> Option<String> {
    let zone = request_cookie(BROWSER_ZONE_COOKIE)?;
    let plausible = !zone.is_empty()
        && zone.len() <= 64
        && zone.bytes().all(|b| b.is_ascii_alphanumeric() || matches!(b, b'/' | b'_' | b'-' | b'+'));
    plausible.then_some(zone)
}

/// The value of the request's cookie `name`.
fn request_cookie(name: &str) -> Option<String> {
    let parts = use_context::<axum::http::request::Parts>()?;
    cookie_value(&parts.headers, name)
}

/// The value of cookie `name` among `headers`' `Cookie` lines.
pub fn cookie_value(headers: &axum::http::HeaderMap, name: &str) -> Option<String> {
    headers
        .get_all(axum::http::header::COOKIE)
        .iter()
        .filter_map(|value| value.to_str().ok())
        .flat_map(|header| header.split(';'))
        .find_map(|pair| pair.trim().strip_prefix(name)?.strip_prefix('='))
        .map(str::to_owned)
}

/// Set for a few seconds on a browser whose server function call may have written: while it lasts
/// its pages read the primary database, so they show what it wrote even before a replica has
/// replayed it. It says nothing secret; it is `Secure` when the session cookie is.
pub const WROTE_COOKIE: &str = "wrote";
/// Far longer than a healthy replica lags.
const WROTE_COOKIE_SET: &str = "wrote=1; Max-Age=10; Path=/; HttpOnly; SameSite=Lax";
const WROTE_COOKIE_SET_SECURE: &str = "wrote=1; Max-Age=10; Path=/; HttpOnly; SameSite=Lax; Secure";

/// Whether the portal's cookies are sent over HTTPS only (`SESSION_COOKIE_SECURE`), given to every
/// request by the server.
#[derive(Debug, Clone, Copy)]
pub struct SecureCookies(pub bool);

tokio::task_local! {
    /// Whether the server function running now may read a replica that lags a moment.
    static READS_MAY_LAG: bool;
}

/// Whether the server function running now only reads, for a browser that has not just written:
/// what it reads may then come from a replica a moment behind the primary.
pub fn reads_may_lag() -> bool {
    READS_MAY_LAG.try_with(|may_lag| *may_lag).unwrap_or(false)
}

/// Runs a server function that only reads, on a replica unless its browser has just written.
pub async fn reading<F: std::future::Future>(work: F) -> F::Output {
    READS_MAY_LAG.scope(request_cookie(WROTE_COOKIE).is_none(), work).await
}

/// Runs `work` on the primary even inside a server function that only reads: a refresh that a
/// rollup notice asked for must see that rollup, which a replica may not have replayed yet.
pub async fn on_primary<F: std::future::Future>(work: F) -> F::Output {
    READS_MAY_LAG.scope(false, work).await
}

/// A server function called over HTTP (a form or a button; a page's render calls them with the
/// page's GET) may have written: the browser's next pages read the primary for a while.
fn note_possible_write() {
    let called_over_http =
        use_context::<axum::http::request::Parts>().is_some_and(|parts| parts.method == axum::http::Method::POST);
    if called_over_http && let Some(response) = use_context::<leptos_axum::ResponseOptions>() {
        let secure = use_context::<SecureCookies>().is_some_and(|secure| secure.0);
        let cookie = if secure { WROTE_COOKIE_SET_SECURE } else { WROTE_COOKIE_SET };
        response.append_header(axum::http::header::SET_COOKIE, axum::http::HeaderValue::from_static(cookie));
    }
}

/// The client's address as the server resolved it (behind trusted proxies, the real client's).
#[derive(Debug, Clone)]
pub struct ClientAddress(pub String);

/// The calling client's address, or empty when the server set none (a test without the layer).
pub async fn client_address() -> String {
    leptos_axum::extract::<axum::Extension<ClientAddress>>().await.map(|address| address.0.0).unwrap_or_default()
}

/// Whom a server function serves.
pub enum Caller<'a> {
    /// Anyone in this organization, whatever their role.
    Member(&'a str),
    /// An owner of this organization.
    Owner(&'a str),
    /// An owner or a billing member of this organization.
    Billing(&'a str),
    /// Staff.
    Staff,
}

/// Loads the session's user and authorizes them as `caller`: another organization's data is
/// "not found", a member asking for an owner's action is "forbidden".
pub async fn authorize(caller: Caller<'_>) -> Result<SessionUser, AppError> {
    let user = require_user().await?;
    match caller {
        Caller::Member(organization_id) => user.role_in(organization_id).map(drop)?,
        Caller::Owner(organization_id) => user.require_owner(organization_id)?,
        Caller::Billing(organization_id) => user.require_billing(organization_id)?,
        Caller::Staff => user.require_staff()?,
    }
    Ok(user)
}

/// The one shape of an authenticated server function: `serve!(caller, |user, backend| { … })`
/// authorizes the session's user as `caller`, runs the block with the user and the backend, with
/// times shown in the user's zone, and lets an error set the HTTP status. A macro, not a function taking an async closure: the
/// closure's future must be `Send`, which async closures cannot promise yet.
///
/// `serve!(reads caller, …)` is a server function that never writes: it does not send its browser
/// to the primary for its next pages, and may itself read a replica ([`reads_may_lag`]).
macro_rules! serve {
    (@authorized $caller:expr, |$user:ident, $backend:pat_param| $body:block) => {
        async {
            let $user = $crate::api::backend::authorize($caller).await?;
            let $backend = $crate::api::backend::backend()?;
            let zone = $crate::api::backend::zone_of(&$user);
            $crate::api::backend::in_time_zone(zone, async { $body }).await
        }
        .await
    };
    (reads $caller:expr, |$user:ident, $backend:pat_param| $body:block) => {
        $crate::api::backend::respond_to_read($crate::api::backend::serve!(@authorized $caller, |$user, $backend| {
            $crate::api::backend::reading(async $body).await
        }))
    };
    ($caller:expr, |$user:ident, $backend:pat_param| $body:block) => {
        $crate::api::backend::respond($crate::api::backend::serve!(@authorized $caller, |$user, $backend| $body))
    };
}
pub(crate) use serve;

/// Every server function that may write ends here, so the HTTP status of an error is set in one
/// place, and its browser reads the primary for a while after.
pub fn respond<T>(result: Result<T, AppError>) -> Result<T, AppError> {
    note_possible_write();
    respond_to_read(result)
}

/// Every server function that only reads ends here.
pub fn respond_to_read<T>(result: Result<T, AppError>) -> Result<T, AppError> {
    if let Err(error) = &result
        && let Some(response) = use_context::<leptos_axum::ResponseOptions>()
    {
        response.set_status(error.http_status());
        if let Some(value) = error.retry_after() {
            response.insert_header(axum::http::header::RETRY_AFTER, value);
        }
    }
    result
}
