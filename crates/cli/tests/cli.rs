//! Runs the real `relevo` binary on a temporary data folder.

use std::path::Path;
use std::process::{Command, Output};

fn relevo(dir: &Path, args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_relevo"))
        .args(args)
        .env("RELEVO_DATA_DIR", dir)
        .output()
        .expect("run relevo")
}

fn ok(dir: &Path, args: &[&str]) -> String {
    let out = relevo(dir, args);
    assert!(
        out.status.success(),
        "relevo {args:?} failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).expect("utf8")
}

fn fails(dir: &Path, args: &[&str]) -> String {
    let out = relevo(dir, args);
    assert_eq!(
        out.status.code(),
        Some(1),
        "relevo {args:?} should fail with 1: {}",
        String::from_utf8_lossy(&out.stdout)
    );
    assert!(out.stdout.is_empty(), "errors go to stderr only");
    String::from_utf8(out.stderr).expect("utf8")
}

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
    assert!(fails(d, ADD).contains("no identity"), "before init");
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
    assert!(fails(d, ADD).contains("no crisis"));
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
        let err = fails(d, &args);
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
fn verify_names_a_tampered_op_and_exits_1() {
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
    let args = with(ADD, &[("--description", "Agua segura XYZZY")]);
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    ok(d, &args);
    assert!(ok(d, &["verify"]).contains("intact"));
    // Flip one byte of the request's payload behind the store's back. The
    // last connection to close checkpoints the WAL, so the op is in the file.
    let db = d.join("relevo.db");
    let mut bytes = std::fs::read(&db).expect("read");
    // The text is in the op and in the request projection; change both, as
    // someone editing the record by hand would.
    let spots: Vec<usize> = bytes
        .windows(5)
        .enumerate()
        .filter(|(_, w)| w == b"XYZZY")
        .map(|(i, _)| i)
        .collect();
    assert!(!spots.is_empty(), "payload is in the database file");
    for at in spots {
        bytes[at] = b'K';
    }
    std::fs::write(&db, bytes).expect("tamper");
    let out = relevo(d, &["verify"]);
    let stderr = String::from_utf8_lossy(&out.stderr);
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert_eq!(
        out.status.code(),
        Some(1),
        "stdout: {stdout}\nstderr: {stderr}"
    );
    assert!(
        stderr.contains(&format!("{tag}#2")),
        "names the op {tag}#2: {stderr}"
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
    let err = fails(d, &["request", "list"]);
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
