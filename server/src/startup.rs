//! Builds the application from settings: pool, migrations, router, listener. Binding happens
//! here, so tests can ask for port 0 and read the real port back.
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use app::api::backend::SharedBackend;
use leptos::prelude::LeptosOptions;
use tokio::net::TcpListener;
use tokio::sync::watch;

use crate::accounts::db::sessions::DbSessionStore;
use crate::accounts::login::LoginThrottle;
use crate::backend::Backend;
use crate::billing::invoicing::{CycleReport, run_billing_cycle};
use crate::billing::period_rating::BillingRules;
use crate::billing::subscriptions::{backfill_periods, ensure_catalog};
use crate::config::Settings;
use crate::error::Error;
use crate::http::client_address::TrustedProxies;
use crate::http::{AppState, SessionSettings, guard::AllowedOrigin, router};
use crate::jobs::payments::run_payments_job;
use crate::jobs::rollup::{Metering, relay_rollup_notices, run_rollup_worker};
use crate::jobs::rollup_lag::run_lag_sampler;
use crate::jobs::webhooks::run_webhook_job;
use crate::metering::catalog::metric_catalog;
use crate::metering::partitions::keep_partitions_ready;
use crate::metering::quotas::IngestQuotas;
use crate::notifications::delivery::Outbox;
use crate::onboarding::mail_throttle::MailThrottle;
use crate::payments::collection::Collector;
use crate::shared::time::{Clock, now_ms};
use crate::store;
use crate::store::Db;
use crate::webhooks::delivery::Sender;

pub struct Application {
    listener: TcpListener,
    router: axum::Router,
    db: Db,
    metering: Arc<Metering>,
    billing: BillingJob,
    collector: Arc<Collector>,
    outbox: Outbox,
    payments_interval: Duration,
    webhooks: Sender,
    /// For PostgreSQL's LISTEN, which needs a connection of its own.
    database_url: String,
    late_usage_window_ms: i64,
}

struct BillingJob {
    rules: BillingRules,
    interval: Duration,
}

impl Application {
    pub async fn build(settings: &Settings) -> Result<Self, Error> {
        let db = Db::connect_with_replica(&settings.database_url, settings.database_read_url.as_deref()).await?;
        db.migrate().await?;
        ensure_catalog(&db).await?;
        // Read once per process, here on the primary: a replica may not have replayed the migration
        // that added a metric yet.
        metric_catalog(&mut *db.pool.acquire().await?).await?;
        // Events whose month has no partition wait in the default one; the housekeeping tries again.
        if let Err(error) = keep_partitions_ready(&db, settings.late_usage_window_ms()).await {
            tracing::warn!(%error, "making usage event partitions failed");
        }
        let backfilled = backfill_periods(&db).await?;
        if backfilled > 0 {
            tracing::info!(
                subscriptions = backfilled,
                "billing periods set for subscriptions made before they were stored"
            );
        }
        let listener = TcpListener::bind(settings.listen_addr)
            .await
            .map_err(Error::io(format!("binding {}", settings.listen_addr)))?;
        let address = listener.local_addr().map_err(Error::io("reading the bound address"))?;
        let leptos_options = LeptosOptions::builder()
            .output_name("portal")
            .site_root(settings.site_root.as_str())
            .site_pkg_dir("pkg")
            .site_addr(address)
            .build();
        let login_throttle = LoginThrottle {
            max_failures: settings.login_max_failures,
            window_ms: settings.login_failure_window_minutes * 60_000,
        };
        let metering = Metering::new(&db, settings.late_usage_window_ms());
        let billing_rules = settings.billing_rules();
        let collector = Arc::new(settings.collector(&db)?);
        let backend: SharedBackend = Arc::new(Backend {
            db: db.clone(),
            login_throttle,
            billing: billing_rules,
            collector: collector.clone(),
            public_base_url: settings.public_base_url.clone(),
            mail_throttle: MailThrottle { max_mails: settings.account_mails_per_hour, window_ms: 3_600_000 },
            stripe_publishable_key: settings.stripe_publishable_key.clone(),
            webhook_targets: settings.webhook_targets(),
        });
        let documents = settings.documents(&db);
        let state = AppState {
            db: db.clone(),
            backend,
            documents: documents.clone(),
            leptos_options,
            origin: Arc::new(AllowedOrigin(settings.public_base_url.clone())),
            trusted_proxies: Arc::new(TrustedProxies(settings.trusted_proxies.clone())),
            metering: metering.clone(),
            ingest_quotas: Arc::new(IngestQuotas::new(settings.ingest_quota(), settings.ingest_instances)),
            stripe_webhook_secret: settings.stripe_webhook_secret.clone().map(Arc::new),
        };
        let sessions = SessionSettings {
            cookie_secure: settings.session_cookie_secure,
            idle_minutes: settings.session_idle_minutes,
        };
        let billing =
            BillingJob { rules: billing_rules, interval: Duration::from_secs(settings.billing_interval_seconds) };
        Ok(Self {
            listener,
            router: router(state, sessions),
            db,
            metering,
            billing,
            collector,
            outbox: settings.outbox()?.with_attachments(documents),
            payments_interval: Duration::from_secs(settings.payments_interval_seconds),
            webhooks: Sender::new(settings.webhook_targets())?,
            database_url: settings.database_url.clone(),
            late_usage_window_ms: settings.late_usage_window_ms(),
        })
    }

    /// The clock billing and metering run at; tests set it to travel through billing periods.
    pub fn clock(&self) -> Clock {
        self.db.clock.clone()
    }

    pub fn port(&self) -> u16 {
        self.listener.local_addr().map(|a| a.port()).unwrap_or_default()
    }

    /// Serves until `shutdown` resolves, then stops accepting, lets in-flight requests finish and
    /// stops the background workers.
    pub async fn run_until(self, shutdown: impl Future<Output = ()> + Send + 'static) -> Result<(), Error> {
        let (stop_workers, workers_stopped) = watch::channel(false);
        let housekeeping =
            tokio::spawn(housekeeping(self.db.clone(), self.late_usage_window_ms, workers_stopped.clone()));
        let rollups = tokio::spawn(run_rollup_worker(self.db.clone(), self.metering.clone(), workers_stopped.clone()));
        let lag_sampler = tokio::spawn(run_lag_sampler(self.db.clone(), workers_stopped.clone()));
        let notices = (self.db.dialect == store::Dialect::Postgres).then(|| {
            let relay = relay_rollup_notices(self.database_url, self.metering.clone(), workers_stopped.clone());
            tokio::spawn(relay)
        });
        let webhooks = tokio::spawn(run_webhook_job(
            self.db.clone(),
            self.webhooks,
            self.metering.rolled_up.subscribe(),
            workers_stopped.clone(),
        ));
        let billing = tokio::spawn(run_billing_job(self.db.clone(), self.billing, workers_stopped.clone()));
        let payments = tokio::spawn(run_payments_job(
            self.db.clone(),
            self.collector,
            self.outbox,
            self.payments_interval,
            workers_stopped,
        ));
        let service = self.router.into_make_service_with_connect_info::<SocketAddr>();
        let served = axum::serve(self.listener, service).with_graceful_shutdown(shutdown).await;
        let _ = stop_workers.send(true);
        housekeeping.await?;
        rollups.await?;
        lag_sampler.await?;
        if let Some(notices) = notices {
            notices.await?;
        }
        billing.await?;
        payments.await?;
        webhooks.await?;
        served.map_err(Error::io("serving HTTP"))
    }
}

/// Removes expired sessions, old login failures, old promotion code misses, old ingestion
/// commits and old rollup lag samples every few minutes.
async fn housekeeping(db: Db, late_usage_window_ms: i64, mut stop: watch::Receiver<bool>) {
    let store = DbSessionStore::new(db.pool.clone());
    loop {
        let now = now_ms();
        if let Err(error) = store.delete_expired(now).await {
            tracing::warn!(%error, "deleting expired sessions failed");
        }
        if let Ok(mut conn) = db.pool.acquire().await
            && let Err(error) =
                crate::accounts::db::login_failures::delete_login_failures_before(&mut conn, now - 24 * 3_600_000).await
        {
            tracing::warn!(%error, "deleting old login failures failed");
        }
        if let Ok(mut conn) = db.pool.acquire().await
            && let Err(error) = crate::billing::db::coupons::delete_misses_before(&mut conn, now - 24 * 3_600_000).await
        {
            tracing::warn!(%error, "deleting old promotion code misses failed");
        }
        if let Ok(mut conn) = db.pool.acquire().await
            && let Err(error) =
                crate::metering::db::ingest_commits::prune_ingest_commits(&mut conn, db.clock.now_ms()).await
        {
            tracing::warn!(%error, "pruning ingestion commits failed");
        }
        if let Ok(mut conn) = db.pool.acquire().await
            && let Err(error) = crate::metering::db::rollup_lag::prune_lag_samples(&mut conn, db.clock.now_ms()).await
        {
            tracing::warn!(%error, "pruning rollup lag samples failed");
        }
        if let Err(error) = keep_partitions_ready(&db, late_usage_window_ms).await {
            tracing::warn!(%error, "making usage event partitions failed");
        }
        tokio::select! {
            _ = tokio::time::sleep(Duration::from_secs(300)) => {}
            _ = stop.changed() => return,
        }
    }
}

/// Runs the billing cycle on a timer. Its work lives in rows (period ends, drafts, credits), so a
/// crash loses nothing: the next cycle after a restart finds the same work.
/// The first cycle runs at start, so work a crash interrupted resumes at once.
#[tracing::instrument(skip_all)]
async fn run_billing_job(db: Db, job: BillingJob, mut stop: watch::Receiver<bool>) {
    loop {
        match run_billing_cycle(&db, &job.rules, db.clock.now_ms()).await {
            Ok(report) if report != CycleReport::default() => tracing::info!(?report, "billing cycle"),
            Ok(_) => {}
            Err(error) => tracing::warn!(%error, "billing cycle failed"),
        }
        tokio::select! {
            _ = tokio::time::sleep(job.interval) => {}
            _ = stop.changed() => return,
        }
    }
}

/// Resolves on SIGINT or SIGTERM.
pub async fn shutdown_signal() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let terminate = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut signal) => {
                signal.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let terminate = std::future::pending::<()>();
    tokio::select! {
        _ = ctrl_c => {},
        _ = terminate => {},
    }
    tracing::info!("shutting down: finishing in-flight requests");
}
