//! Coordination on the real app: a director turns a request into a task,
//! assigns it, hands it over, and the board and the holder history show it;
//! a field coordinator is not offered the assignment, and the command
//! refuses it when called directly.
//!
//! Ignored in a plain `cargo test` (needs a display, tauri-driver and the
//! built app); `./dev test` runs it with `--ignored` under Xvfb.

use relevo_core::domain::{IdentityDraft, RequestDraft, TaskDraft};
use relevo_e2e::{open_store, Device, Session};
use relevo_store::Store;

fn identity(name: &str, role: &str) -> IdentityDraft {
    IdentityDraft {
        name: name.into(),
        role: role.into(),
        country: "GT".into(),
        org: "Instituto Guatemalteco de Migración".into(),
    }
}

/// The id of a person on the roster, by name.
fn person(store: &Store, name: &str) -> String {
    store
        .roster()
        .expect("roster")
        .people
        .into_iter()
        .find(|p| p.name == name)
        .unwrap_or_else(|| panic!("{name} is on the roster"))
        .id
        .to_string()
}

async fn invoke(s: &Session, command: &str, args: serde_json::Value) -> serde_json::Value {
    let call = r#"
        const [command, args, done] = arguments;
        window.__TAURI_INTERNALS__.invoke(command, args).then(
            (ok) => done({ ok }),
            (err) => done({ err }));
    "#;
    s.client()
        .execute_async(call, vec![serde_json::json!(command), args])
        .await
        .expect("invoke")
}

#[tokio::test]
#[ignore = "needs Xvfb, tauri-driver and the built app: run through ./dev test"]
async fn a_director_creates_assigns_and_hands_over_a_task() {
    let device = Device::new();
    let site = "Tecún Umán, Casa del Migrante (E2E)";
    let (reference, ana) = {
        let mut store = open_store(&device.data_dir());
        store
            .init_identity(&identity("Rosa Díaz", "national-director"))
            .expect("init");
        store.load_demo().expect("demo");
        let r = store
            .add_request(&RequestDraft {
                country: "GT".into(),
                site: site.into(),
                sector: "wash".into(),
                people_total: Some(60.0),
                priority: "critical".into(),
                description: "Agua segura para 60 personas".into(),
                ..Default::default()
            })
            .expect("request");
        (r.reference, person(&store, "Demo · Ana López"))
    };

    let s = device.launch().await;
    // Directors start on the board.
    s.wait_for("#board").await;
    s.click("#nav-requests").await;
    s.type_into("#filter-text", "E2E").await;
    s.click(&format!(
        "li.request[data-reference=\"{reference}\"] .open-request"
    ))
    .await;
    s.wait_for_text("#request-title", &reference).await;

    // Create a task from the request: the form starts from it.
    s.click("#create-task").await;
    s.wait_for("#task-form-dialog[open]").await;
    let title = s
        .client()
        .execute("return document.querySelector('#task-title').value", vec![])
        .await
        .expect("title");
    assert!(
        title.as_str().unwrap_or("").contains("Tecún Umán"),
        "{title}"
    );
    assert!(s.text("#task-requests").await.contains(&reference));
    s.type_into("#task-title", "Camión cisterna a Tecún Umán")
        .await;
    s.click("#task-submit").await;
    s.wait_for("#task-detail[open]").await;
    s.wait_for_text("#task-status", "Open").await;
    let task = s.text("#task-title .ref").await;
    assert!(task.starts_with("TSK-"), "{task}");

    // Assign it to a field coordinator on the roster.
    s.click("#action-assign").await;
    s.choose("#holder-person", &ana).await;
    s.click("#action-confirm").await;
    s.wait_for_text("#task-status", "Assigned").await;
    s.wait_for_text("#task-holder", "Demo · Ana López").await;

    // A handover needs a note: refused without one, nothing written.
    s.click("#action-handover").await;
    s.choose("#holder-org", "iom").await;
    s.click("#action-confirm").await;
    s.wait_for_text("#error-note", "Required").await;
    assert_eq!(s.count("#holder-history li").await, 1);
    s.type_into("#action-text", "OIM tiene el camión cisterna")
        .await;
    s.click("#action-confirm").await;
    s.wait_for_text("#task-holder", "IOM").await;
    let history = s
        .wait_for_text("#holder-history", "OIM tiene el camión")
        .await;
    assert_eq!(s.count("#holder-history li").await, 2, "{history}");
    assert!(history.contains("Demo · Ana López"), "{history}");
    let timeline = s.text("#task-detail #timeline").await;
    for step in ["Task created", "Assigned", "Handed over"] {
        assert!(timeline.contains(step), "{step} in {timeline}");
    }
    s.screenshot("e2e-task-handed-over").await;

    // The board shows it among the assigned tasks, held by IOM.
    s.click("#task-close").await;
    s.click("#nav-board").await;
    let card = s
        .wait_for_text(
            &format!(".board-column[data-status=assigned] .task-card[data-reference=\"{task}\"]"),
            "IOM",
        )
        .await;
    assert!(card.contains("Camión cisterna"), "{card}");
    // Filtered by holder organisation, it is still there.
    s.choose("#board-org", "iom").await;
    s.wait_for(&format!(".task-card[data-reference=\"{task}\"]"))
        .await;
    s.screenshot("e2e-board").await;
    s.quit().await;

    let store = open_store(&device.data_dir());
    let d = store.task_detail(&task).expect("task");
    assert_eq!(d.holders.len(), 2);
    assert_eq!(d.requests[0].reference, reference);
    assert!(store.verify().expect("verify").intact());
}

#[tokio::test]
#[ignore = "needs Xvfb, tauri-driver and the built app: run through ./dev test"]
async fn a_field_coordinator_is_not_offered_assignment_and_the_command_refuses_it() {
    // A director's device makes an open task; the field coordinator's device
    // receives every op (as sync will deliver them).
    let mut director = Store::open_in_memory().expect("open");
    director
        .init_identity(&identity("Rosa Díaz", "national-director"))
        .expect("init");
    director.load_demo().expect("demo");
    let id = director
        .add_task(&TaskDraft {
            title: "Distribuir kits de higiene".into(),
            scope: "national".into(),
            country: "GT".into(),
            sector: "wash".into(),
            priority: "high".into(),
            ..Default::default()
        })
        .expect("task");
    let task = director.task(id).expect("q").expect("task").reference;
    let device = Device::new();
    let (before, ana) = {
        let mut store = open_store(&device.data_dir());
        store
            .init_identity(&identity("Julio Pérez", "field-coordinator"))
            .expect("init");
        for op in director.ops().expect("ops") {
            store.ingest(&op).expect("ingest");
        }
        let crisis = director.current_crisis().expect("q").expect("c").id;
        store.set_current_crisis(crisis).expect("current");
        (
            store.op_count().expect("count"),
            person(&store, "Demo · Ana López"),
        )
    };

    let s = device.launch().await;
    s.wait_for("#request-form").await;
    s.click("#nav-board").await;
    s.click(&format!(".task-card[data-reference=\"{task}\"]"))
        .await;
    s.wait_for_text("#task-status", "Open").await;
    s.wait_for("#task-actions").await;
    assert_eq!(
        s.count("#action-assign").await,
        0,
        "assignment is not offered"
    );
    assert_eq!(s.count("#action-handover").await, 0);
    assert_eq!(s.count("#action-cancel").await, 0);
    s.screenshot("e2e-field-coordinator-task").await;

    // Called directly, the command refuses and says why.
    let reply = invoke(
        &s,
        "assign_task",
        serde_json::json!({ "reference": task, "holder": { "person": ana, "org": "" } }),
    )
    .await;
    assert_eq!(reply["err"]["code"], "forbidden", "{reply}");
    assert_eq!(reply["err"]["args"]["why"], "role", "{reply}");
    assert!(
        reply["err"]["message"]
            .as_str()
            .unwrap_or("")
            .contains("needs a national director or regional director"),
        "{reply}"
    );
    // Bad input at the boundary: a holder of the wrong shape, an unknown task.
    let reply = invoke(
        &s,
        "assign_task",
        serde_json::json!({ "reference": task, "holder": 42 }),
    )
    .await;
    assert_eq!(reply["err"]["code"], "validation", "{reply}");
    let reply = invoke(
        &s,
        "accept_task",
        serde_json::json!({ "reference": "TSK-NOPE-9" }),
    )
    .await;
    assert_eq!(reply["err"]["code"], "not-found", "{reply}");
    s.quit().await;

    let store = open_store(&device.data_dir());
    assert_eq!(
        store.op_count().expect("count"),
        before,
        "nothing was written"
    );
}

#[tokio::test]
#[ignore = "needs Xvfb, tauri-driver and the built app: run through ./dev test"]
async fn a_regional_director_resolves_the_demo_conflict_in_the_dialog() {
    let device = Device::new();
    let (task, before, title) = {
        let mut store = open_store(&device.data_dir());
        store
            .init_identity(&IdentityDraft {
                name: "Marta Solís".into(),
                role: "regional-director".into(),
                country: "PA".into(),
                org: "iom".into(),
            })
            .expect("init");
        store.load_demo().expect("demo");
        let c = store.conflicts(None, None).expect("conflicts");
        assert_eq!(c.len(), 1, "the demo carries one unresolved conflict");
        assert!(!c[0].label.is_empty(), "the conflict names its task");
        (
            c[0].reference.clone(),
            c[0].values.clone(),
            c[0].label.clone(),
        )
    };

    let s = device.launch_with_locale("es_GT.UTF-8").await;
    s.wait_for("#board").await;
    assert_eq!(s.text("#conflict-count").await, "1");
    s.click("#nav-conflicts").await;
    let item = s
        .wait_for_text(
            &format!(".conflict[data-reference=\"{task}\"]"),
            "responsable",
        )
        .await;
    assert!(item.contains("se muestra por ahora"), "{item}");
    // Open the task: its conflict badge and the resolution action.
    s.click(&format!(".conflict[data-reference=\"{task}\"] button.link"))
        .await;
    s.wait_for("#task-detail[open]").await;
    s.wait_for_text("#task-title", "Conflicto").await;
    s.click("#action-resolve-holder").await;
    s.wait_for("#conflict-dialog[open]").await;
    // Focus starts on Cancel: Enter on a fresh dialog keeps no value.
    let focused = s
        .client()
        .execute(
            "return document.activeElement && document.activeElement.id",
            vec![],
        )
        .await
        .expect("active element");
    assert_eq!(focused.as_str(), Some("conflict-cancel"), "{focused:?}");
    let dialog = s.text("#conflict-dialog").await;
    assert!(
        dialog.contains(&title),
        "the dialog names the task: {dialog}"
    );
    for v in &before {
        let who = v.author_name.as_deref().expect("author");
        assert!(dialog.contains(who), "{who} in {dialog}");
    }
    s.screenshot("e2e-conflict-dialog-es").await;
    // Keep the value that is not shown for now.
    let keep = before
        .iter()
        .position(|v| !v.provisional)
        .expect("a competing value")
        + 1;
    s.click(&format!("#keep-{keep}")).await;
    s.wait_for_text("#task-status", "Asignada").await;
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(20);
    while s.count("#conflict-count").await > 0 {
        assert!(
            std::time::Instant::now() < deadline,
            "the conflict count never cleared"
        );
        tokio::time::sleep(std::time::Duration::from_millis(150)).await;
    }
    s.quit().await;

    let store = open_store(&device.data_dir());
    assert!(store.conflicts(None, None).expect("c").is_empty());
    let t = store.task_detail(&task).expect("task");
    let kept: Option<relevo_core::domain::Holder> =
        serde_json::from_str(&before[keep - 1].value).expect("holder json");
    let kept = kept.expect("a holder");
    let shown = t.task.holder.expect("holder");
    assert_eq!((shown.person, shown.org), (kept.person, kept.org));
    let kinds: Vec<&str> = t.holders.iter().map(|h| h.kind.as_str()).collect();
    assert_eq!(
        kinds,
        ["task.assign", "task.assign", "conflict.resolve"],
        "both assignments stay in the history, then the resolution"
    );
}
