//! Links that work once (confirming a sign-up, resetting a password): a random secret mailed to
//! the person, stored only as its SHA-256 hash. With 190 bits of randomness a fast hash is as safe
//! as a slow one, so the link is looked up by its hash directly.
use rand::Rng;
use rand::distributions::Alphanumeric;
use sha2::{Digest, Sha256};

const RANDOM_CHARS: usize = 32;

pub struct OneTimeToken {
    pub secret: String,
    pub hash: String,
}

pub fn generate_token() -> OneTimeToken {
    let secret: String = rand::thread_rng().sample_iter(&Alphanumeric).take(RANDOM_CHARS).map(char::from).collect();
    OneTimeToken { hash: hash_secret(&secret), secret }
}

pub fn hash_secret(secret: &str) -> String {
    hex::encode(Sha256::digest(secret.as_bytes()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_token_is_kept_only_as_its_hash_and_tokens_differ() {
        let token = generate_token();
        assert_eq!(token.secret.len(), 32);
        assert_eq!(token.hash, hash_secret(&token.secret));
        assert_eq!(token.hash.len(), 64);
        assert_ne!(generate_token().secret, token.secret);
    }
}
