//! Bundle files: the log carried on a USB stick where there is no network.
//!
//! A bundle is sealed for its network: the packed ops are encrypted with
//! XChaCha20-Poly1305 under the network's bundle key, which the hub gives
//! each device it enrols ([`relevo_store::Store::network_key`]). A lost
//! stick gives a finder nothing but the network's hub id. The file is
//! `RLVX`, a format version, the hub id and a random nonce (all
//! authenticated), then the ciphertext. A plain `RLVB` bundle of an earlier
//! Relevo is still read.
//!
//! A bundle holds ops (all of them, or only those a given device lacks) in
//! the wire format, with the network it belongs to. Importing checks every
//! op's signature and chain before taking any: a bundle with one altered op
//! is refused whole, with a message naming it, and nothing is written. Ops of
//! a device outside the importer's network (neither the hub nor a device
//! the hub granted, here or in the bundle) are refused: never held, never
//! counted.

use crate::wire::{pack, runs, unpack_within, unrun, Run, WireVector, MAX_BUNDLE_DECODED};
use crate::{count, page, plan, SyncError};
use relevo_core::{DeviceId, Op};
use relevo_store::{Ingest, Store, Vector};
use serde::{Deserialize, Serialize};
use std::path::Path;

const MAGIC: &[u8; 4] = b"RLVB";
const WHAT: &str = "bundle";

/// A sealed (encrypted) bundle.
const SEALED: &[u8; 4] = b"RLVX";
const SEALED_VERSION: u8 = 1;
/// Magic, version and hub id: authenticated, in the clear.
const SEALED_HEADER: usize = 4 + 1 + 32;
const NONCE: usize = 24;

#[derive(Serialize, Deserialize)]
struct WireBundle {
    /// The network's hub; empty for a device used alone.
    #[serde(with = "serde_bytes")]
    hub: Vec<u8>,
    #[serde(with = "serde_bytes")]
    made_by: Vec<u8>,
    made_at: u64,
    /// What the maker held.
    vector: WireVector,
    runs: Vec<Run>,
}

/// What an import did.
#[derive(Debug, Clone, Default, Serialize, specta::Type)]
pub struct Imported {
    pub ops: u64,
    /// New to this device.
    pub applied: u64,
    pub duplicates: u64,
    /// Waiting for ops they name.
    pub pending: u64,
    /// Quarantined: they contradict a device's history.
    pub forked: u64,
    /// Not kept (a revoked or unenrolled device), with the reason.
    pub refused: Vec<String>,
    /// How many ops were not kept.
    pub refused_ops: u64,
    pub made_by: String,
}

/// Every op this store may share that `lacks` does not hold (all of them
/// when `lacks` is empty), sealed for the network: the bytes of a bundle
/// file and how many ops it holds.
pub fn export(store: &Store, lacks: &Vector) -> Result<(Vec<u8>, u64), SyncError> {
    let hub = store.hub().ok_or_else(|| {
        SyncError::Bundle(
            "this device is not enrolled with a hub: bundles are encrypted for the devices of a \
             network, so enrol it first"
                .into(),
        )
    })?;
    let key = store.network_key()?.ok_or_else(|| {
        SyncError::Bundle(
            "this device has not received its network's key yet: sync with the hub once, then \
             make the bundle again"
                .into(),
        )
    })?;
    let (packed, n) = packed(store, lacks)?;
    Ok((seal(&hub, &key, &packed), n))
}

/// Encrypts a packed bundle for the network of `hub`.
fn seal(hub: &DeviceId, key: &[u8; 32], packed: &[u8]) -> Vec<u8> {
    use chacha20poly1305::aead::{Aead, KeyInit, Payload};
    let mut out = Vec::with_capacity(SEALED_HEADER + NONCE + packed.len() + 16);
    out.extend_from_slice(SEALED);
    out.push(SEALED_VERSION);
    out.extend_from_slice(hub.as_bytes());
    let mut nonce = [0u8; NONCE];
    rand_core::RngCore::fill_bytes(&mut rand_core::OsRng, &mut nonce);
    out.extend_from_slice(&nonce);
    let sealed = chacha20poly1305::XChaCha20Poly1305::new(key.into())
        .encrypt(
            (&nonce).into(),
            Payload {
                msg: packed,
                aad: &out[..SEALED_HEADER],
            },
        )
        .expect("encrypting in memory does not fail");
    out.extend_from_slice(&sealed);
    out
}

/// The packed bundle inside `data`: decrypted when sealed (for this
/// store's network, with its key), as it is when plain.
fn unseal<'a>(store: &Store, data: &'a [u8]) -> Result<std::borrow::Cow<'a, [u8]>, SyncError> {
    use chacha20poly1305::aead::{Aead, KeyInit, Payload};
    if !data.starts_with(SEALED) {
        return Ok(std::borrow::Cow::Borrowed(data));
    }
    let refuse = |why: &str| Err(SyncError::Bundle(format!("{why}; nothing was imported")));
    if data.len() < SEALED_HEADER + NONCE + 16 {
        return refuse("this bundle is cut short");
    }
    if data[4] != SEALED_VERSION {
        return refuse("this bundle was made by a newer Relevo: update Relevo to import it");
    }
    match store.hub() {
        None => return refuse("this bundle belongs to a hub's network and this device is not enrolled: enrol it first"),
        Some(hub) if hub.as_bytes()[..] != data[5..SEALED_HEADER] => {
            return refuse("this bundle belongs to another hub's network")
        }
        Some(_) => {}
    }
    let Some(key) = store.network_key()? else {
        return refuse("this device has not received its network's key yet: sync with the hub once, then import the bundle again");
    };
    let (header, rest) = data.split_at(SEALED_HEADER);
    let (nonce, sealed) = rest.split_at(NONCE);
    let nonce: &[u8; NONCE] = nonce.try_into().expect("split at NONCE");
    match chacha20poly1305::XChaCha20Poly1305::new((&key).into()).decrypt(
        nonce.into(),
        Payload {
            msg: sealed,
            aad: header,
        },
    ) {
        Ok(packed) => Ok(std::borrow::Cow::Owned(packed)),
        Err(_) => {
            refuse("this bundle does not open with this network's key: it was altered or damaged")
        }
    }
}

/// [`export`], unsealed: the packed bundle.
fn packed(store: &Store, lacks: &Vector) -> Result<(Vec<u8>, u64), SyncError> {
    let held = store.sync_vector()?;
    let ranges = plan(&held, lacks);
    let ops = page(store, &ranges, count(&ranges) as usize, usize::MAX)?;
    let body = WireBundle {
        hub: store
            .hub()
            .map(|h| h.as_bytes().to_vec())
            .unwrap_or_default(),
        made_by: store
            .device()
            .map(|d| d.as_bytes().to_vec())
            .unwrap_or_default(),
        made_at: crate::relevo_store_now(),
        vector: WireVector::from_vector(&held),
        runs: runs(&ops),
    };
    Ok((pack(MAGIC, &body), ops.len() as u64))
}

/// Reads a version vector from a file: `relevo status --json` output, or a
/// bare `{device: seq}` map.
pub fn read_vector(path: &Path) -> Result<Vector, SyncError> {
    let bad = |m: String| SyncError::Bundle(m);
    let text = std::fs::read_to_string(path)
        .map_err(|e| bad(format!("could not read {}: {e}", path.display())))?;
    let value: serde_json::Value = serde_json::from_str(&text)
        .map_err(|e| bad(format!("{} is not JSON: {e}", path.display())))?;
    let map = value.get("vector").unwrap_or(&value).clone();
    let pairs: std::collections::BTreeMap<String, u64> = serde_json::from_value(map).map_err(|e| {
        bad(format!(
            "{} holds no version vector (a map of device id to number, as `relevo status --json` prints): {e}",
            path.display()
        ))
    })?;
    pairs
        .into_iter()
        .map(|(d, n)| {
            d.parse()
                .map(|d| (d, n))
                .map_err(|_| bad(format!("'{d}' in {} is not a device id", path.display())))
        })
        .collect()
}

/// Writes a bundle file of every op `lacks` does not hold (see [`export`])
/// to `path`, whole or not at all; the path is checked before any work.
/// Returns how many ops and bytes were written.
pub fn export_to(store: &Store, lacks: &Vector, path: &Path) -> Result<(u64, u64), SyncError> {
    refuse_link(path)?;
    let (data, n) = export(store, lacks)?;
    write_file(path, &data)?;
    Ok((n, data.len() as u64))
}

/// Refuses to write through a symbolic link.
fn refuse_link(path: &Path) -> Result<(), SyncError> {
    if path
        .symlink_metadata()
        .is_ok_and(|m| m.file_type().is_symlink())
    {
        return Err(SyncError::File(format!(
            "could not write {}: it is a symbolic link, and Relevo does not write through links: give the path of a regular file",
            path.display()
        )));
    }
    Ok(())
}

/// Writes a file whole or not at all: to a temporary file beside it, then
/// renamed over it.
pub fn write_file(path: &Path, data: &[u8]) -> Result<(), SyncError> {
    let dir = path
        .parent()
        .filter(|p| !p.as_os_str().is_empty())
        .unwrap_or(Path::new("."));
    let fail =
        |e: std::io::Error| SyncError::File(format!("could not write {}: {e}", path.display()));
    refuse_link(path)?;
    let mut tmp = tempfile::NamedTempFile::new_in(dir).map_err(fail)?;
    std::io::Write::write_all(&mut tmp, data).map_err(fail)?;
    tmp.as_file().sync_all().map_err(fail)?;
    tmp.persist(path).map_err(|e| fail(e.error))?;
    Ok(())
}

/// Reads and checks a bundle: ours, of this version, of this network, every
/// op genuine. Nothing is written.
pub fn open(store: &Store, data: &[u8]) -> Result<(Vec<Op>, String), SyncError> {
    let data = unseal(store, data)?;
    let body: WireBundle = unpack_within(MAGIC, WHAT, &data, MAX_BUNDLE_DECODED)?;
    let made_by = <[u8; 32]>::try_from(body.made_by.as_slice())
        .map(|b| DeviceId::from_bytes(b).tag())
        .unwrap_or_else(|_| "unknown device".into());
    match (store.hub(), body.hub.as_slice()) {
        (Some(mine), theirs) if theirs != mine.as_bytes() => {
            return Err(SyncError::Bundle(if theirs.is_empty() {
                "this bundle comes from a device that is not enrolled with a hub; it was not imported".into()
            } else {
                "this bundle belongs to another hub's network; it was not imported".into()
            }))
        }
        (None, theirs) if !theirs.is_empty() => {
            return Err(SyncError::Bundle(
                "this bundle belongs to a hub's network and this device is not enrolled: enrol it first; nothing was imported".into(),
            ))
        }
        _ => {}
    }
    let ops = unrun(body.runs, WHAT)?;
    // Every op signed, or under a signed op of its chain in the bundle (the
    // acceptance rule, `relevo_core::op::authenticate_page`).
    let verdicts = relevo_core::op::authenticate_page(&ops, &mut rand_core::OsRng);
    if let Some((op, fault)) = ops.iter().zip(verdicts).find_map(|(op, v)| match v {
        Err(fault) => Some((op, fault)),
        Ok(relevo_core::op::Authenticity::Unsigned(_)) => Some((
            op,
            relevo_core::op::OpFault::Signature(relevo_core::identity::SignatureError::Mismatch),
        )),
        Ok(_) => None,
    }) {
        return Err(SyncError::Bundle(format!(
            "op {} in this bundle does not check out ({fault}): the bundle was altered or damaged and nothing was imported",
            op.label()
        )));
    }
    Ok((ops, made_by))
}

/// The devices a bundle's own hub ops grant (they count as members of the
/// network once those ops are taken in).
fn granted_in(store: &Store, ops: &[Op]) -> std::collections::BTreeSet<DeviceId> {
    use relevo_core::payload::Payload;
    let Some(hub) = store.hub() else {
        return Default::default();
    };
    ops.iter()
        .filter(|op| op.body.device == hub)
        .filter_map(
            |op| match Payload::decode(&op.body.kind, &op.body.payload) {
                Ok(Some(Payload::DeviceGrant(g))) => Some(g.device),
                _ => None,
            },
        )
        .collect()
}

/// Imports a bundle: checked whole first (see [`open`]), then taken in page
/// by page. Ops of devices outside this store's network are refused.
pub fn import(store: &mut Store, data: &[u8]) -> Result<Imported, SyncError> {
    let (ops, made_by) = open(store, data)?;
    let mut report = Imported {
        ops: ops.len() as u64,
        made_by,
        ..Default::default()
    };
    let granted = granted_in(store, &ops);
    let mut strangers: std::collections::BTreeMap<DeviceId, u64> = Default::default();
    let mut members = Vec::with_capacity(ops.len());
    for op in ops {
        let device = op.body.device;
        if granted.contains(&device) || store.is_member(&device)? {
            members.push(op);
        } else {
            *strangers.entry(device).or_insert(0) += 1;
            report.refused_ops += 1;
        }
    }
    report.refused.extend(strangers.iter().map(|(device, n)| {
        format!(
            "{n} op(s) of device {}: it is not enrolled in this network, so they were not imported",
            device.tag()
        )
    }));
    for chunk in members.chunks(crate::PAGE as usize) {
        for outcome in store.ingest_batch(chunk)? {
            match outcome {
                Ok(Ingest::Applied(_)) => report.applied += 1,
                Ok(Ingest::Duplicate) => report.duplicates += 1,
                Ok(Ingest::Pending) => report.pending += 1,
                Ok(Ingest::Forked) => report.forked += 1,
                Err(e) => {
                    report.refused_ops += 1;
                    if report.refused.len() < crate::MAX_REASONS {
                        report.refused.push(e.to_string());
                    }
                }
            }
        }
    }
    Ok(report)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::wire::unpack;
    use relevo_core::domain::IdentityDraft;

    fn device() -> Store {
        let mut s = Store::open_in_memory().expect("open");
        s.init_identity(&IdentityDraft {
            name: "Ana".into(),
            role: "regional-director".into(),
            country: "GT".into(),
            org: String::new(),
        })
        .expect("init");
        for name in ["Uno", "Dos", "Tres"] {
            s.open_crisis(&relevo_core::domain::CrisisDraft {
                name: name.into(),
                countries: vec!["GT".into()],
            })
            .expect("crisis");
        }
        s
    }

    /// One altered op inside an otherwise well-formed bundle: the bundle is
    /// refused whole, naming the op, and nothing is written.
    #[test]
    fn an_altered_op_refuses_the_whole_bundle() {
        let source = device();
        let (data, n) = packed(&source, &Vector::new()).expect("export");
        assert_eq!(n, 4);
        let mut body: WireBundle = unpack(MAGIC, WHAT, &data).expect("unpack");
        let mut ops = unrun(std::mem::take(&mut body.runs), WHAT).expect("ops");
        let payload = &mut ops[2].body.payload;
        let at = payload
            .iter()
            .position(|b| *b == b'D')
            .expect("a D in 'Dos'");
        payload[at] = b'T';
        body.runs = runs(&ops);
        let tampered = pack(MAGIC, &body);
        let mut target = Store::open_in_memory().expect("open");
        let err = import(&mut target, &tampered).expect_err("refused");
        let label = format!("{}#3", source.device().expect("d").tag());
        assert!(err.to_string().contains(&label), "{err}");
        assert!(err.to_string().contains("nothing was imported"), "{err}");
        assert_eq!(target.op_count().expect("n"), 0, "not even the good ops");
        let ok = import(&mut target, &data).expect("the original imports");
        assert_eq!(ok.applied, 4);
    }
}
