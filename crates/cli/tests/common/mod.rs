//! Runs the real `relevo` binary on a temporary data folder: what every
//! CLI test file shares.
#![allow(dead_code)]

pub use relevo_core::api::ErrorCode;
use std::path::Path;
use std::process::{Command, Output};

/// The passphrase the tests' data folders are encrypted with (no keyring
/// answers in a test).
pub const PASSPHRASE: &str = "frase de prueba del puesto";

/// The `relevo` binary on a data folder, with the tests' passphrase.
pub fn relevo_command(dir: &Path) -> Command {
    let mut command = Command::new(env!("CARGO_BIN_EXE_relevo"));
    command
        .env("RELEVO_DATA_DIR", dir)
        .env(relevo_store::keys::PASSPHRASE_ENV, PASSPHRASE);
    command
}

pub fn relevo(dir: &Path, args: &[&str]) -> Output {
    relevo_command(dir).args(args).output().expect("run relevo")
}

/// A device's store opened in the test, as the CLI opens it.
pub fn open_store(dir: &Path) -> relevo_store::Store {
    let (key, _) = relevo_store::keys::unlock_with_passphrase(dir, PASSPHRASE).expect("unlock");
    relevo_store::Store::open_dir(dir, &key).expect("open")
}

pub fn ok(dir: &Path, args: &[&str]) -> String {
    let out = relevo(dir, args);
    assert!(
        out.status.success(),
        "relevo {args:?} failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).expect("utf8")
}

/// Runs `relevo` expecting it to fail as `class`: with that class's exit
/// status (see `relevo --help`) and nothing on stdout. Returns stderr.
pub fn fails(dir: &Path, class: ErrorCode, args: &[&str]) -> String {
    let out = relevo(dir, args);
    assert_eq!(
        out.status.code(),
        Some(i32::from(class.exit_status())),
        "relevo {args:?} should fail as {}: {}",
        class.slug(),
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(out.stdout.is_empty(), "errors go to stderr only");
    String::from_utf8(out.stderr).expect("utf8")
}

/// A device set up with an identity (a regional director in GT) and an
/// open crisis.
pub fn device(dir: &Path) {
    ok(
        dir,
        &[
            "init",
            "--name",
            "Ana",
            "--role",
            "regional-director",
            "--country",
            "GT",
        ],
    );
    ok(
        dir,
        &["crisis", "open", "--name", "Flujo", "--countries", "GT"],
    );
}

/// `request add` of five people in need of shelter at `site`.
pub fn request_args<'a>(site: &'a str, description: &'a str) -> Vec<&'a str> {
    vec![
        "request",
        "add",
        "--country",
        "GT",
        "--site",
        site,
        "--sector",
        "shelter",
        "--people",
        "5",
        "--priority",
        "high",
        "--description",
        description,
    ]
}

/// Logs a request at `site`; its reference.
pub fn add_at(dir: &Path, site: &str, description: &str) -> String {
    ok(dir, &request_args(site, description)).trim().to_owned()
}

/// Logs a request at Tecún Umán; its reference.
pub fn add(dir: &Path, description: &str) -> String {
    add_at(dir, "Tecún Umán", description)
}
