//! Validation errors that name the field and the rule.
//!
//! Each error carries a machine-readable rule (the UI translates it into the
//! person's language and shows it next to the field) and an English message
//! (for the CLI and logs).

use serde::{Deserialize, Serialize};
use specta::Type;
use std::fmt;

/// The rule a value broke.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, Type)]
#[serde(rename_all = "kebab-case")]
pub enum Rule {
    /// Nothing was given where a value is needed.
    Required,
    /// The value is not one of the known codes.
    Unknown,
    /// A count below zero.
    Negative,
    /// A count with a fractional part.
    WholeNumber,
    /// A count of zero where at least one is needed.
    AtLeastOne,
    /// A number above the largest accepted (`limit`).
    TooLarge,
    /// Text longer than `limit` characters.
    TooLong,
    /// The breakdown by sex and age adds up to more than the total.
    BreakdownExceedsTotal,
    /// The same entry twice in a list.
    Duplicate,
    /// Not a date or time in an accepted form.
    BadDate,
    /// A person or organisation that is not on the roster.
    NotOnRoster,
    /// A reference to a record this device does not hold.
    UnknownReference,
    /// More delivered than was requested (`limit` is what remains).
    OverFulfilment,
    /// A route that comes back to where it started.
    Cycle,
}

/// One broken rule on one field.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, Type)]
pub struct FieldError {
    /// The field, as named in the form and the CLI: `country`, `people.women`...
    pub field: String,
    pub rule: Rule,
    /// The bound the rule refers to (a maximum length or count), if any.
    pub limit: Option<u64>,
    /// In English, for the CLI and logs; the UI translates `rule` instead.
    pub message: String,
}

impl FieldError {
    pub fn new(field: &str, rule: Rule, message: impl Into<String>) -> Self {
        FieldError {
            field: field.to_owned(),
            rule,
            limit: None,
            message: message.into(),
        }
    }

    pub fn with_limit(mut self, limit: u64) -> Self {
        self.limit = Some(limit);
        self
    }
}

impl fmt::Display for FieldError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.field, self.message)
    }
}

/// Joins several errors into one line per error, for the CLI.
pub fn describe(errors: &[FieldError]) -> String {
    errors
        .iter()
        .map(ToString::to_string)
        .collect::<Vec<_>>()
        .join("\n")
}
