//! Helpers for the hub's tests: a real `relevo-hub` process on loopback and
//! devices that are real SQLite stores syncing with it over HTTP.
#![allow(dead_code)]

use relevo_core::domain::{CrisisDraft, IdentityDraft, RequestDraft};
use relevo_store::Store;
use relevo_sync::http::{self, Client};
use relevo_sync::Report;
use sha2::{Digest, Sha256};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

pub const HUB: &str = env!("CARGO_BIN_EXE_relevo-hub");

/// A `relevo-hub serve` process; killed when dropped.
pub struct HubProcess {
    child: Option<Child>,
    pub url: String,
    /// The certificate a TLS hub's devices pin.
    pub pin: Option<relevo_sync::tls::Pin>,
    pub db: PathBuf,
    pub log: PathBuf,
    pub port: u16,
}

pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .expect("bind")
        .local_addr()
        .expect("addr")
        .port()
}

impl HubProcess {
    pub fn start(dir: &Path) -> HubProcess {
        HubProcess::start_on(&dir.join("hub.db"), free_port(), &[])
    }

    pub fn start_on(db: &Path, port: u16, extra: &[&str]) -> HubProcess {
        HubProcess::start_with(Path::new(HUB), db, port, extra)
    }

    /// Started through `program` (a wrapper script that execs the hub).
    pub fn start_with(program: &Path, db: &Path, port: u16, extra: &[&str]) -> HubProcess {
        let log = db.with_extension(format!("{port}.log"));
        let out = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(&log)
            .expect("log file");
        let listen = format!("127.0.0.1:{port}");
        let default_listen: &[&str] = if extra.contains(&"--listen") {
            &[]
        } else {
            &["--listen", &listen]
        };
        let child = Command::new(program)
            .args(["serve", "--db"])
            .arg(db)
            .args(default_listen)
            .args(extra)
            .stdout(Stdio::null())
            .stderr(out)
            .spawn()
            .expect("start relevo-hub");
        let tls = extra.iter().position(|a| *a == "--tls-cert").map(|i| {
            use rustls::pki_types::pem::PemObject;
            let cert = rustls::pki_types::CertificateDer::from_pem_file(extra[i + 1])
                .expect("certificate");
            relevo_sync::tls::fingerprint(cert.as_ref())
        });
        let mut hub = HubProcess {
            child: Some(child),
            url: format!(
                "{}://127.0.0.1:{port}",
                if tls.is_some() { "https" } else { "http" }
            ),
            pin: tls,
            db: db.to_owned(),
            log,
            port,
        };
        hub.wait_healthy();
        hub
    }

    /// A stand-in holding no process (what is left after moving one out).
    pub fn detached() -> HubProcess {
        HubProcess {
            child: None,
            url: String::new(),
            pin: None,
            db: PathBuf::new(),
            log: PathBuf::new(),
            port: 0,
        }
    }

    fn wait_healthy(&mut self) {
        let client = Client::connect(&http::Link {
            url: self.url.clone(),
            pin: self.pin,
            allow_http: false,
        })
        .expect("url");
        let deadline = Instant::now() + Duration::from_secs(30);
        loop {
            if client.health().is_ok() {
                return;
            }
            if let Some(status) = self
                .child
                .as_mut()
                .and_then(|c| c.try_wait().ok().flatten())
            {
                panic!("relevo-hub exited ({status}): {}", self.log_text());
            }
            assert!(
                Instant::now() < deadline,
                "hub not healthy: {}",
                self.log_text()
            );
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    pub fn pid(&self) -> u32 {
        self.child.as_ref().expect("running").id()
    }

    pub fn log_text(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }

    /// SIGKILL: no chance to finish anything.
    pub fn kill(&mut self) {
        if let Some(mut c) = self.child.take() {
            let _ = c.kill();
            let _ = c.wait();
        }
    }

    pub fn invite(&self, name: &str, role: &str, country: &str) -> String {
        invite(&self.db, name, role, country)
    }
}

impl Drop for HubProcess {
    fn drop(&mut self) {
        self.kill();
    }
}

/// `relevo-hub invite ... --quiet`: the code.
pub fn invite(db: &Path, name: &str, role: &str, country: &str) -> String {
    let out = Command::new(HUB)
        .args(["invite", "--db"])
        .arg(db)
        .args([
            "--name",
            name,
            "--role",
            role,
            "--country",
            country,
            "--org",
            "OIM",
            "--quiet",
        ])
        .output()
        .expect("run invite");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout)
        .expect("utf-8")
        .trim()
        .to_owned()
}

/// The passphrase the tests' device folders are encrypted with (no keyring
/// answers in a test), as `RELEVO_PASSPHRASE` gives it to the CLI.
pub const PASSPHRASE: &str = "frase de prueba del puesto";

/// A device's encrypted store in the data folder `dir`, opened as the CLI
/// opens it.
pub fn open_device(dir: &Path) -> Store {
    let (key, _) = relevo_store::keys::unlock_with_passphrase(dir, PASSPHRASE).expect("unlock");
    Store::open_dir(dir, &key).expect("open device")
}

/// A raw SQLite connection to a device's database (`<folder>/relevo.db`),
/// keyed, to read or tamper with it behind the store's back.
pub fn raw_device(db: &Path) -> rusqlite::Connection {
    let folder = db.parent().expect("the device's folder");
    let (key, _) = relevo_store::keys::unlock_with_passphrase(folder, PASSPHRASE).expect("unlock");
    let conn = rusqlite::Connection::open(db).expect("open");
    key.apply(&conn).expect("key");
    conn
}

/// The key of a hub database that a `relevo-hub` process made beside it.
pub fn hub_key(db: &Path) -> relevo_store::DbKey {
    let mut name = db.as_os_str().to_owned();
    name.push(".key");
    relevo_store::DbKey::load_or_create(Path::new(&name)).expect("hub key")
}

/// A hub database a `relevo-hub` process wrote, opened in the test.
pub fn open_hub_db(db: &Path) -> Store {
    Store::open(db, &hub_key(db)).expect("open the hub's database")
}

/// A device: its own database in `dir/name`, enrolled with the hub.
pub fn enrolled(dir: &Path, name: &str, hub: &HubProcess, role: &str, country: &str) -> Store {
    let mut store = open_device(&dir.join(name));
    let code = hub.invite(name, role, country);
    http::enrol_store(&mut store, &hub.url, &code, false).expect("enrol");
    store
}

pub fn sync(store: &mut Store) -> Report {
    http::sync_store(store, None, |_| {}).expect("sync")
}

/// A canonical hash of what a device shows: every projection row.
pub fn digest(store: &Store) -> String {
    hex::encode(Sha256::digest(store.projection_dump().expect("dump")))
}

pub fn crisis() -> CrisisDraft {
    CrisisDraft {
        name: "Flujo mixto 2026".into(),
        countries: vec!["GT".into(), "HN".into()],
    }
}

pub fn request(country: &str, site: &str, total: f64) -> RequestDraft {
    RequestDraft {
        country: country.into(),
        site: site.into(),
        sector: "shelter".into(),
        people_total: Some(total),
        priority: "high".into(),
        description: "Colchonetas y frazadas".into(),
        ..Default::default()
    }
}

pub fn identity(name: &str, role: &str, country: &str) -> IdentityDraft {
    IdentityDraft {
        name: name.into(),
        role: role.into(),
        country: country.into(),
        org: "OIM".into(),
    }
}

/// The hub library in this process, driven through the same bytes a device
/// sends over HTTP.
pub fn hub_in_process(dir: &Path, limits: relevo_hub::Limits) -> std::sync::Arc<relevo_hub::Hub> {
    let db = dir.join("hub.db");
    let store = relevo_hub::open_store(&db, &hub_key(&db), "test hub").expect("hub store");
    std::sync::Arc::new(relevo_hub::Hub::new(store, limits).expect("hub"))
}

/// Limits that never get in a test's way.
pub fn generous() -> relevo_hub::Limits {
    relevo_hub::Limits {
        per_device_per_second: std::num::NonZeroU32::new(1_000_000).expect("non-zero"),
        burst: std::num::NonZeroU32::new(1_000_000).expect("non-zero"),
        page: relevo_sync::PAGE,
    }
}

pub struct InProc<'a> {
    pub hub: &'a relevo_hub::Hub,
    pub token: String,
}

impl relevo_sync::Transport for InProc<'_> {
    fn exchange(&mut self, request: &[u8]) -> Result<Vec<u8>, relevo_sync::SyncError> {
        use relevo_hub::HubError;
        use relevo_sync::SyncError;
        self.hub
            .sync(Some(&self.token), request)
            .map_err(|e| match e {
                HubError::Unauthenticated => SyncError::Unauthorized,
                HubError::Revoked => SyncError::Revoked,
                other => SyncError::Http {
                    status: other.status().as_u16(),
                    message: other.to_string(),
                },
            })
    }
}

/// Enrols `store` with the in-process hub (a new identity if it has none).
pub fn enrol_in_process(
    hub: &relevo_hub::Hub,
    store: &mut Store,
    name: &str,
    role: &str,
    country: &str,
) {
    let code = hub
        .with_store(|s| s.invite(&identity(name, role, country), relevo_store::INVITE_TTL_MS))
        .expect("invite");
    let (request, key) = match (store.device(), store.person()) {
        (Some(d), Some(p)) => {
            let signature = store.sign_enrolment(&hub.id(), &code).expect("sign");
            (
                http::EnrolRequest::signed(&hub.id(), &code, d, p, |_| signature),
                None,
            )
        }
        _ => {
            let (key, person) = relevo_store::new_device_identity();
            let request =
                http::EnrolRequest::signed(&hub.id(), &code, key.device_id(), person, |m| {
                    key.sign(m)
                });
            (request, Some(key))
        }
    };
    let body = serde_json::to_vec(&request).expect("json");
    let enrolled = http::decode_enrolled(&hub.enrol(&body).expect("enrol")).expect("decode");
    store
        .join("http://in-process", &enrolled, key)
        .expect("join");
    let network = hub
        .network_key_for(store.device().expect("device"))
        .expect("network key");
    store
        .set_network_key(&network.try_into().expect("32 bytes"))
        .expect("keep the network key");
}

pub fn sync_in_process(
    hub: &relevo_hub::Hub,
    store: &mut Store,
) -> Result<Report, relevo_sync::SyncError> {
    let token = store.enrolment().expect("q").expect("enrolled").token;
    relevo_sync::run(store, &mut InProc { hub, token }, relevo_sync::PAGE, |_| {})
}

/// Milliseconds since 1970, now.
pub fn now_ms() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .expect("clock")
        .as_millis() as u64
}

/// An enrolled device under an attacker's control: it signs whatever it
/// likes with its own (granted) key and pushes it as raw pages.
pub struct Rogue {
    pub key: relevo_core::DeviceKey,
    pub person: relevo_core::EntityId,
    pub token: String,
    next: u64,
    prev: relevo_core::OpHash,
    made: u64,
}

impl Rogue {
    fn new(
        hub: relevo_core::DeviceId,
        code: &str,
        enrol: impl FnOnce(&http::EnrolRequest) -> String,
    ) -> Rogue {
        let (key, person) = relevo_store::new_device_identity();
        let token = enrol(&http::EnrolRequest::signed(
            &hub,
            code,
            key.device_id(),
            person,
            |m| key.sign(m),
        ));
        Rogue {
            key,
            person,
            token,
            next: 1,
            prev: relevo_core::OpHash::GENESIS,
            made: 0,
        }
    }

    /// Enrolled with a hub process over HTTP.
    pub fn enrol(hub: &HubProcess) -> Rogue {
        let code = hub.invite("Rogue", "field-coordinator", "GT");
        let client = Client::new(&hub.url).expect("url");
        let id = client
            .health()
            .expect("health")
            .hub
            .parse()
            .expect("hub id");
        Rogue::new(id, &code, |r| client.enrol(r).expect("enrol").token)
    }

    /// Enrolled with the hub library in this process.
    pub fn enrol_in_process(hub: &relevo_hub::Hub) -> Rogue {
        let code = hub
            .with_store(|s| {
                s.invite(
                    &identity("Rogue", "field-coordinator", "GT"),
                    relevo_store::INVITE_TTL_MS,
                )
            })
            .expect("invite");
        Rogue::new(hub.id(), &code, |r| {
            let body = serde_json::to_vec(r).expect("json");
            http::decode_enrolled(&hub.enrol(&body).expect("enrol"))
                .expect("decode")
                .token
        })
    }

    /// Starts the device's history again from its first op: what it makes
    /// next forks what it made before.
    pub fn rewind(&mut self) {
        self.next = 1;
        self.prev = relevo_core::OpHash::GENESIS;
    }

    /// The device's next op, chained to the last one made, stamped `wall`.
    pub fn op_at(&mut self, payload: &relevo_core::payload::Payload, wall: u64) -> relevo_core::Op {
        let op = relevo_core::UnsignedOp {
            device: self.key.device_id(),
            seq: self.next,
            hlc: relevo_core::Hlc::new(wall, 0),
            author: self.person,
            kind: payload.kind().to_owned(),
            payload: payload.encode(),
            prev: self.prev,
        }
        .sign(&self.key)
        .expect("shape");
        self.next += 1;
        self.prev = op.hash();
        op
    }

    /// A note on a record whose create op will never exist.
    pub fn orphan_note(&mut self) -> relevo_core::Op {
        self.made += 1;
        let never = relevo_core::OpRef {
            device: relevo_core::DeviceKey::from_secret([0x5a; 32]).device_id(),
            seq: 1_000_000_000,
        };
        let payload = relevo_core::payload::Payload::Change(
            relevo_core::payload::ChangeKind::NoteAdd,
            relevo_core::payload::Change {
                entity: relevo_core::EntityId::new_v7(now_ms(), [9; 10]),
                on: never,
                writes: Vec::new(),
                saw: Vec::new(),
                text: Some(format!("nunca {}", self.made)),
                significant: false,
                fulfilment: None,
            },
        );
        self.op_at(&payload, now_ms())
    }
}

/// Pushes ops as `token`'s device to a hub process; its decoded answer.
pub fn push_http(url: &str, token: &str, push: Vec<relevo_core::Op>) -> relevo_sync::Response {
    use relevo_sync::Transport;
    let request = relevo_sync::Request {
        vector: Default::default(),
        push,
        want: 10,
    };
    let answer = Client::new(url)
        .expect("url")
        .session(token)
        .exchange(&request.encode())
        .expect("answered");
    relevo_sync::Response::decode(&answer).expect("decode")
}

/// `relevo-hub ARGS --db DB`: its output, or a panic with its errors.
pub fn hub_cli(db: &Path, args: &[&str]) -> String {
    let db = db.to_str().expect("utf-8 path");
    hub_run(&[args, &["--db", db]].concat())
}

/// `relevo-hub ARGS`: its output, or a panic with its errors.
pub fn hub_run(args: &[&str]) -> String {
    let out = Command::new(HUB)
        .args(args)
        .output()
        .expect("run relevo-hub");
    assert!(
        out.status.success(),
        "relevo-hub {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).expect("utf-8")
}

/// The `relevo` CLI (built beside the hub) on the data folder `data`, with
/// the tests' passphrase.
pub fn relevo_run(data: &Path, args: &[&str]) -> std::process::Output {
    Command::new(Path::new(HUB).with_file_name("relevo"))
        .args(args)
        .env("RELEVO_DATA_DIR", data)
        .env(relevo_store::keys::PASSPHRASE_ENV, PASSPHRASE)
        .output()
        .expect("run relevo")
}

/// The peak resident memory of a running process, in KiB.
pub fn peak_rss_kib(pid: u32) -> u64 {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).expect("status");
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmHWM:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        .expect("VmHWM")
}
