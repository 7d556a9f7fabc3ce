//! The early warning on the real app against a real hub: a field
//! coordinator in Honduras logs a week of counts and a surge offline (from
//! the command line) and syncs; a national director in Guatemala joins from
//! the first-run screen, sees the alert banner after the first sync, checks
//! and changes the two preparation tasks in a preview, creates them and
//! acknowledges the alert.
//!
//! Ignored in a plain `cargo test`; `./dev test` runs it under Xvfb.

use relevo_e2e::{
    binary, enrolled_cli, free_port, invite, open_crisis, run, wait_gone, Device, Hub, Session,
};
use std::time::{Duration, Instant};

/// RFC 3339, `hours` before now.
fn hours_ago(hours: i64) -> String {
    (chrono::Utc::now() - chrono::Duration::hours(hours))
        .format("%Y-%m-%dT%H:%M:00Z")
        .to_string()
}

/// The alert banner's height on screen, in CSS pixels.
async fn banner_height(s: &Session) -> f64 {
    s.client()
        .execute(
            "return document.querySelector('#alert-banner').getBoundingClientRect().height",
            vec![],
        )
        .await
        .expect("height")
        .as_f64()
        .expect("a number")
}

#[tokio::test]
#[ignore = "needs Xvfb, tauri-driver, the built app and hub: run through ./dev test"]
async fn the_alert_banner_appears_after_sync_and_tasks_are_made_after_a_preview() {
    let dir = tempfile::tempdir().expect("tempdir");
    let db = dir.path().join("hub.db");
    let port = free_port();
    let url = format!("http://127.0.0.1:{port}");
    let cli = binary("relevo");
    let _hub = Hub::start(&db, port);

    let director = enrolled_cli(
        dir.path(),
        &db,
        &url,
        "Rosa Pérez",
        "regional-director",
        "PA",
    );
    let director = director.as_str();
    open_crisis(director, "Corredor norte", "HN,GT,MX");

    // At the border post in Honduras, offline: a week, then the surge.
    let field = enrolled_cli(
        dir.path(),
        &db,
        &url,
        "Luis Mejía",
        "field-coordinator",
        "HN",
    );
    let field = field.as_str();
    run(&cli, &["--data-dir", field, "sync"]);
    let count = |end: i64, people: &str| {
        let (start, end) = (hours_ago(end + 4), hours_ago(end));
        run(
            &cli,
            &[
                "--data-dir",
                field,
                "flow",
                "add",
                "--point",
                "hn-agua-caliente",
                "--start",
                &start,
                "--end",
                &end,
                "--direction",
                "leaving",
                "--people",
                people,
                "--from",
                "HN",
                "--to",
                "GT",
                "--vulnerable",
                "uasc=9",
            ],
        )
    };
    for day in 1..=6 {
        count(day * 24 + 1, "110");
    }
    let out = count(1, "640");
    assert!(out.contains("SURGE"), "{out}");
    run(&cli, &["--data-dir", field, "sync"]);

    // The Guatemalan director joins; the first sync brings the alert.
    let code = invite(&db, "Julio Ramírez", "national-director", "GT", "");
    let device = Device::new();
    let s = device.launch_with_locale("es_GT.UTF-8").await;
    s.wait_for("#setup-title").await;
    s.click("#setup-join").await;
    s.type_into("#enrol-url", &url).await;
    s.type_into("#enrol-code", &code).await;
    s.click("#enrol-submit").await;
    s.wait_for_text("#who", "Julio Ramírez").await;
    let banner = s.wait_for_text("#alert-banner", "Agua Caliente").await;
    assert!(banner.contains("640"), "{banner}");
    // Spanish, with the Guatemalan side's arrival window.
    assert!(
        banner.contains("Se esperan en Agua Caliente (Guatemala)"),
        "{banner}"
    );
    assert!(banner.contains("no acompañados"), "{banner}");
    // The window on the site's clock, named; and whose acknowledgement is
    // still missing, the director's own marked.
    assert!(banner.contains("hora de Guatemala"), "{banner}");
    assert!(banner.contains("Falta el acuse de recibo de:"), "{banner}");
    assert!(banner.contains("Guatemala (usted)"), "{banner}");
    s.screenshot("alert-banner").await;

    // The banner folds to one line and back.
    let open = banner_height(&s).await;
    s.click("#alert-fold").await;
    s.wait_for("#alert-unfold").await;
    let folded = banner_height(&s).await;
    assert!(
        folded < 50.0 && folded < open / 2.0,
        "folded {folded} px, open {open} px"
    );
    s.click("#alert-unfold").await;
    s.wait_for("#alert-fold").await;

    // Alert → tasks opens a preview: nothing is signed until the director
    // has looked at the tasks and changed what they want.
    s.click("#alert-banner button.tasks").await;
    let preview = s
        .wait_for_text("#alert-tasks-dialog", "hora de Guatemala")
        .await;
    assert!(preview.contains("Agua Caliente (Guatemala)"), "{preview}");
    assert_eq!(s.count("#alert-tasks-dialog .proposed-task").await, 2);
    let title = s.wait_for("#alert-task-0-title").await;
    let proposed = title
        .prop("value")
        .await
        .expect("title")
        .unwrap_or_default();
    assert!(
        proposed.starts_with("Preparar albergue en Agua Caliente"),
        "{proposed}"
    );
    s.type_into("#alert-task-0-title", &format!("{proposed} (bodega 2)"))
        .await;
    s.screenshot("alert-tasks-preview").await;
    // Nothing signed yet: the banner still offers the tasks.
    assert_eq!(s.count("#alert-banner button.tasks").await, 1);
    s.click("#alert-tasks-create").await;
    wait_gone(&s, "#alert-tasks-dialog[open]", Duration::from_secs(10)).await;
    wait_gone(&s, "#alert-banner button.tasks", Duration::from_secs(10)).await;
    s.click("#nav-board").await;
    s.wait_for("#board .task-card").await;
    s.screenshot("e2e-alert-tasks-board").await;
    s.wait_for_text("#board", "(bodega 2)").await;
    let board = s.text("#board").await;
    assert!(
        board.contains("Preposicionar personal de salud en Agua Caliente"),
        "{board}"
    );
    // Due when people are expected, or as soon as possible: never overdue
    // the moment they exist.
    assert_eq!(
        s.count(".task-card .due.overdue").await,
        0,
        "a task made from the alert is already overdue: {board}"
    );

    // Acknowledged: the banner goes.
    s.click("#alert-banner button.ack").await;
    wait_gone(&s, "#alert-banner", Duration::from_secs(10)).await;

    // The movement view: the alert, acknowledged, and the corridor.
    s.click("#nav-movement").await;
    s.wait_for("#corridor-map circle.point").await;
    let alerts = s.wait_for_text("#alert-list", "Guatemala").await;
    assert!(alerts.contains("Julio Ramírez"), "{alerts}");
    assert_eq!(
        s.count("#alert-list button.tasks").await,
        0,
        "already prepared"
    );
    assert!(
        s.count("#corridor-map circle.surge").await >= 1,
        "the surging point is marked"
    );
    s.screenshot("movement").await;

    // The regional director sees all of it after a sync.
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        run(&cli, &["--data-dir", director, "sync"]);
        let list = run(&cli, &["--data-dir", director, "alerts", "list"]);
        if list.contains("acknowledged for GT by Julio Ramírez")
            && list.matches("    task ").count() == 2
        {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "the director never saw the work: {list}"
        );
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
    s.quit().await;
}

#[tokio::test]
#[ignore = "needs Xvfb, tauri-driver and the built app: run through ./dev test"]
async fn a_regional_director_sees_the_demo_surge_and_changes_the_corridor() {
    let device = Device::new();
    let s = device.launch().await;
    s.type_into("#setup-org", "OIM").await;
    s.type_into("#setup-name", "Marta Solís").await;
    s.choose("#setup-role", "regional-director").await;
    s.choose("#setup-country", "PA").await;
    s.click("#setup-submit").await;
    // The demo's surge at Agua Caliente (HN) awaits the region.
    let banner = s.wait_for_text("#alert-banner", "Agua Caliente").await;
    // The demo's window may have begun or ended: either way it reads on
    // the Guatemalan side's clock, named.
    assert!(banner.contains("Guatemala time"), "{banner}");

    s.click("#nav-movement").await;
    s.wait_for("#corridor-map circle.surge").await;
    assert!(
        s.count("#corridor-table tbody tr").await >= 10,
        "the demo's points"
    );
    s.click("#corridor-editor summary").await;
    s.type_into("#rule-factor", "3").await;
    // A leg back south would make a circle: refused, nothing saved.
    s.choose("#leg-from", "mx-ciudad-hidalgo").await;
    s.choose("#leg-to", "gt-tecun-uman").await;
    s.click("#leg-add").await;
    s.click("#corridor-save").await;
    let error = s
        .wait_for_text("#corridor-editor", "comes back to where it started")
        .await;
    assert!(!error.contains("Saved:"), "{error}");
    let rule = s.text("#corridor-rule").await;
    assert!(rule.contains("over 2×"), "unchanged: {rule}");
    // Without it, the stricter rule is saved and shown.
    s.click("#corridor-legs tbody tr:last-child button").await;
    s.click("#corridor-save").await;
    s.wait_for_text("#corridor-rule", "over 3×").await;
    s.wait_for("#corridor-saved").await;
    s.screenshot("corridor-editor").await;
    s.quit().await;
}
