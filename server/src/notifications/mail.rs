//! Sending one plain-text message to an SMTP relay (a local MTA or a relay on a private network;
//! no TLS or authentication), enough for customer notifications.
use std::time::Duration;

use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};
use tokio::net::TcpStream;

const TIMEOUT: Duration = Duration::from_secs(20);

#[derive(Debug, thiserror::Error)]
pub enum MailError {
    #[error("SMTP connection: {0}")]
    Io(#[from] std::io::Error),
    #[error("SMTP server answered {0:?} to {1}")]
    Refused(String, &'static str),
    #[error("SMTP server did not answer within {0:?}")]
    Timeout(Duration),
}

pub struct Message<'a> {
    pub from: &'a str,
    pub to: &'a str,
    pub subject: &'a str,
    pub body: &'a str,
}

/// `host:port` of the relay, from an `smtp://host:port` URL.
pub fn relay_address(url: &str) -> Result<String, String> {
    let rest = url.strip_prefix("smtp://").ok_or("must look like smtp://host:port")?;
    let address = rest.trim_end_matches('/');
    if address.is_empty() || address.contains('/') || address.contains('@') {
        return Err("must look like smtp://host:port (no user, no path)".into());
    }
    Ok(if address.contains(':') { address.to_owned() } else { format!("{address}:25") })
}

pub async fn send(relay: &str, message: &Message<'_>) -> Result<(), MailError> {
    tokio::time::timeout(TIMEOUT, conversation(relay, message)).await.map_err(|_| MailError::Timeout(TIMEOUT))?
}

async fn conversation(relay: &str, message: &Message<'_>) -> Result<(), MailError> {
    let stream = TcpStream::connect(relay).await?;
    let (read, mut write) = stream.into_split();
    let mut read = BufReader::new(read);
    expect(&mut read, "220", "the greeting").await?;
    let steps: [(String, &str, &'static str); 4] = [
        ("EHLO billing-portal\r\n".into(), "250", "EHLO"),
        (format!("MAIL FROM:<{}>\r\n", header_safe(message.from)), "250", "MAIL FROM"),
        (format!("RCPT TO:<{}>\r\n", header_safe(message.to)), "250", "RCPT TO"),
        ("DATA\r\n".into(), "354", "DATA"),
    ];
    for (command, code, name) in steps {
        write.write_all(command.as_bytes()).await?;
        expect(&mut read, code, name).await?;
    }
    write.write_all(content(message).as_bytes()).await?;
    expect(&mut read, "250", "the message").await?;
    write.write_all(b"QUIT\r\n").await?;
    Ok(())
}

/// Reads one (possibly multi-line) reply and checks its code.
async fn expect(
    read: &mut BufReader<tokio::net::tcp::OwnedReadHalf>,
    code: &str,
    step: &'static str,
) -> Result<(), MailError> {
    loop {
        let mut line = String::new();
        if read.read_line(&mut line).await? == 0 {
            return Err(MailError::Refused("connection closed".into(), step));
        }
        if !line.starts_with(code) {
            return Err(MailError::Refused(line.trim_end().to_owned(), step));
        }
        // `250-…` continues, `250 …` ends the reply.
        if line.as_bytes().get(3) != Some(&b'-') {
            return Ok(());
        }
    }
}

/// Header values never carry line breaks, so nothing can be injected into the headers.
fn header_safe(value: &str) -> String {
    value.chars().filter(|c| !matches!(c, '\r' | '\n')).collect()
}

/// Headers, the body with CRLF line ends and leading dots doubled, and the end-of-data line.
fn content(message: &Message<'_>) -> String {
    let mut out = format!(
        "From: {}\r\nTo: {}\r\nSubject: {}\r\nContent-Type: text/plain; charset=utf-8\r\n\r\n",
        header_safe(message.from),
        header_safe(message.to),
        header_safe(message.subject)
    );
    for line in message.body.lines() {
        if line.starts_with('.') {
            out.push('.');
        }
        out.push_str(line);
        out.push_str("\r\n");
    }
    out.push_str(".\r\n");
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn relay_urls_name_host_and_port() {
        assert_eq!(relay_address("smtp://127.0.0.1:2525").unwrap(), "127.0.0.1:2525");
        assert_eq!(relay_address("smtp://mail.internal").unwrap(), "mail.internal:25");
        assert!(relay_address("http://x").is_err());
        assert!(relay_address("smtp://user@x:25").is_err());
    }

    #[test]
    fn content_has_no_injectable_headers_and_stuffs_dots() {
        let message = Message {
            from: "billing@portal.test",
            to: "ap@acme.test\r\nBcc: evil@x",
            subject: "Receipt\nBcc: evil@x",
            body: "line one\n.hidden\nend",
        };
        let text = content(&message);
        assert!(text.starts_with(
            "From: billing@portal.test\r\nTo: ap@acme.testBcc: evil@x\r\nSubject: ReceiptBcc: evil@x\r\n"
        ));
        assert!(text.ends_with("line one\r\n..hidden\r\nend\r\n.\r\n"));
    }
}
