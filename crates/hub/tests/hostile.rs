//! Hostile input against a real `relevo-hub` process on loopback: what one
//! enrolled device or a few bytes from anyone must not be able to do.

mod common;

use common::*;
use relevo_core::payload::{HubDeclared, Payload};
use relevo_sync::http::Client;
use std::io::{Read, Write};
use std::net::TcpStream;
use std::time::{Duration, Instant};

/// A director with a crisis and a field coordinator, both synced.
fn network(dir: &std::path::Path, hub: &HubProcess) -> (relevo_store::Store, relevo_store::Store) {
    let mut boss = enrolled(dir, "boss", hub, "regional-director", "PA");
    boss.open_crisis(&crisis()).expect("crisis");
    sync(&mut boss);
    let mut field = enrolled(dir, "field", hub, "field-coordinator", "GT");
    sync(&mut field);
    let c = field.crises().expect("c")[0].id;
    field.set_current_crisis(c).expect("current");
    field
        .add_request(&request("GT", "Tecún Umán", 40.0))
        .expect("request");
    (boss, field)
}

/// One op naming an op that will never exist stops nobody: it waits on
/// the hub, uncounted; every session ends; the hub lists it with what it
/// waits for; revoking its device drops it; a restart changes nothing.
#[test]
fn an_op_naming_what_never_comes_stops_no_one() {
    let dir = tempfile::tempdir().expect("tempdir");
    let mut hub = HubProcess::start(dir.path());
    let (mut boss, mut field) = network(dir.path(), &hub);
    let mut rogue = Rogue::enrol(&hub);
    let orphan = rogue.orphan_note();
    let after = rogue.orphan_note();
    let answer = push_http(&hub.url, &rogue.token, vec![orphan.clone(), after]);
    assert!(answer.refused.is_empty(), "{:?}", answer.refused);
    assert_eq!(answer.waiting.len(), 2, "both wait on the hub");
    assert_eq!(
        answer.vector.get(&rogue.key.device_id()),
        None,
        "a version vector counts only applied ops"
    );
    let listed = hub_cli(&hub.db, &["waiting"]);
    assert!(
        listed.contains("which it names") && listed.contains("#1 ") && listed.contains("#2 "),
        "the hub lists each waiting op with what it waits for:\n{listed}"
    );

    // Everyone else's sessions end, having moved what can move.
    let report = sync(&mut field);
    assert_eq!(report.unmoved, 0, "{report:?}");
    assert!(report.rounds <= 3, "{report:?}");
    let report = sync(&mut boss);
    assert_eq!(report.unmoved, 0, "{report:?}");
    assert_eq!(
        boss.requests(boss.crises().expect("c")[0].id)
            .expect("r")
            .len(),
        1,
        "the field coordinator's request reached the director"
    );

    // Restarting the hub changes nothing.
    let db = hub.db.clone();
    let port = hub.port;
    hub.kill();
    let hub = HubProcess::start_on(&db, port, &[]);
    assert_eq!(sync(&mut boss).unmoved, 0);

    // Revoking the device drops what it left waiting.
    let out = std::process::Command::new(HUB)
        .args(["revoke", "--db"])
        .arg(&hub.db)
        .args(["--device", &rogue.key.device_id().to_string()])
        .output()
        .expect("revoke");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(
        hub_cli(&hub.db, &["waiting"]).contains("No op is waiting"),
        "revoking a device drops its waiting ops"
    );
    assert_eq!(sync(&mut boss).unmoved, 0);
}

/// Waiting ops and quarantined forks are bounded per device, survive a
/// restart bounded, and an administrator lists and drops them.
#[test]
fn waiting_ops_and_forks_are_bounded_per_device() {
    let dir = tempfile::tempdir().expect("tempdir");
    let hub = HubProcess::start(dir.path());
    let mut rogue = Rogue::enrol(&hub);
    let limit = relevo_store::MAX_WAITING_OPS as usize;
    let ops: Vec<_> = (0..limit + 40).map(|_| rogue.orphan_note()).collect();
    let mut refused = Vec::new();
    let mut waiting = 0;
    for page in ops.chunks(2000) {
        let answer = push_http(&hub.url, &rogue.token, page.to_vec());
        waiting += answer.waiting.len();
        refused.extend(answer.refused);
    }
    assert_eq!(waiting, limit, "no more than the allowance waits");
    assert_eq!(refused.len(), 40);
    assert!(
        refused[0]
            .1
            .contains("the most one device may have waiting"),
        "{}",
        refused[0].1
    );
    // Forks: many different ops under one number.
    let forks: Vec<_> = (0..relevo_store::MAX_FORKS + 20)
        .map(|_| {
            rogue.rewind();
            rogue.orphan_note()
        })
        .collect();
    let answer = push_http(&hub.url, &rogue.token, forks);
    assert_eq!(
        answer.refused.len() as u64,
        relevo_store::MAX_FORKS + 20,
        "every fork is named as one"
    );
    let json = hub_cli(&hub.db, &["forks", "--json"]);
    let held: Vec<serde_json::Value> = serde_json::from_str(&json).expect("json");
    assert!(
        held.len() as u64 <= relevo_store::MAX_FORKS,
        "{} forks kept",
        held.len()
    );
    let json = hub_cli(&hub.db, &["waiting", "--json"]);
    let listed: Vec<serde_json::Value> = serde_json::from_str(&json).expect("json");
    assert_eq!(listed.len(), limit);
    assert!(hub_cli(&hub.db, &["waiting", "--drop"]).contains(&format!("Dropped {limit}")));
    assert!(hub_cli(&hub.db, &["forks", "--drop"]).contains("Dropped"));
    assert!(hub_cli(&hub.db, &["waiting"]).contains("No op is waiting"));
}

/// Clocks: an op stamped years ahead waits and drags no clock; the largest
/// clock is refused and enrolment still works; an impossible sequence
/// number in a vector gets a 400 that names it, with no internal message.
#[test]
fn clocks_and_numbers_from_outside_are_bounded() {
    let dir = tempfile::tempdir().expect("tempdir");
    let hub = HubProcess::start(dir.path());
    let mut rogue = Rogue::enrol(&hub);
    let ten_years = now_ms() + 10 * 365 * 24 * 3600 * 1000;
    let note = Payload::HubDeclare(HubDeclared {
        name: "not a hub".into(),
    });
    let future = rogue.op_at(&note, ten_years);
    let answer = push_http(&hub.url, &rogue.token, vec![future]);
    assert_eq!(answer.waiting.len(), 1, "it waits for its time");
    assert!(hub_cli(&hub.db, &["waiting"]).contains("its time"));

    let last = Rogue::enrol(&hub);
    let extreme = {
        let op = relevo_core::UnsignedOp {
            device: last.key.device_id(),
            seq: 1,
            hlc: relevo_core::Hlc::new(u64::MAX, u32::MAX),
            author: last.person,
            kind: note.kind().into(),
            payload: note.encode(),
            prev: relevo_core::OpHash::GENESIS,
        };
        relevo_core::Op {
            signature: last.key.sign(&relevo_core::op::canonical_bytes(&op)),
            body: op,
        }
    };
    // The wire refuses such a clock before the store sees it.
    let request = relevo_sync::Request {
        vector: Default::default(),
        push: vec![extreme],
        want: 10,
    };
    let status = raw_post(&hub, &last.token, &request.encode());
    assert!(status.starts_with("HTTP/1.1 400"), "{status}");

    // Enrolment still works, and the hub's clock was not dragged.
    let mut d = enrolled(dir.path(), "later", &hub, "field-coordinator", "GT");
    sync(&mut d);
    let grant_time = d
        .ops()
        .expect("ops")
        .into_iter()
        .filter(|o| Some(o.body.device) == d.hub())
        .map(|o| o.body.hlc.wall_ms)
        .max()
        .expect("hub ops");
    assert!(
        grant_time < now_ms() + 3_600_000,
        "the hub's clock stayed near now ({grant_time})"
    );

    // A vector claiming op 2^64-1.
    let mut vector = relevo_store::Vector::new();
    vector.insert(rogue.key.device_id(), u64::MAX);
    let request = relevo_sync::Request {
        vector,
        push: Vec::new(),
        want: 10,
    };
    let answer = raw_post(&hub, &rogue.token, &request.encode());
    assert!(answer.starts_with("HTTP/1.1 400"), "{answer}");
    assert!(answer.contains("cannot exist"), "{answer}");
    assert!(
        !answer.contains("panick") && !answer.contains("overflow"),
        "{answer}"
    );
}

/// POSTs a sync body with a token over a plain socket; the whole answer.
fn raw_post(hub: &HubProcess, token: &str, body: &[u8]) -> String {
    let mut s = TcpStream::connect(("127.0.0.1", hub.port)).expect("connect");
    s.set_read_timeout(Some(Duration::from_secs(30)))
        .expect("timeout");
    write!(
        s,
        "POST /v1/sync HTTP/1.1\r\nHost: hub\r\nAuthorization: Bearer {token}\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
        body.len()
    )
    .expect("head");
    s.write_all(body).expect("body");
    let mut answer = Vec::new();
    let _ = s.read_to_end(&mut answer);
    String::from_utf8_lossy(&answer).into_owned()
}

/// A connection from a given loopback address.
fn connect_from(source: &str, port: u16) -> std::io::Result<TcpStream> {
    let socket = socket2::Socket::new(socket2::Domain::IPV4, socket2::Type::STREAM, None)?;
    socket.bind(
        &format!("{source}:0")
            .parse::<std::net::SocketAddr>()
            .expect("addr")
            .into(),
    )?;
    socket.connect(
        &format!("127.0.0.1:{port}")
            .parse::<std::net::SocketAddr>()
            .expect("addr")
            .into(),
    )?;
    Ok(socket.into())
}

fn get_health(source: &str, port: u16) -> String {
    let mut s = connect_from(source, port).expect("connect");
    s.set_read_timeout(Some(Duration::from_secs(10)))
        .expect("timeout");
    s.write_all(b"GET /v1/health HTTP/1.1\r\nHost: hub\r\nConnection: close\r\n\r\n")
        .expect("write");
    let mut answer = Vec::new();
    let _ = s.read_to_end(&mut answer);
    String::from_utf8_lossy(&answer).into_owned()
}

/// Does the server close this connection (read gives end of file) within
/// `bound`?
fn closed_within(s: &mut TcpStream, bound: Duration) -> bool {
    s.set_read_timeout(Some(bound)).expect("timeout");
    let mut buf = [0u8; 512];
    loop {
        match s.read(&mut buf) {
            Ok(0) => return true,
            Ok(_) => continue,
            Err(e) if e.kind() == std::io::ErrorKind::ConnectionReset => return true,
            Err(_) => return false,
        }
    }
}

/// Idle sockets past the usual 1,024 file limit lock no one out; slow
/// headers and slow bodies are dropped; a body is not read before its
/// sender is authenticated.
#[test]
fn connections_are_capped_timed_and_authenticated_first() {
    let dir = tempfile::tempdir().expect("tempdir");
    // The hub runs under a 1,024 file limit (soft and hard).
    let db = dir.path().join("hub.db");
    let port = {
        let l = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
        l.local_addr().expect("addr").port()
    };
    let wrapper = dir.path().join("limited.sh");
    std::fs::write(
        &wrapper,
        format!("#!/bin/sh\nulimit -n 1024\nexec {HUB} \"$@\"\n"),
    )
    .expect("script");
    std::process::Command::new("chmod")
        .args(["+x"])
        .arg(&wrapper)
        .status()
        .expect("chmod");
    let hub = HubProcess::start_with(
        &wrapper,
        &db,
        port,
        &["--header-timeout", "2", "--body-grace", "2"],
    );

    let hub_id = hub_identity(&hub);
    // 1,100 idle sockets from one address.
    let mut idle = Vec::new();
    for _ in 0..1100 {
        match connect_from("127.0.0.1", port) {
            Ok(s) => idle.push(s),
            Err(_) => break,
        }
    }
    let answer = get_health("127.0.0.2", port);
    assert!(answer.starts_with("HTTP/1.1 200"), "health: {answer:?}");
    let code = hub.invite("Ana", "field-coordinator", "GT");
    let mut s = connect_from("127.0.0.3", port).expect("connect");
    s.set_read_timeout(Some(Duration::from_secs(10)))
        .expect("timeout");
    let (key, person) = relevo_store::new_device_identity();
    let body = serde_json::to_vec(&relevo_sync::http::EnrolRequest::signed(
        &hub_id,
        &code,
        key.device_id(),
        person,
        |m| key.sign(m),
    ))
    .expect("json");
    write!(
        s,
        "POST /v1/enrol HTTP/1.1\r\nHost: hub\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
        body.len()
    )
    .expect("head");
    s.write_all(&body).expect("body");
    let mut answer = Vec::new();
    let _ = s.read_to_end(&mut answer);
    assert!(
        answer.starts_with(b"HTTP/1.1 200"),
        "enrolment: {}",
        String::from_utf8_lossy(&answer[..answer.len().min(300)])
    );
    // The idle ones are closed by the hub.
    let first = idle.first_mut().expect("one idle socket");
    assert!(
        closed_within(first, Duration::from_secs(30)),
        "an idle socket was kept open"
    );
    drop(idle);

    // Headers that never finish.
    let mut slow = connect_from("127.0.0.4", port).expect("connect");
    slow.write_all(b"POST /v1/sync HTTP/1.1\r\nHost: hub\r\n")
        .expect("write");
    assert!(
        closed_within(&mut slow, Duration::from_secs(30)),
        "slow headers were never dropped"
    );

    // A body from someone with no token is never read: the refusal comes
    // before a byte of it is sent.
    let mut s = connect_from("127.0.0.5", port).expect("connect");
    s.write_all(b"POST /v1/sync HTTP/1.1\r\nHost: hub\r\nAuthorization: Bearer nope\r\nContent-Length: 8388608\r\n\r\n")
        .expect("head");
    s.set_read_timeout(Some(Duration::from_secs(10)))
        .expect("timeout");
    let mut buf = [0u8; 64];
    let n = s.read(&mut buf).expect("an answer before the body");
    assert!(
        buf[..n].starts_with(b"HTTP/1.1 401"),
        "{}",
        String::from_utf8_lossy(&buf[..n])
    );

    // A body trickled slower than the minimum rate is dropped.
    let mut d = open_device(&dir.path().join("dev"));
    let code = hub.invite("Luis", "field-coordinator", "GT");
    relevo_sync::http::enrol_store(&mut d, &hub.url, &code, false).expect("enrol");
    let token = d.enrolment().expect("q").expect("e").token;
    let mut s = connect_from("127.0.0.6", port).expect("connect");
    write!(s, "POST /v1/sync HTTP/1.1\r\nHost: hub\r\nAuthorization: Bearer {token}\r\nContent-Length: 100000\r\n\r\n")
        .expect("head");
    let started = Instant::now();
    let mut answer = Vec::new();
    s.set_read_timeout(Some(Duration::from_millis(500)))
        .expect("timeout");
    while started.elapsed() < Duration::from_secs(40) && answer.is_empty() {
        let _ = s.write_all(b"x");
        let mut buf = [0u8; 256];
        match s.read(&mut buf) {
            Ok(0) => break,
            Ok(n) => answer.extend_from_slice(&buf[..n]),
            Err(_) => {}
        }
    }
    assert!(
        answer.starts_with(b"HTTP/1.1 408"),
        "a body trickled at 2 bytes a second was still read after {:?}: {}",
        started.elapsed(),
        String::from_utf8_lossy(&answer)
    );
}

/// Invitation codes and tokens cannot be guessed at speed: an address that
/// keeps trying is told to wait.
#[test]
fn guessing_codes_and_tokens_is_slowed_per_address() {
    let dir = tempfile::tempdir().expect("tempdir");
    let hub = HubProcess::start(dir.path());
    let mut legit = enrolled(dir.path(), "legit", &hub, "regional-director", "PA");
    let client = Client::new(&hub.url).expect("url");
    let hub_id = hub_identity(&hub);
    let mut statuses = Vec::new();
    for i in 0..15 {
        let (key, person) = relevo_store::new_device_identity();
        let e = client
            .enrol(&relevo_sync::http::EnrolRequest::signed(
                &hub_id,
                &format!("guess-{i}"),
                key.device_id(),
                person,
                |m| key.sign(m),
            ))
            .expect_err("a guess");
        statuses.push(match e {
            relevo_sync::SyncError::Enrolment { status, .. } => status,
            relevo_sync::SyncError::Http { status, .. } => status,
            other => panic!("{other}"),
        });
    }
    assert_eq!(statuses[0], 422, "a wrong code is named as such");
    assert!(statuses.contains(&429), "guessing is slowed: {statuses:?}");
    let mut last = 0;
    for _ in 0..40 {
        use relevo_sync::Transport;
        last = match client.session("0000").exchange(b"x") {
            Err(relevo_sync::SyncError::Unauthorized) => 401,
            Err(relevo_sync::SyncError::Http { status, .. }) => status,
            other => panic!("{other:?}"),
        };
    }
    assert_eq!(last, 429, "failed tokens from one address are slowed");
    // A device with a valid token at the same address still syncs.
    legit.open_crisis(&crisis()).expect("crisis");
    assert_eq!(sync(&mut legit).unmoved, 0);
    // Another address is not affected.
    assert!(get_health("127.0.0.9", hub.port).starts_with("HTTP/1.1 200"));
}

/// Sync bodies of at most 4 KB that declare millions of items, or unpack
/// to 64 MiB, two at a time: the hub's peak memory stays under its
/// baseline plus 64 MiB, and it answers each with a 400.
#[test]
fn a_few_hostile_kilobytes_cost_the_hub_little_memory() {
    let dir = tempfile::tempdir().expect("tempdir");
    let hub = HubProcess::start(dir.path());
    let mut d = enrolled(dir.path(), "a", &hub, "regional-director", "PA");
    d.open_crisis(&crisis()).expect("crisis");
    sync(&mut d);
    // One device per hostile body, each sending it twice at once (a device
    // may have two requests under way).
    let tokens: Vec<String> = (0..3)
        .map(|i| {
            let mut s = enrolled(
                dir.path(),
                &format!("h{i}"),
                &hub,
                "field-coordinator",
                "GT",
            );
            sync(&mut s);
            s.enrolment().expect("q").expect("e").token
        })
        .collect();
    let baseline = peak_rss_kib(hub.pid());
    let varint = |mut n: u64, out: &mut Vec<u8>| {
        while n >= 0x80 {
            out.push((n as u8) | 0x80);
            n >>= 7;
        }
        out.push(n as u8);
    };
    let pack = |plain: &[u8]| {
        let mut out = b"RLVQ".to_vec();
        out.push(relevo_sync::wire::VERSION);
        out.extend(zstd::bulk::compress(plain, 19).expect("zstd"));
        out
    };
    let mut bodies = Vec::new();
    // A vector of 50 million empty heads.
    let mut plain = Vec::new();
    varint(50_000_000, &mut plain);
    plain.extend(std::iter::repeat_n(0u8, 900_000));
    bodies.push(pack(&plain));
    // An empty vector, then 50 million empty runs.
    let mut plain = vec![0u8];
    varint(50_000_000, &mut plain);
    plain.extend(std::iter::repeat_n(0u8, 900_000));
    bodies.push(pack(&plain));
    // A decompression bomb, made a piece at a time.
    let mut bomb = b"RLVQ".to_vec();
    bomb.push(relevo_sync::wire::VERSION);
    let mut encoder = zstd::stream::write::Encoder::new(bomb, 3).expect("zstd");
    for _ in 0..1024 {
        encoder.write_all(&[0u8; 1 << 16]).expect("write");
    }
    bodies.push(encoder.finish().expect("finish"));
    for body in &bodies {
        assert!(body.len() <= 4096, "{} bytes", body.len());
    }
    std::thread::scope(|scope| {
        for (body, token) in bodies.iter().zip(&tokens) {
            for _ in 0..2 {
                let hub = &hub;
                scope.spawn(move || {
                    let answer = raw_post(hub, token, body);
                    assert!(answer.starts_with("HTTP/1.1 400"), "{answer}");
                });
            }
        }
    });
    let peak = peak_rss_kib(hub.pid());
    assert!(
        peak <= baseline + 64 * 1024,
        "peak {peak} KiB against a baseline of {baseline} KiB"
    );
    assert_eq!(sync(&mut d).unmoved, 0, "the hub still serves");
}

/// A bundle of the right network carrying a stranger's valid chain: the
/// real `relevo bundle import` refuses the stranger's ops, holds none of
/// them and keeps the stranger out of the device's vector.
#[test]
fn a_bundle_with_a_strangers_chain_is_refused_by_the_cli() {
    #[derive(serde::Serialize)]
    struct Bundle {
        #[serde(with = "serde_bytes")]
        hub: Vec<u8>,
        #[serde(with = "serde_bytes")]
        made_by: Vec<u8>,
        made_at: u64,
        vector: relevo_sync::wire::WireVector,
        runs: Vec<relevo_sync::wire::Run>,
    }
    let dir = tempfile::tempdir().expect("tempdir");
    let hub = HubProcess::start(dir.path());
    let mut d = enrolled(dir.path(), "a", &hub, "regional-director", "PA");
    sync(&mut d);
    let hub_id = d.hub().expect("hub");
    drop(d);
    let mut stranger = relevo_store::Store::open_in_memory().expect("open");
    stranger
        .init_identity(&identity("Intruso", "regional-director", "GT"))
        .expect("init");
    stranger.open_crisis(&crisis()).expect("crisis");
    let ops = stranger.ops().expect("ops");
    let body = Bundle {
        hub: hub_id.as_bytes().to_vec(),
        made_by: stranger.device().expect("d").as_bytes().to_vec(),
        made_at: now_ms(),
        vector: Default::default(),
        runs: relevo_sync::wire::runs(&ops),
    };
    let file = dir.path().join("stranger.rlvb");
    std::fs::write(&file, relevo_sync::wire::pack(b"RLVB", &body)).expect("write");
    let cli = std::path::Path::new(HUB).with_file_name("relevo");
    let run = |args: &[&str]| {
        std::process::Command::new(&cli)
            .args(args)
            .env("RELEVO_DATA_DIR", dir.path().join("a"))
            .env(relevo_store::keys::PASSPHRASE_ENV, PASSPHRASE)
            .output()
            .expect("run relevo")
    };
    let out = run(&["bundle", "import", file.to_str().expect("utf8")]);
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("not enrolled in this network"), "{err}");
    let status: serde_json::Value =
        serde_json::from_slice(&run(&["status", "--json"]).stdout).expect("json");
    let stranger_id = stranger.device().expect("d").to_string();
    assert!(
        status["vector"].get(&stranger_id).is_none(),
        "the stranger is not in the vector: {status}"
    );
    assert_eq!(status["pending"], 0, "none of its ops is held: {status}");
}

/// Reads one HTTP request (head and body) from a socket.
fn read_request(s: &mut TcpStream) -> Option<Vec<u8>> {
    let mut data = Vec::new();
    let mut buf = [0u8; 65536];
    let head_end = loop {
        let n = s.read(&mut buf).ok()?;
        if n == 0 {
            return None;
        }
        data.extend_from_slice(&buf[..n]);
        if let Some(i) = data.windows(4).position(|w| w == b"\r\n\r\n") {
            break i + 4;
        }
    };
    let head = String::from_utf8_lossy(&data[..head_end]).to_lowercase();
    let length: usize = head
        .lines()
        .find_map(|l| l.strip_prefix("content-length:"))
        .and_then(|v| v.trim().parse().ok())
        .unwrap_or(0);
    while data.len() < head_end + length {
        let n = s.read(&mut buf).ok()?;
        if n == 0 {
            return None;
        }
        data.extend_from_slice(&buf[..n]);
    }
    Some(data)
}

/// A fake hub that keeps claiming news (its vector changes every answer,
/// "more to come") but sends nothing: a session with it ends in a few
/// rounds instead of going round for ever.
#[test]
fn a_fake_hub_claiming_news_without_end_cannot_keep_a_device_busy() {
    let dir = tempfile::tempdir().expect("tempdir");
    let hub = HubProcess::start(dir.path());
    let mut d = enrolled(dir.path(), "a", &hub, "regional-director", "PA");
    d.open_crisis(&crisis()).expect("crisis");
    let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
    let fake = format!("http://{}", listener.local_addr().expect("addr"));
    let stranger = relevo_core::DeviceKey::from_secret([0x33; 32]).device_id();
    let mine = d.device().expect("device");
    std::thread::spawn(move || {
        let mut round = 0u64;
        for stream in listener.incoming().take(200) {
            let Ok(mut s) = stream else { continue };
            while read_request(&mut s).is_some() {
                round += 1;
                let mut vector = relevo_store::Vector::new();
                vector.insert(stranger, round);
                vector.insert(mine, round % 2);
                let body = relevo_sync::Response {
                    vector,
                    refused: Vec::new(),
                    waiting: Vec::new(),
                    pull: Vec::new(),
                    more: true,
                    receipts: Vec::new(),
                    stored_at: 0,
                    head: None,
                }
                .encode();
                let _ = write!(
                    s,
                    "HTTP/1.1 200 OK\r\nContent-Type: application/octet-stream\r\nContent-Length: {}\r\n\r\n",
                    body.len()
                );
                let _ = s.write_all(&body);
            }
        }
    });
    let report = relevo_sync::http::sync_store(&mut d, Some(&fake), |_| {}).expect("ends");
    assert!(report.rounds <= 4, "{report:?}");
    assert!(
        report.unmoved > 0,
        "it says what could not move: {report:?}"
    );
}

/// Pages are cut by bytes as well as by ops: ops with large payloads travel
/// a few to a page, and a push of more ops than a page may carry is refused
/// as it is read.
#[test]
fn pages_are_bounded_in_bytes_and_in_ops() {
    let dir = tempfile::tempdir().expect("tempdir");
    let hub = HubProcess::start(dir.path());
    let rogue = Rogue::enrol(&hub);
    // Twenty ops of a kind this version does not know, each with about
    // 900 KB of incompressible payload: kept and relayed, as unknown kinds
    // are.
    let mut seed = 0x9e37_79b9_7f4a_7c15u64;
    let mut noise = |n: usize| {
        (0..n)
            .map(|_| {
                seed ^= seed << 13;
                seed ^= seed >> 7;
                seed ^= seed << 17;
                b'a' + (seed % 26) as u8
            })
            .collect::<Vec<u8>>()
    };
    let mut signed = Vec::new();
    let mut prev = relevo_core::OpHash::GENESIS;
    for seq in 1..=20u64 {
        let payload = format!(
            "{{\"blob\":\"{}\"}}",
            String::from_utf8(noise(900_000)).expect("ascii")
        );
        let op = relevo_core::UnsignedOp {
            device: rogue.key.device_id(),
            seq,
            hlc: relevo_core::Hlc::new(now_ms(), 0),
            author: rogue.person,
            kind: "future.kind".into(),
            payload: payload.into_bytes(),
            prev,
        }
        .sign(&rogue.key)
        .expect("shape");
        prev = op.hash();
        signed.push(op);
    }
    for chunk in signed.chunks(4) {
        let answer = push_http(&hub.url, &rogue.token, chunk.to_vec());
        assert!(answer.refused.is_empty(), "{:?}", answer.refused);
    }
    let mut d = enrolled(dir.path(), "reader", &hub, "regional-director", "PA");
    let report = sync(&mut d);
    assert_eq!(report.unmoved, 0, "{report:?}");
    assert!(
        report.rounds >= 5,
        "20 large ops came a few to a page: {report:?}"
    );
    assert_eq!(
        d.version_vector().expect("vv").get(&rogue.key.device_id()),
        Some(&20)
    );

    // A push of more ops than a page may carry is refused whole.
    let mut many = Rogue::enrol(&hub);
    let push: Vec<_> = (0..relevo_sync::MAX_PUSH + 1)
        .map(|_| many.orphan_note())
        .collect();
    let request = relevo_sync::Request {
        vector: Default::default(),
        push,
        want: 10,
    };
    let answer = raw_post(&hub, &many.token, &request.encode());
    assert!(
        answer.starts_with("HTTP/1.1 400"),
        "{}",
        &answer[..answer.len().min(300)]
    );
    assert!(
        answer.contains("a page carries at most"),
        "{}",
        &answer[..answer.len().min(300)]
    );
}

/// The hub's identity, as its health check gives it.
fn hub_identity(hub: &HubProcess) -> relevo_core::DeviceId {
    Client::new(&hub.url)
        .expect("url")
        .health()
        .expect("health")
        .hub
        .parse()
        .expect("hub id")
}

/// Whoever sees an invitation code cannot spend it on a key they do not
/// hold: an enrolment not signed by the key it names (or signed for another
/// hub) is refused, and the code still works for its owner.
#[test]
fn enrolment_proves_possession_of_the_key() {
    let dir = tempfile::tempdir().expect("tempdir");
    let hub = HubProcess::start(dir.path());
    let hub_id = hub_identity(&hub);
    let client = Client::new(&hub.url).expect("url");
    let code = hub.invite("Ana", "field-coordinator", "GT");
    let (victim, person) = relevo_store::new_device_identity();
    let (attacker, _) = relevo_store::new_device_identity();
    let refused = |request: &relevo_sync::http::EnrolRequest| match client.enrol(request) {
        Err(relevo_sync::SyncError::Enrolment { status, message }) => {
            assert_eq!(status, 422, "{message}");
            message
        }
        other => panic!("enrolled: {other:?}"),
    };
    // The victim's key, signed by the attacker's.
    let forged =
        relevo_sync::http::EnrolRequest::signed(&hub_id, &code, victim.device_id(), person, |m| {
            attacker.sign(m)
        });
    assert!(refused(&forged).contains("not signed by the key"));
    // No signature at all.
    let unsigned = relevo_sync::http::EnrolRequest {
        signature: String::new(),
        ..forged.clone()
    };
    assert!(refused(&unsigned).contains("not signed by the key"));
    // Signed, but for another hub (a replay from elsewhere).
    let elsewhere = relevo_core::DeviceKey::from_secret([0x44; 32]).device_id();
    let replayed = relevo_sync::http::EnrolRequest::signed(
        &elsewhere,
        &code,
        victim.device_id(),
        person,
        |m| victim.sign(m),
    );
    assert!(refused(&replayed).contains("not signed by the key"));
    // The code was not used up: the real device enrols with it.
    let mut store = open_device(&dir.path().join("ana"));
    relevo_sync::http::enrol_store(&mut store, &hub.url, &code, false)
        .expect("the code still works");
    assert!(store.enrolment().expect("q").is_some());
}
