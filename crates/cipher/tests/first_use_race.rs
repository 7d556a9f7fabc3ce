//! `install` must succeed however the process's first SQLite use races
//! with it. SQLite marks itself initialised before it runs SQLCipher's
//! extra set-up, so a thread that opens a connection at the same moment as
//! another installs the provider could see SQLCipher with no provider yet
//! (seen once in CI as "SQLCipher has no default crypto provider" in every
//! test of a binary).
//!
//! The race can only be lost once per process, so each round is a fresh
//! child process running this same test binary.

use std::process::Command;
use std::sync::{Arc, Barrier};

const CHILD: &str = "RELEVO_CIPHER_RACE_CHILD";
const ROUNDS: usize = 60;
const OPENERS: usize = 3;

/// One round: several threads open connections while one installs the
/// provider, all released at once. Reports the install's outcome on stdout.
fn child() {
    let barrier = Arc::new(Barrier::new(OPENERS + 1));
    let openers: Vec<_> = (0..OPENERS)
        .map(|_| {
            let barrier = barrier.clone();
            std::thread::spawn(move || {
                barrier.wait();
                let conn = rusqlite::Connection::open_in_memory().expect("open");
                conn.execute_batch("SELECT 1").expect("query");
            })
        })
        .collect();
    barrier.wait();
    let outcome = relevo_cipher::install();
    for opener in openers {
        opener.join().expect("opener");
    }
    match outcome {
        Ok(()) => println!("\noutcome: installed"),
        Err(e) => println!("\noutcome: refused: {e}"),
    }
}

#[test]
fn install_wins_every_race_with_the_first_connection() {
    if std::env::var_os(CHILD).is_some() {
        child();
        return;
    }
    let me = std::env::current_exe().expect("test binary");
    let mut refusals = Vec::new();
    for round in 0..ROUNDS {
        let out = Command::new(&me)
            .args([
                "install_wins_every_race_with_the_first_connection",
                "--exact",
                "--nocapture",
                "--test-threads=1",
            ])
            .env(CHILD, "1")
            .output()
            .expect("child");
        let stdout = String::from_utf8_lossy(&out.stdout);
        assert!(
            out.status.success(),
            "round {round}: child failed: {stdout}{}",
            String::from_utf8_lossy(&out.stderr)
        );
        match stdout.lines().find_map(|l| l.strip_prefix("outcome: ")) {
            Some("installed") => {}
            Some(refused) => refusals.push(format!("round {round}: {refused}")),
            None => panic!("round {round}: the child said nothing: {stdout}"),
        }
    }
    assert!(refusals.is_empty(), "{refusals:#?}");
}
