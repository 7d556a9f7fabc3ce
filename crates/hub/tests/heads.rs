//! With a real `relevo-hub` on loopback: devices learn when the hub received
//! each op (the review's "received by the hub" and sync lag), and keep the
//! heads the hub signs; `verify` recomputes each from the ops held and
//! catches a history that differs from what the hub signed.

mod common;

use common::*;
use relevo_store::{Store, TimelineFilter};

fn current(store: &mut Store) -> relevo_core::EntityId {
    let crisis = store
        .crises()
        .expect("crises")
        .first()
        .expect("a crisis")
        .id;
    store.set_current_crisis(crisis).expect("current");
    crisis
}

#[test]
fn devices_keep_hub_receipts_and_signed_heads_that_verify() {
    let dir = tempfile::tempdir().expect("tempdir");
    let hub = HubProcess::start(dir.path());
    let mut field = enrolled(dir.path(), "Ana López", &hub, "field-coordinator", "GT");
    let mut director = enrolled(dir.path(), "Rosa Pérez", &hub, "regional-director", "PA");
    director.open_crisis(&crisis()).expect("crisis");
    sync(&mut director);
    sync(&mut field);
    let crisis = current(&mut field);
    for n in 0..3 {
        field
            .add_request(&request("GT", &format!("Albergue {n}"), 40.0 + n as f64))
            .expect("request");
    }
    let before = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .expect("clock")
        .as_millis() as u64;
    sync(&mut field);
    sync(&mut director);

    // The director's timeline says when the hub received the field's work,
    // and so does the field's own (the hub acknowledged its push).
    for store in [&director, &field] {
        let events = store
            .timeline(crisis, &TimelineFilter::default())
            .expect("timeline");
        let logged: Vec<_> = events
            .iter()
            .filter(|e| e.kind == "request.create")
            .collect();
        assert_eq!(logged.len(), 3);
        for e in logged {
            let at = e.hub_received_at_ms.expect("the hub's receipt is known");
            assert!(at >= before && at >= e.made_at_ms, "{e:?}");
        }
        let lag = store.measures(crisis, before).expect("measures").sync_lag;
        assert!(
            !lag.is_empty() && lag.iter().all(|d| d.lag.count > 0),
            "{lag:?}"
        );
    }

    // Both kept the hub's signed heads, and they match the ops held.
    let report = director.verify().expect("verify");
    assert!(report.intact(), "{report:?}");
    assert!(report.hub_heads.kept >= 2, "{:?}", report.hub_heads);
    assert_eq!(report.hub_heads.consistent, report.hub_heads.kept);
    assert!(field.verify().expect("verify").intact());

    // The last op of the field's device (the one the hub's heads name),
    // changed behind the store's back on the director's device: its chain
    // check names it, and the hub's heads no longer match what is held.
    // (An earlier op changed is caught by the chain alone: each head hashes
    // the device's last op, which names its predecessor's hash.)
    let path = dir.path().join("Rosa Pérez").join("relevo.db");
    drop(director);
    let conn = rusqlite::Connection::open(&path).expect("open");
    let changed = conn
        .execute(
            "UPDATE ops SET payload = CAST(replace(CAST(payload AS TEXT), 'Albergue 2', 'Albergue 9') AS BLOB)
             WHERE kind = 'request.create' AND CAST(payload AS TEXT) LIKE '%Albergue 2%'",
            [],
        )
        .expect("tamper");
    assert_eq!(changed, 1);
    drop(conn);
    let director = Store::open(&path).expect("reopen");
    let report = director.verify().expect("verify");
    assert!(!report.intact());
    assert!(
        report
            .devices
            .iter()
            .any(|d| d.problem.as_deref().is_some_and(|p| p.contains("altered"))),
        "{report:?}"
    );
    let problem = report.hub_heads.problem.expect("a head no longer matches");
    assert!(
        problem.contains("differ from what the hub signed"),
        "{problem}"
    );
}
