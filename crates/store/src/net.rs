//! The store's side of a network: the hub's grants and invitations, a
//! device's enrolment, what to send in a sync, and quarantined forks.
//!
//! The hub is a store too: its own ops are its declaration, grants and
//! revocations, and it holds every enrolled device's ops. Its device key is
//! the network's trust anchor; a device learns it when it enrols.

use crate::error::{Error, Result};
use crate::log::{self, damaged, device_id, Net, RawOp, OP_COLUMNS};
use crate::{new_id, now_ms, random, Local, Store};
use relevo_core::domain::IdentityDraft;
use relevo_core::enrol::{enrolment_message, normalise_code};
use relevo_core::payload::{DeviceGrant, DeviceRevoke, HubDeclared, Payload, PersonDeclared};
use relevo_core::{DeviceId, DeviceKey, EntityId, Op};
use rusqlite::{params, Connection, OptionalExtension, TransactionBehavior};
use serde::Serialize;
use sha2::{Digest, Sha256};
use std::collections::BTreeMap;

const HUB_ID: &str = "hub.id";
const HUB_URL: &str = "hub.url";
const HUB_TOKEN: &str = "hub.token";
const HUB_PIN: &str = "hub.pin";
const NETWORK_KEY: &str = "network.bundle_key";
const HUB_ALLOW_HTTP: &str = "hub.allow_http";
const HUB_VECTOR: &str = "hub.vector";
const LAST_SYNC: &str = "sync.last";

/// How long an invitation can be used: a week.
pub const INVITE_TTL_MS: u64 = 7 * 24 * 3600 * 1000;

/// A version vector: the highest gapless seq held per device.
pub type Vector = BTreeMap<DeviceId, u64>;

pub(crate) fn load(conn: &Connection, local: Option<&Local>) -> Result<Net> {
    let hub = setting(conn, HUB_ID)?
        .map(|h| {
            h.parse::<DeviceId>()
                .map_err(|_| damaged("the hub id setting is not a device id"))
        })
        .transpose()?;
    Ok(Net {
        hub,
        is_hub: hub.is_some() && hub == local.map(|l| l.key.device_id()),
    })
}

fn setting(conn: &Connection, key: &str) -> Result<Option<String>> {
    Ok(conn
        .prepare_cached("SELECT value FROM settings WHERE key = ?1")?
        .query_row([key], |r| r.get(0))
        .optional()?)
}

fn put_setting(conn: &Connection, key: &str, value: &str) -> Result<()> {
    conn.prepare_cached(
        "INSERT INTO settings (key, value) VALUES (?1, ?2)
         ON CONFLICT (key) DO UPDATE SET value = excluded.value",
    )?
    .execute([key, value])?;
    Ok(())
}

fn digest(secret: &str) -> Vec<u8> {
    Sha256::digest(secret.as_bytes()).to_vec()
}

/// Where this device syncs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Enrolment {
    pub url: String,
    pub hub: DeviceId,
    pub token: String,
    /// The fingerprint of the hub's certificate pinned at enrolment
    /// (`sha256:HEX`), when its invitation carried one.
    pub pin: Option<String>,
    /// Plain http to a hub on another machine was allowed explicitly.
    pub allow_http: bool,
}

/// What the hub gives a device that enrols.
#[derive(Debug, Clone)]
pub struct Enrolled {
    pub hub: DeviceId,
    pub token: String,
    /// The hub's ops up to and including the device's grant.
    pub hub_ops: Vec<Op>,
}

/// Why a sync token is not accepted.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AuthFailure {
    Unknown,
    Revoked,
}

/// An op held in quarantine, as a director sees it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, serde::Deserialize, specta::Type)]

pub struct ForkView {
    pub device: String,
    pub tag: String,
    pub seq: u64,
    pub kind: String,
    /// The person the device belongs to, if known.
    pub author: Option<String>,
    pub received_at: i64,
    pub reason: String,
}

/// An op that waits, as an administrator sees it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, serde::Deserialize, specta::Type)]
pub struct WaitingView {
    pub device: String,
    pub tag: String,
    pub seq: u64,
    pub kind: String,
    /// The person its device belongs to, if known.
    pub author: Option<String>,
    /// When it says it was made (ms since 1970).
    pub made_ms: u64,
    pub bytes: u64,
    pub waits: log::Waits,
    /// What it waits for, in words.
    pub why: String,
}

impl std::fmt::Display for WaitingView {
    /// `TAG#seq  kind  person  waits for …`, one line.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "{}#{}  {:<16} {}  waits for {}",
            self.tag,
            self.seq,
            self.kind,
            self.author.as_deref().unwrap_or("unknown person"),
            self.why
        )
    }
}

impl std::fmt::Display for ForkView {
    /// `TAG#seq  kind  person  reason`, one line.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "{}#{}  {:<16} {}  {}",
            self.tag,
            self.seq,
            self.kind,
            self.author.as_deref().unwrap_or("unknown person"),
            self.reason
        )
    }
}

/// An invitation as stored: name, role, country, org, expiry, used by.
type InviteRow = (String, String, String, Option<String>, i64, Option<Vec<u8>>);

/// Where a device stands with its hub, as the app's header shows it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, serde::Deserialize, specta::Type)]
#[serde(rename_all = "kebab-case")]
pub enum SyncState {
    /// Not enrolled with a hub: everything stays on this device.
    Alone,
    /// The hub cannot be reached; the next try is on its way.
    Offline,
    Syncing,
    UpToDate,
    /// The hub answered with a refusal (the reason is in `error`).
    Error,
}

/// The sync status the app's header shows.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, serde::Deserialize, specta::Type)]
pub struct SyncStatus {
    pub state: SyncState,
    /// This device's ops not yet on the hub.
    pub not_on_hub: u64,
    pub last_sync_ms: Option<u64>,
    pub error: Option<String>,
    /// Progress of the session under way: ops sent, received, still to send.
    pub sent: u64,
    pub received: u64,
    pub to_send: u64,
    pub hub_url: Option<String>,
    /// Ops quarantined as forks, for a director to look at.
    pub forks: Vec<ForkView>,
    /// Ops that wait here, each with what it waits for (the first
    /// [`WAITING_SHOWN`]).
    pub waiting: Vec<WaitingView>,
    /// How many ops wait here in all.
    pub waiting_count: u64,
}

/// How many waiting ops a status lists.
pub const WAITING_SHOWN: u64 = 50;

/// A range of one device's ops: `from..=to`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Range {
    pub device: DeviceId,
    pub from: u64,
    pub to: u64,
}

impl Store {
    /// The hub of this store's network, if it is enrolled in one (or is one).
    pub fn hub(&self) -> Option<DeviceId> {
        self.net.hub
    }

    pub fn is_hub(&self) -> bool {
        self.net.is_hub
    }

    /// The database file, unless the store is in memory.
    pub fn path(&self) -> Option<&std::path::Path> {
        self.path.as_deref()
    }

    pub fn device(&self) -> Option<DeviceId> {
        self.local.as_ref().map(|l| l.key.device_id())
    }

    pub fn person(&self) -> Option<EntityId> {
        self.local.as_ref().map(|l| l.person)
    }

    /// Makes this store a hub: a new key, the network's anchor, declared in
    /// the hub's first op.
    pub fn init_hub(&mut self, name: &str) -> Result<DeviceId> {
        if self.local.is_some() {
            return Ok(self
                .net
                .hub
                .unwrap_or_else(|| self.device().expect("local")));
        }
        let key = DeviceKey::from_secret(random());
        let device = key.device_id();
        put_setting(&self.conn, HUB_ID, &device.to_string())?;
        self.net = Net {
            hub: Some(device),
            is_hub: true,
        };
        self.create_local(
            key,
            EntityId::from_bytes([0; 16]),
            Payload::HubDeclare(HubDeclared {
                name: name.trim().to_owned(),
            }),
        )?;
        Ok(device)
    }

    /// The network's bundle key: a random 256-bit key that the hub makes
    /// once and gives every enrolled device, so that bundles on a USB stick
    /// can be read by the network's devices alone. `None` on a device that
    /// has not received it yet.
    pub fn network_key(&self) -> Result<Option<[u8; 32]>> {
        Ok(setting(&self.conn, NETWORK_KEY)?.and_then(|hex_key| {
            let mut key = [0u8; 32];
            hex::decode_to_slice(hex_key, &mut key).ok().map(|()| key)
        }))
    }

    /// Hub: the network's bundle key, made on first use.
    pub fn hub_network_key(&mut self) -> Result<[u8; 32]> {
        self.require_hub()?;
        if let Some(key) = self.network_key()? {
            return Ok(key);
        }
        let key: [u8; 32] = random();
        put_setting(&self.conn, NETWORK_KEY, &hex::encode(key))?;
        Ok(key)
    }

    /// Device: keeps the bundle key its hub gave it.
    pub fn set_network_key(&mut self, key: &[u8; 32]) -> Result<()> {
        if self.net.is_hub {
            return Err(Error::Enrolment(
                "a hub makes its network's key; it does not take one".into(),
            ));
        }
        put_setting(&self.conn, NETWORK_KEY, &hex::encode(key))
    }

    fn require_hub(&self) -> Result<&Local> {
        match (&self.local, self.net.is_hub) {
            (Some(local), true) => Ok(local),
            _ => Err(Error::Enrolment(
                "this database is not a hub (start it with `relevo-hub serve` first)".into(),
            )),
        }
    }

    /// Hub: a one-time invitation for a person, role and scope. Returns the
    /// code to give them; only its hash is kept.
    pub fn invite(&mut self, who: &IdentityDraft, ttl_ms: u64) -> Result<String> {
        self.require_hub()?;
        let identity = who.validate().map_err(Error::Validation)?;
        let raw: [u8; 10] = random();
        let hex = hex::encode(raw);
        let code = hex
            .as_bytes()
            .chunks(5)
            .map(|c| std::str::from_utf8(c).expect("hex is ASCII"))
            .collect::<Vec<_>>()
            .join("-");
        let now = now_ms();
        self.conn.execute(
            "INSERT INTO hub_invites (code_hash, name, role, country, org, created_at, expires_at)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
            params![
                digest(&normalise_code(&code)),
                identity.name,
                identity.role.slug(),
                identity.country.slug(),
                identity.org,
                now as i64,
                (now + ttl_ms) as i64
            ],
        )?;
        Ok(code)
    }

    /// Hub: enrols `device` (used by `person`) with an invitation code: a
    /// grant op binds them to the invitation's role and scope, and a sync
    /// token is issued. The code cannot be used again.
    pub fn enrol_device(
        &mut self,
        code: &str,
        device: DeviceId,
        person: EntityId,
    ) -> Result<Enrolled> {
        let local = self.require_hub()?;
        let key = local.key.clone();
        let hub = key.device_id();
        let net = self.net;
        if device == hub {
            return Err(Error::Enrolment("the hub cannot enrol itself".into()));
        }
        if device.verifying_key().is_err() {
            return Err(Error::Enrolment(
                "the device's key is not a usable ed25519 public key (weak or not on the curve)"
                    .into(),
            ));
        }
        let tx = self
            .conn
            .transaction_with_behavior(TransactionBehavior::Immediate)?;
        let invite: Option<InviteRow> = tx
            .query_row(
                "SELECT name, role, country, org, expires_at, used_by FROM hub_invites WHERE code_hash = ?1",
                [digest(&normalise_code(code))],
                |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?, r.get(4)?, r.get(5)?)),
            )
            .optional()?;
        let Some((name, role, country, org, expires, used)) = invite else {
            return Err(Error::Enrolment(
                "the invitation code is not known to this hub: check it with the person who invited you".into(),
            ));
        };
        if used.is_some() {
            return Err(Error::Enrolment(
                "this invitation code has already been used: ask for a new one".into(),
            ));
        }
        if expires < now_ms() as i64 {
            return Err(Error::Enrolment(
                "this invitation code has expired: ask for a new one".into(),
            ));
        }
        if log::grant(&tx, &device)?.is_some() {
            return Err(Error::Enrolment(
                "this device is already enrolled with this hub".into(),
            ));
        }
        let grant = DeviceGrant {
            device,
            person,
            name,
            role: relevo_core::domain::Role::parse(&role)
                .ok_or_else(|| damaged("an invitation names an unknown role"))?,
            country: relevo_core::domain::Country::parse(&country)
                .ok_or_else(|| damaged("an invitation names an unknown country"))?,
            org,
        };
        let hlc = self.clock.tick(now_ms());
        let op = log::sign_and_apply(
            &tx,
            &key,
            EntityId::from_bytes([0; 16]),
            hlc,
            &Payload::DeviceGrant(grant),
            net,
        )?;
        let token = hex::encode(random::<32>());
        tx.execute(
            "UPDATE hub_invites SET used_by = ?1, used_at = ?2 WHERE code_hash = ?3",
            params![
                device.as_bytes(),
                now_ms() as i64,
                digest(&normalise_code(code))
            ],
        )?;
        tx.execute(
            "INSERT INTO hub_devices (device, token_hash, enrolled_at) VALUES (?1, ?2, ?3)",
            params![device.as_bytes(), digest(&token), now_ms() as i64],
        )?;
        tx.commit()?;
        let hub_ops = self.ops_range(Range {
            device: hub,
            from: 1,
            to: op.body.seq,
        })?;
        Ok(Enrolled {
            hub,
            token,
            hub_ops,
        })
    }

    /// Device: this device's signature of its enrolment with `hub` using
    /// `code` (see [`relevo_core::enrol`]): the proof that it holds its key.
    pub fn sign_enrolment(&self, hub: &DeviceId, code: &str) -> Result<[u8; 64]> {
        let local = self.local.as_ref().ok_or(Error::NotInitialised)?;
        Ok(local.key.sign(&enrolment_message(
            hub,
            &local.key.device_id(),
            &local.person,
            code,
        )))
    }

    /// Hub: the device a sync token belongs to.
    pub fn authenticate(&self, token: &str) -> Result<std::result::Result<DeviceId, AuthFailure>> {
        let device: Option<Vec<u8>> = self
            .conn
            .prepare_cached("SELECT device FROM hub_devices WHERE token_hash = ?1")?
            .query_row([digest(token)], |r| r.get(0))
            .optional()?;
        let Some(device) = device else {
            return Ok(Err(AuthFailure::Unknown));
        };
        let device = device_id(&device)?;
        match log::grant(&self.conn, &device)? {
            Some(g) if g.revoked_upto.is_none() => Ok(Ok(device)),
            _ => Ok(Err(AuthFailure::Revoked)),
        }
    }

    /// Hub: stops accepting a device's ops after those it already holds.
    pub fn revoke_device(&mut self, device: DeviceId, reason: &str) -> Result<Op> {
        self.require_hub()?;
        let upto = self.version_vector()?.get(&device).copied().unwrap_or(0);
        let payload = Payload::DeviceRevoke(DeviceRevoke {
            device,
            upto,
            reason: reason.to_owned(),
        });
        Ok(self.append_local(|_| Ok(payload))?.0)
    }

    /// Device: where it syncs, once enrolled.
    pub fn enrolment(&self) -> Result<Option<Enrolment>> {
        let (Some(url), Some(token), Some(hub)) = (
            setting(&self.conn, HUB_URL)?,
            setting(&self.conn, HUB_TOKEN)?,
            self.net.hub,
        ) else {
            return Ok(None);
        };
        Ok(Some(Enrolment {
            url,
            hub,
            token,
            pin: setting(&self.conn, HUB_PIN)?,
            allow_http: setting(&self.conn, HUB_ALLOW_HTTP)?.as_deref() == Some("yes"),
        }))
    }

    /// Device: how the hub is reached, recorded at enrolment: the pinned
    /// certificate's fingerprint (none: the usual web roots) and whether
    /// plain http across the network was allowed.
    pub fn set_hub_transport(&mut self, pin: Option<&str>, allow_http: bool) -> Result<()> {
        let tx = self.conn.transaction()?;
        match pin {
            Some(pin) => put_setting(&tx, HUB_PIN, pin)?,
            None => {
                tx.execute("DELETE FROM settings WHERE key = ?1", [HUB_PIN])?;
            }
        }
        put_setting(&tx, HUB_ALLOW_HTTP, if allow_http { "yes" } else { "no" })?;
        tx.commit()?;
        Ok(())
    }

    /// Device: records a successful enrolment. The hub's ops (with this
    /// device's grant) are taken in, and every op held is judged again with
    /// the grant: from now on the hub, not the device, says who uses it.
    /// A device with no identity yet gets one from the grant.
    pub fn join(&mut self, url: &str, enrolled: &Enrolled, key: Option<DeviceKey>) -> Result<()> {
        if self.net.is_hub {
            return Err(Error::Enrolment(
                "a hub does not enrol with another hub".into(),
            ));
        }
        if let Some(existing) = self.net.hub {
            if existing != enrolled.hub {
                return Err(Error::Enrolment(
                    "this device is already enrolled with another hub".into(),
                ));
            }
        }
        put_setting(&self.conn, HUB_ID, &enrolled.hub.to_string())?;
        put_setting(&self.conn, HUB_URL, url)?;
        put_setting(&self.conn, HUB_TOKEN, &enrolled.token)?;
        self.net.hub = Some(enrolled.hub);
        for outcome in self.ingest_batch(&enrolled.hub_ops)? {
            outcome?;
        }
        if self.local.is_none() {
            let key = key.ok_or(Error::NotInitialised)?;
            let device = key.device_id();
            let grant = enrolled
                .hub_ops
                .iter()
                .filter_map(
                    |op| match Payload::decode(&op.body.kind, &op.body.payload) {
                        Ok(Some(Payload::DeviceGrant(g))) if g.device == device => Some(g),
                        _ => None,
                    },
                )
                .next()
                .ok_or_else(|| Error::Enrolment("the hub sent no grant for this device".into()))?;
            self.create_local(
                key,
                grant.person,
                Payload::PersonDeclare(PersonDeclared {
                    id: grant.person,
                    name: grant.name,
                    role: grant.role,
                    country: grant.country,
                    org: grant.org,
                    demo: false,
                }),
            )?;
        } else {
            self.replay()?;
        }
        Ok(())
    }

    /// Recomputes every verdict and projection from the log, in an order
    /// where each op comes after what it relies on: the hub's grants first,
    /// then by clock. Reports its progress as a rebuild does
    /// ([`crate::observe_rebuilds`]).
    pub fn replay(&mut self) -> Result<()> {
        let net = self.net;
        let tx = self
            .conn
            .transaction_with_behavior(TransactionBehavior::Immediate)?;
        crate::project::clear(&tx)?;
        // Verdicts may change: checkpoints of the past go (see `past`).
        tx.execute("DELETE FROM checkpoints", [])?;
        let hub = net.hub.map(|h| h.as_bytes().to_vec()).unwrap_or_default();
        let raws: Vec<RawOp> = {
            let mut stmt = tx.prepare(&format!(
                "SELECT {OP_COLUMNS} FROM ops ORDER BY device != ?1, hlc_wall, hlc_counter, device, seq"
            ))?;
            let rows = stmt.query_map([hub], RawOp::read)?;
            rows.collect::<rusqlite::Result<_>>()?
        };
        let mut progress = crate::progress::Reporter::start(raws.len() as u64);
        for (done, raw) in raws.into_iter().enumerate() {
            progress.tick(done as u64);
            let op = raw.into_op()?;
            log::rejudge(&tx, &op, net)?;
        }
        tx.commit()?;
        progress.finish();
        Ok(())
    }

    /// The version vector to sync with: for every device but demo devices
    /// (whose ops never leave this one), the highest seq applied here.
    /// Waiting ops are never counted: a vector promises only what can be
    /// served, so a peer never waits for an op that is not in the log.
    pub fn sync_vector(&self) -> Result<Vector> {
        let mut vv = Vector::new();
        // A revoked device's ops after the revocation are held but never
        // offered: the hub would refuse them.
        let mut stmt = self.conn.prepare_cached(
            "SELECT h.device, min(h.seq, COALESCE(g.revoked_upto, h.seq)) FROM device_heads h
             LEFT JOIN grants g ON g.device = h.device
             WHERE h.device NOT IN (SELECT device FROM demo_devices)",
        )?;
        let rows = stmt.query_map([], |r| Ok((r.get::<_, Vec<u8>>(0)?, r.get::<_, i64>(1)?)))?;
        for row in rows {
            let (device, seq) = row?;
            vv.insert(device_id(&device)?, seq as u64);
        }
        Ok(vv)
    }

    /// A device's ops `from..=to` that are held, in sequence order; none of
    /// a demo device.
    pub fn ops_range(&self, range: Range) -> Result<Vec<Op>> {
        self.ops_range_limited(range, u64::MAX)
    }

    /// At most `limit` ops of a range, from its start.
    pub fn ops_range_limited(&self, range: Range, limit: u64) -> Result<Vec<Op>> {
        let mut stmt = self.conn.prepare_cached(&format!(
            "SELECT {OP_COLUMNS} FROM ops WHERE device = ?1 AND seq BETWEEN ?2 AND ?3
               AND device NOT IN (SELECT device FROM demo_devices) ORDER BY seq LIMIT ?4"
        ))?;
        let raws = stmt
            .query_map(
                params![
                    range.device.as_bytes(),
                    range.from as i64,
                    range.to.min(i64::MAX as u64) as i64,
                    limit.min(i64::MAX as u64) as i64
                ],
                RawOp::read,
            )?
            .collect::<rusqlite::Result<Vec<_>>>()?;
        raws.into_iter().map(RawOp::into_op).collect()
    }

    /// What the hub was last known to hold.
    pub fn hub_vector(&self) -> Result<Vector> {
        let Some(text) = setting(&self.conn, HUB_VECTOR)? else {
            return Ok(Vector::new());
        };
        let pairs: BTreeMap<String, u64> = serde_json::from_str(&text)
            .map_err(|_| damaged("the hub vector setting is not valid"))?;
        pairs
            .into_iter()
            .map(|(d, n)| {
                d.parse::<DeviceId>()
                    .map(|d| (d, n))
                    .map_err(|_| damaged("the hub vector names a bad device id"))
            })
            .collect()
    }

    /// Records what the hub holds after a sync, and when it was.
    pub fn record_sync(&mut self, hub: &Vector, at_ms: u64) -> Result<()> {
        let pairs: BTreeMap<String, u64> = hub.iter().map(|(d, n)| (d.to_string(), *n)).collect();
        let text = serde_json::to_string(&pairs).expect("a map of numbers serialises");
        put_setting(&self.conn, HUB_VECTOR, &text)?;
        put_setting(&self.conn, LAST_SYNC, &at_ms.to_string())
    }

    pub fn last_sync(&self) -> Result<Option<u64>> {
        Ok(setting(&self.conn, LAST_SYNC)?.and_then(|s| s.parse().ok()))
    }

    /// This device's own ops (demo work aside) the hub is not known to hold.
    pub fn not_on_hub(&self) -> Result<u64> {
        let Some(device) = self.device() else {
            return Ok(0);
        };
        let mine = self.version_vector()?.get(&device).copied().unwrap_or(0);
        let on_hub = self.hub_vector()?.get(&device).copied().unwrap_or(0);
        Ok(mine.saturating_sub(on_hub))
    }

    /// A test of whether the hub holds the op (device bytes, seq), with the
    /// hub's vector read once.
    pub(crate) fn on_hub_test(&self) -> Result<impl Fn(&[u8], i64) -> Result<bool>> {
        let hub = if self.net.is_hub {
            None
        } else {
            Some(self.hub_vector()?)
        };
        Ok(move |device: &[u8], seq: i64| {
            Ok(match &hub {
                None => true,
                Some(v) => v.get(&device_id(device)?).copied().unwrap_or(0) >= seq as u64,
            })
        })
    }

    /// Ops held in quarantine.
    pub fn forks(&self) -> Result<Vec<ForkView>> {
        self.forks_of(None)
    }

    /// Ops held in quarantine, of one device or of all.
    pub fn forks_of(&self, device: Option<&DeviceId>) -> Result<Vec<ForkView>> {
        let mut stmt = self.conn.prepare(
            "SELECT f.device, f.seq, f.kind, COALESCE(g.name, p.name), f.received_at, f.reason
             FROM forks f LEFT JOIN grants g ON g.device = f.device
             LEFT JOIN persons p ON p.id = COALESCE(g.person, f.author)
             WHERE ?1 IS NULL OR f.device = ?1
             ORDER BY f.received_at, f.device, f.seq",
        )?;
        let rows = stmt.query_map([device.map(|d| d.as_bytes().to_vec())], |r| {
            Ok((
                r.get::<_, Vec<u8>>(0)?,
                r.get::<_, i64>(1)?,
                r.get::<_, String>(2)?,
                r.get::<_, Option<String>>(3)?,
                r.get::<_, i64>(4)?,
                r.get::<_, String>(5)?,
            ))
        })?;
        let mut out = Vec::new();
        for row in rows {
            let (device, seq, kind, author, received_at, reason) = row?;
            let device = device_id(&device)?;
            out.push(ForkView {
                device: device.to_string(),
                tag: device.tag(),
                seq: seq as u64,
                kind,
                author,
                received_at,
                reason,
            });
        }
        Ok(out)
    }

    /// Ops waiting for their predecessors, the ops they name, their
    /// device's grant or their time, each with what it waits for, in
    /// (device, seq) order; at most `limit`.
    pub fn waiting(&self, limit: u64) -> Result<Vec<WaitingView>> {
        self.waiting_of(None, limit)
    }

    /// [`Store::waiting`], of one device or of all.
    pub fn waiting_of(&self, device: Option<&DeviceId>, limit: u64) -> Result<Vec<WaitingView>> {
        let mut stmt = self.conn.prepare(&format!(
            "SELECT {} , COALESCE(g.name, p2.name) FROM pending_ops p
             LEFT JOIN grants g ON g.device = p.device
             LEFT JOIN persons p2 ON p2.id = COALESCE(g.person, p.author)
             WHERE ?1 IS NULL OR p.device = ?1
             ORDER BY p.device, p.seq LIMIT ?2",
            log::op_columns_of("p")
        ))?;
        let rows = stmt
            .query_map(
                params![
                    device.map(|d| d.as_bytes().to_vec()),
                    limit.min(i64::MAX as u64) as i64
                ],
                |r| Ok((RawOp::read(r)?, r.get::<_, Option<String>>(9)?)),
            )?
            .collect::<rusqlite::Result<Vec<_>>>()?;
        let mut out = Vec::with_capacity(rows.len());
        for (raw, person) in rows {
            let op = raw.into_op()?;
            let waits = log::waits_for(&self.conn, &op, self.net)?;
            out.push(WaitingView {
                device: op.body.device.to_string(),
                tag: op.body.device.tag(),
                seq: op.body.seq,
                kind: op.body.kind.clone(),
                author: person,
                made_ms: op.body.hlc.wall_ms,
                bytes: op.body.payload.len() as u64,
                why: waits.to_string(),
                waits,
            });
        }
        Ok(out)
    }

    /// Drops waiting ops (of one device, or all): an administrator's answer
    /// to a device whose ops name what will never come. Returns how many.
    /// They are not refused: they come back if a device sends them again.
    pub fn drop_waiting(&mut self, device: Option<&DeviceId>) -> Result<u64> {
        Ok(self.conn.execute(
            "DELETE FROM pending_ops WHERE ?1 IS NULL OR device = ?1",
            [device.map(|d| d.as_bytes().to_vec())],
        )? as u64)
    }

    /// Drops quarantined forks (of one device, or all), once a director has
    /// seen them. Returns how many.
    pub fn drop_forks(&mut self, device: Option<&DeviceId>) -> Result<u64> {
        Ok(self.conn.execute(
            "DELETE FROM forks WHERE ?1 IS NULL OR device = ?1",
            [device.map(|d| d.as_bytes().to_vec())],
        )? as u64)
    }

    /// Is this device a member of this store's network: the hub itself, or
    /// a device the hub granted (revoked or not)? A store outside any
    /// network counts every device.
    pub fn is_member(&self, device: &DeviceId) -> Result<bool> {
        match self.net.hub {
            None => Ok(true),
            Some(hub) if hub == *device => Ok(true),
            Some(_) => Ok(log::grant(&self.conn, device)?.is_some()),
        }
    }

    /// How many ops wait (see [`Store::waiting`]).
    pub fn pending_count(&self) -> Result<u64> {
        Ok(self
            .conn
            .query_row("SELECT count(*) FROM pending_ops", [], |r| {
                r.get::<_, i64>(0)
            })? as u64)
    }
}

/// A new device identity for enrolment: the key and the person it will
/// declare once the hub grants it.
pub fn new_device_identity() -> (DeviceKey, EntityId) {
    (DeviceKey::from_secret(random()), new_id())
}
