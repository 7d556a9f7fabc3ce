//! The op log: making local ops, taking in ops from elsewhere, verifying.
//!
//! Two kinds of refusal are kept apart (see ARCHITECTURE.md): an op whose
//! signature or chain does not check out was not made by the device it names
//! and is never stored; an op that is genuine but breaks a domain rule is
//! stored, marked refused with the reason, and left out of the projections.

use crate::error::{Error, Result};
use crate::project;
use crate::{now_ms, Local, Store};
use relevo_core::payload::{Payload, PersonDeclared, PERSON_DECLARE};
use relevo_core::permissions::Actor;
use relevo_core::rules::{self, Context, Dep, Refused};
use relevo_core::{Clock, DeviceId, DeviceKey, EntityId, Hlc, Op, OpHash, OpRef, UnsignedOp};
use rusqlite::types::Value;
use rusqlite::{
    params, params_from_iter, Connection, OptionalExtension, Transaction, TransactionBehavior,
};
use serde::Serialize;
use std::collections::BTreeMap;

/// What happened to an op offered to [`Store::ingest`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Ingest {
    /// Stored, with this many ops in all (it and the waiting ops it unblocked).
    Applied(usize),
    /// Already held: nothing changed.
    Duplicate,
    /// Held back until the device's earlier ops arrive.
    Pending,
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

/// The device's highest gapless seq and that op's hash.
fn head(tx: &Connection, device: &DeviceId) -> Result<(u64, OpHash)> {
    let row: Option<(i64, Vec<u8>)> = tx
        .query_row(
            "SELECT seq, hash FROM device_heads WHERE device = ?1",
            [device.as_bytes()],
            |r| Ok((r.get(0)?, r.get(1)?)),
        )
        .optional()?;
    match row {
        None => Ok((0, OpHash::GENESIS)),
        Some((seq, hash)) => Ok((seq as u64, op_hash(&hash)?)),
    }
}

/// The person a device declared in its first op, and their grant.
fn declared(tx: &Connection, device: &DeviceId) -> Result<Option<(EntityId, Actor)>> {
    let payload: Option<Vec<u8>> = tx
        .prepare_cached("SELECT payload FROM ops WHERE device = ?1 AND seq = 1 AND kind = ?2")?
        .query_row(params![device.as_bytes(), PERSON_DECLARE], |r| r.get(0))
        .optional()?;
    Ok(payload
        .and_then(|p| serde_json::from_slice::<PersonDeclared>(&p).ok())
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
    op: &UnsignedOp,
    payload: &Payload,
) -> Result<Result<(), Refused>> {
    let declared = declared(tx, &op.device)?;
    let lookup = |r: &OpRef| dep(tx, r);
    Ok(rules::verdict(
        op,
        payload,
        &Context {
            declared,
            dep: &lookup,
        },
    ))
}

/// Does the log hold every op this one names?
fn deps_held(tx: &Connection, op: &Op) -> Result<bool> {
    let Ok(Some(payload)) = Payload::decode(&op.body.kind, &op.body.payload) else {
        return Ok(true);
    };
    for d in payload.deps() {
        if head(tx, &d.device)?.0 < d.seq {
            return Ok(false);
        }
    }
    Ok(true)
}

/// Appends a verified op that follows its device's head and whose
/// dependencies are held, and projects it unless a rule refuses it.
fn apply(tx: &Transaction, op: &Op, received_at: u64) -> Result<()> {
    let verdict = match Payload::decode(&op.body.kind, &op.body.payload) {
        Ok(Some(payload)) => judge(tx, &op.body, &payload)?
            .map(|()| Some(payload))
            .map_err(|r| r.to_string()),
        Ok(None) => Ok(None),
        Err(e) => Err(e.to_string()),
    };
    let b = &op.body;
    let hash = op.hash();
    let mut values = op_values(op);
    values.extend([
        Value::Blob(hash.0.to_vec()),
        Value::Integer(received_at as i64),
        verdict.as_ref().err().cloned().into(),
    ]);
    tx.prepare_cached(&format!(
        "INSERT INTO ops ({OP_COLUMNS}, hash, received_at, refused) VALUES ({})",
        placeholders(values.len())
    ))?
    .execute(params_from_iter(values))?;
    tx.prepare_cached(
        "INSERT INTO device_heads (device, seq, hash) VALUES (?1, ?2, ?3)
         ON CONFLICT (device) DO UPDATE SET seq = excluded.seq, hash = excluded.hash",
    )?
    .execute(params![b.device.as_bytes(), b.seq as i64, hash.0])?;
    if let Ok(Some(payload)) = verdict {
        project::project(tx, op, &payload)?;
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

pub(crate) const OP_COLUMNS: &str =
    "device, seq, hlc_wall, hlc_counter, author, kind, payload, prev, signature";

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

/// Makes the next op of `key`'s device inside `tx`: judged by the rules
/// every replica applies (a refusal is returned and nothing is written),
/// signed, appended and projected.
pub(crate) fn sign_and_apply(
    tx: &Transaction,
    key: &DeviceKey,
    person: EntityId,
    hlc: Hlc,
    payload: &Payload,
) -> Result<Op> {
    let device = key.device_id();
    let (seq, prev) = head(tx, &device)?;
    let body = UnsignedOp {
        device,
        seq: seq + 1,
        hlc,
        author: person,
        kind: payload.kind().to_owned(),
        payload: payload.encode(),
        prev,
    };
    judge(tx, &body, payload)?.map_err(Error::from)?;
    let op = body.sign(key).map_err(|fault| Error::BadOp {
        label: "new op".into(),
        fault,
    })?;
    apply(tx, &op, now_ms())?;
    Ok(op)
}

/// The per-device result of [`Store::verify`].
#[derive(Debug, Clone, Serialize)]
pub struct DeviceReport {
    pub device: String,
    pub tag: String,
    pub ops: u64,
    pub first: Option<String>,
    pub last: Option<String>,
    /// The first op that does not check out, and why; `None` when intact.
    pub problem: Option<String>,
}

#[derive(Debug, Clone, Serialize)]
pub struct VerifyReport {
    pub devices: Vec<DeviceReport>,
}

impl VerifyReport {
    pub fn intact(&self) -> bool {
        self.devices.iter().all(|d| d.problem.is_none())
    }
}

impl Store {
    /// Makes a local op in one transaction: `build` sees the open transaction
    /// (to read counters) and returns the payload; the op is signed, appended
    /// and projected, and the commit is durable before this returns.
    pub(crate) fn append_local(
        &mut self,
        build: impl FnOnce(&Transaction, &DeviceId) -> Result<Payload>,
    ) -> Result<(Op, Payload)> {
        let local = self.local.as_ref().ok_or(Error::NotInitialised)?;
        let device = local.key.device_id();
        let tx = self
            .conn
            .transaction_with_behavior(TransactionBehavior::Immediate)?;
        let payload = build(&tx, &device)?;
        let hlc = self.clock.tick(now_ms());
        let op = sign_and_apply(&tx, &local.key, local.person, hlc, &payload)?;
        tx.commit()?;
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
        let op = sign_and_apply(&tx, &key, person, hlc, &payload)?;
        tx.commit()?;
        self.local = Some(Local { key, person });
        Ok(op)
    }

    /// Takes in an op made elsewhere (another device, the hub, a bundle, the
    /// demo generator). Checks its shape, signature and chain; stores it and
    /// any waiting successors it unblocks, in one transaction.
    pub fn ingest(&mut self, op: &Op) -> Result<Ingest> {
        op.verify().map_err(|fault| Error::BadOp {
            label: op.label(),
            fault,
        })?;
        let tx = self
            .conn
            .transaction_with_behavior(TransactionBehavior::Immediate)?;
        let outcome = ingest_verified(&tx, op, &mut self.clock)?;
        tx.commit()?;
        Ok(outcome)
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
                    problem: None,
                });
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
                    } else if let Err(fault) = op.verify() {
                        Some(format!("{label}: {fault}"))
                    } else {
                        expect_prev = op.hash();
                        None
                    }
                }
            };
            report.problem = problem;
        }
        Ok(VerifyReport { devices })
    }
}

/// The ingest rules, inside an open transaction. The clock observes every
/// timestamp seen, so local ops made afterwards sort after them.
fn ingest_verified(tx: &Transaction, op: &Op, clock: &mut Clock) -> Result<Ingest> {
    clock.observe(op.body.hlc);
    let device = &op.body.device;
    let (have, head_hash) = head(tx, device)?;
    if op.body.seq <= have {
        let existing: Vec<u8> = tx.query_row(
            "SELECT hash FROM ops WHERE device = ?1 AND seq = ?2",
            params![device.as_bytes(), op.body.seq as i64],
            |r| r.get(0),
        )?;
        return if existing.as_slice() == op.hash().0.as_slice() {
            Ok(Ingest::Duplicate)
        } else {
            Err(Error::Fork { label: op.label() })
        };
    }
    if op.body.seq == have + 1 && op.body.prev != head_hash {
        return Err(Error::BrokenChain { label: op.label() });
    }
    if op.body.seq > have + 1 || !deps_held(tx, op)? {
        // Earlier ops of its device, or ops it names, are still missing.
        let values = op_values(op);
        tx.execute(
            &format!(
                "INSERT OR IGNORE INTO pending_ops ({OP_COLUMNS}) VALUES ({})",
                placeholders(values.len())
            ),
            params_from_iter(values),
        )?;
        return Ok(Ingest::Pending);
    }
    apply(tx, op, now_ms())?;
    Ok(Ingest::Applied(1 + drain_pending(tx, clock)?))
}

/// Applies waiting ops that can now go: those that follow their device's
/// head and whose dependencies are held, until none is left that can.
fn drain_pending(tx: &Transaction, clock: &mut Clock) -> Result<usize> {
    let mut applied = 0;
    loop {
        let ready: Vec<RawOp> = {
            let mut stmt = tx.prepare_cached(&format!(
                "SELECT {} FROM pending_ops p LEFT JOIN device_heads h ON h.device = p.device
                 WHERE p.seq = COALESCE(h.seq, 0) + 1",
                OP_COLUMNS
                    .split(", ")
                    .map(|c| format!("p.{c}"))
                    .collect::<Vec<_>>()
                    .join(", ")
            ))?;
            let rows = stmt.query_map([], RawOp::read)?;
            rows.collect::<rusqlite::Result<_>>()?
        };
        let mut progressed = false;
        for raw in ready {
            let op = raw.into_op()?;
            let (_, head_hash) = head(tx, &op.body.device)?;
            let chained = op.body.prev == head_hash;
            if chained && !deps_held(tx, &op)? {
                continue;
            }
            tx.execute(
                "DELETE FROM pending_ops WHERE device = ?1 AND seq = ?2",
                params![op.body.device.as_bytes(), op.body.seq as i64],
            )?;
            if !chained {
                // Not this device's real history: dropped, and refused if
                // offered again.
                continue;
            }
            apply(tx, &op, now_ms())?;
            clock.observe(op.body.hlc);
            applied += 1;
            progressed = true;
        }
        if !progressed {
            return Ok(applied);
        }
    }
}
