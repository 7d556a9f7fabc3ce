//! Projections: the tables screens read, computed from the log.
//!
//! Records are created whole by one op; after that every field is a
//! multi-value register. A record's create op is the first write of each of
//! its fields: its values are read from the op itself when they are needed
//! (see [`head_writes`]), not copied into a row per field. Every later write
//! is kept in `registers`; the writes a later write saw are listed in
//! `superseded`; the heads of a field are its writes nobody superseded. The value shown is the head with the highest
//! (clock, device), and a field with more than one head is a conflict. Both
//! are set functions of the ops applied, so the result is the same whatever
//! order ops arrive in, and [`Store::rebuild_projections`] reproduces it.

use crate::error::Result;
use crate::Store;
use relevo_core::domain::{Holder, TaskScope};
use relevo_core::payload::{ChangeKind, Payload};
use relevo_core::{EntityId, Op, OpRef};
use rusqlite::{params, Connection, OptionalExtension, Transaction, TransactionBehavior};
use serde_json::Value;
use std::sync::LazyLock;

/// The projection tables, in the order they are cleared and dumped.
const TABLES: &[&str] = &[
    "grants",
    "demo_devices",
    "persons",
    "crises",
    "requests",
    "tasks",
    "task_links",
    "registers",
    "superseded",
    "conflicts",
    "notes",
    "fulfilments",
    "orgs",
    "sites",
    "flow_counts",
    "alerts",
    "alert_concerns",
    "alert_acks",
    "corridor",
];

/// Empties every projection.
pub(crate) fn clear(tx: &Transaction) -> Result<()> {
    for table in TABLES {
        exec(tx, &format!("DELETE FROM {table}"), [])?;
    }
    Ok(())
}

/// Only replace an existing row when the incoming op is earlier.
const EARLIER: &str = "WHERE (excluded.hlc_wall, excluded.hlc_counter, excluded.device) \
                       < (hlc_wall, hlc_counter, device)";

/// Runs a statement through the connection's statement cache.
fn exec<P: rusqlite::Params>(tx: &Transaction, sql: &str, params: P) -> Result<usize> {
    Ok(tx.prepare_cached(sql)?.execute(params)?)
}

/// `INSERT ... ON CONFLICT (id) DO UPDATE ... WHERE earlier`: if two ops
/// ever claim one id, the earliest by (clock, device) wins on every replica.
fn upsert(table: &str, columns: &[&str]) -> String {
    let marks = (1..=columns.len())
        .map(|i| format!("?{i}"))
        .collect::<Vec<_>>()
        .join(", ");
    let sets = columns[1..]
        .iter()
        .map(|c| format!("{c} = excluded.{c}"))
        .collect::<Vec<_>>()
        .join(", ");
    format!(
        "INSERT INTO {table} ({}) VALUES ({marks}) ON CONFLICT (id) DO UPDATE SET {sets} {EARLIER}",
        columns.join(", ")
    )
}

static CRISES_UPSERT: LazyLock<String> = LazyLock::new(|| {
    upsert(
        "crises",
        &[
            "id",
            "name",
            "countries",
            "demo",
            "opened_by",
            "device",
            "seq",
            "hlc_wall",
            "hlc_counter",
            "status",
        ],
    )
});

static REQUESTS_UPSERT: LazyLock<String> = LazyLock::new(|| {
    upsert(
        "requests",
        &[
            "id",
            "reference",
            "crisis",
            "country",
            "site",
            "sector",
            "people",
            "people_total",
            "vulnerable",
            "items",
            "needed_by",
            "priority",
            "description",
            "status",
            "author",
            "device",
            "seq",
            "hlc_wall",
            "hlc_counter",
        ],
    )
});

static TASKS_UPSERT: LazyLock<String> = LazyLock::new(|| {
    upsert(
        "tasks",
        &[
            "id",
            "reference",
            "crisis",
            "title",
            "description",
            "scope",
            "sector",
            "priority",
            "due",
            "status",
            "holder_person",
            "holder_org",
            "author",
            "device",
            "seq",
            "hlc_wall",
            "hlc_counter",
            "alert",
        ],
    )
});

static FLOWS_UPSERT: LazyLock<String> = LazyLock::new(|| {
    upsert(
        "flow_counts",
        &[
            "id",
            "reference",
            "crisis",
            "point",
            "country",
            "direction",
            "start_ms",
            "end_ms",
            "total",
            "body",
            "author",
            "device",
            "seq",
            "hlc_wall",
            "hlc_counter",
        ],
    )
});

static ALERTS_UPSERT: LazyLock<String> = LazyLock::new(|| {
    upsert(
        "alerts",
        &[
            "id",
            "reference",
            "crisis",
            "point",
            "country",
            "direction",
            "people",
            "window_end",
            "body",
            "author",
            "device",
            "seq",
            "hlc_wall",
            "hlc_counter",
        ],
    )
});

/// Most register rows one insert statement writes.
const REGISTER_ROWS: usize = 16;

/// `INSERT OR IGNORE INTO registers ...` with 1 to [`REGISTER_ROWS`] rows.
static REGISTER_INSERTS: LazyLock<Vec<String>> = LazyLock::new(|| {
    (1..=REGISTER_ROWS)
        .map(|n| {
            let rows = (0..n)
                .map(|r| {
                    let p = (1..=9)
                        .map(|i| format!("?{}", r * 9 + i))
                        .collect::<Vec<_>>()
                        .join(", ");
                    format!("({p}, NULL)")
                })
                .collect::<Vec<_>>()
                .join(", ");
            format!(
                "INSERT OR IGNORE INTO registers
                   (entity, field, device, seq, hlc_wall, hlc_counter, value, author, kind, text)
                 VALUES {rows}"
            )
        })
        .collect()
});

fn text(v: &Value) -> Option<String> {
    match v {
        Value::Null => None,
        Value::String(s) => Some(s.clone()),
        other => Some(other.to_string()),
    }
}

/// What the log layer keeps of an op besides the op itself: the facts the
/// rules judge later ops by (grants and revocations, demo devices). The hub
/// keeps these alone; devices keep them and every projection.
pub(crate) fn facts(tx: &Transaction, op: &Op, payload: &Payload) -> Result<()> {
    match payload {
        Payload::PersonDeclare(p) if p.demo => {
            exec(
                tx,
                "INSERT OR IGNORE INTO demo_devices (device) VALUES (?1)",
                [op.body.device.as_bytes()],
            )?;
        }
        Payload::DeviceGrant(g) => {
            exec(
                tx,
                "INSERT INTO grants (device, person, name, role, country, org, hub_seq)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7) ON CONFLICT (device) DO NOTHING",
                params![
                    g.device.as_bytes(),
                    g.person.as_bytes(),
                    g.name,
                    g.role.slug(),
                    g.country.slug(),
                    g.org,
                    op.body.seq as i64
                ],
            )?;
        }
        Payload::DeviceRevoke(r) => {
            exec(
                tx,
                "UPDATE grants SET revoked_upto = ?2, revoked_why = ?3 WHERE device = ?1",
                params![r.device.as_bytes(), r.upto as i64, r.reason],
            )?;
        }
        _ => {}
    }
    Ok(())
}

/// The tables [`facts`] writes: the log layer's, kept on the hub.
const FACT_TABLES: &[&str] = &["grants", "demo_devices"];

/// Empties every projection but the log layer's facts (a hub's store that
/// an older version projected into).
pub(crate) fn clear_views(tx: &Transaction) -> Result<()> {
    for table in TABLES.iter().filter(|t| !FACT_TABLES.contains(t)) {
        exec(tx, &format!("DELETE FROM {table}"), [])?;
    }
    Ok(())
}

/// Whether any projection but the facts holds a row.
pub(crate) fn has_views(conn: &Connection) -> Result<bool> {
    for table in TABLES.iter().filter(|t| !FACT_TABLES.contains(t)) {
        let any: bool =
            conn.query_row(&format!("SELECT EXISTS (SELECT 1 FROM {table})"), [], |r| {
                r.get(0)
            })?;
        if any {
            return Ok(true);
        }
    }
    Ok(false)
}

/// Applies an op to the facts and to every projection (on devices).
pub(crate) fn project(tx: &Transaction, op: &Op, payload: &Payload) -> Result<()> {
    let b = &op.body;
    let (device, seq, wall, counter) = (
        b.device.as_bytes(),
        b.seq as i64,
        b.hlc.wall_ms as i64,
        b.hlc.counter,
    );
    let author = b.author.as_bytes();
    facts(tx, op, payload)?;
    match payload {
        Payload::PersonDeclare(p) => {
            let granted: Option<i64> = tx
                .prepare_cached("SELECT 1 FROM grants WHERE device = ?1")?
                .query_row([device], |r| r.get(0))
                .optional()?;
            if granted.is_some() {
                // The hub's grant says who uses this device.
                return Ok(());
            }
            upsert_person(
                tx,
                op,
                p.id,
                &p.name,
                p.role.slug(),
                p.country.slug(),
                p.org.as_deref(),
                p.demo,
                true,
            )?;
        }
        Payload::DeviceGrant(g) => {
            // The grant, not the device's own declaration, names the person.
            exec(
                tx,
                "INSERT INTO persons (id, name, role, country, org, demo, declared, device, seq, hlc_wall, hlc_counter)
                 VALUES (?1, ?2, ?3, ?4, ?5, 0, 1, ?6, ?7, ?8, ?9)
                 ON CONFLICT (id) DO UPDATE SET name = excluded.name, role = excluded.role,
                   country = excluded.country, org = excluded.org, demo = 0, declared = 1",
                params![
                    g.person.as_bytes(),
                    g.name,
                    g.role.slug(),
                    g.country.slug(),
                    g.org,
                    g.device.as_bytes(),
                    seq,
                    wall,
                    counter
                ],
            )?;
        }
        Payload::DeviceRevoke(_) | Payload::HubDeclare(_) => {}
        Payload::RosterPerson(p) => {
            upsert_person(
                tx,
                op,
                p.id,
                &p.name,
                p.role.slug(),
                p.country.slug(),
                p.org.as_deref(),
                false,
                false,
            )?;
        }
        Payload::RosterOrg(o) => {
            exec(
                tx,
                &format!(
                    "INSERT INTO orgs (id, name, kind, country, device, seq, hlc_wall, hlc_counter)
                     VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)
                     ON CONFLICT (id) DO UPDATE SET name = excluded.name, kind = excluded.kind,
                       country = excluded.country, device = excluded.device, seq = excluded.seq,
                       hlc_wall = excluded.hlc_wall, hlc_counter = excluded.hlc_counter {EARLIER}"
                ),
                params![
                    o.id,
                    o.name,
                    o.kind.slug(),
                    o.country.map(|c| c.slug()),
                    device,
                    seq,
                    wall,
                    counter
                ],
            )?;
        }
        Payload::RosterSite(s) => {
            exec(
                tx,
                &format!(
                    "INSERT INTO sites (id, name, kind, country, pcode, lat, lon, device, seq, hlc_wall, hlc_counter, adm1)
                     VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12)
                     ON CONFLICT (id) DO UPDATE SET name = excluded.name, kind = excluded.kind,
                       country = excluded.country, pcode = excluded.pcode, lat = excluded.lat, lon = excluded.lon,
                       adm1 = excluded.adm1,
                       device = excluded.device, seq = excluded.seq,
                       hlc_wall = excluded.hlc_wall, hlc_counter = excluded.hlc_counter {EARLIER}"
                ),
                params![s.id, s.name, s.kind.slug(), s.country.slug(), s.pcode, s.lat, s.lon, device, seq, wall, counter, s.adm1],
            )?;
        }
        Payload::CrisisOpen(c) => {
            let before = record(tx, c.id)?;
            let countries = c
                .countries
                .iter()
                .map(|c| c.slug())
                .collect::<Vec<_>>()
                .join(",");
            exec(
                tx,
                &CRISES_UPSERT,
                params![
                    c.id.as_bytes(),
                    c.name,
                    countries,
                    c.demo,
                    author,
                    device,
                    seq,
                    wall,
                    counter,
                    "open"
                ],
            )?;
            created(tx, op, payload, c.id, before)?;
        }
        Payload::RequestCreate(r) => {
            let q = &r.request;
            let before = record(tx, r.id)?;
            exec(
                tx,
                &REQUESTS_UPSERT,
                params![
                    r.id.as_bytes(),
                    r.reference,
                    r.crisis.as_bytes(),
                    q.country.slug(),
                    q.site,
                    q.sector.slug(),
                    json_text(&q.people),
                    q.people.total,
                    json_text(&q.vulnerable),
                    json_text(&q.items),
                    q.needed_by,
                    q.priority.slug(),
                    q.description,
                    "new",
                    author,
                    device,
                    seq,
                    wall,
                    counter
                ],
            )?;
            created(tx, op, payload, r.id, before)?;
        }
        Payload::TaskCreate(t) => {
            let k = &t.task;
            let before = record(tx, t.id)?;
            let holder = t.holder.clone().unwrap_or(Holder {
                person: None,
                org: None,
            });
            exec(
                tx,
                &TASKS_UPSERT,
                params![
                    t.id.as_bytes(),
                    t.reference,
                    t.crisis.as_bytes(),
                    k.title,
                    k.description,
                    scope_column(k.scope),
                    k.sector.slug(),
                    k.priority.slug(),
                    k.due,
                    if t.holder.is_some() {
                        "assigned"
                    } else {
                        "open"
                    },
                    holder.person.map(|p| p.as_bytes().to_vec()),
                    holder.org,
                    author,
                    device,
                    seq,
                    wall,
                    counter,
                    t.alert.map(|a| a.as_bytes().to_vec())
                ],
            )?;
            for r in &t.requests {
                exec(
                    tx,
                    "INSERT OR IGNORE INTO task_links (task, request) VALUES (?1, ?2)",
                    params![t.id.as_bytes(), r.as_bytes()],
                )?;
            }
            created(tx, op, payload, t.id, before)?;
        }
        Payload::FlowCount(f) => {
            let c = &f.count;
            exec(
                tx,
                &FLOWS_UPSERT,
                params![
                    f.id.as_bytes(),
                    f.reference,
                    f.crisis.as_bytes(),
                    c.point,
                    c.country.slug(),
                    c.direction.slug(),
                    c.start_ms,
                    c.end_ms,
                    c.people.total,
                    json_text(c),
                    author,
                    device,
                    seq,
                    wall,
                    counter
                ],
            )?;
        }
        Payload::AlertRaise(a) => {
            exec(
                tx,
                &ALERTS_UPSERT,
                params![
                    a.id.as_bytes(),
                    a.reference,
                    a.crisis.as_bytes(),
                    a.point,
                    a.country.slug(),
                    a.direction.slug(),
                    a.surge.people as i64,
                    a.window_end_ms,
                    json_text(a),
                    author,
                    device,
                    seq,
                    wall,
                    counter
                ],
            )?;
            for c in a.concerns() {
                exec(
                    tx,
                    "INSERT OR IGNORE INTO alert_concerns (alert, country) VALUES (?1, ?2)",
                    params![a.id.as_bytes(), c.slug()],
                )?;
            }
        }
        Payload::AlertAck(k) => {
            // The first acknowledgement for a country (or the region) stands.
            exec(
                tx,
                &format!(
                    "INSERT INTO alert_acks (alert, scope, author, note, device, seq, hlc_wall, hlc_counter)
                     VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)
                     ON CONFLICT (alert, scope) DO UPDATE SET author = excluded.author, note = excluded.note,
                       device = excluded.device, seq = excluded.seq, hlc_wall = excluded.hlc_wall,
                       hlc_counter = excluded.hlc_counter {EARLIER}"
                ),
                params![
                    k.alert.as_bytes(),
                    k.country.map(|c| c.slug()).unwrap_or("regional"),
                    author,
                    k.note,
                    device,
                    seq,
                    wall,
                    counter
                ],
            )?;
        }
        Payload::CorridorSet(c) => {
            // The latest corridor a regional director set stands.
            exec(
                tx,
                "INSERT INTO corridor (id, body, device, seq, hlc_wall, hlc_counter)
                 VALUES (1, ?1, ?2, ?3, ?4, ?5)
                 ON CONFLICT (id) DO UPDATE SET body = excluded.body, device = excluded.device,
                   seq = excluded.seq, hlc_wall = excluded.hlc_wall, hlc_counter = excluded.hlc_counter
                 WHERE (excluded.hlc_wall, excluded.hlc_counter, excluded.device)
                       > (hlc_wall, hlc_counter, device)",
                params![json_text(c), device, seq, wall, counter],
            )?;
        }
        Payload::Change(kind, c) => {
            let entity = c.entity.as_bytes();
            for w in &c.writes {
                exec(
                tx,
                    "INSERT OR IGNORE INTO registers (entity, field, device, seq, hlc_wall, hlc_counter, value, author, kind, text)
                     VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10)",
                    params![entity, w.field, device, seq, wall, counter, w.value.to_string(), author, kind.kind(), c.text],
                )?;
                for s in &w.seen {
                    exec(
                tx,
                        "INSERT OR IGNORE INTO superseded (entity, field, device, seq) VALUES (?1, ?2, ?3, ?4)",
                        params![entity, w.field, s.device.as_bytes(), s.seq as i64],
                    )?;
                }
            }
            if *kind == ChangeKind::NoteAdd {
                exec(
                tx,
                    "INSERT OR IGNORE INTO notes (device, seq, entity, hlc_wall, hlc_counter, author, text, significant)
                     VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)",
                    params![device, seq, entity, wall, counter, author, c.text, c.significant],
                )?;
            }
            if let Some(f) = &c.fulfilment {
                exec(
                tx,
                    "INSERT OR IGNORE INTO fulfilments (device, seq, request, hlc_wall, hlc_counter, author, item, what, quantity, unit, by_org)
                     VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11)",
                    params![device, seq, entity, wall, counter, author, f.item, f.what, f.quantity, f.unit, f.by],
                )?;
            }
            for w in &c.writes {
                refresh(tx, c.entity, &w.field)?;
            }
        }
    }
    Ok(())
}

#[allow(clippy::too_many_arguments)]
fn upsert_person(
    tx: &Transaction,
    op: &Op,
    id: EntityId,
    name: &str,
    role: &str,
    country: &str,
    org: Option<&str>,
    demo: bool,
    declared: bool,
) -> Result<()> {
    let b = &op.body;
    exec(
                tx,
        &format!(
            "INSERT INTO persons (id, name, role, country, org, demo, declared, device, seq, hlc_wall, hlc_counter)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11)
             ON CONFLICT (id) DO UPDATE SET name = excluded.name, role = excluded.role,
               country = excluded.country, org = excluded.org, demo = excluded.demo, declared = excluded.declared,
               device = excluded.device, seq = excluded.seq, hlc_wall = excluded.hlc_wall,
               hlc_counter = excluded.hlc_counter {EARLIER}"
        ),
        params![
            id.as_bytes(),
            name,
            role,
            country,
            org,
            demo,
            declared,
            b.device.as_bytes(),
            b.seq as i64,
            b.hlc.wall_ms as i64,
            b.hlc.counter
        ],
    )?;
    Ok(())
}

/// A create op is the first write of each of its record's fields, read
/// from the op when needed: nothing is stored per field, except a task's
/// links to requests, which the review reads across all tasks at once.
///
/// Two creates claiming one id (which honest devices never make) both get
/// every field registered, so that every field then shows a conflict, the
/// same on every replica whichever arrived first. `before` is the record
/// as it was before this op.
fn created(
    tx: &Transaction,
    op: &Op,
    payload: &Payload,
    id: EntityId,
    before: Option<Record>,
) -> Result<()> {
    let fields = payload.field_values(id);
    let Some(earlier) = before else {
        let links: Vec<(String, Value)> = fields
            .into_iter()
            .filter(|(f, _)| f.starts_with("link/"))
            .collect();
        return register(tx, id, op_write(op, payload.kind()), &links);
    };
    let mut earlier_fields: Vec<String> = Vec::new();
    if let Some(held) = load_op(tx, &earlier.device, earlier.seq)? {
        let fields = held.payload.field_values(id);
        register(
            tx,
            id,
            Write {
                device: earlier.device.clone(),
                seq: earlier.seq,
                wall: held.wall,
                counter: held.counter,
                author: held.author,
                kind: held.payload.kind().to_owned(),
                text: None,
                value: String::new(),
            },
            &fields,
        )?;
        earlier_fields = fields.into_iter().map(|(f, _)| f).collect();
    }
    register(tx, id, op_write(op, payload.kind()), &fields)?;
    let mut touched: Vec<String> = fields.into_iter().map(|(f, _)| f).collect();
    touched.extend(earlier_fields);
    touched.sort();
    touched.dedup();
    for field in &touched {
        refresh(tx, id, field)?;
    }
    Ok(())
}

/// One write of a field: who made it, when, with which op, and its value
/// as JSON text.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Write {
    pub device: Vec<u8>,
    pub seq: i64,
    pub wall: i64,
    pub counter: u32,
    pub author: Vec<u8>,
    pub kind: String,
    pub text: Option<String>,
    pub value: String,
}

impl Write {
    pub fn op(&self) -> Result<OpRef> {
        Ok(OpRef {
            device: crate::log::device_id(&self.device)?,
            seq: self.seq as u64,
        })
    }

    fn is(&self, device: &[u8], seq: i64) -> bool {
        self.device == device && self.seq == seq
    }
}

/// `op`'s identity as a write, without a value yet.
fn op_write(op: &Op, kind: &str) -> Write {
    let b = &op.body;
    Write {
        device: b.device.as_bytes().to_vec(),
        seq: b.seq as i64,
        wall: b.hlc.wall_ms as i64,
        counter: b.hlc.counter,
        author: b.author.as_bytes().to_vec(),
        kind: kind.to_owned(),
        text: None,
        value: String::new(),
    }
}

/// Registers `fields` as written by `by` (one statement per
/// [`REGISTER_ROWS`] fields).
fn register(tx: &Transaction, id: EntityId, by: Write, fields: &[(String, Value)]) -> Result<()> {
    let values: Vec<String> = fields.iter().map(|(_, v)| v.to_string()).collect();
    for (rows, texts) in fields
        .chunks(REGISTER_ROWS)
        .zip(values.chunks(REGISTER_ROWS))
    {
        let mut params: Vec<&dyn rusqlite::ToSql> = Vec::with_capacity(rows.len() * 9);
        for ((field, _), value) in rows.iter().zip(texts) {
            params.extend([
                id.as_bytes() as &dyn rusqlite::ToSql,
                field,
                &by.device,
                &by.seq,
                &by.wall,
                &by.counter,
                value,
                &by.author,
                &by.kind,
            ]);
        }
        tx.prepare_cached(&REGISTER_INSERTS[rows.len() - 1])?
            .execute(params.as_slice())?;
    }
    Ok(())
}

/// A record as its fields' rules need it: its kind, its crisis, and the
/// create op that made it (the earliest, if two ever claimed its id).
#[derive(Debug, Clone)]
pub(crate) struct Record {
    pub kind: &'static str,
    pub table: &'static str,
    pub crisis: Option<Vec<u8>>,
    pub device: Vec<u8>,
    pub seq: i64,
}

/// The record with this id, if any: a request, a task or a crisis.
pub(crate) fn record(conn: &Connection, id: EntityId) -> Result<Option<Record>> {
    Ok(conn
        .prepare_cached(
            "SELECT 'request', crisis, device, seq FROM requests WHERE id = ?1
             UNION ALL SELECT 'task', crisis, device, seq FROM tasks WHERE id = ?1
             UNION ALL SELECT 'crisis', NULL, device, seq FROM crises WHERE id = ?1
             LIMIT 1",
        )?
        .query_row([id.as_bytes()], |r| {
            let (kind, table) = match r.get_ref(0)?.as_str()? {
                "request" => ("request", "requests"),
                "task" => ("task", "tasks"),
                _ => ("crisis", "crises"),
            };
            Ok(Record {
                kind,
                table,
                crisis: r.get(1)?,
                device: r.get(2)?,
                seq: r.get(3)?,
            })
        })
        .optional()?)
}

/// An op held in the log: its clock, its author and its payload.
struct Held {
    wall: i64,
    counter: u32,
    author: Vec<u8>,
    payload: Payload,
}

fn load_op(conn: &Connection, device: &[u8], seq: i64) -> Result<Option<Held>> {
    let row = conn
        .prepare_cached(
            "SELECT hlc_wall, hlc_counter, author, kind, payload FROM ops WHERE device = ?1 AND seq = ?2",
        )?
        .query_row(params![device, seq], |r| {
            Ok((
                (r.get(0)?, r.get(1)?, r.get(2)?),
                (r.get::<_, String>(3)?, r.get::<_, Vec<u8>>(4)?),
            ))
        })
        .optional()?;
    let Some(((wall, counter, author), (kind, payload))) = row else {
        return Ok(None);
    };
    let payload = Payload::decode(&kind, &payload)
        .ok()
        .flatten()
        .ok_or_else(|| crate::log::damaged("a create op in the log cannot be read"))?;
    Ok(Some(Held {
        wall,
        counter,
        author,
        payload,
    }))
}

/// The writes a record's create op made, one per field, in the op's field
/// order.
pub(crate) fn create_writes(
    conn: &Connection,
    id: EntityId,
    record: &Record,
) -> Result<Vec<(String, Write)>> {
    let Some(Held {
        wall,
        counter,
        author,
        payload,
    }) = load_op(conn, &record.device, record.seq)?
    else {
        return Ok(Vec::new());
    };
    let kind = payload.kind().to_owned();
    Ok(payload
        .field_values(id)
        .into_iter()
        .map(|(field, value)| {
            (
                field,
                Write {
                    device: record.device.clone(),
                    seq: record.seq,
                    wall,
                    counter,
                    author: author.clone(),
                    kind: kind.clone(),
                    text: None,
                    value: value.to_string(),
                },
            )
        })
        .collect())
}

/// Has a later write replaced `device`/`seq`'s write of this field?
fn is_superseded(
    conn: &Connection,
    id: EntityId,
    field: &str,
    device: &[u8],
    seq: i64,
) -> Result<bool> {
    Ok(conn
        .prepare_cached(
            "SELECT 1 FROM superseded WHERE entity = ?1 AND field = ?2 AND device = ?3 AND seq = ?4",
        )?
        .query_row(params![id.as_bytes(), field, device, seq], |_| Ok(()))
        .optional()?
        .is_some())
}

/// The writes of one field, each with whether a later write replaced it:
/// the registered ones and the create's. With `heads_only`, only those
/// nobody replaced, and the create's op is read only while it still is one.
fn writes(
    conn: &Connection,
    id: EntityId,
    field: &str,
    heads_only: bool,
    record: Option<&Record>,
) -> Result<Vec<(Write, bool)>> {
    let mut out: Vec<(Write, bool)> = Vec::new();
    {
        let mut stmt = conn.prepare_cached(
            "SELECT device, seq, hlc_wall, hlc_counter, author, kind, text, value,
                    EXISTS (SELECT 1 FROM superseded s WHERE s.entity = r.entity AND s.field = r.field
                              AND s.device = r.device AND s.seq = r.seq)
             FROM registers r WHERE entity = ?1 AND field = ?2",
        )?;
        let mut rows = stmt.query(params![id.as_bytes(), field])?;
        while let Some(r) = rows.next()? {
            let superseded: bool = r.get(8)?;
            if heads_only && superseded {
                continue;
            }
            out.push((
                Write {
                    device: r.get(0)?,
                    seq: r.get(1)?,
                    wall: r.get(2)?,
                    counter: r.get(3)?,
                    author: r.get(4)?,
                    kind: r.get(5)?,
                    text: r.get(6)?,
                    value: r.get(7)?,
                },
                superseded,
            ));
        }
    }
    if let Some(record) = record {
        let registered = out.iter().any(|(w, _)| w.is(&record.device, record.seq));
        let superseded = !registered && is_superseded(conn, id, field, &record.device, record.seq)?;
        if !registered && (!heads_only || !superseded) {
            if let Some((_, write)) = create_writes(conn, id, record)?
                .into_iter()
                .find(|(f, _)| f == field)
            {
                out.push((write, superseded));
            }
        }
    }
    Ok(out)
}

/// Every write of one field, the create's first, in clock order, each with
/// whether a later write replaced it.
pub(crate) fn field_writes(
    conn: &Connection,
    id: EntityId,
    field: &str,
) -> Result<Vec<(Write, bool)>> {
    let mut out = writes(conn, id, field, false, record(conn, id)?.as_ref())?;
    out.sort_by(|(a, _), (b, _)| {
        (a.wall, a.counter, &a.device).cmp(&(b.wall, b.counter, &b.device))
    });
    Ok(out)
}

/// The heads of one field (its writes nobody replaced), the displayed
/// winner first: highest (clock, device).
pub(crate) fn head_writes(conn: &Connection, id: EntityId, field: &str) -> Result<Vec<Write>> {
    heads_of(conn, id, field, record(conn, id)?.as_ref())
}

/// [`head_writes`] for a record already looked up.
fn heads_of(
    conn: &Connection,
    id: EntityId,
    field: &str,
    record: Option<&Record>,
) -> Result<Vec<Write>> {
    let mut heads: Vec<Write> = writes(conn, id, field, true, record)?
        .into_iter()
        .map(|(w, _)| w)
        .collect();
    heads.sort_by(|a, b| (b.wall, b.counter, &b.device).cmp(&(a.wall, a.counter, &a.device)));
    Ok(heads)
}

pub(crate) fn scope_column(scope: TaskScope) -> &'static str {
    match scope {
        TaskScope::National(c) => c.slug(),
        TaskScope::Regional => "regional",
    }
}

/// Recomputes one field of one record from its heads: the value shown, and
/// whether it is in conflict (heads holding different values; concurrent
/// writes of one value agree).
fn refresh(tx: &Transaction, entity: EntityId, field: &str) -> Result<()> {
    let id = entity.as_bytes();
    let Some(record) = record(tx, entity)? else {
        return Ok(());
    };
    let heads: Vec<String> = heads_of(tx, entity, field, Some(&record))?
        .into_iter()
        .map(|w| w.value)
        .collect();
    let Some(winner) = heads.first() else {
        return Ok(());
    };
    let value: Value = serde_json::from_str(winner).unwrap_or(Value::Null);
    let (kind, crisis, table) = (record.kind, record.crisis, record.table);
    let set = |column: &str, v: rusqlite::types::Value| -> Result<()> {
        exec(
            tx,
            &format!("UPDATE {table} SET {column} = ?2 WHERE id = ?1"),
            params![id, v],
        )?;
        Ok(())
    };
    use rusqlite::types::Value as Sql;
    let as_text = |v: &Value| text(v).map(Sql::Text).unwrap_or(Sql::Null);
    let as_int = |v: &Value| v.as_i64().map(Sql::Integer).unwrap_or(Sql::Null);
    match (table, field) {
        ("requests", "people") => {
            set("people", Sql::Text(value.to_string()))?;
            set("people_total", as_int(&value["total"]))?;
        }
        ("requests", "vulnerable" | "items") => set(field, Sql::Text(value.to_string()))?,
        ("requests", "needed_by") | ("tasks", "due") => set(field, as_int(&value))?,
        (
            "requests",
            "status" | "priority" | "site" | "sector" | "description" | "duplicate_of",
        )
        | ("tasks", "status" | "title" | "description" | "sector" | "priority")
        | ("crises", "status" | "name") => set(field, as_text(&value))?,
        ("tasks", "scope") => {
            if let Ok(scope) = serde_json::from_value::<TaskScope>(value.clone()) {
                set("scope", Sql::Text(scope_column(scope).into()))?;
            }
        }
        ("tasks", "holder") => {
            let h: Option<Holder> = serde_json::from_value(value.clone()).unwrap_or(None);
            let h = h.unwrap_or(Holder {
                person: None,
                org: None,
            });
            set(
                "holder_person",
                h.person
                    .map(|p| Sql::Blob(p.as_bytes().to_vec()))
                    .unwrap_or(Sql::Null),
            )?;
            set("holder_org", h.org.map(Sql::Text).unwrap_or(Sql::Null))?;
        }
        ("tasks", f) if f.starts_with("link/") => {
            if let Some(request) = f
                .strip_prefix("link/")
                .and_then(|r| r.parse::<EntityId>().ok())
            {
                if value == Value::Bool(true) {
                    exec(
                        tx,
                        "INSERT OR IGNORE INTO task_links (task, request) VALUES (?1, ?2)",
                        params![id, request.as_bytes()],
                    )?;
                } else {
                    exec(
                        tx,
                        "DELETE FROM task_links WHERE task = ?1 AND request = ?2",
                        params![id, request.as_bytes()],
                    )?;
                }
            }
        }
        _ => {}
    }
    let mut distinct: Vec<&String> = Vec::new();
    for h in &heads {
        if !distinct.contains(&h) {
            distinct.push(h);
        }
    }
    // Only a field entering or leaving conflict changes the record's count.
    let changed = if distinct.len() > 1 {
        exec(
            tx,
            "INSERT INTO conflicts (entity, field, kind, crisis, heads) VALUES (?1, ?2, ?3, ?4, ?5)
             ON CONFLICT (entity, field) DO UPDATE SET heads = excluded.heads",
            params![id, field, kind, crisis, distinct.len() as i64],
        )?
    } else {
        exec(
            tx,
            "DELETE FROM conflicts WHERE entity = ?1 AND field = ?2",
            params![id, field],
        )?
    };
    if changed > 0 {
        let sql = format!(
            "UPDATE {table} SET conflicts = (SELECT count(*) FROM conflicts WHERE entity = ?1) WHERE id = ?1"
        );
        exec(tx, &sql, [id])?;
    }
    Ok(())
}

/// A projection value as JSON text; the payload types always serialise.
fn json_text<T: serde::Serialize>(x: &T) -> String {
    serde_json::to_string(x).expect("projection values serialise to JSON")
}

impl Store {
    /// Throws the projections away and recomputes them from the log, in one
    /// transaction, with the verdicts recorded when each op was taken in.
    /// The result must equal the incrementally kept tables. Grants and
    /// declarations of demo devices come first: every op is projected after
    /// the grant it was judged with. Its progress goes to the process's
    /// observer ([`crate::observe_rebuilds`]).
    pub fn rebuild_projections(&mut self) -> Result<()> {
        // A hub keeps the log layer alone (see `facts`).
        let hub = self.net.is_hub;
        let tx = self
            .conn
            .transaction_with_behavior(TransactionBehavior::Immediate)?;
        clear(&tx)?;
        // Checkpoints of the past were made from the projections as they
        // were: they go with them.
        exec(&tx, "DELETE FROM checkpoints", [])?;
        let all = u64::MAX;
        let mut replay = crate::past::Replay::start(crate::past::count_window(
            &tx,
            "main",
            crate::Basis::Made,
            None,
            all,
        )?);
        crate::past::project_window(&tx, "main", crate::Basis::Made, None, all, hub, &mut replay)?;
        tx.commit()?;
        replay.finish();
        Ok(())
    }

    /// Every projection row as text, in a fixed order: two stores with equal
    /// dumps show people exactly the same thing.
    pub fn projection_dump(&self) -> Result<String> {
        let mut out = String::new();
        for table in TABLES {
            out.push_str(&format!("## {table}\n"));
            let columns = self
                .conn
                .prepare(&format!("SELECT * FROM {table}"))?
                .column_count();
            let order = (1..=columns)
                .map(|i| i.to_string())
                .collect::<Vec<_>>()
                .join(", ");
            let mut stmt = self
                .conn
                .prepare(&format!("SELECT * FROM {table} ORDER BY {order}"))?;
            let mut rows = stmt.query([])?;
            while let Some(row) = rows.next()? {
                let cells: Vec<String> = (0..columns)
                    .map(|i| match row.get_ref(i) {
                        Ok(rusqlite::types::ValueRef::Null) => "NULL".to_owned(),
                        Ok(rusqlite::types::ValueRef::Integer(n)) => n.to_string(),
                        Ok(rusqlite::types::ValueRef::Real(f)) => f.to_string(),
                        Ok(rusqlite::types::ValueRef::Text(t)) => {
                            format!("{:?}", String::from_utf8_lossy(t))
                        }
                        Ok(rusqlite::types::ValueRef::Blob(b)) => hex::encode(b),
                        Err(e) => format!("<{e}>"),
                    })
                    .collect();
                out.push_str(&cells.join("|"));
                out.push('\n');
            }
        }
        Ok(out)
    }
}
