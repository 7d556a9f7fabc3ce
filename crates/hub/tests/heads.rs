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

/// A hub; a regional director ("Rosa Pérez") who opened a crisis; a field
/// coordinator in GT ("Ana López") who logged three shelters' requests,
/// Albergue 0 to 2 with 40 to 42 people, not yet synced.
fn three_requests(dir: &std::path::Path) -> (HubProcess, Store, Store, relevo_core::EntityId) {
    let hub = HubProcess::start(dir);
    let mut field = enrolled(dir, "Ana López", &hub, "field-coordinator", "GT");
    let mut director = enrolled(dir, "Rosa Pérez", &hub, "regional-director", "PA");
    director.open_crisis(&crisis()).expect("crisis");
    sync(&mut director);
    sync(&mut field);
    let crisis = current(&mut field);
    for n in 0..3 {
        field
            .add_request(&request("GT", &format!("Albergue {n}"), 40.0 + n as f64))
            .expect("request");
    }
    (hub, field, director, crisis)
}

#[test]
fn devices_keep_hub_receipts_and_signed_heads_that_verify() {
    let dir = tempfile::tempdir().expect("tempdir");
    let (_hub, mut field, mut director, crisis) = three_requests(dir.path());
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
    let conn = raw_device(&path);
    let changed = conn
        .execute(
            "UPDATE op_rows SET payload = CAST(replace(CAST(payload AS TEXT), 'Albergue 2', 'Albergue 9') AS BLOB)
             WHERE kind = 'request.create' AND CAST(payload AS TEXT) LIKE '%Albergue 2%'",
            [],
        )
        .expect("tamper");
    assert_eq!(changed, 1);
    drop(conn);
    let director = open_device(path.parent().expect("folder"));
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

/// A whole alternative history of one device, signed with its own key (a
/// cloned disk, a stolen key): every op chains and every signature is good,
/// so the chain check alone finds nothing. Only the heads the hub signed
/// tell that the hub was given another history.
#[test]
fn an_alternative_history_signed_with_a_cloned_key_is_caught_by_the_hub_heads() {
    use relevo_core::identity::DeviceKey;
    use relevo_core::op::{OpHash, UnsignedOp};
    use relevo_core::{hlc::Hlc, EntityId};

    let dir = tempfile::tempdir().expect("tempdir");
    let (_hub, mut field, mut director, _) = three_requests(dir.path());
    sync(&mut field);
    sync(&mut director);
    assert!(director.verify().expect("verify").intact());
    let device = field.device().expect("device");
    drop(field);

    // The field device's key, as a thief would have it.
    let field_db = raw_device(&dir.path().join("Ana López").join("relevo.db"));
    let secret: Vec<u8> = field_db
        .query_row("SELECT secret FROM local_device WHERE id = 1", [], |r| {
            r.get(0)
        })
        .expect("secret");
    let key = DeviceKey::from_secret(secret.try_into().expect("32 bytes"));
    assert_eq!(key.device_id(), device);

    // On the director's device, the field's whole log is rewritten: the
    // second shelter now reports 400 people, and every later op is
    // re-chained and re-signed so that nothing looks out of place.
    let path = dir.path().join("Rosa Pérez").join("relevo.db");
    drop(director);
    let mut conn = raw_device(&path);
    let tx = conn.transaction().expect("tx");
    /// seq, hlc wall, hlc counter, author, kind, payload.
    type Row = (i64, i64, u32, Vec<u8>, String, Vec<u8>);
    let rows: Vec<Row> = tx
        .prepare(
            "SELECT seq, hlc_wall, hlc_counter, author, kind, payload FROM ops
             WHERE device = ?1 ORDER BY seq",
        )
        .expect("prepare")
        .query_map([device.as_bytes()], |r| {
            Ok((
                r.get(0)?,
                r.get(1)?,
                r.get(2)?,
                r.get(3)?,
                r.get(4)?,
                r.get(5)?,
            ))
        })
        .expect("query")
        .collect::<Result<_, _>>()
        .expect("rows");
    assert!(rows.len() >= 3, "{} ops of the field device", rows.len());
    let mut prev = OpHash::GENESIS;
    let mut rewritten = 0;
    for (seq, wall, counter, author, kind, payload) in rows {
        let text = String::from_utf8(payload).expect("JSON");
        let forged = if text.contains("Albergue 1") {
            rewritten += 1;
            text.replace("\"total\":41", "\"total\":400")
        } else {
            text
        };
        let op = UnsignedOp {
            device,
            seq: seq as u64,
            hlc: Hlc {
                wall_ms: wall as u64,
                counter,
            },
            author: EntityId::from_bytes(author.try_into().expect("16 bytes")),
            kind,
            payload: forged.into_bytes(),
            prev,
        }
        .sign(&key)
        .expect("sign");
        prev = op.hash();
        tx.execute(
            "UPDATE op_rows SET payload = ?3, prev = ?4, hash = ?5, signature = ?6
             WHERE device = (SELECT id FROM devices WHERE key = ?1) AND seq = ?2",
            rusqlite::params![
                device.as_bytes(),
                seq,
                op.body.payload,
                op.body.prev.0,
                prev.0,
                op.signature
            ],
        )
        .expect("rewrite");
    }
    assert_eq!(rewritten, 1, "the second request was rewritten");
    tx.commit().expect("commit");
    drop(conn);

    let director = open_device(path.parent().expect("folder"));
    let report = director.verify().expect("verify");
    // Every chain and signature checks out...
    assert!(
        report.devices.iter().all(|d| d.problem.is_none()),
        "{report:?}"
    );
    // ...but the hub signed another history for that device.
    assert!(!report.intact());
    let problem = report
        .hub_heads
        .problem
        .expect("the heads catch the rewritten history");
    assert!(
        problem.contains("differ from what the hub signed"),
        "{problem}"
    );
}
