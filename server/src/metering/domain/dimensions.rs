//! Dimensions of a metric (`action_type` of `actions`): declared with their values, carried by
//! an event as `{"action_type": "activity"}`, stored in one canonical text
//! (`action_type=activity`, keys sorted, joined by `&`) and summed per canonical text beside the
//! metric's totals. Pure: declarations are read and totals stored elsewhere.
use std::borrow::Cow;
use std::collections::{BTreeMap, HashMap};

use serde_json::value::RawValue;

use crate::metering::domain::sent::text;

/// metric → dimension → its declared values, in the order pages list them.
pub type DeclaredDimensions = HashMap<String, BTreeMap<String, Vec<String>>>;

/// The value an event without the dimension is counted under when a total is broken down.
pub const UNSPECIFIED: &str = "unspecified";

/// Why an event's dimensions were refused: the field (`dimensions` or `dimensions.<key>`) and why.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DimensionRefusal {
    pub field: Cow<'static, str>,
    pub reason: String,
}

/// The event's `dimensions` object (key → value as sent, keys sorted) checked against its metric's
/// declarations: the canonical text, or `None` for an empty object. Every key must be declared for
/// the metric and every value one of the key's declared values, which bounds how many totals an
/// hour keeps.
pub fn canonical_dimensions(
    given: &BTreeMap<String, &RawValue>,
    declared: Option<&BTreeMap<String, Vec<String>>>,
) -> Result<Option<String>, DimensionRefusal> {
    let mut canonical = String::new();
    for (key, value) in given {
        let field = || Cow::Owned(format!("dimensions.{}", printable(key)));
        let Some(values) = declared.and_then(|declared| declared.get(key)) else {
            let known: Vec<&str> = declared.into_iter().flat_map(|d| d.keys().map(String::as_str)).collect();
            let reason = match known.as_slice() {
                [] => "this metric declares no dimensions".to_owned(),
                known => format!("not a dimension of this metric; it has {}", known.join(", ")),
            };
            return Err(DimensionRefusal { field: field(), reason });
        };
        match text(Some(value)) {
            Some(text) if values.iter().any(|v| *v == *text) => {
                if !canonical.is_empty() {
                    canonical.push('&');
                }
                canonical.push_str(key);
                canonical.push('=');
                canonical.push_str(&text);
            }
            _ => {
                let reason = format!("must be one of {}", values.join(", "));
                return Err(DimensionRefusal { field: field(), reason });
            }
        }
    }
    Ok((!canonical.is_empty()).then_some(canonical))
}

/// A key as it may be echoed in a field name: short, without control characters.
fn printable(key: &str) -> String {
    key.chars().filter(|c| !c.is_control()).take(64).collect()
}

/// The value of `dimension` in a canonical text, if it has one.
pub fn value_of<'a>(canonical: &'a str, dimension: &str) -> Option<&'a str> {
    canonical.split('&').find_map(|pair| pair.split_once('=').filter(|(key, _)| *key == dimension).map(|(_, v)| v))
}

/// A key or value as people read it: `workflow_start` → "Workflow start".
pub fn label_of(key: &str) -> String {
    let words = key.replace('_', " ");
    let mut chars = words.chars();
    chars.next().map(|first| first.to_uppercase().chain(chars).collect()).unwrap_or_default()
}

/// Totals per canonical text, as a rollup part keeps them. Checked: a sum beyond 64 bits is
/// refused rather than wrapped.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct DimensionTotals(BTreeMap<String, i64>);

/// Why totals could not be added: a sum beyond 64 bits (the hour cannot be summed, like any
/// other), or a stored text that is not totals.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TotalsError {
    BeyondRange,
    Unreadable,
}

impl DimensionTotals {
    /// Adds a group's total; a group without dimensions is not kept (it is the rest of the total).
    pub fn add(&mut self, dimensions: Option<&str>, total: i64) -> Result<(), TotalsError> {
        if let Some(dimensions) = dimensions {
            let sum = self.0.entry(dimensions.to_owned()).or_insert(0);
            *sum = sum.checked_add(total).ok_or(TotalsError::BeyondRange)?;
        }
        Ok(())
    }

    /// Adds every total of a stored text (see [`Self::to_stored`]).
    pub fn add_stored(&mut self, stored: Option<&str>) -> Result<(), TotalsError> {
        let Some(stored) = stored else { return Ok(()) };
        let totals: BTreeMap<String, i64> = serde_json::from_str(stored).map_err(|_| TotalsError::Unreadable)?;
        for (dimensions, total) in totals {
            self.add(Some(&dimensions), total)?;
        }
        Ok(())
    }

    /// JSON text for the part's `dimension_totals`; `None` when no event carried dimensions.
    pub fn to_stored(&self) -> Option<String> {
        (!self.0.is_empty()).then(|| serde_json::to_string(&self.0).expect("a map of numbers serializes"))
    }

    pub fn iter(&self) -> impl Iterator<Item = (&str, i64)> {
        self.0.iter().map(|(dimensions, total)| (dimensions.as_str(), *total))
    }
}

/// Totals per canonical text (`hourly`) and the total they are part of → totals per value of
/// `dimension`, the rest under [`UNSPECIFIED`]: they always add up to `total`. `None` on overflow.
pub fn break_down<'a>(
    total: i64,
    hourly: impl IntoIterator<Item = (&'a str, i64)>,
    dimension: &str,
) -> Option<BTreeMap<&'a str, i64>> {
    let mut values: BTreeMap<&'a str, i64> = BTreeMap::new();
    let mut rest = total;
    for (canonical, quantity) in hourly {
        if let Some(value) = value_of(canonical, dimension) {
            let sum = values.entry(value).or_insert(0);
            *sum = sum.checked_add(quantity)?;
            rest = rest.checked_sub(quantity)?;
        }
    }
    if rest != 0 {
        values.insert(UNSPECIFIED, rest);
    }
    Some(values)
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;
    use serde_json::json;

    fn declared() -> BTreeMap<String, Vec<String>> {
        let values = ["workflow_start", "activity", "signal"].map(String::from).to_vec();
        BTreeMap::from([("action_type".to_owned(), values), ("region".to_owned(), vec!["eu".to_owned()])])
    }

    fn check_against(
        given: serde_json::Value,
        declared: Option<&BTreeMap<String, Vec<String>>>,
    ) -> Result<Option<String>, DimensionRefusal> {
        let sent = given.to_string();
        canonical_dimensions(&serde_json::from_str(&sent).unwrap(), declared)
    }

    fn check(given: serde_json::Value) -> Result<Option<String>, DimensionRefusal> {
        check_against(given, Some(&declared()))
    }

    #[test]
    fn declared_values_are_kept_in_one_canonical_text_whatever_the_key_order() {
        assert_eq!(check(json!({"action_type": "activity"})).unwrap().as_deref(), Some("action_type=activity"));
        let both = check(json!({"region": "eu", "action_type": "signal"})).unwrap();
        assert_eq!(both.as_deref(), Some("action_type=signal&region=eu"));
        assert_eq!(check(json!({})).unwrap(), None, "an empty object is no dimensions");
        let escaped = canonical_dimensions(
            &serde_json::from_str(r#"{"action_type": "activit\u0079"}"#).unwrap(),
            Some(&declared()),
        );
        assert_eq!(
            escaped.unwrap().as_deref(),
            Some("action_type=activity"),
            "a value is read as JSON, escapes and all"
        );
    }

    #[test]
    fn an_undeclared_key_or_value_is_refused_naming_the_key() {
        let unknown = check(json!({"colour": "red"})).unwrap_err();
        assert_eq!(unknown.field, "dimensions.colour");
        assert!(unknown.reason.contains("action_type, region"), "{}", unknown.reason);
        let beyond = check(json!({"action_type": "payment"})).unwrap_err();
        assert_eq!(beyond.field, "dimensions.action_type");
        assert_eq!(beyond.reason, "must be one of workflow_start, activity, signal");
        assert_eq!(check(json!({"action_type": 3})).unwrap_err().field, "dimensions.action_type");
        let none = check_against(json!({"action_type": "activity"}), None).unwrap_err();
        assert_eq!(none.reason, "this metric declares no dimensions");
        let noisy = check(json!({"a\u{7}b": "x"})).unwrap_err();
        assert_eq!(noisy.field, "dimensions.ab", "a key is echoed without control characters");
    }

    #[test]
    fn keys_and_values_read_as_words() {
        assert_eq!(label_of("action_type"), "Action type");
        assert_eq!(label_of("workflow_start"), "Workflow start");
        assert_eq!(label_of(UNSPECIFIED), "Unspecified");
        assert_eq!(label_of(""), "");
    }

    #[test]
    fn a_value_is_found_in_its_canonical_text() {
        assert_eq!(value_of("action_type=signal&region=eu", "region"), Some("eu"));
        assert_eq!(value_of("action_type=signal&region=eu", "action_type"), Some("signal"));
        assert_eq!(value_of("region=eu", "action_type"), None);
    }

    #[test]
    fn stored_totals_add_up_and_refuse_what_is_not_theirs() {
        let mut totals = DimensionTotals::default();
        totals.add(Some("action_type=signal"), 2).unwrap();
        totals.add(None, 40).unwrap();
        assert_eq!(totals.to_stored().as_deref(), Some(r#"{"action_type=signal":2}"#));
        let mut merged = DimensionTotals::default();
        merged.add_stored(totals.to_stored().as_deref()).unwrap();
        merged.add_stored(Some(r#"{"action_type=signal":3,"action_type=activity":1}"#)).unwrap();
        merged.add_stored(None).unwrap();
        assert_eq!(merged.iter().collect::<Vec<_>>(), [("action_type=activity", 1), ("action_type=signal", 5)]);
        assert_eq!(merged.add_stored(Some("[1]")), Err(TotalsError::Unreadable));
        assert_eq!(DimensionTotals::default().to_stored(), None);
        let mut full = DimensionTotals::default();
        full.add(Some("a=b"), i64::MAX).unwrap();
        assert_eq!(full.add(Some("a=b"), 1), Err(TotalsError::BeyondRange));
        assert_eq!(full.add_stored(Some(r#"{"a=b":1}"#)), Err(TotalsError::BeyondRange));
    }

    #[test]
    fn a_breakdown_puts_usage_without_the_dimension_under_unspecified() {
        let hourly = [("action_type=signal&region=eu", 3), ("action_type=activity", 4), ("region=eu", 5)];
        let values = break_down(20, hourly, "action_type").unwrap();
        assert_eq!(values.into_iter().collect::<Vec<_>>(), [("activity", 4), ("signal", 3), (UNSPECIFIED, 13)]);
        let all_typed = break_down(7, [("action_type=activity", 7)], "action_type").unwrap();
        assert_eq!(all_typed.len(), 1, "nothing unspecified is left out");
        assert_eq!(break_down(1, [("a=b", i64::MIN)], "a"), None);
    }

    proptest! {
        #[test]
        fn a_breakdown_always_adds_up_to_the_total(
            groups in proptest::collection::vec((0usize..4, 0i64..1_000_000), 0..40),
            untyped in 0i64..1_000_000,
        ) {
            let names = ["action_type=activity", "action_type=signal", "region=eu", "action_type=query&region=eu"];
            let hourly: Vec<(&str, i64)> = groups.iter().map(|&(n, q)| (names[n], q)).collect();
            let total = untyped + hourly.iter().map(|(_, q)| q).sum::<i64>();
            let values = break_down(total, hourly, "action_type").unwrap();
            prop_assert_eq!(values.values().sum::<i64>(), total);
        }
    }
}
