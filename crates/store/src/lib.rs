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
pub mod keys;
mod log;
mod net;
mod past;
mod private;
mod progress;
mod project;
mod queries;
mod review;
mod schema;
pub mod settings;
mod views;

pub use coord::{FulfilmentDraft, HolderDraft};
pub use demo::{Scale, Scenario};
pub use error::{Error, Result};
pub use flows::{
    AckView, AlertTask, AlertTaskProposal, AlertView, ArrivalView, CorridorPicture, FlowFilter,
    FlowView, Logged, PointFlow, SegmentFlow, SurgeDay, ASAP_GRACE_MS,
};
pub use heads::HeadsReport;
pub use keys::{DbKey, Keeper, Prompt};
pub use log::{
    DeviceReport, Ingest, VerifyReport, Waits, MAX_FORKS, MAX_FORKS_TOTAL, MAX_FORK_BYTES,
    MAX_WAITING_BYTES, MAX_WAITING_OPS, MAX_WAITING_TOTAL, MAX_WAITING_TOTAL_BYTES,
};
pub use net::{
    new_device_identity, AuthFailure, Enrolled, Enrolment, ForkView, Range, SyncState, SyncStatus,
    Vector, WaitingView, INVITE_TTL_MS, WAITING_SHOWN,
};
pub use progress::{observe_rebuilds, Progress};
pub use queries::{CrisisView, IdentityView, LogEntry, RequestView, Snapshot};
pub use review::{
    format_ms, AlertTimes, AreaCount, AsOfView, Basis, DeviceLag, Event, Handovers, Measures,
    PastCache, PeopleSum, Place, Places, RecordRef, ResponseTimes, Span, Stat, TimelineFilter,
    WhoWhatWhere, AS_OF_SHOWN,
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
    /// The last reference number each of this device's keys gave, read
    /// from their chains (see [`log::Numbers`]).
    numbers: log::Numbers,
    /// The file's key, for the other connections a view of the past opens
    /// on it (`None` for a plaintext or in-memory store).
    key: Option<DbKey>,
    /// For a view of the past: which time it counts by and the moment its
    /// projections stand at (see [`past`]).
    past: Option<past::Past>,
    /// How many ops apart views of the past keep checkpoints.
    checkpoint_every: u64,
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

    /// Opens (creating if needed) the encrypted database in a data folder
    /// with its key (see [`keys::unlock`]). The folder is made readable by
    /// its owner alone (0700), whatever the umask. A plaintext database
    /// written by an earlier Relevo is encrypted in place first.
    pub fn open_dir(dir: &Path, key: &DbKey) -> Result<Store> {
        std::fs::create_dir_all(dir)?;
        private::folder(dir)?;
        Store::open(&dir.join(DB_FILE), key)
    }

    /// Opens (creating if needed) a data folder's encrypted store, its key
    /// unlocked as `relevo.key` says ([`keys::unlock`]; `ask` is called
    /// when a passphrase is needed). Returns the key too, for other
    /// connections to the same store.
    pub fn unlock_dir(dir: &Path, ask: keys::Ask) -> Result<(Store, DbKey)> {
        let (key, _) = keys::unlock(dir, ask)?;
        Ok((Store::open_dir(dir, &key)?, key))
    }

    /// Opens (creating if needed) a database file encrypted with `key`. An
    /// existing file is first examined read-only: a damaged file, a wrong
    /// key, another program's database or one written by a newer Relevo is
    /// refused before anything is written to it. A plaintext Relevo database
    /// is encrypted in place first ([`Store::encrypt_in_place`]).
    ///
    /// When the disk is too full (or the folder too locked down) for SQLite
    /// to make its shared-memory file, and nothing waits in the write-ahead
    /// log, the file is opened read-only as it stands: everything it holds
    /// can be read and verified; recording fails with a clear error until
    /// space is freed.
    pub fn open(path: &Path, key: &DbKey) -> Result<Store> {
        if keys::is_plaintext(path) {
            // One conversion at a time: another Relevo opening the same
            // file waits, then finds it encrypted.
            let lock_path = companion(path, ".converting");
            let mut options = std::fs::OpenOptions::new();
            options.create(true).truncate(false).write(true);
            #[cfg(unix)]
            std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
            let lock = options.open(&lock_path)?;
            lock.lock()?;
            let converted = if keys::is_plaintext(path) {
                Store::encrypt_in_place(path, key)
            } else {
                Ok(())
            };
            let _ = std::fs::remove_file(&lock_path);
            drop(lock);
            converted?;
        }
        Store::open_with(path, Some(key))
    }

    /// Opens a plaintext database file: for benchmarks that compare against
    /// encryption, and for tools. Devices and hubs open encrypted stores.
    pub fn open_unencrypted(path: &Path) -> Result<Store> {
        Store::open_with(path, None)
    }

    fn open_with(path: &Path, key: Option<&DbKey>) -> Result<Store> {
        match Store::open_writable(path, key) {
            Err(Error::Unavailable { .. }) if path.exists() && wal_is_empty(path) => {
                schema::preflight_with(path, true, key)?;
                let conn = Connection::open_with_flags(
                    schema::immutable_uri(path),
                    rusqlite::OpenFlags::SQLITE_OPEN_READ_ONLY
                        | rusqlite::OpenFlags::SQLITE_OPEN_URI
                        | rusqlite::OpenFlags::SQLITE_OPEN_NO_MUTEX,
                )?;
                keyed(&conn, key)?;
                Store::configure(conn, Some(path.to_owned()), key)
            }
            other => other,
        }
    }

    fn open_writable(path: &Path, key: Option<&DbKey>) -> Result<Store> {
        if path.exists() {
            schema::preflight_with(path, false, key)?;
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
        keyed(&conn, key)?;
        let mode: String = conn
            .pragma_update_and_check(None, "journal_mode", "WAL", |r| r.get(0))
            .map_err(unavailable)?;
        if !mode.eq_ignore_ascii_case("wal") {
            return Err(Error::Corrupt {
                path: path.to_owned(),
                detail: format!("could not switch to WAL (got {mode})"),
            });
        }
        Store::configure(conn, Some(path.to_owned()), key)
    }

    /// Encrypts a plaintext Relevo database in place, with nothing lost.
    ///
    /// The plaintext file is checked, its write-ahead log folded in, and its
    /// whole content exported (`sqlcipher_export`) into `<file>.encrypting`,
    /// which is then reopened with the key and compared, table by table, row
    /// count by row count, before it is synced and renamed over the
    /// original. Until that rename the original is untouched and readable;
    /// a run stopped halfway leaves it as it was, and the next open starts
    /// again.
    pub fn encrypt_in_place(path: &Path, key: &DbKey) -> Result<()> {
        schema::preflight_with(path, false, None)?;
        let tmp = companion(path, ".encrypting");
        let _ = std::fs::remove_file(&tmp);
        private::database(&tmp)?;
        let plain = Connection::open(path)?;
        // Sorting the export must not spill plaintext into temporary files.
        plain.pragma_update(None, "temp_store", "MEMORY")?;
        let busy: i64 = plain.query_row("PRAGMA wal_checkpoint(TRUNCATE)", [], |r| r.get(0))?;
        if busy != 0 {
            return Err(Error::Unavailable {
                path: path.to_owned(),
                detail: "another program holds the database open; close it and start again".into(),
            });
        }
        let version: i64 = plain.pragma_query_value(None, "user_version", |r| r.get(0))?;
        let app_id: i32 = plain.pragma_query_value(None, "application_id", |r| r.get(0))?;
        keys::cipher_defaults()?;
        let tmp_text = tmp
            .to_str()
            .ok_or_else(|| Error::Invalid(format!("{} is not a UTF-8 path", tmp.display())))?;
        plain.execute(
            &format!(
                "ATTACH DATABASE ?1 AS encrypted KEY {}",
                key.attach_key().as_str()
            ),
            [tmp_text],
        )?;
        plain.execute_batch(&format!(
            "SELECT sqlcipher_export('encrypted');
             PRAGMA encrypted.user_version = {version};
             PRAGMA encrypted.application_id = {app_id};"
        ))?;
        let counts = |conn: &Connection, schema: &str| -> Result<Vec<(String, i64)>> {
            let names: Vec<String> = conn
                .prepare(&format!(
                    "SELECT name FROM {schema}.sqlite_master WHERE type = 'table' ORDER BY name"
                ))?
                .query_map([], |r| r.get(0))?
                .collect::<rusqlite::Result<_>>()?;
            names
                .into_iter()
                .map(|name| {
                    let n: i64 = conn.query_row(
                        &format!(
                            "SELECT count(*) FROM {schema}.\"{}\"",
                            name.replace('"', "\"\"")
                        ),
                        [],
                        |r| r.get(0),
                    )?;
                    Ok((name, n))
                })
                .collect()
        };
        let before = counts(&plain, "main")?;
        plain.execute_batch("DETACH DATABASE encrypted")?;
        drop(plain);
        {
            let check = Connection::open(&tmp)?;
            keyed(&check, Some(key))?;
            let ok: String = check.query_row("PRAGMA quick_check(1)", [], |r| r.get(0))?;
            let after = counts(&check, "main")?;
            if ok != "ok" || after != before {
                return Err(Error::Corrupt {
                    path: tmp.clone(),
                    detail: format!(
                        "the encrypted copy does not match the original ({ok}); the original \
                         was kept as it was"
                    ),
                });
            }
        }
        std::fs::File::open(&tmp)?.sync_all()?;
        // The plaintext log was folded in above; its -wal and -shm must not
        // be read against the encrypted file.
        for suffix in ["-wal", "-shm"] {
            match std::fs::remove_file(companion(path, suffix)) {
                Err(e) if e.kind() != std::io::ErrorKind::NotFound => return Err(e.into()),
                _ => {}
            }
        }
        std::fs::rename(&tmp, path)?;
        keys::sync_folder(path);
        Ok(())
    }

    /// A throwaway store for tests and tools.
    pub fn open_in_memory() -> Result<Store> {
        Store::configure(Connection::open_in_memory()?, None, None)
    }

    fn configure(
        mut conn: Connection,
        path: Option<PathBuf>,
        key: Option<&DbKey>,
    ) -> Result<Store> {
        // FULL: a commit that returned is durable even if power is lost
        // straight after; NORMAL in WAL mode could lose the last commits.
        conn.pragma_update(None, "synchronous", "FULL")?;
        conn.pragma_update(None, "foreign_keys", "ON")?;
        // 32 MiB of page cache (the default is 2 MiB): taking in a page of
        // ops touches the log, its index and every projection table.
        conn.pragma_update(None, "cache_size", -32768)?;
        // Statement journals and sorting b-trees in memory: on an
        // encrypted store every temporary file would be encrypted and
        // written too (measured: logging a request 1.44× → 1.29× the
        // plaintext store's time). They hold one statement's worth.
        conn.pragma_update(None, "temp_store", "MEMORY")?;
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
            numbers: log::Numbers::default(),
            key: key.map(DbKey::duplicate),
            past: None,
            checkpoint_every: past::CHECKPOINT_EVERY,
        };
        if found > 0 && found < schema::LATEST {
            // Projections changed shape: recompute them from the log.
            store.rebuild_projections()?;
        } else if store.net.is_hub && project::has_views(&store.conn)? {
            // A hub keeps the log layer alone; older versions projected
            // everything there too. Only tidying: a hub whose file cannot be
            // written now still serves, and tidies at its next start.
            let _ = (|| -> Result<()> {
                let tx = store.conn.transaction()?;
                project::clear_views(&tx)?;
                Ok(tx.commit()?)
            })();
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

/// Keys a fresh connection (a no-op for a plaintext store). Must run
/// before anything reads the file.
fn keyed(conn: &Connection, key: Option<&DbKey>) -> Result<()> {
    if let Some(key) = key {
        key.apply(conn)?;
    }
    Ok(())
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
