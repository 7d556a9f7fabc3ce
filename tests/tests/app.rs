//! The walking skeleton on the real app: first run, log a request with no
//! network, see it listed, quit, start again, see it still there; bad input
//! shown next to the field and nothing written; switch to Spanish.
//!
//! Ignored in a plain `cargo test` (needs a display, tauri-driver and the
//! built app); `./dev test` runs it with `--ignored` under Xvfb.

use relevo_e2e::{open_store, Device, Session};

async fn set_up(s: &Session) {
    // Text first, selects last: WebKitGTK can hand the focus back to an
    // earlier field shortly after a select changes, and keys typed then land
    // in the wrong box (see `Session::choose`).
    // The organisation before the name: keys that a late window focus sends
    // to the autofocused name field are cleared when the name is typed.
    s.type_into("#setup-org", "Instituto Guatemalteco de Migración")
        .await;
    s.type_into("#setup-name", "Ana López").await;
    s.choose("#setup-role", "field-coordinator").await;
    s.choose("#setup-country", "GT").await;
    // Keep "load the demo crisis" ticked: the first-run experience.
    s.click("#setup-submit").await;
    s.wait_for("#request-form").await;
    // The list loads on its own after the form: wait for the demo's rows
    // before anyone counts them.
    s.wait_for("#request-list[data-complete=true] li.request")
        .await;
}

async fn fill_request(
    s: &Session,
    site: &str,
    total: &str,
    women: &str,
    girls: &str,
    description: &str,
) {
    s.type_into("#site", site).await;
    s.type_into("#people-total", total).await;
    s.type_into("#women", women).await;
    s.type_into("#girls", girls).await;
    s.type_into("#description", description).await;
    s.choose("#sector", "shelter").await;
    s.choose("#priority", "high").await;
}

#[tokio::test]
#[ignore = "needs Xvfb, tauri-driver and the built app: run through ./dev test"]
async fn a_field_coordinator_logs_a_request_offline_and_finds_it_after_a_restart() {
    let device = Device::new();
    let site = "Tecún Umán, Casa del Migrante (E2E)";

    let s = device.launch().await;
    assert_eq!(
        s.text("#setup-title").await,
        "Set up this device",
        "English from the OS locale"
    );
    // The window fits a 1366×768 laptop screen with a panel (about 32 px)
    // and a title bar (about 37 px) above it.
    let size = s
        .client()
        .execute("return [window.innerWidth, window.innerHeight]", vec![])
        .await
        .expect("window size");
    let (width, height) = (size[0].as_f64().expect("w"), size[1].as_f64().expect("h"));
    assert!(
        width <= 1366.0 && height <= 768.0 - 32.0 - 37.0,
        "the window is {width}×{height}"
    );
    // An empty set-up form is refused next to the field.
    s.click("#setup-submit").await;
    assert!(s.text("#error-name").await.contains("Required"));
    set_up(&s).await;
    let who = s.text("#who").await;
    assert!(
        who.starts_with("Ana López · Field coordinator · GT"),
        "{who}"
    );
    let demo_requests = s.count("li.request").await;
    assert!(
        demo_requests >= 5,
        "the demo crisis is loaded: {demo_requests} requests"
    );

    // Bad input: a breakdown larger than the total, and a negative count.
    fill_request(&s, site, "10", "20", "-3", "Mantas").await;
    s.click("#submit-request").await;
    let people_error = s.text("#error-people").await;
    assert!(
        people_error.contains("adds up to more than the total"),
        "{people_error}"
    );
    assert!(s.text("#error-people-girls").await.contains("negative"));
    assert!(s.text("#form-error").await.contains("Nothing was saved"));
    assert_eq!(
        s.count("li.request").await,
        demo_requests,
        "a rejected form writes nothing"
    );

    // Spanish: labels and the errors already shown change language.
    s.click("#lang-es").await;
    assert_eq!(s.text("#form-title").await, "Registrar una solicitud");
    assert_eq!(s.text("label[for=site]").await, "Sitio o lugar");
    assert!(s
        .text("#error-people")
        .await
        .contains("suma más que el total"));
    assert!(s.text("#form-error").await.contains("No se guardó nada"));
    s.screenshot("e2e-form-errors-es").await;

    // A corrected field's error goes at once, before the next save.
    s.type_into("#girls", "15").await;
    relevo_e2e::wait_gone(&s, "#error-people-girls", std::time::Duration::from_secs(5)).await;

    // Correct it and save with the keyboard shortcut.
    fill_request(
        &s,
        site,
        "50",
        "20",
        "15",
        "Mantas y colchonetas para 50 personas",
    )
    .await;
    let description = s.wait_for("#description").await;
    description
        .send_keys("\u{E009}\u{E007}\u{E000}")
        .await
        .expect("Ctrl+Enter");
    let saved = s.wait_for_text("#form-saved", "REQ-").await;
    let reference = saved
        .split_whitespace()
        .last()
        .expect("reference")
        .to_owned();
    assert!(
        reference.starts_with("REQ-") && reference.ends_with("-1"),
        "{saved}"
    );
    let item = s
        .wait_for_text(&format!("li.request[data-reference=\"{reference}\"]"), site)
        .await;
    assert!(item.contains("Alta") && item.contains("50"), "{item}");
    assert_eq!(s.count("li.request").await, demo_requests + 1);
    s.click("#lang-en").await;
    s.wait_for_text("#form-title", "Log a request").await;

    // Correct the head count from the request's detail: a zero is refused
    // next to the field, then 55 is saved and the timeline says so.
    s.click(&format!(
        "li.request[data-reference=\"{reference}\"] .open-request"
    ))
    .await;
    s.click("#open-edit").await;
    s.type_into("#edit-total", "0").await;
    s.click("#edit-save").await;
    assert!(s.text("#error-people-total").await.contains("at least 1"));
    s.type_into("#edit-total", "55").await;
    s.click("#edit-save").await;
    s.wait_for_text("#request-detail .detail-head", "55 people")
        .await;
    s.wait_for_text("#request-detail #timeline", "Details corrected")
        .await;
    s.click("#detail-back").await;
    s.screenshot("e2e-after-logging").await;
    s.quit().await;

    // Start again on the same device: the request is still there.
    let s = device.launch().await;
    let item = s
        .wait_for_text(&format!("li.request[data-reference=\"{reference}\"]"), site)
        .await;
    assert!(
        item.contains("High") && item.contains("by Ana López"),
        "{item}"
    );
    s.wait_for("#request-list[data-complete=true]").await;
    assert_eq!(s.count("li.request").await, demo_requests + 1);
    s.screenshot("e2e-after-restart").await;
    s.quit().await;

    // And it is a signed op in the local SQLite log, whose chains verify.
    let store = open_store(&device.data_dir());
    let entries = store.log_entries().expect("log");
    let op = entries
        .iter()
        .find(|e| e.kind == "request.create" && e.payload["reference"] == reference.as_str())
        .expect("the request is an op in the log");
    assert_eq!(op.payload["site"], site);
    assert!(op.refused.is_none());
    assert!(store.verify().expect("verify").intact());
}

#[tokio::test]
#[ignore = "needs Xvfb, tauri-driver and the built app: run through ./dev test"]
async fn a_database_from_a_newer_version_is_explained_not_overwritten() {
    let device = Device::new();
    std::fs::create_dir_all(device.data_dir()).expect("data dir");
    let db = device.data_dir().join("relevo.db");
    // A Relevo file from "the future": its header says schema 99.
    {
        let conn = rusqlite::Connection::open(&db).expect("create");
        conn.execute_batch("CREATE TABLE from_the_future (x); PRAGMA application_id = 1380273238; PRAGMA user_version = 99;")
            .expect("future schema");
    }
    let before = std::fs::read(&db).expect("read");
    let s = device.launch().await;
    let text = s.text("#fatal").await;
    assert!(text.contains("newer version"), "{text}");
    s.screenshot("e2e-newer-database").await;
    s.quit().await;
    assert_eq!(
        std::fs::read(&db).expect("read"),
        before,
        "the file is left as it was"
    );
}

#[tokio::test]
#[ignore = "needs Xvfb, tauri-driver and the built app: run through ./dev test"]
async fn the_command_boundary_answers_bad_input_with_typed_errors_and_writes_nothing() {
    let device = Device::new();
    let s = device.launch().await;
    set_up(&s).await;
    let before = s.count("li.request").await;
    // Call the Tauri commands directly, as a buggy or hostile front end could.
    let call = r#"
        const [command, args, done] = arguments;
        window.__TAURI_INTERNALS__.invoke(command, args).then(
            (ok) => done({ ok }),
            (err) => done({ err }));
    "#;
    let cases = [
        (
            serde_json::json!({ "draft": { "country": "XX", "site": "Paso Canoas", "sector": "", "people_total": 10,
                                            "girls": -3, "priority": "high", "description": "Agua" } }),
            vec!["country", "sector", "people.girls"],
        ),
        (
            serde_json::json!({ "draft": { "people_total": "muchos" } }),
            vec![],
        ),
        (serde_json::json!({ "draft": [1, 2, 3] }), vec![]),
        // No draft at all: still the command's own validation error.
        (serde_json::json!({}), vec![]),
    ];
    for (args, fields) in cases {
        let reply = s
            .client()
            .execute_async(call, vec![serde_json::json!("add_request"), args.clone()])
            .await
            .expect("invoke");
        let err = &reply["err"];
        assert_eq!(err["code"], "validation", "{args}: {reply}");
        let named: Vec<&str> = err["fields"]
            .as_array()
            .expect("fields")
            .iter()
            .filter_map(|f| f["field"].as_str())
            .collect();
        for f in &fields {
            assert!(named.contains(f), "{args}: {f} not named in {reply}");
        }
        if fields.is_empty() {
            assert!(
                err["message"].as_str().unwrap_or("").contains("malformed"),
                "{reply}"
            );
        }
    }
    // Every command's arguments are typed the same way: a reference sent as
    // a number, a moment sent as words.
    for (command, args, named) in [
        (
            "request_detail",
            serde_json::json!({ "reference": 42 }),
            "reference",
        ),
        (
            "review_as_of",
            serde_json::json!({ "at": "ayer", "basis": null }),
            "moment",
        ),
        (
            "set_task_status",
            serde_json::json!({ "reference": "T-1" }),
            "status",
        ),
    ] {
        let reply = s
            .client()
            .execute_async(call, vec![serde_json::json!(command), args])
            .await
            .expect("invoke");
        let err = &reply["err"];
        assert_eq!(err["code"], "validation", "{command}: {reply}");
        let message = err["message"].as_str().unwrap_or("");
        assert!(
            message.contains(named) && message.contains("malformed"),
            "{command}: {reply}"
        );
    }
    // Nothing was written: the list, reloaded from the store, is unchanged.
    s.client().refresh().await.expect("reload");
    s.wait_for("#request-form").await;
    s.wait_for("#request-list[data-complete=true] li.request")
        .await;
    assert_eq!(s.count("li.request").await, before);
    s.quit().await;
}

#[tokio::test]
#[ignore = "needs Xvfb, tauri-driver and the built app: run through ./dev test"]
async fn a_spanish_system_opens_in_spanish() {
    let device = Device::new();
    let s = device.launch_with_locale("es_GT.UTF-8").await;
    assert_eq!(s.text("#setup-title").await, "Configurar este equipo");
    s.click("#setup-submit").await;
    assert!(s.text("#error-name").await.contains("Obligatorio"));
    s.screenshot("e2e-first-run-es").await;
    s.quit().await;
}

/// Where no keyring answers and no passphrase is set, the app asks for one:
/// chosen (twice) on first run, entered at every start after; a wrong one
/// is told and changes nothing. What was recorded is in the encrypted file
/// only under that passphrase.
#[tokio::test]
#[ignore = "needs Xvfb, tauri-driver and the built app: run through ./dev test"]
async fn without_a_keyring_the_app_asks_for_a_passphrase_and_encrypts_with_it() {
    let device = Device::new();
    let chosen = "Puesto Tecún Umán 2026";

    let s = device.launch_without_passphrase().await;
    assert_eq!(s.text("#unlock-title").await, "Protect this device’s data");
    s.screenshot("unlock-choose").await;
    // Two different passphrases: told, nothing made.
    s.type_into("#unlock-passphrase", chosen).await;
    s.type_into("#unlock-repeat", "otra cosa distinta").await;
    s.click("#unlock-form button[type=submit]").await;
    assert!(s.text("#unlock-problem").await.contains("differ"));
    assert!(!device.data_dir().join("relevo.key").exists());
    s.type_into("#unlock-repeat", chosen).await;
    s.click("#unlock-form button[type=submit]").await;
    set_up(&s).await;
    s.quit().await;

    let key_file = std::fs::read(device.data_dir().join("relevo.key")).expect("relevo.key");
    let db = std::fs::read(device.data_dir().join("relevo.db")).expect("relevo.db");
    assert!(
        !db.starts_with(b"SQLite format 3"),
        "the database is encrypted"
    );

    let s = device.launch_without_passphrase().await;
    assert_eq!(s.text("#unlock-title").await, "Unlock this device’s data");
    s.type_into("#unlock-passphrase", "no es la frase").await;
    s.click("#unlock-form button[type=submit]").await;
    assert!(
        s.text("#unlock-failure").await.contains("does not open"),
        "a wrong passphrase is told"
    );
    assert_eq!(
        std::fs::read(device.data_dir().join("relevo.key")).expect("relevo.key"),
        key_file
    );
    s.type_into("#unlock-passphrase", chosen).await;
    s.click("#unlock-form button[type=submit]").await;
    s.wait_for("#request-list[data-complete=true] li.request")
        .await;
    let who = s.text("#who").await;
    assert!(who.starts_with("Ana López"), "{who}");
    s.quit().await;

    // The CLI opens it with the same passphrase, and with no other.
    let (key, _) =
        relevo_store::keys::unlock_with_passphrase(&device.data_dir(), chosen).expect("unlock");
    let store = relevo_store::Store::open_dir(&device.data_dir(), &key).expect("open");
    assert!(store.identity().expect("q").is_some());
}

/// The contrast of the first element matching `css`, from its computed
/// colours (WCAG's relative luminance); `None` if there is none.
async fn contrast(s: &Session, css: &str) -> Option<f64> {
    let script = r#"
        const el = document.querySelector(arguments[0]);
        if (!el) return null;
        const cs = getComputedStyle(el);
        const rgb = (c) => c.match(/[\d.]+/g).slice(0, 3).map(Number);
        const lum = ([r, g, b]) => {
          const f = (v) => { v /= 255; return v <= 0.03928 ? v / 12.92 : Math.pow((v + 0.055) / 1.055, 2.4); };
          return 0.2126 * f(r) + 0.7152 * f(g) + 0.0722 * f(b);
        };
        const a = lum(rgb(cs.color)), b = lum(rgb(cs.backgroundColor));
        return (Math.max(a, b) + 0.05) / (Math.min(a, b) + 0.05);
    "#;
    s.client()
        .execute(script, vec![serde_json::json!(css)])
        .await
        .expect("script")
        .as_f64()
}

/// In Spanish, on the demo crisis: the "overdue" badge in who-holds-what is
/// readable (white on red, not red on red), and a request's head count
/// lists only the groups it has, each with its number.
#[tokio::test]
#[ignore = "needs Xvfb, tauri-driver and the built app: run through ./dev test"]
async fn badges_and_head_counts_read_as_they_should() {
    let device = Device::new();
    let reference = {
        let mut store = open_store(&device.data_dir());
        store
            .init_identity(&relevo_core::domain::IdentityDraft {
                name: "Rosa Regional".into(),
                role: "regional-director".into(),
                country: "PA".into(),
                org: "OIM".into(),
            })
            .expect("init");
        store.load_demo().expect("demo");
        store
            .add_request(&relevo_core::domain::RequestDraft {
                country: "GT".into(),
                site: "Tecún Umán".into(),
                sector: "shelter".into(),
                people_total: Some(40.0),
                women: Some(10.0),
                men: Some(12.0),
                girls: Some(9.0),
                boys: Some(9.0),
                priority: "high".into(),
                description: "Colchonetas".into(),
                ..Default::default()
            })
            .expect("log")
            .reference
    };
    let s = device.launch_with_locale("es_GT.UTF-8").await;
    s.click("#nav-holders").await;
    s.wait_for(".badge.overdue").await;
    let ratio = contrast(&s, ".badge.overdue").await.expect("a badge");
    assert!(ratio >= 4.5, "the overdue badge's contrast is {ratio:.2}:1");
    s.screenshot("e2e-holders-es").await;

    s.click("#nav-requests").await;
    s.click(&format!(
        "li.request[data-reference=\"{reference}\"] .open-request"
    ))
    .await;
    let breakdown = s.text("#request-breakdown").await;
    assert!(!breakdown.contains("Menores de 5"), "{breakdown}");
    assert!(
        breakdown.contains(": 10") && breakdown.contains(": 12"),
        "{breakdown}"
    );
    s.quit().await;
}

/// Runs a script in the window and returns its number.
async fn number(s: &Session, script: &str) -> f64 {
    s.client()
        .execute(script, vec![])
        .await
        .unwrap_or_else(|e| panic!("{script}: {e}"))
        .as_f64()
        .unwrap_or_else(|| panic!("{script}: not a number"))
}

/// A regional director on a 1366×768 screen: the board folds its empty
/// columns, the header and tabs stay put while a view scrolls, the page
/// itself never scrolls, terms of art explain themselves on focus, dates
/// are typed day first in Spanish and countries are picked by name.
#[tokio::test]
#[ignore = "needs Xvfb, tauri-driver and the built app: run through ./dev test"]
async fn the_field_screens_are_dense_fixed_and_speak_one_language() {
    let device = Device::new();
    {
        let mut store = open_store(&device.data_dir());
        store
            .init_identity(&relevo_core::domain::IdentityDraft {
                name: "Rosa Regional".into(),
                role: "regional-director".into(),
                country: "PA".into(),
                org: "iom".into(),
            })
            .expect("init");
        store.load_demo().expect("demo");
    }
    let s = device.launch_with_locale("es_GT.UTF-8").await;

    // The board: a folded strip for each empty column, a full one for the rest.
    s.wait_for("#board .task-card").await;
    let columns: Vec<(String, bool, f64)> = serde_json::from_value(
        s.client()
            .execute(
                "return [...document.querySelectorAll('.board-column')].map(c => \
                 [c.querySelector('.count').textContent.trim(), c.classList.contains('folded'), \
                  c.getBoundingClientRect().width])",
                vec![],
            )
            .await
            .expect("columns"),
    )
    .expect("column list");
    assert_eq!(columns.len(), 7, "{columns:?}");
    assert!(
        columns.iter().any(|c| c.1),
        "no empty column in the demo? {columns:?}"
    );
    for (count, folded, width) in &columns {
        assert_eq!(*folded, count == "0", "{columns:?}");
        if *folded {
            assert!(*width < 50.0, "a folded column is {width} px wide");
        } else {
            assert!(*width > 180.0, "a column with tasks is {width} px wide");
        }
    }
    s.screenshot("e2e-board-dense-es").await;

    // One scroll per view: the page never scrolls; the view does, under a
    // header and tabs that stay where they are.
    for view in ["requests", "board", "holders", "review", "sync"] {
        s.click(&format!("#nav-{view}")).await;
        s.wait_for("#view").await;
        let overflow = number(
            &s,
            "return document.documentElement.scrollHeight - window.innerHeight",
        )
        .await;
        assert!(
            overflow <= 1.0,
            "{view}: the page itself scrolls by {overflow} px"
        );
    }
    s.click("#nav-holders").await;
    s.wait_for(".holding").await;
    let tabs_before = number(
        &s,
        "return document.querySelector('#nav-holders').getBoundingClientRect().top",
    )
    .await;
    let scrolled = number(
        &s,
        "const v = document.querySelector('#view'); v.scrollTop = 400; return v.scrollTop",
    )
    .await;
    assert!(scrolled > 0.0, "the holders view should scroll in the demo");
    let tabs_after = number(
        &s,
        "return document.querySelector('#nav-holders').getBoundingClientRect().top",
    )
    .await;
    assert_eq!(tabs_before, tabs_after, "the tabs moved with the view");

    // A term of art explains itself on keyboard focus, in Spanish.
    s.click("#nav-review").await;
    s.click("#review-tab-where").await;
    s.wait_for("#www-title .term").await;
    let tip = s
        .client()
        .execute(
            "const t = document.querySelector('#www-title .term'); t.focus(); \
             const tip = t.querySelector('.tip'); \
             return [getComputedStyle(tip).display, tip.textContent]",
            vec![],
        )
        .await
        .expect("tip");
    assert_ne!(
        tip[0], "none",
        "the explanation stays hidden on focus: {tip}"
    );
    assert!(
        tip[1].as_str().unwrap_or("").contains("quién hace qué"),
        "{tip}"
    );

    // Dates are typed and read day first in Spanish, and stored as ISO.
    s.click("#nav-requests").await;
    s.click("#request-form details.more summary").await;
    let needed = s.wait_for("#needed-by").await;
    assert_eq!(
        needed
            .attr("placeholder")
            .await
            .expect("placeholder")
            .as_deref(),
        Some("dd/mm/aaaa")
    );
    s.type_into("#needed-by", "30/11/2026").await;
    let stored = s
        .client()
        .execute(
            "document.querySelector('#needed-by').blur(); \
             return document.querySelector('[data-date-for=needed-by]').value",
            vec![],
        )
        .await
        .expect("stored");
    assert_eq!(stored, serde_json::json!("2026-11-30"));

    // Countries by name where a flow says where people came from.
    s.click("#nav-movement").await;
    s.wait_for("#flow-from").await;
    assert_eq!(s.text("#flow-from option[value=\"VE\"]").await, "Venezuela");
    assert_eq!(s.text("#flow-from option[value=\"HT\"]").await, "Haití");
    s.quit().await;
}

/// The language and the last site belong to the data folder: a second data
/// folder on the same machine (same user, same web view) starts in the
/// system's language and with an empty site, and the first keeps its own.
#[tokio::test]
#[ignore = "needs Xvfb, tauri-driver and the built app: run through ./dev test"]
async fn language_and_last_site_belong_to_the_data_folder() {
    let device = Device::new();
    let s = device.launch_with_locale("es_GT.UTF-8").await;
    set_up(&s).await;
    s.click("#lang-en").await;
    fill_request(&s, "Tecún Umán", "12", "3", "2", "Agua").await;
    s.click("#submit-request").await;
    s.wait_for_text("#form-saved", "REQ-").await;
    s.quit().await;
    let kept = std::fs::read_to_string(device.data_dir().join("settings.json")).expect("settings");
    assert!(
        kept.contains("\"en\"") && kept.contains("Tecún Umán"),
        "{kept}"
    );

    let other = device.launch_folder("second", "es_GT.UTF-8").await;
    assert_eq!(other.text("#setup-title").await, "Configurar este equipo");
    other.quit().await;

    let again = device.launch_with_locale("es_GT.UTF-8").await;
    again.wait_for_text("#nav-requests", "Requests").await;
    let site = again.wait_for("#site").await;
    assert_eq!(
        site.prop("value").await.expect("site").as_deref(),
        Some("Tecún Umán")
    );
    again.quit().await;
}
