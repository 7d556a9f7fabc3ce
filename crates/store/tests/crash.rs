//! Crash test: a child process logs requests as fast as it can and reports
//! each acknowledged op; the parent kills it with SIGKILL at random moments.
//! After every kill the database must open cleanly, pass SQLite's integrity
//! check, hold every acknowledged op, contain no half-applied op (the
//! projections equal a rebuild) and verify.
//!
//! 50 runs by default; set RELEVO_CRASH_RUNS for more.

mod common;

use common::*;
use rand_core::{OsRng, RngCore};
use relevo_store::Store;
use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};
use std::time::Duration;

const CHILD_ENV: &str = "RELEVO_CRASH_CHILD_DIR";

/// The child's body; runs only when the parent starts this binary for it.
#[test]
#[ignore = "runs as the child process of crash_at_random_moments_loses_nothing"]
fn crash_child() {
    let Some(dir) = std::env::var_os(CHILD_ENV) else {
        return;
    };
    let mut store = Store::open_dir(std::path::Path::new(&dir), &key()).expect("child open");
    let me = store
        .identity()
        .expect("q")
        .expect("parent set up the identity")
        .device_id;
    let mut out = std::io::stdout().lock();
    use std::io::Write;
    for i in 0.. {
        store
            .add_request(&request(&format!("Sitio {i}"), 10 + (i % 50)))
            .expect("add");
        let vv = store.version_vector().expect("vv");
        let seq = vv
            .iter()
            .find(|(d, _)| d.to_string() == me)
            .map(|(_, s)| *s)
            .expect("own head");
        writeln!(out, "ack {seq}").expect("report");
        out.flush().expect("flush");
    }
}

#[test]
fn crash_at_random_moments_loses_nothing() {
    let runs: usize = std::env::var("RELEVO_CRASH_RUNS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(50);
    let dir = tempfile::tempdir().expect("tempdir");
    let me = {
        let mut s = Store::open_dir(dir.path(), &key()).expect("open");
        let me = s
            .init_identity(&identity("field-coordinator", "GT"))
            .expect("init")
            .device_id;
        s.open_crisis(&crisis()).expect("crisis");
        me
    };
    let exe = std::env::current_exe().expect("own test binary");
    let mut highest_ack = 0u64;
    for run in 0..runs {
        let mut child = Command::new(&exe)
            .args([
                "crash_child",
                "--exact",
                "--ignored",
                "--nocapture",
                "--test-threads=1",
            ])
            .env(CHILD_ENV, dir.path())
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .expect("spawn child");
        let stdout = child.stdout.take().expect("piped");
        let (tx, rx) = std::sync::mpsc::channel::<u64>();
        let reader = std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines() {
                let Ok(line) = line else { break };
                if let Some(seq) = line
                    .strip_prefix("ack ")
                    .and_then(|s| s.trim().parse().ok())
                {
                    if tx.send(seq).is_err() {
                        break;
                    }
                }
            }
        });
        // Wait until the child is writing, then kill it at a random moment.
        let first = rx
            .recv_timeout(Duration::from_secs(60))
            .expect("child acknowledges its first op");
        highest_ack = highest_ack.max(first);
        std::thread::sleep(Duration::from_micros(u64::from(OsRng.next_u32() % 150_000)));
        child.kill().expect("SIGKILL");
        child.wait().expect("reap");
        reader.join().expect("reader");
        highest_ack = highest_ack.max(rx.try_iter().max().unwrap_or(0));

        let mut store = Store::open_dir(dir.path(), &key())
            .unwrap_or_else(|e| panic!("run {run}: reopen after SIGKILL: {e}"));
        let check: String = raw(&dir.path().join(relevo_store::DB_FILE))
            .query_row("PRAGMA integrity_check", [], |r| r.get(0))
            .expect("integrity_check");
        assert_eq!(check, "ok", "run {run}");
        let held = store
            .version_vector()
            .expect("vv")
            .iter()
            .find(|(d, _)| d.to_string() == me)
            .map(|(_, s)| *s);
        assert!(
            held.unwrap_or(0) >= highest_ack,
            "run {run}: acknowledged op #{highest_ack} lost (held {held:?})"
        );
        let incremental = store.projection_dump().expect("dump");
        store.rebuild_projections().expect("rebuild");
        assert_eq!(
            store.projection_dump().expect("dump"),
            incremental,
            "run {run}: a half-applied op"
        );
        let crisis = store.current_crisis().expect("q").expect("crisis").id;
        assert_eq!(
            store.requests(crisis).expect("list").len() as u64 + 2,
            held.unwrap_or(0),
            "run {run}: every op held is one projected request (after the declaration and the crisis)"
        );
        assert!(store.verify().expect("verify").intact(), "run {run}");
    }
    assert!(
        highest_ack > runs as u64,
        "the children made progress: {highest_ack} ops in {runs} runs"
    );
}
