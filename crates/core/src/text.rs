//! Text from people, made safe to show in a terminal. Names, descriptions,
//! notes and even op kinds come from ops other devices signed, so they may
//! hold terminal control sequences or bidirectional overrides that rewrite
//! what a line appears to say. [`terminal_safe`] shows such characters as
//! `\uXXXX` escapes: readable in a terminal, and the same character again
//! where the line is JSON.

use std::borrow::Cow;

/// Characters never handed to a terminal as they are: C0 and C1 controls
/// (but newline and tab), DEL, and the bidirectional marks, embeddings,
/// overrides and isolates.
fn dangerous(c: char) -> bool {
    (c.is_control() && c != '\n' && c != '\t')
        || matches!(
            c,
            '\u{061c}' | '\u{200e}' | '\u{200f}' | '\u{202a}'..='\u{202e}' | '\u{2066}'..='\u{2069}'
        )
}

/// `text` with every dangerous character shown as a `\uXXXX` escape.
pub fn terminal_safe(text: &str) -> Cow<'_, str> {
    if !text.chars().any(dangerous) {
        return Cow::Borrowed(text);
    }
    let mut out = String::with_capacity(text.len() + 16);
    for c in text.chars() {
        if dangerous(c) {
            out.push_str(&format!("\\u{:04x}", c as u32));
        } else {
            out.push(c);
        }
    }
    Cow::Owned(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn escapes_what_would_rewrite_a_terminal_line() {
        assert_eq!(terminal_safe("Ana López\tGT\n"), "Ana López\tGT\n");
        assert_eq!(terminal_safe("a\u{1b}[2Jb"), "a\\u001b[2Jb");
        assert_eq!(terminal_safe("REQ\u{202e}1-QER"), "REQ\\u202e1-QER");
        assert_eq!(
            terminal_safe("x\u{2066}y\u{9b}z\u{7f}"),
            "x\\u2066y\\u009bz\\u007f"
        );
        // A JSON string with the escape decodes to the same text.
        let json = terminal_safe("\"REQ\u{202e}\"").into_owned();
        let back: String = serde_json::from_str(&json).expect("valid JSON");
        assert_eq!(back, "REQ\u{202e}");
    }
}
