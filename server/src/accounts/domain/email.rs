//! Email addresses as people type them: trimmed, and parsed by lettre, which sends the mail, so an
//! address accepted here is one mail can go to.
use super::refusal::{Refusal, refuse};

/// RFC 5321's limit on a forward path.
pub const MAX_EMAIL_LEN: usize = 254;

/// The address trimmed, or a refusal naming `field`.
pub fn email_address(field: &'static str, raw: &str) -> Result<String, Refusal> {
    let email = raw.trim();
    if email.is_empty() {
        return refuse(field, "is required");
    }
    if email.len() > MAX_EMAIL_LEN {
        return refuse(field, format!("must be at most {MAX_EMAIL_LEN} characters"));
    }
    // Quoted local parts and address literals are valid to lettre but not to every relay, and a
    // comma would split a list of recipients: plain addresses only.
    let plain = !email.contains(['"', ',', '[', ']', '(', ')', '<', '>', ';', ':', '\\'])
        && email.rsplit_once('@').is_some_and(|(_, domain)| domain.contains('.'));
    match email.parse::<lettre::Address>() {
        Ok(_) if plain => Ok(email.to_owned()),
        _ => refuse(field, "is not an email address such as name@example.com"),
    }
}

/// The form accounts are looked up by: trimmed and lower-cased.
pub fn account_email(field: &'static str, raw: &str) -> Result<String, Refusal> {
    email_address(field, raw).map(|email| email.to_lowercase())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn addresses_are_trimmed_and_checked_and_accounts_compare_lower_cased() {
        assert_eq!(email_address("email", "  Ada@Example.com ").unwrap(), "Ada@Example.com");
        assert_eq!(account_email("email", "Ada@Example.COM").unwrap(), "ada@example.com");
        let refused = [
            "",
            "ada",
            "ada@",
            "@example.com",
            "a b@example.com",
            "\"a b\"@example.com",
            "\"ap,team\"@acme.test",
            "ap@[10.0.0.1]",
            "ap@localhost",
        ];
        for bad in refused {
            assert_eq!(email_address("email", bad).unwrap_err().field, "email", "{bad:?}");
        }
        let long = format!("{}@example.com", "a".repeat(250));
        assert!(email_address("email", &long).unwrap_err().reason.contains("254"));
    }
}
