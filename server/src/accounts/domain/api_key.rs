//! API keys: a random secret shown once, stored as its SHA-256 hash. The secret carries 190 bits of
//! randomness, so a fast hash is as safe as a slow one and lookups stay cheap on every request.
use rand::Rng;
use rand::distributions::Alphanumeric;

use super::one_time_token::hash_secret;

const SECRET_PREFIX: &str = "bpk_";
const RANDOM_CHARS: usize = 32;
/// How much of the secret stays visible in listings.
const VISIBLE_CHARS: usize = 12;

pub struct NewApiKey {
    pub secret: String,
    pub prefix: String,
    pub secret_hash: String,
}

pub fn generate_api_key() -> NewApiKey {
    let random: String = rand::thread_rng().sample_iter(&Alphanumeric).take(RANDOM_CHARS).map(char::from).collect();
    let secret = format!("{SECRET_PREFIX}{random}");
    NewApiKey { prefix: secret[..VISIBLE_CHARS].to_owned(), secret_hash: hash_api_key(&secret), secret }
}

pub fn hash_api_key(secret: &str) -> String {
    hash_secret(secret)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_new_key_is_stored_only_as_its_hash_and_a_short_prefix() {
        let key = generate_api_key();
        assert!(key.secret.starts_with("bpk_"));
        assert_eq!(key.secret.len(), 36);
        assert!(key.secret.starts_with(&key.prefix));
        assert_eq!(key.secret_hash, hash_api_key(&key.secret));
        assert_eq!(key.secret_hash.len(), 64);
        assert!(!key.secret_hash.contains(&key.secret[4..]));
    }

    #[test]
    fn keys_differ() {
        assert_ne!(generate_api_key().secret, generate_api_key().secret);
    }
}
