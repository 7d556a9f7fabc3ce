//! A device's folder is its owner's alone, whatever the umask: the folder
//! is 0700, the database and its -wal and -shm files 0600, and another user
//! can read none of it.

mod common;

use common::*;
use std::os::unix::fs::PermissionsExt;
use std::path::Path;
use std::process::Command;

fn mode(path: &Path) -> u32 {
    std::fs::metadata(path)
        .unwrap_or_else(|e| panic!("{}: {e}", path.display()))
        .permissions()
        .mode()
        & 0o777
}

#[test]
fn the_data_folder_is_the_owners_alone_whatever_the_umask() {
    let root = tempfile::tempdir().expect("tempdir");
    // Another user must be able to reach the folder's parent, so that only
    // the folder's own permissions stand in the way.
    std::fs::set_permissions(root.path(), std::fs::Permissions::from_mode(0o755)).expect("chmod");
    let dir = root.path().join("device");
    let out = Command::new("sh")
        .arg("-c")
        .arg(format!(
            "umask 000 && exec '{}' init --name Ana --role regional-director --country GT",
            env!("CARGO_BIN_EXE_relevo")
        ))
        .env("RELEVO_DATA_DIR", &dir)
        .env(relevo_store::keys::PASSPHRASE_ENV, PASSPHRASE)
        .output()
        .expect("run");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    ok(
        &dir,
        &["crisis", "open", "--name", "Flujo", "--countries", "GT"],
    );
    // While the store is open its -wal and -shm files exist.
    let store = open_store(&dir);
    let db = dir.join("relevo.db");
    let key_file = dir.join(relevo_store::keys::KEY_FILE);
    assert_eq!(mode(&dir), 0o700, "the folder");
    assert_eq!(mode(&db), 0o600, "the database");
    assert_eq!(mode(&key_file), 0o600, "relevo.key");
    for suffix in ["-wal", "-shm"] {
        let companion = dir.join(format!("relevo.db{suffix}"));
        assert!(
            companion.exists(),
            "{suffix} is there while the store is open"
        );
        assert_eq!(mode(&companion), 0o600, "{suffix}");
    }
    // A folder made earlier with loose permissions is tightened at open.
    drop(store);
    std::fs::set_permissions(&dir, std::fs::Permissions::from_mode(0o755)).expect("chmod");
    std::fs::set_permissions(&db, std::fs::Permissions::from_mode(0o644)).expect("chmod");
    ok(&dir, &["people", "list"]);
    assert_eq!((mode(&dir), mode(&db)), (0o700, 0o600));

    // Another user (nobody) can read neither the folder nor the database.
    let as_nobody = |args: &[&str]| {
        Command::new("setpriv")
            .args(["--reuid=65534", "--regid=65534", "--clear-groups", "--"])
            .args(args)
            .output()
    };
    match as_nobody(&["true"]) {
        Ok(o) if o.status.success() => {
            for target in [dir.as_path(), db.as_path(), key_file.as_path()] {
                let out = as_nobody(&["cat", target.to_str().expect("utf8")]).expect("cat");
                assert!(!out.status.success(), "nobody read {}", target.display());
            }
            let out = as_nobody(&["ls", dir.to_str().expect("utf8")]).expect("ls");
            assert!(!out.status.success(), "nobody listed the folder");
        }
        _ => eprintln!(
            "setpriv cannot change user here (not root?): the other-user check was not run"
        ),
    }
}
