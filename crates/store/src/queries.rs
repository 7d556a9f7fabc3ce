//! What screens and commands ask of the store, and the actions behind the
//! first screen: set up the device, open a crisis, log a request.

use crate::error::{Error, Result};
use crate::log::{damaged, device_id, entity_id, RawOp, OP_COLUMNS};
use crate::{new_id, random, Store};
use relevo_core::domain::{
    Country, CrisisDraft, IdentityDraft, ItemLine, NewRequest, People, Priority, RequestDraft,
    RequestStatus, Role, Sector, Vulnerable,
};
use relevo_core::payload::{CrisisOpened, Payload, PersonDeclared, RequestCreated};
use relevo_core::permissions::{self, Action, Actor, Scope};
use relevo_core::{DeviceKey, EntityId};
use rusqlite::OptionalExtension;
use serde::{Deserialize, Serialize};
use specta::Type;

/// Who uses this device.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, Type)]
pub struct IdentityView {
    pub person_id: EntityId,
    pub name: String,
    pub role: Role,
    pub country: Country,
    pub org: Option<String>,
    pub device_id: String,
    pub device_tag: String,
    /// What the person may do somewhere (their country, the region, a task
    /// they hold), from the core's permission table: the app offers these
    /// and never compares role names.
    pub may: Vec<Action>,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, Type)]
pub struct CrisisView {
    pub id: EntityId,
    pub name: String,
    pub countries: Vec<Country>,
    pub demo: bool,
    pub closed: bool,
    /// When it was opened (ms since the Unix epoch, by the opener's clock).
    pub opened_at_ms: u64,
}

/// A request as the list shows it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, Type)]
pub struct RequestView {
    pub id: EntityId,
    pub reference: String,
    pub crisis: EntityId,
    pub country: Country,
    pub site: String,
    pub sector: Sector,
    pub people: People,
    pub priority: Priority,
    pub description: String,
    pub status: RequestStatus,
    /// Deadline (ms since the Unix epoch, UTC).
    pub needed_by_ms: Option<i64>,
    pub vulnerable: Vec<Vulnerable>,
    pub items: Vec<ItemLine>,
    pub duplicate_of: Option<EntityId>,
    /// Fields with competing values.
    pub conflicts: u32,
    /// Tasks that answer it.
    pub tasks: u32,
    /// Who logged it, once their declaration is held.
    pub author_name: Option<String>,
    pub device_tag: String,
    /// When it was logged (ms since the Unix epoch, by the logger's clock).
    pub recorded_at_ms: u64,
    /// The hub is known to hold the op that logged it.
    pub on_hub: bool,
}

impl RequestView {
    /// The request's current details, as a request would be logged with them.
    pub fn to_request(&self) -> NewRequest {
        NewRequest {
            country: self.country,
            site: self.site.clone(),
            sector: self.sector,
            people: self.people,
            priority: self.priority,
            description: self.description.clone(),
            vulnerable: self.vulnerable.clone(),
            needed_by: self.needed_by_ms,
            items: self.items.clone(),
        }
    }
}

/// What the app needs to pick a screen: who uses the device, the crisis it
/// works in, and the crises it could switch to.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, Type)]
pub struct Snapshot {
    pub identity: Option<IdentityView>,
    pub crisis: Option<CrisisView>,
    pub crises: Vec<CrisisView>,
}

/// One op of the raw log, for `relevo log` and review.
#[derive(Clone, Debug, Serialize)]
pub struct LogEntry {
    pub device: String,
    pub device_tag: String,
    pub seq: u64,
    pub hlc: String,
    pub author: String,
    pub kind: String,
    pub payload: serde_json::Value,
    pub prev: String,
    pub hash: String,
    pub signature: String,
    pub refused: Option<String>,
}

pub(crate) fn parse_slug<T>(text: &str, parse: fn(&str) -> Option<T>) -> Result<T> {
    parse(text).ok_or_else(|| damaged(&format!("unknown code '{text}' in a projection")))
}

impl Store {
    pub fn identity(&self) -> Result<Option<IdentityView>> {
        let Some(local) = &self.local else {
            return Ok(None);
        };
        let device = local.key.device_id();
        let row = self
            .conn
            .query_row(
                "SELECT name, role, country, org FROM persons WHERE id = ?1",
                [local.person.as_bytes()],
                |r| {
                    Ok((
                        r.get::<_, String>(0)?,
                        r.get::<_, String>(1)?,
                        r.get::<_, String>(2)?,
                        r.get(3)?,
                    ))
                },
            )
            .optional()?;
        let (name, role, country, org) =
            row.ok_or_else(|| damaged("this device's person is missing"))?;
        let role = parse_slug(&role, Role::parse)?;
        let country = parse_slug(&country, Country::parse)?;
        Ok(Some(IdentityView {
            person_id: local.person,
            name,
            role,
            country,
            may: relevo_core::permissions::allowed(Actor { role, country }),
            org,
            device_id: device.to_string(),
            device_tag: device.tag(),
        }))
    }

    /// Sets up this device: a new key pair, and the person's declaration as
    /// its first op. Refused if the device already has an identity.
    pub fn init_identity(&mut self, draft: &IdentityDraft) -> Result<IdentityView> {
        if let Some(existing) = self.identity()? {
            return Err(Error::AlreadyInitialised {
                name: existing.name,
            });
        }
        let identity = draft.validate().map_err(Error::Validation)?;
        let person = new_id();
        let key = DeviceKey::from_secret(random());
        self.create_local(
            key,
            person,
            Payload::PersonDeclare(PersonDeclared::new(person, identity, false)),
        )?;
        self.identity()?.ok_or(Error::NotInitialised)
    }

    /// This device's person, or the error that says set-up comes first.
    pub(crate) fn me(&self) -> Result<IdentityView> {
        self.identity()?.ok_or(Error::NotInitialised)
    }

    /// Opens a new crisis and makes it the current one.
    pub fn open_crisis(&mut self, draft: &CrisisDraft) -> Result<CrisisView> {
        permit(&self.me()?, Action::OpenCrisis, Scope::Regional)?;
        let crisis = draft.validate().map_err(Error::Validation)?;
        let id = new_id();
        self.append_local(|_| Ok(Payload::CrisisOpen(CrisisOpened::new(id, crisis, false))))?;
        self.set_current_crisis(id)?;
        self.crisis(id)?
            .ok_or_else(|| damaged("the crisis just opened is missing"))
    }

    pub fn snapshot(&self) -> Result<Snapshot> {
        let crises = self.crises()?;
        Ok(Snapshot {
            identity: self.identity()?,
            crisis: self.current_of(&crises)?,
            crises,
        })
    }

    pub fn crises(&self) -> Result<Vec<CrisisView>> {
        let mut stmt = self.conn.prepare(
            "SELECT id, name, countries, demo, hlc_wall, status FROM crises ORDER BY hlc_wall DESC, hlc_counter DESC, id",
        )?;
        let rows = stmt.query_map([], |r| {
            Ok((
                r.get::<_, Vec<u8>>(0)?,
                r.get::<_, String>(1)?,
                r.get::<_, String>(2)?,
                r.get(3)?,
                r.get::<_, i64>(4)?,
                r.get::<_, String>(5)?,
            ))
        })?;
        let mut out = Vec::new();
        for row in rows {
            let (id, name, countries, demo, opened, status) = row?;
            let countries = countries
                .split(',')
                .filter(|c| !c.is_empty())
                .map(|c| parse_slug(c, Country::parse))
                .collect::<Result<Vec<_>>>()?;
            out.push(CrisisView {
                id: entity_id(&id)?,
                name,
                countries,
                demo,
                closed: status == "closed",
                opened_at_ms: opened as u64,
            });
        }
        Ok(out)
    }

    pub fn crisis(&self, id: EntityId) -> Result<Option<CrisisView>> {
        Ok(self.crises()?.into_iter().find(|c| c.id == id))
    }

    /// The crisis this device works in: the one chosen last, else the most
    /// recently opened.
    pub fn current_crisis(&self) -> Result<Option<CrisisView>> {
        self.current_of(&self.crises()?)
    }

    fn current_of(&self, crises: &[CrisisView]) -> Result<Option<CrisisView>> {
        let chosen: Option<String> = self
            .conn
            .query_row(
                "SELECT value FROM settings WHERE key = 'current_crisis'",
                [],
                |r| r.get(0),
            )
            .optional()?;
        let chosen = chosen.and_then(|c| c.parse::<EntityId>().ok());
        Ok(crises
            .iter()
            .find(|c| Some(c.id) == chosen)
            .or(crises.first())
            .cloned())
    }

    /// Chooses the crisis this device works in; it must be one the device holds.
    pub fn set_current_crisis(&mut self, id: EntityId) -> Result<()> {
        if self.crisis(id)?.is_none() {
            return Err(Error::NoCrisis);
        }
        self.conn.execute(
            "INSERT INTO settings (key, value) VALUES ('current_crisis', ?1)
             ON CONFLICT (key) DO UPDATE SET value = excluded.value",
            [id.to_string()],
        )?;
        Ok(())
    }

    /// Validates and logs a request in the current crisis. Nothing is written
    /// when validation fails.
    pub fn add_request(&mut self, draft: &RequestDraft) -> Result<RequestView> {
        let me = self.me()?;
        let request = draft.validate().map_err(Error::Validation)?;
        permit(&me, Action::LogRequest, Scope::National(request.country))?;
        let crisis = self.current_crisis()?.ok_or(Error::NoCrisis)?;
        let id = new_id();
        self.append_local(|_| {
            Ok(Payload::RequestCreate(RequestCreated {
                id,
                // Numbered when its key is chosen.
                reference: String::new(),
                crisis: crisis.id,
                request,
            }))
        })?;
        self.request(id)?
            .ok_or_else(|| damaged("the request just logged is missing"))
    }

    pub(crate) fn request_rows(
        &self,
        filter: &str,
        args: &[rusqlite::types::Value],
        limit: u32,
    ) -> Result<Vec<RequestView>> {
        let sql = format!(
            "SELECT r.id, r.reference, r.crisis, r.country, r.site, r.sector, r.people, r.priority, r.description,
                    r.status, r.needed_by, r.vulnerable, r.items, r.duplicate_of, r.conflicts,
                    (SELECT count(*) FROM task_links l WHERE l.request = r.id), p.name, r.device, r.hlc_wall, r.seq
             FROM requests r LEFT JOIN persons p ON p.id = r.author
             WHERE {filter}
             ORDER BY r.hlc_wall DESC, r.hlc_counter DESC, r.device
             LIMIT {limit}"
        );
        let on_hub = self.on_hub_test()?;
        let mut stmt = self.conn.prepare_cached(&sql)?;
        let mut rows = stmt.query(rusqlite::params_from_iter(args))?;
        let mut out = Vec::new();
        while let Some(r) = rows.next()? {
            out.push(RequestView {
                on_hub: on_hub(&r.get::<_, Vec<u8>>(17)?, r.get(19)?)?,
                id: entity_id(&r.get::<_, Vec<u8>>(0)?)?,
                reference: r.get(1)?,
                crisis: entity_id(&r.get::<_, Vec<u8>>(2)?)?,
                country: parse_slug(&r.get::<_, String>(3)?, Country::parse)?,
                site: r.get(4)?,
                sector: parse_slug(&r.get::<_, String>(5)?, Sector::parse)?,
                people: json(r.get(6)?, "people")?,
                priority: parse_slug(&r.get::<_, String>(7)?, Priority::parse)?,
                description: r.get(8)?,
                status: parse_slug(&r.get::<_, String>(9)?, RequestStatus::parse)?,
                needed_by_ms: r.get(10)?,
                vulnerable: json(r.get(11)?, "vulnerable groups")?,
                items: json(r.get(12)?, "items")?,
                duplicate_of: r.get::<_, Option<String>>(13)?.and_then(|s| s.parse().ok()),
                conflicts: r.get(14)?,
                tasks: r.get(15)?,
                author_name: r.get(16)?,
                device_tag: device_id(&r.get::<_, Vec<u8>>(17)?)?.tag(),
                recorded_at_ms: r.get::<_, i64>(18)? as u64,
            });
        }
        Ok(out)
    }

    /// The requests of a crisis, newest first.
    pub fn requests(&self, crisis: EntityId) -> Result<Vec<RequestView>> {
        self.request_rows(
            "r.crisis = ?1",
            &[crisis.as_bytes().to_vec().into()],
            u32::MAX,
        )
    }

    pub fn request(&self, id: EntityId) -> Result<Option<RequestView>> {
        Ok(self
            .request_rows("r.id = ?1", &[id.as_bytes().to_vec().into()], 1)?
            .pop())
    }

    /// The raw log, in (device, seq) order.
    pub fn log_entries(&self) -> Result<Vec<LogEntry>> {
        let mut stmt = self.conn.prepare(&format!(
            "SELECT {OP_COLUMNS}, hash, refused FROM ops ORDER BY device, seq"
        ))?;
        let mut rows = stmt.query([])?;
        let mut out = Vec::new();
        while let Some(row) = rows.next()? {
            let hash: Vec<u8> = row.get(9)?;
            let refused: Option<String> = row.get(10)?;
            let op = RawOp::read(row)?.into_op()?;
            let b = op.body;
            out.push(LogEntry {
                device: b.device.to_string(),
                device_tag: b.device.tag(),
                seq: b.seq,
                hlc: b.hlc.to_string(),
                author: b.author.to_string(),
                payload: serde_json::from_slice(&b.payload)
                    .unwrap_or_else(|_| serde_json::Value::String(hex::encode(&b.payload))),
                kind: b.kind,
                prev: b.prev.to_string(),
                hash: hex::encode(hash),
                signature: hex::encode(op.signature),
                refused,
            });
        }
        Ok(out)
    }
}

/// Asks the one permission rule whether `me` may do `action` in `scope`; a
/// refusal says which role or scope it needs, and nothing is written.
pub(crate) fn permit(me: &IdentityView, action: Action, scope: Scope) -> Result<()> {
    permissions::check(
        Actor {
            role: me.role,
            country: me.country,
        },
        action,
        scope,
        false,
    )
    .map_err(Error::Forbidden)
}

/// A JSON column of a projection.
pub(crate) fn json<T: serde::de::DeserializeOwned>(text: String, what: &str) -> Result<T> {
    serde_json::from_str(&text).map_err(|_| damaged(&format!("a stored {what} is not valid")))
}
