//! Golden vectors pin the canonical op encoding, its hash and its signature.
//!
//! If this test fails, the bytes that every device signs have changed: ops
//! already in the field would no longer verify. Never regenerate the file to
//! make the test pass; add a new canonical version instead. (The file was
//! written once with `RELEVO_WRITE_GOLDEN=1`.)

use relevo_core::op::canonical_bytes;
use relevo_core::{DeviceKey, EntityId, Hlc, OpHash, UnsignedOp};
use serde::{Deserialize, Serialize};

#[derive(Serialize, Deserialize, PartialEq, Debug)]
struct Vector {
    name: String,
    secret: String,
    seq: u64,
    wall_ms: u64,
    counter: u32,
    author: String,
    kind: String,
    payload: String,
    prev: String,
    canonical: String,
    hash: String,
    signature: String,
}

fn inputs() -> Vec<(String, [u8; 32], UnsignedOp)> {
    let key_a = DeviceKey::from_secret([0x11; 32]);
    let key_b = DeviceKey::from_secret(*b"relevo golden vector secret b..!");
    let author: EntityId = "0193745a-6c00-7a4f-9b1e-2c3d4e5f6a7b"
        .parse()
        .expect("uuid");
    let first = UnsignedOp {
        device: key_a.device_id(),
        seq: 1,
        hlc: Hlc::new(1_732_880_000_000, 0),
        author,
        kind: "person.declare".into(),
        payload: br#"{"id":"0193745a-6c00-7a4f-9b1e-2c3d4e5f6a7b","name":"Ana L\u00f3pez","role":"field-coordinator","country":"GT","org":"IGM","demo":false}"#.to_vec(),
        prev: OpHash::GENESIS,
    };
    let second = UnsignedOp {
        seq: 2,
        hlc: Hlc::new(1_732_880_000_000, 1),
        kind: "request.create".into(),
        payload: "{\"site\":\"Tecún Umán\",\"people\":{\"total\":120}}"
            .as_bytes()
            .to_vec(),
        prev: first.hash(),
        ..first.clone()
    };
    let other_device = UnsignedOp {
        device: key_b.device_id(),
        seq: 7,
        hlc: Hlc::new(u64::MAX, u32::MAX),
        author: EntityId::from_bytes([0xff; 16]),
        kind: "x".into(),
        payload: Vec::new(),
        prev: OpHash([0xab; 32]),
    };
    vec![
        ("first op of a device".into(), key_a.secret(), first),
        (
            "second op, chained to the first, non-ASCII payload".into(),
            key_a.secret(),
            second,
        ),
        (
            "extreme values, empty payload".into(),
            key_b.secret(),
            other_device,
        ),
    ]
}

fn compute() -> Vec<Vector> {
    inputs()
        .into_iter()
        .map(|(name, secret, op)| {
            let key = DeviceKey::from_secret(secret);
            let canonical = canonical_bytes(&op);
            let hash = op.hash();
            // The encoding is pinned for any values, even those an op may
            // not carry (the extreme vector's clock is past the year 9999:
            // it is encoded and signed alike, and refused by the shape
            // check).
            let signed = relevo_core::Op {
                body: op.clone(),
                signature: key.sign(&canonical),
            };
            match op.check_shape() {
                Ok(()) => signed.verify().expect("verifies"),
                Err(fault) => assert_eq!(
                    signed.verify(),
                    Err(fault),
                    "an op of impossible values never verifies"
                ),
            }
            Vector {
                name,
                secret: hex::encode(secret),
                seq: op.seq,
                wall_ms: op.hlc.wall_ms,
                counter: op.hlc.counter,
                author: op.author.to_string(),
                kind: op.kind.clone(),
                payload: String::from_utf8(op.payload.clone()).expect("utf8"),
                prev: op.prev.to_string(),
                canonical: hex::encode(canonical),
                hash: hash.to_string(),
                signature: hex::encode(signed.signature),
            }
        })
        .collect()
}

#[test]
fn canonical_encoding_matches_golden_vectors() {
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/golden/ops.json");
    let computed = compute();
    if std::env::var_os("RELEVO_WRITE_GOLDEN").is_some() {
        let text = serde_json::to_string_pretty(&computed).expect("json") + "\n";
        std::fs::write(path, text).expect("write golden file");
    }
    let text = std::fs::read_to_string(path).expect("golden file is checked in");
    let golden: Vec<Vector> = serde_json::from_str(&text).expect("golden file parses");
    assert_eq!(golden.len(), computed.len());
    for (g, c) in golden.iter().zip(&computed) {
        assert_eq!(
            g, c,
            "vector '{}' changed: the canonical op encoding is not stable",
            g.name
        );
    }
}
