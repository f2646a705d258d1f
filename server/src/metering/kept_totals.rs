//! Hourly totals as this process last read them for the same question, kept until a rollup notice
//! says the organization's rollups changed (`store::rollup_derived`). A page that draws a month of
//! hours reads thousands of rows; reading them once per change instead of once per page is what
//! keeps the usage page and the dashboard's cards fast under many readers.
use std::sync::Arc;

use sqlx::AnyConnection;

use crate::error::Error;
use crate::metering::db::usage::{HourTotal, hourly_totals};
use crate::store::Db;

/// What a kept read answered: the question with its answer.
struct Kept {
    metric: String,
    span: (i64, i64),
    totals: Arc<Vec<HourTotal>>,
}

/// [`hourly_totals`] of `metric` in `[span.0, span.1)`. `slot` names the reader (one question
/// is kept per reader and organization: the one asked last).
pub async fn kept_hourly_totals(
    db: &Db,
    conn: &mut AnyConnection,
    organization_id: &str,
    metric: &str,
    span: (i64, i64),
    slot: &'static str,
) -> Result<Arc<Vec<HourTotal>>, Error> {
    let read_at = db.rollup_derived.generation(organization_id);
    if let Some(kept) = db.rollup_derived.get::<Kept>(organization_id, slot) {
        if kept.metric == metric && kept.span == span {
            return Ok(kept.totals.clone());
        }
    }
    let totals = Arc::new(hourly_totals(conn, organization_id, metric, span.0, span.1).await?);
    let kept = Kept { metric: metric.to_owned(), span, totals: totals.clone() };
    db.keep_derived(organization_id, slot, read_at, Arc::new(kept));
    Ok(totals)
}
