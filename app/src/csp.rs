//! The Content-Security-Policy, written once. Scripts run from our own origin, or inline only
//! with the nonce of the response they came in: leptos puts a fresh one on every inline script it
//! renders (the hydration loader, resolved resources), so nothing injected into a page can run.
//! The server's security-headers middleware sets it, with the nonce read from the page.

/// The policy for a response; `nonce` is the page's, `None` for responses that are not pages.
/// `stripe_js` admits Stripe.js and the bank pages it frames, as Stripe documents them: only an
/// invoice's Pay page, where the card holder confirms a payment with their bank, asks for it.
pub fn content_security_policy(nonce: Option<&str>, stripe_js: bool) -> String {
    let inline_scripts = nonce.map(|nonce| format!(" 'nonce-{nonce}'")).unwrap_or_default();
    let (scripts, frames, connect) = if stripe_js {
        (
            " https://js.stripe.com https://*.js.stripe.com",
            " https://js.stripe.com https://*.js.stripe.com https://hooks.stripe.com",
            " https://api.stripe.com",
        )
    } else {
        ("", "", "")
    };
    format!(
        "default-src 'self'; script-src 'self'{scripts}{inline_scripts} 'wasm-unsafe-eval'; \
         style-src 'self' 'unsafe-inline'; img-src 'self' data:; connect-src 'self'{connect}; frame-src 'self'{frames}; \
         frame-ancestors 'none'; base-uri 'self'; form-action 'self'"
    )
}

/// An invoice's Pay page: `/orgs/:org/invoices/:invoice/pay`.
pub fn is_pay_page(path: &str) -> bool {
    let parts: Vec<&str> = path.trim_matches('/').split('/').collect();
    matches!(parts.as_slice(), ["orgs", _, "invoices", _, "pay"])
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_the_pay_page_admits_stripe_js() {
        assert!(is_pay_page("/orgs/org_1/invoices/in_1/pay"));
        assert!(!is_pay_page("/orgs/org_1/invoices/in_1"));
        assert!(!is_pay_page("/orgs/org_1/invoices/in_1/pay/more"));
        assert!(!is_pay_page("/orgs/org_1/payment"));
        assert!(
            content_security_policy(Some("n"), true)
                .contains("script-src 'self' https://js.stripe.com https://*.js.stripe.com 'nonce-n'")
        );
        assert!(!content_security_policy(Some("n"), false).contains("stripe"));
    }
}
