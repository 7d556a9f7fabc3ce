//! The hub's HTTP API, both ends of the contract: paths, the enrolment
//! messages, and the client a device uses. TLS certificates are verified
//! whenever the URL is `https`.

use crate::wire::{pack, runs, unpack, unrun, Run, WireError};
use crate::{SyncError, Transport};
use relevo_core::{DeviceId, EntityId};
use relevo_store::Enrolled;
use serde::{Deserialize, Serialize};
use std::time::Duration;

pub const HEALTH: &str = "/v1/health";
pub const ENROL: &str = "/v1/enrol";
pub const SYNC: &str = "/v1/sync";

/// The largest request body the hub takes (8 MiB): a page of 2,000 ops is
/// well under 1 MiB. A larger body is refused (413) before it is read.
pub const MAX_BODY: usize = 8 << 20;

const ENROLLED_MAGIC: &[u8; 4] = b"RLVE";

/// What a device sends to enrol: the code, its key and person, and its
/// signature of them for this hub ([`relevo_core::enrol`]).
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct EnrolRequest {
    pub code: String,
    pub device: DeviceId,
    pub person: EntityId,
    /// 128 hex digits.
    pub signature: String,
}

impl EnrolRequest {
    /// An enrolment with `hub`, signed by `sign` (the device's key).
    pub fn signed(
        hub: &DeviceId,
        code: &str,
        device: DeviceId,
        person: EntityId,
        sign: impl FnOnce(&[u8]) -> [u8; 64],
    ) -> EnrolRequest {
        let code = code.trim().to_owned();
        let signature = sign(&relevo_core::enrol::enrolment_message(
            hub, &device, &person, &code,
        ));
        EnrolRequest {
            code,
            device,
            person,
            signature: hex::encode(signature),
        }
    }

    /// Did the key it names sign it, for `hub`?
    pub fn is_signed_for(&self, hub: &DeviceId) -> bool {
        let Some(signature) = hex::decode(&self.signature)
            .ok()
            .and_then(|b| <[u8; 64]>::try_from(b).ok())
        else {
            return false;
        };
        relevo_core::enrol::verify_enrolment(
            hub,
            &self.device,
            &self.person,
            &self.code,
            &signature,
        )
        .is_ok()
    }
}

/// The hub's answer to `GET /v1/health`.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct Health {
    pub status: String,
    pub hub: String,
    pub ops: u64,
}

/// A refusal from the hub: `{"error": "..."}`.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct ErrorBody {
    pub error: String,
}

#[derive(Serialize, Deserialize)]
struct WireEnrolled {
    hub: serde_bytes::ByteArray<32>,
    token: String,
    hub_ops: Vec<Run>,
}

pub fn encode_enrolled(e: &Enrolled) -> Vec<u8> {
    pack(
        ENROLLED_MAGIC,
        &WireEnrolled {
            hub: serde_bytes::ByteArray::new(*e.hub.as_bytes()),
            token: e.token.clone(),
            hub_ops: runs(&e.hub_ops),
        },
    )
}

pub fn decode_enrolled(data: &[u8]) -> Result<Enrolled, WireError> {
    const WHAT: &str = "enrolment answer";
    let w: WireEnrolled = unpack(ENROLLED_MAGIC, WHAT, data)?;
    Ok(Enrolled {
        hub: DeviceId::from_bytes(w.hub.into_array()),
        token: w.token,
        hub_ops: unrun(w.hub_ops, WHAT)?,
    })
}

/// A hub at a URL.
#[derive(Debug, Clone)]
pub struct Client {
    agent: ureq::Agent,
    base: String,
}

impl Client {
    /// Checks the URL's form; nothing is sent yet.
    pub fn new(url: &str) -> Result<Client, SyncError> {
        let base = url.trim().trim_end_matches('/').to_owned();
        let ok = (base.starts_with("http://") || base.starts_with("https://"))
            && base
                .split("://")
                .nth(1)
                .is_some_and(|rest| !rest.is_empty());
        if !ok {
            return Err(SyncError::Http {
                status: 0,
                message: format!(
                    "'{url}' is not a hub address: it must start with http:// or https://"
                ),
            });
        }
        let agent: ureq::Agent = ureq::Agent::config_builder()
            .timeout_connect(Some(Duration::from_secs(5)))
            .timeout_global(Some(Duration::from_secs(120)))
            .http_status_as_error(false)
            .build()
            .into();
        Ok(Client { agent, base })
    }

    pub fn url(&self) -> &str {
        &self.base
    }

    fn read(mut response: ureq::http::Response<ureq::Body>) -> Result<Vec<u8>, SyncError> {
        let status = response.status().as_u16();
        let body = response
            .body_mut()
            .with_config()
            .limit(crate::wire::MAX_DECODED)
            .read_to_vec()
            .map_err(|e| SyncError::Offline(e.to_string()))?;
        if status == 200 {
            return Ok(body);
        }
        let message = serde_json::from_slice::<ErrorBody>(&body)
            .map(|b| b.error)
            .unwrap_or_else(|_| String::from_utf8_lossy(&body).chars().take(200).collect());
        Err(match status {
            401 => SyncError::Unauthorized,
            403 => SyncError::Revoked,
            _ => SyncError::Http { status, message },
        })
    }

    fn offline(e: ureq::Error) -> SyncError {
        SyncError::Offline(e.to_string())
    }

    pub fn health(&self) -> Result<Health, SyncError> {
        let response = self
            .agent
            .get(format!("{}{HEALTH}", self.base))
            .call()
            .map_err(Client::offline)?;
        let body = Client::read(response)?;
        serde_json::from_slice(&body).map_err(|e| SyncError::Http {
            status: 200,
            message: format!("the answer is not a Relevo hub's: {e}"),
        })
    }

    pub fn enrol(&self, request: &EnrolRequest) -> Result<Enrolled, SyncError> {
        let response = self
            .agent
            .post(format!("{}{ENROL}", self.base))
            .content_type("application/json")
            .send(&serde_json::to_vec(request).expect("an enrolment request serialises")[..])
            .map_err(Client::offline)?;
        let body = match Client::read(response) {
            Err(SyncError::Unauthorized) => {
                return Err(SyncError::Http {
                    status: 401,
                    message: "the hub did not accept the invitation code".into(),
                })
            }
            other => other?,
        };
        Ok(decode_enrolled(&body)?)
    }

    /// A transport for sync sessions as the device holding `token`.
    pub fn session(&self, token: &str) -> HttpTransport {
        HttpTransport {
            client: self.clone(),
            token: token.to_owned(),
        }
    }
}

/// Sync requests over HTTP, authenticated with the device's token.
#[derive(Debug)]
pub struct HttpTransport {
    client: Client,
    token: String,
}

impl Transport for HttpTransport {
    fn exchange(&mut self, request: &[u8]) -> Result<Vec<u8>, SyncError> {
        let response = self
            .client
            .agent
            .post(format!("{}{SYNC}", self.client.base))
            .header("Authorization", &format!("Bearer {}", self.token))
            .content_type("application/octet-stream")
            .send(request)
            .map_err(Client::offline)?;
        Client::read(response)
    }
}

/// Syncs an enrolled store with its hub over HTTP.
pub fn sync_store(
    store: &mut relevo_store::Store,
    url_override: Option<&str>,
    progress: impl FnMut(crate::Progress),
) -> Result<crate::Report, SyncError> {
    let enrolment = store.enrolment()?.ok_or(SyncError::NotEnrolled)?;
    let url = url_override.unwrap_or(&enrolment.url);
    let client = Client::new(url)?;
    let mut transport = client.session(&enrolment.token);
    crate::run(store, &mut transport, crate::PAGE, progress)
}

/// Enrols a store with a hub: a store with no identity yet gets one from the
/// invitation.
pub fn enrol_store(
    store: &mut relevo_store::Store,
    url: &str,
    code: &str,
) -> Result<(), SyncError> {
    let client = Client::new(url)?;
    // The hub's identity, which the enrolment's signature names.
    let hub: DeviceId = client.health()?.hub.parse().map_err(|_| SyncError::Http {
        status: 200,
        message: "the answer is not a Relevo hub's: its identity is not a key".into(),
    })?;
    // A device in use signs with its own key; one with no identity yet
    // gets a new key, kept only once the hub accepts it.
    let (request, key) = match (store.device(), store.person()) {
        (Some(device), Some(person)) => {
            let signature = store.sign_enrolment(&hub, code)?;
            let request = EnrolRequest::signed(&hub, code, device, person, |_| signature);
            (request, None)
        }
        _ => {
            let (key, person) = relevo_store::new_device_identity();
            let request =
                EnrolRequest::signed(&hub, code, key.device_id(), person, |m| key.sign(m));
            (request, Some(key))
        }
    };
    let enrolled = client.enrol(&request)?;
    store.join(client.url(), &enrolled, key)?;
    Ok(())
}
