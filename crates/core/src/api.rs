//! The error shape that crosses every boundary to a person: Tauri IPC today,
//! and the same codes in the CLI's messages.
//!
//! `code` is what the UI branches on; `message` is English for logs and the
//! CLI; `fields` carries per-field validation errors the UI shows next to
//! each field, in the person's language.

use crate::domain::FieldError;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::fmt;
use ts_rs::TS;

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, TS)]
#[serde(rename_all = "kebab-case")]
pub enum ErrorCode {
    /// Input broke a rule; see `fields`.
    Validation,
    /// The device has no identity yet: run first-time set-up.
    NotInitialised,
    /// The device already has an identity.
    AlreadyInitialised,
    /// There is no crisis to record into: open one or load the demo.
    NoCrisis,
    /// The person's role does not allow the action.
    Forbidden,
    /// No record with that reference is held on this device.
    NotFound,
    /// The record's status does not allow the action (`args`: `from`, `step`).
    Lifecycle,
    /// The field has competing values; resolve the conflict first (`args`: `field`).
    Conflict,
    /// The database was written by a newer Relevo.
    SchemaTooNew,
    /// The database file is damaged or is not a Relevo database.
    Corrupt,
    /// The disk or the database failed; retrying may help.
    Storage,
    /// The data folder is encrypted and its key is not at hand: a
    /// passphrase is needed, or was wrong, or the keyring did not answer.
    Locked,
    /// The hub cannot be reached; the message says why.
    Offline,
    /// The hub refused (an invitation code, a revoked device, a bundle of
    /// another network); the message says why.
    Sync,
    /// A bug: the message says what happened.
    Internal,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, TS)]
pub struct ApiError {
    pub code: ErrorCode,
    pub message: String,
    pub fields: Vec<FieldError>,
    /// Values the UI puts into its translated message (a status, a field).
    #[serde(default)]
    pub args: BTreeMap<String, String>,
}

impl ApiError {
    pub fn new(code: ErrorCode, message: impl Into<String>) -> Self {
        ApiError {
            code,
            message: message.into(),
            fields: Vec::new(),
            args: BTreeMap::new(),
        }
    }

    pub fn with_arg(mut self, key: &str, value: impl Into<String>) -> Self {
        self.args.insert(key.to_owned(), value.into());
        self
    }

    pub fn validation(fields: Vec<FieldError>) -> Self {
        let message = crate::domain::validation::describe(&fields);
        ApiError {
            code: ErrorCode::Validation,
            message,
            fields,
            args: BTreeMap::new(),
        }
    }
}

impl fmt::Display for ApiError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message)
    }
}

impl std::error::Error for ApiError {}
