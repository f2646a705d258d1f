//! Each organization's ingestion quota in this process, so one customer that floods
//! `POST /v1/usage/events` cannot starve the others' ingestion. Buckets live in memory: an
//! instance enforces its share (`rate / instances`), and a restart starts every bucket full.
//! Staff may set an organization's own rate, which replaces the portal's for it.
use std::collections::HashMap;
use std::sync::Mutex;

use app::api::error::AppError;

use crate::metering::domain::quota::{Bucket, Quota};

#[derive(Debug, Default)]
pub struct IngestQuotas {
    /// `None`: no limit.
    default: Option<Quota>,
    instances: i64,
    buckets: Mutex<HashMap<String, Bucket>>,
}

impl IngestQuotas {
    pub fn new(default: Option<Quota>, instances: i64) -> Self {
        Self { default, instances, buckets: Mutex::default() }
    }

    /// The organization's own rate (events a second, 0 for none) when staff set one, else the
    /// portal's.
    fn quota(&self, own_rate: Option<i64>) -> Option<Quota> {
        match own_rate {
            Some(rate) => Quota::per_instance(rate, None, self.instances),
            None => self.default,
        }
    }

    /// Refuses at once, before the body is read, when not even one event would fit.
    pub fn admit(&self, organization_id: &str, own_rate: Option<i64>, now_ms: i64) -> Result<(), AppError> {
        let Some(quota) = self.quota(own_rate) else { return Ok(()) };
        let buckets = self.buckets.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
        match buckets.get(organization_id) {
            Some(bucket) => bucket
                .could_take(quota, 1, now_ms)
                .map_err(|retry_after_secs| AppError::RateLimited { retry_after_secs }),
            None => Ok(()),
        }
    }

    /// Takes the batch's events from the organization's bucket, or refuses it with when to retry.
    pub fn take(
        &self,
        organization_id: &str,
        own_rate: Option<i64>,
        events: usize,
        now_ms: i64,
    ) -> Result<(), AppError> {
        let Some(quota) = self.quota(own_rate) else { return Ok(()) };
        let mut buckets = self.buckets.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
        let bucket = buckets.entry(organization_id.to_owned()).or_insert_with(|| Bucket::full(quota, now_ms));
        let events = i64::try_from(events).unwrap_or(i64::MAX);
        bucket.take(quota, events, now_ms).map_err(|retry_after_secs| AppError::RateLimited { retry_after_secs })
    }
}
