//! Data in transit: a hub serving TLS itself with a self-signed
//! certificate, pinned through the invitation; a hub presenting another
//! certificate refused; plain http refused across the network unless
//! allowed explicitly, by the device and by the hub. Real `relevo-hub` and
//! `relevo` processes.

mod common;

use common::*;
use std::path::Path;
use std::process::Command;

/// A self-signed pair made by `relevo-hub certificate`, and its pin as printed.
fn certificate(dir: &Path, name: &str) -> (String, String, String) {
    let cert = dir.join(format!("{name}.crt")).display().to_string();
    let key = dir.join(format!("{name}.key")).display().to_string();
    let said = hub_run(&["certificate", "--tls-cert", &cert, "--tls-key", &key]);
    let pin = said
        .lines()
        .find_map(|l| l.strip_prefix("Fingerprint: "))
        .expect("the fingerprint is printed")
        .to_owned();
    (cert, key, pin)
}

fn text(out: &std::process::Output) -> String {
    format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    )
}

#[test]
fn a_self_signed_hub_is_pinned_by_the_invitation_and_an_impostor_is_refused() {
    let dir = tempfile::tempdir().expect("tempdir");
    let (cert, key, pin) = certificate(dir.path(), "hub");
    assert!(pin.starts_with("sha256:") && pin.len() == 71, "{pin}");
    let db = dir.path().join("hub.db");
    let port = free_port();
    let hub = HubProcess::start_on(&db, port, &["--tls-cert", &cert, "--tls-key", &key]);
    assert!(hub.url.starts_with("https://"));
    assert!(hub.log_text().contains(&pin), "the hub logs what it serves");

    let invitation = hub_run(&[
        "invite",
        "--db",
        db.to_str().expect("utf8"),
        "--tls-cert",
        &cert,
        "--name",
        "Ana",
        "--role",
        "field-coordinator",
        "--country",
        "GT",
        "--quiet",
    ]);
    let invitation = invitation.trim();
    assert!(invitation.ends_with(&format!("#{pin}")), "{invitation}");

    // The pinned hub: enrolment and sync over TLS.
    let ana = dir.path().join("ana");
    let out = relevo_run(&ana, &["enrol", "--hub", &hub.url, "--code", invitation]);
    assert!(out.status.success(), "{}", text(&out));
    let out = relevo_run(
        &ana,
        &["crisis", "open", "--name", "Flujo", "--countries", "GT"],
    );
    assert!(out.status.success(), "{}", text(&out));
    let out = relevo_run(&ana, &["sync"]);
    assert!(out.status.success(), "{}", text(&out));
    assert!(
        text(&out).contains("0 of this device's ops not on the hub"),
        "{}",
        text(&out)
    );

    // Without the fingerprint, nothing vouches for the certificate.
    let code = invitation.split('#').next().expect("code");
    let bo = dir.path().join("bo");
    let out = relevo_run(&bo, &["enrol", "--hub", &hub.url, "--code", code]);
    // Refused as a sync failure (see `relevo --help`).
    assert_eq!(out.status.code(), Some(18));
    assert!(
        text(&out).contains("no authority vouches"),
        "{}",
        text(&out)
    );

    // The same address, another certificate: an impostor, refused by name.
    drop(hub);
    let (other_cert, other_key, other_pin) = certificate(dir.path(), "impostor");
    let _impostor = HubProcess::start_on(
        &dir.path().join("impostor.db"),
        port,
        &["--tls-cert", &other_cert, "--tls-key", &other_key],
    );
    let before = relevo_run(&ana, &["status", "--json"]).stdout;
    let out = relevo_run(&ana, &["sync"]);
    assert_eq!(out.status.code(), Some(18), "{}", text(&out));
    let said = text(&out);
    assert!(
        said.contains("not the one pinned") && said.contains(&other_pin),
        "{said}"
    );
    assert_eq!(
        relevo_run(&ana, &["status", "--json"]).stdout,
        before,
        "nothing changed"
    );
}

/// This machine's first non-loopback IPv4 address, if it has one.
fn lan_address() -> Option<String> {
    let out = Command::new("ip")
        .args(["-4", "-o", "addr"])
        .output()
        .ok()?;
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .filter_map(|l| l.split_whitespace().nth(3))
        .filter_map(|cidr| cidr.split('/').next())
        .find(|ip| !ip.starts_with("127."))
        .map(str::to_owned)
}

#[test]
fn plain_http_across_the_network_is_refused_unless_allowed() {
    let dir = tempfile::tempdir().expect("tempdir");
    let db = dir.path().join("hub.db");
    // The hub will not serve plain http where other machines reach it...
    let out = Command::new(HUB)
        .args([
            "serve",
            "--db",
            db.to_str().expect("utf8"),
            "--listen",
            "0.0.0.0:0",
        ])
        .output()
        .expect("serve");
    assert_eq!(out.status.code(), Some(1));
    let said = String::from_utf8_lossy(&out.stderr);
    assert!(said.contains("refusing to serve plain http"), "{said}");
    assert!(said.contains("--tls-cert"), "says what to do: {said}");

    // ...nor will a device send to it, without being told explicitly.
    let port = free_port();
    let address = lan_address().unwrap_or_else(|| "192.0.2.1".into());
    let url = format!("http://{address}:{port}");
    let ana = dir.path().join("ana");
    let out = relevo_run(
        &ana,
        &["enrol", "--hub", &url, "--code", "00000-00000-00000-00000"],
    );
    assert_eq!(out.status.code(), Some(18));
    assert!(text(&out).contains("refusing plain http"), "{}", text(&out));

    // Both told explicitly (a hub behind a TLS proxy, a trusted network).
    let Some(_) = lan_address() else {
        eprintln!("no non-loopback address here: the allowed half was not run");
        return;
    };
    let hub = HubProcess::start_on(
        &db,
        port,
        &["--listen", &format!("0.0.0.0:{port}"), "--plain-http"],
    );
    let code = hub.invite("Ana", "field-coordinator", "GT");
    let out = relevo_run(
        &ana,
        &["enrol", "--hub", &url, "--code", &code, "--allow-http"],
    );
    assert!(out.status.success(), "{}", text(&out));
    let out = relevo_run(&ana, &["sync"]);
    assert!(
        out.status.success(),
        "the permission is kept: {}",
        text(&out)
    );
}

/// A hub never redirects; a device does not follow an answer that tries,
/// so the token cannot be led to another address.
#[test]
fn a_redirect_is_not_followed() {
    use std::io::{Read, Write};
    let elsewhere = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
    elsewhere.set_nonblocking(true).expect("nonblocking");
    let target = format!("http://{}/v1/health", elsewhere.local_addr().expect("addr"));
    let fake = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
    let url = format!("http://{}", fake.local_addr().expect("addr"));
    let server = std::thread::spawn(move || {
        let (mut s, _) = fake.accept().expect("accept");
        let mut buf = [0u8; 4096];
        let _ = s.read(&mut buf);
        let _ = write!(
            s,
            "HTTP/1.1 302 Found\r\nLocation: {target}\r\nContent-Length: 0\r\nConnection: close\r\n\r\n"
        );
    });
    let client = relevo_sync::http::Client::new(&url).expect("url");
    let err = client.health().expect_err("a redirect is an error");
    server.join().expect("server");
    assert!(err.to_string().contains("302"), "{err}");
    assert!(
        elsewhere.accept().is_err(),
        "nothing connected to the address the redirect named"
    );
}
