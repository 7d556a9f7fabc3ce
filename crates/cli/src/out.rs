//! What the CLI prints. People's text (names, descriptions, notes) comes
//! from ops other devices signed, so it may hold terminal control sequences
//! or bidirectional overrides that rewrite what a line appears to say. Every
//! line goes through [`clean`], which shows such characters as `\uXXXX`
//! escapes: readable in a terminal, and the same character again where the
//! line is JSON.

use std::borrow::Cow;
use std::io::Write;

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
pub fn clean(text: &str) -> Cow<'_, str> {
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

/// Prints a line to stdout, cleaned. A closed pipe ends quietly (see
/// `main`).
pub fn line(text: &str) {
    let mut out = std::io::stdout().lock();
    let _ = writeln!(out, "{}", clean(text));
}

/// Prints a line to stderr, cleaned.
pub fn error_line(text: &str) {
    let mut err = std::io::stderr().lock();
    let _ = writeln!(err, "{}", clean(text));
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn escapes_what_would_rewrite_a_terminal_line() {
        assert_eq!(clean("Ana López\tGT\n"), "Ana López\tGT\n");
        assert_eq!(clean("a\u{1b}[2Jb"), "a\\u001b[2Jb");
        assert_eq!(clean("REQ\u{202e}1-QER"), "REQ\\u202e1-QER");
        assert_eq!(clean("x\u{2066}y\u{9b}z\u{7f}"), "x\\u2066y\\u009bz\\u007f");
        // A JSON string with the escape decodes to the same text.
        let json = clean("\"REQ\u{202e}\"").into_owned();
        let back: String = serde_json::from_str(&json).expect("valid JSON");
        assert_eq!(back, "REQ\u{202e}");
    }
}
