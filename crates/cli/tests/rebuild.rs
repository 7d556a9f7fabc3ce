//! A large rebuild of the views tells a script when it starts and ends.

mod common;

use common::*;
use relevo_core::domain::IdentityDraft;

#[test]
fn a_large_rebuild_says_when_it_starts_and_ends() {
    let dir = tempfile::tempdir().expect("tempdir");
    let d = dir.path();
    let start = 1_780_000_000_000;
    let (ops, last_ms) = {
        let mut store = open_store(d);
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
                relevo_store::Scale {
                    requests: 11_000,
                    tasks: 1_100,
                },
                start,
            )
            .expect("scenario");
        let crisis = store.current_crisis().expect("q").expect("crisis");
        let span = store
            .span(crisis.id, relevo_store::Basis::Made)
            .expect("span");
        (store.op_count().expect("count"), span.last_ms)
    };
    assert!(ops >= 20_000, "a large log: {ops} ops");
    // An as-of view rebuilds the views of the log up to its moment: here,
    // the crisis's last.
    let moment = chrono::DateTime::from_timestamp_millis(last_ms as i64)
        .expect("moment")
        .to_rfc3339();
    let out = relevo(d, &["asof", &moment]);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{stderr}");
    let lines: Vec<&str> = stderr.lines().collect();
    assert_eq!(lines.len(), 2, "{stderr}");
    assert!(
        lines[0].starts_with("Rebuilding the views from the log (")
            && lines[0].ends_with(" ops)..."),
        "{stderr}"
    );
    assert!(
        lines[1].starts_with("The views are rebuilt from "),
        "{stderr}"
    );
    // What it rebuilt is the whole picture as of then: the report on stdout.
    assert!(!out.stdout.is_empty());
}
