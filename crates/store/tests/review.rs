//! Review: the board as of a moment, response-time measures on a scenario
//! with known answers, the timeline and its filters, and bad moments.

mod common;

use common::{ready_store, request};
use relevo_core::domain::{RequestDraft, TaskDraft};
use relevo_store::{Basis, FulfilmentDraft, HolderDraft, Scale, Store, TimelineFilter};

const HOUR: u64 = 3_600_000;
const DAY: u64 = 24 * HOUR;

fn now() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .expect("clock")
        .as_millis() as u64
}

/// A store that only ever received the ops made up to `at`, in clock order.
fn received_until(source: &Store, at: u64) -> Store {
    let mut ops: Vec<_> = source
        .ops()
        .expect("ops")
        .into_iter()
        .filter(|o| o.body.hlc.wall_ms <= at)
        .collect();
    ops.sort_by_key(|o| (o.body.hlc, o.body.device));
    let mut fresh = Store::open_in_memory().expect("open");
    for page in ops.chunks(500) {
        for outcome in fresh.ingest_batch(page).expect("page") {
            outcome.expect("genuine op");
        }
    }
    fresh
}

#[test]
fn as_of_equals_a_store_that_only_received_the_ops_up_to_then() {
    let mut store = Store::open_in_memory().expect("open");
    let start = now() - 10 * DAY;
    let scenario = store
        .generate_scenario(Scale::DEMO, start)
        .expect("scenario");
    let span = store.span(scenario.crisis, Basis::Made).expect("span");
    assert!(span.first_ms >= start && span.last_ms > span.first_ms + DAY);
    let mut counts = Vec::new();
    for at in [
        span.first_ms,
        span.first_ms + 6 * HOUR,
        span.first_ms + 2 * DAY + 7 * HOUR,
        span.first_ms + (span.last_ms - span.first_ms) * 3 / 4,
        span.last_ms,
    ] {
        let then = store
            .as_of(scenario.crisis, at, Basis::Made)
            .expect("as of");
        let expected = received_until(&store, at);
        assert_eq!(
            then.projection_dump().expect("dump"),
            expected.projection_dump().expect("dump"),
            "as of {at}"
        );
        let requests = then.requests(scenario.crisis).expect("requests").len();
        let then_tasks = then.tasks(scenario.crisis).expect("tasks");
        // Overdue as it was then, not as it is now.
        for t in &then_tasks {
            let due_then = t.due_ms.is_some_and(|d| d < at as i64) && !t.status.is_final();
            assert_eq!(t.overdue, due_then, "{} as of {at}", t.reference);
        }
        let tasks = then_tasks.len();
        counts.push((requests, tasks));
    }
    // The board changes as the moment moves, and ends as it stands now.
    assert!(counts.windows(2).all(|w| w[0] <= w[1]), "{counts:?}");
    assert!(counts[0].0 < counts[4].0, "{counts:?}");
    assert_eq!(
        counts[4],
        (
            store.requests(scenario.crisis).expect("r").len(),
            store.tasks(scenario.crisis).expect("t").len()
        )
    );
}

#[test]
fn a_moment_before_the_crisis_or_in_the_future_is_refused_with_the_span() {
    let mut store = Store::open_in_memory().expect("open");
    let start = now() - 10 * DAY;
    let scenario = store
        .generate_scenario(Scale::DEMO, start)
        .expect("scenario");
    let before = store
        .as_of(scenario.crisis, start - DAY, Basis::Made)
        .expect_err("before the crisis");
    assert!(
        before.to_string().contains("before the crisis began"),
        "{before}"
    );
    let future = store
        .as_of(scenario.crisis, now() + DAY, Basis::Made)
        .expect_err("future");
    assert!(future.to_string().contains("in the future"), "{future}");
    // An empty crisis has nothing to review.
    let empty = ready_store("regional-director", "GT");
    let crisis = empty.current_crisis().expect("c").expect("open").id;
    let nothing = empty.span(crisis, Basis::Made);
    // Opening the crisis is its one event.
    assert_eq!(nothing.expect("span").ops, 1);
}

fn task(store: &mut Store, title: &str, request: &str, due: &str) -> String {
    let id = store
        .add_task(&TaskDraft {
            title: title.into(),
            description: String::new(),
            scope: "national".into(),
            country: "GT".into(),
            sector: "shelter".into(),
            priority: "high".into(),
            due: due.into(),
            requests: vec![request.into()],
            holder_person: String::new(),
            holder_org: "iom".into(),
        })
        .expect("task");
    store.task(id).expect("task").expect("held").reference
}

fn rfc3339(ms: u64) -> String {
    chrono::DateTime::from_timestamp_millis(ms as i64)
        .expect("time")
        .to_rfc3339()
}

#[test]
fn measures_on_a_scenario_with_known_answers() {
    let mut s = ready_store("regional-director", "GT");
    let crisis = s.current_crisis().expect("c").expect("open").id;
    // Everything happens at known moments (a day ahead, so the clock can be
    // moved to each one).
    let t0 = (now() + DAY) / HOUR * HOUR;
    s.advance_clock(t0);
    let r1 = s.add_request(&request("Albergue Uno", 100)).expect("r1");
    s.advance_clock(t0 + HOUR);
    // A built-in border crossing: the roster knows its admin area.
    let r2 = s.add_request(&request("Tecún Umán", 40)).expect("r2");
    let r3 = s
        .add_request(&RequestDraft {
            country: "HN".into(),
            sector: "wash".into(),
            priority: "low".into(),
            ..request("Corinto", 25)
        })
        .expect("r3");
    s.advance_clock(t0 + 2 * HOUR);
    let t1 = task(
        &mut s,
        "Colchonetas",
        &r1.reference,
        &rfc3339(t0 + 30 * DAY),
    );
    s.advance_clock(t0 + 3 * HOUR);
    s.hand_over_task(
        &t1,
        &HolderDraft {
            person: String::new(),
            org: "unhcr".into(),
        },
        "ACNUR tiene stock",
    )
    .expect("handover 1");
    s.advance_clock(t0 + 4 * HOUR);
    s.hand_over_task(
        &t1,
        &HolderDraft {
            person: String::new(),
            org: "iom".into(),
        },
        "De vuelta a OIM",
    )
    .expect("handover 2");
    s.advance_clock(t0 + 5 * HOUR);
    let _t2 = task(
        &mut s,
        "Kits de higiene",
        &r2.reference,
        &rfc3339(t0 + 6 * HOUR),
    );
    s.fulfil_request(
        &r1.reference,
        &FulfilmentDraft {
            item: None,
            what: "colchonetas".into(),
            quantity: Some(60.0),
            unit: "unidades".into(),
            by: "iom".into(),
            complete: false,
        },
    )
    .expect("fulfil");
    s.advance_clock(t0 + 8 * HOUR);
    s.set_request_status(&r1.reference, "fulfilled", "")
        .expect("fulfilled");

    let m = s.measures(crisis, t0 + 10 * HOUR).expect("measures");
    let group = |by: &str, group: &str| {
        m.response
            .iter()
            .find(|g| g.by == by && g.group == group)
            .unwrap_or_else(|| panic!("no group {by}/{group}: {:?}", m.response))
    };
    let all = group("all", "");
    assert_eq!(all.requests, 3);
    // R1 got a task after 2 h, R2 after 4 h; R3 none.
    assert_eq!(all.to_first_task.count, 2);
    assert_eq!(all.to_first_task.median_ms, Some((3 * HOUR) as f64));
    assert_eq!(all.to_first_task.p90_ms, Some((4 * HOUR) as f64));
    assert_eq!(all.to_first_fulfilment.median_ms, Some((5 * HOUR) as f64));
    assert_eq!(all.to_fulfilled.count, 1);
    assert_eq!(all.to_fulfilled.median_ms, Some((8 * HOUR) as f64));
    let hn = group("country", "HN");
    assert_eq!((hn.requests, hn.to_first_task.count), (1, 0));
    assert_eq!(hn.to_first_task.median_ms, None);
    assert_eq!(group("sector", "wash").requests, 1);
    assert_eq!(group("priority", "high").to_first_task.count, 2);
    // T2 was due 6 h in; at 10 h it is overdue. T1 is not.
    assert_eq!(
        m.overdue
            .iter()
            .map(|t| t.reference.as_str())
            .collect::<Vec<_>>(),
        vec![_t2.as_str()]
    );
    assert_eq!(m.handovers.tasks, 2);
    assert_eq!(m.handovers.handovers, 2);
    assert_eq!(m.handovers.max_per_task, 2);
    assert_eq!(m.handovers.distribution, vec![1, 0, 1]);
    assert_eq!(
        m.without_task
            .iter()
            .map(|r| r.reference.as_str())
            .collect::<Vec<_>>(),
        vec![r3.reference.as_str()]
    );

    // The timeline tells it in order, and its filters narrow it.
    let all_events = s.timeline(crisis, &TimelineFilter::default()).expect("tl");
    assert!(all_events
        .windows(2)
        .all(|w| w[0].made_at_ms <= w[1].made_at_ms));
    let t1_events = s
        .timeline(
            crisis,
            &TimelineFilter {
                record: Some(t1.clone()),
                ..Default::default()
            },
        )
        .expect("tl");
    let kinds: Vec<&str> = t1_events.iter().map(|e| e.kind.as_str()).collect();
    assert_eq!(kinds, ["task.create", "task.handover", "task.handover"]);
    assert!(
        t1_events[1].summary.contains("handed") && t1_events[1].summary.contains("unhcr"),
        "{}",
        t1_events[1].summary
    );
    let hn_events = s
        .timeline(
            crisis,
            &TimelineFilter {
                country: Some(relevo_core::domain::Country::Hn),
                ..Default::default()
            },
        )
        .expect("tl");
    assert_eq!(hn_events.len(), 1);
    assert_eq!(hn_events[0].record.as_deref(), Some(r3.reference.as_str()));
    let window = s
        .timeline(
            crisis,
            &TimelineFilter {
                from_ms: Some((t0 + 3 * HOUR) as i64),
                to_ms: Some((t0 + 4 * HOUR) as i64),
                ..Default::default()
            },
        )
        .expect("tl");
    assert_eq!(window.len(), 2, "{window:?}");

    // 5W. IOM holds both tasks, in shelter, in Guatemala; R2's site lies in
    // San Marcos, R1's is not on the roster. A third task for R1 adds a task,
    // not people; the cell ends when its last task is finished.
    s.advance_clock(t0 + 11 * HOUR);
    let t3 = task(&mut s, "Frazadas", &r1.reference, &rfc3339(t0 + 30 * DAY));
    s.set_task_status(&t1, "cancelled", "")
        .expect("t1 cancelled");
    let www = s.who_what_where(crisis).expect("5w");
    let cell = |adm1: Option<&str>| {
        www.iter()
            .find(|w| w.adm1.as_deref() == adm1)
            .unwrap_or_else(|| panic!("no cell for {adm1:?}: {www:?}"))
            .clone()
    };
    assert_eq!(www.len(), 2, "{www:?}");
    let unknown = cell(None);
    assert_eq!(
        (
            unknown.org.as_str(),
            unknown.tasks,
            unknown.open_tasks,
            unknown.requests
        ),
        ("iom", 2, 1, 1)
    );
    assert_eq!(
        (
            unknown.people.total,
            unknown.people.female,
            unknown.people.male
        ),
        (100, 25, 25)
    );
    assert_eq!(unknown.start_ms, Some(t0 + 2 * HOUR));
    assert_eq!(unknown.end_ms, None, "T3 is still open");
    let san_marcos = cell(Some("San Marcos"));
    assert_eq!(
        (
            san_marcos.tasks,
            san_marcos.requests,
            san_marcos.people.total
        ),
        (1, 1, 40)
    );
    assert_eq!(san_marcos.start_ms, Some(t0 + 5 * HOUR));
    s.advance_clock(t0 + 12 * HOUR);
    s.set_task_status(&t3, "cancelled", "")
        .expect("t3 cancelled");
    let unknown = s
        .who_what_where(crisis)
        .expect("5w")
        .into_iter()
        .find(|w| w.adm1.is_none())
        .expect("cell");
    assert_eq!(
        (unknown.open_tasks, unknown.end_ms),
        (0, Some(t0 + 12 * HOUR))
    );

    // The map's areas: per country and admin area, placed at the mean of
    // the area's sites (Tecún Umán and El Carmen in San Marcos).
    let areas = s.areas(crisis).expect("areas");
    let sm = areas
        .iter()
        .find(|a| a.adm1.as_deref() == Some("San Marcos"))
        .expect("San Marcos");
    assert_eq!((sm.requests, sm.people), (1, 40));
    let lat = sm.lat.expect("lat");
    assert!((lat - (14.68 + 14.96) / 2.0).abs() < 1e-9, "{lat}");
    let hn = areas
        .iter()
        .find(|a| a.country == relevo_core::domain::Country::Hn)
        .expect("HN");
    assert_eq!((hn.adm1.as_deref(), hn.requests), (Some("Cortés"), 1));
    let gt_unknown = areas
        .iter()
        .find(|a| a.country == relevo_core::domain::Country::Gt && a.adm1.is_none())
        .expect("GT, area unknown");
    assert_eq!((gt_unknown.lat, gt_unknown.people), (None, 100));
}
