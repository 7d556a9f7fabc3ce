//! What the hub refuses, and that a refusal changes nothing it holds.

mod common;

use common::*;
use relevo_core::op::canonical_bytes;
use relevo_core::{DeviceKey, Op};
use relevo_hub::{Hub, HubError};
use relevo_store::Store;
use relevo_sync::{Request, Response, SyncError};
use std::time::Duration;

/// Everything the hub holds that matters: its log and what it shows.
fn state(hub: &Hub) -> (u64, String, String) {
    hub.with_store(|s| {
        (
            s.op_count().expect("count"),
            format!("{:?}", s.version_vector().expect("vv")),
            s.projection_dump().expect("dump"),
        )
    })
}

/// Pushes `ops` as `store`'s device and returns the hub's refusals.
fn push(hub: &Hub, store: &Store, ops: Vec<Op>) -> Vec<String> {
    let token = store.enrolment().expect("q").expect("enrolled").token;
    let request = Request {
        vector: store.sync_vector().expect("vv"),
        push: ops,
        want: 10,
    };
    let answer = hub.sync(Some(&token), &request.encode()).expect("answered");
    Response::decode(&answer)
        .expect("decode")
        .refused
        .into_iter()
        .map(|(_, why)| why)
        .collect()
}

fn field_device(hub: &Hub, dir: &std::path::Path, name: &str) -> Store {
    let mut s = open_device(&dir.join(name));
    enrol_in_process(hub, &mut s, name, "field-coordinator", "GT");
    s
}

/// A device with a crisis, synced, plus one request the hub does not hold.
fn with_unsent_op(hub: &Hub, dir: &std::path::Path) -> (Store, Op) {
    let mut boss = open_device(&dir.join("boss"));
    enrol_in_process(hub, &mut boss, "Rosa", "regional-director", "PA");
    boss.open_crisis(&crisis()).expect("crisis");
    sync_in_process(hub, &mut boss).expect("sync");
    let mut s = field_device(hub, dir, "Ana");
    sync_in_process(hub, &mut s).expect("sync");
    let crisis = s.crises().expect("c")[0].id;
    s.set_current_crisis(crisis).expect("current");
    s.add_request(&request("GT", "Tecún Umán", 40.0))
        .expect("request");
    let op = s
        .ops()
        .expect("ops")
        .into_iter()
        .rfind(|o| Some(o.body.device) == s.device())
        .expect("op");
    (s, op)
}

#[test]
fn forged_flipped_wrongly_signed_replayed_and_forked_ops_change_nothing() {
    let dir = tempfile::tempdir().expect("tempdir");
    let hub = hub_in_process(dir.path(), generous());
    let (device, op) = with_unsent_op(&hub, dir.path());
    let before = state(&hub);

    let mut forged = op.clone();
    forged.signature[10] ^= 0x01;
    let mut flipped = op.clone();
    flipped.body.payload[5] ^= 0x04;
    let other = DeviceKey::from_secret([77; 32]);
    let wrong_key = Op {
        signature: other.sign(&canonical_bytes(&op.body)),
        body: op.body.clone(),
    };
    // An op whose own signature does not verify is never taken in on its
    // own. It is refused, or (the first) waits for a signed op of its chain
    // to cover it (`relevo_core::op::authenticate_page`): the log and every
    // projection stay as they were.
    for (name, bad) in [
        ("forged", forged),
        ("flipped", flipped),
        ("wrong key", wrong_key),
    ] {
        let refused = push(&hub, &device, vec![bad]);
        assert!(
            refused
                .iter()
                .all(|r| r.contains("signature does not match")),
            "{name}: {refused:?}"
        );
        assert_eq!(
            state(&hub),
            before,
            "{name}: the hub holds exactly what it held"
        );
    }
    assert_eq!(
        hub.with_store(|s| s.pending_count().expect("waiting")),
        1,
        "one of them waits for a cover that never comes"
    );
    // A forged body under the genuine signature can never be covered: a
    // signature covers the hash of the body it signed.
    let mut flipped_again = op.clone();
    flipped_again.body.payload[6] ^= 0x02;
    let refused = push(&hub, &device, vec![flipped_again]);
    assert_eq!(refused.len(), 1, "{refused:?}");
    assert!(refused[0].contains("signature does not match"));

    // The genuine op goes in and takes the waiting one's place; offered
    // again, it is already held.
    assert!(push(&hub, &device, vec![op.clone()]).is_empty());
    let after_one = state(&hub);
    assert_eq!(after_one.0, before.0 + 1);
    assert_eq!(
        hub.with_store(|s| s.pending_count().expect("waiting")),
        0,
        "nothing unsigned is left waiting"
    );
    assert!(
        push(&hub, &device, vec![op.clone()]).is_empty(),
        "a replay is idempotent"
    );
    assert_eq!(state(&hub), after_one, "and stores nothing twice");

    // A fork: the same device and number, other content (a cloned disk).
    let mut clone = op.body.clone();
    clone.payload = op
        .body
        .payload
        .iter()
        .map(|b| if *b == b'4' { b'5' } else { *b })
        .collect();
    assert_ne!(clone.payload, op.body.payload);
    let key = device_key(&device);
    let fork = clone.sign(&key).expect("sign");
    let refused = push(&hub, &device, vec![fork]);
    assert_eq!(refused.len(), 1);
    assert!(refused[0].contains("quarantined"), "{refused:?}");
    assert_eq!(state(&hub), after_one, "the fork is not merged");
    let forks = hub.with_store(|s| s.forks().expect("forks"));
    assert_eq!(forks.len(), 1, "but kept for a director to see");
    assert_eq!(forks[0].seq, op.body.seq);
    assert_eq!(forks[0].author.as_deref(), Some("Ana"));
}

/// The device's key, read back from its own database (tests only).
fn device_key(store: &Store) -> DeviceKey {
    let path = store.path().expect("file store");
    let conn = raw_device(path);
    let secret: Vec<u8> = conn
        .query_row("SELECT secret FROM local_device", [], |r| r.get(0))
        .expect("secret");
    DeviceKey::from_secret(secret.try_into().expect("32 bytes"))
}

#[test]
fn revoked_and_unenrolled_devices_are_refused() {
    let dir = tempfile::tempdir().expect("tempdir");
    let hub = hub_in_process(dir.path(), generous());
    let (mut lost, _) = with_unsent_op(&hub, dir.path());
    sync_in_process(&hub, &mut lost).expect("sync");
    let device = lost.device().expect("device");
    let mut friend = field_device(&hub, dir.path(), "Luis");
    sync_in_process(&hub, &mut friend).expect("sync");
    hub.with_store(|s| s.revoke_device(device, "laptop stolen"))
        .expect("revoke");
    let before = state(&hub);

    // Its own session is refused outright...
    lost.add_request(&request("GT", "El Carmen", 12.0))
        .expect("request");
    assert!(matches!(
        sync_in_process(&hub, &mut lost),
        Err(SyncError::Revoked)
    ));
    // ...and its new op relayed by someone who has not heard of the
    // revocation yet is refused too.
    let newest = lost
        .ops()
        .expect("ops")
        .into_iter()
        .rfind(|o| o.body.device == device)
        .expect("op");
    friend.ingest(&newest).expect("friend holds it");
    let refused = push(&hub, &friend, vec![newest]);
    assert!(refused.iter().any(|r| r.contains("revoked")), "{refused:?}");
    let after = state(&hub);
    assert_eq!(after, before, "nothing was added");
    // Once the friend has heard of the revocation it stops offering the op
    // (it keeps it: nothing is deleted), and its sessions go through.
    sync_in_process(&hub, &mut friend).expect("sync after the revocation arrived");
    let upto = hub.with_store(|s| s.version_vector().expect("vv"))[&device];
    assert_eq!(friend.sync_vector().expect("vv")[&device], upto);
    assert_eq!(friend.version_vector().expect("vv")[&device], upto + 1);
    let after = state(&hub);

    // A device the hub never enrolled.
    let mut stranger = Store::open_in_memory().expect("open");
    stranger
        .init_identity(&identity("X", "field-coordinator", "GT"))
        .expect("init");
    let refused = push(&hub, &friend, stranger.ops().expect("ops"));
    assert!(refused[0].contains("not enrolled"), "{refused:?}");
    assert_eq!(state(&hub), after);

    // No token, an unknown token, garbage.
    assert!(matches!(
        hub.sync(None, b""),
        Err(HubError::Unauthenticated)
    ));
    assert!(matches!(
        hub.sync(Some("nope"), b""),
        Err(HubError::Unauthenticated)
    ));
    let token = friend.enrolment().expect("q").expect("e").token;
    match hub.sync(Some(&token), b"RLVQ\x01garbage") {
        Err(HubError::BadRequest(m)) => assert!(m.contains("sync request"), "{m}"),
        other => panic!("expected a bad request, got {other:?}"),
    }
    assert_eq!(state(&hub), after);
}

/// The limits over real HTTP, against a real hub process: 413 before the
/// body is read, 429 past the rate, 401 without a token, 403 once revoked,
/// 400 with a message for a malformed body; the hub stays up throughout.
#[test]
fn http_limits_on_a_real_hub_process() {
    let dir = tempfile::tempdir().expect("tempdir");
    let db = dir.path().join("hub.db");
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .expect("bind")
        .local_addr()
        .expect("a")
        .port();
    let hub = HubProcess::start_on(&db, port, &["--rate", "1", "--burst", "3"]);
    let mut device = open_device(&dir.path().join("dev"));
    let code = hub.invite("Ana", "field-coordinator", "GT");
    relevo_sync::http::enrol_store(&mut device, &hub.url, &code, false).expect("enrol");
    let token = device.enrolment().expect("q").expect("e").token;
    let agent: ureq::Agent = ureq::Agent::config_builder()
        .http_status_as_error(false)
        .timeout_global(Some(Duration::from_secs(30)))
        .build()
        .into();
    let post = |body: &[u8], token: Option<&str>| {
        let mut req = agent.post(format!("{}/v1/sync", hub.url));
        if let Some(t) = token {
            req = req.header("Authorization", &format!("Bearer {t}"));
        }
        let mut resp = req.send(body).expect("answered");
        let status = resp.status().as_u16();
        (status, resp.body_mut().read_to_string().unwrap_or_default())
    };

    // Too large: refused on the declared length, before any of the body is
    // read. (Sending the 9 MiB body too would race the hub's early answer
    // against the client's writing, and a closed socket is not an answer.)
    {
        use std::io::{Read, Write};
        let addr = hub.url.trim_start_matches("http://").to_owned();
        let mut tcp = std::net::TcpStream::connect(&addr).expect("connect");
        tcp.set_read_timeout(Some(Duration::from_secs(30)))
            .expect("timeout");
        write!(
            tcp,
            "POST /v1/sync HTTP/1.1\r\nHost: {addr}\r\nAuthorization: Bearer {token}\r\nContent-Length: {}\r\n\r\n",
            9 << 20
        )
        .expect("send head");
        let mut head = [0u8; 12];
        tcp.read_exact(&mut head).expect("answered");
        assert_eq!(&head, b"HTTP/1.1 413", "too large");
    }
    let (status, body) = post(b"", None);
    assert_eq!(status, 401, "{body}");
    let (status, body) = post(b"not a sync request", Some(&token));
    assert_eq!(status, 400);
    assert!(body.contains("not a Relevo sync request"), "{body}");
    // The burst is spent by now; the next ones are limited.
    let statuses: Vec<u16> = (0..5).map(|_| post(b"x", Some(&token)).0).collect();
    assert!(statuses.contains(&429), "{statuses:?}");

    let out = std::process::Command::new(HUB)
        .args(["revoke", "--db"])
        .arg(&db)
        .args(["--device", &device.device().expect("d").to_string()])
        .output()
        .expect("revoke");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    std::thread::sleep(Duration::from_millis(1100));
    let (status, body) = post(b"x", Some(&token));
    assert_eq!(status, 403, "{body}");
    let health = relevo_sync::http::Client::new(&hub.url)
        .expect("url")
        .health()
        .expect("still up");
    assert_eq!(health.status, "ok");
    let log = hub.log_text();
    assert!(!log.contains("panicked"), "{log}");
}
