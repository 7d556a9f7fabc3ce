//! The smaller hostile-input findings, on the real `relevo` binary: text
//! that would rewrite a terminal line, wildcards in a search, an export
//! over a link, a full disk, and a bundle carrying a stranger's ops.

mod common;

use common::*;
use std::path::Path;
use std::process::Command;

#[test]
fn control_characters_and_bidi_overrides_never_reach_the_terminal_raw() {
    let root = tempfile::tempdir().expect("tempdir");
    let dir = root.path();
    device(dir);
    let hostile = "agua\u{1b}[2J\u{1b}[31m falsa\u{202e}odatse";
    let reference = add_at(dir, hostile, hostile);
    for args in [
        vec!["request", "list"],
        vec!["request", "show", reference.as_str()],
        vec!["timeline"],
        vec!["request", "list", "--json"],
    ] {
        let out = ok(dir, &args);
        assert!(
            !out.contains('\u{1b}') && !out.contains('\u{202e}'),
            "relevo {args:?} printed raw control text: {out:?}"
        );
        assert!(
            out.contains("\\u001b") && out.contains("\\u202e"),
            "{args:?}: {out}"
        );
    }
    // JSON output still decodes to exactly what was typed.
    let json: serde_json::Value =
        serde_json::from_str(&ok(dir, &["request", "list", "--json"])).expect("json");
    assert!(json.to_string().contains("\\u001b[2J"), "{json}");
}

#[test]
fn a_search_matches_what_was_typed_not_wildcards() {
    let root = tempfile::tempdir().expect("tempdir");
    let dir = root.path();
    device(dir);
    add(dir, "Colchonetas");
    add(dir, "Agua al 100% de la demanda");
    let count = |text: &str| {
        let json: serde_json::Value =
            serde_json::from_str(&ok(dir, &["request", "list", "--text", text, "--json"]))
                .expect("json");
        json.as_array().expect("list").len()
    };
    assert_eq!(count("%"), 1, "only the request with a % in it");
    assert_eq!(count("_"), 0);
    assert_eq!(count("100%"), 1);
    assert_eq!(count("colch"), 1);
}

#[test]
fn an_export_over_a_symbolic_link_is_refused_and_the_link_kept() {
    let root = tempfile::tempdir().expect("tempdir");
    let dir = root.path().join("d");
    device(&dir);
    let target = root.path().join("precious.txt");
    std::fs::write(&target, "do not touch").expect("write");
    let link = root.path().join("export.json");
    std::os::unix::fs::symlink(&target, &link).expect("symlink");
    for (class, args) in [
        (
            ErrorCode::Export,
            vec!["export", "json", link.to_str().expect("utf8")],
        ),
        (
            ErrorCode::Io,
            vec!["bundle", "export", link.to_str().expect("utf8")],
        ),
    ] {
        let out = relevo(&dir, &args);
        let err = String::from_utf8_lossy(&out.stderr);
        assert_eq!(
            out.status.code(),
            Some(i32::from(class.exit_status())),
            "{args:?}: {err}"
        );
        assert!(err.contains("symbolic link"), "{args:?}: {err}");
        assert!(
            std::fs::symlink_metadata(&link)
                .expect("link")
                .file_type()
                .is_symlink(),
            "the link is still a link"
        );
        assert_eq!(
            std::fs::read_to_string(&target).expect("read"),
            "do not touch"
        );
    }
}

/// On a disk that is full, a write fails with a message that says so and
/// reading (verify, the people, the requests) still works. Needs a small
/// tmpfs: run as root (CI is); elsewhere the test says it could not mount.
#[test]
fn a_full_disk_still_lets_the_device_read_and_verify() {
    let root = tempfile::tempdir().expect("tempdir");
    let mnt = root.path().join("small");
    std::fs::create_dir(&mnt).expect("mkdir");
    let mounted = Command::new("mount")
        .args(["-t", "tmpfs", "-o", "size=3m", "tmpfs"])
        .arg(&mnt)
        .status()
        .map(|s| s.success())
        .unwrap_or(false);
    if !mounted {
        eprintln!("could not mount a tmpfs (not root?): the full-disk case was not run");
        return;
    }
    struct Unmount<'a>(&'a Path);
    impl Drop for Unmount<'_> {
        fn drop(&mut self) {
            let _ = Command::new("umount").arg(self.0).status();
        }
    }
    let _guard = Unmount(&mnt);
    let dir = mnt.join("d");
    device(&dir);
    let reference = add(&dir, "Colchonetas");
    // Fill the disk.
    let _ = Command::new("dd")
        .args(["if=/dev/zero", "bs=4096"])
        .arg(format!("of={}", mnt.join("fill").display()))
        .stderr(std::process::Stdio::null())
        .status();
    let out = relevo(&dir, &request_args("Tecún Umán", "otra"));
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(
        out.status.code(),
        Some(i32::from(ErrorCode::Storage.exit_status())),
        "{err}"
    );
    assert!(err.contains("disk may be full"), "{err}");
    assert!(
        !err.contains("is damaged or is not"),
        "a full disk is not damage: {err}"
    );
    assert!(ok(&dir, &["verify"]).contains("intact"));
    assert!(ok(&dir, &["people", "list"]).contains("Ana"));
    assert!(ok(&dir, &["request", "list"]).contains(&reference));
}
