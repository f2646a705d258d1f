//! Settings, read once from flags and the environment. Invalid values stop the start with a
//! message that names the setting.
use std::fmt;
use std::net::SocketAddr;
use std::str::FromStr;

use std::sync::Arc;
use std::time::Duration;

use clap::{Args, ValueEnum};

use crate::billing::domain::subscription::DowngradeTiming;
use crate::billing::period_rating::BillingRules;
use crate::error::Error;
use crate::metering::domain::quota::Quota;
use crate::metering::domain::usage::HOUR_MS;
use crate::notifications::delivery::Outbox;
use crate::payments::channel::stripe::StripeChannel;
use crate::payments::collection::Collector;
use crate::payments::domain::dunning::DunningPolicy;
use crate::portal::documents::{Documents, Seller};
use crate::store::{Db, Dialect};
use crate::webhooks::targets::TargetPolicy;

#[derive(Debug, Clone, Args)]
pub struct Settings {
    /// `sqlite:<file>` (the embedded default) or `postgres://…`.
    #[arg(long, env = "DATABASE_URL", default_value = "sqlite:data/portal.db", value_parser = parse_database_url)]
    pub database_url: String,
    /// A PostgreSQL streaming replica of that database (`postgres://…`): usage charts, invoice
    /// pages, staff search and the usage API read it; everything else, and a browser's pages
    /// for a few seconds after it wrote, use the primary.
    #[arg(long, env = "DATABASE_READ_URL", value_parser = parse_database_url)]
    pub database_read_url: Option<String>,
    #[arg(long, env = "LISTEN_ADDR", default_value = "127.0.0.1:3000")]
    pub listen_addr: SocketAddr,
    /// The origin browsers use to reach the portal; state-changing requests from any other origin are refused.
    #[arg(long, env = "PUBLIC_BASE_URL", default_value = "http://127.0.0.1:3000", value_parser = parse_base_url)]
    pub public_base_url: String,
    /// Send the session cookie only over HTTPS. Turn on behind TLS.
    #[arg(long, env = "SESSION_COOKIE_SECURE", default_value_t = false, action = clap::ArgAction::Set)]
    pub session_cookie_secure: bool,
    #[arg(long, env = "SESSION_IDLE_MINUTES", default_value_t = 120, value_parser = clap::value_parser!(i64).range(1..=43_200))]
    pub session_idle_minutes: i64,
    #[arg(long, env = "LOGIN_MAX_FAILURES", default_value_t = 10, value_parser = clap::value_parser!(i64).range(1..=1000))]
    pub login_max_failures: i64,
    #[arg(long, env = "LOGIN_FAILURE_WINDOW_MINUTES", default_value_t = 15, value_parser = clap::value_parser!(i64).range(1..=1440))]
    pub login_failure_window_minutes: i64,
    /// Sign-up confirmations and password-reset links mailed to one address within an hour.
    #[arg(long, env = "ACCOUNT_MAILS_PER_HOUR", default_value_t = 5, value_parser = clap::value_parser!(i64).range(1..=1000))]
    pub account_mails_per_hour: i64,
    /// Usage events older than this are rejected at ingestion.
    #[arg(long, env = "USAGE_MAX_AGE_DAYS", default_value_t = 35, value_parser = clap::value_parser!(i64).range(1..=400))]
    pub usage_max_age_days: i64,
    /// Each organization's ingestion rate, in events a second across all instances; 0 for none.
    /// A batch beyond it is answered 429 with `Retry-After`, and nothing of it is stored.
    #[arg(long, env = "INGEST_EVENTS_PER_SECOND", default_value_t = 0, value_parser = clap::value_parser!(i64).range(0..=10_000_000))]
    pub ingest_events_per_second: i64,
    /// How many events an organization may send at once above its rate (at least one full batch,
    /// 1,000 events). Defaults to one second's worth.
    #[arg(long, env = "INGEST_BURST_EVENTS", value_parser = clap::value_parser!(i64).range(1_000..=100_000_000))]
    pub ingest_burst_events: Option<i64>,
    /// How many instances share the database: each enforces its share of the rate (the burst is
    /// not divided, so a full batch always fits).
    #[arg(long, env = "INGEST_INSTANCES", default_value_t = 1, value_parser = clap::value_parser!(i64).range(1..=1000))]
    pub ingest_instances: i64,
    /// How long a draft invoice waits for late usage before it is finalized.
    #[arg(long, env = "INVOICE_GRACE_HOURS", default_value_t = 48, value_parser = clap::value_parser!(i64).range(0..=720))]
    pub invoice_grace_hours: i64,
    /// Days between finalization and the due date.
    #[arg(long, env = "PAYMENT_TERMS_DAYS", default_value_t = 14, value_parser = clap::value_parser!(i64).range(0..=120))]
    pub payment_terms_days: i64,
    /// When a move to a cheaper plan takes effect. Upgrades always take effect at once.
    #[arg(long, env = "DOWNGRADE_TIMING", value_enum, default_value_t = DowngradeTiming::PeriodEnd)]
    pub downgrade_timing: DowngradeTiming,
    /// The largest credit one admin action may grant, in minor units.
    #[arg(long, env = "CREDIT_MAX_MINOR", default_value_t = 1_000_000, value_parser = clap::value_parser!(i64).range(1..=1_000_000_000))]
    pub credit_max_minor: i64,
    /// Addresses of the proxies in front of the portal, comma-separated: only from these is a
    /// `Forwarded` or `X-Forwarded-For` header believed, to key login throttling on the real client.
    #[arg(long, env = "TRUSTED_PROXIES", value_delimiter = ',')]
    pub trusted_proxies: Vec<std::net::IpAddr>,
    /// How often the billing job looks for ended periods, drafts to re-rate and drafts to finalize.
    #[arg(long, env = "BILLING_INTERVAL_SECONDS", default_value_t = 60, value_parser = clap::value_parser!(u64).range(1..=3600))]
    pub billing_interval_seconds: u64,
    /// Days after a failed payment on which it is retried; a failure on the last one suspends.
    #[arg(long, env = "DUNNING_RETRY_DAYS", default_value = "3,7,10", value_parser = parse_retry_days)]
    pub dunning_retry_days: String,
    /// Day after the first failure on which an unpaid subscription is canceled.
    #[arg(long, env = "DUNNING_CANCEL_DAY", default_value_t = 30, value_parser = clap::value_parser!(u32).range(1..=365))]
    pub dunning_cancel_day: u32,
    /// How often the payments job runs due charges and dunning steps and drains the webhook inbox.
    #[arg(long, env = "PAYMENTS_INTERVAL_SECONDS", default_value_t = 2, value_parser = clap::value_parser!(u64).range(1..=3600))]
    pub payments_interval_seconds: u64,
    /// How long the built-in test-mode processor takes to answer a charge (simulated latency).
    #[arg(long, env = "TEST_MODE_CHARGE_LATENCY_MS", default_value_t = 0, value_parser = clap::value_parser!(u64).range(0..=60_000))]
    pub test_mode_charge_latency_ms: u64,
    /// An SMTP relay for customer notifications: `smtp://host:port` (plain),
    /// `smtp://user:pass@host:587?tls=required` (STARTTLS) or `smtps://user:pass@host` (TLS).
    /// Without it they are kept in the mail log staff read.
    #[arg(long, env = "SMTP_URL", hide_env_values = true)]
    pub smtp_url: Option<Secret>,
    #[arg(long, env = "SMTP_FROM", default_value = "billing@localhost")]
    pub smtp_from: String,
    /// Without an SMTP relay, every message is also written to this folder as a `.eml` file: the
    /// inbox of a demo or a development machine (sign-up and password-reset links arrive there).
    #[arg(long, env = "MAIL_LOG_DIR")]
    pub mail_log_dir: Option<std::path::PathBuf>,
    /// Without it the portal uses its built-in test-mode processor.
    #[arg(long, env = "STRIPE_SECRET_KEY", hide_env_values = true)]
    pub stripe_secret_key: Option<Secret>,
    #[arg(long, env = "STRIPE_WEBHOOK_SECRET", hide_env_values = true)]
    pub stripe_webhook_secret: Option<Secret>,
    /// Stripe.js's key (`pk_…`): on an invoice's Pay page the card holder confirms, with their
    /// bank, a payment that needs them.
    #[arg(long, env = "STRIPE_PUBLISHABLE_KEY")]
    pub stripe_publishable_key: Option<String>,
    /// Where the Stripe API is; only a test double is ever anywhere but the default.
    #[arg(long, env = "STRIPE_API_BASE", value_parser = parse_base_url)]
    pub stripe_api_base: Option<String>,
    /// Lets webhook endpoints point at loopback, private and link-local addresses, over plain
    /// http too: for a local test receiver, never on a portal the internet reaches.
    #[arg(long, env = "WEBHOOK_ALLOW_PRIVATE_TARGETS", default_value_t = false, action = clap::ArgAction::Set)]
    pub webhook_allow_private_targets: bool,
    /// A tracing filter such as `info` or `server=debug,sqlx=warn`.
    #[arg(long, env = "LOG_LEVEL", default_value = "info")]
    pub log_level: String,
    #[arg(long, env = "LOG_FORMAT", value_enum, default_value_t = LogFormat::Text)]
    pub log_format: LogFormat,
    /// The seller printed at the top of every invoice, credit note and receipt.
    #[arg(long, env = "SELLER_NAME", default_value = "Durable Cloud Ltd")]
    pub seller_name: String,
    /// The seller's postal address, its lines separated by `;`.
    #[arg(long, env = "SELLER_ADDRESS", default_value = "")]
    pub seller_address: String,
    #[arg(long, env = "SELLER_TAX_ID")]
    pub seller_tax_id: Option<String>,
    /// Where customers write about a bill; printed under the seller's address.
    #[arg(long, env = "SELLER_EMAIL")]
    pub seller_email: Option<String>,
    /// Where the built site (WASM, JS, CSS, public files) lives.
    #[arg(long, env = "LEPTOS_SITE_ROOT", default_value = "target/site")]
    pub site_root: String,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum LogFormat {
    Text,
    Json,
}

/// A secret value: never printed, never serialized.
#[derive(Clone)]
pub struct Secret(String);

impl Secret {
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Secret(**redacted**)")
    }
}

impl FromStr for Secret {
    type Err = String;

    fn from_str(value: &str) -> Result<Self, Self::Err> {
        if value.trim().is_empty() { Err("must not be empty".into()) } else { Ok(Self(value.to_owned())) }
    }
}

fn parse_retry_days(value: &str) -> Result<String, String> {
    DunningPolicy::parse(value, u32::MAX).map(|_| value.to_owned()).map_err(|e| e.to_string())
}

impl Settings {
    pub fn webhook_targets(&self) -> TargetPolicy {
        TargetPolicy { allow_private: self.webhook_allow_private_targets }
    }

    /// The dunning schedule; the two settings are checked against each other here.
    pub fn dunning_policy(&self) -> Result<DunningPolicy, Error> {
        DunningPolicy::parse(&self.dunning_retry_days, self.dunning_cancel_day)
            .map_err(|e| Error::Config(format!("DUNNING_RETRY_DAYS / DUNNING_CANCEL_DAY: {e}")))
    }

    /// This instance's share of each organization's ingestion quota; `None` without one.
    pub fn ingest_quota(&self) -> Option<Quota> {
        Quota::per_instance(self.ingest_events_per_second, self.ingest_burst_events, self.ingest_instances)
    }

    /// How far back usage is still taken (`USAGE_MAX_AGE_DAYS`).
    pub fn late_usage_window_ms(&self) -> i64 {
        self.usage_max_age_days * 24 * HOUR_MS
    }

    pub fn billing_rules(&self) -> BillingRules {
        BillingRules {
            grace_ms: self.invoice_grace_hours * HOUR_MS,
            payment_terms_ms: self.payment_terms_days * 24 * HOUR_MS,
            late_usage_window_ms: self.late_usage_window_ms(),
            downgrade_timing: self.downgrade_timing,
            credit_max_minor: self.credit_max_minor,
        }
    }

    /// Stripe when a secret key is set, otherwise the built-in test-mode processor.
    pub fn collector(&self, db: &Db) -> Result<Collector, Error> {
        let policy = self.dunning_policy()?;
        if let Some(key) = &self.stripe_secret_key {
            let channel = StripeChannel::new(key.expose(), self.stripe_api_base.as_deref())
                .map_err(|e| Error::Config(format!("STRIPE_SECRET_KEY: {e}")))?;
            if self.stripe_webhook_secret.is_none() {
                tracing::warn!("STRIPE_WEBHOOK_SECRET is not set: payment results and card updates will not arrive");
            }
            return Ok(Collector {
                channel: Arc::new(channel),
                channel_name: "stripe",
                test_mode: None,
                policy,
                portal_url: self.public_base_url.clone(),
            });
        }
        let latency = Duration::from_millis(self.test_mode_charge_latency_ms);
        Ok(Collector::test_mode(db, policy, latency, &self.public_base_url))
    }

    pub fn seller(&self) -> Seller {
        let present =
            |value: &Option<String>| value.as_deref().map(str::trim).filter(|v| !v.is_empty()).map(str::to_owned);
        Seller {
            name: self.seller_name.trim().to_owned(),
            address: self
                .seller_address
                .split(';')
                .map(str::trim)
                .filter(|l| !l.is_empty())
                .map(str::to_owned)
                .collect(),
            tax_id: present(&self.seller_tax_id),
            email: present(&self.seller_email),
        }
    }

    /// The invoice, credit-note and receipt PDFs the outbox attaches.
    pub fn documents(&self, db: &Db) -> Arc<Documents> {
        Arc::new(Documents { db: db.clone(), seller: self.seller(), public_base_url: self.public_base_url.clone() })
    }

    pub fn outbox(&self) -> Result<Outbox, Error> {
        let domain = self.public_base_url.split("://").nth(1).unwrap_or("localhost");
        let domain = domain.split(['/', ':']).next().filter(|host| !host.is_empty()).unwrap_or("localhost");
        match (&self.smtp_url, &self.mail_log_dir) {
            (Some(url), _) => {
                Outbox::smtp(url.expose(), &self.smtp_from, domain).map_err(|e| Error::Config(format!("SMTP_URL: {e}")))
            }
            (None, Some(folder)) => Outbox::folder(folder.clone(), &self.smtp_from, domain)
                .map_err(|e| Error::Config(format!("MAIL_LOG_DIR: {e}"))),
            (None, None) => Ok(Outbox::default()),
        }
    }
}

fn parse_database_url(value: &str) -> Result<String, String> {
    Dialect::from_url(value)
        .map(|_| value.to_owned())
        .ok_or_else(|| "must start with sqlite: or postgres://".to_owned())
}

/// `scheme://host[:port]` without a path: the origin browsers send in the `Origin` header.
fn parse_base_url(value: &str) -> Result<String, String> {
    let trimmed = value.trim_end_matches('/');
    let (scheme, rest) = trimmed.split_once("://").ok_or("must look like http://host:port")?;
    if scheme != "http" && scheme != "https" {
        return Err("must start with http:// or https://".into());
    }
    if rest.is_empty() || rest.contains('/') {
        return Err("must be an origin without a path, like https://billing.example.com".into());
    }
    Ok(trimmed.to_owned())
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::Parser;

    #[derive(Parser)]
    struct Cli {
        #[command(flatten)]
        settings: Settings,
    }

    #[test]
    fn each_instance_enforces_its_share_of_the_ingestion_rate_and_a_full_batch_always_fits() {
        let parse = |args: &[&str]| Cli::try_parse_from([&["server"], args].concat()).unwrap().settings.ingest_quota();
        assert_eq!(parse(&[]), None);
        let shared = parse(&["--ingest-events-per-second", "10000", "--ingest-instances", "3"]).unwrap();
        assert_eq!((shared.events_per_second, shared.burst), (3_334, 10_000));
        let slow = parse(&["--ingest-events-per-second", "50"]).unwrap();
        assert_eq!(slow.burst, 1_000, "one batch of 1,000 fits however slow the rate");
        assert!(Cli::try_parse_from(["server", "--ingest-burst-events", "999"]).is_err());
    }

    #[test]
    fn secrets_are_redacted_in_debug_output() {
        let cli = Cli::try_parse_from(["server", "--stripe-secret-key", "sk_test_123"]).unwrap();
        let printed = format!("{:?}", cli.settings);
        assert!(!printed.contains("sk_test_123"));
        assert!(printed.contains("redacted"));
        assert_eq!(cli.settings.stripe_secret_key.unwrap().expose(), "sk_test_123");
    }

    #[test]
    fn invalid_settings_name_the_setting() {
        for args in [
            ["server", "--database-url", "mysql://x"],
            ["server", "--public-base-url", "ftp://x"],
            ["server", "--session-idle-minutes", "0"],
            ["server", "--listen-addr", "nowhere"],
        ] {
            let error = Cli::try_parse_from(args).err().unwrap().to_string();
            assert!(error.contains(args[1]), "{error}");
        }
    }

    #[test]
    fn base_url_is_an_origin() {
        assert_eq!(parse_base_url("https://billing.example.com/").unwrap(), "https://billing.example.com");
        assert!(parse_base_url("https://billing.example.com/portal").is_err());
    }
}
