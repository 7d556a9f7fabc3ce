//! The wire format: how ops and sync messages travel between devices, the
//! hub and bundle files.
//!
//! It is separate from the canonical bytes that are signed
//! ([`relevo_core::op::canonical_bytes`]): a message can change shape (a new
//! version) without touching a single signature. A message is
//!
//! ```text
//! magic (4) | version u8 | zstd(postcard(body))
//! ```
//!
//! Ops travel in runs of one device's consecutive ops. Only a run's first op
//! carries its predecessor's hash; every later one names the op before it,
//! whose hash the receiver computes anyway, and the receiver's signature
//! check fails if anything in between was altered. Clock values are sent as
//! differences from the previous op of the run.

use relevo_core::{DeviceId, EntityId, Hlc, Op, OpHash, UnsignedOp};
use serde::{de::DeserializeOwned, Deserialize, Serialize};
use std::collections::BTreeMap;
use std::io::Read;

/// The wire format's version. A receiver refuses a version it does not know
/// with a message that says so.
pub const VERSION: u8 = 2;

/// The largest message body accepted once decompressed (64 MiB): a page of
/// ops is far smaller; anything bigger is refused before it is parsed.
pub const MAX_DECODED: u64 = 64 << 20;

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum WireError {
    #[error("this is not a Relevo {what} (it does not start with the right marker)")]
    NotOurs { what: &'static str },
    #[error("this {what} uses wire format version {found}; this version of Relevo reads version {VERSION}: {}", if *.found > VERSION { "update Relevo" } else { "it was made by an older Relevo: make it again (or sync) with this version" })]
    Version { what: &'static str, found: u8 },
    #[error("the {what} is damaged or cut short: {detail}")]
    Malformed { what: &'static str, detail: String },
    #[error("the {what} is larger than {} MiB once unpacked", MAX_DECODED >> 20)]
    TooLarge { what: &'static str },
}

/// One op in a run: everything but what the run already says.
#[derive(Debug, Serialize, Deserialize)]
struct WireOp {
    /// Milliseconds after the previous op of the run (after the run's
    /// `wall` for the first).
    wall_delta: u64,
    counter: u32,
    #[serde(with = "serde_bytes")]
    author: Vec<u8>,
    kind: String,
    #[serde(with = "serde_bytes")]
    payload: Vec<u8>,
    #[serde(with = "serde_bytes")]
    signature: Vec<u8>,
}

/// Consecutive ops of one device.
#[derive(Debug, Serialize, Deserialize)]
pub struct Run {
    #[serde(with = "serde_bytes")]
    device: Vec<u8>,
    first_seq: u64,
    #[serde(with = "serde_bytes")]
    first_prev: Vec<u8>,
    wall: u64,
    ops: Vec<WireOp>,
}

/// Packs ops into runs. Ops of one device must come in sequence order; runs
/// keep the order in which devices first appear (a page sorted by clock
/// stays close to sorted).
pub fn runs(ops: &[Op]) -> Vec<Run> {
    let mut out: Vec<Run> = Vec::new();
    let mut last: BTreeMap<DeviceId, (usize, u64, u64)> = BTreeMap::new();
    for op in ops {
        let b = &op.body;
        let wire = |wall_delta| WireOp {
            wall_delta,
            counter: b.hlc.counter,
            author: b.author.as_bytes().to_vec(),
            kind: b.kind.clone(),
            payload: b.payload.clone(),
            signature: op.signature.to_vec(),
        };
        match last.get_mut(&b.device) {
            // Continues the device's current run, if it is the last run
            // (so the order of runs follows the order of ops).
            Some((index, seq, wall))
                if *seq + 1 == b.seq && *index + 1 == out.len() && b.hlc.wall_ms >= *wall =>
            {
                out[*index].ops.push(wire(b.hlc.wall_ms - *wall));
                *seq = b.seq;
                *wall = b.hlc.wall_ms;
            }
            _ => {
                out.push(Run {
                    device: b.device.as_bytes().to_vec(),
                    first_seq: b.seq,
                    first_prev: b.prev.0.to_vec(),
                    wall: b.hlc.wall_ms,
                    ops: vec![wire(0)],
                });
                last.insert(b.device, (out.len() - 1, b.seq, b.hlc.wall_ms));
            }
        }
    }
    out
}

fn bytes<const N: usize>(v: &[u8], what: &'static str, field: &str) -> Result<[u8; N], WireError> {
    v.try_into().map_err(|_| WireError::Malformed {
        what,
        detail: format!("{field} has {} bytes instead of {N}", v.len()),
    })
}

/// Unpacks runs into ops, computing each op's predecessor hash. Signatures
/// are not checked here; the store checks them before keeping anything.
pub fn unrun(runs: Vec<Run>, what: &'static str) -> Result<Vec<Op>, WireError> {
    let mut out = Vec::new();
    for run in runs {
        let device = DeviceId::from_bytes(bytes(&run.device, what, "a device id")?);
        let mut prev = OpHash(bytes(&run.first_prev, what, "a previous-op hash")?);
        let mut wall = run.wall;
        for (i, w) in run.ops.into_iter().enumerate() {
            wall = wall.checked_add(w.wall_delta).ok_or(WireError::Malformed {
                what,
                detail: "a clock value overflows".into(),
            })?;
            let op = Op {
                body: UnsignedOp {
                    device,
                    seq: run.first_seq.saturating_add(i as u64),
                    hlc: Hlc::new(wall, w.counter),
                    author: EntityId::from_bytes(bytes(&w.author, what, "an author id")?),
                    kind: w.kind,
                    payload: w.payload,
                    prev,
                },
                signature: bytes(&w.signature, what, "a signature")?,
            };
            prev = op.hash();
            out.push(op);
        }
    }
    Ok(out)
}

/// `magic | version | zstd(postcard(body))`.
pub fn pack<T: Serialize>(magic: &[u8; 4], body: &T) -> Vec<u8> {
    let plain = postcard::to_allocvec(body).expect("sync messages serialise");
    let mut out = Vec::with_capacity(plain.len() / 2 + 8);
    out.extend_from_slice(magic);
    out.push(VERSION);
    // Level 3: zstd's default, fast on both ends of a slow link.
    out.extend_from_slice(&zstd::bulk::compress(&plain, 3).expect("zstd compresses into memory"));
    out
}

/// Reverses [`pack`], refusing anything that is not ours, of another
/// version, damaged, or larger than [`MAX_DECODED`] once unpacked.
pub fn unpack<T: DeserializeOwned>(
    magic: &[u8; 4],
    what: &'static str,
    data: &[u8],
) -> Result<T, WireError> {
    if data.len() < 5 || &data[..4] != magic {
        return Err(WireError::NotOurs { what });
    }
    if data[4] != VERSION {
        return Err(WireError::Version {
            what,
            found: data[4],
        });
    }
    let decoder =
        zstd::stream::read::Decoder::new(&data[5..]).map_err(|e| WireError::Malformed {
            what,
            detail: e.to_string(),
        })?;
    let mut plain = Vec::new();
    decoder
        .take(MAX_DECODED + 1)
        .read_to_end(&mut plain)
        .map_err(|e| WireError::Malformed {
            what,
            detail: e.to_string(),
        })?;
    if plain.len() as u64 > MAX_DECODED {
        return Err(WireError::TooLarge { what });
    }
    postcard::from_bytes(&plain).map_err(|e| WireError::Malformed {
        what,
        detail: e.to_string(),
    })
}

/// A version vector on the wire.
#[derive(Serialize, Deserialize, Debug, Clone, Default, PartialEq, Eq)]
pub struct WireVector(Vec<WireHead>);

#[derive(Serialize, Deserialize, Debug, Clone, PartialEq, Eq)]
struct WireHead {
    #[serde(with = "serde_bytes")]
    device: Vec<u8>,
    seq: u64,
}

impl WireVector {
    pub fn from_vector(v: &relevo_store::Vector) -> Self {
        WireVector(
            v.iter()
                .map(|(d, n)| WireHead {
                    device: d.as_bytes().to_vec(),
                    seq: *n,
                })
                .collect(),
        )
    }

    pub fn to_vector(&self, what: &'static str) -> Result<relevo_store::Vector, WireError> {
        self.0
            .iter()
            .map(|h| {
                Ok((
                    DeviceId::from_bytes(bytes(&h.device, what, "a device id")?),
                    h.seq,
                ))
            })
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use relevo_core::DeviceKey;

    fn chain(secret: u8, n: u64) -> Vec<Op> {
        let key = DeviceKey::from_secret([secret; 32]);
        let mut prev = OpHash::GENESIS;
        (1..=n)
            .map(|seq| {
                let op = UnsignedOp {
                    device: key.device_id(),
                    seq,
                    hlc: Hlc::new(1_700_000_000_000 + seq * 1000, 0),
                    author: EntityId::from_bytes([secret; 16]),
                    kind: "note.add".into(),
                    payload: format!("{{\"n\":{seq}}}").into_bytes(),
                    prev,
                }
                .sign(&key)
                .expect("sign");
                prev = op.hash();
                op
            })
            .collect()
    }

    #[test]
    fn ops_survive_the_trip_exactly() {
        let mut ops = chain(1, 5);
        // Interleave a second device, and restart the first mid-way.
        let other = chain(2, 3);
        ops.insert(2, other[0].clone());
        ops.push(other[1].clone());
        let packed = pack(b"TEST", &runs(&ops));
        let back: Vec<Run> = unpack(b"TEST", "test", &packed).expect("unpack");
        let back = unrun(back, "test").expect("unrun");
        assert_eq!(back, ops);
        for op in &back {
            op.verify().expect("still genuine");
        }
    }

    #[test]
    fn a_flipped_bit_in_a_run_breaks_that_op_and_the_next() {
        let ops = chain(3, 3);
        let mut r = runs(&ops);
        r[0].ops[1].payload[2] ^= 1;
        let back = unrun(r, "test").expect("still parses");
        assert!(back[0].verify().is_ok());
        assert!(back[1].verify().is_err(), "the altered op");
        assert!(
            back[2].verify().is_err(),
            "its successor names another hash"
        );
    }

    #[test]
    fn foreign_old_new_and_damaged_messages_are_named() {
        let packed = pack(b"TEST", &runs(&chain(4, 2)));
        let read = |d: &[u8]| unpack::<Vec<Run>>(b"TEST", "bundle", d).map(|_| ());
        assert_eq!(
            read(b"PK\x03\x04zip"),
            Err(WireError::NotOurs { what: "bundle" })
        );
        let mut newer = packed.clone();
        newer[4] = 9;
        assert_eq!(
            read(&newer),
            Err(WireError::Version {
                what: "bundle",
                found: 9
            })
        );
        let cut = &packed[..packed.len() / 2];
        assert!(matches!(read(cut), Err(WireError::Malformed { .. })));
    }

    #[test]
    fn a_version_mismatch_says_which_side_is_older() {
        let mut data = pack(b"TEST", &Vec::<Run>::new());
        data[4] = VERSION + 1;
        let newer = unpack::<Vec<Run>>(b"TEST", "page", &data)
            .expect_err("newer")
            .to_string();
        assert!(newer.contains("update Relevo"), "{newer}");
        data[4] = VERSION - 1;
        let older = unpack::<Vec<Run>>(b"TEST", "page", &data)
            .expect_err("older")
            .to_string();
        assert!(older.contains("made by an older Relevo"), "{older}");
    }

    #[test]
    fn a_decompression_bomb_is_refused() {
        let huge = vec![0u8; (MAX_DECODED + 10) as usize];
        let mut data = b"TEST".to_vec();
        data.push(VERSION);
        data.extend(zstd::bulk::compress(&huge, 3).expect("compress"));
        assert!(data.len() < 1 << 20, "tiny on the wire");
        assert_eq!(
            unpack::<Vec<Run>>(b"TEST", "page", &data).map(|_| ()),
            Err(WireError::TooLarge { what: "page" })
        );
    }
}
