//! Story and rule tests for the store, on real SQLite files.

mod common;

use common::*;
use relevo_core::api::ErrorCode;
use relevo_core::domain::{RequestDraft, Rule};
use relevo_core::payload::{Payload, RequestCreated};
use relevo_core::{DeviceKey, EntityId, Hlc, OpHash, UnsignedOp};
use relevo_store::{Error, Ingest, Store};

#[test]
fn a_request_logged_offline_survives_closing_and_reopening() {
    let dir = tempfile::tempdir().expect("tempdir");
    let reference;
    {
        let mut store = Store::open_dir(dir.path(), &key()).expect("open new");
        assert!(
            store.identity().expect("query").is_none(),
            "a new device has no identity"
        );
        let me = store
            .init_identity(&identity("field-coordinator", "GT"))
            .expect("init");
        assert!(matches!(
            store.add_request(&request("Tecún Umán", 40)),
            Err(Error::NoCrisis)
        ));
        store.open_crisis(&crisis()).expect("crisis");
        let r = store.add_request(&request("Tecún Umán", 40)).expect("add");
        assert_eq!(r.reference, format!("REQ-{}-1", me.device_tag));
        assert_eq!(
            r.author_name.as_deref(),
            Some("Tester field-coordinator GT")
        );
        reference = r.reference;
    }
    let store = Store::open_dir(dir.path(), &key()).expect("reopen");
    let crisis = store
        .current_crisis()
        .expect("query")
        .expect("crisis survives");
    let list = store.requests(crisis.id).expect("list");
    assert_eq!(list.len(), 1);
    assert_eq!(list[0].reference, reference);
    assert_eq!(list[0].people.total, 40);
    assert_eq!(
        store.op_count().expect("count"),
        3,
        "declare, open crisis, create request"
    );
    assert!(store.verify().expect("verify").intact());
    let me = store.identity().expect("q").expect("identity survives");
    assert_eq!(
        store
            .version_vector()
            .expect("vv")
            .values()
            .copied()
            .collect::<Vec<_>>(),
        vec![3]
    );
    assert_eq!(me.role.slug(), "field-coordinator");
}

#[test]
fn references_count_per_device_and_the_clock_never_goes_back_across_restarts() {
    let dir = tempfile::tempdir().expect("tempdir");
    let mut store = Store::open_dir(dir.path(), &key()).expect("open");
    store
        .init_identity(&identity("field-coordinator", "GT"))
        .expect("init");
    store.open_crisis(&crisis()).expect("crisis");
    let a = store.add_request(&request("Corinto", 5)).expect("a");
    drop(store);
    let mut store = Store::open_dir(dir.path(), &key()).expect("reopen");
    let b = store.add_request(&request("Corinto", 6)).expect("b");
    assert!(
        a.reference.ends_with("-1") && b.reference.ends_with("-2"),
        "{} {}",
        a.reference,
        b.reference
    );
    let ops = store.ops().expect("ops");
    for pair in ops.windows(2) {
        assert!(
            pair[1].body.hlc > pair[0].body.hlc,
            "own ops carry strictly increasing clocks"
        );
    }
}

/// References are numbered from each key's own chain, with nothing kept
/// beside it: two processes on one file (the app and the CLI) never give one
/// number twice, and ops that make no record take no number.
#[test]
fn two_handles_on_one_file_never_give_one_reference_twice() {
    let dir = tempfile::tempdir().expect("tempdir");
    let mut first = Store::open_dir(dir.path(), &key()).expect("open");
    first
        .init_identity(&identity("national-director", "GT"))
        .expect("init");
    first.open_crisis(&crisis()).expect("crisis");
    let mut second = Store::open_dir(dir.path(), &key()).expect("second");
    let mut references = Vec::new();
    for i in 0..6 {
        let store = if i % 3 == 0 { &mut second } else { &mut first };
        let r = store
            .add_request(&request("Corinto", 5 + i))
            .expect("request");
        // An op that makes no record in between.
        store
            .set_request_status(&r.reference, "triaged", "")
            .expect("triage");
        references.push(r.reference);
    }
    let numbers: Vec<&str> = references
        .iter()
        .map(|r| r.rsplit('-').next().expect("number"))
        .collect();
    assert_eq!(numbers, ["1", "2", "3", "4", "5", "6"], "{references:?}");
    // Tasks count on their own.
    let task = second
        .add_task(&relevo_core::domain::TaskDraft {
            title: "Agua".into(),
            scope: "national".into(),
            country: "GT".into(),
            sector: "wash".into(),
            priority: "high".into(),
            ..Default::default()
        })
        .expect("task");
    let task = second.task(task).expect("q").expect("task");
    assert!(task.reference.ends_with("-1"), "{}", task.reference);
}

#[test]
fn an_invalid_request_writes_nothing() {
    let mut store = ready_store("field-coordinator", "GT");
    let before = store.op_count().expect("count");
    let cases = [
        (
            RequestDraft {
                country: "XX".into(),
                ..request("A", 10)
            },
            "country",
            Rule::Unknown,
        ),
        (
            RequestDraft {
                girls: Some(-2.0),
                ..request("A", 10)
            },
            "people.girls",
            Rule::Negative,
        ),
        (
            RequestDraft {
                women: Some(20.0),
                ..request("A", 10)
            },
            "people",
            Rule::BreakdownExceedsTotal,
        ),
        (
            RequestDraft {
                sector: "".into(),
                ..request("A", 10)
            },
            "sector",
            Rule::Required,
        ),
    ];
    for (draft, field, rule) in cases {
        match store.add_request(&draft) {
            Err(Error::Validation(errors)) => {
                assert!(
                    errors.iter().any(|e| e.field == field && e.rule == rule),
                    "{field}: {errors:?}"
                )
            }
            other => panic!("{field}: expected a validation error, got {other:?}"),
        }
    }
    assert_eq!(
        store.op_count().expect("count"),
        before,
        "rejected input must not reach the log"
    );
    let crisis = store.current_crisis().expect("q").expect("crisis");
    assert!(store.requests(crisis.id).expect("list").is_empty());
}

#[test]
fn a_reviewer_cannot_record() {
    let mut store = Store::open_in_memory().expect("open");
    store
        .init_identity(&identity("reviewer", "GT"))
        .expect("init");
    let err = store
        .open_crisis(&crisis())
        .expect_err("reviewers only read");
    assert_eq!(err.code(), ErrorCode::Forbidden);
    assert!(err.to_string().contains("reviewer"), "{err}");
    assert_eq!(store.op_count().expect("count"), 1);
}

#[test]
fn a_field_coordinator_logs_only_in_their_own_country() {
    let mut store = ready_store("field-coordinator", "GT");
    let before = store.op_count().expect("count");
    let err = store
        .add_request(&RequestDraft {
            country: "HN".into(),
            ..request("Corinto", 5)
        })
        .expect_err("out of scope");
    assert_eq!(err.code(), ErrorCode::Forbidden);
    assert!(
        err.to_string().contains("only within their own country"),
        "{err}"
    );
    assert_eq!(
        store.op_count().expect("count"),
        before,
        "a refused action writes nothing"
    );
    // A regional director logs anywhere.
    let mut regional = ready_store("regional-director", "PA");
    regional
        .add_request(&RequestDraft {
            country: "HN".into(),
            ..request("Corinto", 5)
        })
        .expect("regional scope");
}

#[test]
fn a_device_is_set_up_once() {
    let mut store = ready_store("national-director", "HN");
    let err = store
        .init_identity(&identity("field-coordinator", "GT"))
        .expect_err("second init");
    assert_eq!(err.code(), ErrorCode::AlreadyInitialised);
}

#[test]
fn a_database_from_a_newer_version_is_refused_and_left_untouched() {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("relevo.db");
    {
        let mut store = Store::open(&path, &key()).expect("create");
        store
            .init_identity(&identity("field-coordinator", "GT"))
            .expect("init");
    }
    {
        let conn = raw(&path);
        conn.pragma_update(None, "user_version", 99)
            .expect("bump version");
        conn.pragma_update(None, "journal_mode", "DELETE")
            .expect("checkpoint and leave WAL");
    }
    let before = file_bytes(&path);
    let err = Store::open(&path, &key()).expect_err("newer schema");
    assert_eq!(err.code(), ErrorCode::SchemaTooNew);
    let message = err.to_string();
    assert!(
        message.contains("newer version")
            && message.contains("99")
            && message.contains("not changed"),
        "{message}"
    );
    assert_eq!(file_bytes(&path), before, "the file must not be modified");
}

#[test]
fn a_damaged_file_is_refused_and_left_untouched() {
    let dir = tempfile::tempdir().expect("tempdir");
    let garbage = dir.path().join("garbage.db");
    std::fs::write(
        &garbage,
        b"this is not a database, it is a shopping list: agua, frazadas, sueros".repeat(100),
    )
    .expect("write");
    let before = file_bytes(&garbage);
    let err = Store::open(&garbage, &key()).expect_err("garbage");
    assert_eq!(err.code(), ErrorCode::Corrupt);
    assert!(err.to_string().contains("damaged"), "{err}");
    assert_eq!(file_bytes(&garbage), before);

    // A real Relevo database with a page overwritten in the middle.
    let hurt = dir.path().join("hurt.db");
    {
        let mut store = Store::open(&hurt, &key()).expect("create");
        store
            .init_identity(&identity("field-coordinator", "GT"))
            .expect("init");
        store.open_crisis(&crisis()).expect("crisis");
        for i in 0..300 {
            store
                .add_request(&request(&format!("Sitio {i}"), 10))
                .expect("add");
        }
    }
    {
        let conn = raw(&hurt);
        conn.pragma_update(None, "journal_mode", "DELETE")
            .expect("checkpoint");
    }
    let mut bytes = file_bytes(&hurt);
    let page = 4096;
    assert!(bytes.len() > 8 * page, "the test needs several pages");
    for b in &mut bytes[5 * page..5 * page + 200] {
        *b = 0xA5;
    }
    std::fs::write(&hurt, &bytes).expect("damage");
    let err = Store::open(&hurt, &key()).expect_err("damaged pages");
    assert_eq!(err.code(), ErrorCode::Corrupt, "{err}");
    assert_eq!(
        file_bytes(&hurt),
        bytes,
        "the damaged file must not be modified"
    );
}

#[test]
fn another_programs_database_is_refused() {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("other.db");
    rusqlite::Connection::open(&path)
        .expect("raw")
        .execute_batch("CREATE TABLE t (x);")
        .expect("create");
    let before = file_bytes(&path);
    let err = Store::open(&path, &key()).expect_err("foreign db");
    assert!(err.to_string().contains("another program"), "{err}");
    assert_eq!(file_bytes(&path), before);
}

#[test]
fn rebuilding_projections_gives_exactly_the_incremental_tables() {
    let mut store = ready_store("field-coordinator", "GT");
    store.load_demo().expect("demo");
    for i in 0..20 {
        store
            .add_request(&request(&format!("Albergue {i}"), 10 + i))
            .expect("add");
    }
    let incremental = store.projection_dump().expect("dump");
    assert!(
        incremental.matches('\n').count() > 30,
        "the dump must hold the rows: {incremental}"
    );
    store.rebuild_projections().expect("rebuild");
    assert_eq!(store.projection_dump().expect("dump"), incremental);
}

#[test]
fn the_demo_crisis_loads_once_and_is_marked() {
    let mut store = ready_store("field-coordinator", "GT");
    let demo = store.load_demo().expect("demo");
    assert!(demo.demo);
    let n = store.requests(demo.id).expect("list").len();
    assert!(n >= 5, "the demo has a handful of requests, got {n}");
    let again = store.load_demo().expect("again");
    assert_eq!(again.id, demo.id);
    assert_eq!(store.requests(demo.id).expect("list").len(), n);
    assert_eq!(
        store.current_crisis().expect("q").expect("current").id,
        demo.id
    );
    assert!(store.verify().expect("verify").intact());
}

#[test]
fn tampering_with_one_byte_is_found_and_named() {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("relevo.db");
    let tag;
    {
        let mut store = Store::open(&path, &key()).expect("open");
        tag = store
            .init_identity(&identity("field-coordinator", "GT"))
            .expect("init")
            .device_tag;
        store.open_crisis(&crisis()).expect("crisis");
        store.add_request(&request("Tecún Umán", 100)).expect("a");
        store.add_request(&request("Tecún Umán", 100)).expect("b");
    }
    {
        let conn = raw(&path);
        // 100 people becomes 900: one byte of op #3's payload.
        let changed = conn
            .execute("UPDATE op_rows SET payload = CAST(replace(CAST(payload AS TEXT), '\"total\":100', '\"total\":900') AS BLOB) WHERE seq = 3", [])
            .expect("tamper");
        assert_eq!(changed, 1);
    }
    let store = Store::open(&path, &key()).expect("open tampered");
    let report = store.verify().expect("verify");
    assert!(!report.intact());
    let problem = report.devices[0].problem.clone().expect("a problem");
    assert!(
        problem.starts_with(&format!("{tag}#3")),
        "must name op #3: {problem}"
    );
}

/// Op `seq` of a device: #1 declares a GT field coordinator, the others
/// log a request with `reference`.
fn signed_request(key: &DeviceKey, seq: u64, prev: OpHash, reference: &str) -> relevo_core::Op {
    let payload = if seq == 1 {
        Payload::PersonDeclare(relevo_core::payload::PersonDeclared {
            id: EntityId::from_bytes([2; 16]),
            name: "Ana".into(),
            role: relevo_core::domain::Role::FieldCoordinator,
            country: relevo_core::domain::Country::Gt,
            org: None,
            demo: false,
        })
    } else {
        Payload::RequestCreate(RequestCreated {
            id: EntityId::new_v7(seq, [seq as u8; 10]),
            reference: reference.into(),
            crisis: EntityId::from_bytes([1; 16]),
            request: request("Paso Canoas", 12).validate().expect("valid"),
        })
    };
    UnsignedOp {
        device: key.device_id(),
        seq,
        hlc: Hlc::new(1_700_000_000_000 + seq, 0),
        author: EntityId::from_bytes([2; 16]),
        kind: payload.kind().into(),
        payload: payload.encode(),
        prev,
    }
    .sign(key)
    .expect("shape")
}

#[test]
fn ingest_rules() {
    let key = DeviceKey::from_secret([42; 32]);
    let tag = key.device_id().tag();
    let op0 = signed_request(&key, 1, OpHash::GENESIS, "");
    let op1 = signed_request(&key, 2, op0.hash(), &format!("REQ-{tag}-1"));
    let op2 = signed_request(&key, 3, op1.hash(), &format!("REQ-{tag}-2"));
    // Genuine, but names another device's reference: kept and refused.
    let op3 = signed_request(&key, 4, op2.hash(), "REQ-AAAAAA-3");

    let mut store = Store::open_in_memory().expect("open");
    assert_eq!(
        store.ingest(&op2).expect("early"),
        Ingest::Pending,
        "held until #1 and #2 arrive"
    );
    assert_eq!(store.ingest(&op0).expect("first"), Ingest::Applied(1));
    assert_eq!(store.op_count().expect("n"), 1);
    assert_eq!(
        store.ingest(&op1).expect("fills the gap"),
        Ingest::Applied(2)
    );
    assert_eq!(store.ingest(&op1).expect("again"), Ingest::Duplicate);
    assert_eq!(
        store.ingest(&op3).expect("refused but kept"),
        Ingest::Applied(1)
    );
    assert_eq!(
        store.op_count().expect("n"),
        4,
        "a refused op stays in the log"
    );
    let entries = store.log_entries().expect("log");
    assert!(
        entries[3]
            .refused
            .as_deref()
            .unwrap_or("")
            .contains("not of the form"),
        "{:?}",
        entries[3].refused
    );
    assert_eq!(
        store
            .requests(EntityId::from_bytes([1; 16]))
            .expect("list")
            .len(),
        2,
        "refused ops are not projected"
    );

    // Same device and number, different content: a fork, quarantined.
    let fork = signed_request(&key, 3, op1.hash(), &format!("REQ-{tag}-9"));
    assert_eq!(store.ingest(&fork).expect("quarantined"), Ingest::Forked);
    // Does not follow the head: another history, quarantined too.
    let stray = signed_request(&key, 5, OpHash([7; 32]), &format!("REQ-{tag}-4"));
    assert_eq!(store.ingest(&stray).expect("quarantined"), Ingest::Forked);
    let forks = store.forks().expect("forks");
    assert_eq!(
        forks.iter().map(|f| f.seq).collect::<Vec<_>>(),
        vec![3, 5],
        "both are shown, neither merged"
    );
    assert!(
        forks[0].reason.contains("same device and number"),
        "{forks:?}"
    );
    // A signature that does not verify: not taken in. The op waits for a
    // signed op of its chain to cover it (none ever does here).
    let mut forged = signed_request(&key, 5, op3.hash(), &format!("REQ-{tag}-4"));
    forged.signature[0] ^= 1;
    assert_eq!(store.ingest(&forged).expect("waits"), Ingest::Pending);
    let waiting = store.waiting(10).expect("waiting");
    assert!(
        matches!(waiting[..], [ref w] if w.waits == relevo_store::Waits::Signature),
        "{waiting:?}"
    );
    assert_eq!(
        store.op_count().expect("n"),
        4,
        "nothing failed verification was stored"
    );
    // A changed body under its signature conflicts with it and is refused.
    let mut altered = forged.clone();
    altered.signature[0] ^= 1;
    altered.body.payload[3] ^= 1;
    assert!(matches!(store.ingest(&altered), Err(Error::BadOp { .. })));
    assert!(store.verify().expect("verify").intact());
}

/// A long chain that waited for its first op goes in, whole, as soon as
/// that op arrives; and ops stamped more than the drift ahead wait without
/// moving the clock.
#[test]
fn a_waiting_chain_goes_in_at_once_and_future_ops_wait() {
    let key = DeviceKey::from_secret([43; 32]);
    let tag = key.device_id().tag();
    let mut ops = vec![signed_request(&key, 1, OpHash::GENESIS, "")];
    for seq in 2..=3000u64 {
        let prev = ops.last().expect("one").hash();
        ops.push(signed_request(
            &key,
            seq,
            prev,
            &format!("REQ-{tag}-{}", seq - 1),
        ));
    }
    let mut store = Store::open_in_memory().expect("open");
    for page in ops[1..].chunks(700) {
        for outcome in store.ingest_batch(page).expect("page") {
            assert_eq!(outcome.expect("kept"), Ingest::Pending);
        }
    }
    assert_eq!(store.pending_count().expect("n"), 2999);
    assert_eq!(
        store.ingest(&ops[0]).expect("first"),
        Ingest::Applied(3000),
        "the first op and everything that waited for it"
    );
    assert_eq!(store.pending_count().expect("n"), 0);
    assert_eq!(store.op_count().expect("n"), 3000);

    // Ten years ahead: it waits, says why, and drags no clock.
    let other = DeviceKey::from_secret([44; 32]);
    let far = UnsignedOp {
        hlc: Hlc::new(now() + 10 * 365 * 24 * 3_600_000, 0),
        ..signed_request(&other, 1, OpHash::GENESIS, "").body
    }
    .sign(&other)
    .expect("shape");
    assert_eq!(store.ingest(&far).expect("kept"), Ingest::Pending);
    let waiting = store.waiting(10).expect("list");
    assert!(
        matches!(waiting[0].waits, relevo_store::Waits::Time { .. }),
        "{waiting:?}"
    );
    store
        .init_identity(&identity("regional-director", "GT"))
        .expect("init");
    let mine = store
        .ops()
        .expect("ops")
        .into_iter()
        .max_by_key(|o| o.body.hlc)
        .expect("ops");
    assert!(
        mine.body.hlc.wall_ms < now() + 3_600_000,
        "a local op after it is stamped near now, not ten years ahead"
    );
    assert_eq!(
        store.sync_vector().expect("vv").get(&other.device_id()),
        None
    );
}

fn now() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .expect("clock")
        .as_millis() as u64
}

/// The rows of one projection table in a dump.
fn dumped_rows(store: &Store, table: &str) -> Vec<String> {
    let dump = store.projection_dump().expect("dump");
    dump.split("## ")
        .find_map(|section| section.strip_prefix(&format!("{table}\n")))
        .expect("table in dump")
        .lines()
        .map(str::to_owned)
        .collect()
}

/// A create op is its fields' first write, read from the op: logging a
/// request stores no row per field, an edit stores one row per field it
/// writes, and the request's history still shows both.
#[test]
fn a_create_is_read_from_its_op_and_only_later_writes_are_registered() {
    let mut store = ready_store("field-coordinator", "GT");
    let logged = store.add_request(&request("Tecún Umán", 120)).expect("log");
    assert_eq!(dumped_rows(&store, "registers"), Vec::<String>::new());
    store
        .set_request_status(&logged.reference, "in-progress", "")
        .expect("status");
    let rows = dumped_rows(&store, "registers");
    assert_eq!(rows.len(), 1, "{rows:?}");
    let detail = store.request_detail(&logged.reference).expect("detail");
    let kinds: Vec<&str> = detail.timeline.iter().map(|e| e.kind.as_str()).collect();
    assert_eq!(kinds, ["request.create", "request.status"], "{kinds:?}");
    assert_eq!(detail.request.status.slug(), "in-progress");
    // A rebuild from the log gives the same tables.
    let before = store.projection_dump().expect("dump");
    store.rebuild_projections().expect("rebuild");
    assert_eq!(store.projection_dump().expect("dump"), before);
}
