//! The hub's receipt times and signed heads, as devices keep them, and
//! their check (see `relevo_core::head`).

use crate::error::{Error, Result};
use crate::log::{device_id, RawOp, OP_COLUMNS};
use crate::{now_ms, Store};
use relevo_core::head::{root, HeadEntry, HubHead};
use relevo_core::{Op, OpHash, OpRef};
use rusqlite::{params, OptionalExtension};
use serde::Serialize;
use specta::Type;

/// What [`Store::verify`] found of the hub's signed heads kept here.
#[derive(Debug, Clone, Default, Serialize, Type)]
pub struct HeadsReport {
    /// Heads the hub signed that this device kept.
    pub kept: u32,
    /// Recomputed from the ops held here, and equal.
    pub consistent: u32,
    /// Name ops this device does not hold (yet): not checkable here.
    pub unchecked: u32,
    /// The first head that does not match the ops held here.
    pub problem: Option<String>,
}

fn pack(entries: &[HeadEntry]) -> Vec<u8> {
    let mut out = Vec::with_capacity(entries.len() * 40);
    for e in entries {
        out.extend_from_slice(e.device.as_bytes());
        out.extend_from_slice(&e.seq.to_be_bytes());
    }
    out
}

fn unpack(bytes: &[u8]) -> Result<Vec<HeadEntry>> {
    if !bytes.len().is_multiple_of(40) {
        return Err(crate::log::damaged(
            "a kept hub head has a malformed entry list",
        ));
    }
    bytes
        .chunks(40)
        .map(|c| {
            Ok(HeadEntry {
                device: device_id(&c[..32])?,
                seq: u64::from_be_bytes(c[32..].try_into().expect("8 bytes")),
            })
        })
        .collect()
}

impl Store {
    /// The hub signs what its log holds now: for every device (demo devices
    /// aside), the last op held and its hash. `None` unless this is a hub.
    pub fn signed_head(&self) -> Result<Option<HubHead>> {
        if !self.net.is_hub {
            return Ok(None);
        }
        let Some(local) = self.local.as_ref() else {
            return Ok(None);
        };
        let mut stmt = self.conn.prepare_cached(
            "SELECT device, seq, hash FROM device_heads
             WHERE device NOT IN (SELECT device FROM demo_devices)",
        )?;
        let rows = stmt.query_map([], |r| {
            Ok((
                r.get::<_, Vec<u8>>(0)?,
                r.get::<_, i64>(1)?,
                r.get::<_, Vec<u8>>(2)?,
            ))
        })?;
        let mut held = Vec::new();
        for row in rows {
            let (device, seq, hash) = row?;
            let hash: [u8; 32] = hash
                .try_into()
                .map_err(|_| crate::log::damaged("an op hash has the wrong length"))?;
            held.push((
                HeadEntry {
                    device: device_id(&device)?,
                    seq: seq as u64,
                },
                OpHash(hash),
            ));
        }
        Ok(Some(HubHead::sign(&local.key, now_ms(), held)))
    }

    /// When this store received each op (for the hub: when the hub did).
    pub fn receipt_times(&self, ops: &[Op]) -> Result<Vec<u64>> {
        let mut stmt = self
            .conn
            .prepare_cached("SELECT received_at FROM ops WHERE device = ?1 AND seq = ?2")?;
        ops.iter()
            .map(|o| {
                let at: Option<i64> = stmt
                    .query_row(params![o.body.device.as_bytes(), o.body.seq as i64], |r| {
                        r.get(0)
                    })
                    .optional()?;
                Ok(at.unwrap_or(0).max(0) as u64)
            })
            .collect()
    }

    /// Keeps when the hub received these ops (as the hub said).
    pub fn keep_hub_receipts(&mut self, receipts: &[(OpRef, u64)]) -> Result<()> {
        let tx = self.conn.transaction()?;
        {
            let mut stmt = tx.prepare_cached(
                "INSERT OR IGNORE INTO hub_receipts (device, seq, at) VALUES (?1, ?2, ?3)",
            )?;
            for (r, at) in receipts.iter().filter(|(_, at)| *at > 0) {
                stmt.execute(params![r.device.as_bytes(), r.seq as i64, *at as i64])?;
            }
        }
        tx.commit()?;
        Ok(())
    }

    /// Keeps a head the network's hub signed, after checking the signature.
    /// A head equal to the last one kept is not kept twice.
    pub fn keep_hub_head(&mut self, head: &HubHead) -> Result<()> {
        let hub = self.net.hub.ok_or_else(|| {
            Error::Invalid("a hub head arrived but this device is not enrolled".into())
        })?;
        head.verify(&hub).map_err(|_| {
            Error::Invalid(
                "the hub's signed head does not check out with the hub's key: it was not kept"
                    .into(),
            )
        })?;
        let last: Option<Vec<u8>> = self
            .conn
            .query_row(
                "SELECT entries FROM hub_heads ORDER BY at DESC LIMIT 1",
                [],
                |r| r.get(0),
            )
            .optional()?;
        let entries = pack(&head.entries);
        if last.as_deref() == Some(entries.as_slice()) {
            return Ok(());
        }
        self.conn.execute(
            "INSERT OR IGNORE INTO hub_heads (at, root, signature, entries, kept_at)
             VALUES (?1, ?2, ?3, ?4, ?5)",
            params![
                head.at_ms as i64,
                head.root,
                head.signature,
                entries,
                now_ms() as i64
            ],
        )?;
        Ok(())
    }

    /// Recomputes every kept head from the ops held here: each must match
    /// what the hub signed.
    pub(crate) fn verify_hub_heads(&self) -> Result<HeadsReport> {
        let mut report = HeadsReport::default();
        let Some(hub) = self.net.hub else {
            return Ok(report);
        };
        let mut heads = self
            .conn
            .prepare("SELECT at, root, signature, entries FROM hub_heads ORDER BY at")?;
        let mut rows = heads.query([])?;
        let mut op = self.conn.prepare_cached(&format!(
            "SELECT {OP_COLUMNS} FROM ops WHERE device = ?1 AND seq = ?2"
        ))?;
        while let Some(r) = rows.next()? {
            report.kept += 1;
            if report.problem.is_some() {
                continue;
            }
            let at: i64 = r.get(0)?;
            let signed: Vec<u8> = r.get(1)?;
            let signature: Vec<u8> = r.get(2)?;
            let entries = unpack(&r.get::<_, Vec<u8>>(3)?)?;
            let when = crate::format_ms(at as u64);
            let (Ok(root_bytes), Ok(signature)) = (
                <[u8; 32]>::try_from(signed.as_slice()),
                <[u8; 64]>::try_from(signature.as_slice()),
            ) else {
                report.problem = Some(format!("the hub head of {when} is malformed"));
                continue;
            };
            if hub.verify(&root_bytes, &signature).is_err() {
                report.problem = Some(format!(
                    "the hub head of {when} is not signed by the hub's key"
                ));
                continue;
            }
            let mut hashes = Vec::with_capacity(entries.len());
            for e in &entries {
                let raw: Option<RawOp> = op
                    .query_row(params![e.device.as_bytes(), e.seq as i64], RawOp::read)
                    .optional()?;
                match raw {
                    Some(raw) => hashes.push(raw.into_op()?.hash()),
                    None => break,
                }
            }
            if hashes.len() < entries.len() {
                report.unchecked += 1;
                continue;
            }
            if root(at as u64, &entries, &hashes) == root_bytes {
                report.consistent += 1;
            } else {
                report.problem = Some(format!(
                    "the ops held here differ from what the hub signed at {when} ({} ops): the history was rewritten, here or at the hub",
                    entries.iter().map(|e| e.seq).sum::<u64>()
                ));
            }
        }
        Ok(report)
    }
}
