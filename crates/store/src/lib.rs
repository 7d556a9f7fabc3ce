//! Relevo's local store: one SQLite file per device holding the signed op log
//! and the projections built from it.
//!
//! Every write appends an op and updates the projections in the same
//! transaction, committed with `synchronous=FULL` in WAL mode: once a call
//! returns, the op is on disk. Projections are a pure function of the log
//! ([`Store::rebuild_projections`] recomputes them) and do not depend on the
//! order in which ops arrived.
//!
//! No SQL lives outside this crate.

mod coord;
mod demo;
mod error;
mod flows;
mod heads;
mod log;
mod net;
mod private;
mod project;
mod queries;
mod review;
mod schema;
mod views;

pub mod bindings;

pub use coord::{FulfilmentDraft, HolderDraft};
pub use demo::{Scale, Scenario};
pub use error::{Error, Result};
pub use flows::{
    AckView, AlertTask, AlertView, ArrivalView, CorridorPicture, FlowFilter, FlowView, Logged,
    PointFlow, SegmentFlow, SurgeDay,
};
pub use heads::HeadsReport;
pub use log::{
    DeviceReport, Ingest, VerifyReport, Waits, MAX_FORKS, MAX_FORKS_TOTAL, MAX_FORK_BYTES,
    MAX_WAITING_BYTES, MAX_WAITING_OPS, MAX_WAITING_TOTAL, MAX_WAITING_TOTAL_BYTES,
};
pub use net::{
    new_device_identity, AuthFailure, Enrolled, Enrolment, ForkView, Range, SyncState, SyncStatus,
    Vector, WaitingView, INVITE_TTL_MS, WAITING_SHOWN,
};
pub use queries::{CrisisView, IdentityView, LogEntry, RequestView, Snapshot};
pub use review::{
    format_ms, AlertTimes, AreaCount, AsOfView, Basis, DeviceLag, Event, Handovers, Measures,
    PeopleSum, Place, Places, RecordRef, ResponseTimes, Span, Stat, TimelineFilter, WhoWhatWhere,
};
pub use schema::LATEST as SCHEMA_VERSION;
pub use views::{
    Board, BoardColumn, ConflictValue, ConflictView, FieldChange, FulfilmentView, HolderChange,
    HolderView, Holding, PersonView, RequestDetail, RequestFilter, Roster, TaskDetail, TaskFilter,
    TaskView, TimelineEntry, BOARD_COLUMN_LIMIT,
};

use rand_core::{OsRng, RngCore};
use relevo_core::{Clock, DeviceKey, EntityId};
use rusqlite::Connection;
use std::path::{Path, PathBuf};
use std::time::{SystemTime, UNIX_EPOCH};

/// The file name of the database inside a data folder.
pub const DB_FILE: &str = "relevo.db";

/// The device's own identity, loaded from `local_device`.
struct Local {
    key: DeviceKey,
    person: EntityId,
}

/// A device's store. Not `Sync`: wrap it in a mutex to share it.
pub struct Store {
    conn: Connection,
    path: Option<PathBuf>,
    clock: Clock,
    local: Option<Local>,
    net: log::Net,
    /// The moment views judge "overdue" at: now, or the moment an as-of
    /// store stands for.
    as_of: Option<u64>,
}

impl std::fmt::Debug for Store {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Store")
            .field("path", &self.path)
            .field("clock", &self.clock.last())
            .finish_non_exhaustive()
    }
}

impl Store {
    /// The moment views judge time against: now, or an as-of store's moment.
    pub(crate) fn view_now(&self) -> u64 {
        self.as_of.unwrap_or_else(now_ms)
    }

    /// Stamps later local ops no earlier than `to_ms`: for tests and
    /// scripted scenarios that need ops at known moments (a clock only moves
    /// forward, so the moment must be later than any op held).
    pub fn advance_clock(&mut self, to_ms: u64) {
        self.clock.observe(relevo_core::Hlc::new(to_ms, 0));
    }

    /// Opens (creating if needed) the database in a data folder. The folder
    /// is made readable by its owner alone (0700), whatever the umask.
    pub fn open_dir(dir: &Path) -> Result<Store> {
        std::fs::create_dir_all(dir)?;
        private::folder(dir)?;
        Store::open(&dir.join(DB_FILE))
    }

    /// Opens (creating if needed) a database file. An existing file is first
    /// examined read-only: a damaged file, another program's database or one
    /// written by a newer Relevo is refused before anything is written to it.
    ///
    /// When the disk is too full (or the folder too locked down) for SQLite
    /// to make its shared-memory file, and nothing waits in the write-ahead
    /// log, the file is opened read-only as it stands: everything it holds
    /// can be read and verified; recording fails with a clear error until
    /// space is freed.
    pub fn open(path: &Path) -> Result<Store> {
        match Store::open_writable(path) {
            Err(Error::Unavailable { .. }) if path.exists() && wal_is_empty(path) => {
                schema::preflight_with(path, true)?;
                let conn = Connection::open_with_flags(
                    schema::immutable_uri(path),
                    rusqlite::OpenFlags::SQLITE_OPEN_READ_ONLY
                        | rusqlite::OpenFlags::SQLITE_OPEN_URI
                        | rusqlite::OpenFlags::SQLITE_OPEN_NO_MUTEX,
                )?;
                Store::configure(conn, Some(path.to_owned()))
            }
            other => other,
        }
    }

    fn open_writable(path: &Path) -> Result<Store> {
        if path.exists() {
            schema::preflight(path)?;
        }
        // Owner only (0600), whatever the umask: SQLite gives the -wal and
        // -shm files the database file's permissions.
        private::database(path)?;
        let unavailable = |e: rusqlite::Error| {
            if schema::is_io(&e) {
                Error::Unavailable {
                    path: path.to_owned(),
                    detail: e.to_string(),
                }
            } else {
                Error::from(e)
            }
        };
        let conn = Connection::open(path).map_err(unavailable)?;
        let mode: String = conn
            .pragma_update_and_check(None, "journal_mode", "WAL", |r| r.get(0))
            .map_err(unavailable)?;
        if !mode.eq_ignore_ascii_case("wal") {
            return Err(Error::Corrupt {
                path: path.to_owned(),
                detail: format!("could not switch to WAL (got {mode})"),
            });
        }
        Store::configure(conn, Some(path.to_owned()))
    }

    /// A throwaway store for tests and tools.
    pub fn open_in_memory() -> Result<Store> {
        Store::configure(Connection::open_in_memory()?, None)
    }

    fn configure(mut conn: Connection, path: Option<PathBuf>) -> Result<Store> {
        // FULL: a commit that returned is durable even if power is lost
        // straight after; NORMAL in WAL mode could lose the last commits.
        conn.pragma_update(None, "synchronous", "FULL")?;
        conn.pragma_update(None, "foreign_keys", "ON")?;
        // 32 MiB of page cache (the default is 2 MiB): taking in a page of
        // ops touches the log, its index and every projection table.
        conn.pragma_update(None, "cache_size", -32768)?;
        conn.busy_timeout(std::time::Duration::from_secs(5))?;
        // Projections use a few dozen distinct statements per op kind.
        conn.set_prepared_statement_cache_capacity(128);
        let found = schema::migrate(&mut conn)?;
        let local = log::load_local(&conn)?;
        let clock = Clock::starting_after(log::max_hlc(&conn)?);
        let net = net::load(&conn, local.as_ref())?;
        let mut store = Store {
            conn,
            path,
            clock,
            local,
            net,
            as_of: None,
        };
        if found > 0 && found < schema::LATEST {
            // Projections changed shape: recompute them from the log.
            store.rebuild_projections()?;
        }
        // Keep the query planner's statistics fresh (cheap: SQLite only
        // analyses tables whose statistics are missing or stale). Only an
        // optimisation: a store that cannot write opens without it.
        let _ = store
            .conn
            .execute_batch("PRAGMA analysis_limit = 1000; PRAGMA optimize = 0x10002;");
        Ok(store)
    }
}

/// A file SQLite keeps beside a database: `relevo.db-wal` for "-wal".
pub(crate) fn companion(path: &Path, suffix: &str) -> PathBuf {
    let mut name = path.as_os_str().to_owned();
    name.push(suffix);
    PathBuf::from(name)
}

/// Does the write-ahead log beside `path` hold nothing (absent or empty)?
fn wal_is_empty(path: &Path) -> bool {
    std::fs::metadata(companion(path, "-wal")).map_or(true, |m| m.len() == 0)
}

pub(crate) fn now_ms() -> u64 {
    // A clock before 1970 is treated as 1970; the HLC keeps order regardless.
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_millis() as u64)
        .unwrap_or(0)
}

pub(crate) fn random<const N: usize>() -> [u8; N] {
    let mut bytes = [0u8; N];
    OsRng.fill_bytes(&mut bytes);
    bytes
}

pub(crate) fn new_id() -> EntityId {
    EntityId::new_v7(now_ms(), random())
}
