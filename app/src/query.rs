//! Values put into links' query strings.
use percent_encoding::{AsciiSet, NON_ALPHANUMERIC, utf8_percent_encode};

/// RFC 3986's unreserved characters stay as they are (`payments-staging` reads as itself in the
/// address bar); everything else is `%XX`, so a space or `&` in a value cannot end it.
const ESCAPED: &AsciiSet = &NON_ALPHANUMERIC.remove(b'-').remove(b'_').remove(b'.').remove(b'~');

pub fn query_value(text: &str) -> String {
    utf8_percent_encode(text, ESCAPED).to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn unreserved_characters_stay_and_the_rest_is_escaped() {
        assert_eq!(query_value("payments-staging_1.x~"), "payments-staging_1.x~");
        assert_eq!(query_value("Workflow start,a&b=c"), "Workflow%20start%2Ca%26b%3Dc");
        assert_eq!(query_value("é"), "%C3%A9");
    }
}
