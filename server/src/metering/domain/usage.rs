//! Usage events as clients send them, checked one by one: a bad event is rejected with the field
//! and the reason, and never stops the good ones of the same batch.
use std::borrow::Cow;
use std::collections::{BTreeMap, HashMap};

use serde::Serialize;
use serde_json::value::RawValue;
use serde_json::{Map, Number, Value};
use sha2::{Digest, Sha256};
use time::OffsetDateTime;
use time::format_description::well_known::Rfc3339;

use crate::metering::domain::dimensions::{DeclaredDimensions, canonical_dimensions};
use crate::metering::domain::sent::{SentEvent, text};
use crate::shared::numbers::exact_decimal;
use crate::shared::time::parse_day;

pub const MAX_BATCH_EVENTS: usize = 1_000;
pub const MAX_EVENT_ID_LEN: usize = 128;
/// A trillion units per event: far above any real hour of usage, far below i64 overflow when summed.
pub const MAX_QUANTITY: i64 = 1_000_000_000_000;
pub const MAX_FUTURE_MS: i64 = 5 * 60_000;
pub const MAX_PROPERTIES: usize = 16;
pub const MAX_PROPERTY_KEY_LEN: usize = 64;
pub const MAX_PROPERTY_VALUE_LEN: usize = 256;
pub const MINUTE_MS: i64 = 60_000;
pub const HOUR_MS: i64 = 3_600_000;

/// What an event is checked against: the organization's namespaces and the metrics catalog.
pub struct EventRules<'a> {
    /// Both names and ids of the organization's namespaces, each mapped to the id.
    pub namespaces: &'a HashMap<String, String>,
    pub metrics: &'a [String],
    pub dimensions: &'a DeclaredDimensions,
    pub now_ms: i64,
    pub max_age_ms: i64,
    /// The organization's subscription ended here: later usage has no period to be billed in.
    pub ends_at: Option<i64>,
    /// Hours before this belong to finalized periods; once it reaches `ends_at` the final invoice
    /// is issued and no invoice would ever bill more usage.
    pub closed_before: i64,
    /// False until the organization chooses a plan (a new sign-up): no period would bill usage.
    pub subscribed: bool,
    /// The organization subscribed again here: earlier usage belongs to the ended subscription,
    /// whose invoices are final, or to the gap between the two, which no period bills.
    pub starts_at: Option<i64>,
}

/// An event that passed every check, in stored form.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ValidEvent {
    pub event_id: String,
    pub namespace_id: String,
    pub metric: String,
    pub quantity: i64,
    pub occurred_at: i64,
    pub properties: Option<String>,
    /// Canonical (`action_type=activity`), see [`crate::metering::domain::dimensions`].
    pub dimensions: Option<String>,
    /// Equal for two sends of the same event, different when anything but the id differs.
    pub content_hash: String,
}

impl ValidEvent {
    pub fn hour(&self) -> i64 {
        hour_of(self.occurred_at)
    }
}

pub fn hour_of(ms: i64) -> i64 {
    ms.div_euclid(HOUR_MS) * HOUR_MS
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Rejection {
    pub field: Cow<'static, str>,
    pub reason: String,
}

fn reject<T>(field: &'static str, reason: impl Into<String>) -> Result<T, Rejection> {
    Err(Rejection { field: Cow::Borrowed(field), reason: reason.into() })
}

pub fn check_event(raw: &RawValue, rules: &EventRules<'_>) -> Result<ValidEvent, Rejection> {
    // Checked first: serde would also read the fields from an array, in their order.
    if !raw.get().starts_with('{') {
        return reject("event", "must be a JSON object");
    }
    let event: SentEvent = match serde_json::from_str(raw.get()) {
        Ok(event) => event,
        Err(e) => return reject("event", format!("must be a JSON object with each field once: {e}")),
    };
    let event_id = match text(event.id) {
        Some(id) if !id.is_empty() && id.len() <= MAX_EVENT_ID_LEN && !id.chars().any(char::is_control) => {
            id.into_owned()
        }
        Some(_) => return reject("id", format!("must be 1 to {MAX_EVENT_ID_LEN} printable characters")),
        None => return reject("id", "is required: a string that identifies this event"),
    };
    let namespace_id = match text(event.namespace) {
        Some(name) => match rules.namespaces.get(&*name) {
            Some(id) => id.clone(),
            None => return reject("namespace", "unknown namespace"),
        },
        None => return reject("namespace", "is required: the namespace name or id"),
    };
    let metric = match text(event.metric) {
        Some(metric) if rules.metrics.iter().any(|m| *m == *metric) => metric.into_owned(),
        Some(_) => return reject("metric", "unknown metric"),
        None => return reject("metric", "is required"),
    };
    let quantity = match event.quantity.map(|raw| serde_json::from_str::<Number>(raw.get())) {
        Some(Ok(n)) => match n.as_i64() {
            Some(q) if (0..=MAX_QUANTITY).contains(&q) => q,
            Some(q) if q < 0 => return reject("quantity", "must not be negative"),
            Some(_) => return reject("quantity", format!("must be at most {MAX_QUANTITY}")),
            None => return reject("quantity", "must be a whole number in the metric's unit"),
        },
        Some(Err(_)) => return reject("quantity", "must be a whole number in the metric's unit"),
        None => return reject("quantity", "is required: a whole number"),
    };
    let occurred_at = match text(event.timestamp) {
        Some(text) => match OffsetDateTime::parse(&text, &Rfc3339) {
            Ok(t) => (t.unix_timestamp_nanos() / 1_000_000) as i64,
            Err(_) => return reject("timestamp", "must be an RFC 3339 time such as 2026-11-25T09:30:00Z"),
        },
        None => return reject("timestamp", "is required"),
    };
    if occurred_at > rules.now_ms + MAX_FUTURE_MS {
        return reject("timestamp", "timestamp out of range: more than 5 minutes in the future");
    }
    if occurred_at < rules.now_ms - rules.max_age_ms {
        return reject("timestamp", "timestamp out of range: older than the accepted maximum age");
    }
    if !rules.subscribed {
        return reject(
            "organization",
            "has no plan yet: its owner chooses one on the Plan page, then usage is accepted",
        );
    }
    if let Some(starts_at) = rules.starts_at
        && occurred_at < starts_at
    {
        let when = crate::shared::time::display_rfc3339(starts_at);
        return reject(
            "timestamp",
            format!("the current subscription started at {when}; earlier usage is not accepted"),
        );
    }
    if let Some(ends_at) = rules.ends_at {
        let when = crate::shared::time::display_rfc3339(ends_at);
        if rules.closed_before >= ends_at {
            return reject("timestamp", format!("the subscription ended at {when} and its final invoice is issued"));
        }
        if occurred_at >= ends_at {
            return reject("timestamp", format!("the subscription ended at {when}; later usage is not accepted"));
        }
    }
    let properties = match event.properties.map(|raw| serde_json::from_str::<Value>(raw.get())) {
        None => None,
        Some(Ok(Value::Object(map))) => Some(check_properties(&map)?),
        Some(_) => return reject("properties", "must be an object of short strings"),
    };
    let dimensions = match event.dimensions.map(|raw| serde_json::from_str::<BTreeMap<String, &RawValue>>(raw.get())) {
        None => None,
        Some(Ok(given)) => canonical_dimensions(&given, rules.dimensions.get(&metric))
            .map_err(|refusal| Rejection { field: refusal.field, reason: refusal.reason })?,
        Some(Err(_)) => return reject("dimensions", r#"must be an object such as {"action_type": "activity"}"#),
    };
    let content_hash =
        content_hash(&namespace_id, &metric, quantity, occurred_at, properties.as_deref(), dimensions.as_deref());
    Ok(ValidEvent { event_id, namespace_id, metric, quantity, occurred_at, properties, dimensions, content_hash })
}

/// Properties are stored as canonical JSON (keys sorted), so the same map always hashes the same.
fn check_properties(map: &Map<String, Value>) -> Result<String, Rejection> {
    if map.len() > MAX_PROPERTIES {
        return reject("properties", format!("at most {MAX_PROPERTIES} entries"));
    }
    let mut sorted = BTreeMap::new();
    for (key, value) in map {
        if key.is_empty() || key.len() > MAX_PROPERTY_KEY_LEN {
            return reject("properties", format!("keys must be 1 to {MAX_PROPERTY_KEY_LEN} characters"));
        }
        match value {
            Value::String(s) if s.len() <= MAX_PROPERTY_VALUE_LEN => {
                sorted.insert(key.clone(), s.clone());
            }
            _ => {
                return reject(
                    "properties",
                    format!("values must be strings of at most {MAX_PROPERTY_VALUE_LEN} characters"),
                );
            }
        }
    }
    serde_json::to_string(&sorted).map_err(|e| Rejection { field: Cow::Borrowed("properties"), reason: e.to_string() })
}

/// Dimensions come last and only when present, so the hashes stored before events carried any
/// still match a resend.
fn content_hash(
    namespace_id: &str,
    metric: &str,
    quantity: i64,
    occurred_at: i64,
    properties: Option<&str>,
    dimensions: Option<&str>,
) -> String {
    let mut hasher = Sha256::new();
    let fields = [namespace_id, metric, &quantity.to_string(), &occurred_at.to_string(), properties.unwrap_or("")];
    for part in fields.iter().copied().chain(dimensions) {
        hasher.update(part.as_bytes());
        hasher.update([0u8]);
    }
    hex::encode(&hasher.finalize()[..16])
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    const NOW: i64 = 1_795_253_400_000; // 2026-11-21T09:30:00Z

    static DECLARED: std::sync::LazyLock<DeclaredDimensions> = std::sync::LazyLock::new(|| {
        let action_types = ["workflow_start", "activity"].map(String::from).to_vec();
        let actions = std::collections::BTreeMap::from([("action_type".to_owned(), action_types)]);
        HashMap::from([("actions".to_owned(), actions)])
    });

    fn rules_with<'a>(namespaces: &'a HashMap<String, String>, metrics: &'a [String]) -> EventRules<'a> {
        EventRules {
            namespaces,
            metrics,
            dimensions: &DECLARED,
            now_ms: NOW,
            max_age_ms: 35 * 24 * HOUR_MS,
            ends_at: None,
            closed_before: 0,
            subscribed: true,
            starts_at: None,
        }
    }

    fn fixtures() -> (HashMap<String, String>, Vec<String>) {
        let namespaces = HashMap::from([("web".to_owned(), "ns_1".to_owned()), ("ns_1".to_owned(), "ns_1".to_owned())]);
        (namespaces, vec!["actions".to_owned(), "active_storage_gbh".to_owned()])
    }

    #[test]
    fn the_content_hash_is_the_first_half_of_the_sha256_of_the_fields_in_lowercase_hex() {
        // Stored hashes must never change: a resent event is compared with the one stored before.
        // Python: hashlib.sha256(b"ns_1\0actions\0" b"42\0" b"1700000000000\0\0").hexdigest()[:32]
        assert_eq!(
            content_hash("ns_1", "actions", 42, 1_700_000_000_000, None, None),
            "010e166c2aab0e06d1c70b1445c97a2e"
        );
    }

    fn check(event: &Value, rules: &EventRules<'_>) -> Result<ValidEvent, Rejection> {
        check_event(&serde_json::value::to_raw_value(event).unwrap(), rules)
    }

    fn event() -> Value {
        json!({"id": "e1", "namespace": "web", "metric": "actions", "quantity": 5, "timestamp": "2026-11-21T09:10:00Z"})
    }

    fn with(field: &str, value: Value) -> Value {
        let mut e = event();
        e[field] = value;
        e
    }

    #[test]
    fn a_valid_event_is_resolved_to_its_namespace_id_and_hour() {
        let (ns, metrics) = fixtures();
        let valid = check(&event(), &rules_with(&ns, &metrics)).unwrap();
        assert_eq!(valid.namespace_id, "ns_1");
        assert_eq!(valid.quantity, 5);
        assert_eq!(valid.hour(), 1_795_251_600_000);
        let by_id = check(&with("namespace", json!("ns_1")), &rules_with(&ns, &metrics)).unwrap();
        assert_eq!(by_id.content_hash, valid.content_hash, "name and id are the same namespace");
    }

    #[test]
    fn declared_dimensions_are_kept_and_make_a_different_event() {
        let (ns, metrics) = fixtures();
        let rules = rules_with(&ns, &metrics);
        let plain = check(&event(), &rules).unwrap();
        let typed = check(&with("dimensions", json!({"action_type": "activity"})), &rules).unwrap();
        assert_eq!(typed.dimensions.as_deref(), Some("action_type=activity"));
        assert_ne!(typed.content_hash, plain.content_hash, "a resend with other dimensions is a conflict");
        let empty = check(&with("dimensions", json!({})), &rules).unwrap();
        assert_eq!((empty.dimensions, empty.content_hash), (None, plain.content_hash));
        let mut storage_typed = with("metric", json!("active_storage_gbh"));
        storage_typed["dimensions"] = json!({"action_type": "activity"});
        assert_eq!(check(&storage_typed, &rules).unwrap_err().field, "dimensions.action_type");
    }

    #[test]
    fn usage_of_an_organization_without_a_plan_is_refused() {
        let (ns, metrics) = fixtures();
        let unsubscribed = EventRules { subscribed: false, ..rules_with(&ns, &metrics) };
        let refused = check(&event(), &unsubscribed).unwrap_err();
        assert_eq!(refused.field, "organization");
        assert!(refused.reason.contains("Plan page"), "{}", refused.reason);
    }

    #[test]
    fn usage_from_the_end_of_the_subscription_on_and_after_its_final_invoice_is_refused() {
        let (ns, metrics) = fixtures();
        let occurred_at = check(&event(), &rules_with(&ns, &metrics)).unwrap().occurred_at;
        let ended = |ends_at| EventRules { ends_at: Some(ends_at), ..rules_with(&ns, &metrics) };
        assert!(check(&event(), &ended(occurred_at + 1)).is_ok());
        let refused = check(&event(), &ended(occurred_at)).unwrap_err();
        assert_eq!(refused.field, "timestamp");
        assert!(refused.reason.contains("2026-11-21T09:10:00Z"), "{}", refused.reason);
        let invoiced = EventRules { closed_before: occurred_at + 1, ..ended(occurred_at + 1) };
        let refused = check(&event(), &invoiced).unwrap_err();
        assert_eq!(refused.field, "timestamp");
        assert!(refused.reason.contains("final invoice"), "{}", refused.reason);
    }

    #[test]
    fn usage_from_before_a_resubscription_is_refused() {
        let (ns, metrics) = fixtures();
        let occurred_at = check(&event(), &rules_with(&ns, &metrics)).unwrap().occurred_at;
        let restarted = |starts_at| EventRules { starts_at: Some(starts_at), ..rules_with(&ns, &metrics) };
        assert!(check(&event(), &restarted(occurred_at)).is_ok());
        let refused = check(&event(), &restarted(occurred_at + 1)).unwrap_err();
        assert_eq!(refused.field, "timestamp");
        assert!(refused.reason.contains("current subscription started"), "{}", refused.reason);
    }

    #[test]
    fn each_bad_field_is_named() {
        let (ns, metrics) = fixtures();
        let rules = rules_with(&ns, &metrics);
        let cases = [
            (json!("not an object"), "event"),
            // serde reads a struct from an array of its fields in order too: not an event.
            (json!(["e1", "web", "actions", 5, "2026-11-21T09:10:00Z", null, null]), "event"),
            (with("id", json!("")), "id"),
            (with("id", json!(7)), "id"),
            (with("namespace", json!("other-org-ns")), "namespace"),
            (with("metric", json!("cpu")), "metric"),
            (with("quantity", json!(-1)), "quantity"),
            (with("quantity", json!(1.5)), "quantity"),
            (with("quantity", json!(MAX_QUANTITY + 1)), "quantity"),
            (with("quantity", json!("5")), "quantity"),
            (with("timestamp", json!("yesterday")), "timestamp"),
            (with("timestamp", json!("2026-11-21T09:36:00Z")), "timestamp"),
            (with("timestamp", json!("2026-09-01T00:00:00Z")), "timestamp"),
            (with("properties", json!({"k": 1})), "properties"),
            (with("properties", json!([1])), "properties"),
            (with("dimensions", json!("activity")), "dimensions"),
            (with("dimensions", json!({"action_type": "signal"})), "dimensions.action_type"),
            (with("dimensions", json!({"tier": "gold"})), "dimensions.tier"),
        ];
        for (raw, field) in cases {
            assert_eq!(check(&raw, &rules).unwrap_err().field, field, "{raw}");
        }
    }

    #[test]
    fn an_event_with_a_field_twice_is_refused_whole() {
        let (ns, metrics) = fixtures();
        let twice = r#"{"id": "e1", "id": "e2", "namespace": "web", "metric": "actions", "quantity": 5,
            "timestamp": "2026-11-21T09:10:00Z"}"#;
        let refused = check_event(&RawValue::from_string(twice.to_owned()).unwrap(), &rules_with(&ns, &metrics));
        let refused = refused.unwrap_err();
        assert_eq!(refused.field, "event");
        assert!(refused.reason.contains("duplicate field `id`"), "{}", refused.reason);
    }

    #[test]
    fn unknown_namespace_and_metric_say_so() {
        let (ns, metrics) = fixtures();
        let rules = rules_with(&ns, &metrics);
        assert_eq!(check(&with("namespace", json!("x")), &rules).unwrap_err().reason, "unknown namespace");
        assert_eq!(check(&with("metric", json!("x")), &rules).unwrap_err().reason, "unknown metric");
    }

    #[test]
    fn a_timestamp_up_to_five_minutes_ahead_is_accepted() {
        let (ns, metrics) = fixtures();
        assert!(check(&with("timestamp", json!("2026-11-21T09:34:59Z")), &rules_with(&ns, &metrics)).is_ok());
    }

    #[test]
    fn the_content_hash_ignores_the_order_of_properties_but_not_their_values() {
        let (ns, metrics) = fixtures();
        let rules = rules_with(&ns, &metrics);
        let a = check(&with("properties", json!({"a": "1", "b": "2"})), &rules).unwrap();
        let b = check(&with("properties", json!({"b": "2", "a": "1"})), &rules).unwrap();
        let c = check(&with("properties", json!({"a": "1", "b": "3"})), &rules).unwrap();
        assert_eq!(a.content_hash, b.content_hash);
        assert_ne!(a.content_hash, c.content_hash);
        let more = check(&with("quantity", json!(6)), &rules).unwrap();
        assert_ne!(more.content_hash, check(&event(), &rules).unwrap().content_hash);
    }

    #[test]
    fn hours_start_on_the_hour_also_before_1970() {
        assert_eq!(hour_of(HOUR_MS + 1), HOUR_MS);
        assert_eq!(hour_of(-1), -HOUR_MS);
    }
}

/// The spans a usage view shows, each ending with the current hour.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum UsageRange {
    Last24Hours,
    Last7Days,
    BillingPeriod,
}

/// `[from, to)` in whole hours for a usage view, ending with the current hour.
pub fn range_bounds(range: UsageRange, now_ms: i64) -> (i64, i64) {
    let to = hour_of(now_ms) + HOUR_MS;
    let from = match range {
        UsageRange::Last24Hours => to - 24 * HOUR_MS,
        UsageRange::Last7Days => to - 7 * 24 * HOUR_MS,
        // The calendar month in UTC; the Usage page uses the subscription's own period when it has one.
        UsageRange::BillingPeriod => {
            let now =
                OffsetDateTime::from_unix_timestamp(now_ms.div_euclid(1000)).unwrap_or(OffsetDateTime::UNIX_EPOCH);
            let first = now.date().replace_day(1).unwrap_or(now.date()).midnight().assume_utc();
            (first.unix_timestamp_nanos() / 1_000_000) as i64
        }
    };
    (from, to)
}

/// The longest custom span a usage view shows: a quarter, so the chart stays readable.
pub const MAX_CUSTOM_DAYS: i64 = 92;

/// `[from, to)` for the whole UTC days `first` through `last` (`2026-11-01`), ending no later
/// than the current hour; or the field at fault and why.
pub fn custom_bounds(first: &str, last: &str, now_ms: i64) -> Result<(i64, i64), (&'static str, String)> {
    let day = |field: &'static str, text: &str| {
        parse_day(text.trim()).ok_or_else(|| (field, "must be a date such as 2026-11-01".to_owned()))
    };
    let (from, last) = (day("from", first)?, day("to", last)?);
    let now_end = hour_of(now_ms) + HOUR_MS;
    if last < from {
        return Err(("to", "must not be before the first day".to_owned()));
    }
    if from >= now_end {
        return Err(("from", "must not be in the future".to_owned()));
    }
    if (last - from) / (24 * HOUR_MS) >= MAX_CUSTOM_DAYS {
        return Err(("to", format!("must be within {MAX_CUSTOM_DAYS} days of the first day")));
    }
    Ok((from, (last + 24 * HOUR_MS).min(now_end)))
}

/// A quantity in the metric's display unit, as people read it: `1,000` GBh, `1.25` GBh.
pub fn format_quantity(quantity: i64, units_per_display: i64) -> String {
    exact_decimal(quantity, units_per_display)
}

/// A quantity in the metric's display unit for machines (CSV): no separators, every decimal
/// place: `units_per_display` of the stored unit make one.
pub fn export_quantity(quantity: i64, units_per_display: i64) -> String {
    if units_per_display <= 1 {
        return quantity.to_string();
    }
    let digits = units_per_display.ilog10() as usize;
    format!("{}.{:0digits$}", quantity / units_per_display, quantity % units_per_display)
}

#[cfg(test)]
mod view_tests {
    use super::*;

    const NOW: i64 = 1_795_253_400_000; // 2026-11-21T09:30:00Z

    #[test]
    fn ranges_end_with_the_current_hour() {
        assert_eq!(range_bounds(UsageRange::Last24Hours, NOW), (1_795_255_200_000 - 24 * HOUR_MS, 1_795_255_200_000));
        let (from, to) = range_bounds(UsageRange::Last7Days, NOW);
        assert_eq!((to - from) / HOUR_MS, 168);
        assert_eq!(range_bounds(UsageRange::BillingPeriod, NOW).0, 1_793_491_200_000, "2026-11-01T00:00:00Z");
    }

    #[test]
    fn custom_ranges_cover_whole_days_up_to_the_current_hour_and_name_what_is_wrong() {
        let day = 24 * HOUR_MS;
        let nov_1 = 1_793_491_200_000;
        assert_eq!(custom_bounds("2026-11-01", "2026-11-02", NOW), Ok((nov_1, nov_1 + 2 * day)));
        assert_eq!(custom_bounds("2026-11-01", "2026-11-30", NOW), Ok((nov_1, 1_795_255_200_000)), "clipped to now");
        assert_eq!(custom_bounds("2026-11-01", "2026-11-01", NOW).map(|(f, t)| t - f), Ok(day));
        assert_eq!(custom_bounds("2026-11-3", "2026-11-01", NOW).unwrap_err().0, "from");
        assert_eq!(custom_bounds("2026-11-01", "yesterday", NOW).unwrap_err().0, "to");
        assert_eq!(custom_bounds("2026-11-05", "2026-11-01", NOW).unwrap_err().0, "to");
        assert_eq!(custom_bounds("2026-11-22", "2026-11-23", NOW).unwrap_err().0, "from");
        assert!(custom_bounds("2026-08-22", "2026-11-21", NOW).is_ok(), "92 days");
        assert_eq!(custom_bounds("2026-08-21", "2026-11-21", NOW).unwrap_err().0, "to");
    }

    #[test]
    fn quantities_are_shown_in_display_units_without_floats() {
        assert_eq!(export_quantity(1234, 1), "1234");
        assert_eq!(export_quantity(1234, 1000), "1.234");
        assert_eq!(export_quantity(5, 1000), "0.005");
        assert_eq!(export_quantity(1_000_000, 1000), "1000.000");
        assert_eq!(format_quantity(1_842_500, 1), "1,842,500");
        assert_eq!(format_quantity(1_000_000, 1000), "1,000");
    }
}
