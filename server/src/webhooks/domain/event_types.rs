//! What an endpoint may subscribe to. The names and payload shapes are part of the public API:
//! a new field is added within a version; a change of meaning gets a new `api_version`.
pub const API_VERSION: &str = "2026-12-05";

pub const INVOICE_FINALIZED: &str = "invoice.finalized";
pub const INVOICE_PAID: &str = "invoice.paid";
pub const INVOICE_PAYMENT_FAILED: &str = "invoice.payment_failed";
pub const SUBSCRIPTION_UPDATED: &str = "subscription.updated";
pub const USAGE_THRESHOLD_CROSSED: &str = "usage.threshold_crossed";
pub const NAMESPACE_CAPPED: &str = "namespace.capped";
pub const CREDIT_GRANTED: &str = "credit.granted";

/// Every event type with what it announces, in the order the page lists them.
pub const EVENT_TYPES: [(&str, &str); 7] = [
    (INVOICE_FINALIZED, "An invoice was finalized and is due"),
    (INVOICE_PAID, "An invoice was paid"),
    (INVOICE_PAYMENT_FAILED, "A payment for an invoice failed"),
    (SUBSCRIPTION_UPDATED, "The plan changed, or the subscription was canceled or resumed"),
    (USAGE_THRESHOLD_CROSSED, "Usage crossed a budget's alert threshold"),
    (NAMESPACE_CAPPED, "A namespace reached its hard cap"),
    (CREDIT_GRANTED, "A credit was granted to the account"),
];

/// A selection as a form or the API writes it (`invoice.paid, namespace.capped`), sorted and
/// without repeats; an unknown name is refused by name.
pub fn parse_selection(text: &str) -> Result<Vec<&'static str>, String> {
    let mut chosen = Vec::new();
    for name in text.split([',', ' ', '\n']).map(str::trim).filter(|name| !name.is_empty()) {
        let Some((known, _)) = EVENT_TYPES.iter().find(|(known, _)| *known == name) else {
            let shown: String = name.chars().take(40).collect();
            return Err(format!("\"{shown}\" is not an event type"));
        };
        chosen.push(*known);
    }
    if chosen.is_empty() {
        return Err("choose at least one event type".to_owned());
    }
    chosen.sort_unstable();
    chosen.dedup();
    Ok(chosen)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_selection_is_sorted_without_repeats_and_unknown_names_are_refused() {
        assert_eq!(
            parse_selection("namespace.capped, invoice.paid invoice.paid"),
            Ok(vec![INVOICE_PAID, NAMESPACE_CAPPED])
        );
        assert_eq!(parse_selection("invoice.voided"), Err("\"invoice.voided\" is not an event type".to_owned()));
        assert!(parse_selection(" , ").is_err());
    }
}
