//! The Standard Webhooks scheme (<https://www.standardwebhooks.com>): a secret `whsec_<base64>`,
//! and `webhook-signature: v1,<base64 HMAC-SHA256 of "{id}.{timestamp}.{body}">`, one signature
//! per secret in force (two during a rotation), space-separated. Receivers check it with any
//! Standard Webhooks library; the README shows one.
use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use hmac::{Hmac, Mac};
use rand::RngCore;
use sha2::Sha256;

const SECRET_PREFIX: &str = "whsec_";
/// 32 bytes: the standard asks for 24 to 64.
const SECRET_BYTES: usize = 32;

/// A fresh signing secret, as the owner copies it.
pub fn new_secret() -> String {
    let mut bytes = [0u8; SECRET_BYTES];
    rand::thread_rng().fill_bytes(&mut bytes);
    format!("{SECRET_PREFIX}{}", STANDARD.encode(bytes))
}

/// The HMAC key a secret stands for; `None` for text that is not one of ours.
fn key_of(secret: &str) -> Option<Vec<u8>> {
    STANDARD.decode(secret.strip_prefix(SECRET_PREFIX)?).ok().filter(|key| !key.is_empty())
}

/// The `webhook-signature` header for a message, signed with every secret given. A stored
/// secret that does not decode is skipped (and logged by the caller), never sent unsigned.
pub fn signature_header(message_id: &str, timestamp_seconds: i64, body: &[u8], secrets: &[&str]) -> Option<String> {
    let signatures: Vec<String> = secrets
        .iter()
        .filter_map(|secret| key_of(secret))
        .map(|key| {
            let mut mac = <Hmac<Sha256> as Mac>::new_from_slice(&key).unwrap_or_else(|_| unreachable!());
            mac.update(message_id.as_bytes());
            mac.update(b".");
            mac.update(timestamp_seconds.to_string().as_bytes());
            mac.update(b".");
            mac.update(body);
            format!("v1,{}", STANDARD.encode(mac.finalize().into_bytes()))
        })
        .collect();
    (!signatures.is_empty()).then(|| signatures.join(" "))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The example of the Standard Webhooks specification's reference libraries.
    #[test]
    fn signs_the_reference_example_as_the_standard_does() {
        let header = signature_header(
            "msg_p5jXN8AQM9LWM0D4loKWxJek",
            1_614_265_330,
            br#"{"test": 2432232314}"#,
            &["whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"],
        );
        assert_eq!(header.as_deref(), Some("v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE="));
    }

    #[test]
    fn a_rotation_signs_with_both_secrets_and_a_broken_secret_signs_nothing() {
        let (old, new) = (new_secret(), new_secret());
        let both = signature_header("msg_1", 1, b"{}", &[&new, &old]).unwrap();
        let parts: Vec<&str> = both.split(' ').collect();
        assert_eq!(parts.len(), 2);
        assert_eq!(parts[0], signature_header("msg_1", 1, b"{}", &[&new]).unwrap());
        assert_eq!(parts[1], signature_header("msg_1", 1, b"{}", &[&old]).unwrap());
        assert_eq!(signature_header("msg_1", 1, b"{}", &["whsec_!!", "plain"]), None);
    }

    #[test]
    fn secrets_are_fresh_and_decode_to_32_bytes() {
        let (a, b) = (new_secret(), new_secret());
        assert_ne!(a, b);
        assert!(a.starts_with("whsec_"));
        assert_eq!(key_of(&a).map(|key| key.len()), Some(32));
    }
}
