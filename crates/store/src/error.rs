//! The store's errors, and how each one reaches a person.

use relevo_core::api::{ApiError, ErrorCode};
use relevo_core::domain::FieldError;
use relevo_core::op::OpFault;
use std::path::PathBuf;

#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error("{}", relevo_core::domain::validation::describe(.0))]
    Validation(Vec<FieldError>),

    #[error("this device has no identity yet: set it up first (`relevo init --name ... --role ... --country ...`)")]
    NotInitialised,

    #[error("this device already has an identity ({name}); it cannot be set up twice")]
    AlreadyInitialised { name: String },

    #[error("there is no crisis to record into: open one (`relevo crisis open`) or load the demo (`relevo demo`)")]
    NoCrisis,

    #[error("{0}")]
    Forbidden(relevo_core::permissions::Refusal),

    #[error("no {what} {reference} is held on this device")]
    NotFound {
        what: &'static str,
        reference: String,
    },

    #[error("{message}")]
    Lifecycle {
        message: String,
        record: String,
        from: String,
        step: String,
    },

    #[error("{field} has competing values from people who were offline; a regional director must resolve the conflict first")]
    InConflict { field: String },

    #[error("{0}")]
    Invalid(String),

    #[error(
        "{path} was written by a newer version of Relevo (schema {found}; this version knows up to {supported}). \
         Update Relevo to open it; the file was not changed."
    )]
    SchemaTooNew {
        path: PathBuf,
        found: i64,
        supported: i64,
    },

    #[error("{path} is damaged or is not a database ({detail}). The file was not changed; restore it from a backup or sync a fresh copy from the hub.")]
    Corrupt { path: PathBuf, detail: String },

    #[error("could not use {path}: {detail}. The disk may be full or the file not writable: free some space (or check the folder's permissions) and try again; the file itself is not damaged.")]
    Unavailable { path: PathBuf, detail: String },

    #[error("{path} is an SQLite database of another program, not a Relevo database; the file was not changed.")]
    NotRelevo { path: PathBuf },

    #[error("{path} could not be read with its key: the key or passphrase is not this file's, or the file is damaged. The file was not changed.")]
    CannotDecrypt { path: PathBuf },

    #[error(
        "{given_by} does not open this data folder; nothing was changed. Check it and try again."
    )]
    WrongPassphrase { given_by: &'static str },

    #[error(
        "this data folder is encrypted with a passphrase: enter it (or set {})",
        crate::keys::PASSPHRASE_ENV
    )]
    PassphraseNeeded,

    #[error("the system keyring holds this folder's key but did not answer ({0}): unlock your session's keyring (log in to the desktop) and try again; nothing was changed")]
    KeyringUnavailable(String),

    #[error("the key file {path} cannot be used: {detail}")]
    KeyFile { path: PathBuf, detail: String },

    #[error("op {label} was refused: {fault}")]
    BadOp { label: String, fault: OpFault },

    #[error("op {label} was refused: its device is not enrolled with this hub")]
    NotEnrolled { label: String },

    #[error("op {label} was refused: its device was revoked by the hub")]
    Revoked { label: String },

    #[error("op {label} was not kept: {count} ops of its device already wait for ops they name or for their time, the most one device may have waiting; an administrator can list them (`relevo waiting`) and drop them")]
    TooManyWaiting { label: String, count: u64 },

    #[error("op {label} was not kept: {count} ops already wait here for ops they name or for their time, the most this device keeps waiting; an administrator can list them (`relevo waiting`) and drop them")]
    TooManyWaitingInAll { label: String, count: u64 },

    #[error("{0}")]
    Enrolment(String),

    #[error("the database failed: {0}")]
    Sqlite(rusqlite::Error),

    #[error("could not use the data folder: {0}")]
    Io(#[from] std::io::Error),
}

impl From<rusqlite::Error> for Error {
    fn from(e: rusqlite::Error) -> Self {
        // Damage found in the middle of a query is reported as damage, not as
        // a generic failure: the person needs to know their file is hurt.
        match e.sqlite_error_code() {
            Some(rusqlite::ErrorCode::DatabaseCorrupt | rusqlite::ErrorCode::NotADatabase) => {
                Error::Corrupt {
                    path: PathBuf::from("the database"),
                    detail: e.to_string(),
                }
            }
            Some(rusqlite::ErrorCode::DiskFull | rusqlite::ErrorCode::ReadOnly) => {
                Error::Unavailable {
                    path: PathBuf::from("the database"),
                    detail: e.to_string(),
                }
            }
            _ => Error::Sqlite(e),
        }
    }
}

impl Error {
    /// A failure of the database or the disk rather than a verdict on an
    /// op: it stops a whole batch instead of refusing one op.
    pub(crate) fn is_storage(&self) -> bool {
        matches!(
            self,
            Error::Sqlite(_) | Error::Corrupt { .. } | Error::Io(_) | Error::Unavailable { .. }
        )
    }

    pub fn code(&self) -> ErrorCode {
        match self {
            Error::Validation(_) => ErrorCode::Validation,
            Error::NotInitialised => ErrorCode::NotInitialised,
            Error::AlreadyInitialised { .. } => ErrorCode::AlreadyInitialised,
            Error::NoCrisis => ErrorCode::NoCrisis,
            Error::Forbidden(_) => ErrorCode::Forbidden,
            Error::NotFound { .. } => ErrorCode::NotFound,
            Error::Lifecycle { .. } => ErrorCode::Lifecycle,
            Error::InConflict { .. } => ErrorCode::Conflict,
            Error::Invalid(_) => ErrorCode::Validation,
            Error::SchemaTooNew { .. } => ErrorCode::SchemaTooNew,
            Error::Corrupt { .. } | Error::NotRelevo { .. } | Error::CannotDecrypt { .. } => {
                ErrorCode::Corrupt
            }
            Error::WrongPassphrase { .. }
            | Error::PassphraseNeeded
            | Error::KeyringUnavailable(_)
            | Error::KeyFile { .. } => ErrorCode::Locked,
            Error::BadOp { .. }
            | Error::NotEnrolled { .. }
            | Error::Revoked { .. }
            | Error::TooManyWaiting { .. }
            | Error::TooManyWaitingInAll { .. } => ErrorCode::Validation,
            Error::Enrolment(_) => ErrorCode::Enrolment,
            Error::Sqlite(_) | Error::Io(_) | Error::Unavailable { .. } => ErrorCode::Storage,
        }
    }
}

impl From<Error> for ApiError {
    fn from(e: Error) -> Self {
        match e {
            Error::Validation(fields) => ApiError::validation(fields),
            Error::Lifecycle {
                ref from,
                ref step,
                ref record,
                ..
            } => {
                let (from, step, record) = (from.clone(), step.clone(), record.clone());
                ApiError::new(e.code(), e.to_string())
                    .with_arg("from", from)
                    .with_arg("step", step)
                    .with_arg("record", record)
            }
            Error::InConflict { ref field } => {
                let field = field.clone();
                ApiError::new(e.code(), e.to_string()).with_arg("field", field)
            }
            Error::Forbidden(ref r) => {
                let needs = r
                    .needs
                    .iter()
                    .map(|n| n.slug())
                    .collect::<Vec<_>>()
                    .join(",");
                ApiError::new(e.code(), e.to_string())
                    .with_arg("action", r.action.slug())
                    .with_arg("role", r.role.slug())
                    .with_arg("why", r.why())
                    .with_arg("needs", needs)
            }
            Error::NotFound { ref reference, .. } => {
                let reference = reference.clone();
                ApiError::new(e.code(), e.to_string()).with_arg("reference", reference)
            }
            Error::WrongPassphrase { .. } => {
                ApiError::new(e.code(), e.to_string()).with_arg("why", "wrong-passphrase")
            }
            other => ApiError::new(other.code(), other.to_string()),
        }
    }
}

pub type Result<T, E = Error> = std::result::Result<T, E>;

impl From<relevo_core::rules::Refused> for Error {
    fn from(r: relevo_core::rules::Refused) -> Self {
        use relevo_core::rules::Refused;
        match r {
            Refused::Permission(p) => Error::Forbidden(p),
            Refused::Lifecycle { .. } => {
                let message = r.to_string();
                let Refused::Lifecycle { from, step, record } = r else {
                    unreachable!("matched above")
                };
                Error::Lifecycle {
                    message,
                    record: record.slug().to_owned(),
                    from,
                    step: step.to_owned(),
                }
            }
            Refused::InConflict { field } => Error::InConflict { field },
            Refused::Validation(fields) => Error::Validation(fields),
            Refused::Invalid(why) => Error::Invalid(why),
            Refused::Missing(op) => Error::Invalid(format!("op {op} it relies on is not held")),
        }
    }
}
