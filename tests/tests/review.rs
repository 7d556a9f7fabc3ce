//! Review on the real app: a reviewer opens the demo crisis, moves the as-of
//! slider from the keyboard and sees the board change, looks at the
//! measures, the map and the timeline, exports the after-action report and
//! verifies the record; an export to a folder that does not exist is refused
//! with a message.
//!
//! Ignored in a plain `cargo test`; `./dev test` runs it under Xvfb.

use fantoccini::key::Key;
use relevo_core::domain::IdentityDraft;
use relevo_e2e::{open_store, Device, Session};
use std::time::{Duration, Instant};

async fn attr_number(s: &Session, css: &str, attr: &str) -> u64 {
    s.wait_for(css)
        .await
        .attr(attr)
        .await
        .expect("attribute")
        .unwrap_or_else(|| panic!("{css} has no {attr}"))
        .parse()
        .expect("a number")
}

/// Waits until `css`'s `attr` satisfies `ok`, returning it.
async fn wait_attr(s: &Session, css: &str, attr: &str, ok: impl Fn(u64) -> bool) -> u64 {
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        let n = attr_number(s, css, attr).await;
        if ok(n) {
            return n;
        }
        assert!(Instant::now() < deadline, "{css} {attr} stayed at {n}");
        tokio::time::sleep(Duration::from_millis(150)).await;
    }
}

#[tokio::test]
#[ignore = "needs Xvfb, tauri-driver and the built app: run through ./dev test"]
async fn a_reviewer_moves_through_the_crisis_and_exports_the_report() {
    let device = Device::new();
    let (requests_now, tasks_now) = {
        let mut store = open_store(&device.data_dir());
        store
            .init_identity(&IdentityDraft {
                name: "Rita Revisora".into(),
                role: "reviewer".into(),
                country: "GT".into(),
                org: "OIM".into(),
            })
            .expect("init");
        let crisis = store.load_demo().expect("demo");
        (
            store.requests(crisis.id).expect("requests").len() as u64,
            store.tasks(crisis.id).expect("tasks").len() as u64,
        )
    };

    let s = device.launch().await;
    // Reviewers start on the review, at the latest moment: the board as now.
    s.wait_for("#asof-summary").await;
    let at_end = wait_attr(&s, "#asof-requests", "data-count", |n| n == requests_now).await;
    assert_eq!(at_end, requests_now);
    assert_eq!(
        attr_number(&s, "#asof-board", "data-count").await,
        tasks_now
    );

    // Home on the slider: the first moment of the crisis, before any request.
    let slider = s.wait_for("#asof-slider").await;
    slider.click().await.expect("focus the slider");
    slider
        .send_keys(&Key::Home.to_string())
        .await
        .expect("Home");
    let at_start = wait_attr(&s, "#asof-requests", "data-count", |n| n < requests_now).await;
    // One arrow key moves a step a person can use: about a hundredth of the
    // crisis (the demo's six days: an hour), not a minute.
    let value = |v: Option<String>| -> f64 { v.expect("value").parse().expect("number") };
    let first = value(slider.attr("min").await.expect("min"));
    let last = value(slider.attr("max").await.expect("max"));
    let home = value(slider.prop("value").await.expect("value"));
    slider
        .send_keys(&Key::Right.to_string())
        .await
        .expect("Right");
    let moved = value(slider.prop("value").await.expect("value")) - home;
    let length = last - first;
    assert!(
        moved >= length / 200.0 && moved <= length / 20.0,
        "one arrow key moved {moved} ms over a crisis of {length} ms"
    );
    slider
        .send_keys(&Key::Home.to_string())
        .await
        .expect("Home again");
    let tasks_start = attr_number(&s, "#asof-board", "data-count").await;
    assert!(tasks_start < tasks_now, "{tasks_start} tasks at the start");
    // A little later there are more requests than at the start, fewer than now.
    for _ in 0..3 {
        slider
            .send_keys(&Key::PageUp.to_string())
            .await
            .expect("PageUp");
    }
    let later = wait_attr(&s, "#asof-requests", "data-count", |n| n != at_start).await;
    assert!(
        at_start < later && later <= requests_now,
        "{at_start} then {later} of {requests_now}"
    );
    s.screenshot("review-asof").await;

    // Measures: a chart with its numbers beside it.
    s.click("#review-tab-measures").await;
    s.wait_for("#chart-response").await;
    let rows = s.count("#measures-table tbody tr").await;
    assert!(rows > 8, "{rows} rows of measures");
    // The demo's early warning, acknowledged by Guatemala.
    let alerts = s.text("#measures-alerts").await;
    assert!(alerts.contains("raised: 1; acknowledged: 1"), "{alerts}");
    s.screenshot("review-measures").await;

    // The map of the region, drawn from the bundled shapes.
    s.click("#review-tab-where").await;
    s.wait_for("#review-map path").await;
    assert!(s.count("#review-map path").await > 20);
    assert!(
        s.count("#review-map .label").await >= 5,
        "countries with requests are labelled"
    );
    // The demo's requests are at the built-in crossings, so their admin
    // areas are known: a circle each on the map, a name in the 5W.
    let circles = s.count("#review-map circle.area").await;
    assert!(circles >= 8, "{circles} admin areas on the map");
    assert!(s.count("#www-table tbody tr").await > 0);
    // Column headers name the columns, not the filters' "All ..." choices.
    let headers = s.text("#www-table thead").await;
    assert!(
        headers.contains("Sector") && headers.contains("Country") && !headers.contains("All "),
        "{headers}"
    );
    let www = s.text("#www-table tbody").await;
    assert!(
        ["San Marcos", "Chiapas", "Darién"]
            .iter()
            .any(|a| www.contains(a)),
        "the 5W names admin areas: {www}"
    );
    s.screenshot("review-map").await;

    // The timeline narrows to one country.
    s.click("#review-tab-timeline").await;
    s.wait_for("#timeline li").await;
    let all = s.text("#tl-count").await;
    s.choose("#tl-country", "HN").await;
    let deadline = Instant::now() + Duration::from_secs(20);
    while s.text("#tl-count").await == all {
        assert!(
            Instant::now() < deadline,
            "the country filter changed nothing"
        );
        tokio::time::sleep(Duration::from_millis(150)).await;
    }
    s.screenshot("review-timeline").await;
    // And to one person's work.
    let hn = s.text("#tl-count").await;
    let someone = s
        .wait_for("#tl-person option:nth-child(2)")
        .await
        .attr("value")
        .await
        .expect("value")
        .expect("a person id");
    s.choose("#tl-person", &someone).await;
    let deadline = Instant::now() + Duration::from_secs(20);
    while s.text("#tl-count").await == hn {
        assert!(
            Instant::now() < deadline,
            "the person filter changed nothing"
        );
        tokio::time::sleep(Duration::from_millis(150)).await;
    }

    // Export the report, then verify the record.
    s.click("#review-tab-export").await;
    let report = device.data_dir().join("after-action.html");
    s.type_into("#export-path", report.to_str().expect("utf-8"))
        .await;
    s.click("#export-go").await;
    s.wait_for_text("#export-done", "after-action.html").await;
    let html = std::fs::read_to_string(&report).expect("the report was written");
    assert!(html.contains("<svg") && html.contains("After-action report"));
    s.click("#verify-run").await;
    s.wait_for_text("#verify-summary", "intact").await;
    s.screenshot("review-export").await;

    // A folder that does not exist: said plainly, nothing written.
    let bad = device.data_dir().join("no-such-folder/report.html");
    s.type_into("#export-path", bad.to_str().expect("utf-8"))
        .await;
    s.click("#export-go").await;
    s.wait_for_text("#export-error", "does not exist").await;
    assert!(!bad.exists());
    s.quit().await;
}
