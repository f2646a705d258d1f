//! The name an organization goes by in the portal, on invoices (without a legal name) and in mail.
use super::refusal::{Refusal, refuse};

pub const MAX_ORGANIZATION_NAME_CHARS: usize = 100;

/// The name trimmed: 2 to 100 characters on one line.
pub fn organization_name(raw: &str) -> Result<String, Refusal> {
    let name = raw.trim();
    let chars = name.chars().count();
    if chars < 2 {
        return refuse("organization_name", "is required (at least 2 characters)");
    }
    if chars > MAX_ORGANIZATION_NAME_CHARS {
        return refuse("organization_name", format!("must be at most {MAX_ORGANIZATION_NAME_CHARS} characters"));
    }
    if name.chars().any(char::is_control) {
        return refuse("organization_name", "must be a single line of text");
    }
    Ok(name.to_owned())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_are_trimmed_single_lines_of_2_to_100_characters() {
        assert_eq!(organization_name("  Hooli Inc. ").unwrap(), "Hooli Inc.");
        assert_eq!(organization_name("Ünïcødé GmbH").unwrap(), "Ünïcødé GmbH");
        for bad in ["", " ", "x", "two\nlines", &"n".repeat(101)] {
            assert_eq!(organization_name(bad).unwrap_err().field, "organization_name", "{bad:?}");
        }
        assert!(organization_name(&"ü".repeat(100)).is_ok(), "characters, not bytes");
    }
}
