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
//! Every decoder is bounded by what it is given: the unpacked body may be at
//! most [`RATIO`] times the packed one (and [`MAX_DECODED`]), fixed-size
//! fields refuse any other length as they are read, and lists of numbers are
//! capped, so no message makes a process hold more than a small multiple of
//! its unpacked size. Values no device can make (a sequence number or clock
//! past what an op may carry) are refused here, before any store sees them.
//!
//! Ops travel in runs of one device's consecutive ops. Only a run's first op
//! carries its predecessor's hash; every later one names the op before it,
//! whose hash the receiver computes anyway, and the receiver's signature
//! check fails if anything in between was altered. Clock values are sent as
//! differences from the previous op of the run.

use relevo_core::op::{MAX_SEQ, MAX_WALL_MS};
use relevo_core::{DeviceId, EntityId, Hlc, Op, OpHash, UnsignedOp};
use serde::{de::DeserializeOwned, Deserialize, Serialize};
use serde_bytes::ByteArray;
use std::collections::BTreeMap;
use std::io::Read;

/// The wire format's version. A receiver refuses a version it does not know
/// with a message that says so.
pub const VERSION: u8 = 3;

/// The largest sync message accepted once unpacked (16 MiB): a page holds at
/// most 4 MiB of ops (see `PAGE_BYTES`); anything bigger is refused before
/// it is parsed.
pub const MAX_DECODED: u64 = 16 << 20;

/// The largest bundle accepted once unpacked (4 GiB): a bundle holds a whole
/// crisis, and is bounded by [`RATIO`] times its file's size.
pub const MAX_BUNDLE_DECODED: u64 = 4 << 30;

/// How many times larger than its packed bytes a body may unpack to. Real
/// pages and bundles unpack to two to six times their size (every op
/// carries 64 bytes of signature that do not compress); a body that unpacks
/// to more is a bomb.
pub const RATIO: u64 = 32;

/// Whatever the ratio, a body may always unpack to this much (1 MiB).
pub const MIN_BUDGET: u64 = 1 << 20;

/// The most items of one list of numbers in a message (receipt times, op
/// references): far more than a page holds.
pub const MAX_LIST: usize = 100_000;

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum WireError {
    #[error("this is not a Relevo {what} (it does not start with the right marker)")]
    NotOurs { what: &'static str },
    #[error("this {what} uses wire format version {found}; this version of Relevo reads version {VERSION}: {}", if *.found > VERSION { "update Relevo" } else { "it was made by an older Relevo: make it again (or sync) with this version" })]
    Version { what: &'static str, found: u8 },
    #[error("the {what} is damaged or cut short: {detail}")]
    Malformed { what: &'static str, detail: String },
    #[error("the {what} unpacks to more than {limit} bytes, more than a Relevo {what} of its size can hold")]
    TooLarge { what: &'static str, limit: u64 },
}

/// One op in a run: everything but what the run already says.
#[derive(Debug, Serialize, Deserialize)]
struct WireOp {
    /// Milliseconds after the previous op of the run (after the run's
    /// `wall` for the first).
    wall_delta: u64,
    counter: u32,
    author: ByteArray<16>,
    kind: String,
    #[serde(with = "serde_bytes")]
    payload: Vec<u8>,
    signature: ByteArray<64>,
}

/// Consecutive ops of one device.
#[derive(Debug, Serialize, Deserialize)]
pub struct Run {
    device: ByteArray<32>,
    first_seq: u64,
    first_prev: ByteArray<32>,
    wall: u64,
    ops: Vec<WireOp>,
}

impl Run {
    /// How many ops the run carries.
    pub fn len(&self) -> usize {
        self.ops.len()
    }

    pub fn is_empty(&self) -> bool {
        self.ops.is_empty()
    }
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
            author: ByteArray::new(*b.author.as_bytes()),
            kind: b.kind.clone(),
            payload: b.payload.clone(),
            signature: ByteArray::new(op.signature),
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
                    device: ByteArray::new(*b.device.as_bytes()),
                    first_seq: b.seq,
                    first_prev: ByteArray::new(b.prev.0),
                    wall: b.hlc.wall_ms,
                    ops: vec![wire(0)],
                });
                last.insert(b.device, (out.len() - 1, b.seq, b.hlc.wall_ms));
            }
        }
    }
    out
}

/// Unpacks runs into ops, computing each op's predecessor hash. Signatures
/// are not checked here; the store checks them before keeping anything.
/// Sequence numbers and clocks no device can make are refused.
pub fn unrun(runs: Vec<Run>, what: &'static str) -> Result<Vec<Op>, WireError> {
    let bad = |detail: String| WireError::Malformed { what, detail };
    let mut out = Vec::with_capacity(runs.iter().map(|r| r.ops.len()).sum());
    for run in runs {
        let device = DeviceId::from_bytes(run.device.into_array());
        let mut prev = OpHash(run.first_prev.into_array());
        let mut wall = run.wall;
        let past_last = u128::from(run.first_seq) + run.ops.len() as u128;
        if run.first_seq == 0 || past_last > u128::from(MAX_SEQ) + 1 {
            return Err(bad(format!(
                "a run of ops numbered from {} cannot exist",
                run.first_seq
            )));
        }
        for (i, w) in run.ops.into_iter().enumerate() {
            wall = wall
                .checked_add(w.wall_delta)
                .filter(|w| *w <= MAX_WALL_MS)
                .ok_or_else(|| bad("an op's clock is past the year 9999".into()))?;
            let op = Op {
                body: UnsignedOp {
                    device,
                    seq: run.first_seq + i as u64,
                    hlc: Hlc::new(wall, w.counter),
                    author: EntityId::from_bytes(w.author.into_array()),
                    kind: w.kind,
                    payload: w.payload,
                    prev,
                },
                signature: w.signature.into_array(),
            };
            prev = op.hash();
            out.push(op);
        }
    }
    Ok(out)
}

/// How many bytes a packed body of `packed` bytes may unpack to, at most
/// `max`.
pub fn budget(packed: usize, max: u64) -> u64 {
    (packed as u64).saturating_mul(RATIO).clamp(MIN_BUDGET, max)
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
/// version, damaged, or larger once unpacked than its [`budget`] (at most
/// [`MAX_DECODED`]).
pub fn unpack<T: DeserializeOwned>(
    magic: &[u8; 4],
    what: &'static str,
    data: &[u8],
) -> Result<T, WireError> {
    unpack_within(magic, what, data, MAX_DECODED)
}

/// [`unpack`], with another ceiling than [`MAX_DECODED`].
pub fn unpack_within<T: DeserializeOwned>(
    magic: &[u8; 4],
    what: &'static str,
    data: &[u8],
    max: u64,
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
    let limit = budget(data.len(), max);
    let mut plain = Vec::new();
    decoder
        .take(limit + 1)
        .read_to_end(&mut plain)
        .map_err(|e| WireError::Malformed {
            what,
            detail: e.to_string(),
        })?;
    if plain.len() as u64 > limit {
        return Err(WireError::TooLarge { what, limit });
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
    device: ByteArray<32>,
    seq: u64,
}

impl WireVector {
    pub fn from_vector(v: &relevo_store::Vector) -> Self {
        WireVector(
            v.iter()
                .map(|(d, n)| WireHead {
                    device: ByteArray::new(*d.as_bytes()),
                    seq: *n,
                })
                .collect(),
        )
    }

    pub fn to_vector(&self, what: &'static str) -> Result<relevo_store::Vector, WireError> {
        self.0
            .iter()
            .map(|h| {
                if h.seq > MAX_SEQ {
                    return Err(WireError::Malformed {
                        what,
                        detail: format!(
                            "a version vector claims op #{}, which cannot exist",
                            h.seq
                        ),
                    });
                }
                Ok((DeviceId::from_bytes(h.device.into_array()), h.seq))
            })
            .collect()
    }
}

/// Reads a list of at most [`MAX_LIST`] items, refusing a longer one as it
/// is read (`#[serde(deserialize_with = "capped")]`).
pub fn capped<'de, D, T>(deserializer: D) -> Result<Vec<T>, D::Error>
where
    D: serde::Deserializer<'de>,
    T: Deserialize<'de>,
{
    struct Visit<T>(std::marker::PhantomData<T>);
    impl<'de, T: Deserialize<'de>> serde::de::Visitor<'de> for Visit<T> {
        type Value = Vec<T>;
        fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
            write!(f, "a list of at most {MAX_LIST} items")
        }
        fn visit_seq<A: serde::de::SeqAccess<'de>>(self, mut seq: A) -> Result<Vec<T>, A::Error> {
            let declared = seq.size_hint().unwrap_or(0);
            if declared > MAX_LIST {
                return Err(serde::de::Error::invalid_length(declared, &self));
            }
            let mut out = Vec::with_capacity(declared.min(4096));
            while let Some(item) = seq.next_element()? {
                if out.len() == MAX_LIST {
                    return Err(serde::de::Error::invalid_length(MAX_LIST + 1, &self));
                }
                out.push(item);
            }
            Ok(out)
        }
    }
    deserializer.deserialize_seq(Visit(std::marker::PhantomData))
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
            Err(WireError::TooLarge {
                what: "page",
                limit: budget(data.len(), MAX_DECODED)
            })
        );
    }

    /// A body of a few kilobytes that declares millions of items (each
    /// empty) must be refused as it is read, not after allocating them.
    #[test]
    fn millions_of_declared_empty_items_are_refused() {
        // postcard: a list length as a varint, then zero bytes for every
        // field of every item (empty byte strings, zero numbers).
        let mut plain = Vec::new();
        let mut n: u64 = 50_000_000;
        while n >= 0x80 {
            plain.push((n as u8) | 0x80);
            n >>= 7;
        }
        plain.push(n as u8);
        plain.extend(std::iter::repeat_n(0u8, 900_000));
        let mut data = b"TEST".to_vec();
        data.push(VERSION);
        data.extend(zstd::bulk::compress(&plain, 19).expect("compress"));
        assert!(data.len() < 4096, "{} bytes", data.len());
        let err = unpack::<Vec<Run>>(b"TEST", "page", &data).map(|_| ());
        assert!(matches!(err, Err(WireError::Malformed { .. })), "{err:?}");
        // Receipt times are numbers: a capped list refuses a long one.
        #[derive(Deserialize, Debug)]
        #[allow(dead_code)]
        struct Numbers(#[serde(deserialize_with = "capped")] Vec<u64>);
        let err = unpack::<Numbers>(b"TEST", "page", &data).map(|_| ());
        assert!(matches!(err, Err(WireError::Malformed { .. })), "{err:?}");
    }

    #[test]
    fn impossible_sequence_numbers_and_clocks_are_refused_at_decode() {
        let mut r = runs(&chain(5, 2));
        r[0].first_seq = u64::MAX;
        assert!(matches!(unrun(r, "page"), Err(WireError::Malformed { .. })));
        let mut r = runs(&chain(5, 2));
        r[0].ops[1].wall_delta = u64::MAX;
        assert!(matches!(unrun(r, "page"), Err(WireError::Malformed { .. })));
        let mut r = runs(&chain(5, 2));
        r[0].first_seq = 0;
        assert!(matches!(unrun(r, "page"), Err(WireError::Malformed { .. })));
        let mut v = WireVector::default();
        v.0.push(WireHead {
            device: ByteArray::new([1; 32]),
            seq: u64::MAX,
        });
        assert!(v.to_vector("page").is_err());
    }
}
