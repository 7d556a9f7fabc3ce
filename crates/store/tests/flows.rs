//! Flow counts, the surge rule on a real store, alerts with arrival
//! windows, acknowledgement, tasks from an alert, the corridor and its
//! picture.

mod common;

use common::*;
use relevo_core::domain::{
    Corridor, Country, FlowDraft, NationalityDraft, Segment, SurgeRule, VulnerableDraft,
};
use relevo_store::{Error, FlowFilter, Store};

const HOUR: i64 = 3_600_000;
const DAY: i64 = 24 * HOUR;

fn now() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .expect("clock")
        .as_millis() as i64
}

/// An hour ago, to the second (counts are typed to the second).
fn hour_ago() -> i64 {
    (now() - HOUR) / 1000 * 1000
}

fn rfc(ms: i64) -> String {
    relevo_core::domain::time::rfc3339(ms)
}

/// A count of `total` people leaving Honduras at Agua Caliente in the hour
/// before `end`.
fn count(point: &str, end: i64, total: u32) -> FlowDraft {
    FlowDraft {
        point: point.into(),
        start: rfc(end - HOUR),
        end: rfc(end),
        direction: "leaving".into(),
        from_country: "HN".into(),
        to_country: "GT".into(),
        total: Some(f64::from(total)),
        women: Some(f64::from(total / 4)),
        men: Some(f64::from(total / 4)),
        girls: Some(f64::from(total / 8)),
        boys: Some(f64::from(total / 8)),
        nationalities: vec![NationalityDraft {
            code: "VE".into(),
            count: Some(f64::from(total / 2)),
        }],
        vulnerable: vec![VulnerableDraft {
            group: "uasc".into(),
            count: Some(f64::from(total / 20)),
        }],
        destination: "US".into(),
        transport: "foot".into(),
        remarks: String::new(),
    }
}

/// A week of about 100 people a day at the point, the last count ending
/// `days_ago` days before the current hour.
fn quiet_week(s: &mut Store, point: &str, end: i64) {
    for d in (1..=7).rev() {
        let logged = s
            .log_flow(&count(point, end - d * DAY, 90 + (d as u32 * 3)))
            .expect("count");
        assert!(logged.alert.is_none(), "a quiet day raised an alert");
    }
}

/// A quiet week at Agua Caliente (HN), then 450 people ending at `end`:
/// the alert that raises.
fn surge_at_agua_caliente(s: &mut Store, end: i64) -> relevo_store::AlertView {
    quiet_week(s, "hn-agua-caliente", end);
    s.log_flow(&count("hn-agua-caliente", end, 450))
        .expect("surge")
        .alert
        .expect("alert")
}

#[test]
fn a_surge_raises_one_alert_with_arrival_windows_downstream() {
    let mut s = ready_store("regional-director", "PA");
    let end = hour_ago();
    quiet_week(&mut s, "hn-agua-caliente", end);
    // Today: 450 people, over twice the week's mean of 102.
    let logged = s
        .log_flow(&count("hn-agua-caliente", end, 450))
        .expect("surge");
    let alert = logged.alert.expect("the surge raised an alert");
    assert!(alert.reference.starts_with("ALR-"), "{}", alert.reference);
    assert_eq!(alert.surge.people, 450);
    assert_eq!(alert.surge.by, "factor");
    let baseline = alert.surge.baseline.expect("baseline");
    assert!((baseline - 102.0).abs() < 1e-9, "{baseline}");
    // The unaccompanied children counted in those 24 hours.
    assert_eq!(alert.vulnerable.len(), 1);
    assert_eq!(alert.vulnerable[0].count, 22);
    // Downstream: the Guatemalan side in a quarter day, Tecún Umán later,
    // Mexico after that.
    assert_eq!(alert.arrivals[0].arrival.point, "gt-agua-caliente");
    assert_eq!(
        alert.arrivals[0].arrival.earliest_ms,
        end + (0.25 * 0.75 * DAY as f64) as i64
    );
    let tecun = alert
        .arrivals
        .iter()
        .find(|a| a.arrival.point == "gt-tecun-uman")
        .expect("Tecún Umán");
    assert_eq!(
        tecun.arrival.earliest_ms,
        end + (1.75 * 0.75 * DAY as f64) as i64
    );
    assert_eq!(
        tecun.arrival.latest_ms,
        end + (1.75 * 1.5 * DAY as f64) as i64
    );
    assert_eq!(alert.concerns, vec![Country::Hn, Country::Gt, Country::Mx]);
    assert!(alert.awaiting_me);

    // Another count the same day adds to the surge but raises no second alert.
    let again = s
        .log_flow(&count("hn-agua-caliente", end - HOUR, 200))
        .expect("count");
    assert!(again.alert.is_none());
    let crisis = s.current_crisis().expect("c").expect("open").id;
    assert_eq!(s.alerts(crisis, None).expect("alerts").len(), 1);
    assert_eq!(s.alerts(crisis, Some(Country::Gt)).expect("gt").len(), 1);
    assert!(s.alerts(crisis, Some(Country::Cr)).expect("cr").is_empty());

    // Counts list newest first, filtered by point.
    let flows = s
        .flows(
            crisis,
            &FlowFilter {
                point: Some("hn-agua-caliente".into()),
                ..Default::default()
            },
        )
        .expect("flows");
    assert_eq!(flows.len(), 9);
    assert_eq!(flows[0].count.people.total, 450);
    assert_eq!(flows[0].point_name, "Agua Caliente");
}

#[test]
fn a_gradual_rise_raises_no_alert() {
    let mut s = ready_store("regional-director", "PA");
    let end = hour_ago();
    let mut n = 100.0f64;
    for d in (0..=14).rev() {
        let logged = s
            .log_flow(&count("gt-tecun-uman", end - d * DAY, n.round() as u32))
            .expect("count");
        assert!(logged.alert.is_none(), "day -{d}: {n} raised an alert");
        n *= 1.1;
    }
}

#[test]
fn acknowledging_and_turning_an_alert_into_tasks() {
    let mut s = ready_store("regional-director", "PA");
    let end = hour_ago();
    let alert = surge_at_agua_caliente(&mut s, end);
    // Acknowledged two hours after it was raised; tasks five hours after.
    s.advance_clock(alert.raised_at_ms + 2 * HOUR as u64);
    let acked = s
        .acknowledge_alert(&alert.reference, "Albergues avisados")
        .expect("ack");
    assert_eq!(acked.acks.len(), 1);
    assert_eq!(acked.acks[0].country, None, "a regional acknowledgement");
    assert!(!acked.awaiting_me);
    // Again: nothing new.
    let ops = s.op_count().expect("ops");
    s.acknowledge_alert(&alert.reference, "").expect("again");
    assert_eq!(s.op_count().expect("ops"), ops);

    // One step: two tasks in Guatemala, due when the first people are
    // expected at the Guatemalan side of Agua Caliente.
    s.advance_clock(alert.raised_at_ms + 5 * HOUR as u64);
    let tasks = s
        .tasks_from_alert(&alert.reference, Some(Country::Gt), "es")
        .expect("tasks");
    assert_eq!(tasks.len(), 2);
    let view = s.alert_view(alert.id).expect("view").expect("alert");
    assert_eq!(view.tasks.len(), 2);
    for id in &tasks {
        let t = s.task(*id).expect("task").expect("held");
        assert_eq!(
            t.scope,
            relevo_core::domain::TaskScope::National(Country::Gt)
        );
        assert!(t.title.contains("Agua Caliente"), "{}", t.title);
        // Due when the first people are expected, to the minute (the due
        // time is written on the site's clock, to the minute).
        let earliest = view.arrivals[0].arrival.earliest_ms;
        let due = t.due_ms.expect("a due time");
        assert!(
            due <= earliest && due > earliest - 60_000,
            "due {due}, window from {earliest}"
        );
    }
    let sectors: Vec<_> = tasks
        .iter()
        .map(|id| s.task(*id).expect("t").expect("t").sector.slug())
        .collect();
    assert_eq!(sectors, ["shelter", "health"]);
    // The review's measures of it.
    let crisis = s.current_crisis().expect("c").expect("open").id;
    let m = s
        .measures(crisis, alert.raised_at_ms)
        .expect("measures")
        .alerts;
    assert_eq!((m.raised, m.acknowledged, m.with_tasks), (1, 1, 1));
    assert_eq!(m.to_first_ack.median_ms, Some((2 * HOUR) as f64));
    assert_eq!(m.to_first_task.median_ms, Some((5 * HOUR) as f64));
    // The timeline tells it, the alert marked significant.
    let events = s
        .timeline(crisis, &relevo_store::TimelineFilter::default())
        .expect("timeline");
    let raised = events
        .iter()
        .find(|e| e.kind == "alert.raise")
        .expect("the alert is in the timeline");
    assert!(raised.significant);
    assert!(
        raised.summary.contains("450 people at hn-agua-caliente"),
        "{}",
        raised.summary
    );
    assert_eq!(events.iter().filter(|e| e.kind == "flow.count").count(), 8);
    assert_eq!(events.iter().filter(|e| e.kind == "alert.ack").count(), 1);
    // A country the alert does not reach has nothing to prepare.
    let e = s
        .tasks_from_alert(&alert.reference, Some(Country::Cr), "es")
        .expect_err("not downstream");
    assert!(e.to_string().contains("expects nobody"), "{e}");
}

#[test]
fn bad_counts_are_refused_and_nothing_is_written() {
    let mut s = ready_store("field-coordinator", "HN");
    let before = s.op_count().expect("ops");
    let end = hour_ago();
    let mut unknown = count("hn-nowhere", end, 10);
    unknown.women = Some(50.0);
    let Error::Validation(e) = s.log_flow(&unknown).expect_err("unknown point") else {
        panic!("a validation error")
    };
    assert!(e.iter().any(|e| e.message.contains("hn-nowhere")), "{e:?}");
    assert!(e.iter().any(|e| e.field == "people"), "{e:?}");
    let mut future = count("hn-agua-caliente", now() + 3 * HOUR, 10);
    future.start = rfc(now() + HOUR);
    let e = s.log_flow(&future).expect_err("future");
    assert!(e.to_string().contains("in the future"), "{e}");
    let mut negative = count("hn-agua-caliente", end, 10);
    negative.total = Some(-5.0);
    assert!(s.log_flow(&negative).is_err());
    // A field coordinator in HN cannot log at a Guatemalan point.
    let e = s
        .log_flow(&count("gt-agua-caliente", end, 10))
        .expect_err("other country");
    assert!(matches!(e, Error::Forbidden(_)), "{e}");
    assert_eq!(s.op_count().expect("ops"), before);
}

#[test]
fn the_corridor_can_be_changed_by_a_regional_director_but_not_into_a_circle() {
    let mut s = ready_store("regional-director", "PA");
    let mut c = s.corridor().expect("default");
    let before = s.op_count().expect("ops");
    c.segments.push(Segment {
        from: "mx-ciudad-hidalgo".into(),
        to: "gt-tecun-uman".into(),
        days: 0.5,
    });
    let Error::Validation(e) = s.set_corridor(&c).expect_err("cycle") else {
        panic!("a validation error")
    };
    assert!(
        e[0].message
            .contains("gt-tecun-uman → mx-ciudad-hidalgo → gt-tecun-uman"),
        "{}",
        e[0].message
    );
    let unknown = Corridor {
        segments: vec![Segment {
            from: "gt-tecun-uman".into(),
            to: "mx-tapachula".into(),
            days: 1.0,
        }],
        rule: SurgeRule::default(),
    };
    assert!(s.set_corridor(&unknown).is_err());
    assert_eq!(s.op_count().expect("ops"), before, "nothing written");

    // A corridor of two legs and a stricter rule.
    let short = Corridor {
        segments: vec![
            Segment {
                from: "hn-agua-caliente".into(),
                to: "gt-agua-caliente".into(),
                days: 0.5,
            },
            Segment {
                from: "gt-agua-caliente".into(),
                to: "gt-tecun-uman".into(),
                days: 2.0,
            },
        ],
        rule: SurgeRule {
            factor: 3.0,
            absolute: 5000,
            baseline_days: 7,
            min_people: 10,
        },
    };
    s.set_corridor(&short).expect("set");
    assert_eq!(s.corridor().expect("corridor"), short);
    let end = hour_ago();
    quiet_week(&mut s, "hn-agua-caliente", end);
    // 250 is over twice the baseline but not three times: no alert now.
    let logged = s
        .log_flow(&count("hn-agua-caliente", end, 250))
        .expect("count");
    assert!(logged.alert.is_none());
    let alert = s
        .log_flow(&count("hn-agua-caliente", end, 100))
        .expect("count")
        .alert
        .expect("350 in a day is over three times");
    let points: Vec<&str> = alert
        .arrivals
        .iter()
        .map(|a| a.arrival.point.as_str())
        .collect();
    assert_eq!(points, ["gt-agua-caliente", "gt-tecun-uman"]);

    // Only a regional director may change it.
    let mut fc = ready_store("national-director", "GT");
    let e = fc.set_corridor(&short).expect_err("not regional");
    assert!(matches!(e, Error::Forbidden(_)), "{e}");
}

#[test]
fn the_corridor_picture_adds_up() {
    let mut s = ready_store("regional-director", "PA");
    let crisis = s.current_crisis().expect("c").expect("open").id;
    let at = hour_ago();
    // Las Manos (HN): 100 a day for the 7 days before, 300 in the last day.
    for d in 1..=7 {
        s.log_flow(&count("hn-las-manos", at - d * DAY - HOUR, 100))
            .expect("count");
    }
    s.log_flow(&count("hn-las-manos", at - HOUR, 300))
        .expect("count");
    let picture = s.corridor_picture(crisis, at as u64).expect("picture");
    let manos = picture
        .points
        .iter()
        .find(|p| p.point == "hn-las-manos")
        .expect("Las Manos");
    assert_eq!(manos.last_day, 300);
    // The last week: the last day and the 6 days before it.
    assert_eq!(manos.last_week, 300 + 6 * 100);
    assert_eq!(manos.daily_before, Some(100.0));
    assert_eq!(manos.trend, Some(3.0));
    assert!(manos.lat.is_some());
    // Three legs leave Las Manos: each carries a third.
    let legs: Vec<_> = picture
        .segments
        .iter()
        .filter(|g| g.from == "hn-las-manos")
        .collect();
    assert_eq!(legs.len(), 3);
    assert!(legs.iter().all(|g| (g.last_day - 100.0).abs() < 1e-9));
    // A point nobody counted at shows zero, not nothing.
    let quiet = picture
        .points
        .iter()
        .find(|p| p.point == "cr-penas-blancas")
        .expect("on the corridor");
    assert_eq!((quiet.last_day, quiet.trend), (0, None));
}

#[test]
fn the_demo_has_a_week_of_counts_and_a_surge_that_raised_an_alert() {
    let mut s = ready_store("regional-director", "PA");
    let demo = s.load_demo().expect("demo");
    let flows = s
        .flows(
            demo.id,
            &FlowFilter {
                limit: Some(10_000),
                ..Default::default()
            },
        )
        .expect("flows");
    assert_eq!(
        flows.len(),
        11 * 14,
        "eleven points, two counts a day for a week"
    );
    let first = flows.iter().map(|f| f.count.start_ms).min().expect("first");
    let last = flows.iter().map(|f| f.count.end_ms).max().expect("last");
    assert_eq!(last - first, 7 * DAY);
    let alerts = s.alerts(demo.id, None).expect("alerts");
    assert_eq!(alerts.len(), 1, "{alerts:?}");
    let a = &alerts[0];
    assert_eq!(a.point, "hn-agua-caliente");
    assert_eq!(a.acks.len(), 1);
    assert_eq!(a.acks[0].country, Some(Country::Gt));
    assert!(a.awaiting_me, "the region has not acknowledged it");
    // The alert is what the store's own rule finds at that count.
    let corridor = s.corridor().expect("corridor");
    let (surge, _) = s
        .surge_at(demo.id, &a.point, a.direction, a.window_end_ms, &corridor)
        .expect("surge")
        .expect("the store agrees it is a surge");
    assert_eq!(surge, a.surge);
    // Every demo op verifies.
    assert!(s.verify().expect("verify").intact());
}

#[test]
fn the_surge_history_finds_the_days_the_rule_fired() {
    let mut s = ready_store("regional-director", "PA");
    let crisis = s.current_crisis().expect("c").expect("open").id;
    // Noon (UTC) on each of 20 days ending two days ago: 100 a day, then
    // 300 on day 10 and 90 again, and a gradual rise at another point.
    let noon = (now() / DAY - 2) * DAY + 12 * HOUR;
    for d in 0..20 {
        let at = noon - (19 - d) * DAY;
        let n = if d == 10 { 300 } else { 100 };
        s.log_flow(&count("hn-las-manos", at, n)).expect("count");
        let rising = (100.0 * 1.08f64.powi(d as i32)).round() as u32;
        s.log_flow(&count("gt-tecun-uman", at, rising))
            .expect("count");
    }
    let corridor = s.corridor().expect("corridor");
    let days = s.surge_history(crisis, &corridor).expect("history");
    assert_eq!(days.len(), 1, "{days:?}");
    assert_eq!(days[0].point, "hn-las-manos");
    assert_eq!(days[0].day_end_ms, (noon - 9 * DAY) / DAY * DAY + DAY);
    assert_eq!(days[0].surge.people, 300);
    // The live rule raised the same alert when the count was logged.
    assert_eq!(s.alerts(crisis, None).expect("alerts").len(), 1);
}

#[test]
fn an_administrator_adds_a_monitoring_point_that_counts_can_name() {
    use relevo_core::domain::SiteDraft;
    let mut admin = ready_store("administrator", "GT");
    let draft = SiteDraft {
        id: "gt-casa-migrante-tecun".into(),
        name: "Casa del Migrante Tecún Umán".into(),
        kind: "shelter".into(),
        country: "GT".into(),
        adm1: "San Marcos".into(),
        pcode: "GT12".into(),
        lat: Some(14.68),
        lon: Some(-92.14),
    };
    let before = admin.op_count().expect("ops");
    let bad = SiteDraft {
        lat: Some(95.0),
        lon: None,
        id: "Casa!".into(),
        ..draft.clone()
    };
    let Error::Validation(e) = admin.add_site(&bad).expect_err("bad") else {
        panic!("a validation error")
    };
    let fields: Vec<&str> = e.iter().map(|e| e.field.as_str()).collect();
    assert_eq!(fields, ["id", "lat"], "{e:?}");
    assert_eq!(admin.op_count().expect("ops"), before, "nothing written");
    admin.add_site(&draft).expect("site");
    let points = admin.sites().expect("points");
    let site = points
        .iter()
        .find(|s| s.id == "gt-casa-migrante-tecun")
        .expect("on the roster");
    assert_eq!(site.pcode.as_deref(), Some("GT12"));
    // Correcting a built-in crossing: its P-code, same id.
    admin
        .add_site(&SiteDraft {
            id: "gt-tecun-uman".into(),
            name: "Tecún Umán".into(),
            kind: "border-crossing".into(),
            country: "GT".into(),
            adm1: "San Marcos".into(),
            pcode: "GT12".into(),
            lat: Some(14.68),
            lon: Some(-92.14),
        })
        .expect("correct");
    let points = admin.sites().expect("points");
    assert_eq!(points.iter().filter(|s| s.id == "gt-tecun-uman").count(), 1);
    assert_eq!(
        points
            .iter()
            .find(|s| s.id == "gt-tecun-uman")
            .and_then(|s| s.pcode.clone()),
        Some("GT12".into())
    );
    // Only administrators manage the roster.
    let mut fc = ready_store("field-coordinator", "GT");
    assert!(matches!(fc.add_site(&draft), Err(Error::Forbidden(_))));
}

/// The tasks an alert suggests are proposed first, unsigned; a window that
/// has already begun (or ended) makes them due as soon as possible, a short
/// grace from now, and their text says so; the director's changes are what
/// gets signed, all or none.
#[test]
fn alert_tasks_are_proposed_first_and_never_overdue_at_birth() {
    for (ended_ago, passed) in [(6 * HOUR, false), (30 * HOUR, true)] {
        let mut s = ready_store("regional-director", "PA");
        let end = (now() - ended_ago) / 1000 * 1000;
        let alert = surge_at_agua_caliente(&mut s, end);
        let ops = s.op_count().expect("ops");
        let before = now();
        let p = s
            .propose_alert_tasks(&alert.reference, None, "es")
            .expect("proposal");
        assert_eq!(s.op_count().expect("ops"), ops, "a proposal signs nothing");
        assert_eq!(p.country, Country::Gt);
        assert_eq!(p.site, "Agua Caliente");
        assert!(
            p.asap,
            "the window began {} h ago",
            (before - p.window_from_ms as i64) / HOUR
        );
        assert_eq!(p.passed, passed);
        let grace = relevo_store::ASAP_GRACE_MS;
        assert!(
            p.due_ms as i64 >= before + grace - 1000 && p.due_ms as i64 <= now() + grace,
            "due {} is not a grace period from now",
            p.due_ms
        );
        assert_eq!(p.drafts.len(), 2);
        let said = if passed { "ya terminó" } else { "ya empezó" };
        for d in &p.drafts {
            assert!(
                d.description.contains("Lo antes posible"),
                "{}",
                d.description
            );
            assert!(d.description.contains(said), "{}", d.description);
            assert!(
                d.description.contains("(UTC-6)"),
                "the zone is named: {}",
                d.description
            );
        }

        // One bad draft: nothing is signed, and the error names its place.
        let mut drafts = p.drafts.clone();
        drafts[0].title.push_str(" (bodega 2)");
        drafts[1].title = "  ".into();
        let Error::Validation(errors) = s
            .create_alert_tasks(&alert.reference, &drafts)
            .expect_err("an empty title")
        else {
            panic!("a validation error")
        };
        assert!(errors.iter().any(|e| e.field == "1.title"), "{errors:?}");
        assert_eq!(s.op_count().expect("ops"), ops, "all or none");

        // Only the first, as changed: signed, linked, not overdue.
        let made = s
            .create_alert_tasks(&alert.reference, &drafts[..1])
            .expect("tasks");
        assert_eq!(made.len(), 1);
        let t = s.task(made[0]).expect("task").expect("held");
        assert!(t.title.ends_with("(bodega 2)"), "{}", t.title);
        assert!(t.due_ms.expect("due") > now(), "overdue at birth");
        let view = s.alert_view(alert.id).expect("view").expect("alert");
        assert_eq!(view.tasks.len(), 1);
    }
}

#[test]
fn a_field_coordinator_gets_no_proposal() {
    let mut s = ready_store("field-coordinator", "HN");
    let end = hour_ago();
    let alert = surge_at_agua_caliente(&mut s, end);
    let e = s
        .propose_alert_tasks(&alert.reference, None, "en")
        .expect_err("no tasks for a field coordinator");
    assert!(matches!(e, Error::Forbidden(_)), "{e}");
}
