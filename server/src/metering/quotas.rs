//! Each organization's ingestion quota in this process, so one customer that floods
//! `POST /v1/usage/events` cannot starve the others' ingestion. Buckets live in memory: an
//! instance enforces its share (`rate / instances`), and a restart starts every bucket full.
use std::collections::HashMap;
use std::sync::Mutex;

use app::api::error::AppError;

use crate::metering::domain::quota::{Bucket, Quota};

#[derive(Debug, Default)]
pub struct IngestQuotas {
    /// `None`: no limit.
    quota: Option<Quota>,
    buckets: Mutex<HashMap<String, Bucket>>,
}

impl IngestQuotas {
    pub fn new(quota: Option<Quota>) -> Self {
        Self { quota, buckets: Mutex::default() }
    }

    /// Refuses at once, before the body is read, when not even one event would fit.
    pub fn admit(&self, organization_id: &str, now_ms: i64) -> Result<(), AppError> {
        let Some(quota) = self.quota else { return Ok(()) };
        let buckets = self.buckets.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
        match buckets.get(organization_id) {
            Some(bucket) => bucket
                .could_take(quota, 1, now_ms)
                .map_err(|retry_after_secs| AppError::RateLimited { retry_after_secs }),
            None => Ok(()),
        }
    }

    /// Takes the batch's events from the organization's bucket, or refuses it with when to retry.
    pub fn take(&self, organization_id: &str, events: usize, now_ms: i64) -> Result<(), AppError> {
        let Some(quota) = self.quota else { return Ok(()) };
        let mut buckets = self.buckets.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
        let bucket = buckets.entry(organization_id.to_owned()).or_insert_with(|| Bucket::full(quota, now_ms));
        let events = i64::try_from(events).unwrap_or(i64::MAX);
        bucket.take(quota, events, now_ms).map_err(|retry_after_secs| AppError::RateLimited { retry_after_secs })
    }
}
