//! Sending one notification with lettre: through an SMTP relay (plain, STARTTLS or TLS and login as
//! the relay's URL says), or, without one, into a folder as `<notification id>.eml` files (the
//! mail log a demo or a developer reads). A MIME message with `Date`, a `Message-ID` made from the
//! notification's id (so a message sent again is recognisably the same one) and UTF-8 headers.
use std::path::PathBuf;

use lettre::message::header::{self, ContentType};
use lettre::message::{Attachment as MailAttachment, Mailbox, Mailboxes, Message, MultiPart, SinglePart};
use lettre::transport::smtp::AsyncSmtpTransport;
use lettre::{AsyncTransport, Tokio1Executor};

/// Why a message was not handed over, and whether trying again can help.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum MailFailure {
    /// A 5xx reply or an address no relay accepts: only a person can fix it.
    Permanent(String),
    /// A 4xx reply, a timeout or a relay that cannot be reached: try again later.
    Transient(String),
}

enum Transport {
    Smtp(AsyncSmtpTransport<Tokio1Executor>),
    Folder(PathBuf),
}

pub struct Mailer {
    transport: Transport,
    from: Mailbox,
    /// The right-hand side of every `Message-ID`.
    domain: String,
}

/// A file sent with a notice.
pub struct Attachment {
    pub name: String,
    pub content_type: &'static str,
    pub bytes: Vec<u8>,
}

pub struct OutgoingMail<'a> {
    pub id: &'a str,
    pub to: &'a str,
    pub subject: &'a str,
    pub body: &'a str,
    pub attachment: Option<&'a Attachment>,
}

impl Mailer {
    /// `smtp://host:port` (plain), `smtp://user:pass@host:587?tls=required` (STARTTLS) or
    /// `smtps://user:pass@host` (TLS). The error never repeats the URL, which may hold a password.
    pub fn new(url: &str, from: &str, domain: &str) -> Result<Self, String> {
        let transport = AsyncSmtpTransport::<Tokio1Executor>::from_url(url)
            .map_err(|_| {
                "must look like smtp://host:port, smtp://user:pass@host:587?tls=required or smtps://…".to_owned()
            })?
            .build();
        Self::with(Transport::Smtp(transport), from, domain)
    }

    /// Writes each message into `folder` instead of sending it.
    pub fn folder(folder: PathBuf, from: &str, domain: &str) -> Result<Self, String> {
        std::fs::create_dir_all(&folder).map_err(|e| format!("cannot create {}: {e}", folder.display()))?;
        Self::with(Transport::Folder(folder), from, domain)
    }

    fn with(transport: Transport, from: &str, domain: &str) -> Result<Self, String> {
        let from = from.parse().map_err(|e| format!("the sender address is not valid: {e}"))?;
        Ok(Self { transport, from, domain: domain.to_owned() })
    }

    /// How a delivered message went out, as the mail log records it.
    pub fn delivery(&self) -> &'static str {
        match self.transport {
            Transport::Smtp(_) => "smtp",
            Transport::Folder(_) => "mail-log",
        }
    }

    pub async fn send(&self, mail: &OutgoingMail<'_>) -> Result<(), MailFailure> {
        // Billing notices go to the billing email and the billing contacts, listed with commas
        // (addresses are plain, checked when stored, so a comma only ever separates two).
        let to = mail
            .to
            .split(',')
            .map(|address| address.trim().parse::<Mailbox>())
            .collect::<Result<Mailboxes, _>>()
            .map_err(|e| MailFailure::Permanent(format!("the address {:?} is not valid: {e}", mail.to)))?;
        let builder = Message::builder()
            .from(self.from.clone())
            .mailbox(header::To::from(to))
            .subject(mail.subject)
            .date_now()
            .message_id(Some(format!("<{}@{}>", mail.id, self.domain)));
        let text = SinglePart::builder().header(ContentType::TEXT_PLAIN).body(mail.body.to_owned());
        let built = match mail.attachment {
            None => builder.singlepart(text),
            Some(file) => {
                let content_type = ContentType::parse(file.content_type)
                    .map_err(|e| MailFailure::Permanent(format!("the attachment's type is not valid: {e}")))?;
                let part = MailAttachment::new(file.name.clone()).body(file.bytes.clone(), content_type);
                builder.multipart(MultiPart::mixed().singlepart(text).singlepart(part))
            }
        };
        let message = built.map_err(|e| MailFailure::Permanent(format!("the message cannot be built: {e}")))?;
        let transport = match &self.transport {
            Transport::Smtp(transport) => transport,
            Transport::Folder(folder) => {
                let file = folder.join(format!("{}.eml", mail.id));
                return tokio::fs::write(&file, message.formatted())
                    .await
                    .map_err(|e| MailFailure::Transient(format!("cannot write {}: {e}", file.display())));
            }
        };
        transport.send(message).await.map(|_| ()).map_err(|error| {
            if error.is_permanent() {
                MailFailure::Permanent(error.to_string())
            } else {
                MailFailure::Transient(error.to_string())
            }
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn relay_urls_are_checked_without_repeating_them() {
        for good in ["smtp://127.0.0.1:2525", "smtp://u:p@mail.internal:587?tls=required", "smtps://u:p@mail.example"] {
            assert!(Mailer::new(good, "billing@portal.test", "portal.test").is_ok(), "{good}");
        }
        let bad = Mailer::new("http://u:secret@x", "billing@portal.test", "portal.test").err().unwrap();
        assert!(!bad.contains("secret"), "{bad}");
        assert!(Mailer::new("smtp://x:25", "not an address", "portal.test").is_err());
    }
}
