//! The metrics and the values their dimensions may take. Only migrations write them, so a process
//! reads them once: every page and every ingested batch read them again before. A metric added by
//! a migration is refused by the instances started before it until they restart.
use std::sync::{Arc, OnceLock};

use sqlx::AnyConnection;

use crate::error::Error;
use crate::metering::db::usage::{MetricRow, read_catalog};
use crate::metering::domain::dimensions::DeclaredDimensions;

pub struct Catalog {
    /// By key.
    pub metrics: Vec<MetricRow>,
    pub keys: Vec<String>,
    pub dimensions: DeclaredDimensions,
}

static CATALOG: OnceLock<Arc<Catalog>> = OnceLock::new();

pub async fn metric_catalog(conn: &mut AnyConnection) -> Result<Arc<Catalog>, Error> {
    if let Some(catalog) = CATALOG.get() {
        return Ok(catalog.clone());
    }
    let (metrics, dimensions) = read_catalog(conn).await?;
    let keys = metrics.iter().map(|m| m.key.clone()).collect();
    Ok(CATALOG.get_or_init(|| Arc::new(Catalog { metrics, keys, dimensions })).clone())
}
