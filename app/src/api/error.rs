//! The one error type of the portal: server functions return it, JSON APIs render it,
//! and `status_code` is the single mapping from an error to an HTTP status.
use leptos::server_fn::codec::JsonEncoding;
use leptos::server_fn::error::{FromServerFnError, ServerFnErrorErr};
use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, thiserror::Error)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum AppError {
    #[error("please log in")]
    Unauthorized,
    /// One message for an unknown email and a wrong password, so neither can be probed.
    #[error("email or password is wrong")]
    WrongCredentials,
    #[error("you are not allowed to do this")]
    Forbidden,
    #[error("not found")]
    NotFound,
    #[error("{field}: {message}")]
    Invalid { field: String, message: String },
    #[error("{field}: {message}")]
    Conflict { field: String, message: String },
    /// A body that cannot be read at all (not JSON, wrong shape).
    #[error("{field}: {message}")]
    Malformed { field: String, message: String },
    #[error("request is larger than the limit of {limit}")]
    PayloadTooLarge { limit: String },
    #[error("too many attempts; try again in {retry_after_secs} s")]
    RateLimited { retry_after_secs: u64 },
    #[error("cross-site request refused")]
    CrossSite,
    /// The cause is logged on the server; the browser only learns that something failed.
    #[error("internal error")]
    Internal,
    /// Transport failures between the browser and a server function (network, encoding, arguments
    /// that do not decode). A struct variant: the internally tagged encoding cannot carry a bare
    /// string, and failing to encode an error would take the whole response down.
    #[error("request failed: {message}")]
    Transport { message: String },
}

impl AppError {
    pub fn invalid(field: &str, message: impl Into<String>) -> Self {
        Self::Invalid { field: field.to_owned(), message: message.into() }
    }

    pub fn malformed(field: &str, message: impl Into<String>) -> Self {
        Self::Malformed { field: field.to_owned(), message: message.into() }
    }

    pub fn conflict(field: &str, message: impl Into<String>) -> Self {
        Self::Conflict { field: field.to_owned(), message: message.into() }
    }

    pub fn status_code(&self) -> u16 {
        match self {
            Self::Unauthorized | Self::WrongCredentials => 401,
            Self::Forbidden | Self::CrossSite => 403,
            Self::NotFound => 404,
            Self::Conflict { .. } => 409,
            Self::PayloadTooLarge { .. } => 413,
            Self::Invalid { .. } => 422,
            Self::RateLimited { .. } => 429,
            Self::Transport { .. } | Self::Malformed { .. } => 400,
            Self::Internal => 500,
        }
    }

    /// The form field this error belongs to, for inline messages.
    pub fn field(&self) -> Option<&str> {
        match self {
            Self::Invalid { field, .. } | Self::Conflict { field, .. } | Self::Malformed { field, .. } => Some(field),
            _ => None,
        }
    }

    /// The message a person reads next to a field or at the top of a form.
    pub fn message(&self) -> String {
        match self {
            Self::Invalid { message, .. } | Self::Conflict { message, .. } | Self::Malformed { message, .. } => {
                message.clone()
            }
            other => other.to_string(),
        }
    }
}

impl FromServerFnError for AppError {
    type Encoder = JsonEncoding;

    fn from_server_fn_error(value: ServerFnErrorErr) -> Self {
        Self::Transport { message: value.to_string() }
    }
}

#[cfg(feature = "ssr")]
pub use http::{ErrorBody, ErrorDetail};

#[cfg(feature = "ssr")]
mod http {
    use super::AppError;
    use axum::http::{HeaderValue, StatusCode, header};
    use axum::response::{IntoResponse, Response};

    impl AppError {
        pub fn http_status(&self) -> StatusCode {
            StatusCode::from_u16(self.status_code()).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR)
        }

        pub fn retry_after(&self) -> Option<HeaderValue> {
            match self {
                Self::RateLimited { retry_after_secs } => HeaderValue::from_str(&retry_after_secs.to_string()).ok(),
                _ => None,
            }
        }
    }

    /// JSON APIs answer `{"error": {"kind": …, "field": …, "message": …}}`.
    impl IntoResponse for AppError {
        fn into_response(self) -> Response {
            let body = axum::Json(serde_json_body(&self));
            let mut response = (self.http_status(), body).into_response();
            if let Some(value) = self.retry_after() {
                response.headers_mut().insert(header::RETRY_AFTER, value);
            }
            response
        }
    }

    fn serde_json_body(error: &AppError) -> ErrorBody {
        ErrorBody {
            error: ErrorDetail {
                kind: error.kind(),
                field: error.field().map(str::to_owned),
                message: error.message(),
            },
        }
    }

    /// What every JSON API answers with a refusal.
    #[derive(serde::Serialize, utoipa::ToSchema)]
    pub struct ErrorBody {
        pub error: ErrorDetail,
    }

    #[derive(serde::Serialize, utoipa::ToSchema)]
    pub struct ErrorDetail {
        /// `unauthorized`, `forbidden`, `not_found`, `invalid`, `conflict`, `malformed`,
        /// `payload_too_large`, `rate_limited`, …
        #[schema(value_type = String)]
        pub kind: &'static str,
        /// The field refused, for `invalid`, `conflict` and `malformed`: `limit`, `budgets[1].limit`.
        #[serde(skip_serializing_if = "Option::is_none")]
        pub field: Option<String>,
        pub message: String,
    }

    impl AppError {
        fn kind(&self) -> &'static str {
            match self {
                Self::Unauthorized => "unauthorized",
                Self::WrongCredentials => "wrong_credentials",
                Self::Forbidden => "forbidden",
                Self::NotFound => "not_found",
                Self::Invalid { .. } => "invalid",
                Self::Conflict { .. } => "conflict",
                Self::Malformed { .. } => "malformed",
                Self::PayloadTooLarge { .. } => "payload_too_large",
                Self::RateLimited { .. } => "rate_limited",
                Self::CrossSite => "cross_site",
                Self::Internal => "internal",
                Self::Transport { .. } => "bad_request",
            }
        }
    }
}
