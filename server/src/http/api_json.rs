//! A JSON body extractor whose every failure is an `AppError` naming what was wrong.
use app::api::error::AppError;
use axum::extract::rejection::JsonRejection;
use axum::extract::{FromRequest, Request};
use axum::http::StatusCode;
use serde::de::DeserializeOwned;

use super::DEFAULT_BODY_LIMIT;

pub struct ApiJson<T>(pub T);

impl<S: Send + Sync, T: DeserializeOwned> FromRequest<S> for ApiJson<T> {
    type Rejection = AppError;

    async fn from_request(request: Request, state: &S) -> Result<Self, Self::Rejection> {
        match axum::Json::<T>::from_request(request, state).await {
            Ok(axum::Json(value)) => Ok(Self(value)),
            Err(rejection) => Err(describe(rejection)),
        }
    }
}

fn describe(rejection: JsonRejection) -> AppError {
    if rejection.status() == StatusCode::PAYLOAD_TOO_LARGE {
        return AppError::PayloadTooLarge { limit: format!("{DEFAULT_BODY_LIMIT} bytes") };
    }
    match rejection {
        JsonRejection::JsonDataError(error) => {
            let detail = error.body_text();
            // A named field is well-formed JSON with a wrong value; anything else (a cut-off
            // body, say) could not be read at all.
            match field_in(&detail) {
                Some(field) => AppError::invalid(field, detail.clone()),
                None => AppError::malformed("body", detail),
            }
        }
        JsonRejection::MissingJsonContentType(_) => {
            AppError::malformed("content-type", "send Content-Type: application/json")
        }
        other => AppError::malformed("body", other.body_text()),
    }
}

/// serde names the offending field in backticks: "missing field `name`", "unknown field `x`".
fn field_in(detail: &str) -> Option<&str> {
    let start = detail.find('`')? + 1;
    let len = detail[start..].find('`')?;
    Some(&detail[start..start + len])
}

#[cfg(test)]
mod tests {
    use super::field_in;

    #[test]
    fn serde_messages_name_their_field() {
        assert_eq!(field_in("Failed to deserialize: missing field `name` at line 1 column 2"), Some("name"));
        assert_eq!(field_in("expected value at line 1 column 1"), None);
    }
}
