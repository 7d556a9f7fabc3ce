//! What ops say: one typed payload per kind, and the rules a replica applies
//! to an op it receives.
//!
//! Payloads are encoded as JSON with fields in declaration order; the bytes
//! are signed as they are and never re-encoded (see [`crate::op`]).

use crate::domain::{Country, Crisis, Identity, NewRequest, Role};
use crate::ids::EntityId;
use crate::op::UnsignedOp;
use serde::{Deserialize, Serialize};

pub const PERSON_DECLARE: &str = "person.declare";
pub const CRISIS_OPEN: &str = "crisis.open";
pub const REQUEST_CREATE: &str = "request.create";

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

#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Payload {
    PersonDeclare(PersonDeclared),
    CrisisOpen(CrisisOpened),
    RequestCreate(RequestCreated),
}

#[derive(Debug, thiserror::Error)]
pub enum DecodeError {
    #[error("the {kind} payload is not valid: {source}")]
    Malformed {
        kind: String,
        source: serde_json::Error,
    },
}

impl Payload {
    pub fn kind(&self) -> &'static str {
        match self {
            Payload::PersonDeclare(_) => PERSON_DECLARE,
            Payload::CrisisOpen(_) => CRISIS_OPEN,
            Payload::RequestCreate(_) => REQUEST_CREATE,
        }
    }

    pub fn encode(&self) -> Vec<u8> {
        let bytes = match self {
            Payload::PersonDeclare(p) => serde_json::to_vec(p),
            Payload::CrisisOpen(p) => serde_json::to_vec(p),
            Payload::RequestCreate(p) => serde_json::to_vec(p),
        };
        // Plain structs of strings, numbers and enums always serialise.
        bytes.expect("payloads serialise to JSON")
    }

    /// `Ok(None)` for a kind this version does not know (made by a newer
    /// version): the op is kept and relayed, just not projected here.
    pub fn decode(kind: &str, bytes: &[u8]) -> Result<Option<Payload>, DecodeError> {
        let malformed = |source| DecodeError::Malformed {
            kind: kind.to_owned(),
            source,
        };
        Ok(Some(match kind {
            PERSON_DECLARE => {
                Payload::PersonDeclare(serde_json::from_slice(bytes).map_err(malformed)?)
            }
            CRISIS_OPEN => Payload::CrisisOpen(serde_json::from_slice(bytes).map_err(malformed)?),
            REQUEST_CREATE => {
                Payload::RequestCreate(serde_json::from_slice(bytes).map_err(malformed)?)
            }
            _ => return Ok(None),
        }))
    }

    /// The rules every replica applies to an op before projecting it. The
    /// verdict depends only on the op itself, so every replica reaches the
    /// same one whatever order ops arrive in. An op that breaks them was
    /// still made and signed: it is kept in the log, marked refused with the
    /// returned reason, and left out of the projections.
    pub fn check(&self, op: &UnsignedOp) -> Result<(), String> {
        match self {
            Payload::PersonDeclare(p) => {
                if p.id != op.author {
                    return Err("a person can only declare themselves (payload id differs from the op's author)".into());
                }
                let draft = crate::domain::IdentityDraft {
                    name: p.name.clone(),
                    role: p.role.slug().into(),
                    country: p.country.slug().into(),
                    org: p.org.clone().unwrap_or_default(),
                };
                draft
                    .validate()
                    .map(|_| ())
                    .map_err(|e| crate::domain::validation::describe(&e))
            }
            Payload::CrisisOpen(c) => {
                let draft = crate::domain::CrisisDraft {
                    name: c.name.clone(),
                    countries: c.countries.iter().map(|c| c.slug().to_owned()).collect(),
                };
                draft
                    .validate()
                    .map(|_| ())
                    .map_err(|e| crate::domain::validation::describe(&e))
            }
            Payload::RequestCreate(r) => {
                let prefix = format!("REQ-{}-", op.device.tag());
                let counter = r.reference.strip_prefix(&prefix).map(|n| n.parse::<u64>());
                if !matches!(counter, Some(Ok(n)) if n > 0) {
                    return Err(format!(
                        "reference {} is not of the form {prefix}<n> for the device that made it",
                        r.reference
                    ));
                }
                r.request
                    .check()
                    .map_err(|e| crate::domain::validation::describe(&e))
            }
        }
    }
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
    use crate::{DeviceKey, Hlc, OpHash};

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
        assert!(payload.check(&op).is_ok());
    }

    #[test]
    fn unknown_kinds_are_kept_not_failed() {
        assert!(Payload::decode("flow.count", b"{}")
            .expect("not an error")
            .is_none());
    }

    #[test]
    fn malformed_payload_names_the_kind() {
        let err = Payload::decode(REQUEST_CREATE, b"{\"id\":1}").expect_err("malformed");
        assert!(err.to_string().contains("request.create"), "{err}");
    }

    #[test]
    fn a_reference_from_another_device_is_refused() {
        let (op, payload) = request_op("REQ-ZZZZZZ-1");
        assert!(payload
            .check(&op)
            .expect_err("foreign tag")
            .contains("not of the form"));
        let (op, payload) = request_op("REQ-TAG-0");
        assert!(payload.check(&op).is_err());
    }

    #[test]
    fn a_person_cannot_declare_someone_else() {
        let (mut op, _) = request_op("REQ-TAG-1");
        let p = Payload::PersonDeclare(PersonDeclared {
            id: EntityId::from_bytes([9; 16]),
            name: "Luis".into(),
            role: Role::NationalDirector,
            country: Country::Hn,
            org: None,
            demo: false,
        });
        op.kind = p.kind().into();
        assert!(p.check(&op).is_err());
    }
}
