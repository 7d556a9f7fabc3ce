//! The canary: a request whose description holds a unique string, logged
//! on a device, synced to a real hub and carried in a bundle. The string,
//! the device's and the hub's signing keys and the sync token are found in
//! no file of the device's folder, the hub's files or the bundle.

mod common;

use common::*;
use std::path::{Path, PathBuf};

const CANARY: &str = "canary-5d1e-menor-no-acompañada-Tapachula";

fn relevo(data: &Path, args: &[&str]) -> String {
    let out = relevo_run(data, args);
    assert!(
        out.status.success(),
        "relevo {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).expect("utf-8")
}

/// Every regular file under `dir`.
fn files_under(dir: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    for entry in std::fs::read_dir(dir).expect("list") {
        let path = entry.expect("entry").path();
        if path.is_dir() {
            out.extend(files_under(&path));
        } else if path.is_file() {
            out.push(path);
        }
    }
    out
}

fn find(haystack: &[u8], needle: &[u8]) -> bool {
    haystack.windows(needle.len()).any(|w| w == needle)
}

#[test]
fn a_canary_is_in_no_file_of_the_device_the_hub_or_a_bundle() {
    let dir = tempfile::tempdir().expect("tempdir");
    let hub = HubProcess::start(dir.path());
    let ana = dir.path().join("device");
    let code = hub.invite("Ana", "regional-director", "GT");
    relevo(&ana, &["enrol", "--hub", &hub.url, "--code", &code]);
    relevo(
        &ana,
        &["crisis", "open", "--name", "Flujo", "--countries", "GT"],
    );
    relevo(
        &ana,
        &[
            "request",
            "add",
            "--country",
            "GT",
            "--site",
            "Tecún Umán",
            "--sector",
            "protection",
            "--people",
            "3",
            "--priority",
            "critical",
            "--description",
            CANARY,
        ],
    );
    relevo(&ana, &["sync"]);
    let bundle = dir.path().join("stick").join("all.rlvx");
    std::fs::create_dir_all(bundle.parent().expect("stick")).expect("mkdir");
    relevo(&ana, &["bundle", "export", bundle.to_str().expect("utf8")]);

    // The secrets, read through the keys (as their owners can).
    let device_db = raw_device(&ana.join("relevo.db"));
    let device_secret: Vec<u8> = device_db
        .query_row("SELECT secret FROM local_device", [], |r| r.get(0))
        .expect("device secret");
    let token: String = device_db
        .query_row(
            "SELECT value FROM settings WHERE key = 'hub.token'",
            [],
            |r| r.get(0),
        )
        .expect("token");
    drop(device_db);
    let hub_db = rusqlite::Connection::open(&hub.db).expect("hub db");
    hub_key(&hub.db).apply(&hub_db).expect("key");
    let hub_secret: Vec<u8> = hub_db
        .query_row("SELECT secret FROM local_device", [], |r| r.get(0))
        .expect("hub secret");
    drop(hub_db);
    // The hub holds the request (it was synced), so the test can fail.
    let held = open_hub_db(&hub.db);
    assert!(
        held.ops()
            .expect("ops")
            .iter()
            .any(|op| find(&op.body.payload, CANARY.as_bytes())),
        "the hub holds the canary's op"
    );
    drop(held);

    // The hub's key file and database are its owner's alone.
    for file in [hub.db.clone(), dir.path().join("hub.db.key")] {
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(&file)
            .expect("exists")
            .permissions()
            .mode()
            & 0o777;
        assert_eq!(mode, 0o600, "{}", file.display());
    }

    // While the hub still runs (its -wal and -shm exist) and after.
    let mut hub = hub;
    for moment in ["hub running", "hub stopped"] {
        let mut files = files_under(&ana);
        files.extend(files_under(dir.path()).into_iter().filter(|p| {
            p.file_name()
                .and_then(|n| n.to_str())
                .is_some_and(|n| n.starts_with("hub.db"))
        }));
        files.push(bundle.clone());
        assert!(files.len() >= 5, "{files:?}");
        for file in &files {
            let bytes = std::fs::read(file).expect("read");
            let name = file.display();
            assert!(
                !find(&bytes, CANARY.as_bytes()),
                "{moment}: {name} holds the canary"
            );
            assert!(
                !find(&bytes, "Tecún".as_bytes()),
                "{moment}: {name} holds a site name"
            );
            assert!(
                !find(&bytes, &device_secret),
                "{moment}: {name} holds the device's key"
            );
            assert!(
                !find(&bytes, &hub_secret),
                "{moment}: {name} holds the hub's key"
            );
            assert!(
                !find(&bytes, token.as_bytes()),
                "{moment}: {name} holds the sync token"
            );
        }
        hub.kill();
    }
}
