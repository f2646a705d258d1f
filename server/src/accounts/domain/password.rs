//! Passwords are kept only as argon2id hashes, and a new one must be long and not guessable.
use argon2::Argon2;
use argon2::password_hash::{PasswordHash, PasswordHasher, PasswordVerifier, SaltString, rand_core::OsRng};
use zxcvbn::{Score, zxcvbn};

use super::refusal::{Refusal, refuse};

pub const MIN_PASSWORD_CHARS: usize = 10;
/// argon2 hashes any length, but hashing megabytes on every login attempt would be a lever.
pub const MAX_PASSWORD_LEN: usize = 1024;

pub fn hash_password(password: &str) -> Result<String, argon2::password_hash::Error> {
    let salt = SaltString::generate(&mut OsRng);
    Argon2::default().hash_password(password.as_bytes(), &salt).map(|hash| hash.to_string())
}

/// A malformed stored hash counts as a mismatch: nobody can log in with it.
pub fn verify_password(password: &str, stored_hash: &str) -> bool {
    PasswordHash::new(stored_hash)
        .map(|parsed| Argon2::default().verify_password(password.as_bytes(), &parsed).is_ok())
        .unwrap_or(false)
}

/// A password someone chooses: at least `MIN_PASSWORD_CHARS` characters and not among the
/// guesses an attacker tries first (common passwords, words, keyboard runs, dates, the email or
/// organization it belongs to), as zxcvbn estimates them: 10^10 guesses or more.
pub fn new_password(password: &str, belongs_to: &[&str]) -> Result<(), Refusal> {
    if password.chars().count() < MIN_PASSWORD_CHARS {
        return refuse("password", format!("must be at least {MIN_PASSWORD_CHARS} characters"));
    }
    if password.len() > MAX_PASSWORD_LEN {
        return refuse("password", format!("must be at most {MAX_PASSWORD_LEN} bytes"));
    }
    let estimate = zxcvbn(password, belongs_to);
    if estimate.score() < Score::Three {
        let why = estimate.feedback().and_then(|f| f.warning()).map(|w| format!(" ({w})")).unwrap_or_default();
        return refuse("password", format!("is too easy to guess{why}; add words or characters"));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn new_passwords_must_be_long_and_hard_to_guess() {
        assert!(new_password("short1!", &[]).unwrap_err().reason.contains("at least 10"));
        for common in ["password123", "qwertyuiop", "1234567890", "iloveyou2024"] {
            assert!(new_password(common, &[]).unwrap_err().reason.contains("too easy to guess"), "{common}");
        }
        let own = new_password("ada@example.com", &["ada@example.com"]);
        assert_eq!(own.unwrap_err().field, "password", "the account's own email is guessed first");
        assert!(new_password("violet tractor mango 17", &[]).is_ok());
        assert!(new_password(&"x".repeat(MAX_PASSWORD_LEN + 1), &[]).is_err());
    }

    #[test]
    fn a_hash_verifies_its_password_and_no_other() {
        let hash = hash_password("correct horse").unwrap();
        assert!(hash.starts_with("$argon2id$"));
        assert!(verify_password("correct horse", &hash));
        assert!(!verify_password("correct horse!", &hash));
        assert!(!verify_password("correct horse", "not a hash"));
    }
}
