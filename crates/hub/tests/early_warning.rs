//! The early-warning story with a real `relevo-hub` on loopback: a field
//! coordinator in Honduras logs a surge while offline; after both sync, a
//! national director in Guatemala sees the alert for the Guatemalan points
//! with its arrival window, acknowledges it and makes two tasks from it; the
//! regional director sees all of it, and every replica agrees.

mod common;

use common::*;
use relevo_core::domain::{Country, FlowDraft, VulnerableDraft};
use relevo_store::Store;

const HOUR: i64 = 3_600_000;
const DAY: i64 = 24 * HOUR;

fn rfc(ms: i64) -> String {
    relevo_core::domain::time::rfc3339(ms)
}

fn count(end: i64, total: u32) -> FlowDraft {
    FlowDraft {
        point: "hn-agua-caliente".into(),
        start: rfc(end - 2 * HOUR),
        end: rfc(end),
        direction: "leaving".into(),
        from_country: "HN".into(),
        to_country: "GT".into(),
        total: Some(f64::from(total)),
        vulnerable: vec![VulnerableDraft {
            group: "uasc".into(),
            count: Some(f64::from(total / 25)),
        }],
        transport: "foot".into(),
        ..FlowDraft::default()
    }
}

fn current(store: &mut Store) {
    let crisis = store.crises().expect("crises")[0].id;
    store.set_current_crisis(crisis).expect("current");
}

#[test]
fn a_surge_in_honduras_warns_guatemala_which_acknowledges_and_prepares() {
    let dir = tempfile::tempdir().expect("tempdir");
    let hub = HubProcess::start(dir.path());
    let mut field = enrolled(dir.path(), "Ana López", &hub, "field-coordinator", "HN");
    let mut gt = enrolled(dir.path(), "Julio Ramírez", &hub, "national-director", "GT");
    let mut regional = enrolled(dir.path(), "Rosa Pérez", &hub, "regional-director", "PA");
    regional.open_crisis(&crisis()).expect("crisis");
    sync(&mut regional);
    for s in [&mut field, &mut gt] {
        sync(s);
        current(s);
    }

    // Offline at the border post: a week of ordinary days, then the surge.
    let end = (std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .expect("clock")
        .as_millis() as i64
        - HOUR)
        / 1000
        * 1000;
    for d in (1..=7).rev() {
        let logged = field.log_flow(&count(end - d * DAY, 120)).expect("count");
        assert!(logged.alert.is_none());
    }
    let alert = field
        .log_flow(&count(end, 900))
        .expect("surge")
        .alert
        .expect("the surge raised an alert on the field device");
    assert!(
        gt.alerts_awaiting_me().expect("alerts").is_empty(),
        "not synced yet"
    );

    // Connectivity returns.
    sync(&mut field);
    sync(&mut gt);
    let waiting = gt.alerts_awaiting_me().expect("alerts");
    assert_eq!(waiting.len(), 1, "the GT director sees the alert");
    let seen = &waiting[0];
    assert_eq!(seen.reference, alert.reference);
    assert_eq!(seen.surge.people, 900);
    assert_eq!(seen.vulnerable[0].count, 36);
    let gt_side = seen
        .arrivals
        .iter()
        .find(|a| a.arrival.country == Country::Gt)
        .expect("a Guatemalan point");
    assert_eq!(gt_side.arrival.point, "gt-agua-caliente");
    assert_eq!(
        (gt_side.arrival.earliest_ms, gt_side.arrival.latest_ms),
        (
            end + (0.25 * 0.75 * DAY as f64) as i64,
            end + (0.25 * 1.5 * DAY as f64) as i64
        )
    );

    // Acknowledged for Guatemala, and two tasks in one step.
    let acked = gt
        .acknowledge_alert(&seen.reference, "Albergue de Esquipulas avisado")
        .expect("ack");
    assert_eq!(acked.acks[0].country, Some(Country::Gt));
    let tasks = gt
        .tasks_from_alert(&seen.reference, None, "es")
        .expect("tasks");
    assert_eq!(tasks.len(), 2);
    assert!(gt.alerts_awaiting_me().expect("alerts").is_empty());
    // The field coordinator may not acknowledge for Honduras.
    let e = field
        .acknowledge_alert(&alert.reference, "")
        .expect_err("field coordinators do not acknowledge");
    assert!(e.to_string().contains("acknowledge an alert"), "{e}");
    sync(&mut gt);

    // The regional director sees all of it.
    sync(&mut regional);
    let crisis = regional.current_crisis().expect("c").expect("open").id;
    let all = regional.alerts(crisis, None).expect("alerts");
    assert_eq!(all.len(), 1);
    let a = &all[0];
    assert_eq!(a.acks.len(), 1);
    assert_eq!(a.acks[0].by.as_deref(), Some("Julio Ramírez"));
    assert_eq!(a.tasks.len(), 2);
    assert!(a.tasks.iter().all(|t| t.scope == "GT"), "{:?}", a.tasks);
    assert!(a.awaiting_me, "not yet acknowledged for the region");
    for id in &tasks {
        let t = regional.task(*id).expect("task").expect("synced");
        assert!(t.title.starts_with("Preparar albergue") || t.title.starts_with("Preposicionar"));
    }
    assert_eq!(
        regional
            .flows(crisis, &relevo_store::FlowFilter::default())
            .expect("flows")
            .len(),
        8
    );

    // Every replica holds the same record.
    sync(&mut field);
    let d = digest(&regional);
    assert_eq!(digest(&gt), d);
    assert_eq!(digest(&field), d);
    let log = hub.log_text();
    // The hub refused nothing: every op was within its author's grant.
    assert!(
        log.lines()
            .filter_map(|l| l.split("refused=").nth(1))
            .all(|r| r.starts_with("0 ")),
        "{log}"
    );
    assert!(log.contains("refused=0"), "the hub logs its pages: {log}");
}
