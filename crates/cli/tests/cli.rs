//! Runs the real `relevo` binary on a temporary data folder.

mod common;

use common::*;
use std::path::Path;
use std::process::Command;

const ADD: &[&str] = &[
    "request",
    "add",
    "--country",
    "GT",
    "--site",
    "Tecún Umán",
    "--sector",
    "shelter",
    "--people",
    "120",
    "--women",
    "40",
    "--men",
    "35",
    "--girls",
    "25",
    "--boys",
    "20",
    "--priority",
    "high",
    "--description",
    "Colchonetas y frazadas",
];

fn with(base: &[&str], replace: &[(&str, &str)]) -> Vec<String> {
    let mut v: Vec<String> = base.iter().map(|s| s.to_string()).collect();
    for (flag, value) in replace {
        let i = v.iter().position(|a| a == flag).expect("flag present");
        v[i + 1] = value.to_string();
    }
    v
}

#[test]
fn a_field_coordinator_session() {
    let dir = tempfile::tempdir().expect("tempdir");
    let d = dir.path();
    assert!(
        fails(d, ErrorCode::NotInitialised, ADD).contains("no identity"),
        "before init"
    );
    let who = ok(
        d,
        &[
            "init",
            "--name",
            "Ana López",
            "--role",
            "field-coordinator",
            "--country",
            "GT",
            "--org",
            "IGM",
        ],
    );
    assert!(who.contains("Ana López"));
    assert!(fails(
        d,
        ErrorCode::AlreadyInitialised,
        &[
            "init",
            "--name",
            "X",
            "--role",
            "reviewer",
            "--country",
            "GT"
        ]
    )
    .contains("already"));
    assert!(fails(d, ErrorCode::NoCrisis, ADD).contains("no crisis"));
    ok(
        d,
        &[
            "crisis",
            "open",
            "--name",
            "Flujo mixto",
            "--countries",
            "GT,HN",
        ],
    );

    let reference = ok(d, ADD).trim().to_owned();
    assert!(
        reference.starts_with("REQ-") && reference.ends_with("-1"),
        "{reference}"
    );

    let list: serde_json::Value =
        serde_json::from_str(&ok(d, &["request", "list", "--json"])).expect("json");
    assert_eq!(list[0]["reference"], reference.as_str());
    assert_eq!(list[0]["people"]["total"], 120);
    assert_eq!(list[0]["sector"], "shelter");
    assert!(ok(d, &["request", "list"]).contains(&reference));

    let log: serde_json::Value = serde_json::from_str(&ok(d, &["log", "--json"])).expect("json");
    let kinds: Vec<_> = log
        .as_array()
        .expect("array")
        .iter()
        .map(|e| e["kind"].as_str().expect("kind"))
        .collect();
    assert_eq!(kinds, ["person.declare", "crisis.open", "request.create"]);
    assert!(ok(d, &["verify"]).contains("intact"));
}

#[test]
fn bad_requests_are_named_and_write_nothing() {
    let dir = tempfile::tempdir().expect("tempdir");
    let d = dir.path();
    ok(
        d,
        &[
            "init",
            "--name",
            "Luis",
            "--role",
            "field-coordinator",
            "--country",
            "HN",
        ],
    );
    ok(d, &["crisis", "open", "--name", "X", "--countries", "HN"]);
    let cases: [(&[(&str, &str)], &str); 4] = [
        (
            &[("--country", "XX")],
            "country: 'XX' is not a known country",
        ),
        (
            &[("--girls", "-3")],
            "people.girls: people.girls cannot be negative",
        ),
        (
            &[("--people", "50")],
            "people: women, men, girls and boys add up to 120, more than the total of 50",
        ),
        (&[("--sector", "")], "sector: sector is required"),
    ];
    for (replace, expected) in cases {
        let args = with(ADD, replace);
        let args: Vec<&str> = args.iter().map(String::as_str).collect();
        let err = fails(d, ErrorCode::Validation, &args);
        assert!(err.contains(expected), "{replace:?}: {err}");
    }
    let log: serde_json::Value = serde_json::from_str(&ok(d, &["log", "--json"])).expect("json");
    assert_eq!(
        log.as_array().expect("array").len(),
        2,
        "only the declaration and the crisis"
    );
}

#[test]
fn verify_names_a_tampered_op_and_exits_as_corrupt() {
    let dir = tempfile::tempdir().expect("tempdir");
    let d = dir.path();
    let who = ok(
        d,
        &[
            "init",
            "--name",
            "Ana",
            "--role",
            "field-coordinator",
            "--country",
            "GT",
        ],
    );
    let tag = who
        .trim()
        .rsplit(' ')
        .next()
        .expect("device tag")
        .to_owned();
    ok(d, &["demo"]);
    // A real crisis (work in the demo crisis is signed by the demo key).
    ok(
        d,
        &["crisis", "open", "--name", "Flujo", "--countries", "GT"],
    );
    let args = with(ADD, &[("--description", "Agua segura XYZZY")]);
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    ok(d, &args);
    assert!(ok(d, &["verify"]).contains("intact"));
    // Change the request's payload behind the store's back, as someone
    // holding the passphrase and editing the file with SQL would (the file
    // is encrypted: flipping its bytes only breaks a page's check).
    let (key, _) = relevo_store::keys::unlock_with_passphrase(d, PASSPHRASE).expect("unlock");
    let conn = rusqlite::Connection::open(d.join("relevo.db")).expect("open");
    key.apply(&conn).expect("key");
    let changed = conn
        .execute(
            "UPDATE op_rows SET payload = CAST(replace(CAST(payload AS TEXT), 'XYZZY', 'XYZZK') AS BLOB)
             WHERE CAST(payload AS TEXT) LIKE '%XYZZY%'",
            [],
        )
        .expect("tamper");
    assert_eq!(changed, 1, "the payload is in the database");
    drop(conn);
    let out = relevo(d, &["verify"]);
    let stderr = String::from_utf8_lossy(&out.stderr);
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert_eq!(
        out.status.code(),
        Some(i32::from(ErrorCode::Corrupt.exit_status())),
        "stdout: {stdout}\nstderr: {stderr}"
    );
    assert!(
        stderr.contains(&format!("{tag}#3")),
        "names the op {tag}#3: {stderr}"
    );
    assert!(
        stdout.contains("BROKEN") && stdout.contains("intact"),
        "other devices still intact: {stdout}"
    );
}

#[test]
fn a_damaged_database_is_reported_and_left_alone() {
    let dir = tempfile::tempdir().expect("tempdir");
    let d = dir.path();
    let db = d.join("relevo.db");
    std::fs::write(
        &db,
        b"SQLite format 3\0 but the rest is a photo of a whiteboard".repeat(64),
    )
    .expect("write");
    let before = std::fs::read(&db).expect("read");
    let err = fails(d, ErrorCode::Corrupt, &["request", "list"]);
    assert!(
        err.contains("damaged") && err.contains("not changed"),
        "{err}"
    );
    assert_eq!(
        std::fs::read(&db).expect("read"),
        before,
        "the file must not be modified"
    );
}

/// Everything `relevo <args> --json` printed, parsed.
fn json(dir: &Path, args: &[&str]) -> serde_json::Value {
    let mut all = args.to_vec();
    all.push("--json");
    serde_json::from_str(&ok(dir, &all)).expect("json output")
}

/// Two devices exchanging their databases' ops the way sync will: here by
/// copying a device's ops with the store (the hub arrives later).
fn share(from: &Path, to: &Path) {
    let source = open_store(from);
    let mut target = open_store(to);
    for op in source.ops().expect("ops") {
        target.ingest(&op).expect("ingest");
    }
}

#[test]
fn a_director_works_a_task_from_the_command_line() {
    let dir = tempfile::tempdir().expect("tempdir");
    let d = dir.path();
    ok(
        d,
        &[
            "init",
            "--name",
            "Rosa Díaz",
            "--role",
            "national-director",
            "--country",
            "GT",
        ],
    );
    ok(
        d,
        &[
            "crisis",
            "open",
            "--name",
            "Flujo mixto",
            "--countries",
            "GT,HN",
        ],
    );
    let request = ok(
        d,
        &[
            "request",
            "add",
            "--country",
            "GT",
            "--site",
            "Tecún Umán",
            "--sector",
            "wash",
            "--people",
            "50",
            "--priority",
            "high",
            "--description",
            "Agua",
            "--item",
            "200:litros:Agua segura",
            "--vulnerable",
            "uasc=3",
            "--needed-by",
            "2026-12-01",
        ],
    );
    let request = request.trim();
    let task = ok(
        d,
        &[
            "task",
            "add",
            "--title",
            "Llevar agua",
            "--country",
            "GT",
            "--sector",
            "wash",
            "--priority",
            "high",
            "--request",
            request,
            "--due",
            "2026-12-02",
        ],
    );
    let task = task.trim();
    assert!(task.starts_with("TSK-"), "{task}");
    let me = json(d, &["people", "list"])[0]["id"]
        .as_str()
        .expect("id")
        .to_owned();
    ok(d, &["task", "assign", task, "--person", &me]);
    ok(d, &["task", "accept", task]);
    ok(d, &["task", "status", task, "in-progress"]);
    ok(
        d,
        &[
            "task",
            "handover",
            task,
            "--org",
            "iom",
            "--note",
            "OIM tiene camión",
        ],
    );
    ok(
        d,
        &[
            "note",
            "add",
            task,
            "Llamar al albergue antes de salir",
            "--significant",
        ],
    );
    // Over-fulfilment is refused and names what is left.
    let err = fails(
        d,
        ErrorCode::Validation,
        &[
            "request",
            "fulfil",
            request,
            "--what",
            "Agua",
            "--quantity",
            "250",
            "--unit",
            "litros",
            "--item",
            "1",
        ],
    );
    assert!(err.contains("more than the 200 still needed"), "{err}");
    assert_eq!(
        ok(
            d,
            &[
                "request",
                "fulfil",
                request,
                "--what",
                "Agua",
                "--quantity",
                "200",
                "--unit",
                "litros",
                "--item",
                "1",
                "--by",
                "rc-gt"
            ]
        )
        .trim(),
        format!("{request}  fulfilled")
    );
    let shown = json(d, &["task", "show", task]);
    assert_eq!(shown["task"]["status"], "assigned");
    assert_eq!(shown["holders"].as_array().expect("holders").len(), 2);
    assert_eq!(shown["holders"][1]["note"], "OIM tiene camión");
    assert_eq!(shown["requests"][0]["reference"], request);
    let kinds: Vec<&str> = shown["timeline"]
        .as_array()
        .expect("timeline")
        .iter()
        .filter_map(|e| e["kind"].as_str())
        .collect();
    assert_eq!(
        kinds,
        [
            "task.create",
            "task.assign",
            "task.accept",
            "task.status",
            "task.handover",
            "note.add"
        ]
    );
    let board = json(d, &["task", "list", "--org", "iom"]);
    let assigned = board["columns"]
        .as_array()
        .expect("columns")
        .iter()
        .find(|c| c["status"] == "assigned")
        .expect("assigned column");
    assert_eq!(assigned["count"], 1);
    assert_eq!(
        json(d, &["task", "list", "--org", "unicef"])["columns"][1]["count"],
        0
    );
    let requests = json(d, &["request", "list", "--status", "fulfilled"]);
    assert_eq!(requests.as_array().expect("list").len(), 1);
    // Bad input names the problem.
    let err = fails(
        d,
        ErrorCode::Validation,
        &["task", "status", task, "finished"],
    );
    assert!(err.contains("'finished' is not a task status"), "{err}");
    let err = fails(d, ErrorCode::NotFound, &["task", "accept", "TSK-NOPE-1"]);
    assert!(err.contains("no task TSK-NOPE-1"), "{err}");
    let err = fails(
        d,
        ErrorCode::NotFound,
        &["note", "add", "REQ-NOPE-7", "hola"],
    );
    assert!(err.contains("no record REQ-NOPE-7 is held"), "{err}");
    let err = fails(
        d,
        ErrorCode::Validation,
        &["task", "list", "--sector", "water"],
    );
    assert!(err.contains("'water' is not a known sector"), "{err}");
    // Escalated, the task leaves the national director's scope.
    ok(
        d,
        &[
            "task",
            "escalate",
            task,
            "--note",
            "Requiere coordinación con HN",
        ],
    );
    assert_eq!(
        json(d, &["task", "show", task])["task"]["scope"],
        "regional"
    );
    let err = fails(
        d,
        ErrorCode::Forbidden,
        &["task", "handover", task, "--org", "unhcr", "--note", "x"],
    );
    assert!(err.contains("only within their own country"), "{err}");
}

#[test]
fn two_offline_directors_conflict_and_a_regional_director_resolves_it() {
    let root = tempfile::tempdir().expect("tempdir");
    let (gt, region) = (root.path().join("gt"), root.path().join("region"));
    ok(
        &region,
        &[
            "init",
            "--name",
            "Marta Solís",
            "--role",
            "regional-director",
            "--country",
            "PA",
        ],
    );
    ok(
        &region,
        &[
            "crisis",
            "open",
            "--name",
            "Flujo mixto",
            "--countries",
            "GT,HN",
        ],
    );
    ok(
        &gt,
        &[
            "init",
            "--name",
            "Rosa Díaz",
            "--role",
            "national-director",
            "--country",
            "GT",
        ],
    );
    share(&region, &gt);
    let task = ok(
        &gt,
        &[
            "task",
            "add",
            "--title",
            "Kits de higiene",
            "--country",
            "GT",
            "--sector",
            "wash",
            "--priority",
            "high",
        ],
    );
    let task = task.trim().to_owned();
    share(&gt, &region);
    // Both offline: each assigns the open task to a different organisation.
    ok(&gt, &["task", "assign", &task, "--org", "rc-gt"]);
    ok(&region, &["task", "assign", &task, "--org", "iom"]);
    share(&gt, &region);
    share(&region, &gt);
    let a = json(&gt, &["conflicts", "list"]);
    let b = json(&region, &["conflicts", "list"]);
    assert_eq!(a, b, "both devices show the same conflict");
    assert_eq!(a.as_array().expect("list").len(), 1);
    assert_eq!(a[0]["field"], "holder");
    let text = ok(&gt, &["conflicts", "list"]);
    assert!(text.contains("(shown for now)"), "{text}");
    // The national director may not resolve it; the regional director does.
    let err = fails(
        &gt,
        ErrorCode::Forbidden,
        &["conflicts", "resolve", &task, "holder", "1"],
    );
    assert!(err.contains("cannot resolve a conflict"), "{err}");
    let keep = a[0]["values"]
        .as_array()
        .expect("values")
        .iter()
        .position(|v| v["value"].as_str().unwrap_or("").contains("rc-gt"))
        .expect("the GT value")
        + 1;
    ok(
        &region,
        &["conflicts", "resolve", &task, "holder", &keep.to_string()],
    );
    share(&region, &gt);
    for d in [&gt, &region] {
        assert_eq!(json(d, &["conflicts", "list"]), serde_json::json!([]));
        assert_eq!(
            json(d, &["task", "show", &task])["task"]["holder"]["org"],
            "rc-gt"
        );
    }
}

/// The network commands against a real `relevo-hub` process: enrol, status,
/// sync, a bundle for a device that lacks some ops, and the errors a person
/// meets (a hub that is down, a wrong code, a damaged bundle).
#[test]
fn enrol_sync_status_and_bundles_with_a_real_hub() {
    let hub_bin = Path::new(env!("CARGO_BIN_EXE_relevo")).with_file_name("relevo-hub");
    assert!(
        hub_bin.exists(),
        "relevo-hub is built beside relevo: {}",
        hub_bin.display()
    );
    let root = tempfile::tempdir().expect("tempdir");
    let db = root.path().join("hub.db");
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .expect("bind")
        .local_addr()
        .expect("addr")
        .port();
    let url = format!("http://127.0.0.1:{port}");
    let invite = |name: &str, role: &str| {
        let out = Command::new(&hub_bin)
            .args(["invite", "--db"])
            .arg(&db)
            .args(["--name", name, "--role", role, "--country", "GT", "--quiet"])
            .output()
            .expect("invite");
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8(out.stdout)
            .expect("utf8")
            .trim()
            .to_owned()
    };
    let (a, b) = (root.path().join("a"), root.path().join("b"));

    // No hub yet: a clear error, nothing enrolled.
    let code = invite("Marta Gómez", "national-director");
    let err = fails(
        &a,
        ErrorCode::Offline,
        &["enrol", "--hub", &url, "--code", &code],
    );
    assert!(err.contains("cannot be reached"), "{err}");
    let err = fails(
        &a,
        ErrorCode::Validation,
        &["enrol", "--hub", "hub.local", "--code", &code],
    );
    assert!(err.contains("must start with http"), "{err}");

    /// Kills the hub even when an assertion fails first.
    struct Hub(std::process::Child);
    impl Drop for Hub {
        fn drop(&mut self) {
            let _ = self.0.kill();
            let _ = self.0.wait();
        }
    }
    let hub = Hub(Command::new(&hub_bin)
        .args(["serve", "--db"])
        .arg(&db)
        .args(["--listen", &format!("127.0.0.1:{port}")])
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .expect("serve"));
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(20);
    while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
        assert!(std::time::Instant::now() < deadline, "hub did not start");
        std::thread::sleep(std::time::Duration::from_millis(50));
    }
    let err = fails(
        &a,
        ErrorCode::Enrolment,
        &["enrol", "--hub", &url, "--code", "00000-00000-00000-00000"],
    );
    assert!(err.contains("not known to this hub"), "{err}");
    let said = ok(&a, &["enrol", "--hub", &url, "--code", &code]);
    assert!(
        said.contains("Marta Gómez (national-director, GT)"),
        "{said}"
    );
    let err = fails(
        &b,
        ErrorCode::Enrolment,
        &["enrol", "--hub", &url, "--code", &code],
    );
    assert!(err.contains("already been used"), "{err}");
    ok(
        &b,
        &[
            "enrol",
            "--hub",
            &url,
            "--code",
            &invite("Luis", "field-coordinator"),
        ],
    );

    ok(
        &a,
        &["crisis", "open", "--name", "Flujo", "--countries", "GT"],
    );
    let status: serde_json::Value =
        serde_json::from_str(&ok(&a, &["status", "--json"])).expect("json");
    assert_eq!(status["enrolled"], true);
    assert_eq!(
        status["not_on_hub"], 2,
        "its declaration and the crisis: {status}"
    );
    let said = ok(&a, &["sync"]);
    assert!(
        said.contains("0 of this device's ops not on the hub"),
        "{said}"
    );
    ok(&b, &["sync"]);
    let reference = ok(&a, ADD);
    let reference = reference.trim();

    // The hub goes away; a bundle carries the request to b instead.
    drop(hub);
    let err = fails(&a, ErrorCode::Offline, &["sync"]);
    assert!(err.contains("cannot be reached"), "{err}");
    std::fs::write(root.path().join("b.json"), ok(&b, &["status", "--json"])).expect("write");
    let bundle = root.path().join("stick").join("a.bundle");
    std::fs::create_dir_all(bundle.parent().expect("dir")).expect("mkdir");
    let said = ok(
        &a,
        &[
            "bundle",
            "export",
            bundle.to_str().expect("path"),
            "--for-vector",
            root.path().join("b.json").to_str().expect("path"),
        ],
    );
    assert!(
        said.starts_with("Wrote 1 op(s)"),
        "only what b lacks: {said}"
    );
    let mut damaged = std::fs::read(&bundle).expect("read");
    let at = damaged.len() - 3;
    damaged[at] ^= 0xff;
    let broken = root.path().join("broken.bundle");
    std::fs::write(&broken, damaged).expect("write");
    let err = fails(
        &b,
        ErrorCode::Sync,
        &["bundle", "import", broken.to_str().expect("path")],
    );
    assert!(err.contains("damaged") || err.contains("altered"), "{err}");
    assert!(
        !ok(&b, &["request", "list"]).contains(reference),
        "nothing imported"
    );
    let said = ok(&b, &["bundle", "import", bundle.to_str().expect("path")]);
    assert!(said.contains("1 new"), "{said}");
    assert!(ok(&b, &["request", "list"]).contains(reference));
    let text = ok(&a, &["status"]);
    assert!(text.contains("Not on the hub: 1 op(s)"), "{text}");
}

#[test]
fn a_reviewer_replays_measures_and_exports_the_demo_crisis() {
    let dir = tempfile::tempdir().expect("tempdir");
    let d = dir.path();
    ok(
        d,
        &[
            "init",
            "--name",
            "Rita",
            "--role",
            "reviewer",
            "--country",
            "GT",
        ],
    );
    ok(d, &["demo"]);
    let events = json(d, &["timeline"]);
    let events = events.as_array().expect("events");
    assert!(events.len() > 300, "{}", events.len());
    let hn = json(d, &["timeline", "--country", "HN"]);
    let hn = hn.as_array().expect("events");
    assert!(!hn.is_empty() && hn.len() < events.len());
    assert!(hn.iter().all(|e| e["country"] == "HN"));
    let notes = json(d, &["timeline", "--significant"]);
    // Significant notes, and the early-warning alert.
    let notes = notes.as_array().expect("notes");
    assert!(notes.iter().all(
        |e| e["significant"] == true && (e["kind"] == "note.add" || e["kind"] == "alert.raise")
    ));
    assert_eq!(
        notes.iter().filter(|e| e["kind"] == "alert.raise").count(),
        1
    );
    assert!(
        fails(d, ErrorCode::Validation, &["timeline", "--country", "XX"])
            .contains("not a country code")
    );

    // As of a moment early in the crisis, fewer requests existed.
    let first = events[0]["made_at_ms"].as_u64().expect("ms");
    let early = chrono::DateTime::from_timestamp_millis(first as i64 + 6 * 3_600_000)
        .expect("time")
        .to_rfc3339();
    let then = json(d, &["asof", &early]);
    let now = json(d, &["request", "list"]);
    let then_n = then["requests"].as_array().expect("requests").len();
    assert!(
        then_n > 0 && then_n < now.as_array().expect("requests").len(),
        "{then_n}"
    );
    assert!(fails(d, ErrorCode::Validation, &["asof", "2001-01-01"])
        .contains("before the crisis began"));
    assert!(fails(d, ErrorCode::Validation, &["asof", "2999-01-01"]).contains("in the future"));
    assert!(fails(d, ErrorCode::Validation, &["asof", "yesterday"]).contains("is not a moment"));

    let m = json(d, &["measures"]);
    assert_eq!(m["response"][0]["by"], "all");
    assert!(
        m["response"][0]["to_first_task"]["count"]
            .as_u64()
            .expect("n")
            > 0
    );

    for (format, file) in [
        ("csv", "requests.csv"),
        ("xlsx", "crisis.xlsx"),
        ("json", "crisis.json"),
        ("report", "report.html"),
    ] {
        let path = d.join(file);
        let out = ok(d, &["export", format, path.to_str().expect("utf8")]);
        assert!(out.contains("wrote"), "{out}");
        assert!(std::fs::metadata(&path).expect("written").len() > 1000);
    }
    let csv = std::fs::read_to_string(d.join("requests.csv")).expect("csv");
    assert!(csv
        .lines()
        .nth(1)
        .expect("hxl row")
        .starts_with("#meta+ref,#crisis+name"));
    let bad = d.join("missing/report.html");
    let e = fails(
        d,
        ErrorCode::Export,
        &["export", "report", bad.to_str().expect("utf8")],
    );
    assert!(e.contains("nothing was written"), "{e}");
}

/// RFC 3339 for a moment `hours` before now.
fn hours_ago(hours: i64) -> String {
    let t = chrono::Utc::now() - chrono::Duration::hours(hours);
    t.format("%Y-%m-%dT%H:%M:00Z").to_string()
}

#[test]
fn counts_a_surge_an_alert_its_acknowledgement_and_its_tasks() {
    let dir = tempfile::tempdir().expect("tempdir");
    let d = dir.path();
    ok(
        d,
        &[
            "init",
            "--name",
            "Rosa Pérez",
            "--role",
            "regional-director",
            "--country",
            "PA",
        ],
    );
    ok(
        d,
        &[
            "crisis",
            "open",
            "--name",
            "Corredor norte",
            "--countries",
            "HN,GT",
        ],
    );
    let count = |end_hours: i64, people: &str| -> Vec<String> {
        [
            "flow",
            "add",
            "--point",
            "hn-agua-caliente",
            "--start",
            &hours_ago(end_hours + 3),
            "--end",
            &hours_ago(end_hours),
            "--direction",
            "leaving",
            "--people",
            people,
            "--from",
            "HN",
            "--to",
            "GT",
        ]
        .iter()
        .map(|s| s.to_string())
        .collect()
    };
    for day in 1..=5 {
        let out = ok(
            d,
            &count(day * 24 + 2, "100")
                .iter()
                .map(String::as_str)
                .collect::<Vec<_>>(),
        );
        assert!(!out.contains("SURGE"), "{out}");
    }
    let mut surge = count(1, "400");
    surge.extend(["--vulnerable", "uasc=18", "--nationality", "VE=250"].map(String::from));
    let out = ok(d, &surge.iter().map(String::as_str).collect::<Vec<_>>());
    assert!(out.contains("SURGE: alert raised"), "{out}");
    assert!(out.contains("18 unaccompanied"), "{out}");
    assert!(out.contains("expected at Tecún Umán (GT) between"), "{out}");
    let reference = out
        .split_whitespace()
        .find(|w| w.starts_with("ALR-"))
        .expect("alert reference")
        .to_owned();

    let listed = ok(
        d,
        &["flow", "list", "--point", "hn-agua-caliente", "--json"],
    );
    let flows: serde_json::Value = serde_json::from_str(&listed).expect("json");
    assert_eq!(flows.as_array().expect("array").len(), 6);
    assert_eq!(flows[0]["people"]["total"], 400);
    let mine = ok(d, &["alerts", "list", "--mine", "--json"]);
    let alerts: serde_json::Value = serde_json::from_str(&mine).expect("json");
    assert_eq!(alerts[0]["reference"], reference.as_str());
    assert_eq!(alerts[0]["awaiting_me"], true);
    assert!(ok(d, &["alerts", "ack", &reference, "--note", "Avisado"]).contains("acknowledged"));
    assert_eq!(ok(d, &["alerts", "list", "--mine"]).trim(), "no alerts");
    let tasks = ok(
        d,
        &[
            "alerts",
            "tasks",
            &reference,
            "--country",
            "GT",
            "--lang",
            "en",
        ],
    );
    assert_eq!(tasks.lines().count(), 2, "{tasks}");
    assert!(
        tasks.contains("Prepare shelter at Agua Caliente"),
        "{tasks}"
    );
    let shown = ok(d, &["alerts", "list"]);
    assert!(
        shown.contains("acknowledged for the region by Rosa Pérez"),
        "{shown}"
    );

    // The corridor, shown, saved and set back; a circle is refused.
    let show = ok(d, &["corridor", "show"]);
    assert!(show.contains("hn-agua-caliente"), "{show}");
    assert!(
        show.contains("400 in 24 h") || show.contains("in 24 h"),
        "{show}"
    );
    let json = ok(d, &["corridor", "show", "--json"]);
    let file = d.join("corridor.json");
    std::fs::write(&file, &json).expect("write");
    assert!(ok(d, &["corridor", "set", file.to_str().expect("utf-8")]).contains("corridor set"));
    let mut v: serde_json::Value = serde_json::from_str(&json).expect("json");
    v["corridor"]["segments"]
        .as_array_mut()
        .expect("segments")
        .push(serde_json::json!({"from": "mx-ciudad-hidalgo", "to": "gt-tecun-uman", "days": 1.0}));
    std::fs::write(&file, v.to_string()).expect("write");
    let e = fails(
        d,
        ErrorCode::Validation,
        &["corridor", "set", file.to_str().expect("utf-8")],
    );
    assert!(e.contains("goes round in a circle"), "{e}");
    std::fs::write(&file, "not json").expect("write");
    assert!(fails(
        d,
        ErrorCode::Validation,
        &["corridor", "set", file.to_str().expect("utf-8")]
    )
    .contains("not JSON"));

    // Bad counts: named, nothing written.
    let before = ok(d, &["flow", "list", "--json"]);
    let mut bad = count(1, "10");
    bad.extend(["--women", "20", "--nationality", "Venezuela=3"].map(String::from));
    let e = fails(
        d,
        ErrorCode::Validation,
        &bad.iter().map(String::as_str).collect::<Vec<_>>(),
    );
    assert!(e.contains("more than the total of 10"), "{e}");
    assert!(
        e.contains("'Venezuela' is not a two-letter ISO country code"),
        "{e}"
    );
    let future = count(-3, "10");
    assert!(fails(
        d,
        ErrorCode::Validation,
        &future.iter().map(String::as_str).collect::<Vec<_>>()
    )
    .contains("in the future"));
    let mut nowhere = count(1, "10");
    nowhere[3] = "xx-nowhere".into();
    assert!(fails(
        d,
        ErrorCode::Validation,
        &nowhere.iter().map(String::as_str).collect::<Vec<_>>()
    )
    .contains("not a flow monitoring point"));
    assert_eq!(ok(d, &["flow", "list", "--json"]), before);
}

/// `relevo --help` lists one exit status per class of error, the same
/// table the CLI exits by.
#[test]
fn the_help_lists_an_exit_status_per_class_of_error() {
    let dir = tempfile::tempdir().expect("tempdir");
    let help = ok(dir.path(), &["--help"]);
    assert!(help.contains("Exit status:"), "{help}");
    for code in ErrorCode::ALL {
        let line = format!("{:<3} {:<20} ", code.exit_status(), code.slug());
        assert!(help.contains(&line), "{line:?} missing from: {help}");
    }
}
