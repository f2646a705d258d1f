//! Stripe's webhook signature scheme. The `Stripe-Signature` header reads
//! `t=<unix seconds>,v1=<hex>[,v1=<hex>…][,v0=…]`; each `v1` is HMAC-SHA256 of `"{t}.{raw body}"`
//! keyed with the endpoint's secret. Any one `v1` may match (Stripe sends several while a secret
//! is rolled), comparisons are constant-time, and the timestamp must be within five minutes.
use hmac::{Hmac, Mac};
use sha2::Sha256;
use subtle::ConstantTimeEq;

pub const TOLERANCE_SECONDS: i64 = 300;

#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum SignatureError {
    #[error("the Stripe-Signature header is missing")]
    Missing,
    #[error("the Stripe-Signature header is malformed")]
    Malformed,
    #[error("no signature matches the payload")]
    NoMatch,
    #[error("the signature's timestamp is more than five minutes away")]
    Expired,
}

fn mac(secret: &str, timestamp: i64, payload: &[u8]) -> Hmac<Sha256> {
    // HMAC takes a key of any length, so this cannot fail.
    let mut mac = <Hmac<Sha256> as Mac>::new_from_slice(secret.as_bytes()).unwrap_or_else(|_| unreachable!());
    mac.update(timestamp.to_string().as_bytes());
    mac.update(b".");
    mac.update(payload);
    mac
}

/// The `v1` signature of a payload, in hex: what Stripe puts in the header.
pub fn sign(secret: &str, timestamp: i64, payload: &[u8]) -> String {
    hex::encode(mac(secret, timestamp, payload).finalize().into_bytes())
}

/// Checks the header against the raw body; returns the signed timestamp.
pub fn verify(header: Option<&str>, payload: &[u8], secret: &str, now_seconds: i64) -> Result<i64, SignatureError> {
    let header = header.ok_or(SignatureError::Missing)?;
    let mut timestamp = None;
    let mut signatures = Vec::new();
    for part in header.split(',') {
        let (key, value) = part.trim().split_once('=').ok_or(SignatureError::Malformed)?;
        match key {
            "t" => timestamp = Some(value.parse::<i64>().map_err(|_| SignatureError::Malformed)?),
            "v1" => signatures.push(hex::decode(value).map_err(|_| SignatureError::Malformed)?),
            _ => {}
        }
    }
    let timestamp = timestamp.ok_or(SignatureError::Malformed)?;
    if signatures.is_empty() {
        return Err(SignatureError::NoMatch);
    }
    let expected = mac(secret, timestamp, payload).finalize().into_bytes();
    let matched =
        signatures.iter().fold(0u8, |any, candidate| any | candidate.as_slice().ct_eq(expected.as_slice()).unwrap_u8());
    if matched == 0 {
        return Err(SignatureError::NoMatch);
    }
    if (now_seconds - timestamp).abs() > TOLERANCE_SECONDS {
        return Err(SignatureError::Expired);
    }
    Ok(timestamp)
}

#[cfg(test)]
mod tests {
    use super::*;

    const SECRET: &str = "whsec_test_secret";
    const BODY: &[u8] = br#"{"id":"evt_1","type":"payment_intent.succeeded"}"#;
    const T: i64 = 1_795_253_400;

    fn header(signatures: &[String]) -> String {
        let mut parts = vec![format!("t={T}")];
        parts.extend(signatures.iter().map(|s| format!("v1={s}")));
        parts.join(",")
    }

    #[test]
    fn a_known_vector_matches_stripes_scheme() {
        // HMAC-SHA256(key = "whsec_test_secret", "1795253400.{body}"), computed independently with openssl.
        assert_eq!(sign(SECRET, T, BODY), "89d3e57cdcceb70fcb58de1602df259d17311d7503721d48e34213dbf692d1d0");
        assert_eq!(verify(Some(&header(&[sign(SECRET, T, BODY)])), BODY, SECRET, T + 10), Ok(T));
    }

    #[test]
    fn any_one_of_several_v1_signatures_may_match() {
        let other = sign("whsec_old_secret", T, BODY);
        let header = format!("{},v0=deadbeef", header(&[other, sign(SECRET, T, BODY)]));
        assert_eq!(verify(Some(&header), BODY, SECRET, T), Ok(T));
    }

    #[test]
    fn wrong_secrets_tampered_bodies_and_old_timestamps_are_refused() {
        let good = header(&[sign(SECRET, T, BODY)]);
        assert_eq!(verify(Some(&good), BODY, "whsec_other", T), Err(SignatureError::NoMatch));
        assert_eq!(verify(Some(&good), br#"{"id":"evt_2"}"#, SECRET, T), Err(SignatureError::NoMatch));
        assert_eq!(verify(Some(&good), BODY, SECRET, T + 301), Err(SignatureError::Expired));
        assert_eq!(verify(Some(&good), BODY, SECRET, T - 301), Err(SignatureError::Expired));
        assert_eq!(verify(Some(&good), BODY, SECRET, T + 300), Ok(T));
    }

    #[test]
    fn missing_or_malformed_headers_are_refused() {
        assert_eq!(verify(None, BODY, SECRET, T), Err(SignatureError::Missing));
        for bad in ["", "t=abc,v1=00", "v1=00", "t=1,v1=zz", "t=1,v1=abc", "garbage"] {
            assert_eq!(verify(Some(bad), BODY, SECRET, T), Err(SignatureError::Malformed), "{bad}");
        }
        assert_eq!(verify(Some(&format!("t={T}")), BODY, SECRET, T), Err(SignatureError::NoMatch));
    }
}
