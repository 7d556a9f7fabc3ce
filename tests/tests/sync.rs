//! Sync on the real app against a real hub process: a field coordinator
//! joins the hub from the first-run screen, logs a request while the hub is
//! down and sees "1 not on hub"; the hub comes back and the app syncs on its
//! own, without a click, until nothing is left to send. A USB bundle then
//! brings an op whose predecessor has not arrived: the Sync tab lists it
//! with what it waits for, until the hub brings the missing op.
//!
//! Ignored in a plain `cargo test`; `./dev test` runs it under Xvfb.

use relevo_e2e::{
    binary, enrolled_cli, free_port, invite, open_crisis, run, wait_gone, Device, Hub,
};
use std::time::Duration;

#[tokio::test]
#[ignore = "needs Xvfb, tauri-driver, the built app and hub: run through ./dev test"]
async fn a_request_logged_while_the_hub_is_down_goes_up_on_its_own_when_it_returns() {
    let dir = tempfile::tempdir().expect("tempdir");
    let db = dir.path().join("hub.db");
    let port = free_port();
    let url = format!("http://127.0.0.1:{port}");
    let cli = binary("relevo");
    let hub = Hub::start(&db, port);

    // A regional director opens the crisis from the command line.
    let director = enrolled_cli(
        dir.path(),
        &db,
        &url,
        "Rosa Pérez",
        "regional-director",
        "PA",
    );
    let director = director.as_str();
    open_crisis(director, "Flujo mixto", "GT,HN");

    // The field coordinator joins from the first-run screen.
    let code = invite(&db, "Ana López", "field-coordinator", "GT", "OIM");
    let device = Device::new();
    let s = device.launch().await;
    s.wait_for("#setup-title").await;
    s.click("#setup-join").await;
    s.type_into("#enrol-url", &url).await;
    s.type_into("#enrol-code", &code).await;
    s.click("#enrol-submit").await;
    // The grant names her; the crisis arrives by sync.
    let who = s.wait_for_text("#who", "Ana López").await;
    assert!(who.contains("Field coordinator · GT"), "{who}");
    s.wait_for("#request-form").await;
    s.wait_for_text("#sync-state", "Up to date").await;
    assert_eq!(s.count("#sync-pending").await, 0);

    // The hub goes down; a request is logged anyway.
    drop(hub);
    s.type_into("#site", "Tecún Umán (E2E sync)").await;
    s.type_into("#people-total", "35").await;
    s.type_into("#description", "Agua y kits de higiene").await;
    s.choose("#sector", "wash").await;
    s.choose("#priority", "high").await;
    s.click("#submit-request").await;
    s.wait_for_text("li.request", "Tecún Umán (E2E sync)").await;
    s.wait_for_text("#sync-pending", "1 not on hub").await;
    s.wait_for_text("#sync-state", "Offline").await;
    assert_eq!(
        s.count("li.request .not-on-hub").await,
        1,
        "the row says it is not on the hub"
    );
    s.screenshot("sync-offline").await;

    // The hub returns: the app finds it and sends the request, no click.
    let _hub = Hub::start(&db, port);
    wait_gone(&s, "#sync-pending", Duration::from_secs(60)).await;
    s.wait_for_text("#sync-state", "Up to date").await;
    wait_gone(&s, "li.request .not-on-hub", Duration::from_secs(10)).await;
    s.screenshot("sync-back").await;

    // The director sees it after their own sync.
    run(&cli, &["--data-dir", director, "sync"]);
    let list = run(&cli, &["--data-dir", director, "request", "list"]);
    assert!(list.contains("Tecún Umán (E2E sync)"), "{list}");

    // The director logs two requests offline and carries only the second
    // on a USB stick: the app holds it waiting for the first.
    for site in ["El Carmen (primera)", "El Carmen (segunda)"] {
        run(
            &cli,
            &[
                "--data-dir",
                director,
                "request",
                "add",
                "--country",
                "GT",
                "--site",
                site,
                "--sector",
                "shelter",
                "--people",
                "12",
                "--priority",
                "high",
                "--description",
                "Colchonetas",
            ],
        );
    }
    let boss: serde_json::Value =
        serde_json::from_str(&run(&cli, &["--data-dir", director, "status", "--json"]))
            .expect("status");
    let boss_id = boss["device"].as_str().expect("device").to_owned();
    let last = boss["vector"][&boss_id].as_u64().expect("seq");
    let app_dir = device.data_dir();
    let app_dir = app_dir.to_str().expect("utf8");
    let mut lacks: serde_json::Value =
        serde_json::from_str(&run(&cli, &["--data-dir", app_dir, "status", "--json"]))
            .expect("status");
    lacks["vector"][&boss_id] = serde_json::json!(last - 1);
    let vector_file = dir.path().join("app-vector.json");
    std::fs::write(&vector_file, lacks.to_string()).expect("write");
    let bundle = dir.path().join("usb.rlvb");
    run(
        &cli,
        &[
            "--data-dir",
            director,
            "bundle",
            "export",
            bundle.to_str().expect("utf8"),
            "--for-vector",
            vector_file.to_str().expect("utf8"),
        ],
    );
    s.click("#nav-sync").await;
    s.type_into("#bundle-path", bundle.to_str().expect("utf8"))
        .await;
    s.click("#bundle-import").await;
    s.wait_for_text("#bundle-message", "1").await;
    let waiting = s
        .wait_for_text("#sync-waiting", &format!("#{}", last - 1))
        .await;
    assert!(waiting.contains("its device's op"), "{waiting}");
    s.screenshot("sync-waiting").await;

    // The director syncs; the app's next sync brings the first request and
    // the waiting one goes in after it.
    run(&cli, &["--data-dir", director, "sync"]);
    s.click("#sync-now").await;
    wait_gone(&s, "#sync-waiting", Duration::from_secs(60)).await;
    s.click("#nav-requests").await;
    s.wait_for_text("li.request", "El Carmen (segunda)").await;
    s.quit().await;
}
