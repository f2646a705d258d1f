//! Helvetica, one of the fonts every PDF reader carries, so documents embed no font. Its glyph
//! widths (Adobe's AFM, in thousandths of the font size) place right-aligned figures and wrap
//! long text; its WinAnsi encoding is Windows-1252.
use encoding_rs::WINDOWS_1252;

/// Widths of the printable ASCII characters, from the space (32) to the tilde (126).
const ASCII_WIDTHS: [u16; 95] = [
    278, 278, 355, 556, 556, 889, 667, 191, 333, 333, 389, 584, 278, 333, 278, 278, // space to /
    556, 556, 556, 556, 556, 556, 556, 556, 556, 556, 278, 278, 584, 584, 584, 556, // 0 to ?
    1015, 667, 667, 722, 722, 667, 611, 778, 722, 278, 500, 667, 556, 833, 722, 778, // @ to O
    667, 778, 722, 667, 611, 722, 667, 944, 667, 667, 611, 278, 278, 278, 469, 556, // P to _
    333, 556, 556, 500, 556, 556, 278, 556, 556, 222, 222, 500, 222, 833, 556, 556, // ` to o
    556, 556, 333, 500, 278, 556, 500, 722, 500, 500, 500, 334, 260, 334, 584, // p to ~
];

/// Outside ASCII, the width of a digit: close for the accented letters and symbols of
/// Windows-1252, and never so narrow that a column overflows.
const OTHER_WIDTH: u16 = 556;

/// The width of `text` at `size` points. Digits, separators and currency codes have the same
/// widths in the bold face, so figures set in bold align too.
pub fn text_width(text: &str, size: f32) -> f32 {
    let units: u32 = text
        .chars()
        .map(|c| match c as u32 {
            code @ 32..=126 => u32::from(ASCII_WIDTHS[(code - 32) as usize]),
            _ => u32::from(OTHER_WIDTH),
        })
        .sum();
    units as f32 * size / 1000.0
}

/// `text` in Windows-1252; a character it lacks (a CJK name, an emoji) prints as `?`.
pub fn encode(text: &str) -> Vec<u8> {
    let mut bytes = Vec::with_capacity(text.len());
    let mut buffer = [0u8; 4];
    for c in text.chars() {
        let (encoded, _, unmappable) = WINDOWS_1252.encode(c.encode_utf8(&mut buffer));
        if unmappable || c.is_control() {
            bytes.push(b'?');
        } else {
            bytes.extend_from_slice(&encoded);
        }
    }
    bytes
}

/// `text` broken into lines no wider than `width` at `size`: at spaces where it can, inside a
/// word only when the word alone is too wide.
pub fn wrap(text: &str, size: f32, width: f32) -> Vec<String> {
    let mut lines = Vec::new();
    let mut line = String::new();
    for word in text.split_whitespace() {
        let candidate = if line.is_empty() { word.to_owned() } else { format!("{line} {word}") };
        if text_width(&candidate, size) <= width {
            line = candidate;
            continue;
        }
        if !line.is_empty() {
            lines.push(std::mem::take(&mut line));
        }
        for c in word.chars() {
            line.push(c);
            if text_width(&line, size) > width && line.chars().count() > 1 {
                line.pop();
                lines.push(std::mem::replace(&mut line, c.to_string()));
            }
        }
    }
    if !line.is_empty() || lines.is_empty() {
        lines.push(line);
    }
    lines
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn widths_follow_the_font_metrics() {
        assert_eq!(text_width("0", 1000.0), 556.0);
        assert_eq!(text_width("1,234.50 USD", 10.0), (6.0 * 556.0 + 3.0 * 278.0 + 722.0 + 667.0 + 722.0) / 100.0);
        assert_eq!(text_width("", 12.0), 0.0);
    }

    #[test]
    fn text_is_encoded_as_windows_1252_with_a_mark_for_what_it_lacks() {
        assert_eq!(encode("Café — 5 €"), b"Caf\xe9 \x97 5 \x80".to_vec());
        assert_eq!(encode("東京 Ltd"), b"?? Ltd".to_vec());
        assert_eq!(encode("a\u{7}b"), b"a?b".to_vec());
    }

    #[test]
    fn wrapping_breaks_at_spaces_and_inside_words_only_when_needed() {
        let width = text_width("Actions, tier", 10.0);
        assert_eq!(wrap("Actions, tier 2 of 3", 10.0, width), ["Actions, tier", "2 of 3"]);
        assert_eq!(wrap("short", 10.0, width), ["short"]);
        assert_eq!(wrap("", 10.0, width), [""]);
        let long = wrap("ns-aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa", 10.0, width);
        assert!(long.len() > 1 && long.iter().all(|l| text_width(l, 10.0) <= width), "{long:?}");
        assert_eq!(long.concat(), "ns-aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa");
    }
}
