//! Embedded, numbered, append-only migrations.
//!
//! Migration N brings the schema from version N-1 to N and runs in its own
//! transaction together with the `user_version` bump, so a crash leaves the
//! database at N-1 or N, never in between. Never edit a migration that has
//! shipped: add the next one.

use crate::error::{Error, Result};
use rusqlite::{Connection, OpenFlags};
use std::path::Path;

/// "RELV": marks the file as ours in the SQLite header.
pub const APPLICATION_ID: i32 = 0x5245_4c56;

const MIGRATIONS: &[&str] = &[
    // 1: the op log, local identity and the first projections.
    r#"
    CREATE TABLE local_device (
        id         INTEGER PRIMARY KEY CHECK (id = 1),
        secret     BLOB NOT NULL,
        device     BLOB NOT NULL,
        person     BLOB NOT NULL,
        created_at INTEGER NOT NULL
    );

    -- Every op held, own and received. Never updated except to mark refused
    -- at insert time; never deleted.
    CREATE TABLE ops (
        device      BLOB NOT NULL,
        seq         INTEGER NOT NULL,
        hlc_wall    INTEGER NOT NULL,
        hlc_counter INTEGER NOT NULL,
        author      BLOB NOT NULL,
        kind        TEXT NOT NULL,
        payload     BLOB NOT NULL,
        prev        BLOB NOT NULL,
        hash        BLOB NOT NULL,
        signature   BLOB NOT NULL,
        received_at INTEGER NOT NULL,
        refused     TEXT,
        PRIMARY KEY (device, seq)
    ) WITHOUT ROWID;
    CREATE INDEX ops_by_clock ON ops (hlc_wall, hlc_counter, device, seq);

    -- Highest gapless seq per device and that op's hash: the version vector.
    CREATE TABLE device_heads (
        device BLOB PRIMARY KEY,
        seq    INTEGER NOT NULL,
        hash   BLOB NOT NULL
    ) WITHOUT ROWID;

    -- Verified ops that arrived before their predecessors; applied as soon
    -- as the gap closes.
    CREATE TABLE pending_ops (
        device      BLOB NOT NULL,
        seq         INTEGER NOT NULL,
        hlc_wall    INTEGER NOT NULL,
        hlc_counter INTEGER NOT NULL,
        author      BLOB NOT NULL,
        kind        TEXT NOT NULL,
        payload     BLOB NOT NULL,
        prev        BLOB NOT NULL,
        signature   BLOB NOT NULL,
        PRIMARY KEY (device, seq)
    ) WITHOUT ROWID;

    -- Per-device counters for human references (REQ-<tag>-<n>).
    CREATE TABLE local_counters (
        kind TEXT PRIMARY KEY,
        n    INTEGER NOT NULL
    ) WITHOUT ROWID;

    -- Device-local preferences (current crisis...). Not part of the record.
    CREATE TABLE settings (
        key   TEXT PRIMARY KEY,
        value TEXT NOT NULL
    ) WITHOUT ROWID;

    -- Projections: rebuilt from `ops` at any time. Each row names the op
    -- that created it (device, seq, clock); if two ops ever claim the same
    -- id, the earliest by (clock, device) wins on every replica alike.
    CREATE TABLE persons (
        id          BLOB PRIMARY KEY,
        name        TEXT NOT NULL,
        role        TEXT NOT NULL,
        country     TEXT NOT NULL,
        org         TEXT,
        demo        INTEGER NOT NULL,
        device      BLOB NOT NULL,
        seq         INTEGER NOT NULL,
        hlc_wall    INTEGER NOT NULL,
        hlc_counter INTEGER NOT NULL
    ) WITHOUT ROWID;

    CREATE TABLE crises (
        id          BLOB PRIMARY KEY,
        name        TEXT NOT NULL,
        countries   TEXT NOT NULL,
        demo        INTEGER NOT NULL,
        opened_by   BLOB NOT NULL,
        device      BLOB NOT NULL,
        seq         INTEGER NOT NULL,
        hlc_wall    INTEGER NOT NULL,
        hlc_counter INTEGER NOT NULL
    ) WITHOUT ROWID;

    CREATE TABLE requests (
        id           BLOB PRIMARY KEY,
        reference    TEXT NOT NULL,
        crisis       BLOB NOT NULL,
        country      TEXT NOT NULL,
        site         TEXT NOT NULL,
        sector       TEXT NOT NULL,
        people_total INTEGER NOT NULL,
        women        INTEGER,
        men          INTEGER,
        girls        INTEGER,
        boys         INTEGER,
        priority     TEXT NOT NULL,
        description  TEXT NOT NULL,
        author       BLOB NOT NULL,
        device       BLOB NOT NULL,
        seq          INTEGER NOT NULL,
        hlc_wall     INTEGER NOT NULL,
        hlc_counter  INTEGER NOT NULL
    ) WITHOUT ROWID;
    CREATE INDEX requests_by_crisis ON requests (crisis, hlc_wall, hlc_counter);
    CREATE INDEX requests_by_reference ON requests (reference);
    "#,
    // 2: coordination. Fields become multi-value registers; tasks, notes,
    // fulfilment and the roster arrive. Projections are derived, so the
    // request table is rebuilt from the log after this migration.
    r#"
    DROP TABLE requests;
    CREATE TABLE requests (
        id           BLOB PRIMARY KEY,
        reference    TEXT NOT NULL,
        crisis       BLOB NOT NULL,
        country      TEXT NOT NULL,
        site         TEXT NOT NULL,
        sector       TEXT NOT NULL,
        people       TEXT NOT NULL,
        people_total INTEGER NOT NULL,
        vulnerable   TEXT NOT NULL,
        items        TEXT NOT NULL,
        needed_by    INTEGER,
        priority     TEXT NOT NULL,
        description  TEXT NOT NULL,
        status       TEXT NOT NULL,
        duplicate_of TEXT,
        conflicts    INTEGER NOT NULL DEFAULT 0,
        author       BLOB NOT NULL,
        device       BLOB NOT NULL,
        seq          INTEGER NOT NULL,
        hlc_wall     INTEGER NOT NULL,
        hlc_counter  INTEGER NOT NULL
    ) WITHOUT ROWID;
    CREATE INDEX requests_by_crisis ON requests (crisis, hlc_wall, hlc_counter);
    CREATE INDEX requests_by_reference ON requests (reference);
    CREATE INDEX requests_by_status ON requests (crisis, status);

    CREATE TABLE tasks (
        id            BLOB PRIMARY KEY,
        reference     TEXT NOT NULL,
        crisis        BLOB NOT NULL,
        title         TEXT NOT NULL,
        description   TEXT,
        -- 'regional' or the country code of a national task
        scope         TEXT NOT NULL,
        sector        TEXT NOT NULL,
        priority      TEXT NOT NULL,
        due           INTEGER,
        status        TEXT NOT NULL,
        holder_person BLOB,
        holder_org    TEXT,
        conflicts     INTEGER NOT NULL DEFAULT 0,
        author        BLOB NOT NULL,
        device        BLOB NOT NULL,
        seq           INTEGER NOT NULL,
        hlc_wall      INTEGER NOT NULL,
        hlc_counter   INTEGER NOT NULL
    ) WITHOUT ROWID;
    CREATE INDEX tasks_by_crisis ON tasks (crisis, hlc_wall, hlc_counter);
    -- The board counts tasks per status under one filter at a time: each
    -- filter column is indexed with the status after it.
    CREATE INDEX tasks_by_status ON tasks (crisis, status, priority);
    CREATE INDEX tasks_by_scope ON tasks (crisis, scope, status);
    CREATE INDEX tasks_by_sector ON tasks (crisis, sector, status);
    CREATE INDEX tasks_by_person ON tasks (crisis, holder_person, status);
    CREATE INDEX tasks_by_org ON tasks (crisis, holder_org, status);
    CREATE INDEX tasks_by_priority ON tasks (crisis, priority, status);
    CREATE INDEX tasks_by_due ON tasks (crisis, due, status);
    CREATE INDEX tasks_by_reference ON tasks (reference);

    CREATE TABLE task_links (
        task    BLOB NOT NULL,
        request BLOB NOT NULL,
        PRIMARY KEY (task, request)
    ) WITHOUT ROWID;
    CREATE INDEX task_links_by_request ON task_links (request);

    ALTER TABLE crises ADD COLUMN status TEXT NOT NULL DEFAULT 'open';
    ALTER TABLE crises ADD COLUMN conflicts INTEGER NOT NULL DEFAULT 0;

    -- Every record with fields, and what it is.
    CREATE TABLE entities (
        id     BLOB PRIMARY KEY,
        kind   TEXT NOT NULL,
        crisis BLOB
    ) WITHOUT ROWID;

    -- Every field write, create ops included (a create writes every field).
    CREATE TABLE registers (
        entity      BLOB NOT NULL,
        field       TEXT NOT NULL,
        device      BLOB NOT NULL,
        seq         INTEGER NOT NULL,
        hlc_wall    INTEGER NOT NULL,
        hlc_counter INTEGER NOT NULL,
        value       TEXT NOT NULL,
        author      BLOB NOT NULL,
        kind        TEXT NOT NULL,
        text        TEXT,
        PRIMARY KEY (entity, field, device, seq)
    ) WITHOUT ROWID;

    -- Writes some later write saw and replaced. Heads = registers - superseded.
    CREATE TABLE superseded (
        entity BLOB NOT NULL,
        field  TEXT NOT NULL,
        device BLOB NOT NULL,
        seq    INTEGER NOT NULL,
        PRIMARY KEY (entity, field, device, seq)
    ) WITHOUT ROWID;

    -- Fields with more than one head.
    CREATE TABLE conflicts (
        entity BLOB NOT NULL,
        field  TEXT NOT NULL,
        kind   TEXT NOT NULL,
        crisis BLOB,
        heads  INTEGER NOT NULL,
        PRIMARY KEY (entity, field)
    ) WITHOUT ROWID;

    CREATE TABLE notes (
        device      BLOB NOT NULL,
        seq         INTEGER NOT NULL,
        entity      BLOB NOT NULL,
        hlc_wall    INTEGER NOT NULL,
        hlc_counter INTEGER NOT NULL,
        author      BLOB NOT NULL,
        text        TEXT NOT NULL,
        significant INTEGER NOT NULL,
        PRIMARY KEY (device, seq)
    ) WITHOUT ROWID;
    CREATE INDEX notes_by_entity ON notes (entity, hlc_wall, hlc_counter);

    CREATE TABLE fulfilments (
        device      BLOB NOT NULL,
        seq         INTEGER NOT NULL,
        request     BLOB NOT NULL,
        hlc_wall    INTEGER NOT NULL,
        hlc_counter INTEGER NOT NULL,
        author      BLOB NOT NULL,
        item        INTEGER,
        what        TEXT NOT NULL,
        quantity    REAL NOT NULL,
        unit        TEXT NOT NULL,
        by_org      TEXT,
        PRIMARY KEY (device, seq)
    ) WITHOUT ROWID;
    CREATE INDEX fulfilments_by_request ON fulfilments (request);

    CREATE TABLE orgs (
        id          TEXT PRIMARY KEY,
        name        TEXT NOT NULL,
        kind        TEXT NOT NULL,
        country     TEXT,
        device      BLOB NOT NULL,
        seq         INTEGER NOT NULL,
        hlc_wall    INTEGER NOT NULL,
        hlc_counter INTEGER NOT NULL
    ) WITHOUT ROWID;

    CREATE TABLE sites (
        id          TEXT PRIMARY KEY,
        name        TEXT NOT NULL,
        kind        TEXT NOT NULL,
        country     TEXT NOT NULL,
        pcode       TEXT,
        lat         REAL,
        lon         REAL,
        device      BLOB NOT NULL,
        seq         INTEGER NOT NULL,
        hlc_wall    INTEGER NOT NULL,
        hlc_counter INTEGER NOT NULL
    ) WITHOUT ROWID;

    -- People on the roster who hold tasks; those who use a device are in
    -- persons too (declared = 1).
    ALTER TABLE persons ADD COLUMN declared INTEGER NOT NULL DEFAULT 1;
    "#,
    // 3: sync with a hub: grants, demo devices, quarantined forks, the hub's
    // invitations and device tokens.
    r#"
    -- Projection: the network hub's grants. Every op of an enrolled device is
    -- judged with its grant; ops after `revoked_upto` are not accepted.
    CREATE TABLE grants (
        device        BLOB PRIMARY KEY,
        person        BLOB NOT NULL,
        name          TEXT NOT NULL,
        role          TEXT NOT NULL,
        country       TEXT NOT NULL,
        org           TEXT,
        hub_seq       INTEGER NOT NULL,
        revoked_upto  INTEGER,
        revoked_why   TEXT
    ) WITHOUT ROWID;

    -- Projection: devices with a demo identity. Their ops never leave this
    -- device.
    CREATE TABLE demo_devices (
        device BLOB PRIMARY KEY
    ) WITHOUT ROWID;

    -- The key this device signs its ops in the demo crisis with, so that its
    -- real log never depends on demo ops.
    CREATE TABLE local_demo (
        id     INTEGER PRIMARY KEY CHECK (id = 1),
        secret BLOB NOT NULL,
        device BLOB NOT NULL
    );

    -- Ops that contradict a device's history as held here: the same device
    -- and number with another hash, or a successor that does not chain
    -- (a cloned disk, a restored backup). Kept for a director, never merged.
    CREATE TABLE forks (
        device      BLOB NOT NULL,
        seq         INTEGER NOT NULL,
        hlc_wall    INTEGER NOT NULL,
        hlc_counter INTEGER NOT NULL,
        author      BLOB NOT NULL,
        kind        TEXT NOT NULL,
        payload     BLOB NOT NULL,
        prev        BLOB NOT NULL,
        signature   BLOB NOT NULL,
        hash        BLOB NOT NULL,
        received_at INTEGER NOT NULL,
        reason      TEXT NOT NULL,
        PRIMARY KEY (device, seq, hash)
    ) WITHOUT ROWID;

    -- Hub only: one-time invitations (only the code's hash is kept)...
    CREATE TABLE hub_invites (
        code_hash  BLOB PRIMARY KEY,
        name       TEXT NOT NULL,
        role       TEXT NOT NULL,
        country    TEXT NOT NULL,
        org        TEXT,
        created_at INTEGER NOT NULL,
        expires_at INTEGER NOT NULL,
        used_by    BLOB,
        used_at    INTEGER
    ) WITHOUT ROWID;

    -- ...and the enrolled devices' sync tokens (hashed).
    CREATE TABLE hub_devices (
        device      BLOB PRIMARY KEY,
        token_hash  BLOB NOT NULL UNIQUE,
        enrolled_at INTEGER NOT NULL
    ) WITHOUT ROWID;
    "#,
    // 4: review. When the hub received each op (as the hub told this
    // device), and the heads the hub signed, kept to show it never rewrote
    // its history.
    r#"
    CREATE TABLE hub_receipts (
        device BLOB NOT NULL,
        seq    INTEGER NOT NULL,
        at     INTEGER NOT NULL,
        PRIMARY KEY (device, seq)
    ) WITHOUT ROWID;

    CREATE TABLE hub_heads (
        at        INTEGER NOT NULL,
        root      BLOB NOT NULL,
        signature BLOB NOT NULL,
        -- (device 32 bytes, seq 8 bytes big-endian) per entry, by device.
        entries   BLOB NOT NULL,
        kept_at   INTEGER NOT NULL,
        PRIMARY KEY (at, root)
    ) WITHOUT ROWID;
    "#,
    // 5: a site's first-level admin area by name, for the review's 3W/5W,
    // the HXL `#adm1+name` column and the map.
    r#"
    ALTER TABLE sites ADD COLUMN adm1 TEXT;
    "#,
    // 6: the movement itself. Flow counts at monitoring points, the
    // early-warning alerts a surge raises (and the countries each concerns),
    // acknowledgements per country, the corridor, and the alert a task
    // prepares for.
    r#"
    CREATE TABLE flow_counts (
        id          BLOB PRIMARY KEY,
        reference   TEXT NOT NULL,
        crisis      BLOB NOT NULL,
        point       TEXT NOT NULL,
        country     TEXT NOT NULL,
        direction   TEXT NOT NULL,
        start_ms    INTEGER NOT NULL,
        end_ms      INTEGER NOT NULL,
        total       INTEGER NOT NULL,
        -- The whole count as JSON (breakdown, nationalities, groups...).
        body        TEXT NOT NULL,
        author      BLOB NOT NULL,
        device      BLOB NOT NULL,
        seq         INTEGER NOT NULL,
        hlc_wall    INTEGER NOT NULL,
        hlc_counter INTEGER NOT NULL
    ) WITHOUT ROWID;
    -- The surge rule and the corridor picture sum a point's counts by time.
    CREATE INDEX flows_by_point ON flow_counts (crisis, point, direction, end_ms, total);
    CREATE INDEX flows_by_time ON flow_counts (crisis, end_ms);

    CREATE TABLE alerts (
        id          BLOB PRIMARY KEY,
        reference   TEXT NOT NULL,
        crisis      BLOB NOT NULL,
        point       TEXT NOT NULL,
        country     TEXT NOT NULL,
        direction   TEXT NOT NULL,
        people      INTEGER NOT NULL,
        window_end  INTEGER NOT NULL,
        body        TEXT NOT NULL,
        author      BLOB NOT NULL,
        device      BLOB NOT NULL,
        seq         INTEGER NOT NULL,
        hlc_wall    INTEGER NOT NULL,
        hlc_counter INTEGER NOT NULL
    ) WITHOUT ROWID;
    CREATE INDEX alerts_by_crisis ON alerts (crisis, hlc_wall);
    CREATE INDEX alerts_by_point ON alerts (crisis, point, direction, window_end);

    CREATE TABLE alert_concerns (
        alert   BLOB NOT NULL,
        country TEXT NOT NULL,
        PRIMARY KEY (alert, country)
    ) WITHOUT ROWID;
    CREATE INDEX alert_concerns_by_country ON alert_concerns (country, alert);

    CREATE TABLE alert_acks (
        alert       BLOB NOT NULL,
        -- A country code, or 'regional'.
        scope       TEXT NOT NULL,
        author      BLOB NOT NULL,
        note        TEXT,
        device      BLOB NOT NULL,
        seq         INTEGER NOT NULL,
        hlc_wall    INTEGER NOT NULL,
        hlc_counter INTEGER NOT NULL,
        PRIMARY KEY (alert, scope)
    ) WITHOUT ROWID;

    CREATE TABLE corridor (
        id          INTEGER PRIMARY KEY CHECK (id = 1),
        body        TEXT NOT NULL,
        device      BLOB NOT NULL,
        seq         INTEGER NOT NULL,
        hlc_wall    INTEGER NOT NULL,
        hlc_counter INTEGER NOT NULL
    );

    ALTER TABLE tasks ADD COLUMN alert BLOB;
    CREATE INDEX tasks_by_alert ON tasks (alert) WHERE alert IS NOT NULL;
    "#,
    // 7: lean projections. A create op is the first write of each of its
    // record's fields, read from the op when needed: no register row per
    // field at create, and no `entities` table (a record's kind and crisis
    // are in its own row). Every commit that logs a request writes about a
    // quarter fewer pages. The projections are rebuilt from the log after
    // this migration, which drops the create rows from `registers`.
    r#"
    DROP TABLE entities;
    "#,
    // 8: references are found as people type them, in any case
    // (`upper(reference) = upper(?)`), which the plain indexes on
    // `reference` could not serve: every lookup read the whole table.
    r#"
    DROP INDEX requests_by_reference;
    CREATE INDEX requests_by_reference ON requests (upper(reference));
    DROP INDEX tasks_by_reference;
    CREATE INDEX tasks_by_reference ON tasks (upper(reference));
    "#,
    // 9: what the log already says is no longer kept beside it, so that a
    // commit writes two pages fewer.
    // - A device's head: `ops` holds only gapless chains (ops that arrive
    //   early wait in `pending_ops`), so a device's head is its op with the
    //   highest seq, found through the primary key. `devices` is written
    //   once per device.
    // - Reference numbers: each key's chain holds every reference it gave,
    //   which is what a reference must be unique against (its tag names the
    //   key); `log::Numbers` reads them.
    // - Requests by status: the status joins the crisis index, where a list
    //   filtered by status reads it newest first without fetching rows it
    //   leaves out (on 20,000 requests, a status held by 98% of them was
    //   listed in 32 ms through the status index, which made SQLite sort
    //   them all).
    // - Waiting ops whose own signature does not verify wait for a signed
    //   op of their chain to cover them (`relevo_core::op::authenticate_page`):
    //   `authentic` is 1 when the op's own signature verifies. The partial
    //   index finds a signed op waiting above another without reading the
    //   unsigned ones.
    r#"
    ALTER TABLE pending_ops ADD COLUMN authentic INTEGER NOT NULL DEFAULT 1;
    CREATE INDEX pending_signed ON pending_ops (device, seq) WHERE authentic = 1;
    DROP TABLE local_counters;
    DROP INDEX requests_by_status;
    DROP INDEX requests_by_crisis;
    CREATE INDEX requests_by_crisis ON requests (crisis, hlc_wall, hlc_counter, status);
    CREATE TABLE devices (
        id  INTEGER PRIMARY KEY,
        key BLOB NOT NULL UNIQUE
    );
    INSERT INTO devices (key) SELECT device FROM device_heads ORDER BY device;
    DROP TABLE device_heads;
    CREATE VIEW device_heads AS
        SELECT d.key AS device, o.seq AS seq, o.hash AS hash
        FROM devices d JOIN ops o ON o.device = d.key
        AND o.seq = (SELECT max(m.seq) FROM ops m WHERE m.device = d.key);
    "#,
    // 10: rows are stored in the order they arrive, so that taking in a
    // page of ops appends to each big table instead of splitting pages in
    // the middle of it. Keyed by (device, seq) or by record id, ops from 20
    // devices interleaved in clock order went into 20 places in `ops`, and
    // SQLite's rebalancing rewrote neighbouring pages that an earlier commit
    // had already written: merging 100,000 ops wrote 1.64 pages per page
    // `ops` ended with, 1.89 for `requests` (WAL frames counted per table).
    // In a rowid table the row goes at the end; only the narrow unique index
    // that finds it by key is written in many places.
    // - The log's rows move to `op_rows`, in arrival order (the old rows
    //   are copied in the order they were received). A device is named
    //   there by its small integer id in `devices` instead of its 32-byte
    //   key, in the row and in both indexes. `ops` becomes a view giving
    //   every op with its device's key, as before: everything reads the log
    //   through it, and only the log's writers (`log::INSERT_OP` and the
    //   updates beside it) name `op_rows`.
    // - `requests`, `tasks` and `flow_counts` are projections: they are
    //   recreated empty with the same columns and filled again from the log
    //   when the store opens (every migration rebuilds the projections).
    // - Views of the past start from checkpoints of the projections
    //   (`checkpoints`, see `past`), and a rebuild finds the grants it
    //   projects first through a partial index instead of sorting the log.
    // - References are indexed by (length, upper case): among one key's
    //   references of one length, text order is number order, so a device's
    //   new references go at the end of its run instead of between
    //   REQ-X-199 and REQ-X-2 (the `upper(reference)` index was rewritten
    //   4.4 times over while merging).
    r#"
    DROP VIEW device_heads;
    INSERT OR IGNORE INTO devices (key) SELECT DISTINCT device FROM ops ORDER BY device;
    CREATE TABLE op_rows (
        device      INTEGER NOT NULL,
        seq         INTEGER NOT NULL,
        hlc_wall    INTEGER NOT NULL,
        hlc_counter INTEGER NOT NULL,
        author      BLOB NOT NULL,
        kind        TEXT NOT NULL,
        payload     BLOB NOT NULL,
        prev        BLOB NOT NULL,
        hash        BLOB NOT NULL,
        signature   BLOB NOT NULL,
        received_at INTEGER NOT NULL,
        refused     TEXT
    );
    INSERT INTO op_rows
        SELECT d.id, o.seq, o.hlc_wall, o.hlc_counter, o.author, o.kind, o.payload, o.prev,
               o.hash, o.signature, o.received_at, o.refused
        FROM ops o JOIN devices d ON d.key = o.device
        ORDER BY o.received_at, o.device, o.seq;
    DROP TABLE ops;
    CREATE UNIQUE INDEX ops_by_device ON op_rows (device, seq);
    CREATE INDEX ops_by_clock ON op_rows (hlc_wall, hlc_counter, device, seq);
    -- The few grants and revocations, which a rebuild projects first.
    CREATE INDEX ops_granting ON op_rows (hlc_wall)
        WHERE kind IN ('device.grant', 'device.revoke');
    -- Checkpoints of the projections for views of the past (`past`):
    -- derived data, each the projections of every op made at or before
    -- `upto`, as a compressed image of `bytes` bytes.
    CREATE TABLE checkpoints (
        upto   INTEGER PRIMARY KEY,
        schema INTEGER NOT NULL,
        ops    INTEGER NOT NULL,
        bytes  INTEGER NOT NULL,
        image  BLOB NOT NULL
    );
    CREATE VIEW ops AS
        SELECT d.key AS device, o.seq AS seq, o.hlc_wall AS hlc_wall,
               o.hlc_counter AS hlc_counter, o.author AS author, o.kind AS kind,
               o.payload AS payload, o.prev AS prev, o.hash AS hash,
               o.signature AS signature, o.received_at AS received_at,
               o.refused AS refused
        FROM op_rows o JOIN devices d ON d.id = o.device;
    -- CROSS JOIN keeps SQLite from scanning the log for the heads: it
    -- walks the devices and reads each one's last op through its index.
    CREATE VIEW device_heads AS
        SELECT d.key AS device, o.seq AS seq, o.hash AS hash
        FROM devices d CROSS JOIN op_rows o ON o.device = d.id
        AND o.seq = (SELECT max(m.seq) FROM op_rows m WHERE m.device = d.id);

    DROP TABLE requests;
    CREATE TABLE requests (
        id           BLOB NOT NULL UNIQUE,
        reference    TEXT NOT NULL,
        crisis       BLOB NOT NULL,
        country      TEXT NOT NULL,
        site         TEXT NOT NULL,
        sector       TEXT NOT NULL,
        people       TEXT NOT NULL,
        people_total INTEGER NOT NULL,
        vulnerable   TEXT NOT NULL,
        items        TEXT NOT NULL,
        needed_by    INTEGER,
        priority     TEXT NOT NULL,
        description  TEXT NOT NULL,
        status       TEXT NOT NULL,
        duplicate_of TEXT,
        conflicts    INTEGER NOT NULL DEFAULT 0,
        author       BLOB NOT NULL,
        device       BLOB NOT NULL,
        seq          INTEGER NOT NULL,
        hlc_wall     INTEGER NOT NULL,
        hlc_counter  INTEGER NOT NULL
    );
    CREATE INDEX requests_by_crisis ON requests (crisis, hlc_wall, hlc_counter, status);
    CREATE INDEX requests_by_reference ON requests (length(reference), upper(reference));

    DROP TABLE tasks;
    CREATE TABLE tasks (
        id            BLOB NOT NULL UNIQUE,
        reference     TEXT NOT NULL,
        crisis        BLOB NOT NULL,
        title         TEXT NOT NULL,
        description   TEXT,
        -- 'regional' or the country code of a national task
        scope         TEXT NOT NULL,
        sector        TEXT NOT NULL,
        priority      TEXT NOT NULL,
        due           INTEGER,
        status        TEXT NOT NULL,
        holder_person BLOB,
        holder_org    TEXT,
        conflicts     INTEGER NOT NULL DEFAULT 0,
        author        BLOB NOT NULL,
        device        BLOB NOT NULL,
        seq           INTEGER NOT NULL,
        hlc_wall      INTEGER NOT NULL,
        hlc_counter   INTEGER NOT NULL,
        alert         BLOB
    );
    CREATE INDEX tasks_by_crisis ON tasks (crisis, hlc_wall, hlc_counter);
    CREATE INDEX tasks_by_status ON tasks (crisis, status, priority);
    CREATE INDEX tasks_by_scope ON tasks (crisis, scope, status);
    CREATE INDEX tasks_by_sector ON tasks (crisis, sector, status);
    CREATE INDEX tasks_by_person ON tasks (crisis, holder_person, status);
    CREATE INDEX tasks_by_org ON tasks (crisis, holder_org, status);
    CREATE INDEX tasks_by_priority ON tasks (crisis, priority, status);
    CREATE INDEX tasks_by_due ON tasks (crisis, due, status);
    CREATE INDEX tasks_by_reference ON tasks (length(reference), upper(reference));
    CREATE INDEX tasks_by_alert ON tasks (alert) WHERE alert IS NOT NULL;

    DROP TABLE flow_counts;
    CREATE TABLE flow_counts (
        id          BLOB NOT NULL UNIQUE,
        reference   TEXT NOT NULL,
        crisis      BLOB NOT NULL,
        point       TEXT NOT NULL,
        country     TEXT NOT NULL,
        direction   TEXT NOT NULL,
        start_ms    INTEGER NOT NULL,
        end_ms      INTEGER NOT NULL,
        total       INTEGER NOT NULL,
        -- The whole count as JSON (breakdown, nationalities, groups...).
        body        TEXT NOT NULL,
        author      BLOB NOT NULL,
        device      BLOB NOT NULL,
        seq         INTEGER NOT NULL,
        hlc_wall    INTEGER NOT NULL,
        hlc_counter INTEGER NOT NULL
    );
    CREATE INDEX flows_by_point ON flow_counts (crisis, point, direction, end_ms, total);
    CREATE INDEX flows_by_time ON flow_counts (crisis, end_ms);
    "#,
];

/// The schema version this binary writes.
pub const LATEST: i64 = MIGRATIONS.len() as i64;

/// Is this failure the disk's or the folder's (full, unwritable, a read
/// that failed) rather than damage in the file?
pub(crate) fn is_io(e: &rusqlite::Error) -> bool {
    matches!(
        e.sqlite_error_code(),
        Some(
            rusqlite::ErrorCode::SystemIoFailure
                | rusqlite::ErrorCode::DiskFull
                | rusqlite::ErrorCode::CannotOpen
                | rusqlite::ErrorCode::ReadOnly
                | rusqlite::ErrorCode::PermissionDenied
        )
    )
}

/// [`preflight`], on the file as it stands (`immutable`: without the
/// shared-memory file, for a disk too full to create one).
pub(crate) fn preflight_with(
    path: &Path,
    immutable: bool,
    key: Option<&crate::DbKey>,
) -> Result<()> {
    let corrupt = |e: rusqlite::Error| {
        if is_io(&e) {
            Error::Unavailable {
                path: path.to_owned(),
                detail: e.to_string(),
            }
        } else {
            Error::Corrupt {
                path: path.to_owned(),
                detail: e.to_string(),
            }
        }
    };
    let conn = if immutable {
        Connection::open_with_flags(
            immutable_uri(path),
            OpenFlags::SQLITE_OPEN_READ_ONLY
                | OpenFlags::SQLITE_OPEN_NO_MUTEX
                | OpenFlags::SQLITE_OPEN_URI,
        )
    } else {
        Connection::open_with_flags(
            path,
            OpenFlags::SQLITE_OPEN_READ_ONLY | OpenFlags::SQLITE_OPEN_NO_MUTEX,
        )
    }
    .map_err(corrupt)?;
    crate::keyed(&conn, key)?;
    let version: i64 = conn
        .pragma_query_value(None, "user_version", |r| r.get(0))
        .map_err(|e| {
            if key.is_some() && e.sqlite_error_code() == Some(rusqlite::ErrorCode::NotADatabase) {
                // The first page of an encrypted file read with another
                // key looks like noise, as does a damaged one.
                Error::CannotDecrypt {
                    path: path.to_owned(),
                }
            } else {
                corrupt(e)
            }
        })?;
    let app_id: i32 = conn
        .pragma_query_value(None, "application_id", |r| r.get(0))
        .map_err(corrupt)?;
    let tables: i64 = conn
        .query_row("SELECT count(*) FROM sqlite_master", [], |r| r.get(0))
        .map_err(corrupt)?;
    if app_id != APPLICATION_ID && (app_id != 0 || tables > 0) {
        return Err(Error::NotRelevo {
            path: path.to_owned(),
        });
    }
    if version > LATEST {
        return Err(Error::SchemaTooNew {
            path: path.to_owned(),
            found: version,
            supported: LATEST,
        });
    }
    let check: String = conn
        .query_row("PRAGMA quick_check(1)", [], |r| r.get(0))
        .map_err(corrupt)?;
    if check != "ok" {
        return Err(Error::Corrupt {
            path: path.to_owned(),
            detail: check,
        });
    }
    Ok(())
}

/// A URI that opens `path` as a file nobody changes: no locks, no
/// shared-memory file (which a full disk cannot hold).
pub(crate) fn immutable_uri(path: &Path) -> String {
    let mut uri = String::from("file:");
    for b in path.to_string_lossy().bytes() {
        match b {
            b'?' | b'#' | b'%' => uri.push_str(&format!("%{b:02X}")),
            _ => uri.push(b as char),
        }
    }
    uri.push_str("?immutable=1");
    uri
}

/// Brings the schema to [`LATEST`], one migration per transaction. Returns
/// the version found, so the caller can rebuild projections after upgrading
/// an existing database.
pub fn migrate(conn: &mut Connection) -> Result<i64> {
    let current: i64 = conn.pragma_query_value(None, "user_version", |r| r.get(0))?;
    if current > LATEST {
        return Err(Error::SchemaTooNew {
            path: "the database".into(),
            found: current,
            supported: LATEST,
        });
    }
    for (index, sql) in MIGRATIONS.iter().enumerate().skip(current as usize) {
        let version = index as i64 + 1;
        let tx = conn.transaction()?;
        tx.execute_batch(sql)?;
        tx.pragma_update(None, "application_id", APPLICATION_ID)?;
        tx.pragma_update(None, "user_version", version)?;
        tx.commit()?;
    }
    Ok(current)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::Store;
    use relevo_core::domain::{CrisisDraft, IdentityDraft, RequestDraft};

    /// Finding a request or a task by the reference a person typed, in any
    /// case, reads one index entry, not the whole table.
    #[test]
    fn a_reference_is_found_through_its_index() {
        let s = Store::open_in_memory().expect("store");
        for (table, index) in [
            ("requests", "requests_by_reference"),
            ("tasks", "tasks_by_reference"),
        ] {
            let sql = crate::coord::find_sql(table, false);
            let plan: Vec<String> = s
                .conn
                .prepare(&format!("EXPLAIN QUERY PLAN {sql}"))
                .expect("plan")
                .query_map(["req-abc-1"], |r| r.get::<_, String>(3))
                .expect("rows")
                .collect::<rusqlite::Result<_>>()
                .expect("plan rows");
            assert!(
                plan.iter()
                    .any(|step| step.contains(&format!("USING INDEX {index}"))),
                "{table}: {plan:?}"
            );
        }
    }

    /// A database written by the first release (schema 1) opens: the new
    /// tables are made and the projections rebuilt from its log.
    #[test]
    fn a_schema_1_database_is_upgraded_and_reprojected() {
        use relevo_core::Reference;
        let dir = tempfile::tempdir().expect("tempdir");
        let new = dir.path().join("new.db");
        let old = dir.path().join("old.db");
        let reference = {
            let mut s = Store::open_unencrypted(&new).expect("open");
            s.init_identity(&IdentityDraft {
                name: "Ana".into(),
                role: "field-coordinator".into(),
                country: "GT".into(),
                org: String::new(),
            })
            .expect("init");
            s.open_crisis(&CrisisDraft {
                name: "Flujo".into(),
                countries: vec!["GT".into()],
            })
            .expect("crisis");
            s.add_request(&RequestDraft {
                country: "GT".into(),
                site: "Tecún Umán".into(),
                sector: "wash".into(),
                people_total: Some(40.0),
                priority: "high".into(),
                description: "Agua".into(),
                ..Default::default()
            })
            .expect("request")
            .reference
        };
        // The same log in a schema-1 file (the op tables did not change).
        {
            let mut conn = Connection::open(&old).expect("old");
            let tx = conn.transaction().expect("tx");
            tx.execute_batch(MIGRATIONS[0]).expect("schema 1");
            tx.pragma_update(None, "application_id", APPLICATION_ID)
                .expect("id");
            tx.pragma_update(None, "user_version", 1).expect("version");
            tx.execute("ATTACH DATABASE ?1 AS new", [new.to_str().expect("path")])
                .expect("attach");
            // (Today's `device_heads` is a view of `ops`; schema 1 kept
            // reference counters, which the chain now gives.)
            for table in ["local_device", "ops", "device_heads", "settings"] {
                tx.execute(
                    &format!("INSERT INTO {table} SELECT * FROM new.{table}"),
                    [],
                )
                .expect("copy");
            }
            tx.commit().expect("commit");
            conn.execute("DETACH DATABASE new", []).expect("detach");
        }
        // Opened with a key, the plaintext file is also encrypted in place.
        let s = Store::open(&old, &crate::DbKey::from_bytes([3; 32])).expect("upgrade");
        assert!(crate::keys::is_encrypted(&old));
        let version: i64 = s
            .conn
            .pragma_query_value(None, "user_version", |r| r.get(0))
            .expect("version");
        assert_eq!(version, LATEST);
        let crisis = s.current_crisis().expect("q").expect("crisis");
        let requests = s.requests(crisis.id).expect("requests");
        assert_eq!(requests.len(), 1);
        assert_eq!(requests[0].reference, reference);
        assert_eq!(requests[0].status.slug(), "new");
        assert!(s.verify().expect("verify").intact());
        // The next reference follows the one the old file gave.
        let mut s = s;
        let next = s
            .add_request(&relevo_core::domain::RequestDraft {
                country: "GT".into(),
                site: "Tecún Umán".into(),
                sector: "wash".into(),
                people_total: Some(3.0),
                priority: "high".into(),
                description: "Agua".into(),
                ..Default::default()
            })
            .expect("next request");
        assert_eq!(
            Reference::number(&next.reference),
            Reference::number(&reference).map(|n| n + 1)
        );
    }
}
