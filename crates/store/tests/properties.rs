//! Property: applying the same set of ops in any order, any number of times,
//! gives identical projections, logs and version vectors — equal to a
//! rebuild from the log.

mod common;

use common::*;
use proptest::prelude::*;
use relevo_core::domain::RequestDraft;
use relevo_core::payload::{Payload, RequestCreated};
use relevo_core::{DeviceKey, EntityId, Hlc, Op, UnsignedOp};
use relevo_store::Store;
use std::sync::OnceLock;

/// Ops from three real devices working in one crisis (plus one genuine but
/// refused op), made once per test run.
fn corpus() -> &'static Vec<Op> {
    static OPS: OnceLock<Vec<Op>> = OnceLock::new();
    OPS.get_or_init(|| {
        let director = ready_store("regional-director", "PA");
        let crisis = director.current_crisis().expect("q").expect("crisis").id;
        let mut ops = director.ops().expect("ops");
        for (role, country, n) in [
            ("field-coordinator", "GT", 4),
            ("national-director", "HN", 3),
        ] {
            let mut s = Store::open_in_memory().expect("open");
            s.init_identity(&identity(role, country)).expect("init");
            for op in &ops {
                s.ingest(op).expect("share the crisis");
            }
            s.set_current_crisis(crisis).expect("current");
            for i in 0..n {
                let draft = RequestDraft {
                    country: country.into(),
                    ..request(&format!("{country} sitio {i}"), 10 + i)
                };
                s.add_request(&draft).expect("add");
            }
            let mine = s.identity().expect("q").expect("me").device_id;
            ops.extend(
                s.ops()
                    .expect("ops")
                    .into_iter()
                    .filter(|o| o.body.device.to_string() == mine),
            );
        }
        // A device whose second op breaks a domain rule (a foreign reference).
        let key = DeviceKey::from_secret([77; 32]);
        let mut prev = relevo_core::OpHash::GENESIS;
        for (seq, reference) in [
            (1u64, format!("REQ-{}-1", key.device_id().tag())),
            (2, "REQ-XXXXXX-2".into()),
        ] {
            let payload = Payload::RequestCreate(RequestCreated {
                id: EntityId::new_v7(seq, [9; 10]),
                reference,
                crisis,
                request: request("Peñas Blancas", 5).validate().expect("valid"),
            });
            let op = UnsignedOp {
                device: key.device_id(),
                seq,
                hlc: Hlc::new(1, seq as u32),
                author: EntityId::from_bytes([5; 16]),
                kind: payload.kind().into(),
                payload: payload.encode(),
                prev,
            }
            .sign(&key)
            .expect("shape");
            prev = op.hash();
            ops.push(op);
        }
        ops
    })
}

fn replica(order: &[usize]) -> Store {
    let ops = corpus();
    let mut s = Store::open_in_memory().expect("open");
    for &i in order {
        s.ingest(&ops[i])
            .expect("every op in the corpus is genuine");
    }
    s
}

fn state(s: &Store) -> (String, String, String) {
    let log = s
        .log_entries()
        .expect("log")
        .iter()
        .map(|e| format!("{}#{}:{}:{:?}", e.device, e.seq, e.hash, e.refused))
        .collect();
    (
        s.projection_dump().expect("dump"),
        log,
        format!("{:?}", s.version_vector().expect("vv")),
    )
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 48, ..ProptestConfig::default() })]

    #[test]
    fn any_order_with_duplicates_converges(
        order in Just((0..corpus().len()).collect::<Vec<_>>()).prop_shuffle(),
        dups in proptest::collection::vec(0..corpus().len(), 0..12),
        positions in proptest::collection::vec(any::<prop::sample::Index>(), 12),
    ) {
        let reference = replica(&(0..corpus().len()).collect::<Vec<_>>());
        let mut shuffled = order.clone();
        for (d, pos) in dups.iter().zip(&positions) {
            let at = pos.index(shuffled.len() + 1);
            shuffled.insert(at, *d);
        }
        let mut other = replica(&shuffled);
        prop_assert_eq!(state(&other), state(&reference));
        let before = state(&other);
        other.rebuild_projections().expect("rebuild");
        prop_assert_eq!(state(&other), before);
    }
}

#[test]
fn the_corpus_exercises_what_the_property_claims() {
    let s = replica(&(0..corpus().len()).collect::<Vec<_>>());
    let crisis = s.crises().expect("crises")[0].id;
    assert_eq!(
        s.requests(crisis).expect("list").len(),
        4 + 3 + 1,
        "seven requests from two devices and one from a third"
    );
    assert_eq!(
        s.log_entries()
            .expect("log")
            .iter()
            .filter(|e| e.refused.is_some())
            .count(),
        1
    );
    assert_eq!(s.version_vector().expect("vv").len(), 4);
}
