//! A namespace name is a DNS label: it becomes part of endpoints, so it must be one.

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NamespaceName(String);

/// Why a name is not a DNS label, in words for the person who typed it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct InvalidNamespaceName(pub &'static str);

impl NamespaceName {
    /// 3–63 characters of lowercase letters, digits and hyphens, starting with a letter and not
    /// ending with a hyphen.
    pub fn parse(raw: &str) -> Result<Self, InvalidNamespaceName> {
        let name = raw.trim();
        let invalid = |why: &'static str| Err(InvalidNamespaceName(why));
        if name.len() < 3 {
            return invalid("must be at least 3 characters");
        }
        if name.len() > 63 {
            return invalid("must be at most 63 characters");
        }
        if !name.bytes().all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-') {
            return invalid("may contain only lowercase letters, digits and hyphens");
        }
        if !name.as_bytes()[0].is_ascii_lowercase() {
            return invalid("must start with a letter");
        }
        if name.ends_with('-') {
            return invalid("must not end with a hyphen");
        }
        Ok(Self(name.to_owned()))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn accepts_dns_labels() {
        for ok in ["abc", "payments-prod", "a1-b2", &"a".repeat(63)] {
            assert_eq!(NamespaceName::parse(ok).unwrap().as_str(), ok);
        }
    }

    #[test]
    fn surrounding_spaces_are_trimmed() {
        assert_eq!(NamespaceName::parse("  web-app ").unwrap().as_str(), "web-app");
    }

    #[test]
    fn rejects_everything_else_saying_why() {
        for bad in ["", "ab", "Payments", "pay_ments", "pay ments", "-abc", "1abc", "abc-", "näme", &"a".repeat(64)] {
            let error = NamespaceName::parse(bad).unwrap_err();
            assert!(!error.to_string().is_empty(), "{bad:?}");
        }
    }
}
