use std::process::ExitCode;

use clap::{Parser, Subcommand};
use server::admin::reconciliation::run_reconciliation;
use server::config::Settings;
use server::demo::{DEMO_LOGINS, seed_demo};
use server::error::Error;
use server::metering::archive::{self, archive_usage};
use server::metering::domain::usage_months::UsageMonth;
use server::payments::db::stripe_events;
use server::payments::processor_checks::run_check_now;
use server::payments::processor_events::process_event;
use server::shared::time::{display_ms, now_ms, parse_rfc3339_or_date};
use server::startup::{Application, shutdown_signal};
use server::store::Db;
use server::telemetry::init_tracing;

/// glibc's allocator spent a quarter of the ingestion CPU in malloc and free, much of it on
/// arena locks between the runtime's threads (perf, `scripts/bench.sh ingest`).
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

/// The billing portal: serve it, migrate its database, or load demo data.
#[derive(Parser)]
#[command(name = "server", version)]
struct Cli {
    #[command(flatten)]
    settings: Settings,
    #[command(subcommand)]
    command: Option<Command>,
}

#[derive(Subcommand)]
enum Command {
    /// Run the portal (the default).
    Serve,
    /// Apply database migrations and exit.
    Migrate,
    /// Load the demo customers and logins (idempotent) and print the logins.
    SeedDemo,
    /// Recompute usage totals from the stored events and compare them with the rollups; exits
    /// non-zero when any differ.
    Reconcile {
        /// Start (RFC 3339, or a date like 2026-11-01); default: the beginning of time.
        #[arg(long)]
        from: Option<String>,
        /// End, exclusive; default: tomorrow.
        #[arg(long)]
        to: Option<String>,
        /// Also read the payment processor's events and charges since the last check: apply
        /// events that never arrived, and list charges our payments do not account for.
        #[arg(long)]
        processor: bool,
    },
    /// Move whole months of usage events, older than late usage can reach, out of the database into
    /// one compressed CSV file each; their hourly rollups stay, and `reconcile` reads the files.
    Archive {
        /// The first month kept (`2026-10` archives September 2026 and every month before it).
        #[arg(long)]
        before: String,
        /// Where the files go (`usage-events-2026-09.csv.zst`); the database records each path.
        #[arg(long, default_value = "data/archive")]
        dir: std::path::PathBuf,
        /// SQLite: give the freed pages back to the file system afterwards (rewrites the file;
        /// everything else waits meanwhile).
        #[arg(long)]
        vacuum: bool,
    },
    /// The Stripe webhook inbox.
    Webhooks {
        #[command(subcommand)]
        command: WebhookCommand,
    },
}

#[derive(Subcommand)]
enum WebhookCommand {
    /// Re-run one stored Stripe event now, whatever its status (e.g. a parked one after a fix).
    Replay { id: String },
    /// List events parked after failing every retry.
    Parked,
}

fn main() -> ExitCode {
    // Before the runtime starts its threads: glibc reads these settings without a lock.
    server::store::c_allocator::return_freed_memory_to_the_system();
    match tokio::runtime::Builder::new_multi_thread().enable_all().build() {
        Ok(runtime) => runtime.block_on(run_cli()),
        Err(error) => {
            eprintln!("error: cannot start the async runtime: {error}");
            ExitCode::FAILURE
        }
    }
}

async fn run_cli() -> ExitCode {
    let cli = Cli::parse();
    if let Err(error) = init_tracing(&cli.settings.log_level, cli.settings.log_format) {
        eprintln!("error: {error}");
        return ExitCode::FAILURE;
    }
    match run(cli).await {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => {
            tracing::error!(%error, "stopped");
            eprintln!("error: {error}");
            ExitCode::FAILURE
        }
    }
}

async fn run(cli: Cli) -> Result<(), Error> {
    let settings = cli.settings;
    match cli.command.unwrap_or(Command::Serve) {
        Command::Serve => {
            let app = Application::build(&settings).await?;
            tracing::info!(address = %settings.listen_addr, port = app.port(), url = %settings.public_base_url, "portal listening");
            app.run_until(shutdown_signal()).await
        }
        Command::Migrate => {
            Db::connect(&settings.database_url).await?.migrate().await?;
            println!("migrations applied to {}", settings.database_url);
            Ok(())
        }
        Command::SeedDemo => {
            let db = Db::connect(&settings.database_url).await?;
            db.migrate().await?;
            let collector = settings.collector(&db)?;
            let outbox = settings.outbox()?.with_attachments(settings.documents(&db));
            let created = seed_demo(&db, Some((&settings.billing_rules(), &collector, &outbox))).await?;
            println!(
                "{}",
                if created {
                    "demo data loaded (Acme Corp, Initech and Vandelay with 40 days of usage and their first invoices; Initech is past due, Vandelay's bank asks to confirm its payment)"
                } else {
                    "demo data already present"
                }
            );
            println!("demo logins:");
            for login in &DEMO_LOGINS {
                println!("  {:<44} {:<20} password: {}", login.who, login.email, login.password);
            }
            Ok(())
        }
        Command::Webhooks { command } => {
            let db = Db::connect(&settings.database_url).await?;
            db.migrate().await?;
            let mut conn = db.pool.acquire().await?;
            match command {
                WebhookCommand::Replay { id } => {
                    if !stripe_events::requeue(&mut conn, &id, db.clock.now_ms()).await? {
                        return Err(Error::Config(format!("no stored event {id}")));
                    }
                    drop(conn);
                    let collector = settings.collector(&db)?;
                    process_event(&db, &collector, &id, db.clock.now_ms()).await?;
                    let summary = stripe_events::event_summary(&mut *db.pool.acquire().await?, &id).await?;
                    if let Some(e) = summary {
                        let error = e.last_error.unwrap_or_default();
                        println!("{} {} {} {error}", e.id, e.event_type, e.status);
                    }
                }
                WebhookCommand::Parked => {
                    for e in stripe_events::parked_events(&mut conn, 1_000).await? {
                        let error = e.last_error.unwrap_or_default();
                        println!(
                            "{} {} attempts={} received={} {error}",
                            e.id,
                            e.event_type,
                            e.attempts,
                            display_ms(e.received_at)
                        );
                    }
                }
            }
            Ok(())
        }
        Command::Archive { before, dir, vacuum } => {
            let before = UsageMonth::parse(&before)
                .ok_or_else(|| Error::Config(format!("--before: {before:?} is not a month like 2026-10")))?;
            let db = Db::connect(&settings.database_url).await?;
            db.migrate().await?;
            let archived = archive_usage(&db, &dir, before, settings.late_usage_window_ms()).await?;
            for month in &archived {
                println!(
                    "{} {} events ({} in all) -> {}",
                    month.month,
                    month.events,
                    month.quantity,
                    month.path.display()
                );
            }
            if archived.is_empty() {
                println!("no events before {} to archive", before.label());
            }
            if vacuum {
                archive::vacuum(&db).await?;
            }
            Ok(())
        }
        Command::Reconcile { from, to, processor } => {
            let from = from.as_deref().map(parse_instant).transpose()?.unwrap_or(i64::MIN / 2);
            let to = to.as_deref().map(parse_instant).transpose()?.unwrap_or(now_ms() + 86_400_000);
            let db = Db::connect(&settings.database_url).await?;
            let rules = settings.billing_rules();
            let mut report = run_reconciliation(&db, &rules, (from, to)).await?;
            if processor {
                let collector = settings.collector(&db)?;
                let check = run_check_now(&db, &collector, db.clock.now_ms()).await?;
                report
                    .mismatches
                    .extend(check.discrepancies.iter().map(|problem| format!("MISMATCH processor {problem}")));
                report.summary.push(format!(
                    "processor: since {}, {} events recovered, {} charges checked, {} discrepancies",
                    display_ms(check.since),
                    check.events_recovered,
                    check.charges_checked,
                    check.discrepancies.len()
                ));
            }
            for line in report.mismatches.iter().chain(&report.summary) {
                println!("{line}");
            }
            let total = report.mismatches.len();
            if total == 0 { Ok(()) } else { Err(Error::Corrupt(format!("{total} reconciliation mismatches"))) }
        }
    }
}

fn parse_instant(text: &str) -> Result<i64, Error> {
    parse_rfc3339_or_date(text).ok_or_else(|| Error::Config(format!("not a time or date: {text:?}")))
}
