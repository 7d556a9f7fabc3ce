//! Property: the acceptance rule for runs of ops. An op is authentic when it
//! is, or lies under, an op of its device's hash chain whose signature
//! verifies (`relevo_core::op::authenticate_page`).
//!
//! Random device chains hold genuine ops, ops whose signature was damaged on
//! the way (their body intact), forged copies (a changed payload under the
//! genuine signature, or a body signed by another key) and ops that never
//! arrive. Every replica (a real store) receives them cut into random pages,
//! in random order, duplicated, first with losses and then again until
//! nothing changes, as sync sessions resend what a replica still lacks.
//! Every replica must end with exactly the ops the rule accepts: the same
//! set everywhere, no forged op, and each accepted op signed or under a
//! signed op of its chain (`verify` agrees).
//!
//! 1,000 cases by default; `RELEVO_PROPTEST_CASES` asks for more.

use proptest::prelude::*;
use relevo_core::{DeviceId, DeviceKey, EntityId, Hlc, Op, OpHash, UnsignedOp};
use relevo_store::Store;
use std::collections::BTreeSet;

/// A kind this version does not know: kept and relayed, never projected,
/// so the test is about authenticity alone.
const KIND: &str = "test.note";

/// What the network makes of one op of a chain.
#[derive(Debug, Clone, Copy)]
enum Fate {
    /// Arrives as made.
    Genuine,
    /// Arrives with a damaged signature and an intact body, and only so.
    SignatureFlipped,
    /// Arrives as made, and also with a changed payload under the genuine
    /// signature.
    AlsoBodyFlipped,
    /// Arrives as made, and also as another body signed by another key.
    AlsoWrongKey,
    /// Arrives as made, and also with a damaged signature.
    AlsoSignatureFlipped,
    /// Arrives only with a damaged signature, beside another body made up
    /// for its place (unsigned, naming the same predecessor).
    SignatureFlippedBesideJunk,
    /// Arrives as made, stamped days ahead of every clock, like every later
    /// op of its device: it waits for its time, which never comes here.
    Future,
    /// Never arrives.
    Lost,
}

fn fate() -> impl Strategy<Value = Fate> {
    prop_oneof![
        12 => Just(Fate::Genuine),
        4 => Just(Fate::SignatureFlipped),
        2 => Just(Fate::AlsoBodyFlipped),
        1 => Just(Fate::AlsoWrongKey),
        2 => Just(Fate::AlsoSignatureFlipped),
        2 => Just(Fate::SignatureFlippedBesideJunk),
        1 => Just(Fate::Future),
        1 => Just(Fate::Lost),
    ]
}

/// A tiny deterministic generator for shuffles and cuts inside one case.
struct Rng(u64);

impl Rng {
    fn next(&mut self, n: usize) -> usize {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        (self.0 % n as u64) as usize
    }
}

type Accepted = BTreeSet<(DeviceId, u64, [u8; 32])>;

/// The chains' ops as the network carries them, what the rule accepts, and
/// the hashes of the ops that arrive at least once with their genuine
/// signature.
fn network(chains: &[Vec<Fate>]) -> (Vec<Op>, Accepted, BTreeSet<[u8; 32]>) {
    let attacker = DeviceKey::from_secret([0xAA; 32]);
    let mut messages = Vec::new();
    let mut accepted = Accepted::new();
    let mut genuine = BTreeSet::new();
    for (d, fates) in chains.iter().enumerate() {
        let key = DeviceKey::from_secret([d as u8 + 1; 32]);
        let device = key.device_id();
        let mut prev = OpHash::GENESIS;
        let mut ops = Vec::new();
        // From the first op stamped in the future on, every op is.
        let future = fates.iter().position(|f| matches!(f, Fate::Future));
        for (i, _) in fates.iter().enumerate() {
            let base = match future {
                Some(f) if i >= f => 4_000_000_000_000,
                _ => 1_700_000_000_000,
            };
            let op = UnsignedOp {
                device,
                seq: i as u64 + 1,
                hlc: Hlc {
                    wall_ms: base + i as u64,
                    counter: 0,
                },
                author: EntityId::from_bytes([d as u8; 16]),
                kind: KIND.into(),
                payload: format!("op {i} of device {d}").into_bytes(),
                prev,
            }
            .sign(&key)
            .expect("sign");
            prev = op.hash();
            ops.push(op);
        }
        let damaged = |op: &Op| {
            let mut damaged = op.clone();
            damaged.signature[7] ^= 0x10;
            damaged
        };
        for (op, fate) in ops.iter().zip(fates) {
            match fate {
                Fate::Genuine | Fate::Future => messages.push(op.clone()),
                Fate::SignatureFlipped => messages.push(damaged(op)),
                Fate::AlsoSignatureFlipped => messages.extend([op.clone(), damaged(op)]),
                Fate::SignatureFlippedBesideJunk => {
                    let mut junk = op.clone();
                    junk.body.payload = b"junk".to_vec();
                    messages.extend([damaged(op), junk]);
                }
                Fate::AlsoBodyFlipped => {
                    let mut forged = op.clone();
                    forged.body.payload[0] ^= 0x01;
                    messages.extend([op.clone(), forged]);
                }
                Fate::AlsoWrongKey => {
                    let mut body = op.body.clone();
                    body.payload = b"forged".to_vec();
                    let signature = attacker.sign(&relevo_core::op::canonical_bytes(&body));
                    messages.extend([op.clone(), Op { body, signature }]);
                }
                Fate::Lost => {}
            }
        }
        // The rule: op k is accepted when every op up to it arrives with
        // its genuine body, and some op at or above it that can go in too
        // (reached without a gap, its time come) arrives with its genuine
        // signature.
        let stop = fates
            .iter()
            .position(|f| matches!(f, Fate::Lost | Fate::Future))
            .unwrap_or(fates.len());
        for k in 0..stop {
            let covered = fates[k..stop]
                .iter()
                .any(|f| !matches!(f, Fate::SignatureFlipped | Fate::SignatureFlippedBesideJunk));
            if covered {
                accepted.insert((device, ops[k].body.seq, ops[k].hash().0));
            }
        }
        for (op, fate) in ops.iter().zip(fates) {
            if !matches!(
                fate,
                Fate::SignatureFlipped | Fate::SignatureFlippedBesideJunk | Fate::Lost
            ) {
                genuine.insert(op.hash().0);
            }
        }
    }
    (messages, accepted, genuine)
}

fn held(store: &Store) -> Accepted {
    store
        .ops()
        .expect("ops")
        .into_iter()
        .map(|op| (op.body.device, op.body.seq, op.hash().0))
        .collect()
}

/// Delivers `messages` in random pages; copies some, and drops each with
/// probability `lose` in 10.
fn deliver(store: &mut Store, messages: &[Op], rng: &mut Rng, lose: usize) {
    let mut out: Vec<Op> = Vec::new();
    for m in messages {
        if rng.next(10) < lose {
            continue;
        }
        out.push(m.clone());
        if rng.next(4) == 0 {
            out.push(m.clone());
        }
    }
    for i in (1..out.len()).rev() {
        out.swap(i, rng.next(i + 1));
    }
    let mut rest = &out[..];
    while !rest.is_empty() {
        let n = (1 + rng.next(8)).min(rest.len());
        let (page, after) = rest.split_at(n);
        // Forgeries are refused one by one; the page as a whole never
        // fails.
        store
            .ingest_batch(page)
            .expect("the store itself never fails");
        rest = after;
    }
}

fn cases() -> u32 {
    std::env::var("RELEVO_PROPTEST_CASES")
        .ok()
        .and_then(|n| n.parse().ok())
        .unwrap_or(1000)
}

proptest! {
    #![proptest_config(ProptestConfig { cases: cases(), ..ProptestConfig::default() })]

    #[test]
    fn every_replica_accepts_exactly_what_the_chain_rule_accepts(
        chains in prop::collection::vec(prop::collection::vec(fate(), 1..9), 1..4),
        replicas in 2usize..4,
        seed in any::<u64>(),
    ) {
        let (messages, expected, genuine) = network(&chains);
        let mut rng = Rng(seed | 1);
        for _ in 0..replicas {
            let mut store = Store::open_in_memory().expect("store");
            deliver(&mut store, &messages, &mut rng, 3);
            // Sessions resend everything until a session changes nothing.
            let mut before = held(&store);
            for _ in 0..40 {
                deliver(&mut store, &messages, &mut rng, 0);
                let now = held(&store);
                if now == before && now == expected {
                    break;
                }
                before = now;
            }
            prop_assert_eq!(held(&store), expected.clone());
            let report = store.verify().expect("verify");
            prop_assert!(report.intact(), "{:?}", report);
            // An op that ever arrived with its own signature keeps that one.
            for op in store.ops().expect("ops") {
                if genuine.contains(&op.hash().0) {
                    prop_assert!(op.verify().is_ok(), "{} kept a damaged signature", op.label());
                }
            }
        }
    }
}

/// Ops nothing authenticates fill a device's waiting allowance; an op its
/// device signed, which must wait too, still gets in: the unsigned ones make
/// way.
#[test]
fn unsigned_ops_never_keep_a_signed_one_from_waiting() {
    let key = DeviceKey::from_secret([9; 32]);
    let attacker = DeviceKey::from_secret([0xAA; 32]);
    let device = key.device_id();
    let op = |seq: u64, prev: OpHash, signer: &DeviceKey| {
        let body = UnsignedOp {
            device,
            seq,
            hlc: Hlc {
                wall_ms: 1_700_000_000_000 + seq,
                counter: 0,
            },
            author: EntityId::from_bytes([9; 16]),
            kind: KIND.into(),
            payload: format!("op {seq}").into_bytes(),
            prev,
        };
        let signature = signer.sign(&relevo_core::op::canonical_bytes(&body));
        Op { body, signature }
    };
    let mut store = Store::open_in_memory().expect("store");
    let first = op(1, OpHash::GENESIS, &key);
    store.ingest(&first).expect("first");
    let allowance = relevo_store::MAX_WAITING_OPS;
    let junk: Vec<Op> = (100..100 + allowance)
        .map(|seq| op(seq, OpHash([seq as u8; 32]), &attacker))
        .collect();
    for page in junk.chunks(1000) {
        store.ingest_batch(page).expect("page");
    }
    assert_eq!(store.pending_count().expect("waiting"), allowance);
    // Op 5 of the device, properly signed, waits for ops 2 to 4.
    let signed = op(5, OpHash([5; 32]), &key);
    let outcome = store.ingest(&signed);
    assert!(
        matches!(outcome, Ok(relevo_store::Ingest::Pending)),
        "{outcome:?}"
    );
    assert_eq!(store.pending_count().expect("waiting"), 1);
}

/// A device that signs several histories at once, each op with a damaged
/// signature under a signed op not due for years: nothing of it enters the
/// log, one history waits and the others are shown as forks.
#[test]
fn histories_under_covers_not_yet_due_wait_or_are_forks() {
    let key = DeviceKey::from_secret([11; 32]);
    let device = key.device_id();
    let make = |seq: u64, prev: OpHash, wall_ms: u64, payload: &str| {
        UnsignedOp {
            device,
            seq,
            hlc: Hlc {
                wall_ms,
                counter: 0,
            },
            author: EntityId::from_bytes([11; 16]),
            kind: KIND.into(),
            payload: payload.as_bytes().to_vec(),
            prev,
        }
        .sign(&key)
        .expect("sign")
    };
    let first = make(1, OpHash::GENESIS, 1_700_000_000_000, "first");
    let mut store = Store::open_in_memory().expect("store");
    store.ingest(&first).expect("first");
    let mut page = Vec::new();
    for i in 0..6 {
        let mut below = make(2, first.hash(), 1_700_000_000_001, &format!("below {i}"));
        let cover = make(3, below.hash(), 4_000_000_000_000, &format!("cover {i}"));
        below.signature[3] ^= 0x40;
        page.extend([below, cover]);
    }
    store
        .ingest_batch(&page)
        .expect("the store itself never fails");
    assert_eq!(store.op_count().expect("n"), 1, "nothing entered the log");
    assert_eq!(
        store.pending_count().expect("waiting"),
        2,
        "one history waits"
    );
    assert!(
        !store.forks().expect("forks").is_empty(),
        "the others are forks"
    );
    assert!(store.verify().expect("verify").intact());
}
