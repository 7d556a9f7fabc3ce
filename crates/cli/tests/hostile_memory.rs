//! Hostile bytes of at most 4 KB against the real `relevo` binary: a fake
//! hub answering a sync, and bundle files. The peak resident memory of
//! each run (from the kernel's accounting of waited children) stays under
//! the peak of a benign run plus 64 MiB.
//!
//! One test in its own binary: the children's peak is counted for the
//! whole test process, so nothing else may run beside it.

mod common;

use common::*;
use nix::sys::resource::{getrusage, UsageWho};
use std::io::{Read, Write};
use std::path::Path;
use std::process::Command;

/// The largest peak resident memory of any child waited for so far, KiB.
fn children_peak_kib() -> i64 {
    getrusage(UsageWho::RUSAGE_CHILDREN)
        .expect("getrusage")
        .max_rss()
}

/// `magic | version | zstd(plain)`, as Relevo packs a message.
fn packed(magic: &[u8; 4], plain: &[u8]) -> Vec<u8> {
    let mut out = magic.to_vec();
    out.push(3);
    out.extend(zstd::bulk::compress(plain, 19).expect("zstd"));
    out
}

/// `magic | version | zstd(64 MiB of zeros)`, made a piece at a time: this
/// process's own memory is what a child starts from, so it stays small.
fn bomb(magic: &[u8; 4]) -> Vec<u8> {
    let mut out = magic.to_vec();
    out.push(3);
    let mut encoder = zstd::stream::write::Encoder::new(out, 3).expect("zstd");
    let zeros = [0u8; 1 << 16];
    for _ in 0..1024 {
        encoder.write_all(&zeros).expect("write");
    }
    encoder.finish().expect("finish")
}

/// A postcard list that declares `n` items, then zero bytes.
fn declares(prefix: &[u8], n: u64, zeros: usize) -> Vec<u8> {
    let mut plain = prefix.to_vec();
    let mut n = n;
    while n >= 0x80 {
        plain.push((n as u8) | 0x80);
        n >>= 7;
    }
    plain.push(n as u8);
    plain.extend(std::iter::repeat_n(0u8, zeros));
    plain
}

/// Answers every HTTP request on `listener` with `body`, `times` times.
fn fake_hub(listener: std::net::TcpListener, body: Vec<u8>, times: usize) {
    std::thread::spawn(move || {
        for stream in listener.incoming().take(times) {
            let Ok(mut s) = stream else { continue };
            let mut buf = [0u8; 65536];
            let _ = s.set_read_timeout(Some(std::time::Duration::from_millis(300)));
            let _ = s.read(&mut buf);
            let _ = write!(
                s,
                "HTTP/1.1 200 OK\r\nContent-Type: application/octet-stream\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
                body.len()
            );
            let _ = s.write_all(&body);
        }
    });
}

#[test]
fn a_few_hostile_kilobytes_cost_the_cli_little_memory() {
    let root = tempfile::tempdir().expect("tempdir");
    let dir = root.path().join("device");
    let setup = |args: &[&str]| {
        let out = relevo(&dir, args);
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
    };
    device(&dir);
    // The device is enrolled with a real hub (a sync and a sealed bundle
    // need it).
    let hub_bin = Path::new(env!("CARGO_BIN_EXE_relevo")).with_file_name("relevo-hub");
    let db = root.path().join("hub.db");
    let code = {
        let out = Command::new(&hub_bin)
            .args(["invite", "--db"])
            .arg(&db)
            .args([
                "--name",
                "Ana",
                "--role",
                "regional-director",
                "--country",
                "GT",
                "--quiet",
            ])
            .output()
            .expect("invite");
        String::from_utf8(out.stdout)
            .expect("utf8")
            .trim()
            .to_owned()
    };
    let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
    let port = listener.local_addr().expect("addr").port();
    drop(listener);
    struct Kill(std::process::Child);
    impl Drop for Kill {
        fn drop(&mut self) {
            let _ = self.0.kill();
            let _ = self.0.wait();
        }
    }
    let _hub = Kill(
        Command::new(&hub_bin)
            .args(["serve", "--db"])
            .arg(&db)
            .args(["--listen", &format!("127.0.0.1:{port}")])
            .stderr(std::process::Stdio::null())
            .spawn()
            .expect("serve"),
    );
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(20);
    while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
        assert!(std::time::Instant::now() < deadline, "hub did not start");
        std::thread::sleep(std::time::Duration::from_millis(50));
    }
    setup(&[
        "enrol",
        "--hub",
        &format!("http://127.0.0.1:{port}"),
        "--code",
        &code,
    ]);
    setup(&["sync"]);
    // A benign run of each kind sets the baseline: a real bundle import.
    let bundle = root.path().join("ok.rlvb");
    setup(&["bundle", "export", bundle.to_str().expect("utf8")]);
    setup(&["bundle", "import", bundle.to_str().expect("utf8")]);
    setup(&["request", "list"]);
    let baseline = children_peak_kib();
    let allowed = baseline + 64 * 1024;

    // Bundles: millions of declared empty runs; a decompression bomb.
    let hostile_bundles = [
        packed(b"RLVB", &declares(&[0, 0, 0, 0], 50_000_000, 900_000)),
        bomb(b"RLVB"),
    ];
    for (i, data) in hostile_bundles.iter().enumerate() {
        assert!(data.len() <= 4096, "bundle {i}: {} bytes", data.len());
        let file = root.path().join(format!("hostile-{i}.rlvb"));
        std::fs::write(&file, data).expect("write");
        let out = relevo(&dir, &["bundle", "import", file.to_str().expect("utf8")]);
        let err = String::from_utf8_lossy(&out.stderr);
        assert_eq!(
            out.status.code(),
            Some(i32::from(ErrorCode::Sync.exit_status())),
            "bundle {i}: {err}"
        );
        assert!(
            err.contains("bundle is damaged") || err.contains("unpacks to more than"),
            "bundle {i}: {err}"
        );
        let peak = children_peak_kib();
        assert!(
            peak <= allowed,
            "bundle {i}: peak {peak} KiB, baseline {baseline} KiB"
        );
    }

    // A fake hub over plain http answering a sync with the same bytes.
    let baseline = baseline.max(children_peak_kib());
    let allowed = baseline + 64 * 1024;
    let hostile_answers = [
        packed(b"RLVA", &declares(&[0, 0], 50_000_000, 900_000)),
        packed(b"RLVA", &declares(&[0, 0, 0, 0, 0], 50_000_000, 900_000)),
        bomb(b"RLVA"),
    ];
    for (i, body) in hostile_answers.into_iter().enumerate() {
        assert!(body.len() <= 4096, "answer {i}: {} bytes", body.len());
        let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
        let url = format!("http://{}", listener.local_addr().expect("addr"));
        fake_hub(listener, body, 4);
        let out = relevo(&dir, &["sync", "--hub", &url]);
        let err = String::from_utf8_lossy(&out.stderr);
        assert_eq!(
            out.status.code(),
            Some(i32::from(ErrorCode::Sync.exit_status())),
            "answer {i}: {err}"
        );
        assert!(err.contains("sync response"), "answer {i}: {err}");
        let peak = children_peak_kib();
        assert!(
            peak <= allowed,
            "answer {i}: peak {peak} KiB, baseline {baseline} KiB"
        );
    }
    // Nothing recorded was lost.
    let out = relevo(&dir, &["verify"]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stdout)
    );
}
