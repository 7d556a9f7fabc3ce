//! The op log: making local ops, taking in ops from elsewhere, verifying.
//!
//! Two kinds of refusal are kept apart (see ARCHITECTURE.md): an op whose
//! signature or chain does not check out was not made by the device it names
//! and is never stored; an op that is genuine but breaks a domain rule is
//! stored, marked refused with the reason, and left out of the projections.

use crate::error::{Error, Result};
use crate::project;
use crate::{now_ms, Local, Store};
use rand_core::OsRng;
use relevo_core::domain::{Country, Role};
use relevo_core::hlc::is_due;
use relevo_core::ids::{RefKind, Reference};
use relevo_core::op::MAX_SEQ;
use relevo_core::op::{Authenticity, OpFault};
use relevo_core::payload::{Payload, PersonDeclared, PERSON_DECLARE};
use relevo_core::permissions::Actor;
use relevo_core::rules::{self, Context, Dep, Refused};
use relevo_core::{Clock, DeviceId, DeviceKey, EntityId, Hlc, Op, OpHash, OpRef, UnsignedOp};
use rusqlite::types::Value;
use rusqlite::{
    params, params_from_iter, Connection, OptionalExtension, Transaction, TransactionBehavior,
};
use serde::Serialize;
use std::collections::{BTreeMap, HashMap, HashSet};

/// Ops of one device that may wait at once (for earlier ops of its device,
/// the ops they name, its grant or their time): a device that sends ops
/// naming what never comes fills its own allowance, not the store.
pub const MAX_WAITING_OPS: u64 = 10_000;
/// Bytes of payload of one device's waiting ops.
pub const MAX_WAITING_BYTES: u64 = 16 << 20;
/// Ops that may wait at once in all, whatever their devices: a hostile
/// source inventing devices fills this, not the disk.
pub const MAX_WAITING_TOTAL: u64 = 200_000;
/// Bytes of payload of all waiting ops.
pub const MAX_WAITING_TOTAL_BYTES: u64 = 256 << 20;
/// Forks kept in quarantine per device: enough evidence for a director;
/// more are counted as forks but not stored.
pub const MAX_FORKS: u64 = 32;
/// Bytes of payload kept in quarantine per device.
pub const MAX_FORK_BYTES: u64 = 4 << 20;
/// Forks kept in quarantine in all.
pub const MAX_FORKS_TOTAL: u64 = 10_000;

/// What happened to an op offered to [`Store::ingest`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Ingest {
    /// Stored, with this many ops in all (it and the waiting ops it unblocked).
    Applied(usize),
    /// Already held: nothing changed.
    Duplicate,
    /// Held back until the device's earlier ops (or the ops it names, or its
    /// device's grant) arrive.
    Pending,
    /// Contradicts the device's history as held here: quarantined for a
    /// director, not merged.
    Forked,
}

/// Which network a store belongs to; see [`Store::hub`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub(crate) struct Net {
    /// The hub whose grants count; `None` for a device used alone, which
    /// trusts each device's own declaration.
    pub hub: Option<DeviceId>,
    /// This store is the hub: it refuses, rather than holds back, ops of
    /// devices it has not enrolled.
    pub is_hub: bool,
}

pub(crate) fn load_local(conn: &Connection) -> Result<Option<Local>> {
    let row: Option<(Vec<u8>, Vec<u8>)> = conn
        .query_row(
            "SELECT secret, person FROM local_device WHERE id = 1",
            [],
            |r| Ok((r.get(0)?, r.get(1)?)),
        )
        .optional()?;
    let Some((secret, person)) = row else {
        return Ok(None);
    };
    let secret: [u8; 32] = secret
        .try_into()
        .map_err(|_| damaged("the device key has the wrong length"))?;
    Ok(Some(Local {
        key: DeviceKey::from_secret(secret),
        person: entity_id(&person)?,
    }))
}

pub(crate) fn max_hlc(conn: &Connection) -> Result<Hlc> {
    let hlc = conn
        .query_row("SELECT hlc_wall, hlc_counter FROM ops ORDER BY hlc_wall DESC, hlc_counter DESC LIMIT 1", [], |r| {
            Ok(Hlc::new(r.get::<_, i64>(0)? as u64, r.get(1)?))
        })
        .optional()?;
    Ok(hlc.unwrap_or(Hlc::ZERO))
}

pub(crate) fn damaged(detail: &str) -> Error {
    Error::Corrupt {
        path: "the database".into(),
        detail: detail.to_owned(),
    }
}

pub(crate) fn entity_id(bytes: &[u8]) -> Result<EntityId> {
    let b: [u8; 16] = bytes
        .try_into()
        .map_err(|_| damaged("an entity id has the wrong length"))?;
    Ok(EntityId::from_bytes(b))
}

pub(crate) fn device_id(bytes: &[u8]) -> Result<DeviceId> {
    let b: [u8; 32] = bytes
        .try_into()
        .map_err(|_| damaged("a device id has the wrong length"))?;
    Ok(DeviceId::from_bytes(b))
}

fn op_hash(bytes: &[u8]) -> Result<OpHash> {
    let b: [u8; 32] = bytes
        .try_into()
        .map_err(|_| damaged("an op hash has the wrong length"))?;
    Ok(OpHash(b))
}

/// What one transaction that takes in or makes ops remembers instead of
/// asking SQLite again for every op: the device heads and grants it has read
/// or written, and whether any op may be waiting in `pending_ops`.
#[derive(Default)]
pub(crate) struct Seen {
    heads: HashMap<DeviceId, (u64, OpHash)>,
    grants: HashMap<DeviceId, Option<Grant>>,
    waiting: Option<bool>,
    /// Per device: how many of its ops wait, and their payload bytes.
    load: HashMap<DeviceId, (u64, u64)>,
    /// The same for every device together.
    total: Option<(u64, u64)>,
}

impl Seen {
    fn head(&mut self, tx: &Connection, device: &DeviceId) -> Result<(u64, OpHash)> {
        if let Some(h) = self.heads.get(device) {
            return Ok(*h);
        }
        let h = head(tx, device)?;
        self.heads.insert(*device, h);
        Ok(h)
    }

    fn grant(&mut self, tx: &Connection, device: &DeviceId) -> Result<Option<Grant>> {
        if let Some(g) = self.grants.get(device) {
            return Ok(g.clone());
        }
        let g = grant(tx, device)?;
        self.grants.insert(*device, g.clone());
        Ok(g)
    }

    fn load(&mut self, tx: &Connection, device: &DeviceId) -> Result<&mut (u64, u64)> {
        if !self.load.contains_key(device) {
            let load = tally(tx, Held::Waiting, Some(device))?;
            self.load.insert(*device, load);
        }
        Ok(self.load.get_mut(device).expect("inserted above"))
    }

    fn total(&mut self, tx: &Connection) -> Result<&mut (u64, u64)> {
        if self.total.is_none() {
            self.total = Some(tally(tx, Held::Waiting, None)?);
        }
        Ok(self.total.as_mut().expect("set above"))
    }

    /// One waiting op of `device`, of `size` payload bytes, is gone.
    fn unload(&mut self, device: &DeviceId, size: u64) {
        let less = |(n, bytes): &mut (u64, u64)| {
            *n = n.saturating_sub(1);
            *bytes = bytes.saturating_sub(size);
        };
        if let Some(load) = self.load.get_mut(device) {
            less(load);
        }
        if let Some(total) = self.total.as_mut() {
            less(total);
        }
    }

    fn waiting(&mut self, tx: &Connection) -> Result<bool> {
        if let Some(w) = self.waiting {
            return Ok(w);
        }
        let w = tx
            .prepare_cached("SELECT EXISTS (SELECT 1 FROM pending_ops)")?
            .query_row([], |r| r.get(0))?;
        self.waiting = Some(w);
        Ok(w)
    }
}

/// The tables that hold ops outside the log, with an allowance each.
#[derive(Clone, Copy)]
enum Held {
    Waiting,
    Forks,
}

/// How many ops `held` keeps of one device (or of all) and their payload
/// bytes.
fn tally(tx: &Connection, held: Held, device: Option<&DeviceId>) -> Result<(u64, u64)> {
    let table = match held {
        Held::Waiting => "pending_ops",
        Held::Forks => "forks",
    };
    let sql = format!("SELECT count(*), COALESCE(sum(length(payload)), 0) FROM {table}");
    let row = |r: &rusqlite::Row<'_>| Ok((r.get::<_, i64>(0)? as u64, r.get::<_, i64>(1)? as u64));
    Ok(match device {
        Some(d) => tx
            .prepare_cached(&format!("{sql} WHERE device = ?1"))?
            .query_row([d.as_bytes()], row)?,
        None => tx.prepare_cached(&sql)?.query_row([], row)?,
    })
}

/// The device's highest gapless seq and that op's hash.
fn head(tx: &Connection, device: &DeviceId) -> Result<(u64, OpHash)> {
    let row: Option<(i64, Vec<u8>)> = tx
        .prepare_cached("SELECT seq, hash FROM ops WHERE device = ?1 ORDER BY seq DESC LIMIT 1")?
        .query_row([device.as_bytes()], |r| Ok((r.get(0)?, r.get(1)?)))
        .optional()?;
    match row {
        None => Ok((0, OpHash::GENESIS)),
        Some((seq, hash)) => Ok((seq as u64, op_hash(&hash)?)),
    }
}

/// Who uses a device, as the rules see it: in a network, the hub's grant
/// (a demo device, which never leaves this device, declares itself); alone,
/// the person the device declared in its first op.
fn declared(
    tx: &Connection,
    seen: &mut Seen,
    device: &DeviceId,
    net: Net,
) -> Result<Option<(EntityId, Actor)>> {
    if net.hub.is_some() {
        if let Some(grant) = seen.grant(tx, device)? {
            return Ok(Some((grant.person, grant.actor)));
        }
    }
    let payload: Option<Vec<u8>> = tx
        .prepare_cached("SELECT payload FROM ops WHERE device = ?1 AND seq = 1 AND kind = ?2")?
        .query_row(params![device.as_bytes(), PERSON_DECLARE], |r| r.get(0))
        .optional()?;
    Ok(payload
        .and_then(|p| serde_json::from_slice::<PersonDeclared>(&p).ok())
        .filter(|p| net.hub.is_none() || p.demo)
        .map(|p| {
            (
                p.id,
                Actor {
                    role: p.role,
                    country: p.country,
                },
            )
        }))
}

/// A device's grant from the network's hub.
#[derive(Clone)]
pub(crate) struct Grant {
    pub person: EntityId,
    pub actor: Actor,
    pub revoked_upto: Option<u64>,
}

pub(crate) fn grant(tx: &Connection, device: &DeviceId) -> Result<Option<Grant>> {
    let row: Option<(Vec<u8>, String, String, Option<i64>)> = tx
        .prepare_cached("SELECT person, role, country, revoked_upto FROM grants WHERE device = ?1")?
        .query_row([device.as_bytes()], |r| {
            Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?))
        })
        .optional()?;
    let Some((person, role, country, revoked)) = row else {
        return Ok(None);
    };
    let role = Role::parse(&role).ok_or_else(|| damaged("a grant names an unknown role"))?;
    let country =
        Country::parse(&country).ok_or_else(|| damaged("a grant names an unknown country"))?;
    Ok(Some(Grant {
        person: entity_id(&person)?,
        actor: Actor { role, country },
        revoked_upto: revoked.map(|n| n as u64),
    }))
}

fn is_demo_device(tx: &Connection, device: &DeviceId) -> Result<bool> {
    Ok(tx
        .prepare_cached("SELECT 1 FROM demo_devices WHERE device = ?1")?
        .query_row([device.as_bytes()], |_| Ok(()))
        .optional()?
        .is_some())
}

/// May this op be taken in, as far as its device's standing goes? `Ok(false)`:
/// not yet (its grant has not arrived); `Err`: never.
fn standing(tx: &Connection, seen: &mut Seen, op: &Op, net: Net) -> Result<bool> {
    let Some(hub) = net.hub else {
        return Ok(true);
    };
    let device = &op.body.device;
    if *device == hub {
        return Ok(true);
    }
    if let Some(grant) = seen.grant(tx, device)? {
        return match grant.revoked_upto {
            Some(upto) if op.body.seq > upto => Err(Error::Revoked { label: op.label() }),
            _ => Ok(true),
        };
    }
    if net.is_hub {
        return Err(Error::NotEnrolled { label: op.label() });
    }
    // A demo identity (made on this device, never synced) declares itself.
    if is_demo_device(tx, device)? {
        return Ok(true);
    }
    let demo_declaration = op.body.seq == 1
        && op.body.kind == PERSON_DECLARE
        && serde_json::from_slice::<PersonDeclared>(&op.body.payload).is_ok_and(|p| p.demo);
    Ok(demo_declaration)
}

/// An op held in the log, as the rules see it; `None` if not held, refused
/// (a refused op's values never took effect) or not understood.
fn dep(tx: &Connection, r: &OpRef) -> Option<Dep> {
    let row: Option<(i64, u32, String, Vec<u8>)> = tx
        .prepare_cached(
            "SELECT hlc_wall, hlc_counter, kind, payload FROM ops WHERE device = ?1 AND seq = ?2 AND refused IS NULL",
        )
        .ok()?
        .query_row(params![r.device.as_bytes(), r.seq as i64], |r| {
            Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?))
        })
        .optional()
        .ok()?;
    let (wall, counter, kind, payload) = row?;
    Some(Dep {
        hlc: Hlc::new(wall as u64, counter),
        payload: Payload::decode(&kind, &payload).ok()??,
    })
}

/// The rules' verdict on an op, judged against the log in `tx`.
pub(crate) fn judge(
    tx: &Connection,
    seen: &mut Seen,
    op: &UnsignedOp,
    payload: &Payload,
    net: Net,
) -> Result<Result<(), Refused>> {
    let declared = declared(tx, seen, &op.device, net)?;
    let lookup = |r: &OpRef| dep(tx, r);
    Ok(rules::verdict(
        op,
        payload,
        &Context {
            declared,
            dep: &lookup,
            hub: net.hub,
        },
    ))
}

/// What an op that follows its device's head still lacks before it can be
/// taken in.
enum Lack {
    /// Its device's grant.
    Grant,
    /// Its time: it is stamped this far ahead.
    Time(u64),
    /// An op it names.
    Op(OpRef),
}

/// The first thing an op lacks before it can be taken in: its device's
/// standing, its time, an op it names; `None` when nothing. `Err` for an op
/// that never will be (its device is not enrolled, or was revoked).
fn lacks(
    tx: &Connection,
    seen: &mut Seen,
    op: &Op,
    decoded: &Decoded,
    net: Net,
) -> Result<Option<Lack>> {
    if !standing(tx, seen, op, net)? {
        return Ok(Some(Lack::Grant));
    }
    if !is_due(op.body.hlc, now_ms()) {
        return Ok(Some(Lack::Time(op.body.hlc.wall_ms)));
    }
    if let Ok(Some(payload)) = decoded {
        for d in payload.deps() {
            if seen.head(tx, &d.device)?.0 < d.seq {
                return Ok(Some(Lack::Op(d)));
            }
        }
    }
    Ok(None)
}

/// An op's payload, decoded once: `Ok(None)` for a kind this version does
/// not know, `Err` (the reason) for one it cannot read.
type Decoded = std::result::Result<Option<Payload>, String>;

fn decode(op: &Op) -> Decoded {
    Payload::decode(&op.body.kind, &op.body.payload).map_err(|e| e.to_string())
}

/// Appends a verified op that follows its device's head and whose
/// dependencies are held, and projects it unless a rule refuses it.
fn apply(tx: &Transaction, seen: &mut Seen, op: &Op, received_at: u64, net: Net) -> Result<()> {
    apply_decoded(tx, seen, op, op.hash(), decode(op), received_at, net)
}

fn apply_decoded(
    tx: &Transaction,
    seen: &mut Seen,
    op: &Op,
    hash: OpHash,
    decoded: Decoded,
    received_at: u64,
    net: Net,
) -> Result<()> {
    let verdict = match decoded {
        Ok(Some(payload)) => judge(tx, seen, &op.body, &payload, net)?
            .map(|()| Some(payload))
            .map_err(|r| r.to_string()),
        Ok(None) => Ok(None),
        Err(e) => Err(e),
    };
    let b = &op.body;
    if b.seq == 1 {
        // The device's first op: it gets its id (see `op_rows`), and the op
        // stored next is its head (see `device_heads`).
        tx.prepare_cached("INSERT OR IGNORE INTO devices (key) VALUES (?1)")?
            .execute([b.device.as_bytes()])?;
    }
    tx.prepare_cached(INSERT_OP)?.execute(params![
        b.device.as_bytes(),
        b.seq as i64,
        b.hlc.wall_ms as i64,
        b.hlc.counter,
        b.author.as_bytes(),
        b.kind,
        b.payload,
        b.prev.0,
        op.signature,
        hash.0,
        received_at as i64,
        verdict.as_ref().err()
    ])?;
    // A checkpoint of the past made without this op no longer stands
    // (see `past`); an op made now is later than every checkpoint.
    tx.prepare_cached("DELETE FROM checkpoints WHERE upto >= ?1")?
        .execute([i64::try_from(b.hlc.wall_ms).unwrap_or(i64::MAX)])?;
    seen.heads.insert(b.device, (b.seq, hash));
    if let Ok(Some(payload)) = verdict {
        if payload.is_hub_kind() {
            // A grant or revocation changes how later ops are judged.
            seen.grants.clear();
        }
        if let Payload::DeviceRevoke(r) = &payload {
            // What a revoked device sent past its revocation will never be
            // taken in: it stops waiting.
            tx.prepare_cached("DELETE FROM pending_ops WHERE device = ?1 AND seq > ?2")?
                .execute(params![r.device.as_bytes(), r.upto.min(MAX_SEQ) as i64])?;
            seen.load.remove(&r.device);
            seen.total = None;
        }
        if net.is_hub {
            project::facts(tx, op, &payload)?;
        } else {
            project::project(tx, op, &payload)?;
        }
    }
    Ok(())
}

/// Judges a held op again and projects it if it now passes (after an
/// enrolment, when the hub's grant replaces the device's own declaration).
pub(crate) fn rejudge(tx: &Transaction, op: &Op, net: Net) -> Result<()> {
    let verdict = match Payload::decode(&op.body.kind, &op.body.payload) {
        Ok(Some(payload)) => judge(tx, &mut Seen::default(), &op.body, &payload, net)?
            .map(|()| Some(payload))
            .map_err(|r| r.to_string()),
        Ok(None) => Ok(None),
        Err(e) => Err(e.to_string()),
    };
    tx.prepare_cached(
        "UPDATE op_rows SET refused = ?3
         WHERE device = (SELECT id FROM devices WHERE key = ?1) AND seq = ?2",
    )?
    .execute(params![
        op.body.device.as_bytes(),
        op.body.seq as i64,
        verdict.as_ref().err()
    ])?;
    if let Ok(Some(payload)) = verdict {
        if net.is_hub {
            project::facts(tx, op, &payload)?;
        } else {
            project::project(tx, op, &payload)?;
        }
    }
    Ok(())
}

/// An op as stored, before its byte fields are checked for length.
pub(crate) struct RawOp {
    device: Vec<u8>,
    seq: i64,
    wall: i64,
    counter: u32,
    author: Vec<u8>,
    kind: String,
    payload: Vec<u8>,
    prev: Vec<u8>,
    signature: Vec<u8>,
}

/// Stores an op in the log: the device's key (`?1`) becomes its id in
/// `devices`, which its first op wrote; then [`OP_COLUMNS`] from `?2`, the
/// hash, the time received and why it was refused (NULL when it was not).
pub(crate) const INSERT_OP: &str =
    "INSERT INTO op_rows (device, seq, hlc_wall, hlc_counter, author, kind, payload, prev, signature,
                          hash, received_at, refused)
     VALUES ((SELECT id FROM devices WHERE key = ?1), ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12)";

pub(crate) const OP_COLUMNS: &str =
    "device, seq, hlc_wall, hlc_counter, author, kind, payload, prev, signature";

/// [`OP_COLUMNS`] of a table named `alias` in a query.
pub(crate) fn op_columns_of(alias: &str) -> String {
    OP_COLUMNS
        .split(", ")
        .map(|c| format!("{alias}.{c}"))
        .collect::<Vec<_>>()
        .join(", ")
}

/// An op's values in [`OP_COLUMNS`] order.
fn op_values(op: &Op) -> Vec<Value> {
    let b = &op.body;
    vec![
        Value::Blob(b.device.as_bytes().to_vec()),
        Value::Integer(b.seq as i64),
        Value::Integer(b.hlc.wall_ms as i64),
        Value::Integer(i64::from(b.hlc.counter)),
        Value::Blob(b.author.as_bytes().to_vec()),
        Value::Text(b.kind.clone()),
        Value::Blob(b.payload.clone()),
        Value::Blob(b.prev.0.to_vec()),
        Value::Blob(op.signature.to_vec()),
    ]
}

fn placeholders(n: usize) -> String {
    (1..=n)
        .map(|i| format!("?{i}"))
        .collect::<Vec<_>>()
        .join(", ")
}

impl RawOp {
    pub(crate) fn read(r: &rusqlite::Row<'_>) -> rusqlite::Result<RawOp> {
        Ok(RawOp {
            device: r.get(0)?,
            seq: r.get(1)?,
            wall: r.get(2)?,
            counter: r.get(3)?,
            author: r.get(4)?,
            kind: r.get(5)?,
            payload: r.get(6)?,
            prev: r.get(7)?,
            signature: r.get(8)?,
        })
    }

    pub(crate) fn into_op(self) -> Result<Op> {
        Ok(Op {
            body: UnsignedOp {
                device: device_id(&self.device)?,
                seq: self.seq as u64,
                hlc: Hlc::new(self.wall as u64, self.counter),
                author: entity_id(&self.author)?,
                kind: self.kind,
                payload: self.payload,
                prev: op_hash(&self.prev)?,
            },
            signature: self
                .signature
                .try_into()
                .map_err(|_| damaged("a signature has the wrong length"))?,
        })
    }
}

/// The reference numbers (`14` in `REQ-7K2M9Q-14`) this device's keys have
/// given, per key and kind, read from each key's own chain: a reference
/// must be unique for its tag, and the chain holds every one the key gave.
/// Nothing is stored beside the log; the numbers are read once per process
/// and then kept up as ops are made. Another process writing to the same
/// file moves the key's head, which `next` sees inside the write
/// transaction, and then reads only the ops it has not seen.
#[derive(Default)]
pub(crate) struct Numbers(HashMap<DeviceId, Given>);

/// What one key has given: through which of its ops, and the highest
/// number per kind.
#[derive(Default)]
struct Given {
    through: u64,
    last: HashMap<RefKind, u64>,
}

impl Numbers {
    /// The number the next record of `kind` signed by `device` gets.
    pub(crate) fn next(
        &mut self,
        tx: &Connection,
        device: &DeviceId,
        kind: RefKind,
    ) -> Result<u64> {
        let (head, _) = head(tx, device)?;
        let given = self.0.entry(*device).or_default();
        if given.through > head {
            // Not this file's chain any more (a store restored from a
            // backup under the same process): read it again.
            *given = Given::default();
        }
        if given.through < head {
            let mut stmt = tx.prepare_cached(
                "SELECT kind, payload FROM ops
                 WHERE device = ?1 AND seq > ?2 AND kind IN (?3, ?4, ?5, ?6)",
            )?;
            let [a, b, c, d] = Payload::REFERENCED_KINDS;
            let mut rows =
                stmt.query(params![device.as_bytes(), given.through as i64, a, b, c, d])?;
            while let Some(row) = rows.next()? {
                let kind: String = row.get(0)?;
                let bytes: Vec<u8> = row.get(1)?;
                // An op of ours that does not decode gave no number a
                // person saw; skipping it never repeats one that did.
                let Ok(Some(payload)) = Payload::decode(&kind, &bytes) else {
                    continue;
                };
                if let Some((kind, n)) = payload
                    .reference()
                    .and_then(|(kind, r)| Some((kind, Reference::number(r)?)))
                {
                    let last = given.last.entry(kind).or_default();
                    *last = (*last).max(n);
                }
            }
            given.through = head;
        }
        Ok(given.last.get(&kind).copied().unwrap_or(0) + 1)
    }

    /// `op`, just committed, gave `number`.
    fn made(&mut self, op: &Op, number: Option<(RefKind, u64)>) {
        let Some(given) = self.0.get_mut(&op.body.device) else {
            return;
        };
        // Only a key read up to the op before: otherwise the next call
        // reads what it missed.
        if given.through + 1 != op.body.seq {
            return;
        }
        given.through = op.body.seq;
        if let Some((kind, n)) = number {
            let last = given.last.entry(kind).or_default();
            *last = (*last).max(n);
        }
    }
}

/// Makes the next op of `key`'s device inside `tx`: judged by the rules
/// every replica applies (a refusal is returned and nothing is written),
/// signed, appended and projected.
pub(crate) fn sign_and_apply(
    tx: &Transaction,
    key: &DeviceKey,
    person: EntityId,
    hlc: Hlc,
    payload: &Payload,
    net: Net,
) -> Result<Op> {
    let device = key.device_id();
    let mut seen = Seen::default();
    let (seq, prev) = seen.head(tx, &device)?;
    let body = UnsignedOp {
        device,
        seq: seq + 1,
        hlc,
        author: person,
        kind: payload.kind().to_owned(),
        payload: payload.encode(),
        prev,
    };
    judge(tx, &mut seen, &body, payload, net)?.map_err(Error::from)?;
    let op = body.sign(key).map_err(|fault| Error::BadOp {
        label: "new op".into(),
        fault,
    })?;
    apply(tx, &mut seen, &op, now_ms(), net)?;
    Ok(op)
}

/// The per-device result of [`Store::verify`].
#[derive(Debug, Clone, Serialize, specta::Type)]
pub struct DeviceReport {
    pub device: String,
    pub tag: String,
    pub ops: u64,
    pub first: Option<String>,
    pub last: Option<String>,
    /// When its first and last ops were made (ms since 1970).
    pub first_ms: Option<u64>,
    pub last_ms: Option<u64>,
    /// The first op that does not check out, and why; `None` when intact.
    pub problem: Option<String>,
}

#[derive(Debug, Clone, Serialize, specta::Type)]
pub struct VerifyReport {
    pub devices: Vec<DeviceReport>,
    /// The hub's signed heads kept here, checked against the ops held.
    pub hub_heads: crate::HeadsReport,
}

impl VerifyReport {
    pub fn intact(&self) -> bool {
        self.devices.iter().all(|d| d.problem.is_none()) && self.hub_heads.problem.is_none()
    }
}

impl Store {
    /// Makes a local op in one transaction: `build` sees the open transaction
    /// and returns the payload (a record's reference is numbered here, once
    /// the signing key is known); the op is signed, appended
    /// and projected, and the commit is durable before this returns.
    pub(crate) fn append_local(
        &mut self,
        build: impl FnOnce(&Transaction) -> Result<Payload>,
    ) -> Result<(Op, Payload)> {
        let local = self.local.as_ref().ok_or(Error::NotInitialised)?;
        let net = self.net;
        let tx = self
            .conn
            .transaction_with_behavior(TransactionBehavior::Immediate)?;
        let mut payload = build(&tx)?;
        // Another connection (the app's sync) may have taken in later ops:
        // a new op always sorts after everything held.
        self.clock.observe(max_hlc(&tx)?);
        let hlc = self.clock.tick(now_ms());
        // Work in the demo crisis is signed with this device's demo key, so
        // the real log never names an op that must stay on this device; a
        // reference then carries the demo key's tag.
        let key = if touches_demo(&tx, &payload)? {
            demo_key(&tx, local, hlc, net)?
        } else {
            local.key.clone()
        };
        let number = match payload.reference() {
            Some((kind, _)) => {
                let n = self.numbers.next(&tx, &key.device_id(), kind)?;
                payload.set_reference(Reference::new(kind, &key.device_id().tag(), n));
                Some((kind, n))
            }
            None => None,
        };
        let hlc = self.clock.tick(now_ms());
        let op = sign_and_apply(&tx, &key, local.person, hlc, &payload, net)?;
        tx.commit()?;
        self.numbers.made(&op, number);
        Ok((op, payload))
    }

    /// Creates this device's identity: a new key and the person's declaration
    /// as the device's first op, in one transaction.
    pub(crate) fn create_local(
        &mut self,
        key: DeviceKey,
        person: EntityId,
        payload: Payload,
    ) -> Result<Op> {
        let device = key.device_id();
        let tx = self
            .conn
            .transaction_with_behavior(TransactionBehavior::Immediate)?;
        tx.execute(
            "INSERT INTO local_device (id, secret, device, person, created_at) VALUES (1, ?1, ?2, ?3, ?4)",
            params![key.secret(), device.as_bytes(), person.as_bytes(), now_ms() as i64],
        )?;
        let hlc = self.clock.tick(now_ms());
        let op = sign_and_apply(&tx, &key, person, hlc, &payload, self.net)?;
        tx.commit()?;
        self.local = Some(Local { key, person });
        Ok(op)
    }

    /// Takes in an op made elsewhere (another device, the hub, a bundle, the
    /// demo generator). Checks its shape, signature and chain; stores it and
    /// any waiting successors it unblocks, in one transaction.
    pub fn ingest(&mut self, op: &Op) -> Result<Ingest> {
        let mut outcomes = self.ingest_batch(std::slice::from_ref(op))?;
        outcomes.pop().expect("one outcome per op")
    }

    /// Takes in a page of ops in one transaction. Signatures are checked in
    /// batches on every core, ahead of the thread that stores the ops
    /// already checked. Each op gets its own outcome: an op that is not
    /// genuine, or whose device is not enrolled or was revoked, is refused
    /// and not stored, without stopping the others. Only a failure of the
    /// database itself fails the whole page (and then nothing of it is kept).
    pub fn ingest_batch(&mut self, ops: &[Op]) -> Result<Vec<Result<Ingest>>> {
        // One signature per device run, not one per op (see
        // `authenticate_page`).
        let verdicts = relevo_core::op::authenticate_page(ops, &mut OsRng);
        // Ops taken in on the strength of a signed op above them must have
        // that op in the log too when the page commits, or a signature of
        // their own: those with neither are taken again as unsigned (they
        // wait for their cover), in another pass over the page.
        let mut verdicts = verdicts;
        for pass in 0..3 {
            let (outcomes, unanchored) = self.ingest_page(ops, &verdicts)?;
            let Some(unanchored) = unanchored else {
                return Ok(outcomes);
            };
            // Nothing was committed. The next pass judges by their own
            // signatures the covered ops whose covering op did not go in
            // (the third, every covered op, so it cannot fail this way).
            for (i, verdict) in verdicts.iter_mut().enumerate() {
                if let Ok(Authenticity::Covered { hash, .. }) = *verdict {
                    if pass >= 1 || unanchored.contains(&i) {
                        *verdict = Ok(match ops[i].verify() {
                            Ok(()) => Authenticity::Signed(hash),
                            Err(_) => Authenticity::Unsigned(hash),
                        });
                    }
                }
            }
        }
        Err(damaged(
            "a page of received ops could not be taken in after three passes",
        ))
    }

    /// One pass of [`Store::ingest_batch`]: commits and returns the outcomes,
    /// unless some op went in on the strength of a signed op above it that
    /// did not, and its own signature fails: then nothing is committed, and
    /// the covered ops whose covering op is not in the log are returned.
    #[allow(clippy::type_complexity)]
    fn ingest_page(
        &mut self,
        ops: &[Op],
        verdicts: &[std::result::Result<Authenticity, OpFault>],
    ) -> Result<(Vec<Result<Ingest>>, Option<HashSet<usize>>)> {
        let net = self.net;
        let tx = self
            .conn
            .transaction_with_behavior(TransactionBehavior::Immediate)?;
        let mut seen = Seen::default();
        let mut outcomes = Vec::with_capacity(ops.len());
        // Ops applied as covered, and all covered ops, with the op covering
        // them.
        let mut covered: Vec<(usize, usize)> = Vec::new();
        let mut all_covered: Vec<(usize, usize)> = Vec::new();
        let clock = &mut self.clock;
        for (i, (op, verdict)) in ops.iter().zip(verdicts).enumerate() {
            let outcome = match *verdict {
                Err(ref fault) => Err(Error::BadOp {
                    label: op.label(),
                    fault: fault.clone(),
                }),
                Ok(auth) => {
                    if let Authenticity::Covered { anchor, .. } = auth {
                        all_covered.push((i, anchor));
                    }
                    match ingest_verified(&tx, &mut seen, op, auth, clock, net) {
                        Err(e) if e.is_storage() => return Err(e),
                        other => {
                            if let (Authenticity::Covered { anchor, .. }, Ok(Ingest::Applied(_))) =
                                (auth, &other)
                            {
                                covered.push((i, anchor));
                            }
                            other
                        }
                    }
                }
            };
            outcomes.push(outcome);
        }
        // Waiting ops that can go now (unblocked by this page, or whose
        // time came) go in: this page's own become Applied, the others
        // count for the last op applied.
        if seen.waiting(&tx)? {
            let released = drain_pending(&tx, &mut seen, clock, net)?;
            let mine: HashMap<OpRef, usize> = ops
                .iter()
                .enumerate()
                .filter(|(i, _)| matches!(outcomes[*i], Ok(Ingest::Pending)))
                .map(|(i, op)| (op.op_ref(), i))
                .collect();
            let mut earlier = 0;
            for r in released {
                match mine.get(&r) {
                    Some(&i) => outcomes[i] = Ok(Ingest::Applied(1)),
                    None => earlier += 1,
                }
            }
            if earlier > 0 {
                if let Some(Ok(Ingest::Applied(n))) = outcomes
                    .iter_mut()
                    .rev()
                    .find(|o| matches!(o, Ok(Ingest::Applied(_))))
                {
                    *n += earlier;
                }
            }
        }
        // Ops whose covering op did not go in need a signature of their own.
        let mut anchored: HashMap<usize, bool> = HashMap::new();
        let mut in_log = |anchor: usize| -> Result<bool> {
            if let Some(&known) = anchored.get(&anchor) {
                return Ok(known);
            }
            let top = &ops[anchor].body;
            let known = logged_hash(&tx, &top.device, top.seq)? == Some(ops[anchor].hash());
            anchored.insert(anchor, known);
            Ok(known)
        };
        let mut failed = false;
        for &(i, anchor) in &covered {
            if !in_log(anchor)? && ops[i].verify().is_err() {
                failed = true;
                break;
            }
        }
        if !failed {
            tx.commit()?;
            return Ok((outcomes, None));
        }
        let mut unanchored = HashSet::new();
        for (i, anchor) in all_covered {
            if !in_log(anchor)? {
                unanchored.insert(i);
            }
        }
        Ok((outcomes, Some(unanchored)))
    }

    /// Highest gapless seq held per device.
    pub fn version_vector(&self) -> Result<BTreeMap<DeviceId, u64>> {
        let mut stmt = self.conn.prepare("SELECT device, seq FROM device_heads")?;
        let rows = stmt.query_map([], |r| Ok((r.get::<_, Vec<u8>>(0)?, r.get::<_, i64>(1)?)))?;
        let mut vv = BTreeMap::new();
        for row in rows {
            let (device, seq) = row?;
            vv.insert(device_id(&device)?, seq as u64);
        }
        Ok(vv)
    }

    /// Every op held, in (device, seq) order.
    pub fn ops(&self) -> Result<Vec<Op>> {
        let mut stmt = self.conn.prepare(&format!(
            "SELECT {OP_COLUMNS} FROM ops ORDER BY device, seq"
        ))?;
        let raws = stmt
            .query_map([], RawOp::read)?
            .collect::<rusqlite::Result<Vec<_>>>()?;
        raws.into_iter().map(RawOp::into_op).collect()
    }

    pub fn op_count(&self) -> Result<u64> {
        Ok(self
            .conn
            .query_row("SELECT count(*) FROM ops", [], |r| r.get::<_, i64>(0))? as u64)
    }

    /// Checks every device's chain: gapless sequence from 1, each op naming
    /// its predecessor's hash, the stored hash matching the content, and the
    /// signature. Reports the first broken op of each device.
    pub fn verify(&self) -> Result<VerifyReport> {
        let mut stmt = self.conn.prepare(&format!(
            "SELECT {OP_COLUMNS}, hash FROM ops ORDER BY device, seq"
        ))?;
        let mut rows = stmt.query([])?;
        let mut devices: Vec<DeviceReport> = Vec::new();
        let mut expect_prev = OpHash::GENESIS;
        // Per device: the first op since the last verified signature whose
        // own signature does not verify, and why. It is authentic if a
        // later op of the chain verifies (see `authenticate_page`).
        let mut uncovered: Vec<Option<String>> = Vec::new();
        while let Some(row) = rows.next()? {
            let stored_hash: Vec<u8> = row.get(9)?;
            let raw = RawOp::read(row)?;
            let device_hex = hex::encode(&raw.device);
            if devices
                .last()
                .map(|d| d.device != device_hex)
                .unwrap_or(true)
            {
                let tag = device_id(&raw.device)
                    .map(|d| d.tag())
                    .unwrap_or_else(|_| "??????".into());
                devices.push(DeviceReport {
                    device: device_hex,
                    tag,
                    ops: 0,
                    first: None,
                    last: None,
                    first_ms: None,
                    last_ms: None,
                    problem: None,
                });
                uncovered.push(None);
                expect_prev = OpHash::GENESIS;
            }
            let report = devices.last_mut().expect("pushed above");
            report.ops += 1;
            if report.problem.is_some() {
                continue;
            }
            let seq = raw.seq;
            let label = format!("{}#{}", report.tag, seq);
            let problem = match raw.into_op() {
                Err(e) => Some(format!("{label}: {e}")),
                Ok(op) => {
                    let when = op.body.hlc.to_string();
                    report.first.get_or_insert_with(|| when.clone());
                    report.last = Some(when);
                    report.first_ms.get_or_insert(op.body.hlc.wall_ms);
                    report.last_ms = Some(op.body.hlc.wall_ms);
                    if op.body.seq != report.ops {
                        Some(format!("{label}: sequence gap, expected #{}", report.ops))
                    } else if op.body.prev != expect_prev {
                        Some(format!(
                            "{label}: does not name the hash of #{} (chain broken)",
                            seq - 1
                        ))
                    } else if op.hash().0.as_slice() != stored_hash.as_slice() {
                        Some(format!(
                            "{label}: content does not match its recorded hash (altered)"
                        ))
                    } else {
                        expect_prev = op.hash();
                        let pending = uncovered.last_mut().expect("pushed with the report");
                        match op.verify() {
                            Ok(()) => {
                                *pending = None;
                                None
                            }
                            Err(OpFault::Signature(e)) => {
                                pending.get_or_insert_with(|| format!("{label}: {e}"));
                                None
                            }
                            Err(fault) => Some(format!("{label}: {fault}")),
                        }
                    }
                }
            };
            report.problem = problem;
        }
        for (report, pending) in devices.iter_mut().zip(uncovered) {
            if report.problem.is_none() {
                report.problem =
                    pending.map(|p| format!("{p}, and no later signed op of its device covers it"));
            }
        }
        Ok(VerifyReport {
            devices,
            hub_heads: self.verify_hub_heads()?,
        })
    }
}

/// Puts an op that contradicts its device's history in quarantine, unless
/// its device has used up its quarantine allowance ([`MAX_FORKS`],
/// [`MAX_FORK_BYTES`]): then it is only counted as a fork.
fn quarantine(tx: &Transaction, op: &Op, reason: &str) -> Result<()> {
    let (n, bytes) = tally(tx, Held::Forks, Some(&op.body.device))?;
    if n >= MAX_FORKS || bytes + op.body.payload.len() as u64 > MAX_FORK_BYTES {
        return Ok(());
    }
    if tally(tx, Held::Forks, None)?.0 >= MAX_FORKS_TOTAL {
        return Ok(());
    }
    let mut values = op_values(op);
    values.extend([
        Value::Blob(op.hash().0.to_vec()),
        Value::Integer(now_ms() as i64),
        Value::Text(reason.to_owned()),
    ]);
    tx.prepare_cached(&format!(
        "INSERT OR IGNORE INTO forks ({OP_COLUMNS}, hash, received_at, reason) VALUES ({})",
        placeholders(values.len())
    ))?
    .execute(params_from_iter(values))?;
    Ok(())
}

/// The op held for this device and number, in the log or waiting: its hash
/// and whether it is known authentic (every op in the log is; a waiting op
/// when its own signature verified).
fn held(tx: &Transaction, device: &DeviceId, seq: u64) -> Result<Option<HeldOp>> {
    let logged: Option<(Vec<u8>, Vec<u8>)> = tx
        .prepare_cached("SELECT hash, signature FROM ops WHERE device = ?1 AND seq = ?2")?
        .query_row(params![device.as_bytes(), seq.min(MAX_SEQ) as i64], |r| {
            Ok((r.get(0)?, r.get(1)?))
        })
        .optional()?;
    if let Some((hash, signature)) = logged {
        return Ok(Some(HeldOp {
            hash: op_hash(&hash)?,
            logged: true,
            signed: true,
            signature,
        }));
    }
    Ok(waiting_at(tx, device, seq)?.map(|(op, signed)| HeldOp {
        hash: op.hash(),
        logged: false,
        signed,
        signature: op.signature.to_vec(),
    }))
}

/// An op held at a device and number (see [`held`]).
struct HeldOp {
    hash: OpHash,
    /// In the log, or waiting.
    logged: bool,
    /// Known authentic: in the log, or waiting with a signature that
    /// verifies.
    signed: bool,
    signature: Vec<u8>,
}

/// The hash of the op in the log at this device and number.
fn logged_hash(tx: &Transaction, device: &DeviceId, seq: u64) -> Result<Option<OpHash>> {
    let logged: Option<Vec<u8>> = tx
        .prepare_cached("SELECT hash FROM ops WHERE device = ?1 AND seq = ?2")?
        .query_row(params![device.as_bytes(), seq.min(MAX_SEQ) as i64], |r| {
            r.get(0)
        })
        .optional()?;
    logged.map(|h| op_hash(&h)).transpose()
}

/// Drops the waiting ops of `device` (or of every device) whose own
/// signatures do not verify.
fn evict_unsigned(tx: &Transaction, seen: &mut Seen, device: Option<&DeviceId>) -> Result<()> {
    tx.prepare_cached(
        "DELETE FROM pending_ops WHERE authentic = 0 AND (?1 IS NULL OR device = ?1)",
    )?
    .execute([device.map(|d| d.as_bytes().to_vec())])?;
    match device {
        Some(d) => {
            seen.load.remove(d);
        }
        None => seen.load.clear(),
    }
    seen.total = None;
    seen.waiting = None;
    Ok(())
}

/// Empties a place of a device's waiting ops for another op.
fn yield_place(tx: &Transaction, seen: &mut Seen, device: &DeviceId, seq: u64) -> Result<()> {
    if let Some((waiting, _)) = waiting_at(tx, device, seq)? {
        forget_pending(tx, &waiting, seen)?;
    }
    Ok(())
}

/// The number of the waiting op, at or above `op` (itself waiting) in its
/// device's hash chain, whose own signature verifies and so covers it:
/// the nearest signed waiting op above, found through `pending_signed`,
/// when the waiting ops from it down to `op` each name the one below.
/// `None` when nothing covers it yet. Made-up ops in between stop the walk
/// at once: the signed op names the hash of its true predecessor.
fn waiting_cover(tx: &Transaction, op: &Op, signed: bool) -> Result<Option<u64>> {
    if signed {
        return Ok(Some(op.body.seq));
    }
    let device = &op.body.device;
    let top: Option<i64> = tx
        .prepare_cached(
            "SELECT seq FROM pending_ops INDEXED BY pending_signed
             WHERE device = ?1 AND seq > ?2 AND authentic = 1 ORDER BY seq LIMIT 1",
        )?
        .query_row(params![device.as_bytes(), op.body.seq as i64], |r| r.get(0))
        .optional()?;
    let Some(top) = top else {
        return Ok(None);
    };
    let top = top as u64;
    let Some((mut above, _)) = waiting_at(tx, device, top)? else {
        return Ok(None);
    };
    for seq in (op.body.seq + 1..top).rev() {
        let Some((below, _)) = waiting_at(tx, device, seq)? else {
            return Ok(None);
        };
        if below.hash() != above.body.prev {
            return Ok(None);
        }
        above = below;
    }
    Ok((above.body.prev == op.hash()).then_some(top))
}

/// What the ops waiting above number `seq` of `device` say it holds: the
/// `prev` of the op waiting at `seq + 1`, when a signed waiting op covers
/// that one. `None` when no signed op says anything yet.
fn named_above(tx: &Transaction, device: &DeviceId, seq: u64) -> Result<Option<OpHash>> {
    let Some((above, signed)) = waiting_at(tx, device, seq.saturating_add(1))? else {
        return Ok(None);
    };
    Ok(waiting_cover(tx, &above, signed)?.map(|_| above.body.prev))
}

/// The ingest rules, inside an open transaction. The clock observes every
/// timestamp seen, so local ops made afterwards sort after them.
fn ingest_verified(
    tx: &Transaction,
    seen: &mut Seen,
    op: &Op,
    auth: Authenticity,
    clock: &mut Clock,
    net: Net,
) -> Result<Ingest> {
    let device = &op.body.device;
    // Authentic: signed, or covered by a signed op of its page. Its own
    // signature verified: signed.
    let (hash, authentic, signed) = match auth {
        Authenticity::Signed(h) => (h, true, true),
        Authenticity::Covered { hash, .. } => (hash, true, false),
        Authenticity::Unsigned(h) => (h, false, false),
    };
    // Only an op its device made may be kept as a fork.
    let not_made = || Error::BadOp {
        label: op.label(),
        fault: OpFault::Signature(relevo_core::identity::SignatureError::Mismatch),
    };
    let (have, head_hash) = seen.head(tx, device)?;
    // The log holds every seq up to the head; past it, only the waiting
    // ops can hold one.
    let held = if op.body.seq <= have || seen.waiting(tx)? {
        held(tx, device, op.body.seq)?
    } else {
        None
    };
    if let Some(held) = held {
        if held.hash == hash {
            // A copy whose own signature verifies replaces a kept one that
            // differs (kept on the strength of a signature above it).
            if held.signature != op.signature && (signed || op.verify().is_ok()) {
                let sql = if held.logged {
                    "UPDATE op_rows SET signature = ?3
                     WHERE device = (SELECT id FROM devices WHERE key = ?1) AND seq = ?2"
                } else {
                    "UPDATE pending_ops SET signature = ?3, authentic = 1 WHERE device = ?1 AND seq = ?2"
                };
                tx.prepare_cached(sql)?.execute(params![
                    device.as_bytes(),
                    op.body.seq as i64,
                    op.signature
                ])?;
            }
            return Ok(Ingest::Duplicate);
        }
        // Whether the op held here is its device's: in the log, waiting with
        // a signature of its own, or named by the signed ops waiting above.
        // Another op at its place is then a fork, or not its device's.
        let named = match held.signed {
            true => None,
            false => named_above(tx, device, op.body.seq)?,
        };
        if held.signed || named == Some(held.hash) {
            if !authentic {
                return Err(not_made());
            }
            quarantine(
                tx,
                op,
                "another op is held under the same device and number (a cloned or restored device?)",
            )?;
            return Ok(Ingest::Forked);
        }
        // Otherwise an authentic op takes the place, and so does the one
        // the signed ops above name.
        if !authentic && named != Some(hash) {
            return Err(not_made());
        }
        yield_place(tx, seen, device, op.body.seq)?;
    } else if !authentic && seen.waiting(tx)? {
        if let Some(named) = named_above(tx, device, op.body.seq)? {
            if named != hash {
                // Its device signed an op above that names another.
                return Err(not_made());
            }
        }
    }
    if op.body.seq == have + 1 && op.body.prev != head_hash {
        if !authentic {
            return Err(not_made());
        }
        quarantine(
            tx,
            op,
            "it does not follow the device's previous op held here (a cloned or restored device?)",
        )?;
        return Ok(Ingest::Forked);
    }
    let decoded = decode(op);
    let lack = lacks(tx, seen, op, &decoded, net)?;
    // An op no signature covers yet waits for one that does.
    if op.body.seq > have + 1 || lack.is_some() || !authentic {
        // Earlier ops of its device, ops it names, its device's grant or
        // its time have not come yet. It waits, within its device's
        // allowance, and moves no clock.
        let size = op.body.payload.len() as u64;
        if authentic {
            // Ops nothing authenticated never keep an authentic one out.
            let load = *seen.load(tx, device)?;
            if load.0 >= MAX_WAITING_OPS || load.1 + size > MAX_WAITING_BYTES {
                evict_unsigned(tx, seen, Some(device))?;
            }
            let total = *seen.total(tx)?;
            if total.0 >= MAX_WAITING_TOTAL || total.1 + size > MAX_WAITING_TOTAL_BYTES {
                evict_unsigned(tx, seen, None)?;
            }
        }
        let total = *seen.total(tx)?;
        let load = seen.load(tx, device)?;
        if load.0 >= MAX_WAITING_OPS || load.1 + size > MAX_WAITING_BYTES {
            return Err(Error::TooManyWaiting {
                label: op.label(),
                count: load.0,
            });
        }
        if total.0 >= MAX_WAITING_TOTAL || total.1 + size > MAX_WAITING_TOTAL_BYTES {
            return Err(Error::TooManyWaitingInAll {
                label: op.label(),
                count: total.0,
            });
        }
        *load = (load.0 + 1, load.1 + size);
        seen.total = Some((total.0 + 1, total.1 + size));
        // A waiting op is kept as signed only when its own signature
        // verifies: the op above that covered it in its page may never go
        // in (see `release`).
        let signed = signed || (authentic && op.verify().is_ok());
        if signed && seen.waiting(tx)? {
            // An op waiting below that this one does not name was not made
            // by its device.
            if let Some((below, false)) = waiting_at(tx, device, op.body.seq - 1)? {
                if below.hash() != op.body.prev {
                    forget_pending(tx, &below, seen)?;
                }
            }
        }
        let mut values = op_values(op);
        values.push(Value::Integer(signed.into()));
        tx.prepare_cached(&format!(
            "INSERT OR IGNORE INTO pending_ops ({OP_COLUMNS}, authentic) VALUES ({})",
            placeholders(values.len())
        ))?
        .execute(params_from_iter(values))?;
        seen.waiting = Some(true);
        return Ok(Ingest::Pending);
    }
    clock.observe(op.body.hlc);
    apply_decoded(tx, seen, op, hash, decoded, now_ms(), net)?;
    // What it unblocks goes in at the end of the batch (see
    // `Store::ingest_batch`): once per page, not once per op.
    Ok(Ingest::Applied(1))
}

/// Applies waiting ops that can now go: those that follow their device's
/// head, whose dependencies are held, whose device is in standing and whose
/// time has come, until none is left that can. One scan finds the first
/// waiting op past each device's head; from then on, work is driven by
/// what was released: the next op of the same device, and the ops found
/// waiting for that device's ops. Each op is looked at a bounded number of
/// times, so ops that name each other across devices go in one pass.
/// Returns the ops applied.
fn drain_pending(
    tx: &Transaction,
    seen: &mut Seen,
    clock: &mut Clock,
    net: Net,
) -> Result<Vec<OpRef>> {
    let mut work: std::collections::VecDeque<Op> = {
        let mut stmt = tx.prepare_cached(&format!(
            "SELECT {} FROM pending_ops p LEFT JOIN device_heads h ON h.device = p.device
             WHERE p.seq = COALESCE(h.seq, 0) + 1
               AND (p.authentic = 1 OR EXISTS (
                     SELECT 1 FROM pending_ops q
                     WHERE q.device = p.device AND q.seq > p.seq AND q.authentic = 1))",
            op_columns_of("p")
        ))?;
        let rows = stmt.query_map([], RawOp::read)?;
        let raws: Vec<RawOp> = rows.collect::<rusqlite::Result<_>>()?;
        raws.into_iter()
            .map(RawOp::into_op)
            .collect::<Result<_>>()?
    };
    // Ops that wait for an op of a device, by that device.
    let mut blocked: HashMap<DeviceId, Vec<Op>> = HashMap::new();
    let mut applied = Vec::new();
    while let Some(op) = work.pop_front() {
        match release(tx, seen, &op, net)? {
            Released::Applied(went) => {
                let Some(last) = went.last().map(|o| o.body.seq) else {
                    continue;
                };
                for o in &went {
                    clock.observe(o.body.hlc);
                    applied.push(o.op_ref());
                }
                let device = op.body.device;
                if let Some((next, _)) = waiting_at(tx, &device, last + 1)? {
                    work.push_back(next);
                }
                if let Some(waiters) = blocked.remove(&device) {
                    work.extend(waiters);
                }
            }
            Released::WaitsFor(device) => blocked.entry(device).or_default().push(op),
            Released::Stays => {}
        }
    }
    Ok(applied)
}

/// What [`release`] did with a waiting op.
enum Released {
    /// It went in, with the ops above it that had to go in with it.
    Applied(Vec<Op>),
    /// It still waits for an op of this device.
    WaitsFor(DeviceId),
    /// It still waits (for its grant or its time), or left waiting for
    /// quarantine or because its device was revoked.
    Stays,
}

/// The waiting op of a device at a number, if any, and whether it is known
/// to be authentic.
fn waiting_at(tx: &Transaction, device: &DeviceId, seq: u64) -> Result<Option<(Op, bool)>> {
    let raw: Option<(RawOp, bool)> = tx
        .prepare_cached(&format!(
            "SELECT {OP_COLUMNS}, authentic FROM pending_ops WHERE device = ?1 AND seq = ?2"
        ))?
        .query_row(params![device.as_bytes(), seq.min(MAX_SEQ) as i64], |r| {
            Ok((RawOp::read(r)?, r.get(9)?))
        })
        .optional()?;
    raw.map(|(raw, authentic)| Ok((raw.into_op()?, authentic)))
        .transpose()
}

/// Whether `op`, waiting, carries a signature of its own that verifies;
/// `None` when it does not wait.
fn waiting_signed(tx: &Connection, op: &Op) -> Result<Option<bool>> {
    Ok(tx
        .prepare_cached("SELECT authentic FROM pending_ops WHERE device = ?1 AND seq = ?2")?
        .query_row(
            params![op.body.device.as_bytes(), op.body.seq as i64],
            |r| r.get(0),
        )
        .optional()?)
}

/// Takes a waiting op that follows its device's head out of waiting if it
/// can go now, and applies it.
fn release(tx: &Transaction, seen: &mut Seen, op: &Op, net: Net) -> Result<Released> {
    let (_, head_hash) = seen.head(tx, &op.body.device)?;
    let chained = op.body.prev == head_hash;
    let signed = waiting_signed(tx, op)?.unwrap_or(false);
    if !signed {
        if !chained {
            // Not the history held here, and nothing says its device made
            // it: it can never go in.
            forget_pending(tx, op, seen)?;
            return Ok(Released::Stays);
        }
        return release_covered(tx, seen, op, net);
    }
    let decoded = decode(op);
    if chained {
        match lacks(tx, seen, op, &decoded, net) {
            Ok(None) => {}
            Ok(Some(Lack::Op(d))) => return Ok(Released::WaitsFor(d.device)),
            Ok(Some(Lack::Grant | Lack::Time(_))) => return Ok(Released::Stays),
            Err(e) if e.is_storage() => return Err(e),
            // Revoked meanwhile: it will never be taken in.
            Err(_) => {
                forget_pending(tx, op, seen)?;
                return Ok(Released::Stays);
            }
        }
    }
    forget_pending(tx, op, seen)?;
    if !chained {
        // Not the history held here for its device.
        quarantine(
            tx,
            op,
            "it does not follow the device's previous op held here (a cloned or restored device?)",
        )?;
        return Ok(Released::Stays);
    }
    apply_decoded(tx, seen, op, op.hash(), decoded, now_ms(), net)?;
    Ok(Released::Applied(vec![op.clone()]))
}

/// Takes in a waiting op whose own signature does not verify, with the
/// waiting ops above it up to the signed one that covers it, all or none:
/// an op goes into the log only with a signature over it in the log. The
/// run is applied under a savepoint and rolled back if any of it cannot go
/// in yet.
fn release_covered(tx: &Transaction, seen: &mut Seen, op: &Op, net: Net) -> Result<Released> {
    let device = op.body.device;
    let Some(top) = waiting_cover(tx, op, false)? else {
        // It waits for a signed op of its device to cover it.
        return Ok(Released::Stays);
    };
    // What the run lacks from outside it, the covering op first: its own
    // earlier ops count as held, since they go in before it.
    for seq in std::iter::once(top).chain(op.body.seq..top) {
        let Some((next, _)) = waiting_at(tx, &device, seq)? else {
            return Ok(Released::Stays);
        };
        match lacks(tx, seen, &next, &decode(&next), net) {
            Ok(None) => {}
            Ok(Some(Lack::Op(d))) if d.device == device && d.seq < next.body.seq => {}
            Ok(Some(Lack::Op(d))) => return Ok(Released::WaitsFor(d.device)),
            Ok(Some(Lack::Grant | Lack::Time(_))) => return Ok(Released::Stays),
            Err(e) if e.is_storage() => return Err(e),
            Err(_) => return Ok(Released::Stays),
        }
    }
    tx.execute_batch("SAVEPOINT covered_run")?;
    let mut applied = Vec::new();
    let mut whole = true;
    for seq in op.body.seq..=top {
        let Some((next, _)) = waiting_at(tx, &device, seq)? else {
            whole = false;
            break;
        };
        let (_, head_hash) = seen.head(tx, &device)?;
        let decoded = decode(&next);
        let can = next.body.prev == head_hash
            && match lacks(tx, seen, &next, &decoded, net) {
                Ok(lack) => lack.is_none(),
                Err(e) if e.is_storage() => return Err(e),
                Err(_) => false,
            };
        if !can {
            whole = false;
            break;
        }
        forget_pending(tx, &next, seen)?;
        apply_decoded(tx, seen, &next, next.hash(), decoded, now_ms(), net)?;
        applied.push(next);
    }
    if whole {
        tx.execute_batch("RELEASE covered_run")?;
        return Ok(Released::Applied(applied));
    }
    tx.execute_batch("ROLLBACK TO covered_run; RELEASE covered_run")?;
    // What was read while the run was applied no longer holds.
    seen.heads.remove(&device);
    seen.load.remove(&device);
    seen.total = None;
    seen.grants.clear();
    seen.waiting = None;
    Ok(Released::Stays)
}

/// What a waiting op waits for.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, serde::Deserialize, specta::Type)]
#[serde(tag = "kind", rename_all = "kebab-case")]
pub enum Waits {
    /// An earlier op of its own device, not held yet.
    Predecessor { seq: u64 },
    /// Its device's grant from the hub.
    Grant,
    /// Its time: it is stamped more than the allowed drift ahead of this
    /// device's clock.
    Time { wall_ms: u64 },
    /// An op it names (`device tag#seq`), not held yet.
    Op {
        device: String,
        tag: String,
        seq: u64,
    },
    /// A signed later op of its own device that covers it: its own
    /// signature does not verify (damaged on the way, or forged).
    Signature,
    /// Nothing any more: it is taken in at the next sync.
    Nothing,
}

impl std::fmt::Display for Waits {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Waits::Predecessor { seq } => write!(f, "its device's op #{seq}"),
            Waits::Grant => f.write_str("its device's grant from the hub"),
            Waits::Time { wall_ms } => write!(
                f,
                "its time ({}), more than an hour ahead of this clock",
                crate::review::format_ms(*wall_ms)
            ),
            Waits::Op { tag, seq, .. } => write!(f, "op {tag}#{seq}, which it names"),
            Waits::Signature => f.write_str(
                "a signed later op of its device that covers it (its own signature does not verify)",
            ),
            Waits::Nothing => f.write_str("nothing (it is taken in at the next sync)"),
        }
    }
}

/// Why a waiting op is not taken in yet: the first thing it lacks.
pub(crate) fn waits_for(tx: &Connection, op: &Op, net: Net) -> Result<Waits> {
    let mut seen = Seen::default();
    let (have, _) = seen.head(tx, &op.body.device)?;
    if op.body.seq > have + 1 {
        return Ok(Waits::Predecessor { seq: have + 1 });
    }
    let authentic = waiting_signed(tx, op)?.unwrap_or(true);
    Ok(match lacks(tx, &mut seen, op, &decode(op), net) {
        Ok(None) if !authentic => Waits::Signature,
        Ok(None) => Waits::Nothing,
        Ok(Some(Lack::Time(wall_ms))) => Waits::Time { wall_ms },
        Ok(Some(Lack::Op(d))) => Waits::Op {
            device: d.device.to_string(),
            tag: d.device.tag(),
            seq: d.seq,
        },
        Err(e) if e.is_storage() => return Err(e),
        // A device that was never granted, or was revoked, never gets it.
        Ok(Some(Lack::Grant)) | Err(_) => Waits::Grant,
    })
}

fn forget_pending(tx: &Transaction, op: &Op, seen: &mut Seen) -> Result<()> {
    tx.prepare_cached("DELETE FROM pending_ops WHERE device = ?1 AND seq = ?2")?
        .execute(params![op.body.device.as_bytes(), op.body.seq as i64])?;
    seen.unload(&op.body.device, op.body.payload.len() as u64);
    Ok(())
}

/// Does this payload act in the demo crisis: does it create something in a
/// demo crisis or name an op of a demo device?
fn touches_demo(tx: &Connection, payload: &Payload) -> Result<bool> {
    if let Some(crisis) = payload.crisis() {
        let demo: Option<bool> = tx
            .prepare_cached("SELECT demo FROM crises WHERE id = ?1")?
            .query_row([crisis.as_bytes()], |r| r.get(0))
            .optional()?;
        if demo == Some(true) {
            return Ok(true);
        }
    }
    for dep in payload.deps() {
        if is_demo_device(tx, &dep.device)? {
            return Ok(true);
        }
    }
    Ok(false)
}

/// This device's demo key, made (with its demo declaration: the same
/// person, as the device's grant or declaration has them) on first use.
fn demo_key(tx: &Transaction, local: &Local, hlc: Hlc, net: Net) -> Result<DeviceKey> {
    let secret: Option<Vec<u8>> = tx
        .prepare_cached("SELECT secret FROM local_demo WHERE id = 1")?
        .query_row([], |r| r.get(0))
        .optional()?;
    if let Some(secret) = secret {
        let secret: [u8; 32] = secret
            .try_into()
            .map_err(|_| damaged("the demo key has the wrong length"))?;
        return Ok(DeviceKey::from_secret(secret));
    }
    let key = DeviceKey::from_secret(crate::random());
    tx.execute(
        "INSERT INTO local_demo (id, secret, device) VALUES (1, ?1, ?2)",
        params![key.secret(), key.device_id().as_bytes()],
    )?;
    let me: (String, String, String, Option<String>) = tx.query_row(
        "SELECT name, role, country, org FROM persons WHERE id = ?1",
        [local.person.as_bytes()],
        |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?)),
    )?;
    let declaration = PersonDeclared {
        id: local.person,
        name: me.0,
        role: Role::parse(&me.1).ok_or_else(|| damaged("a person has an unknown role"))?,
        country: Country::parse(&me.2).ok_or_else(|| damaged("a person has an unknown country"))?,
        org: me.3,
        demo: true,
    };
    sign_and_apply(
        tx,
        &key,
        local.person,
        hlc,
        &Payload::PersonDeclare(declaration),
        net,
    )?;
    Ok(key)
}
