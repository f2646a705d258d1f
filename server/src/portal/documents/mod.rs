//! Billing documents as PDFs: an invoice (or credit note) once finalized, and a receipt for each
//! successful payment. Built from the same rows, and formatted by the same functions, as the
//! invoice page, so paper and screen agree; a document's times are always UTC, whoever asks.
pub mod helvetica;
pub mod pdf;

use app::api::backend::in_time_zone;
use app::api::dto::billing::InvoiceDetail;
use app::api::error::AppError;
use async_trait::async_trait;

use crate::accounts::db::billing_details::{BillingDetailsRow, billing_details, invoice_customer};
use crate::accounts::db::organizations::find_organization;
use crate::accounts::domain::billing_details::countries;
use crate::billing::db::invoices;
use crate::billing::domain::invoice::InvoiceStatus;
use crate::error::Error;
use crate::notifications::delivery::Attachments;
use crate::notifications::mail::Attachment;
use crate::payments::db::attempts;
use crate::payments::domain::status::PaymentStatus;
use crate::portal::invoice_pages::invoice_detail;
use crate::shared::money::format_money;
use crate::shared::time::display_ms;
use crate::store::Db;
use pdf::{Document, DocumentLine};

/// Who sells: printed at the top of every document.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Seller {
    pub name: String,
    pub address: Vec<String>,
    pub tax_id: Option<String>,
    pub email: Option<String>,
}

impl Seller {
    fn lines(&self) -> Vec<String> {
        let mut lines = vec![self.name.clone()];
        lines.extend(self.address.iter().cloned());
        lines.extend(self.tax_id.iter().map(|id| format!("Tax id {id}")));
        lines.extend(self.email.iter().cloned());
        lines
    }
}

/// A rendered document and the file name it is offered under.
pub struct PdfFile {
    pub name: String,
    pub bytes: Vec<u8>,
}

/// What one kind of document says beyond the seller, the customer and the lines.
struct Parts<'a> {
    title: &'a str,
    number: String,
    /// The customer as the invoice was issued to them.
    customer: &'a (BillingDetailsRow, String),
    detail: &'a InvoiceDetail,
    facts: Vec<(String, String)>,
    totals: Vec<(String, String)>,
    notes: Vec<String>,
}

pub struct Documents {
    pub db: Db,
    pub seller: Seller,
    /// Where the customer pays online: the invoice page's address starts with it.
    pub public_base_url: String,
}

/// The customer an invoice was issued to: as kept at its finalization, or, for an invoice finalized
/// before details were kept, as they are now.
async fn issued_to(
    conn: &mut sqlx::AnyConnection,
    organization_id: &str,
    invoice_id: &str,
) -> Result<(BillingDetailsRow, String), Error> {
    if let Some(customer) = invoice_customer(conn, invoice_id).await? {
        return Ok(customer);
    }
    let details = billing_details(conn, organization_id).await?.ok_or(AppError::NotFound)?;
    let organization = find_organization(conn, organization_id).await?.ok_or(AppError::NotFound)?;
    Ok((details, organization.name))
}

fn customer_lines(details: &BillingDetailsRow, organization_name: &str) -> Vec<String> {
    let name = if details.legal_name.is_empty() { organization_name } else { &details.legal_name };
    let town = [details.postal_code.as_str(), details.city.as_str()].join(" ").trim().to_owned();
    let country = countries().into_iter().find(|(code, _)| *code == details.country).map(|(_, name)| name.to_owned());
    let tax_id = (!details.tax_id.is_empty()).then(|| format!("Tax id {}", details.tax_id));
    [Some(name.to_owned()), Some(details.address_line1.clone()), Some(details.address_line2.clone()), Some(town)]
        .into_iter()
        .chain([Some(details.region.clone()), country, tax_id, Some(details.billing_email.clone())])
        .flatten()
        .filter(|line| !line.is_empty())
        .collect()
}

fn document_lines(detail: &InvoiceDetail) -> Vec<DocumentLine> {
    detail
        .lines
        .iter()
        .map(|line| DocumentLine {
            description: match &line.tier {
                Some(tier) => format!("{} ({tier})", line.description),
                None => line.description.clone(),
            },
            namespace: line.namespace.clone().unwrap_or_default(),
            quantity: line.quantity.clone(),
            unit_price: line.unit_price.clone().unwrap_or_default(),
            amount: line.amount.clone(),
        })
        .collect()
}

/// `visa` as `Visa`: processors name card brands in lower case.
fn capitalized(word: &str) -> String {
    let mut chars = word.chars();
    chars.next().map(|first| first.to_uppercase().chain(chars).collect()).unwrap_or_default()
}

impl Documents {
    /// The invoice's PDF; a draft has none yet.
    pub async fn invoice_pdf(&self, organization_id: &str, invoice_id: &str) -> Result<PdfFile, Error> {
        in_time_zone(Some("UTC".to_owned()), self.invoice_pdf_in_utc(organization_id, invoice_id)).await
    }

    async fn invoice_pdf_in_utc(&self, organization_id: &str, invoice_id: &str) -> Result<PdfFile, Error> {
        let mut conn = self.db.pool.acquire().await?;
        let invoice = invoices::invoice_of(&mut conn, organization_id, invoice_id).await?.ok_or(AppError::NotFound)?;
        let (Some(number), Some(finalized_at)) = (invoice.number.clone(), invoice.finalized_at) else {
            return Err(AppError::Conflict { field: "invoice".into(), message: "a draft has no PDF yet".into() }.into());
        };
        let customer = issued_to(&mut conn, organization_id, invoice_id).await?;
        drop(conn);
        let detail = invoice_detail(&self.db, organization_id, invoice_id).await?;
        let credit_note = invoice.subtotal_minor < 0;
        let mut facts =
            vec![("Issued".to_owned(), display_ms(finalized_at)), ("Period".to_owned(), detail.summary.period.clone())];
        facts.extend(detail.summary.due.clone().filter(|_| !credit_note).map(|due| ("Due".to_owned(), due.local)));
        if !credit_note {
            facts.push(("Status".to_owned(), detail.summary.status.clone()));
        }
        let mut totals = vec![("Subtotal".to_owned(), detail.subtotal.clone())];
        if invoice.credit_applied_minor != 0 {
            totals.push(("Credit applied".to_owned(), detail.credit_applied.clone()));
        }
        totals.push(("Amount due".to_owned(), detail.summary.amount_due.clone()));
        let page = format!("{}/orgs/{organization_id}/invoices/{invoice_id}", self.public_base_url);
        let notes = match (invoice.status()?, invoice.paid_at) {
            (InvoiceStatus::Void, _) => vec![format!(
                "This invoice was voided: {}. Nothing is owed for it.",
                detail.void_reason.clone().unwrap_or_default()
            )],
            _ if credit_note => vec![format!(
                "This credit note's {} is credit held for your next invoices.",
                format_money(-invoice.subtotal_minor, &invoice.currency)
            )],
            (InvoiceStatus::Uncollectible, _) => {
                vec!["This invoice was written off as uncollectible; its amount is no longer collected.".to_owned()]
            }
            (_, Some(_)) if invoice.amount_due_minor == 0 => vec!["Nothing is owed for this invoice.".to_owned()],
            (_, Some(paid_at)) => vec![format!("Paid in full on {}. Thank you.", display_ms(paid_at))],
            (_, None) => vec![
                format!(
                    "Amount due {} by {}.",
                    detail.summary.amount_due,
                    detail.summary.due.clone().map(|due| due.local).unwrap_or_default()
                ),
                "The card on file is charged automatically. To pay with another card, or to see this invoice online:"
                    .to_owned(),
                page,
            ],
        };
        let title = if credit_note { "Credit note" } else { "Invoice" };
        let parts = Parts { title, number, customer: &customer, detail: &detail, facts, totals, notes };
        Ok(self.render(parts))
    }

    /// The receipt of a successful payment.
    pub async fn receipt_pdf(&self, organization_id: &str, payment_id: &str) -> Result<PdfFile, Error> {
        in_time_zone(Some("UTC".to_owned()), self.receipt_pdf_in_utc(organization_id, payment_id)).await
    }

    async fn receipt_pdf_in_utc(&self, organization_id: &str, payment_id: &str) -> Result<PdfFile, Error> {
        let mut conn = self.db.pool.acquire().await?;
        let payment = attempts::payment(&mut conn, payment_id)
            .await?
            .filter(|p| p.organization_id == organization_id && p.status == PaymentStatus::Succeeded.as_str())
            .ok_or(AppError::NotFound)?;
        let customer = issued_to(&mut conn, organization_id, &payment.invoice_id).await?;
        let card = attempts::profile_of(&mut conn, organization_id)
            .await?
            .filter(|p| p.payment_method_id.as_deref() == Some(payment.payment_method_id.as_str()))
            .and_then(|p| Some(format!("{} ending {}", capitalized(&p.brand?), p.last4?)));
        let paid_at = attempts::succeeded_at(&mut conn, payment_id).await?.unwrap_or(payment.updated_at);
        let credit_applied =
            invoices::invoice(&mut conn, &payment.invoice_id).await?.map_or(0, |i| i.credit_applied_minor);
        drop(conn);
        let detail = invoice_detail(&self.db, organization_id, &payment.invoice_id).await?;
        let invoice_number = detail.summary.number.clone().unwrap_or_else(|| payment.invoice_id.clone());
        let paid = format_money(payment.amount_minor, &payment.currency);
        let mut facts = vec![
            ("Paid on".to_owned(), display_ms(paid_at)),
            ("Invoice".to_owned(), invoice_number.clone()),
            ("Period".to_owned(), detail.summary.period.clone()),
        ];
        facts.extend(card.map(|card| ("Paid with".to_owned(), card)));
        let mut notes = vec![format!("Received {paid} for invoice {invoice_number}. Thank you.")];
        if payment.refunded_minor > 0 {
            notes.push(format!("{} of it was refunded.", format_money(payment.refunded_minor, &payment.currency)));
        }
        let mut totals = vec![("Invoice total".to_owned(), detail.subtotal.clone())];
        if credit_applied != 0 {
            totals.push(("Credit applied".to_owned(), detail.credit_applied.clone()));
        }
        totals.push(("Amount paid".to_owned(), paid));
        let number = format!("{invoice_number}-R{}", payment.attempt);
        let parts = Parts { title: "Receipt", number, customer: &customer, detail: &detail, facts, totals, notes };
        Ok(self.render(parts))
    }

    /// The seller, the customer and the invoice's lines around what differs between documents.
    fn render(&self, parts: Parts<'_>) -> PdfFile {
        let document = Document {
            title: parts.title.to_owned(),
            number: parts.number.clone(),
            seller: self.seller.lines(),
            customer: customer_lines(&parts.customer.0, &parts.customer.1),
            facts: parts.facts,
            lines: document_lines(parts.detail),
            totals: parts.totals,
            notes: parts.notes,
        };
        PdfFile { name: format!("{}.pdf", parts.number), bytes: pdf::render(&document) }
    }
}

/// Mail attachments by reference (`notifications::outbox::invoice_document`, `receipt_document`),
/// rendered when the mail is sent.
#[async_trait]
impl Attachments for Documents {
    async fn attachment(&self, reference: &str) -> Result<Attachment, Error> {
        let file = match reference.split(':').collect::<Vec<_>>().as_slice() {
            ["invoice", organization_id, invoice_id] => {
                let mut conn = self.db.pool.acquire().await?;
                let invoice = invoices::invoice(&mut conn, invoice_id).await?.ok_or(AppError::NotFound)?;
                if invoice.status()? == InvoiceStatus::Void {
                    let message = "the invoice was voided before its mail was sent";
                    return Err(AppError::conflict("invoice", message).into());
                }
                drop(conn);
                self.invoice_pdf(organization_id, invoice_id).await?
            }
            ["receipt", organization_id, payment_id] => self.receipt_pdf(organization_id, payment_id).await?,
            _ => return Err(Error::Corrupt(format!("an attachment reference {reference:?}"))),
        };
        Ok(Attachment { name: file.name, content_type: "application/pdf", bytes: file.bytes })
    }
}
