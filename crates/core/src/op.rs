//! The operation: one signed, hash-chained intent in a device's log.
//!
//! [`canonical_bytes`] is the only encoding that is ever hashed or signed. It
//! is a fixed binary layout (not JSON, not the wire format) so that it can
//! never drift with a serialiser upgrade; golden vectors in
//! `tests/golden/ops.json` pin it. The payload is carried as the exact bytes
//! that were signed: replicas store and relay them untouched and decode them
//! separately, so a replica that does not understand a newer payload can still
//! verify, keep and pass on the op.

use crate::hlc::Hlc;
use crate::identity::{DeviceId, DeviceKey, SignatureError};
use crate::ids::EntityId;
use sha2::{Digest, Sha256};
use std::collections::HashMap;
use std::fmt;

/// Marks the canonical layout and its version. Changing the layout means a
/// new tag, never an edit of this one.
pub const CANONICAL_TAG: &[u8] = b"relevo/op/v1\0";

/// Longest kind name accepted in an op.
pub const MAX_KIND_LEN: usize = 64;
/// Largest payload accepted in an op (1 MiB): a request with a long
/// description is a few kilobytes.
pub const MAX_PAYLOAD_LEN: usize = 1 << 20;
/// Highest sequence number an op may carry: stores keep it as a signed
/// 64-bit integer, and no device makes 2^63 ops.
pub const MAX_SEQ: u64 = i64::MAX as u64;
/// Latest wall time an op may carry (the last millisecond of the year
/// 9999): anything later is not a clock reading but an attack on clocks.
pub const MAX_WALL_MS: u64 = 253_402_300_799_999;

/// SHA-256 of an op's canonical bytes; the next op of the same device names it.
#[derive(Clone, Copy, PartialEq, Eq, Hash, Default)]
pub struct OpHash(pub [u8; 32]);

impl OpHash {
    /// What the first op of every device names as its predecessor.
    pub const GENESIS: OpHash = OpHash([0; 32]);
}

impl fmt::Display for OpHash {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&hex::encode(self.0))
    }
}

impl fmt::Debug for OpHash {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "OpHash({})", &hex::encode(self.0)[..12])
    }
}

/// Names one op: its device and position in that device's log. Ops that
/// depend on others (a field write and the values it saw) name them this way;
/// on the wire it is `<device hex>/<seq>`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct OpRef {
    pub device: DeviceId,
    pub seq: u64,
}

impl fmt::Display for OpRef {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}", self.device, self.seq)
    }
}

impl std::str::FromStr for OpRef {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        let (device, seq) = s
            .split_once('/')
            .ok_or_else(|| format!("'{s}' is not an op reference (<device>/<seq>)"))?;
        let device = device
            .parse::<DeviceId>()
            .map_err(|e| format!("'{s}': {e}"))?;
        let seq = seq
            .parse::<u64>()
            .ok()
            .filter(|n| *n > 0)
            .ok_or_else(|| format!("'{s}': the sequence number must be 1 or more"))?;
        Ok(OpRef { device, seq })
    }
}

impl serde::Serialize for OpRef {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

impl<'de> serde::Deserialize<'de> for OpRef {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = String::deserialize(d)?;
        s.parse().map_err(serde::de::Error::custom)
    }
}

/// Everything an op says, before it is signed.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct UnsignedOp {
    pub device: DeviceId,
    /// Position in the device's log: 1, 2, 3... without gaps.
    pub seq: u64,
    pub hlc: Hlc,
    /// The person who made the op on this device.
    pub author: EntityId,
    /// What the op does, such as `request.create`.
    pub kind: String,
    /// The payload exactly as signed (JSON produced by [`crate::payload`]).
    pub payload: Vec<u8>,
    /// Hash of the device's previous op, or [`OpHash::GENESIS`] for seq 1.
    pub prev: OpHash,
}

/// A signed op.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Op {
    pub body: UnsignedOp,
    pub signature: [u8; 64],
}

/// The bytes that are hashed and signed. Layout (integers big-endian):
///
/// ```text
/// "relevo/op/v1\0" | device (32) | seq u64 | hlc.wall_ms u64 | hlc.counter u32
/// | author (16) | kind length u16 | kind (UTF-8) | payload length u32 | payload
/// | prev (32)
/// ```
pub fn canonical_bytes(op: &UnsignedOp) -> Vec<u8> {
    let mut out = Vec::with_capacity(CANONICAL_TAG.len() + 130 + op.kind.len() + op.payload.len());
    out.extend_from_slice(CANONICAL_TAG);
    out.extend_from_slice(op.device.as_bytes());
    out.extend_from_slice(&op.seq.to_be_bytes());
    out.extend_from_slice(&op.hlc.wall_ms.to_be_bytes());
    out.extend_from_slice(&op.hlc.counter.to_be_bytes());
    out.extend_from_slice(op.author.as_bytes());
    // Lengths are bounded by `check_shape`; the casts cannot truncate for any
    // op that passed it, and an op that did not is never signed or accepted.
    out.extend_from_slice(&(op.kind.len() as u16).to_be_bytes());
    out.extend_from_slice(op.kind.as_bytes());
    out.extend_from_slice(&(op.payload.len() as u32).to_be_bytes());
    out.extend_from_slice(&op.payload);
    out.extend_from_slice(&op.prev.0);
    out
}

/// Checks many ops at once: each op's shape, then all their signatures as
/// one batch, whose verdict on every op is the one [`Op::verify`] gives
/// (the ZIP 215 rules make batch and single checks agree) for about a third
/// of the cost. Each device's key is decompressed once. `rng` draws the
/// batch's random weights. Returns each genuine op's hash (computed from the
/// bytes the signature covers), or its fault.
pub fn verify_batch<R: rand_core::RngCore + rand_core::CryptoRng>(
    ops: &[Op],
    rng: &mut R,
) -> Vec<Result<OpHash, OpFault>> {
    use ed25519_zebra::batch::{Item, Verifier};
    let mut keys: HashMap<DeviceId, Result<(), SignatureError>> = HashMap::new();
    let mut out: Vec<Result<OpHash, OpFault>> = Vec::with_capacity(ops.len());
    let mut queued: Vec<(usize, Item)> = Vec::with_capacity(ops.len());
    let mut batch = Verifier::new();
    for (i, op) in ops.iter().enumerate() {
        let checked = op.body.check_shape().and_then(|()| {
            keys.entry(op.body.device)
                .or_insert_with(|| op.body.device.verifying_key().map(|_| ()))
                .map_err(OpFault::from)
        });
        if let Err(fault) = checked {
            out.push(Err(fault));
            continue;
        }
        let bytes = canonical_bytes(&op.body);
        out.push(Ok(OpHash(Sha256::digest(&bytes).into())));
        let item = Item::from((
            ed25519_zebra::VerificationKeyBytes::from(*op.body.device.as_bytes()),
            ed25519_zebra::Signature::from_bytes(&op.signature),
            &bytes,
        ));
        batch.queue(item.clone());
        queued.push((i, item));
    }
    if batch.verify(rng).is_err() {
        // At least one does not check out: find which, one by one.
        for (i, item) in queued {
            if item.verify_single().is_err() {
                out[i] = Err(OpFault::Signature(SignatureError::Mismatch));
            }
        }
    }
    out
}

/// What a replica knows of one op of a page after [`authenticate_page`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Authenticity {
    /// Its own signature verifies.
    Signed(OpHash),
    /// It lies under the op at index `anchor` of the page, in its device's
    /// hash chain, whose own signature verifies; its own signature was not
    /// checked. It is authentic for as long as it travels with that op: a
    /// replica takes it into its log only together with `anchor` (or checks
    /// its own signature).
    Covered { hash: OpHash, anchor: usize },
    /// Its signature does not verify and no op above it in the page covers
    /// it. A later signed op of its chain may still cover it, so it may
    /// wait for one; it is never stored in the log, relayed or quarantined
    /// as a fork while it stays so.
    Unsigned(OpHash),
}

impl Authenticity {
    pub fn hash(self) -> OpHash {
        match self {
            Authenticity::Signed(h) | Authenticity::Unsigned(h) => h,
            Authenticity::Covered { hash, .. } => hash,
        }
    }

    /// Signed, or covered by a signed op of the page.
    pub fn is_authentic(self) -> bool {
        !matches!(self, Authenticity::Unsigned(_))
    }
}

/// Authenticates a page of ops by their device chains: the acceptance rule.
///
/// **An op is authentic when it is, or lies under, an op of the same
/// device chain whose signature verifies.** "Lies under" follows the hash
/// chain: op `b` covers op `a` of the same device when `b.seq = a.seq + 1`
/// and `b.prev` is `a`'s hash, and covering is transitive. A signature
/// covers the hash of the op below, which covers that op's bytes and its
/// own `prev`, down to the genesis: one signature authenticates the whole
/// run beneath it, as a signed Git tip or a signed tree head does.
///
/// In a page, only the ops nothing above covers (each device run's last op,
/// usually) have their signatures checked, as one batch; when a check fails
/// the op below is checked next, and so on. Copies of one op with different
/// signatures are one node, good when any copy's signature verifies. Ops
/// with a bad shape or device key are refused outright ([`OpFault`]).
///
/// The verdict on an op depends only on the op and the ops of its chain,
/// never on how they were cut into pages: an op left
/// [`Authenticity::Unsigned`] here becomes authentic when a later op
/// covering it arrives, which the store checks against the ops it keeps
/// waiting.
pub fn authenticate_page<R: rand_core::RngCore + rand_core::CryptoRng>(
    ops: &[Op],
    rng: &mut R,
) -> Vec<Result<Authenticity, OpFault>> {
    use ed25519_zebra::batch::{Item, Verifier};
    let mut keys: HashMap<DeviceId, Result<(), SignatureError>> = HashMap::new();
    // Each op's canonical bytes and hash, or its fault.
    let mut shaped: Vec<Result<(Vec<u8>, OpHash), OpFault>> = Vec::with_capacity(ops.len());
    // The chain's nodes, by (device, seq, hash); each holds the page's
    // copies of that op with distinct signatures.
    let mut node_of: HashMap<(DeviceId, u64, OpHash), usize> = HashMap::new();
    let mut copies: Vec<Vec<usize>> = Vec::new();
    let mut signatures: std::collections::HashSet<(usize, [u8; 64])> = Default::default();
    for (i, op) in ops.iter().enumerate() {
        let checked = op.body.check_shape().and_then(|()| {
            keys.entry(op.body.device)
                .or_insert_with(|| op.body.device.verifying_key().map(|_| ()))
                .map_err(OpFault::from)
        });
        shaped.push(checked.map(|()| {
            let bytes = canonical_bytes(&op.body);
            let hash = OpHash(Sha256::digest(&bytes).into());
            let node = *node_of
                .entry((op.body.device, op.body.seq, hash))
                .or_insert_with(|| {
                    copies.push(Vec::new());
                    copies.len() - 1
                });
            if signatures.insert((node, op.signature)) {
                copies[node].push(i);
            }
            (bytes, hash)
        }));
    }
    // The node each node lies directly under, and how many lie on each.
    let mut below: Vec<Option<usize>> = vec![None; copies.len()];
    let mut above_count: Vec<usize> = vec![0; copies.len()];
    for (&(device, seq, _), &node) in &node_of {
        if seq > 1 {
            let prev = ops[copies[node][0]].body.prev;
            if let Some(&under) = node_of.get(&(device, seq - 1, prev)) {
                below[node] = Some(under);
                above_count[under] += 1;
            }
        }
    }
    // Per node: the copy whose own signature verified and covers it, or
    // `usize::MAX` when none does.
    const NONE: usize = usize::MAX;
    let mut anchor: Vec<Option<usize>> = vec![None; copies.len()];
    // Copies whose own signature verified.
    let mut signed: Vec<bool> = vec![false; ops.len()];
    let mut undecided_above = above_count.clone();
    let mut frontier: Vec<usize> = (0..copies.len()).filter(|&n| above_count[n] == 0).collect();
    while !frontier.is_empty() {
        let mut batch = Verifier::new();
        let mut queued: Vec<(usize, Item)> = Vec::new();
        for &node in &frontier {
            if anchor[node].is_some() {
                continue;
            }
            for &c in &copies[node] {
                let Ok((bytes, _)) = &shaped[c] else { continue };
                let item = Item::from((
                    ed25519_zebra::VerificationKeyBytes::from(*ops[c].body.device.as_bytes()),
                    ed25519_zebra::Signature::from_bytes(&ops[c].signature),
                    &bytes[..],
                ));
                batch.queue(item.clone());
                queued.push((c, item));
            }
        }
        let all_good = batch.verify(&mut *rng).is_ok();
        for (c, item) in queued {
            signed[c] = all_good || item.verify_single().is_ok();
        }
        let mut next = Vec::new();
        for &node in &frontier {
            if anchor[node].is_some() {
                continue;
            }
            match copies[node].iter().copied().find(|&c| signed[c]) {
                Some(good) => {
                    // It and everything beneath are covered by `good`.
                    let mut at = Some(node);
                    while let Some(n) = at {
                        if anchor[n].is_some_and(|a| a != NONE) {
                            break;
                        }
                        anchor[n] = Some(good);
                        at = below[n];
                    }
                }
                None => {
                    anchor[node] = Some(NONE);
                    if let Some(under) = below[node] {
                        undecided_above[under] -= 1;
                        if undecided_above[under] == 0 && anchor[under].is_none() {
                            next.push(under);
                        }
                    }
                }
            }
        }
        frontier = next;
    }
    let signed_sigs: std::collections::HashSet<(usize, [u8; 64])> = (0..ops.len())
        .filter(|&i| signed[i])
        .filter_map(|i| {
            let (_, hash) = shaped[i].as_ref().ok()?;
            Some((
                node_of[&(ops[i].body.device, ops[i].body.seq, *hash)],
                ops[i].signature,
            ))
        })
        .collect();
    ops.iter()
        .zip(shaped)
        .enumerate()
        .map(|(i, (op, shaped))| {
            let (_, hash) = shaped?;
            let node = node_of[&(op.body.device, op.body.seq, hash)];
            // A copy left out as a repeat of a signature checked above.
            let own = signed[i] || (signed_sigs.contains(&(node, op.signature)));
            Ok(match anchor[node] {
                _ if own => Authenticity::Signed(hash),
                Some(a) if a != NONE => Authenticity::Covered { hash, anchor: a },
                _ => Authenticity::Unsigned(hash),
            })
        })
        .collect()
}

/// Why an op is not what it claims to be. Ops with such a fault were not
/// made by the device they name and are never stored or relayed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum OpFault {
    #[error("sequence number 0: a device's ops are numbered from 1")]
    ZeroSeq,
    #[error("kind is empty or longer than {MAX_KIND_LEN} bytes")]
    BadKind,
    #[error("payload is larger than {MAX_PAYLOAD_LEN} bytes")]
    PayloadTooLarge,
    #[error("the first op of a device must not name a predecessor")]
    GenesisWithPrev,
    #[error("sequence number {0} is beyond any device's reach")]
    SeqTooLarge(u64),
    #[error("its clock reads {0} ms since 1970, after the year 9999")]
    ClockTooLarge(u64),
    #[error(transparent)]
    Signature(#[from] SignatureError),
}

impl UnsignedOp {
    /// Structural rules every op obeys, checked before signing and before
    /// accepting.
    pub fn check_shape(&self) -> Result<(), OpFault> {
        if self.seq == 0 {
            return Err(OpFault::ZeroSeq);
        }
        if self.seq > MAX_SEQ {
            return Err(OpFault::SeqTooLarge(self.seq));
        }
        if self.hlc.wall_ms > MAX_WALL_MS {
            return Err(OpFault::ClockTooLarge(self.hlc.wall_ms));
        }
        if self.kind.is_empty() || self.kind.len() > MAX_KIND_LEN {
            return Err(OpFault::BadKind);
        }
        if self.payload.len() > MAX_PAYLOAD_LEN {
            return Err(OpFault::PayloadTooLarge);
        }
        if self.seq == 1 && self.prev != OpHash::GENESIS {
            return Err(OpFault::GenesisWithPrev);
        }
        Ok(())
    }

    pub fn hash(&self) -> OpHash {
        OpHash(Sha256::digest(canonical_bytes(self)).into())
    }

    /// Signs the op with the device key. The key must be the op's device.
    pub fn sign(self, key: &DeviceKey) -> Result<Op, OpFault> {
        assert_eq!(
            key.device_id(),
            self.device,
            "an op is signed by the device it names"
        );
        self.check_shape()?;
        let signature = key.sign(&canonical_bytes(&self));
        Ok(Op {
            body: self,
            signature,
        })
    }
}

impl Op {
    pub fn hash(&self) -> OpHash {
        self.body.hash()
    }

    /// Shape and signature. The chain (prev hash, gapless seq) needs the
    /// device's earlier ops and is checked by the store.
    pub fn verify(&self) -> Result<(), OpFault> {
        self.body.check_shape()?;
        self.body
            .device
            .verify(&canonical_bytes(&self.body), &self.signature)?;
        Ok(())
    }

    pub fn op_ref(&self) -> OpRef {
        OpRef {
            device: self.body.device,
            seq: self.body.seq,
        }
    }

    /// `DEVICETAG#seq`, the way ops are named in messages to people.
    pub fn label(&self) -> String {
        format!("{}#{}", self.body.device.tag(), self.body.seq)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample(seq: u64, prev: OpHash) -> UnsignedOp {
        UnsignedOp {
            device: DeviceKey::from_secret([5; 32]).device_id(),
            seq,
            hlc: Hlc::new(1_732_880_000_000, 2),
            author: EntityId::from_bytes([1; 16]),
            kind: "request.create".into(),
            payload: br#"{"a":1}"#.to_vec(),
            prev,
        }
    }

    #[test]
    fn every_field_is_covered_by_the_signature() {
        let key = DeviceKey::from_secret([5; 32]);
        let op = sample(2, OpHash([9; 32])).sign(&key).expect("valid op");
        op.verify().expect("fresh op verifies");
        let tamperings: [fn(&mut UnsignedOp); 8] = [
            |o| o.seq += 1,
            |o| o.hlc.wall_ms += 1,
            |o| o.hlc.counter += 1,
            |o| o.author = EntityId::from_bytes([2; 16]),
            |o| o.kind.push('x'),
            |o| o.payload[2] ^= 1,
            |o| o.prev.0[31] ^= 1,
            |o| o.device = DeviceKey::from_secret([6; 32]).device_id(),
        ];
        for (i, tamper) in tamperings.iter().enumerate() {
            let mut bad = op.clone();
            tamper(&mut bad.body);
            assert!(
                bad.verify().is_err(),
                "tampering #{i} must break the signature"
            );
        }
    }

    #[test]
    fn a_batch_gives_each_op_the_verdict_it_gets_alone() {
        let key = DeviceKey::from_secret([5; 32]);
        let other = DeviceKey::from_secret([6; 32]);
        // The chain is the store's business: only shape and signatures here.
        let mut ops: Vec<Op> = (1..=40)
            .map(|seq| {
                let prev = if seq == 1 {
                    OpHash::GENESIS
                } else {
                    OpHash([9; 32])
                };
                let signer = if seq % 3 == 0 { &other } else { &key };
                let mut body = sample(seq, prev);
                body.device = signer.device_id();
                body.sign(signer).expect("valid")
            })
            .collect();
        let mut rng = rand_core::OsRng;
        let all_good = verify_batch(&ops, &mut rng);
        for (op, verdict) in ops.iter().zip(&all_good) {
            assert_eq!(verdict.as_ref().ok(), Some(&op.hash()), "{}", op.label());
        }
        // Break some: a flipped signature bit, a tampered payload, a weak
        // (small-order) device key, a bad shape.
        ops[4].signature[10] ^= 1;
        ops[17].body.payload[2] ^= 1;
        let mut weak = [0u8; 32];
        weak[0] = 1; // the neutral point: anyone could sign for it
        ops[25].body.device = DeviceId::from_bytes(weak);
        ops[33].body.kind = String::new();
        let verdicts = verify_batch(&ops, &mut rng);
        for (i, (op, verdict)) in ops.iter().zip(&verdicts).enumerate() {
            let alone = op.verify().map(|()| op.hash());
            assert_eq!(verdict, &alone, "op {i}");
            assert_eq!(verdict.is_err(), [4, 17, 25, 33].contains(&i), "op {i}");
        }
        assert_eq!(
            verdicts[25],
            Err(OpFault::Signature(SignatureError::BadKey))
        );
    }

    #[test]
    fn moving_bytes_between_kind_and_payload_changes_the_encoding() {
        // Length prefixes stop "ab"+"c" and "a"+"bc" from encoding alike.
        let mut a = sample(2, OpHash([0; 32]));
        let mut b = a.clone();
        a.kind = "ab".into();
        a.payload = b"c".to_vec();
        b.kind = "a".into();
        b.payload = b"bc".to_vec();
        assert_ne!(canonical_bytes(&a), canonical_bytes(&b));
    }

    #[test]
    fn shape_rules() {
        assert_eq!(
            sample(0, OpHash::GENESIS).check_shape(),
            Err(OpFault::ZeroSeq)
        );
        assert_eq!(
            sample(1, OpHash([1; 32])).check_shape(),
            Err(OpFault::GenesisWithPrev)
        );
        let mut k = sample(1, OpHash::GENESIS);
        k.kind = String::new();
        assert_eq!(k.check_shape(), Err(OpFault::BadKind));
        let mut p = sample(1, OpHash::GENESIS);
        p.payload = vec![b' '; MAX_PAYLOAD_LEN + 1];
        assert_eq!(p.check_shape(), Err(OpFault::PayloadTooLarge));
        let mut s = sample(2, OpHash([1; 32]));
        s.seq = u64::MAX;
        assert_eq!(s.check_shape(), Err(OpFault::SeqTooLarge(u64::MAX)));
        s.seq = MAX_SEQ;
        assert_eq!(s.check_shape(), Ok(()));
        let mut c = sample(1, OpHash::GENESIS);
        c.hlc = Hlc::new(u64::MAX, u32::MAX);
        assert_eq!(c.check_shape(), Err(OpFault::ClockTooLarge(u64::MAX)));
    }
}
