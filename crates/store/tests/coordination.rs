//! Coordination between real stores: tasks, handovers, escalation,
//! permissions on both sides of a transfer, and conflicts made offline.

mod common;

use common::*;
use relevo_core::api::{ApiError, ErrorCode};
use relevo_core::domain::{Rule, TaskDraft, TaskStatus};
use relevo_store::{Error, FulfilmentDraft, HolderDraft, Ingest, Store, TaskFilter};

fn task_draft(country: &str, requests: Vec<String>) -> TaskDraft {
    TaskDraft {
        title: "Distribuir colchonetas en el albergue".into(),
        scope: "national".into(),
        country: country.into(),
        sector: "shelter".into(),
        priority: "high".into(),
        due: "2026-12-05".into(),
        requests,
        ..Default::default()
    }
}

fn person(s: &Store) -> HolderDraft {
    HolderDraft {
        person: s.identity().expect("q").expect("me").person_id.to_string(),
        org: String::new(),
    }
}

fn org(id: &str) -> HolderDraft {
    HolderDraft {
        person: String::new(),
        org: id.into(),
    }
}

fn code(e: Error) -> ErrorCode {
    ApiError::from(e).code
}

/// A regional director's store with a crisis, a GT field coordinator and a
/// GT national director who both hold everything, and one GT request.
struct Region {
    regional: Store,
    field: Store,
    national: Store,
    request: String,
}

fn region() -> Region {
    let regional = ready_store("regional-director", "PA");
    let mut field = joined("field-coordinator", "GT", &regional);
    let request = field
        .add_request(&request("Tecún Umán", 120))
        .expect("log")
        .reference;
    let mut national = joined("national-director", "GT", &field);
    let mut regional = regional;
    exchange(&mut regional, &mut field);
    exchange(&mut regional, &mut national);
    exchange(&mut field, &mut national);
    Region {
        regional,
        field,
        national,
        request,
    }
}

#[test]
fn a_director_creates_assigns_and_hands_over_and_the_history_is_kept() {
    let Region {
        mut regional,
        mut field,
        mut national,
        request,
    } = region();
    let id = national
        .add_task(&task_draft("GT", vec![request.clone()]))
        .expect("create");
    let t = national.task(id).expect("q").expect("task");
    assert!(t.reference.starts_with("TSK-"), "{}", t.reference);
    assert_eq!((t.status, t.requests), (TaskStatus::Open, 1));

    national
        .assign_task(&t.reference, &person(&field))
        .expect("assign");
    exchange(&mut national, &mut field);
    field.accept_task(&t.reference).expect("the holder accepts");
    field
        .set_task_status(&t.reference, "in-progress", "")
        .expect("start");
    exchange(&mut national, &mut field);
    national
        .hand_over_task(
            &t.reference,
            &org("iom"),
            "Pasa a OIM: transporte desde la capital",
        )
        .expect("hand over");
    let d = national.task_detail(&t.reference).expect("detail");
    assert_eq!(d.task.status, TaskStatus::Assigned);
    let holders: Vec<_> = d
        .holders
        .iter()
        .map(|h| {
            let h = h.holder.as_ref().expect("holder");
            (h.person_name.clone(), h.org.clone())
        })
        .collect();
    assert_eq!(
        holders,
        vec![
            (Some("Tester field-coordinator GT".into()), None),
            (None, Some("iom".into()))
        ]
    );
    assert_eq!(
        d.holders[1].note.as_deref(),
        Some("Pasa a OIM: transporte desde la capital")
    );
    let kinds: Vec<_> = d.timeline.iter().map(|e| e.kind.as_str()).collect();
    assert_eq!(
        kinds,
        [
            "task.create",
            "task.assign",
            "task.accept",
            "task.status",
            "task.handover"
        ]
    );

    // The board and the request agree.
    let board = national
        .board(d.task.crisis, &TaskFilter::default())
        .expect("board");
    let assigned = board
        .columns
        .iter()
        .find(|c| c.status == TaskStatus::Assigned)
        .expect("column");
    assert_eq!(assigned.count, 1);
    let by_org = national
        .board(
            d.task.crisis,
            &TaskFilter {
                org: Some("iom".into()),
                ..Default::default()
            },
        )
        .expect("board");
    assert_eq!(by_org.columns.iter().map(|c| c.count).sum::<u32>(), 1);
    let r = national.request_detail(&request).expect("request");
    assert_eq!(r.tasks.len(), 1);

    // Escalation: the national director hands it to the region; after that
    // it is out of their scope, and the regional director can act on it.
    national
        .escalate_task(&t.reference, "Requiere coordinación con HN")
        .expect("escalate");
    let e = national
        .hand_over_task(&t.reference, &org("unhcr"), "x")
        .expect_err("regional now");
    assert_eq!(code(e), ErrorCode::Forbidden);
    exchange(&mut national, &mut regional);
    regional
        .hand_over_task(&t.reference, &org("unhcr"), "ACNUR coordina")
        .expect("regional director");
    assert_eq!(
        regional.task_detail(&t.reference).expect("d").task.scope,
        relevo_core::domain::TaskScope::Regional
    );
}

#[test]
fn refused_actions_say_why_and_write_nothing() {
    let Region {
        regional: _,
        mut field,
        mut national,
        request,
    } = region();
    let id = national
        .add_task(&task_draft("GT", vec![]))
        .expect("create");
    let reference = national.task(id).expect("q").expect("t").reference;
    exchange(&mut national, &mut field);
    let before = field.op_count().expect("count");

    let e = field
        .assign_task(&reference, &person(&field))
        .expect_err("fc");
    assert_eq!(
        e.to_string(),
        "a field coordinator cannot assign a task; it needs a national director or regional director"
    );
    let e = field.add_task(&task_draft("GT", vec![])).expect_err("fc");
    assert_eq!(code(e), ErrorCode::Forbidden);
    let e = national
        .add_task(&task_draft("HN", vec![]))
        .expect_err("out of scope");
    assert!(
        e.to_string().contains("only within their own country"),
        "{e}"
    );
    let e = field.accept_task("TSK-NOPE-1").expect_err("unknown");
    assert_eq!(code(e), ErrorCode::NotFound);
    let e = national
        .assign_task(
            &reference,
            &HolderDraft {
                person: "0190a1b2-0000-7000-8000-000000000000".into(),
                org: String::new(),
            },
        )
        .expect_err("not on roster");
    match e {
        Error::Validation(f) => assert_eq!(f[0].rule, Rule::NotOnRoster),
        other => panic!("{other}"),
    }
    let e = national
        .assign_task(&reference, &org("acme"))
        .expect_err("unknown org");
    assert_eq!(code(e), ErrorCode::Validation);

    national
        .set_task_status(&reference, "cancelled", "")
        .expect("cancel");
    let e = national
        .assign_task(&reference, &org("iom"))
        .expect_err("cancelled");
    assert_eq!(
        e.to_string(),
        "a task that is cancelled cannot take the step assign"
    );
    assert_eq!(code(e), ErrorCode::Lifecycle);

    // Over-fulfilment, on a request with an item line.
    let mut edit = request_draft_with_items();
    edit.site = "Tecún Umán".into();
    national
        .update_request(&request, &edit)
        .expect("add item line");
    national
        .fulfil_request(
            &request,
            &FulfilmentDraft {
                item: Some(0),
                what: "Colchonetas".into(),
                quantity: Some(80.0),
                unit: "unidades".into(),
                by: "rc-gt".into(),
                complete: false,
            },
        )
        .expect("partial");
    let e = national
        .fulfil_request(
            &request,
            &FulfilmentDraft {
                item: Some(0),
                what: "Colchonetas".into(),
                quantity: Some(50.0),
                unit: "unidades".into(),
                by: "rc-gt".into(),
                complete: false,
            },
        )
        .expect_err("over");
    match e {
        Error::Validation(f) => {
            assert_eq!(
                (f[0].field.as_str(), f[0].rule, f[0].limit),
                ("quantity", Rule::OverFulfilment, Some(40))
            )
        }
        other => panic!("{other}"),
    }
    let r = national.request_detail(&request).expect("detail");
    assert_eq!(r.request.status.slug(), "partly-fulfilled");
    assert_eq!(r.fulfilments.len(), 1);
    assert_eq!(
        field.op_count().expect("count"),
        before,
        "nothing written by refusals"
    );
}

fn request_draft_with_items() -> relevo_core::domain::RequestDraft {
    relevo_core::domain::RequestDraft {
        items: vec![relevo_core::domain::ItemDraft {
            quantity: Some(120.0),
            unit: "unidades".into(),
            description: "Colchonetas".into(),
        }],
        ..request("Tecún Umán", 120)
    }
}

#[test]
fn two_directors_assign_offline_and_both_see_the_same_conflict_until_resolved() {
    let Region {
        mut regional,
        mut field,
        mut national,
        request: _,
    } = region();
    let id = national
        .add_task(&task_draft("GT", vec![]))
        .expect("create");
    let reference = national.task(id).expect("q").expect("t").reference;
    exchange(&mut national, &mut regional);

    // Both offline: each assigns the same open task to someone else.
    national
        .assign_task(&reference, &person(&field))
        .expect("national assigns");
    regional
        .assign_task(&reference, &org("iom"))
        .expect("regional assigns");
    exchange(&mut national, &mut regional);

    let a = national.conflicts(None, Some(id)).expect("conflicts");
    let b = regional.conflicts(None, Some(id)).expect("conflicts");
    assert_eq!(a, b, "both replicas show the same conflict");
    assert_eq!(
        a.len(),
        1,
        "holder only: both wrote status = assigned, which agrees"
    );
    assert_eq!(a[0].field, "holder");
    assert_eq!(a[0].values.len(), 2);
    let winner = a[0]
        .values
        .iter()
        .find(|v| v.provisional)
        .expect("provisional");
    assert_eq!(
        national.task(id).expect("q").expect("t").holder,
        regional.task(id).expect("q").expect("t").holder,
        "the same provisional winner"
    );
    assert_eq!(
        national.task(id).expect("q").expect("t").conflicts,
        1,
        "the task is flagged"
    );
    let shown = national
        .task(id)
        .expect("q")
        .expect("t")
        .holder
        .expect("holder");
    assert_eq!(winner.holder.as_ref(), Some(&shown));

    // A national director may not paper over it; nor may the holder act on it.
    let e = national
        .hand_over_task(&reference, &org("unicef"), "x")
        .expect_err("in conflict");
    assert_eq!(code(e), ErrorCode::Conflict);
    let e = national
        .resolve_conflict(&reference, "holder", "2")
        .expect_err("national");
    assert_eq!(code(e), ErrorCode::Forbidden);

    // The regional director keeps the national director's choice.
    let chosen = a[0]
        .values
        .iter()
        .position(|v| v.holder.as_ref().and_then(|h| h.person).is_some())
        .expect("the person value")
        + 1;
    regional
        .resolve_conflict(&reference, "holder", &chosen.to_string())
        .expect("resolve");
    exchange(&mut national, &mut regional);
    exchange(&mut field, &mut national);
    for s in [&national, &regional, &field] {
        assert!(s.conflicts(None, None).expect("c").is_empty());
        let t = s.task(id).expect("q").expect("t");
        assert_eq!(t.conflicts, 0);
        assert_eq!(
            t.holder.expect("h").person_name.as_deref(),
            Some("Tester field-coordinator GT")
        );
    }
    assert_eq!(
        national.projection_dump().expect("d"),
        regional.projection_dump().expect("d")
    );
    // Nothing was deleted: both assignments are still in the history.
    assert_eq!(
        national.task_detail(&reference).expect("d").holders.len(),
        3
    );
}

#[test]
fn ops_received_are_judged_again_and_wait_for_what_they_name() {
    let Region {
        mut regional,
        mut field,
        mut national,
        request: _,
    } = region();
    let id = national
        .add_task(&task_draft("GT", vec![]))
        .expect("create");
    let reference = national.task(id).expect("q").expect("t").reference;
    national
        .assign_task(&reference, &person(&field))
        .expect("assign");
    // The field coordinator receives only the assignment first: it names the
    // create op it replaces, so it waits.
    let ops = national.ops().expect("ops");
    let mine = national.identity().expect("q").expect("me").device_id;
    let own: Vec<_> = ops
        .iter()
        .filter(|o| o.body.device.to_string() == mine)
        .collect();
    let (create, assign) = (own[own.len() - 2], own[own.len() - 1]);
    assert_eq!(field.ingest(assign).expect("ingest"), Ingest::Pending);
    assert_eq!(field.ingest(create).expect("ingest"), Ingest::Applied(2));
    field.accept_task(&reference).expect("holder accepts");

    // A regional director's replica judges the field coordinator's accept
    // itself, and agrees.
    exchange(&mut field, &mut regional);
    assert_eq!(
        regional.task(id).expect("q").expect("t").status,
        TaskStatus::Accepted
    );
    assert!(regional
        .log_entries()
        .expect("log")
        .iter()
        .all(|e| e.refused.is_none()));
    let mut copy = Store::open_in_memory().expect("open");
    for op in regional.ops().expect("ops") {
        copy.ingest(&op).expect("ingest");
    }
    copy.rebuild_projections().expect("rebuild");
    assert_eq!(
        copy.projection_dump().expect("d"),
        regional.projection_dump().expect("d")
    );
}

#[test]
fn the_demo_scenario_is_a_whole_crisis() {
    let mut s = Store::open_in_memory().expect("open");
    s.init_identity(&identity("regional-director", "PA"))
        .expect("init");
    let crisis = s.load_demo().expect("demo");
    let requests = s.requests(crisis.id).expect("requests");
    assert_eq!(requests.len(), 320);
    let board = s.board(crisis.id, &TaskFilter::default()).expect("board");
    let tasks: u32 = board.columns.iter().map(|c| c.count).sum();
    assert_eq!(tasks, 48);
    let mut countries: Vec<_> = s
        .roster()
        .expect("roster")
        .people
        .iter()
        .filter(|p| p.name.starts_with("Demo"))
        .map(|p| p.country)
        .collect();
    countries.sort();
    countries.dedup();
    assert_eq!(countries.len(), 6, "people in six countries");
    let conflicts = s.conflicts(Some(crisis.id), None).expect("conflicts");
    assert_eq!(conflicts.len(), 1, "one unresolved conflict");
    assert_eq!(conflicts[0].field, "holder");
    let log = s.log_entries().expect("log");
    let count = |kind: &str| log.iter().filter(|e| e.kind == kind).count();
    assert!(
        count("task.handover") >= 4,
        "handovers: {}",
        count("task.handover")
    );
    assert_eq!(count("task.escalate"), 1);
    assert!(count("note.add") > 20);
    assert!(count("request.fulfil") > 5);
    assert!(
        log.iter().all(|e| e.refused.is_none()),
        "every demo op passes the rules"
    );
    let regional = s
        .board(
            crisis.id,
            &TaskFilter {
                scope: Some("regional".into()),
                ..Default::default()
            },
        )
        .expect("board");
    assert_eq!(regional.columns.iter().map(|c| c.count).sum::<u32>(), 1);
    assert!(s.verify().expect("verify").intact());
    let before = s.projection_dump().expect("dump");
    s.rebuild_projections().expect("rebuild");
    assert_eq!(s.projection_dump().expect("dump"), before);
}
