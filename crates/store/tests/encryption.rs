//! Encryption at rest: what a stolen data folder gives away (nothing
//! readable), how a plaintext database of an earlier Relevo is encrypted in
//! place, and how a wrong passphrase or a lost key file is told.

mod common;

use common::*;
use relevo_core::api::ErrorCode;
use relevo_store::{keys, Keeper, Store};
use std::path::Path;
use std::process::{Command, Stdio};

const CANARY: &str = "canary-7f3c9a1e-niña-sola-embarazada";

/// Every file in a folder, with its bytes.
fn files(dir: &Path) -> Vec<(String, Vec<u8>)> {
    let mut out: Vec<_> = std::fs::read_dir(dir)
        .expect("list")
        .map(|e| e.expect("entry").path())
        .filter(|p| p.is_file())
        .map(|p| {
            let name = p.file_name().expect("name").to_string_lossy().into_owned();
            (name, std::fs::read(&p).expect("read"))
        })
        .collect();
    out.sort();
    out
}

fn contains(haystack: &[u8], needle: &[u8]) -> bool {
    haystack.windows(needle.len()).any(|w| w == needle)
}

fn with_canary(store: &mut Store) {
    store
        .init_identity(&identity("field-coordinator", "GT"))
        .expect("init");
    store.open_crisis(&crisis()).expect("crisis");
    let mut draft = request("Tecún Umán", 12);
    draft.description = format!("{CANARY}: 3 menores no acompañados");
    store.add_request(&draft).expect("request");
}

#[test]
fn a_stolen_data_folder_holds_no_readable_text_or_key() {
    let dir = tempfile::tempdir().expect("tempdir");
    let key = key();
    let mut store = Store::open_dir(dir.path(), &key).expect("open");
    with_canary(&mut store);
    let secret: Vec<u8> = raw(&dir.path().join(relevo_store::DB_FILE))
        .query_row("SELECT secret FROM local_device", [], |r| r.get(0))
        .expect("the device's secret");
    assert_eq!(secret.len(), 32);
    // While the store is open (its -wal and -shm exist) and after it closed.
    for moment in ["open", "closed"] {
        let seen = files(dir.path());
        assert!(
            seen.iter().any(|(n, _)| n.ends_with("-wal")) || moment == "closed",
            "the WAL must be examined while open: {:?}",
            seen.iter().map(|(n, _)| n).collect::<Vec<_>>()
        );
        for (name, bytes) in &seen {
            assert!(
                !contains(bytes, CANARY.as_bytes()),
                "{moment}: {name} holds the request's text in the clear"
            );
            assert!(
                !contains(bytes, &secret),
                "{moment}: {name} holds the device's signing key in the clear"
            );
            assert!(
                !contains(bytes, "Tecún".as_bytes()),
                "{moment}: {name} holds a site name in the clear"
            );
        }
        if moment == "open" {
            drop(std::mem::replace(
                &mut store,
                Store::open_in_memory().expect("memory"),
            ));
        }
    }
    // The key opens it again, with everything in it.
    let again = Store::open_dir(dir.path(), &key).expect("reopen");
    let crisis = again.current_crisis().expect("q").expect("crisis");
    let held = again.requests(crisis.id).expect("requests");
    assert!(held[0].description.contains(CANARY));
}

#[test]
fn a_plaintext_database_is_encrypted_in_place_with_nothing_lost() {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join(relevo_store::DB_FILE);
    let (dump, log, crisis_id) = {
        let mut plain = Store::open_unencrypted(&path).expect("plaintext");
        with_canary(&mut plain);
        plain.load_demo().expect("demo");
        let crisis = plain.current_crisis().expect("q").expect("crisis");
        (
            plain.projection_dump().expect("dump"),
            plain.log_entries().expect("log").len(),
            crisis.id,
        )
    };
    assert!(contains(
        &std::fs::read(&path).expect("read"),
        CANARY.as_bytes()
    ));
    let store = Store::open(&path, &key()).expect("converted");
    assert_eq!(store.projection_dump().expect("dump"), dump);
    assert_eq!(store.log_entries().expect("log").len(), log);
    assert!(store.verify().expect("verify").intact());
    assert!(!store.requests(crisis_id).expect("requests").is_empty());
    drop(store);
    assert!(keys::is_encrypted(&path));
    for (name, bytes) in files(dir.path()) {
        assert!(
            !contains(&bytes, CANARY.as_bytes()),
            "{name} still holds plaintext"
        );
    }
    // And it is the key, not luck, that opens it.
    let err =
        Store::open(&path, &relevo_store::DbKey::from_bytes([9; 32])).expect_err("another key");
    assert_eq!(err.code(), ErrorCode::Corrupt);
    assert!(err.to_string().contains("key"), "{err}");
}

const CHILD_ENV: &str = "RELEVO_CONVERT_CHILD_DB";

/// The child's body: encrypts the database named by the parent.
#[test]
#[ignore = "runs as the child process of a_conversion_stopped_halfway_leaves_the_original_readable"]
fn conversion_child() {
    let Some(path) = std::env::var_os(CHILD_ENV) else {
        return;
    };
    Store::open(Path::new(&path), &key()).expect("child converts");
}

/// A conversion killed at random moments (SIGKILL, the harshest stop)
/// leaves either the untouched plaintext original or the whole encrypted
/// store, never a file that opens to less.
#[test]
fn a_conversion_stopped_halfway_leaves_the_original_readable() {
    let dir = tempfile::tempdir().expect("tempdir");
    let original = dir.path().join("original.db");
    let dump = {
        let mut plain = Store::open_unencrypted(&original).expect("plaintext");
        with_canary(&mut plain);
        plain
            .generate_scenario(
                relevo_store::Scale {
                    requests: 2000,
                    tasks: 300,
                },
                1_780_000_000_000,
            )
            .expect("scenario");
        plain.projection_dump().expect("dump")
    };
    let exe = std::env::current_exe().expect("own test binary");
    let child = |path: &Path| {
        Command::new(&exe)
            .args([
                "conversion_child",
                "--exact",
                "--ignored",
                "--test-threads=1",
            ])
            .env(CHILD_ENV, path)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("child")
    };
    // How long a whole run takes here, so that the kills spread over it.
    let whole = {
        let path = dir.path().join("timed.db");
        std::fs::copy(&original, &path).expect("copy");
        let started = std::time::Instant::now();
        assert!(child(&path).wait().expect("wait").success());
        assert!(keys::is_encrypted(&path));
        started.elapsed()
    };
    // Whether the kill landed after the rename.
    let kill_after = |run: u32, delay: std::time::Duration| -> bool {
        let work = dir.path().join(format!("run{run}"));
        std::fs::create_dir(&work).expect("mkdir");
        let path = work.join(relevo_store::DB_FILE);
        std::fs::copy(&original, &path).expect("copy");
        let mut running = child(&path);
        // Kill at `delay`, unless the child has finished before then.
        let started = std::time::Instant::now();
        while started.elapsed() < delay && running.try_wait().expect("poll").is_none() {
            std::thread::sleep(std::time::Duration::from_millis(2));
        }
        let _ = running.kill();
        running.wait().expect("reap");
        let encrypted = keys::is_encrypted(&path);
        let reopened = if encrypted {
            Store::open(&path, &key())
        } else {
            // Readable as it was, by the earlier Relevo too.
            let plain = Store::open_unencrypted(&path).expect("the original still opens");
            assert_eq!(plain.projection_dump().expect("dump"), dump, "run {run}");
            drop(plain);
            // And the next open finishes the job.
            Store::open(&path, &key())
        }
        .unwrap_or_else(|e| panic!("run {run}: {e}"));
        assert_eq!(reopened.projection_dump().expect("dump"), dump, "run {run}");
        assert!(reopened.verify().expect("verify").intact(), "run {run}");
        encrypted
    };
    // Kills that landed before the rename, and after it.
    let mut landed = [0u32; 2];
    // From a tenth of a run to a fifth past its end.
    for run in 0..12u32 {
        landed[usize::from(kill_after(run, whole * (run + 1) / 10))] += 1;
    }
    // A machine busy with other tests runs slower (or faster) than the timed
    // run: stretch or shrink the delay until kills have landed on both sides.
    let mut run = 12;
    while landed.contains(&0) && run < 24 {
        let step = 1 << (run - 11);
        let delay = if landed[1] == 0 {
            whole * step
        } else {
            whole / (10 * step)
        };
        landed[usize::from(kill_after(run, delay))] += 1;
        run += 1;
    }
    // The runs must have stopped it both before and after the end, or the
    // test proves nothing about the middle.
    assert!(
        !landed.contains(&0),
        "kills landed {} times before the rename and {} after",
        landed[0],
        landed[1]
    );
}

#[test]
fn a_wrong_passphrase_is_told_and_changes_no_byte() {
    let dir = tempfile::tempdir().expect("tempdir");
    {
        let (key, keeper) =
            keys::unlock_with_passphrase(dir.path(), "frase correcta del puesto").expect("new");
        assert_eq!(keeper, Keeper::Passphrase);
        let mut store = Store::open_dir(dir.path(), &key).expect("open");
        with_canary(&mut store);
    }
    let before = files(dir.path());
    let err = keys::unlock_with_passphrase(dir.path(), "frase incorrecta del puesto")
        .expect_err("wrong passphrase");
    assert_eq!(err.code(), ErrorCode::Locked);
    assert!(err.to_string().contains("does not open"), "{err}");
    // Asked at a prompt: three tries, then the same verdict.
    let mut asked = Vec::new();
    std::env::remove_var(keys::PASSPHRASE_ENV);
    let err = keys::unlock(dir.path(), &mut |prompt| {
        asked.push(prompt);
        Some(zeroize::Zeroizing::new("otra frase equivocada".into()))
    })
    .expect_err("wrong at the prompt");
    assert_eq!(
        asked,
        [
            relevo_store::Prompt::Enter,
            relevo_store::Prompt::Retry,
            relevo_store::Prompt::Retry
        ]
    );
    assert!(err.to_string().contains("does not open"), "{err}");
    let err = keys::unlock(dir.path(), &mut |_| None).expect_err("nobody to ask");
    assert!(
        matches!(err, relevo_store::Error::PassphraseNeeded),
        "{err}"
    );
    assert_eq!(files(dir.path()), before, "no file may change");

    let too_short = tempfile::tempdir().expect("tempdir");
    let err = keys::unlock_with_passphrase(too_short.path(), "corta").expect_err("short");
    assert!(err.to_string().contains("too short"), "{err}");
}

#[test]
fn an_encrypted_folder_without_its_key_file_is_refused_not_rekeyed() {
    let dir = tempfile::tempdir().expect("tempdir");
    {
        let (key, _) =
            keys::unlock_with_passphrase(dir.path(), "frase correcta del puesto").expect("new");
        let mut store = Store::open_dir(dir.path(), &key).expect("open");
        with_canary(&mut store);
    }
    std::fs::remove_file(dir.path().join(keys::KEY_FILE)).expect("lose the key file");
    let before = files(dir.path());
    let err = keys::unlock_with_passphrase(dir.path(), "frase correcta del puesto")
        .expect_err("no key file");
    assert!(err.to_string().contains("relevo.key"), "{err}");
    assert_eq!(files(dir.path()), before);
}
