//! The crisis as it stood at a moment ("as of"), without reading the whole
//! log again for every moment.
//!
//! A view of the past is an in-memory store that holds projections only.
//! It reads the log where the log is, in the device's own file (attached as
//! `log`), through a temporary view `ops` that shows only the ops of its
//! moment: nothing is copied. Its projections are those ops projected as a
//! rebuild projects them ([`project_window`]): grants and revocations first,
//! then the rest by clock, each with the verdict recorded when it was taken
//! in.
//!
//! Projections are set functions of the ops applied: any order gives the
//! same tables (the live store takes ops in whatever order they arrive, and
//! the property tests hold it equal to a rebuild). So a view can start from
//! a checkpoint of the projections at an earlier moment and project only
//! the ops after it, and a view moved forward projects only the ops between
//! its two moments. `tests/past.rs` holds every way of reaching a moment
//! equal to a rebuild from nothing.
//!
//! **Checkpoints** (by the time ops were made) are kept in the device's
//! database, in `checkpoints`: the view's in-memory database at a moment,
//! compressed, one every [`CHECKPOINT_EVERY`] ops in clock order. They are
//! derived data. A view makes the ones it passes that are missing; taking in
//! an op made at or before a checkpoint's moment drops that checkpoint and
//! the later ones (the op would be missing from them); judging the log again
//! drops them all; each records the schema it was made with and is ignored
//! by any other. Views by the time ops were received replay from the start,
//! then move forward as the others do.

use crate::error::{Error, Result};
use crate::log::RawOp;
use crate::progress::Reporter;
use crate::{Basis, Store};
use relevo_core::payload::Payload;
use rusqlite::{params, Connection, OptionalExtension, Transaction};

/// Ops between two checkpoints. Measured on a million-op crisis (README,
/// Benchmarks): a view starts from its checkpoint and projects at most this
/// many ops.
pub(crate) const CHECKPOINT_EVERY: u64 = 100_000;

/// What makes a store a view of the past.
pub(crate) struct Past {
    basis: Basis,
    /// The moment its projections stand at.
    at: u64,
    /// The last op in the log when the view began (the log's highest
    /// rowid, in arrival order): a checkpoint is kept only while no op has
    /// arrived since, as one made before the view's moment would be missing
    /// from it.
    arrived: i64,
}

fn last_arrival(conn: &Connection) -> Result<i64> {
    Ok(
        conn.query_row("SELECT COALESCE(max(rowid), 0) FROM log.op_rows", [], |r| {
            r.get(0)
        })?,
    )
}

fn column(basis: Basis) -> &'static str {
    match basis {
        Basis::Made => "hlc_wall",
        Basis::Received => "received_at",
    }
}

fn ms(at: u64) -> i64 {
    i64::try_from(at).unwrap_or(i64::MAX)
}

/// Counts what [`project_window`] reads, for one progress report over
/// several windows.
pub(crate) struct Replay {
    progress: Reporter,
    done: u64,
}

impl Replay {
    pub(crate) fn start(total: u64) -> Replay {
        Replay {
            progress: Reporter::start(total),
            done: 0,
        }
    }

    pub(crate) fn finish(self) {
        self.progress.finish();
    }
}

/// Ops in `schema`'s log whose time (by `basis`) is after `from` (from the
/// start with `None`) and at or before `to`.
pub(crate) fn count_window(
    conn: &Connection,
    schema: &str,
    basis: Basis,
    from: Option<u64>,
    to: u64,
) -> Result<u64> {
    let col = column(basis);
    let n: i64 = conn.query_row(
        &format!("SELECT count(*) FROM {schema}.op_rows WHERE {col} > ?1 AND {col} <= ?2"),
        params![from.map(ms).unwrap_or(i64::MIN), ms(to)],
        |r| r.get(0),
    )?;
    Ok(n as u64)
}

/// Projects the ops of `schema`'s log in a window of time (see
/// [`count_window`]) into the projections `tx` writes: grants and
/// revocations first (every op is projected after the grant it was judged
/// with), then the rest by clock, each with the verdict recorded when it was
/// taken in. A hub projects only the facts its rules need.
pub(crate) fn project_window(
    tx: &Transaction,
    schema: &str,
    basis: Basis,
    from: Option<u64>,
    to: u64,
    hub: bool,
    replay: &mut Replay,
) -> Result<()> {
    let col = column(basis);
    for granting in [true, false] {
        // The partial index `ops_granting` finds the few grants; the rest
        // are read in clock order through `ops_by_clock`.
        let kinds = if granting {
            "o.kind IN ('device.grant', 'device.revoke')"
        } else {
            "o.kind NOT IN ('device.grant', 'device.revoke')"
        };
        let mut stmt = tx.prepare(&format!(
            "SELECT d.key, o.seq, o.hlc_wall, o.hlc_counter, o.author, o.kind, o.payload, o.prev,
                    o.signature, o.refused IS NOT NULL
             FROM {schema}.op_rows o JOIN {schema}.devices d ON d.id = o.device
             WHERE o.{col} > ?1 AND o.{col} <= ?2 AND {kinds}
             ORDER BY o.hlc_wall, o.hlc_counter, d.key, o.seq"
        ))?;
        let mut rows = stmt.query(params![from.map(ms).unwrap_or(i64::MIN), ms(to)])?;
        while let Some(row) = rows.next()? {
            replay.done += 1;
            replay.progress.tick(replay.done);
            if row.get::<_, bool>(9)? {
                continue;
            }
            let op = RawOp::read(row)?.into_op()?;
            // Ops of kinds this version does not know are skipped, as when
            // they were first applied.
            if let Ok(Some(payload)) = Payload::decode(&op.body.kind, &op.body.payload) {
                if hub {
                    crate::project::facts(tx, &op, &payload)?;
                } else {
                    crate::project::project(tx, &op, &payload)?;
                }
            }
        }
    }
    Ok(())
}

/// A checkpoint's moment and how much memory its image takes.
struct Checkpoint {
    upto: u64,
    bytes: usize,
}

impl Store {
    /// Keeps checkpoints of the past every `ops` ops from now on (the
    /// default is [`CHECKPOINT_EVERY`]; `u64::MAX` makes none).
    pub fn set_checkpoint_every(&mut self, ops: u64) {
        self.checkpoint_every = ops;
    }

    /// The moments checkpoints of the past are kept at, oldest first.
    pub fn checkpoints(&self) -> Result<Vec<u64>> {
        let mut moments = self.kept_in(if self.past.is_some() { "log" } else { "main" })?;
        moments.sort_unstable();
        Ok(moments)
    }

    /// Drops every checkpoint of the past (they are derived data: views
    /// make them again as they pass their moments). Returns how many.
    pub fn drop_checkpoints(&mut self) -> Result<u64> {
        let schema = if self.past.is_some() { "log" } else { "main" };
        Ok(self
            .conn
            .execute(&format!("DELETE FROM {schema}.checkpoints"), [])? as u64)
    }

    /// A view of the past over this store's log, by `basis`, standing at
    /// `at_ms`: from the nearest checkpoint at or before it (by the time ops
    /// were made), making the missing checkpoints it passes.
    pub(crate) fn past(&self, basis: Basis, at_ms: u64) -> Result<Store> {
        let start = match basis {
            Basis::Made => self.checkpoint_before(at_ms)?,
            Basis::Received => None,
        };
        self.view_from(basis, start, at_ms)
    }

    /// A view of the past by `basis` at `at_ms`, from a checkpoint of this
    /// store's (or from nothing), over this store's log.
    fn view_from(&self, basis: Basis, start: Option<Checkpoint>, at_ms: u64) -> Result<Store> {
        let mut then = match &start {
            Some(c) => self.restore(c)?,
            None => Store::open_in_memory()?,
        };
        if self.past.is_some() {
            // The log stays where it is: this view gives its attachment to
            // the new one by the same path (or, in memory, by copying it).
            self.handover_log(&mut then)?;
        } else {
            self.attach_log(&mut then)?;
        }
        then.checkpoint_every = self.checkpoint_every;
        then.past = Some(Past {
            basis,
            at: start.as_ref().map(|c| c.upto).unwrap_or(0),
            arrived: last_arrival(&then.conn)?,
        });
        then.reach(at_ms, start.is_none())?;
        Ok(then)
    }

    /// Moves a view of the past to `at_ms`: forward by projecting the ops
    /// between its moment and the new one, back by starting again from the
    /// nearest checkpoint. On any other store, an error.
    pub fn move_to(&mut self, at_ms: u64) -> Result<()> {
        let Some(past) = &self.past else {
            return Err(Error::Invalid(
                "only a view of the past moves in time".into(),
            ));
        };
        if at_ms >= past.at {
            return self.reach(at_ms, false);
        }
        let basis = past.basis;
        let start = match basis {
            Basis::Made => self.checkpoint_in_log(at_ms)?,
            Basis::Received => None,
        };
        *self = self.view_from(basis, start, at_ms)?;
        Ok(())
    }

    /// Projects the ops after this view's moment up to `at_ms` (from the
    /// start when `fresh`), making the checkpoints it passes, and shows the
    /// log up to `at_ms`.
    fn reach(&mut self, at_ms: u64, fresh: bool) -> Result<()> {
        let Some(past) = &self.past else {
            return Err(Error::Invalid("not a view of the past".into()));
        };
        let (basis, from) = (past.basis, (!fresh).then_some(past.at));
        let total = count_window(&self.conn, "log", basis, from, at_ms)?;
        let mut replay = Replay::start(total);
        let mut at = from;
        // Checkpoints are counted from where the view starts: a stretch
        // shorter than the distance between two passes none.
        if basis == Basis::Made && total >= self.checkpoint_every {
            for upto in self.boundaries(from, at_ms)? {
                self.project_until(basis, at, upto, &mut replay)?;
                self.save_checkpoint(upto)?;
                at = Some(upto);
            }
        }
        self.project_until(basis, at, at_ms, &mut replay)?;
        replay.finish();
        self.show_until(basis, at_ms)?;
        self.as_of = Some(at_ms);
        if let Some(past) = &mut self.past {
            past.at = at_ms;
        }
        Ok(())
    }

    fn project_until(
        &mut self,
        basis: Basis,
        from: Option<u64>,
        to: u64,
        replay: &mut Replay,
    ) -> Result<()> {
        // Projection code reads the ops it needs through `ops`: it sees
        // the window's end.
        self.show_until(basis, to)?;
        let tx = self.conn.transaction()?;
        project_window(&tx, "log", basis, from, to, false, replay)?;
        tx.commit()?;
        Ok(())
    }

    /// Where to keep checkpoints between `from` and `to`: the clock of
    /// every [`CHECKPOINT_EVERY`]th op after `from`, unless one is kept
    /// within that stretch already. (Counted from `from`, not from the
    /// start of the log, so that finding them reads only the stretch the
    /// view projects anyway.)
    fn boundaries(&self, from: Option<u64>, to: u64) -> Result<Vec<u64>> {
        let every = i64::try_from(self.checkpoint_every)
            .unwrap_or(i64::MAX)
            .max(1);
        let kept = self.kept_checkpoints()?;
        let mut stmt = self.conn.prepare_cached(
            "SELECT hlc_wall FROM log.op_rows WHERE hlc_wall > ?1
             ORDER BY hlc_wall LIMIT 1 OFFSET ?2",
        )?;
        let mut out = Vec::new();
        let mut at = from.map(ms).unwrap_or(i64::MIN);
        while let Some(wall) = stmt
            .query_row(params![at, every - 1], |r| r.get::<_, i64>(0))
            .optional()?
        {
            if wall >= ms(to) {
                break;
            }
            if !kept.iter().any(|&k| ms(k) > at && ms(k) <= wall) {
                out.push(wall as u64);
            }
            at = wall;
        }
        Ok(out)
    }

    fn kept_checkpoints(&self) -> Result<Vec<u64>> {
        self.kept_in("log")
    }

    fn kept_in(&self, schema: &str) -> Result<Vec<u64>> {
        let mut stmt = self.conn.prepare_cached(&format!(
            "SELECT upto FROM {schema}.checkpoints WHERE schema = ?1"
        ))?;
        let rows = stmt.query_map([crate::schema::LATEST], |r| r.get::<_, i64>(0))?;
        Ok(rows
            .collect::<rusqlite::Result<Vec<_>>>()?
            .into_iter()
            .map(|u| u as u64)
            .collect())
    }

    /// Keeps this view's projections, which stand at `upto`, as a
    /// checkpoint in the log's database, unless an op has arrived since the
    /// view began (the view may lack it; the store's other connections take
    /// ops in meanwhile, as the app's background sync does).
    fn save_checkpoint(&mut self, upto: u64) -> Result<()> {
        let arrived = self.past.as_ref().map(|p| p.arrived);
        let image = self.conn.serialize(rusqlite::MAIN_DB)?;
        let bytes = image.len();
        let packed = zstd::encode_all(&image[..], 1)?;
        drop(image);
        // Checked and written in one write transaction: an op taken in by
        // another connection comes before or after both.
        let tx = self
            .conn
            .transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)?;
        if Some(last_arrival(&tx)?) != arrived {
            return Ok(());
        }
        let ops: i64 = tx.query_row(
            "SELECT count(*) FROM log.op_rows WHERE hlc_wall <= ?1",
            [ms(upto)],
            |r| r.get(0),
        )?;
        tx.execute(
            "INSERT OR REPLACE INTO log.checkpoints (upto, schema, ops, bytes, image)
             VALUES (?1, ?2, ?3, ?4, ?5)",
            params![ms(upto), crate::schema::LATEST, ops, bytes as i64, packed],
        )?;
        tx.commit()?;
        Ok(())
    }

    /// The latest checkpoint at or before `at_ms`, in this store's own
    /// database.
    fn checkpoint_before(&self, at_ms: u64) -> Result<Option<Checkpoint>> {
        nearest(&self.conn, "main", at_ms)
    }

    /// [`Store::checkpoint_before`] for a view of the past, in its log.
    fn checkpoint_in_log(&self, at_ms: u64) -> Result<Option<Checkpoint>> {
        nearest(&self.conn, "log", at_ms)
    }

    /// A view of the past whose projections are a checkpoint's.
    fn restore(&self, checkpoint: &Checkpoint) -> Result<Store> {
        let schema = if self.past.is_some() { "log" } else { "main" };
        let packed: Vec<u8> = self.conn.query_row(
            &format!("SELECT image FROM {schema}.checkpoints WHERE upto = ?1"),
            [ms(checkpoint.upto)],
            |r| r.get(0),
        )?;
        let mut conn = Connection::open_in_memory()?;
        conn.deserialize_read_exact(
            rusqlite::MAIN_DB,
            zstd::Decoder::new(&packed[..])?,
            checkpoint.bytes,
            false,
        )?;
        Store::configure(conn, None, None)
    }

    /// Attaches this store's log to a view of the past, as `log`. The view
    /// keeps the file's key, to hand the log on (see `move_to`).
    fn attach_log(&self, then: &mut Store) -> Result<()> {
        then.key = self.key.as_ref().map(crate::DbKey::duplicate);
        match &self.path {
            Some(path) => attach_file(&then.conn, path, self.key.as_ref()),
            None => {
                // An in-memory store (tests, tools): its database is copied.
                then.conn
                    .execute_batch("ATTACH DATABASE ':memory:' AS log")?;
                rusqlite::backup::Backup::new_with_names(
                    &self.conn,
                    rusqlite::MAIN_DB,
                    &mut then.conn,
                    "log",
                )?
                .run_to_completion(1024, std::time::Duration::ZERO, None)?;
                Ok(())
            }
        }
    }

    /// Gives this view's log to another view of the same store.
    fn handover_log(&self, then: &mut Store) -> Result<()> {
        then.key = self.key.as_ref().map(crate::DbKey::duplicate);
        let file: String = self.conn.query_row(
            "SELECT file FROM pragma_database_list WHERE name = 'log'",
            [],
            |r| r.get(0),
        )?;
        if file.is_empty() {
            then.conn
                .execute_batch("ATTACH DATABASE ':memory:' AS log")?;
            rusqlite::backup::Backup::new_with_names(&self.conn, "log", &mut then.conn, "log")?
                .run_to_completion(1024, std::time::Duration::ZERO, None)?;
            Ok(())
        } else {
            attach_file(&then.conn, std::path::Path::new(&file), self.key.as_ref())?;
            Ok(())
        }
    }

    /// Shows the log's ops up to `at_ms` as `ops`, which the projection
    /// code and the views read.
    fn show_until(&self, basis: Basis, at_ms: u64) -> Result<()> {
        let col = column(basis);
        self.conn.execute_batch(&format!(
            "DROP VIEW IF EXISTS temp.ops;
             CREATE TEMP VIEW ops AS
                SELECT d.key AS device, o.seq AS seq, o.hlc_wall AS hlc_wall,
                       o.hlc_counter AS hlc_counter, o.author AS author, o.kind AS kind,
                       o.payload AS payload, o.prev AS prev, o.hash AS hash,
                       o.signature AS signature, o.received_at AS received_at,
                       o.refused AS refused
                FROM log.op_rows o JOIN log.devices d ON d.id = o.device
                WHERE o.{col} <= {};",
            ms(at_ms)
        ))?;
        Ok(())
    }
}

fn nearest(conn: &Connection, schema: &str, at_ms: u64) -> Result<Option<Checkpoint>> {
    Ok(conn
        .query_row(
            &format!(
                "SELECT upto, bytes FROM {schema}.checkpoints WHERE schema = ?1 AND upto <= ?2
                 ORDER BY upto DESC LIMIT 1"
            ),
            params![crate::schema::LATEST, ms(at_ms)],
            |r| {
                Ok(Checkpoint {
                    upto: r.get::<_, i64>(0)? as u64,
                    bytes: r.get::<_, i64>(1)? as usize,
                })
            },
        )
        .optional()?)
}

fn attach_file(
    conn: &Connection,
    path: &std::path::Path,
    key: Option<&crate::DbKey>,
) -> Result<()> {
    let path = path.to_str().ok_or_else(|| {
        Error::Invalid(format!("{} is not a path SQLite can open", path.display()))
    })?;
    let sql = match key {
        Some(key) => format!(
            "ATTACH DATABASE ?1 AS log KEY {}",
            key.attach_key().as_str()
        ),
        None => "ATTACH DATABASE ?1 AS log".to_owned(),
    };
    conn.execute(&sql, [path])?;
    Ok(())
}
