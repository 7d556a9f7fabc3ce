//! Where a system keyring answers (here GNOME Keyring's Secret Service, on
//! a private D-Bus session), the database key is random and kept there:
//! no passphrase is asked, `relevo.key` names the keyring, and a later
//! session of the same keyring opens the folder. Where the keyring does not
//! answer, the folder is refused with a clear message and left as it was.

mod common;

use common::*;
use std::path::Path;
use std::process::Command;

/// Runs `relevo ARGS` on `data` inside a D-Bus session whose GNOME Keyring
/// (its files under `home`) is unlocked, with no passphrase given.
fn in_keyring_session(home: &Path, data: &Path, args: &[&str]) -> std::process::Output {
    let script = format!(
        "printf 'keyring-test\\n' | gnome-keyring-daemon --unlock --components=secrets >/dev/null 2>&1; exec '{}' {}",
        env!("CARGO_BIN_EXE_relevo"),
        args.iter()
            .map(|a| format!("'{a}'"))
            .collect::<Vec<_>>()
            .join(" ")
    );
    Command::new("dbus-run-session")
        .args(["--", "sh", "-c", &script])
        .env("HOME", home)
        .env("XDG_DATA_HOME", home.join("data"))
        .env("XDG_RUNTIME_DIR", home.join("run"))
        .env("RELEVO_DATA_DIR", data)
        .env_remove(relevo_store::keys::PASSPHRASE_ENV)
        .stdin(std::process::Stdio::null())
        .output()
        .expect("dbus-run-session (Debian's dbus) runs")
}

#[test]
fn the_key_is_kept_in_the_system_keyring_where_one_answers() {
    assert!(
        Command::new("gnome-keyring-daemon")
            .arg("--version")
            .output()
            .is_ok_and(|o| o.status.success()),
        "gnome-keyring-daemon is missing: run ./dev setup (it installs Debian's gnome-keyring)"
    );
    let root = tempfile::tempdir().expect("tempdir");
    let home = root.path().join("home");
    std::fs::create_dir_all(home.join("run")).expect("mkdir");
    std::fs::set_permissions(
        home.join("run"),
        std::os::unix::fs::PermissionsExt::from_mode(0o700),
    )
    .expect("chmod");
    let data = root.path().join("device");
    let out = in_keyring_session(
        &home,
        &data,
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
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let info: serde_json::Value = serde_json::from_str(
        &std::fs::read_to_string(data.join(relevo_store::keys::KEY_FILE)).expect("relevo.key"),
    )
    .expect("json");
    assert_eq!(info["keeper"], "keyring", "{info}");
    assert!(relevo_store::keys::is_encrypted(&data.join("relevo.db")));

    // Another session of the same keyring opens it, asking nothing.
    let out = in_keyring_session(&home, &data, &["people", "list"]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(String::from_utf8_lossy(&out.stdout).contains("Ana"));

    // No keyring (no session bus): refused, saying why, nothing changed.
    let before = std::fs::read(data.join("relevo.db")).expect("db");
    let no_bus = format!("unix:path={}", root.path().join("no-bus").display());
    let without_keyring = |passphrase: bool| {
        let mut command = relevo_command(&data);
        if !passphrase {
            command.env_remove(relevo_store::keys::PASSPHRASE_ENV);
        }
        command
            .env("DBUS_SESSION_BUS_ADDRESS", &no_bus)
            .args(["people", "list"])
            .output()
            .expect("run")
    };
    let out = without_keyring(false);
    // Locked: the key is not at hand (see `relevo --help`).
    assert_eq!(out.status.code(), Some(11));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("system keyring") && err.contains("did not answer"),
        "{err}"
    );
    assert_eq!(std::fs::read(data.join("relevo.db")).expect("db"), before);
    // A passphrase does not stand in for the keyring's key.
    let out = without_keyring(true);
    // Locked: the key is not at hand (see `relevo --help`).
    assert_eq!(out.status.code(), Some(11));
    assert_eq!(std::fs::read(data.join("relevo.db")).expect("db"), before);
}
