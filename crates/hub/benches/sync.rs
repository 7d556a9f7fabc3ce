//! Sync benchmarks, on a fixed data set, each against a baseline measured in
//! the same run:
//!
//! 1. merge: taking in received signed ops (verify + store + project), in
//!    pages of 2,000 as a sync does, for 10k and 100k ops, against a raw
//!    rusqlite bulk insert of the same rows (same pragmas, one transaction
//!    per page);
//! 2. wire: bytes per op in sync pages, against zstd of the canonical op
//!    bytes (with and without the signatures the wire must also carry);
//! 3. hub: 200 simulated devices syncing at once with a hub over loopback
//!    HTTP: ops/s, p50/p99 latency per exchange, every op arrived.
//!
//! `cargo bench -p relevo-hub --bench sync`; `RELEVO_BENCH_SCALE=0.1` runs a
//! tenth of it.

use relevo_core::domain::{Country, Role};
use relevo_core::op::canonical_bytes;
use relevo_core::payload::{DeviceGrant, HubDeclared, Payload, PersonDeclared, RequestCreated};
use relevo_core::{DeviceKey, EntityId, Hlc, Op, OpHash, UnsignedOp};
use relevo_store::{Enrolled, Store};
use std::time::{Duration, Instant};

fn scale() -> f64 {
    std::env::var("RELEVO_BENCH_SCALE")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(1.0)
}

/// Signs a chain of payloads for one key.
fn chain(key: &DeviceKey, author: EntityId, start: u64, payloads: Vec<Payload>) -> Vec<Op> {
    let mut prev = OpHash::GENESIS;
    payloads
        .into_iter()
        .enumerate()
        .map(|(i, p)| {
            let op = UnsignedOp {
                device: key.device_id(),
                seq: i as u64 + 1,
                hlc: Hlc::new(start + i as u64 * 1000, 0),
                author,
                kind: p.kind().into(),
                payload: p.encode(),
                prev,
            }
            .sign(key)
            .expect("sign");
            prev = op.hash();
            op
        })
        .collect()
}

/// A network: the hub's ops (declaration and grants) and `devices` field
/// coordinators' ops, `per_device` requests each. The receiver is granted
/// too (the last grant).
struct Network {
    hub_ops: Vec<Op>,
    device_ops: Vec<Op>,
    receiver: (DeviceKey, EntityId),
    /// Each device's key and person, for a real hub to enrol.
    devices: Vec<(DeviceKey, EntityId)>,
}

fn network(devices: usize, per_device: usize) -> Network {
    let hub = DeviceKey::from_secret([200; 32]);
    let start = 1_790_000_000_000;
    let keys: Vec<(DeviceKey, EntityId)> = (0..=devices)
        .map(|i| {
            let mut secret = [0u8; 32];
            secret[..8].copy_from_slice(&(i as u64 + 1).to_be_bytes());
            (
                DeviceKey::from_secret(secret),
                EntityId::from_bytes([(i % 251) as u8 + 1; 16]),
            )
        })
        .collect();
    let mut hub_payloads = vec![Payload::HubDeclare(HubDeclared {
        name: "bench".into(),
    })];
    for (i, (key, person)) in keys.iter().enumerate() {
        let mut id = *person.as_bytes();
        id[15] = (i / 251) as u8;
        hub_payloads.push(Payload::DeviceGrant(DeviceGrant {
            device: key.device_id(),
            person: EntityId::from_bytes(id),
            name: format!("Persona {i}"),
            role: Role::FieldCoordinator,
            country: Country::Gt,
            org: None,
        }));
    }
    let hub_ops = chain(&hub, EntityId::from_bytes([0; 16]), start, hub_payloads);
    let crisis = EntityId::from_bytes([9; 16]);
    let mut device_ops = Vec::new();
    let mut enrolled = Vec::new();
    for (i, (key, person)) in keys.iter().take(devices).enumerate() {
        let mut id = *person.as_bytes();
        id[15] = (i / 251) as u8;
        let person = EntityId::from_bytes(id);
        enrolled.push((key.clone(), person));
        let tag = key.device_id().tag();
        let mut payloads = vec![Payload::PersonDeclare(PersonDeclared {
            id: person,
            name: format!("Persona {i}"),
            role: Role::FieldCoordinator,
            country: Country::Gt,
            org: None,
            demo: false,
        })];
        for n in 1..=per_device {
            let request = relevo_core::domain::RequestDraft {
                country: "GT".into(),
                site: format!("Albergue {}", n % 40),
                sector: ["shelter", "wash", "health", "food-security"][n % 4].into(),
                people_total: Some((10 + n % 300) as f64),
                priority: ["low", "medium", "high", "critical"][n % 4].into(),
                description: "Colchonetas, frazadas y kits de higiene para familias en tránsito"
                    .into(),
                ..Default::default()
            }
            .validate()
            .expect("valid");
            // A UUIDv7 of the moment the request is logged (its op's clock,
            // see `chain`), as a device makes it.
            let mut random = [0u8; 10];
            random[..2].copy_from_slice(&(i as u16).to_be_bytes());
            random[2..].copy_from_slice(&(n as u64).to_be_bytes());
            let logged = start + 10_000 + i as u64 + n as u64 * 1000;
            payloads.push(Payload::RequestCreate(RequestCreated {
                id: EntityId::new_v7(logged, random),
                reference: format!("REQ-{tag}-{n}"),
                crisis,
                request,
            }));
        }
        device_ops.extend(chain(key, person, start + 10_000 + i as u64, payloads));
    }
    // Clock order, as a hub page sends them.
    device_ops.sort_by_key(|o| (o.body.hlc, o.body.device));
    let (rk, rp) = &keys[devices];
    let mut id = *rp.as_bytes();
    id[15] = (devices / 251) as u8;
    Network {
        hub_ops,
        device_ops,
        receiver: (rk.clone(), EntityId::from_bytes(id)),
        devices: enrolled,
    }
}

/// A fresh receiving device, enrolled (it holds the hub's grants).
fn receiver(dir: &std::path::Path, net: &Network, encrypted: bool) -> Store {
    let path = dir.join(format!(
        "receiver-{}.db",
        if encrypted { "enc" } else { "plain" }
    ));
    let _ = std::fs::remove_file(&path);
    let mut store = if encrypted {
        Store::open(&path, &relevo_store::DbKey::random())
    } else {
        Store::open_unencrypted(&path)
    }
    .expect("open");
    let enrolled = Enrolled {
        hub: net.hub_ops[0].body.device,
        token: "bench".into(),
        hub_ops: net.hub_ops.clone(),
    };
    store
        .join("http://bench", &enrolled, Some(net.receiver.0.clone()))
        .expect("join");
    store
}

const PAGE: usize = 2000;

fn raw_insert(dir: &std::path::Path, ops: &[Op]) -> Duration {
    let mut conn = rusqlite::Connection::open(dir.join("raw.db")).expect("raw");
    conn.pragma_update(None, "journal_mode", "WAL")
        .expect("wal");
    conn.pragma_update(None, "synchronous", "FULL")
        .expect("sync");
    conn.execute_batch(
        "CREATE TABLE ops (device BLOB NOT NULL, seq INTEGER NOT NULL, hlc_wall INTEGER NOT NULL,
           hlc_counter INTEGER NOT NULL, author BLOB NOT NULL, kind TEXT NOT NULL, payload BLOB NOT NULL,
           prev BLOB NOT NULL, signature BLOB NOT NULL, PRIMARY KEY (device, seq)) WITHOUT ROWID;",
    )
    .expect("table");
    let started = Instant::now();
    for page in ops.chunks(PAGE) {
        let tx = conn.transaction().expect("tx");
        {
            let mut stmt = tx
                .prepare_cached("INSERT INTO ops VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9)")
                .expect("stmt");
            for op in page {
                let b = &op.body;
                stmt.execute(rusqlite::params![
                    b.device.as_bytes(),
                    b.seq as i64,
                    b.hlc.wall_ms as i64,
                    b.hlc.counter,
                    b.author.as_bytes(),
                    b.kind,
                    b.payload,
                    b.prev.0,
                    op.signature
                ])
                .expect("insert");
            }
        }
        tx.commit().expect("commit");
    }
    started.elapsed()
}

fn merge(n: usize) {
    let devices = 20;
    let net = network(devices, n / devices - 1);
    let ops = &net.device_ops;
    let dir = tempfile::tempdir().expect("tempdir");
    let raw = raw_insert(dir.path(), ops);
    // Plaintext and encrypted (SQLCipher) receivers, five rounds, each round
    // both in turns (the order swapped every round), so that drift on the
    // machine falls on both; the median of the rounds' ratios is the
    // figure.
    let mut took = [Vec::new(), Vec::new()];
    let mut ratios = Vec::new();
    for round in 0..5 {
        let order = if round % 2 == 0 {
            [false, true]
        } else {
            [true, false]
        };
        let mut this = [Duration::ZERO; 2];
        for encrypted in order {
            let mut store = receiver(dir.path(), &net, encrypted);
            let started = Instant::now();
            for page in ops.chunks(PAGE) {
                for outcome in store.ingest_batch(page).expect("page") {
                    assert!(
                        matches!(outcome, Ok(relevo_store::Ingest::Applied(_))),
                        "{outcome:?}"
                    );
                }
            }
            this[usize::from(encrypted)] = started.elapsed();
            assert_eq!(
                store.op_count().expect("n") as usize,
                ops.len() + net.hub_ops.len() + 1
            );
        }
        println!(
            "  round {round}: merge plaintext {:.1}, encrypted {:.1} µs/op",
            this[0].as_secs_f64() * 1e6 / ops.len() as f64,
            this[1].as_secs_f64() * 1e6 / ops.len() as f64
        );
        ratios.push(this[1].as_secs_f64() / this[0].as_secs_f64());
        took[0].push(this[0]);
        took[1].push(this[1]);
    }
    ratios.sort_by(f64::total_cmp);
    let [merged, encrypted] = took.map(|mut t| {
        t.sort();
        t[t.len() / 2]
    });
    println!(
        "merge {:>7} ops: encrypted/plaintext time {:.3}× (median of 5 paired rounds; {:.2}×–{:.2}×; medians {:.1} vs {:.1} µs/op)",
        ops.len(),
        ratios[ratios.len() / 2],
        ratios[0],
        ratios[ratios.len() - 1],
        encrypted.as_secs_f64() * 1e6 / ops.len() as f64,
        merged.as_secs_f64() * 1e6 / ops.len() as f64
    );
    let rate = |d: Duration| ops.len() as f64 / d.as_secs_f64();
    println!(
        "merge {:>7} ops: {:>8.0} ops/s ({:.1} µs/op) | raw insert {:>8.0} ops/s ({:.1} µs/op) | merge/raw rate {:.2}×",
        ops.len(),
        rate(merged),
        merged.as_secs_f64() * 1e6 / ops.len() as f64,
        rate(raw),
        raw.as_secs_f64() * 1e6 / ops.len() as f64,
        rate(merged) / rate(raw)
    );
    hub_merge(&net, raw);
    // The ceiling any merge that checks every signature has on this
    // machine: the batch checks alone, on every core.
    let started = Instant::now();
    let threads = std::thread::available_parallelism()
        .map(|n| n.get())
        .unwrap_or(1);
    std::thread::scope(|s| {
        for part in ops.chunks(ops.len().div_ceil(threads)) {
            s.spawn(move || {
                for chunk in part.chunks(256) {
                    let verdicts = relevo_core::op::verify_batch(chunk, &mut rand_core::OsRng);
                    assert!(verdicts.iter().all(|v| v.is_ok()), "genuine");
                }
            });
        }
    });
    let verify = started.elapsed();
    println!(
        "  signature checks alone (batches of 256, {threads} threads): {:>8.0} ops/s ({:.1} µs/op) = the ceiling for a merge that checks every op",
        rate(verify),
        verify.as_secs_f64() * 1e6 / ops.len() as f64
    );
}

/// An invitation to the hub for field coordinator number `i`.
fn invite(hub: &relevo_hub::Hub, i: usize) -> String {
    hub.with_store(|s| {
        s.invite(
            &relevo_core::domain::IdentityDraft {
                name: format!("Persona {i}"),
                role: "field-coordinator".into(),
                country: "GT".into(),
                org: String::new(),
            },
            relevo_store::INVITE_TTL_MS,
        )
    })
    .expect("invite")
}

/// A hub (its encrypted store, as `relevo-hub` runs it, which keeps the
/// log layer alone) taking in the same ops from the same devices, enrolled
/// with it, against the same raw insert.
fn hub_merge(net: &Network, raw: Duration) {
    use relevo_sync::http::EnrolRequest;
    let ops = &net.device_ops;
    let mut took = Vec::new();
    for _ in 0..3 {
        let dir = tempfile::tempdir().expect("tempdir");
        let store = relevo_hub::open_store(
            &dir.path().join("hub.db"),
            &relevo_store::DbKey::random(),
            "bench",
        )
        .expect("hub");
        let hub = relevo_hub::Hub::new(store, relevo_hub::Limits::default()).expect("hub");
        for (i, (key, person)) in net.devices.iter().enumerate() {
            let code = invite(&hub, i);
            let request =
                EnrolRequest::signed(&hub.id(), &code, key.device_id(), *person, |m| key.sign(m));
            hub.enrol(&serde_json::to_vec(&request).expect("json"))
                .expect("enrol");
        }
        let before = hub.with_store(|s| s.op_count().expect("n"));
        let started = Instant::now();
        hub.with_store(|s| {
            for page in ops.chunks(PAGE) {
                for outcome in s.ingest_batch(page).expect("page") {
                    assert!(
                        matches!(outcome, Ok(relevo_store::Ingest::Applied(_))),
                        "{outcome:?}"
                    );
                }
            }
        });
        took.push(started.elapsed());
        let after = hub.with_store(|s| s.op_count().expect("n"));
        assert_eq!((after - before) as usize, ops.len());
    }
    took.sort();
    let hub = took[took.len() / 2];
    let rate = |d: Duration| ops.len() as f64 / d.as_secs_f64();
    println!(
        "hub merge {:>7} ops (log layer only, encrypted store): {:>8.0} ops/s ({:.1} µs/op) | raw insert {:>8.0} ops/s | hub/raw rate {:.2}× (median of 3)",
        ops.len(),
        rate(hub),
        hub.as_secs_f64() * 1e6 / ops.len() as f64,
        rate(raw),
        rate(hub) / rate(raw)
    );
}

fn wire() {
    let net = network(20, 499);
    let ops = &net.device_ops;
    let wire: usize = ops
        .chunks(PAGE)
        .map(|page| {
            relevo_sync::Request {
                vector: Default::default(),
                push: page.to_vec(),
                want: 0,
            }
            .encode()
            .len()
        })
        .sum();
    let page_zstd = |with_sig: bool| -> usize {
        ops.chunks(PAGE)
            .map(|page| {
                let mut plain = Vec::new();
                for op in page {
                    plain.extend(canonical_bytes(&op.body));
                    if with_sig {
                        plain.extend(op.signature);
                    }
                }
                zstd::bulk::compress(&plain, 3).expect("zstd").len()
            })
            .sum()
    };
    let canonical: usize = ops.iter().map(|o| canonical_bytes(&o.body).len()).sum();
    let n = ops.len() as f64;
    let (z, zs) = (page_zstd(false), page_zstd(true));
    println!(
        "wire: {:.1} bytes/op in sync pages | zstd(canonical) {:.1} bytes/op ({:.2}×) | zstd(canonical + signature) {:.1} bytes/op ({:.2}×) | canonical uncompressed {:.1} bytes/op",
        wire as f64 / n,
        z as f64 / n,
        wire as f64 / z as f64,
        zs as f64 / n,
        wire as f64 / zs as f64,
        canonical as f64 / n
    );
}

fn hub_load(devices: usize, per_device: usize) {
    use relevo_sync::http::{Client, EnrolRequest};
    let dir = tempfile::tempdir().expect("tempdir");
    let store = relevo_hub::open_store(
        &dir.path().join("hub.db"),
        &relevo_store::DbKey::random(),
        "bench",
    )
    .expect("hub");
    let limits = relevo_hub::Limits {
        per_device_per_second: std::num::NonZeroU32::new(1_000_000).expect("nz"),
        burst: std::num::NonZeroU32::new(1_000_000).expect("nz"),
        page: relevo_sync::PAGE,
    };
    let hub = std::sync::Arc::new(relevo_hub::Hub::new(store, limits).expect("hub"));
    let runtime = tokio::runtime::Runtime::new().expect("runtime");
    let listener = runtime
        .block_on(tokio::net::TcpListener::bind("127.0.0.1:0"))
        .expect("bind");
    let url = format!("http://{}", listener.local_addr().expect("addr"));
    runtime.spawn(std::future::IntoFuture::into_future(axum::serve(
        listener,
        relevo_hub::router(hub.clone()),
    )));

    // Enrol every device over HTTP and let each log its requests.
    let mut stores = Vec::new();
    for i in 0..devices {
        let code = invite(&hub, i);
        let mut s = Store::open_in_memory().expect("open");
        let (key, person) = relevo_store::new_device_identity();
        let client = Client::new(&url).expect("url");
        let enrolled = client
            .enrol(&EnrolRequest::signed(
                &hub.id(),
                &code,
                key.device_id(),
                person,
                |m| key.sign(m),
            ))
            .expect("enrol");
        s.join(&url, &enrolled, Some(key)).expect("join");
        s.open_crisis(&relevo_core::domain::CrisisDraft {
            name: format!("Crisis {i}"),
            countries: vec!["GT".into()],
        })
        .expect("crisis");
        for n in 0..per_device {
            s.add_request(&relevo_core::domain::RequestDraft {
                country: "GT".into(),
                site: format!("Sitio {n}"),
                sector: "wash".into(),
                people_total: Some(12.0),
                priority: "high".into(),
                description: "Agua".into(),
                ..Default::default()
            })
            .expect("request");
        }
        stores.push(s);
    }
    let made: u64 = stores
        .iter()
        .map(|s| s.version_vector().expect("vv")[&s.device().expect("d")])
        .sum();

    // Everyone syncs at once; each exchange is timed.
    struct Timed {
        inner: relevo_sync::http::HttpTransport,
        times: Vec<Duration>,
    }
    impl relevo_sync::Transport for Timed {
        fn exchange(&mut self, request: &[u8]) -> Result<Vec<u8>, relevo_sync::SyncError> {
            let started = Instant::now();
            let answer = self.inner.exchange(request);
            self.times.push(started.elapsed());
            answer
        }
    }
    let started = Instant::now();
    let handles: Vec<_> = stores
        .into_iter()
        .map(|mut s| {
            let url = url.clone();
            std::thread::spawn(move || {
                let token = s.enrolment().expect("q").expect("e").token;
                let mut t = Timed {
                    inner: Client::new(&url).expect("url").session(&token),
                    times: Vec::new(),
                };
                let report =
                    relevo_sync::run(&mut s, &mut t, relevo_sync::PAGE, |_| {}).expect("sync");
                (report, t.times)
            })
        })
        .collect();
    let mut times = Vec::new();
    let mut pushed = 0;
    let mut pulled = 0;
    for h in handles {
        let (report, t) = h.join().expect("device");
        pushed += report.sent;
        pulled += report.received;
        times.extend(t);
    }
    let wall = started.elapsed();
    times.sort();
    let pct = |p: f64| times[((times.len() as f64 * p) as usize).min(times.len() - 1)];
    let held = hub.with_store(|h| h.version_vector().expect("vv"));
    let arrived: u64 = held.values().sum::<u64>() - held[&hub.id()];
    println!(
        "hub: {devices} devices at once, {made} ops made, {pushed} pushed + {pulled} pulled in {:.2} s = {:.0} ops/s through the hub | {} exchanges, p50 {:.1} ms, p99 {:.1} ms | on the hub: {arrived} of {made}{}",
        wall.as_secs_f64(),
        (pushed + pulled) as f64 / wall.as_secs_f64(),
        times.len(),
        pct(0.5).as_secs_f64() * 1e3,
        pct(0.99).as_secs_f64() * 1e3,
        if arrived == made { " (all)" } else { " — MISSING OPS" }
    );
    assert_eq!(arrived, made, "every op arrived");
}

fn main() {
    // `cargo bench` passes --bench; `cargo test --benches` runs it as a smoke test.
    let quick = std::env::args().all(|a| a != "--bench");
    let s = if quick { 0.01 } else { scale() };
    let n = |x: f64| ((x * s) as usize).max(200);
    // RELEVO_BENCH_ONLY=merge|wire|hub|hub-merge runs one part (for profiling).
    let only = std::env::var("RELEVO_BENCH_ONLY").unwrap_or_default();
    let part = |name: &str| only.is_empty() || only == name;
    if part("merge") {
        merge(n(10_000.0));
        merge(n(100_000.0));
    }
    if only == "hub-merge" {
        // The hub's merge alone (for profiling).
        let net = network(20, n(100_000.0) / 20 - 1);
        let dir = tempfile::tempdir().expect("tempdir");
        let raw = raw_insert(dir.path(), &net.device_ops);
        hub_merge(&net, raw);
    }
    if part("wire") {
        wire();
    }
    if part("hub") {
        hub_load(((200.0 * s) as usize).max(4), 20);
    }
}
