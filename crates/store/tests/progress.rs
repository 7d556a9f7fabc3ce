//! A full rebuild reports its progress to the process's observer, from
//! nothing to every op, without going backwards. (Its own test binary: the
//! observer is the process's.)

use relevo_core::domain::IdentityDraft;
use relevo_store::{observe_rebuilds, Progress, Scale, Store};
use std::sync::{Arc, Mutex};

#[test]
fn a_rebuild_reports_from_nothing_to_every_op() {
    let seen: Arc<Mutex<Vec<Progress>>> = Arc::default();
    let sink = seen.clone();
    observe_rebuilds(move |p| sink.lock().expect("lock").push(p));

    let mut store = Store::open_in_memory().expect("store");
    store
        .init_identity(&IdentityDraft {
            name: "Lucía Ramos".into(),
            role: "reviewer".into(),
            country: "PA".into(),
            org: String::new(),
        })
        .expect("identity");
    store
        .generate_scenario(
            Scale {
                requests: 2_000,
                tasks: 300,
            },
            1_780_000_000_000,
        )
        .expect("scenario");
    let before = store.projection_dump().expect("dump");
    seen.lock().expect("lock").clear();
    store.rebuild_projections().expect("rebuild");
    assert_eq!(store.projection_dump().expect("dump"), before);

    let ops = store.op_count().expect("count");
    let seen = seen.lock().expect("lock").clone();
    assert!(seen.len() > 3, "{seen:?}");
    assert_eq!(
        seen.first(),
        Some(&Progress {
            done: 0,
            total: ops
        })
    );
    assert_eq!(
        seen.last(),
        Some(&Progress {
            done: ops,
            total: ops
        })
    );
    assert!(
        seen.windows(2)
            .all(|w| w[0].done <= w[1].done && w[0].total == w[1].total),
        "{seen:?}"
    );
}
