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
    Forbidden(String),

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

    #[error("{path} is an SQLite database of another program, not a Relevo database; the file was not changed.")]
    NotRelevo { path: PathBuf },

    #[error("op {label} was refused: {fault}")]
    BadOp { label: String, fault: OpFault },

    #[error("op {label} does not follow its device's previous op (hash chain broken)")]
    BrokenChain { label: String },

    #[error("op {label} conflicts with a different op already held under the same device and number (a cloned or restored device?)")]
    Fork { label: String },

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
            _ => Error::Sqlite(e),
        }
    }
}

impl Error {
    pub fn code(&self) -> ErrorCode {
        match self {
            Error::Validation(_) => ErrorCode::Validation,
            Error::NotInitialised => ErrorCode::NotInitialised,
            Error::AlreadyInitialised { .. } => ErrorCode::AlreadyInitialised,
            Error::NoCrisis => ErrorCode::NoCrisis,
            Error::Forbidden(_) => ErrorCode::Forbidden,
            Error::SchemaTooNew { .. } => ErrorCode::SchemaTooNew,
            Error::Corrupt { .. } | Error::NotRelevo { .. } => ErrorCode::Corrupt,
            Error::BadOp { .. } | Error::BrokenChain { .. } | Error::Fork { .. } => {
                ErrorCode::Validation
            }
            Error::Sqlite(_) | Error::Io(_) => ErrorCode::Storage,
        }
    }
}

impl From<Error> for ApiError {
    fn from(e: Error) -> Self {
        match e {
            Error::Validation(fields) => ApiError::validation(fields),
            other => ApiError::new(other.code(), other.to_string()),
        }
    }
}

pub type Result<T, E = Error> = std::result::Result<T, E>;
