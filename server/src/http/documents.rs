//! Billing documents as downloads: an invoice's PDF and a payment's receipt, for the
//! organization's members and for staff.
use app::api::dto::SessionUser;
use app::api::error::AppError;
use axum::Router;
use axum::extract::{Path, State};
use axum::http::header;
use axum::response::IntoResponse;
use axum::routing::get;

use super::AppState;
use super::session_auth::LoggedIn;
use crate::portal::documents::PdfFile;

pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/orgs/{org}/invoices/{invoice}/pdf", get(invoice_pdf))
        .route("/orgs/{org}/payments/{payment}/receipt", get(receipt_pdf))
}

fn may_read(user: &SessionUser, organization_id: &str) -> Result<(), AppError> {
    if user.is_staff {
        return Ok(());
    }
    user.role_in(organization_id).map(|_| ())
}

fn download(file: PdfFile) -> impl IntoResponse {
    let disposition = format!("attachment; filename=\"{}\"", file.name);
    (
        [
            (header::CONTENT_TYPE, "application/pdf".to_owned()),
            (header::CONTENT_DISPOSITION, disposition),
            (header::CACHE_CONTROL, "private, no-store".to_owned()),
        ],
        file.bytes,
    )
}

async fn invoice_pdf(
    LoggedIn(user): LoggedIn,
    State(state): State<AppState>,
    Path((organization_id, invoice_id)): Path<(String, String)>,
) -> Result<impl IntoResponse, AppError> {
    may_read(&user, &organization_id)?;
    Ok(download(state.documents.invoice_pdf(&organization_id, &invoice_id).await?))
}

async fn receipt_pdf(
    LoggedIn(user): LoggedIn,
    State(state): State<AppState>,
    Path((organization_id, payment_id)): Path<(String, String)>,
) -> Result<impl IntoResponse, AppError> {
    may_read(&user, &organization_id)?;
    Ok(download(state.documents.receipt_pdf(&organization_id, &payment_id).await?))
}
