//! The error shape that crosses every boundary to a person: Tauri IPC today,
//! and the same codes in the CLI's messages.
//!
//! `code` is what the UI branches on; `message` is English for logs and the
//! CLI; `fields` carries per-field validation errors the UI shows next to
//! each field, in the person's language.

use crate::domain::FieldError;
use serde::{Deserialize, Serialize};
use specta::Type;
use std::collections::BTreeMap;
use std::fmt;

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, Type)]
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
    /// The hub or a bundle refused (a bundle of another network, a refused
    /// op); the message says why.
    Sync,
    /// This device's access was revoked, or the hub no longer knows it: it
    /// cannot sync until it is enrolled again.
    Revoked,
    /// An invitation code was refused (unknown, spent, expired) or the
    /// enrolment could not be completed.
    Enrolment,
    /// A file the person named (a bundle, a corridor, an import) could not
    /// be read or written; the database itself is `storage`.
    Io,
    /// An export could not be made or written; nothing was written.
    Export,
    /// A bug: the message says what happened.
    Internal,
}

impl ErrorCode {
    /// Every code, in the order of [`ErrorCode::exit_status`].
    pub const ALL: &'static [ErrorCode] = &[
        ErrorCode::Internal,
        ErrorCode::Validation,
        ErrorCode::NotFound,
        ErrorCode::Forbidden,
        ErrorCode::Lifecycle,
        ErrorCode::Conflict,
        ErrorCode::NotInitialised,
        ErrorCode::AlreadyInitialised,
        ErrorCode::NoCrisis,
        ErrorCode::Locked,
        ErrorCode::Corrupt,
        ErrorCode::SchemaTooNew,
        ErrorCode::Storage,
        ErrorCode::Io,
        ErrorCode::Export,
        ErrorCode::Offline,
        ErrorCode::Sync,
        ErrorCode::Revoked,
        ErrorCode::Enrolment,
    ];

    /// The code as it appears in JSON and in the CLI's help.
    pub fn slug(self) -> &'static str {
        match self {
            ErrorCode::Validation => "validation",
            ErrorCode::NotInitialised => "not-initialised",
            ErrorCode::AlreadyInitialised => "already-initialised",
            ErrorCode::NoCrisis => "no-crisis",
            ErrorCode::Forbidden => "forbidden",
            ErrorCode::NotFound => "not-found",
            ErrorCode::Lifecycle => "lifecycle",
            ErrorCode::Conflict => "conflict",
            ErrorCode::SchemaTooNew => "schema-too-new",
            ErrorCode::Corrupt => "corrupt",
            ErrorCode::Storage => "storage",
            ErrorCode::Locked => "locked",
            ErrorCode::Offline => "offline",
            ErrorCode::Sync => "sync",
            ErrorCode::Revoked => "revoked",
            ErrorCode::Enrolment => "enrolment",
            ErrorCode::Io => "io",
            ErrorCode::Export => "export",
            ErrorCode::Internal => "internal",
        }
    }

    /// The CLI's exit status for an error of this class: 1 for a bug, 2 is
    /// clap's for a command line it cannot parse, and one status per class
    /// from 3 on, so that a script tells "offline, try later" (17) from
    /// "revoked, enrol again" (19) without reading the message.
    pub fn exit_status(self) -> u8 {
        match self {
            ErrorCode::Internal => 1,
            ErrorCode::Validation => 3,
            ErrorCode::NotFound => 4,
            ErrorCode::Forbidden => 5,
            ErrorCode::Lifecycle => 6,
            ErrorCode::Conflict => 7,
            ErrorCode::NotInitialised => 8,
            ErrorCode::AlreadyInitialised => 9,
            ErrorCode::NoCrisis => 10,
            ErrorCode::Locked => 11,
            ErrorCode::Corrupt => 12,
            ErrorCode::SchemaTooNew => 13,
            ErrorCode::Storage => 14,
            ErrorCode::Io => 15,
            ErrorCode::Export => 16,
            ErrorCode::Offline => 17,
            ErrorCode::Sync => 18,
            ErrorCode::Revoked => 19,
            ErrorCode::Enrolment => 20,
        }
    }

    /// What a person does about it, in a few words, for the CLI's help.
    pub fn meaning(self) -> &'static str {
        match self {
            ErrorCode::Internal => "a bug; the message says what happened",
            ErrorCode::Validation => "bad input; the message names the field",
            ErrorCode::NotFound => "no such record on this device",
            ErrorCode::Forbidden => "the person's role does not allow it",
            ErrorCode::Lifecycle => "the record's status does not allow it",
            ErrorCode::Conflict => "competing values: resolve the conflict first",
            ErrorCode::NotInitialised => "no identity yet: run `relevo init`",
            ErrorCode::AlreadyInitialised => "this device already has an identity",
            ErrorCode::NoCrisis => "no crisis: open one or load the demo",
            ErrorCode::Locked => "passphrase or key needed, wrong, or keyring silent",
            ErrorCode::Corrupt => "the database is damaged or not Relevo's",
            ErrorCode::SchemaTooNew => "the database is from a newer Relevo",
            ErrorCode::Storage => "the database or the disk failed",
            ErrorCode::Io => "a file named could not be read or written",
            ErrorCode::Export => "the export failed; nothing was written",
            ErrorCode::Offline => "the hub cannot be reached: try again later",
            ErrorCode::Sync => "sync refused: by the hub, a bundle, or as unsafe",
            ErrorCode::Revoked => "this device was revoked: enrol it again",
            ErrorCode::Enrolment => "the invitation code was refused",
        }
    }

    /// The table of exit statuses, as `relevo --help` prints it.
    pub fn exit_table() -> String {
        let mut out = String::from("Exit status:\n  0   success\n");
        for code in ErrorCode::ALL {
            out.push_str(&format!(
                "  {:<3} {:<20} {}\n",
                code.exit_status(),
                code.slug(),
                code.meaning()
            ));
        }
        out.push_str("  2   usage                a command line that cannot be parsed\n");
        out
    }
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, Type)]
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

#[cfg(test)]
mod tests {
    use super::*;

    /// The codes are an interface: the UI branches on them, scripts on the
    /// exit statuses. This pins both; changing one is a breaking change.
    #[test]
    fn codes_and_exit_statuses_are_pinned() {
        let pinned: &[(&str, u8)] = &[
            ("\"internal\"", 1),
            ("\"validation\"", 3),
            ("\"not-found\"", 4),
            ("\"forbidden\"", 5),
            ("\"lifecycle\"", 6),
            ("\"conflict\"", 7),
            ("\"not-initialised\"", 8),
            ("\"already-initialised\"", 9),
            ("\"no-crisis\"", 10),
            ("\"locked\"", 11),
            ("\"corrupt\"", 12),
            ("\"schema-too-new\"", 13),
            ("\"storage\"", 14),
            ("\"io\"", 15),
            ("\"export\"", 16),
            ("\"offline\"", 17),
            ("\"sync\"", 18),
            ("\"revoked\"", 19),
            ("\"enrolment\"", 20),
        ];
        assert_eq!(ErrorCode::ALL.len(), pinned.len());
        for (code, (json, status)) in ErrorCode::ALL.iter().zip(pinned) {
            assert_eq!(&serde_json::to_string(code).unwrap(), json);
            assert_eq!(format!("\"{}\"", code.slug()), *json);
            assert_eq!(code.exit_status(), *status, "{code:?}");
            let back: ErrorCode = serde_json::from_str(json).unwrap();
            assert_eq!(back, *code);
        }
        let mut statuses: Vec<u8> = ErrorCode::ALL.iter().map(|c| c.exit_status()).collect();
        statuses.sort_unstable();
        statuses.dedup();
        assert_eq!(statuses.len(), ErrorCode::ALL.len(), "one status per class");
        assert!(!statuses.contains(&0) && !statuses.contains(&2));
    }

    #[test]
    fn an_error_serialises_as_the_ui_reads_it() {
        let e = ApiError::new(ErrorCode::Revoked, "this device was revoked").with_arg("hub", "h");
        let json = serde_json::to_value(&e).unwrap();
        assert_eq!(
            json,
            serde_json::json!({
                "code": "revoked",
                "message": "this device was revoked",
                "fields": [],
                "args": {"hub": "h"}
            })
        );
    }
}
