//! The Content-Security-Policy, written once. Scripts run from our own origin, or inline only
//! with the nonce of the response they came in: leptos puts a fresh one on every inline script it
//! renders (the hydration loader, resolved resources), so nothing injected into a page can run.
//! The server's security-headers middleware sets it, with the nonce read from the page.

/// The policy for a response; `nonce` is the page's, `None` for responses that are not pages.
pub fn content_security_policy(nonce: Option<&str>) -> String {
    let inline_scripts = nonce.map(|nonce| format!(" 'nonce-{nonce}'")).unwrap_or_default();
    format!(
        "default-src 'self'; script-src 'self'{inline_scripts} 'wasm-unsafe-eval'; style-src 'self' 'unsafe-inline'; \
         img-src 'self' data:; connect-src 'self'; frame-ancestors 'none'; base-uri 'self'; form-action 'self'"
    )
}
