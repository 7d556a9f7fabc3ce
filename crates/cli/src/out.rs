//! What the CLI prints. Every line goes through
//! [`relevo_core::text::terminal_safe`]: people's text comes from ops other
//! devices signed and must not reach the terminal as control sequences.

use relevo_core::text::terminal_safe;
use std::io::Write;

/// Prints a line to stdout, cleaned. A closed pipe ends quietly (see
/// `main`).
pub fn line(text: &str) {
    let mut out = std::io::stdout().lock();
    let _ = writeln!(out, "{}", terminal_safe(text));
}

/// Prints a line to stderr, cleaned.
pub fn error_line(text: &str) {
    let mut err = std::io::stderr().lock();
    let _ = writeln!(err, "{}", terminal_safe(text));
}
