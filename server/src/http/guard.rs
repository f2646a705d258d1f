//! Cross-site request refusal and security headers, for every route.
use std::sync::{Arc, LazyLock};

use app::api::error::AppError;
use app::csp::{content_security_policy, is_pay_page};
use axum::body::Body;
use axum::extract::{Request, State};
use axum::http::{HeaderValue, Method, StatusCode, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use futures_util::StreamExt;

/// The portal's public origin, e.g. `https://billing.example.com`.
#[derive(Debug)]
pub struct AllowedOrigin(pub String);

/// Paths authenticated by a bearer key or a signature, never by the session cookie, so a
/// cross-site form cannot ride on them.
fn is_cookieless(path: &str) -> bool {
    path.starts_with("/v1/") || path.starts_with("/stripe/")
}

/// A state change that a browser sends from another site is refused, whatever it targets.
pub async fn refuse_cross_site(State(origin): State<Arc<AllowedOrigin>>, request: Request, next: Next) -> Response {
    let safe = matches!(*request.method(), Method::GET | Method::HEAD | Method::OPTIONS);
    if safe || is_cookieless(request.uri().path()) {
        return next.run(request).await;
    }
    let headers = request.headers();
    let foreign_origin = headers.get(header::ORIGIN).is_some_and(|o| o.as_bytes() != origin.0.as_bytes());
    let cross_site_fetch = headers.get("sec-fetch-site").is_some_and(|v| v == "cross-site");
    if foreign_origin || cross_site_fetch {
        tracing::warn!(path = %request.uri().path(), "cross-site request refused");
        return AppError::CrossSite.into_response();
    }
    next.run(request).await
}

/// Built once: every response that is not a page (ingestion batches among them) carries it.
static NOT_A_PAGE_POLICY: LazyLock<HeaderValue> = LazyLock::new(|| {
    HeaderValue::from_str(&content_security_policy(None, false)).expect("the policy is a valid header value")
});

pub async fn security_headers(request: Request, next: Next) -> Response {
    let stripe_js = is_pay_page(request.uri().path());
    let mut response = with_page_headers(next.run(request).await, stripe_js).await;
    let headers = response.headers_mut();
    headers.insert(header::X_CONTENT_TYPE_OPTIONS, HeaderValue::from_static("nosniff"));
    headers.insert(header::X_FRAME_OPTIONS, HeaderValue::from_static("DENY"));
    headers.insert(header::REFERRER_POLICY, HeaderValue::from_static("same-origin"));
    response
}

/// A page's policy admits its inline scripts by the nonce leptos wrote on them, read from the
/// document itself: its head, with the hydration scripts, comes in the first chunk. (Set through
/// leptos' response options instead, the header went missing on some browser loads, and the page
/// never hydrated.) Everything else gets the policy without a nonce. Pages are also never stored.
async fn with_page_headers(response: Response, stripe_js: bool) -> Response {
    let is_page = response
        .headers()
        .get(header::CONTENT_TYPE)
        .and_then(|value| value.to_str().ok())
        .is_some_and(|value| value.starts_with("text/html"));
    if !is_page {
        let mut response = response;
        response.headers_mut().insert(header::CONTENT_SECURITY_POLICY, NOT_A_PAGE_POLICY.clone());
        return response;
    }
    let (mut parts, body) = response.into_parts();
    let mut chunks = body.into_data_stream();
    let first = chunks.next().await;
    let nonce = first.as_ref().and_then(|chunk| chunk.as_ref().ok()).and_then(|html| script_nonce(html));
    let policy = HeaderValue::from_str(&content_security_policy(nonce.as_deref(), stripe_js))
        .unwrap_or_else(|_| NOT_A_PAGE_POLICY.clone());
    parts.headers.insert(header::CONTENT_SECURITY_POLICY, policy);
    // A page holds one person's data and a nonce meant for this response alone: kept by the
    // browser, Back after logging out would show it again without asking the server.
    parts.headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    Response::from_parts(parts, Body::from_stream(futures_util::stream::iter(first).chain(chunks)))
}

/// The first `nonce="…"` of a document: leptos' hydration scripts in its head, before any content.
fn script_nonce(html: &[u8]) -> Option<String> {
    const ATTRIBUTE: &[u8] = b"nonce=\"";
    let start = html.windows(ATTRIBUTE.len()).position(|window| window == ATTRIBUTE)? + ATTRIBUTE.len();
    let length = html[start..].iter().position(|&b| b == b'"')?;
    let nonce = &html[start..start + length];
    let well_formed = nonce.iter().all(|b| b.is_ascii_alphanumeric() || b"-_+/=".contains(b));
    // Only ASCII passed the check above, so the bytes are text.
    well_formed.then(|| String::from_utf8_lossy(nonce).into_owned())
}

/// Server functions that fail before their body runs (arguments that do not decode) are answered
/// by the framework with 500. Their body is still one of our errors, so the status is put right
/// here from the error itself: the same mapping as everywhere else.
pub async fn error_status_from_body(request: Request, next: Next) -> Response {
    let response = next.run(request).await;
    if response.status() != StatusCode::INTERNAL_SERVER_ERROR {
        return response;
    }
    let (mut parts, body) = response.into_parts();
    let Ok(bytes) = axum::body::to_bytes(body, 64 * 1024).await else {
        return (StatusCode::INTERNAL_SERVER_ERROR, "internal error").into_response();
    };
    if let Ok(error) = serde_json::from_slice::<AppError>(&bytes) {
        parts.status = error.http_status();
    }
    Response::from_parts(parts, axum::body::Body::from(bytes))
}

#[cfg(test)]
mod tests {
    use super::script_nonce;

    #[test]
    fn the_nonce_is_the_first_one_written_and_only_a_well_formed_one() {
        let head = "<head><script nonce=\"a9_Z-+/=\">go()</script><script nonce=\"second\"></script>";
        assert_eq!(script_nonce(head.as_bytes()).as_deref(), Some("a9_Z-+/="));
        assert_eq!(script_nonce("<p>é</p><script nonce=\"x\">".as_bytes()).as_deref(), Some("x"));
        assert_eq!(script_nonce(b"<script nonce=\"a b\">"), None);
        assert_eq!(script_nonce(b"<script nonce=\"\xff\">"), None);
        assert_eq!(script_nonce(b"<script nonce=\"unterminated"), None);
        assert_eq!(script_nonce(b"<script>"), None);
    }
}
