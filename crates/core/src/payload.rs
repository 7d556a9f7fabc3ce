//! What ops say: one typed payload per kind.
//!
//! Payloads are encoded as JSON with fields in declaration order; the bytes
//! are signed as they are and never re-encoded (see [`crate::op`]). The rules
//! a replica applies to a received op live in [`crate::rules`].
//!
//! Records (crises, requests, tasks) are made by a create op that sets every
//! field at once; every later change is a [`Change`]: writes to named fields,
//! each naming the values it saw (its parents), so that two writes that did
//! not see each other are detected as a conflict.

use crate::domain::corridor::Surge;
use crate::domain::roster::{Org, Site};
use crate::domain::{
    Corridor, Country, Crisis, Direction, FlowCount, Holder, Identity, NewRequest, NewTask, Role,
    Vulnerable,
};
use crate::identity::DeviceId;
use crate::ids::{EntityId, RefKind, Reference};
use crate::op::OpRef;
use serde::{Deserialize, Serialize};
use serde_json::{json, Value};

pub const PERSON_DECLARE: &str = "person.declare";
pub const CRISIS_OPEN: &str = "crisis.open";
pub const REQUEST_CREATE: &str = "request.create";
pub const TASK_CREATE: &str = "task.create";
pub const ROSTER_ORG: &str = "roster.org";
pub const ROSTER_SITE: &str = "roster.site";
pub const ROSTER_PERSON: &str = "roster.person";
pub const HUB_DECLARE: &str = "hub.declare";
pub const DEVICE_GRANT: &str = "device.grant";
pub const DEVICE_REVOKE: &str = "device.revoke";
pub const FLOW_COUNT: &str = "flow.count";
pub const ALERT_RAISE: &str = "alert.raise";
pub const ALERT_ACK: &str = "alert.ack";
pub const CORRIDOR_SET: &str = "corridor.set";

/// The hub's first op: it names the network. The hub's device key is the
/// trust anchor every enrolled device learns at enrolment.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct HubDeclared {
    pub name: String,
}

/// The hub binds a device key to a person, a role and a scope. Every op of
/// that device is judged with this grant, on every replica.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct DeviceGrant {
    pub device: DeviceId,
    pub person: EntityId,
    pub name: String,
    pub role: Role,
    pub country: Country,
    pub org: Option<String>,
}

/// The hub stops accepting a device's ops after `upto` (the last one it held
/// when it revoked the device).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct DeviceRevoke {
    pub device: DeviceId,
    pub upto: u64,
    pub reason: String,
}

/// A person says who they are; the op's author is this person's id.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct PersonDeclared {
    pub id: EntityId,
    pub name: String,
    pub role: Role,
    pub country: Country,
    pub org: Option<String>,
    /// A demo identity: its ops never leave the device.
    #[serde(default)]
    pub demo: bool,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct CrisisOpened {
    pub id: EntityId,
    pub name: String,
    pub countries: Vec<Country>,
    /// The demo crisis: never leaves the device.
    #[serde(default)]
    pub demo: bool,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct RequestCreated {
    pub id: EntityId,
    /// `REQ-<device tag>-<n>`.
    pub reference: String,
    pub crisis: EntityId,
    #[serde(flatten)]
    pub request: NewRequest,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct TaskCreated {
    pub id: EntityId,
    /// `TSK-<device tag>-<n>`.
    pub reference: String,
    pub crisis: EntityId,
    #[serde(flatten)]
    pub task: NewTask,
    /// The requests it answers.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub requests: Vec<EntityId>,
    /// Assigned straight away.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub holder: Option<Holder>,
    /// The early-warning alert it prepares for.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub alert: Option<EntityId>,
}

/// A flow count logged at a monitoring point.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct FlowCounted {
    pub id: EntityId,
    /// `FLW-<device tag>-<n>`.
    pub reference: String,
    pub crisis: EntityId,
    #[serde(flatten)]
    pub count: FlowCount,
}

/// When a surge is expected at a point downstream.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, specta::Type)]
pub struct AlertArrival {
    pub point: String,
    pub country: Country,
    pub earliest_ms: i64,
    pub latest_ms: i64,
}

/// An early warning: a surge at a point, and when it is expected downstream.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct AlertRaised {
    pub id: EntityId,
    /// `ALR-<device tag>-<n>`.
    pub reference: String,
    pub crisis: EntityId,
    pub point: String,
    pub country: Country,
    pub direction: Direction,
    /// The count that tipped it over.
    pub count: EntityId,
    /// The end of the last 24 hours the surge was measured over.
    pub window_end_ms: i64,
    pub surge: Surge,
    /// The vulnerable groups counted at the point in those 24 hours.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub vulnerable: Vec<Vulnerable>,
    /// The points downstream, nearest first.
    pub arrivals: Vec<AlertArrival>,
}

impl AlertRaised {
    /// The countries an alert concerns: the point's and every country
    /// downstream.
    pub fn concerns(&self) -> Vec<Country> {
        let mut out = vec![self.country];
        for a in &self.arrivals {
            if !out.contains(&a.country) {
                out.push(a.country);
            }
        }
        out
    }
}

/// A country's directors (or the region's) acknowledge an alert.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct AlertAcked {
    pub alert: EntityId,
    /// The op that raised it.
    pub on: OpRef,
    /// The country acknowledging; none: the region.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub country: Option<Country>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub note: Option<String>,
}

/// Someone put on the roster by an administrator: they can hold tasks.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct RosterPerson {
    pub id: EntityId,
    pub name: String,
    pub role: Role,
    pub country: Country,
    pub org: Option<String>,
}

/// One field write: the new value and the writes it replaces (the field's
/// heads when it was made).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Write {
    pub field: String,
    pub value: Value,
    pub seen: Vec<OpRef>,
}

/// What was delivered against a request.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Fulfilment {
    /// The item line (0-based) it answers, if any.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub item: Option<u32>,
    pub what: String,
    pub quantity: f64,
    pub unit: String,
    /// The organisation that delivered.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub by: Option<String>,
}

/// A change to an existing record.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Change {
    pub entity: EntityId,
    /// The op that created the record.
    pub on: OpRef,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub writes: Vec<Write>,
    /// Heads of the fields the permission verdict relies on (a task's scope
    /// and holder) as the author saw them.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub saw: Vec<OpRef>,
    /// A note, a handover note or the reason a task is blocked.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub text: Option<String>,
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub significant: bool,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub fulfilment: Option<Fulfilment>,
}

macro_rules! change_kinds {
    ($($variant:ident => $kind:literal,)+) => {
        /// The intents a [`Change`] can carry; each is an op kind.
        #[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
        pub enum ChangeKind { $($variant,)+ }

        impl ChangeKind {
            pub const ALL: &'static [ChangeKind] = &[$(ChangeKind::$variant,)+];
            pub fn kind(self) -> &'static str {
                match self { $(ChangeKind::$variant => $kind,)+ }
            }
            pub fn parse(kind: &str) -> Option<ChangeKind> {
                match kind { $($kind => Some(ChangeKind::$variant),)+ _ => None }
            }
        }
    };
}

change_kinds! {
    RequestUpdate => "request.update",
    RequestStatus => "request.status",
    RequestFulfil => "request.fulfil",
    TaskAssign => "task.assign",
    TaskAccept => "task.accept",
    TaskHandOver => "task.handover",
    TaskStatus => "task.status",
    TaskEscalate => "task.escalate",
    TaskLink => "task.link",
    TaskUnlink => "task.unlink",
    NoteAdd => "note.add",
    ConflictResolve => "conflict.resolve",
    CrisisClose => "crisis.close",
}

#[derive(Clone, Debug, PartialEq)]
pub enum Payload {
    PersonDeclare(PersonDeclared),
    CrisisOpen(CrisisOpened),
    RequestCreate(RequestCreated),
    TaskCreate(TaskCreated),
    RosterOrg(Org),
    RosterSite(Site),
    RosterPerson(RosterPerson),
    Change(ChangeKind, Change),
    HubDeclare(HubDeclared),
    DeviceGrant(DeviceGrant),
    DeviceRevoke(DeviceRevoke),
    FlowCount(FlowCounted),
    AlertRaise(AlertRaised),
    AlertAck(AlertAcked),
    CorridorSet(Corridor),
}

/// The kinds of record that have fields.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum EntityKind {
    Crisis,
    Request,
    Task,
}

impl EntityKind {
    pub fn slug(self) -> &'static str {
        match self {
            EntityKind::Crisis => "crisis",
            EntityKind::Request => "request",
            EntityKind::Task => "task",
        }
    }
}

#[derive(Debug, thiserror::Error)]
pub enum DecodeError {
    #[error("the {kind} payload is not valid: {source}")]
    Malformed {
        kind: String,
        source: serde_json::Error,
    },
}

/// The fields of a request that `request.update` may correct (its country,
/// crisis and reference never change; status has its own lifecycle).
pub const REQUEST_EDITABLE: &[&str] = &[
    "priority",
    "site",
    "sector",
    "people",
    "vulnerable",
    "items",
    "needed_by",
    "description",
];

/// The field that records a link from a task to a request.
pub fn link_field(request: EntityId) -> String {
    format!("link/{request}")
}

impl Payload {
    pub fn kind(&self) -> &'static str {
        match self {
            Payload::PersonDeclare(_) => PERSON_DECLARE,
            Payload::CrisisOpen(_) => CRISIS_OPEN,
            Payload::RequestCreate(_) => REQUEST_CREATE,
            Payload::TaskCreate(_) => TASK_CREATE,
            Payload::RosterOrg(_) => ROSTER_ORG,
            Payload::RosterSite(_) => ROSTER_SITE,
            Payload::RosterPerson(_) => ROSTER_PERSON,
            Payload::Change(k, _) => k.kind(),
            Payload::HubDeclare(_) => HUB_DECLARE,
            Payload::DeviceGrant(_) => DEVICE_GRANT,
            Payload::DeviceRevoke(_) => DEVICE_REVOKE,
            Payload::FlowCount(_) => FLOW_COUNT,
            Payload::AlertRaise(_) => ALERT_RAISE,
            Payload::AlertAck(_) => ALERT_ACK,
            Payload::CorridorSet(_) => CORRIDOR_SET,
        }
    }

    pub fn encode(&self) -> Vec<u8> {
        let bytes = match self {
            Payload::PersonDeclare(p) => serde_json::to_vec(p),
            Payload::CrisisOpen(p) => serde_json::to_vec(p),
            Payload::RequestCreate(p) => serde_json::to_vec(p),
            Payload::TaskCreate(p) => serde_json::to_vec(p),
            Payload::RosterOrg(p) => serde_json::to_vec(p),
            Payload::RosterSite(p) => serde_json::to_vec(p),
            Payload::RosterPerson(p) => serde_json::to_vec(p),
            Payload::Change(_, p) => serde_json::to_vec(p),
            Payload::HubDeclare(p) => serde_json::to_vec(p),
            Payload::DeviceGrant(p) => serde_json::to_vec(p),
            Payload::DeviceRevoke(p) => serde_json::to_vec(p),
            Payload::FlowCount(p) => serde_json::to_vec(p),
            Payload::AlertRaise(p) => serde_json::to_vec(p),
            Payload::AlertAck(p) => serde_json::to_vec(p),
            Payload::CorridorSet(p) => serde_json::to_vec(p),
        };
        // Plain structs of strings, numbers and enums always serialise.
        bytes.expect("payloads serialise to JSON")
    }

    /// `Ok(None)` for a kind this version does not know (made by a newer
    /// version): the op is kept and relayed, just not projected here.
    pub fn decode(kind: &str, bytes: &[u8]) -> Result<Option<Payload>, DecodeError> {
        fn de<T: serde::de::DeserializeOwned>(kind: &str, bytes: &[u8]) -> Result<T, DecodeError> {
            serde_json::from_slice(bytes).map_err(|source| DecodeError::Malformed {
                kind: kind.to_owned(),
                source,
            })
        }
        Ok(Some(match kind {
            PERSON_DECLARE => Payload::PersonDeclare(de(kind, bytes)?),
            CRISIS_OPEN => Payload::CrisisOpen(de(kind, bytes)?),
            REQUEST_CREATE => Payload::RequestCreate(de(kind, bytes)?),
            TASK_CREATE => Payload::TaskCreate(de(kind, bytes)?),
            ROSTER_ORG => Payload::RosterOrg(de(kind, bytes)?),
            ROSTER_SITE => Payload::RosterSite(de(kind, bytes)?),
            ROSTER_PERSON => Payload::RosterPerson(de(kind, bytes)?),
            HUB_DECLARE => Payload::HubDeclare(de(kind, bytes)?),
            DEVICE_GRANT => Payload::DeviceGrant(de(kind, bytes)?),
            DEVICE_REVOKE => Payload::DeviceRevoke(de(kind, bytes)?),
            FLOW_COUNT => Payload::FlowCount(de(kind, bytes)?),
            ALERT_RAISE => Payload::AlertRaise(de(kind, bytes)?),
            ALERT_ACK => Payload::AlertAck(de(kind, bytes)?),
            CORRIDOR_SET => Payload::CorridorSet(de(kind, bytes)?),
            _ => match ChangeKind::parse(kind) {
                Some(k) => Payload::Change(k, de(kind, bytes)?),
                None => return Ok(None),
            },
        }))
    }

    /// The ops this one relies on: a replica applies it only once it holds
    /// them all, so every replica judges it with the same facts.
    pub fn deps(&self) -> Vec<OpRef> {
        match self {
            Payload::Change(_, c) => {
                let mut deps = vec![c.on];
                deps.extend(c.writes.iter().flat_map(|w| w.seen.iter().copied()));
                deps.extend(c.saw.iter().copied());
                deps.sort();
                deps.dedup();
                deps
            }
            Payload::AlertAck(a) => vec![a.on],
            _ => Vec::new(),
        }
    }

    /// The crisis a create op records into (a change names its record's
    /// create op instead).
    pub fn crisis(&self) -> Option<EntityId> {
        match self {
            Payload::CrisisOpen(c) => Some(c.id),
            Payload::RequestCreate(r) => Some(r.crisis),
            Payload::TaskCreate(t) => Some(t.crisis),
            Payload::FlowCount(f) => Some(f.crisis),
            Payload::AlertRaise(a) => Some(a.crisis),
            _ => None,
        }
    }

    /// The human reference this op gives the record it makes, if any, and
    /// its kind.
    pub fn reference(&self) -> Option<(RefKind, &str)> {
        match self {
            Payload::RequestCreate(r) => Some((RefKind::Request, &r.reference)),
            Payload::TaskCreate(t) => Some((RefKind::Task, &t.reference)),
            Payload::FlowCount(f) => Some((RefKind::Flow, &f.reference)),
            Payload::AlertRaise(a) => Some((RefKind::Alert, &a.reference)),
            _ => None,
        }
    }

    /// Gives the record this op makes its reference (see
    /// [`Payload::reference`]); a no-op for other kinds.
    pub fn set_reference(&mut self, to: Reference) {
        let reference = match self {
            Payload::RequestCreate(r) => &mut r.reference,
            Payload::TaskCreate(t) => &mut t.reference,
            Payload::FlowCount(f) => &mut f.reference,
            Payload::AlertRaise(a) => &mut a.reference,
            _ => return,
        };
        *reference = to.into_string();
    }

    /// The kinds that make a record with a reference.
    pub const REFERENCED_KINDS: [&'static str; 4] =
        [REQUEST_CREATE, TASK_CREATE, FLOW_COUNT, ALERT_RAISE];

    /// Kinds only the hub makes.
    pub fn is_hub_kind(&self) -> bool {
        matches!(
            self,
            Payload::HubDeclare(_) | Payload::DeviceGrant(_) | Payload::DeviceRevoke(_)
        )
    }

    /// The record this op creates, if it creates one with fields.
    pub fn creates(&self) -> Option<(EntityKind, EntityId)> {
        match self {
            Payload::CrisisOpen(c) => Some((EntityKind::Crisis, c.id)),
            Payload::RequestCreate(r) => Some((EntityKind::Request, r.id)),
            Payload::TaskCreate(t) => Some((EntityKind::Task, t.id)),
            _ => None,
        }
    }

    /// The field values this op writes on `entity`: every field for a create
    /// op (its initial values), the writes of a change.
    pub fn field_values(&self, entity: EntityId) -> Vec<(String, Value)> {
        match self {
            Payload::CrisisOpen(c) if c.id == entity => vec![
                ("name".into(), json!(c.name)),
                ("status".into(), json!("open")),
            ],
            Payload::RequestCreate(r) if r.id == entity => {
                let q = &r.request;
                vec![
                    ("status".into(), json!("new")),
                    ("priority".into(), to_json(&q.priority)),
                    ("site".into(), json!(q.site)),
                    ("sector".into(), to_json(&q.sector)),
                    ("people".into(), to_json(&q.people)),
                    ("vulnerable".into(), to_json(&q.vulnerable)),
                    ("items".into(), to_json(&q.items)),
                    ("needed_by".into(), json!(q.needed_by)),
                    ("description".into(), json!(q.description)),
                    ("duplicate_of".into(), Value::Null),
                ]
            }
            Payload::TaskCreate(t) if t.id == entity => {
                let k = &t.task;
                let status = if t.holder.is_some() {
                    "assigned"
                } else {
                    "open"
                };
                let mut out = vec![
                    ("status".into(), json!(status)),
                    ("title".into(), json!(k.title)),
                    ("description".into(), json!(k.description)),
                    ("scope".into(), to_json(&k.scope)),
                    ("sector".into(), to_json(&k.sector)),
                    ("priority".into(), to_json(&k.priority)),
                    ("due".into(), json!(k.due)),
                    ("holder".into(), to_json(&t.holder)),
                ];
                out.extend(t.requests.iter().map(|r| (link_field(*r), json!(true))));
                out
            }
            Payload::Change(_, c) if c.entity == entity => c
                .writes
                .iter()
                .map(|w| (w.field.clone(), w.value.clone()))
                .collect(),
            _ => Vec::new(),
        }
    }

    /// The value this op gives `field` of `entity`, if it writes it.
    pub fn field_value(&self, entity: EntityId, field: &str) -> Option<Value> {
        self.field_values(entity)
            .into_iter()
            .find(|(f, _)| f == field)
            .map(|(_, v)| v)
    }
}

/// A payload value as JSON; the payload types always serialise.
fn to_json<T: Serialize>(x: &T) -> Value {
    serde_json::to_value(x).expect("payload values serialise to JSON")
}

impl PersonDeclared {
    pub fn new(id: EntityId, identity: Identity, demo: bool) -> Self {
        PersonDeclared {
            id,
            name: identity.name,
            role: identity.role,
            country: identity.country,
            org: identity.org,
            demo,
        }
    }
}

impl CrisisOpened {
    pub fn new(id: EntityId, crisis: Crisis, demo: bool) -> Self {
        CrisisOpened {
            id,
            name: crisis.name,
            countries: crisis.countries,
            demo,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::RequestDraft;
    use crate::{DeviceKey, Hlc, OpHash, UnsignedOp};

    fn request_op(reference: &str) -> (UnsignedOp, Payload) {
        let key = DeviceKey::from_secret([4; 32]);
        let request = RequestDraft {
            country: "HN".into(),
            site: "Corinto".into(),
            sector: "health".into(),
            people_total: Some(3.0),
            priority: "low".into(),
            description: "Consulta médica".into(),
            ..Default::default()
        }
        .validate()
        .expect("valid");
        let payload = Payload::RequestCreate(RequestCreated {
            id: EntityId::from_bytes([1; 16]),
            reference: reference.replace("TAG", &key.device_id().tag()),
            crisis: EntityId::from_bytes([2; 16]),
            request,
        });
        let op = UnsignedOp {
            device: key.device_id(),
            seq: 1,
            hlc: Hlc::new(1, 0),
            author: EntityId::from_bytes([3; 16]),
            kind: payload.kind().into(),
            payload: payload.encode(),
            prev: OpHash::GENESIS,
        };
        (op, payload)
    }

    #[test]
    fn round_trip() {
        let (op, payload) = request_op("REQ-TAG-1");
        let decoded = Payload::decode(&op.kind, &op.payload)
            .expect("decodes")
            .expect("known kind");
        assert_eq!(decoded, payload);
    }

    #[test]
    fn unknown_kinds_are_kept_not_failed() {
        assert!(Payload::decode("shelter.capacity", b"{}")
            .expect("not an error")
            .is_none());
    }

    #[test]
    fn malformed_payload_names_the_kind() {
        let err = Payload::decode(REQUEST_CREATE, b"{\"id\":1}").expect_err("malformed");
        assert!(err.to_string().contains("request.create"), "{err}");
    }
}
