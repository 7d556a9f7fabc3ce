//! The hub is killed in the middle of a large sync; after a restart the next
//! session completes, with nothing lost and nothing held twice.

mod common;

use common::*;
use relevo_sync::http::Client;
use relevo_sync::SyncError;
use std::time::{Duration, Instant};

#[test]
fn a_session_cut_off_by_a_killed_hub_completes_after_restart() {
    let dir = tempfile::tempdir().expect("tempdir");
    let mut hub = HubProcess::start(dir.path());
    let (db, port) = (hub.db.clone(), hub.port);
    let mut device = enrolled(dir.path(), "Rosa", &hub, "regional-director", "PA");
    device.open_crisis(&crisis()).expect("crisis");
    let mut field = enrolled(dir.path(), "Ana", &hub, "field-coordinator", "GT");
    const N: usize = 2500;
    for i in 0..N {
        device
            .add_request(&request("GT", &format!("Albergue {i}"), 10.0 + i as f64))
            .expect("request");
    }
    let mine = device.device().expect("d");
    let total = device.version_vector().expect("vv")[&mine];

    // Kill the hub once it has taken a few pages.
    let log = hub.log.clone();
    let killer = {
        let mut victim = std::mem::replace(&mut hub, HubProcess::detached());
        std::thread::spawn(move || {
            let deadline = Instant::now() + Duration::from_secs(120);
            while std::fs::read_to_string(&log)
                .unwrap_or_default()
                .matches("sync page")
                .count()
                < 4
            {
                assert!(Instant::now() < deadline, "the sync never got going");
                std::thread::sleep(Duration::from_millis(5));
            }
            victim.kill();
        })
    };
    let token = device.enrolment().expect("q").expect("e").token;
    let mut transport = Client::new(&format!("http://127.0.0.1:{port}"))
        .expect("url")
        .session(&token);
    let cut = relevo_sync::run(&mut device, &mut transport, 100, |_| {});
    killer.join().expect("killer");
    match cut {
        Err(e) => assert!(e.is_offline(), "the session stops as offline: {e}"),
        Ok(r) => panic!("the session should have been cut off, it sent {}", r.sent),
    }
    let on_hub = {
        let hub_store = open_hub_db(&db);
        let vv = hub_store.version_vector().expect("vv");
        assert!(hub_store.verify().expect("verify").intact());
        vv.get(&mine).copied().unwrap_or(0)
    };
    assert!(
        on_hub > 0 && on_hub < total,
        "cut mid-way: {on_hub} of {total}"
    );
    assert!(matches!(
        relevo_sync::http::sync_store(&mut device, None, |_| {}),
        Err(SyncError::Offline(_))
    ));

    // Restart on the same file and port: the next session finishes the job.
    let hub = HubProcess::start_on(&db, port, &[]);
    let report = sync(&mut device);
    assert_eq!(
        report.sent,
        total - on_hub,
        "only what the hub lacked was sent"
    );
    assert_eq!(device.not_on_hub().expect("n"), 0);
    sync(&mut field);
    let hub_store = open_hub_db(&db);
    assert_eq!(hub_store.version_vector().expect("vv")[&mine], total);
    assert_eq!(
        hub_store.op_count().expect("count"),
        hub_store
            .version_vector()
            .expect("vv")
            .values()
            .sum::<u64>(),
        "every op once"
    );
    assert!(hub_store.verify().expect("verify").intact());
    let crisis = field.crises().expect("c")[0].id;
    assert_eq!(
        field.requests(crisis).expect("r").len(),
        N,
        "nothing lost on the way"
    );
    drop(hub);
}
