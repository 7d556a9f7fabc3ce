//! The sync story with a real `relevo-hub` process on loopback: three
//! enrolled devices work offline, sync, and end up showing exactly the same
//! thing, including a conflict between two directors until it is resolved.

mod common;

use common::*;
use relevo_core::domain::TaskDraft;
use relevo_store::{HolderDraft, Store};

fn current(store: &mut Store) {
    let crisis = store
        .crises()
        .expect("crises")
        .first()
        .expect("a crisis")
        .id;
    store.set_current_crisis(crisis).expect("current");
}

/// Each device syncs in turn, then all but the last again: everyone has
/// everything.
fn sync_all(stores: &mut [&mut Store]) {
    for s in stores.iter_mut() {
        sync(s);
    }
    let n = stores.len();
    for s in stores[..n - 1].iter_mut() {
        sync(s);
    }
}

fn task(country: &str) -> TaskDraft {
    TaskDraft {
        title: "Habilitar albergue temporal".into(),
        description: "200 colchonetas".into(),
        scope: "national".into(),
        country: country.into(),
        sector: "shelter".into(),
        priority: "high".into(),
        ..Default::default()
    }
}

fn org(id: &str) -> HolderDraft {
    HolderDraft {
        person: String::new(),
        org: id.into(),
    }
}

#[test]
fn three_devices_work_offline_sync_and_agree_conflict_included() {
    let dir = tempfile::tempdir().expect("tempdir");
    let hub = HubProcess::start(dir.path());
    let mut field = enrolled(dir.path(), "Ana López", &hub, "field-coordinator", "GT");
    let mut national = enrolled(dir.path(), "Carlos Mejía", &hub, "national-director", "HN");
    let mut regional = enrolled(dir.path(), "Rosa Pérez", &hub, "regional-director", "PA");

    // The hub's grant, not the device, says who they are.
    let me = national.identity().expect("q").expect("identity");
    assert_eq!(
        (me.name.as_str(), me.role.slug(), me.country.slug()),
        ("Carlos Mejía", "national-director", "HN")
    );

    regional.open_crisis(&crisis()).expect("crisis");
    sync(&mut regional);
    for s in [&mut field, &mut national] {
        sync(s);
        current(s);
    }

    // Offline: each works on their own.
    for (site, n) in [
        ("Tecún Umán", 120.0),
        ("El Carmen", 45.0),
        ("Casa del Migrante", 80.0),
    ] {
        field
            .add_request(&request("GT", site, n))
            .expect("field logs");
    }
    national
        .add_request(&request("HN", "Corinto", 300.0))
        .expect("national logs");
    let shelter = national.add_task(&task("HN")).expect("national task");
    let reference = national.task(shelter).expect("q").expect("t").reference;
    assert_eq!(
        field.not_on_hub().expect("count"),
        3,
        "three requests not on the hub yet"
    );

    // Everyone syncs; the regional director now holds the task too.
    sync_all(&mut [&mut field, &mut national, &mut regional]);
    assert_eq!(field.not_on_hub().expect("count"), 0);

    // Both directors assign the same task offline, to different holders.
    national
        .assign_task(&reference, &org("mig-hn"))
        .expect("national assigns");
    regional
        .assign_task(&reference, &org("iom"))
        .expect("regional assigns");
    sync_all(&mut [&mut national, &mut regional, &mut field]);
    let stores = [&field, &national, &regional];
    let digests: Vec<String> = stores.iter().map(|s| digest(s)).collect();
    assert!(
        digests.iter().all(|d| *d == digests[0]),
        "identical projections: {digests:?}"
    );
    for s in stores {
        let conflicts = s.conflicts(None, None).expect("conflicts");
        assert_eq!(conflicts.len(), 1, "the conflict shows on every device");
        assert_eq!(conflicts[0].field, "holder");
        let crisis = s.crises().expect("c")[0].id;
        assert_eq!(s.requests(crisis).expect("requests").len(), 4);
    }

    // Resolved on one device, gone everywhere after the next syncs.
    regional
        .resolve_conflict(&reference, "holder", "1")
        .expect("resolve");
    sync_all(&mut [&mut regional, &mut field, &mut national]);
    let digests: Vec<String> = [&field, &national, &regional]
        .iter()
        .map(|s| digest(s))
        .collect();
    assert!(
        digests.iter().all(|d| *d == digests[0]),
        "identical after resolving"
    );
    for s in [&field, &national, &regional] {
        assert!(s.conflicts(None, None).expect("c").is_empty());
        assert!(s.verify().expect("verify").intact());
    }
    let log = hub.log_text();
    assert!(
        log.contains("device enrolled") && log.contains("sync page"),
        "{log}"
    );

    // The hub keeps the log layer alone: every op went through it, and it
    // built no request, task, register, note, flow or alert.
    let db = dir.path().join("hub.db");
    let conn = rusqlite::Connection::open(&db).expect("open the hub's file");
    hub_key(&db).apply(&conn).expect("key");
    let count = |table: &str| -> i64 {
        conn.query_row(&format!("SELECT count(*) FROM {table}"), [], |r| r.get(0))
            .expect("count")
    };
    assert!(count("ops") > 10 && count("grants") == 3);
    for table in [
        "persons",
        "crises",
        "requests",
        "tasks",
        "task_links",
        "registers",
        "superseded",
        "conflicts",
        "notes",
        "fulfilments",
        "flow_counts",
        "alerts",
    ] {
        assert_eq!(count(table), 0, "the hub projected into {table}");
    }
}

/// A device set up alone as a regional director creates a task, then enrols
/// as a field coordinator: its op is genuine, so the hub keeps and relays
/// it, but every replica (the device included) marks it refused and leaves
/// it out of what it shows.
#[test]
fn an_op_its_grant_does_not_allow_is_kept_and_refused_everywhere() {
    let dir = tempfile::tempdir().expect("tempdir");
    let hub = HubProcess::start(dir.path());
    let mut rogue = open_device(&dir.path().join("rogue"));
    rogue
        .init_identity(&identity("Pablo", "regional-director", "GT"))
        .expect("self-declared");
    rogue.open_crisis(&crisis()).expect("crisis");
    let made = rogue.add_task(&task("GT")).expect("allowed while alone");
    assert!(rogue.task(made).expect("q").is_some());
    let code = hub.invite("Pablo Ruiz", "field-coordinator", "GT");
    relevo_sync::http::enrol_store(&mut rogue, &hub.url, &code, false).expect("enrol");
    assert!(
        rogue.task(made).expect("q").is_none(),
        "judged again with the grant: a field coordinator cannot create a task"
    );
    sync(&mut rogue);
    let mut other = enrolled(dir.path(), "Rosa", &hub, "regional-director", "PA");
    sync(&mut other);
    for s in [&rogue, &other] {
        let held: Vec<_> = s
            .log_entries()
            .expect("log")
            .into_iter()
            .filter(|e| e.kind == "task.create")
            .collect();
        assert_eq!(held.len(), 1, "the op is held");
        assert!(
            held[0]
                .refused
                .as_deref()
                .unwrap_or("")
                .contains("field coordinator"),
            "{:?}",
            held[0].refused
        );
        assert!(s.task(made).expect("q").is_none(), "and shown nowhere");
        assert_eq!(
            s.crises().expect("c").len(),
            1,
            "the crisis it could open stands"
        );
    }
    sync(&mut rogue);
    assert_eq!(digest(&rogue), digest(&other));
}
