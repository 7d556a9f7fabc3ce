//! The hub's HTTP API, both ends of the contract: paths, the enrolment
//! messages, and the client a device uses.
//!
//! Transport security: an `https` hub is trusted through the certificate
//! pinned at enrolment when the invitation carried one ([`crate::tls`]),
//! and through the usual web roots otherwise. Plain `http` is refused to
//! anything but this machine (loopback) unless the device was told
//! explicitly that it may ([`Link::allow_http`]).

use crate::wire::{pack, runs, unpack, unrun, Run, WireError};
use crate::{SyncError, Transport};
use relevo_core::{DeviceId, EntityId};
use relevo_store::Enrolled;
use serde::{Deserialize, Serialize};
use std::time::Duration;

pub const HEALTH: &str = "/v1/health";
pub const ENROL: &str = "/v1/enrol";
pub const SYNC: &str = "/v1/sync";
/// `GET`, as an enrolled device: the network's bundle key (32 bytes).
pub const NETWORK_KEY: &str = "/v1/network-key";

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

/// An invitation as a person receives it: the one-time code, and the
/// fingerprint of the hub's certificate when the hub serves TLS itself:
/// `XXXXX-XXXXX-XXXXX-XXXXX#sha256:HEX`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Invitation {
    pub code: String,
    pub pin: Option<crate::tls::Pin>,
}

impl Invitation {
    pub fn parse(text: &str) -> Result<Invitation, SyncError> {
        let (code, pin) = match text.trim().split_once('#') {
            None => (text.trim(), None),
            Some((code, pin)) => {
                // Bad input, named as such: nothing was sent to a hub.
                let pin = crate::tls::parse_pin(pin).ok_or_else(|| {
                    SyncError::Store(relevo_store::Error::Invalid(format!(
                        "the invitation's certificate fingerprint '{pin}' is not sha256: and 64 hex \
                         digits; copy the whole invitation again"
                    )))
                })?;
                (code.trim(), Some(pin))
            }
        };
        Ok(Invitation {
            code: code.to_owned(),
            pin,
        })
    }
}

impl std::fmt::Display for Invitation {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.code)?;
        if let Some(pin) = &self.pin {
            write!(f, "#{}", crate::tls::show_pin(pin))?;
        }
        Ok(())
    }
}

/// How to reach a hub: its address, the certificate pinned for it, and
/// whether plain http to a machine other than this one was allowed.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Link {
    pub url: String,
    pub pin: Option<crate::tls::Pin>,
    pub allow_http: bool,
}

impl Link {
    pub fn new(url: &str) -> Link {
        Link {
            url: url.to_owned(),
            ..Link::default()
        }
    }

    /// The link a store's enrolment records.
    pub fn of(enrolment: &relevo_store::Enrolment) -> Link {
        Link {
            url: enrolment.url.clone(),
            pin: enrolment.pin.as_deref().and_then(crate::tls::parse_pin),
            allow_http: enrolment.allow_http,
        }
    }
}

/// Is the host of `url` this machine (127.0.0.0/8, ::1, localhost)?
fn is_loopback(url: &str) -> bool {
    let Ok(uri) = url.parse::<ureq::http::Uri>() else {
        return false;
    };
    let host = uri.host().unwrap_or_default();
    let host = host.trim_start_matches('[').trim_end_matches(']');
    host.eq_ignore_ascii_case("localhost")
        || host
            .parse::<std::net::IpAddr>()
            .is_ok_and(|ip| ip.is_loopback())
}

/// A hub at a URL.
#[derive(Debug, Clone)]
pub struct Client {
    agent: ureq::Agent,
    base: String,
    /// Where a pinned connection puts the fingerprint of a certificate that
    /// did not match.
    mismatch: Option<std::sync::Arc<std::sync::Mutex<Option<crate::tls::Pin>>>>,
}

impl Client {
    /// A client for `url` with no pinned certificate, where plain http is
    /// allowed only to loopback; nothing is sent yet.
    pub fn new(url: &str) -> Result<Client, SyncError> {
        Client::connect(&Link::new(url))
    }

    /// A client for a hub as `link` says to reach it; nothing is sent yet.
    pub fn connect(link: &Link) -> Result<Client, SyncError> {
        let url = link.url.as_str();
        let base = url.trim().trim_end_matches('/').to_owned();
        let ok = (base.starts_with("http://") || base.starts_with("https://"))
            && base
                .split("://")
                .nth(1)
                .is_some_and(|rest| !rest.is_empty());
        if !ok {
            return Err(SyncError::Store(relevo_store::Error::Invalid(format!(
                "'{url}' is not a hub address: it must start with http:// or https://"
            ))));
        }
        if base.starts_with("http://") && !link.allow_http && !is_loopback(&base) {
            return Err(SyncError::Insecure(format!(
                "refusing plain http to {base}: the sync token and the records would cross the \
                 network unencrypted. Use the hub's https:// address, or allow plain http \
                 explicitly (--allow-http) on a network you trust"
            )));
        }
        if link.pin.is_some() && !base.starts_with("https://") {
            return Err(SyncError::Insecure(format!(
                "the invitation pins the hub's certificate, so the hub must be reached over \
                 https://, not {base}"
            )));
        }
        let config = ureq::Agent::config_builder()
            .timeout_connect(Some(Duration::from_secs(5)))
            .timeout_global(Some(Duration::from_secs(120)))
            .http_status_as_error(false)
            // A hub never redirects: following one could carry the token
            // to another address, or from https to plain http.
            .max_redirects(0)
            .build();
        let (agent, mismatch) = match link.pin {
            None => (ureq::Agent::new_with_config(config), None),
            Some(pin) => {
                use ureq::unversioned::transport::{
                    ConnectProxyConnector, Connector, TcpConnector,
                };
                let (tls, mismatch) = crate::tls::PinnedTls::new(pin);
                // As ureq's own chain: through an HTTP proxy where the
                // environment names one, then TCP, then TLS.
                let connector =
                    ().chain(ConnectProxyConnector::default())
                        .chain(TcpConnector::default())
                        .chain(tls);
                let agent = ureq::Agent::with_parts(
                    config,
                    connector,
                    ureq::unversioned::resolver::DefaultResolver::default(),
                );
                (agent, Some(mismatch))
            }
        };
        Ok(Client {
            agent,
            base,
            mismatch,
        })
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

    /// A failure to talk to the hub: offline, or a certificate that is not
    /// the pinned one (which waiting will not mend).
    fn failed(&self, e: ureq::Error) -> SyncError {
        let seen = self
            .mismatch
            .as_ref()
            .and_then(|m| m.lock().ok().and_then(|mut m| m.take()));
        match seen {
            Some(seen) => SyncError::Insecure(format!(
                "the hub at {} presented a certificate ({}) that is not the one pinned when this \
                 device enrolled. Someone may be impersonating the hub: nothing was sent. If the \
                 hub's certificate was really replaced, enrol again with a new invitation",
                self.base,
                crate::tls::show_pin(&seen)
            )),
            None if e.to_string().contains("invalid peer certificate") => {
                SyncError::Insecure(format!(
                    "the hub at {} presented a certificate that no authority vouches for ({e}). \
                     A hub with its own certificate is pinned through its invitation: enrol with \
                     the whole invitation, fingerprint included (CODE#sha256:...)",
                    self.base
                ))
            }
            None => SyncError::Offline(e.to_string()),
        }
    }

    pub fn health(&self) -> Result<Health, SyncError> {
        let response = self
            .agent
            .get(format!("{}{HEALTH}", self.base))
            .call()
            .map_err(|e| self.failed(e))?;
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
            .map_err(|e| self.failed(e))?;
        let body = match Client::read(response) {
            Err(SyncError::Unauthorized) => return Err(SyncError::Enrolment {
                status: 401,
                message:
                    "the hub did not accept the invitation code: it is unknown, spent or expired"
                        .into(),
            }),
            Err(SyncError::Http { status, message })
                if (400..500).contains(&status) && status != 429 =>
            {
                return Err(SyncError::Enrolment {
                    status,
                    message: format!("the hub refused the enrolment ({status}): {message}"),
                })
            }
            other => other?,
        };
        Ok(decode_enrolled(&body)?)
    }

    /// The network's bundle key, as the device holding `token`.
    pub fn network_key(&self, token: &str) -> Result<[u8; 32], SyncError> {
        let response = self
            .agent
            .get(format!("{}{NETWORK_KEY}", self.base))
            .header("Authorization", &format!("Bearer {token}"))
            .call()
            .map_err(|e| self.failed(e))?;
        let body = Client::read(response)?;
        <[u8; 32]>::try_from(body.as_slice()).map_err(|_| SyncError::Http {
            status: 200,
            message: "the hub's network key is not 32 bytes".into(),
        })
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
            .map_err(|e| self.client.failed(e))?;
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
    let mut link = Link::of(&enrolment);
    if let Some(url) = url_override {
        link.url = url.to_owned();
    }
    let client = Client::connect(&link)?;
    fetch_network_key(store, &client, &enrolment.token)?;
    let mut transport = client.session(&enrolment.token);
    crate::run(store, &mut transport, crate::PAGE, progress)
}

/// Enrols a store with a hub: a store with no identity yet gets one from the
/// invitation. `invitation` is the code, with the hub certificate's
/// fingerprint when the hub serves TLS itself (`CODE#sha256:HEX`); the pin
/// and `allow_http` are kept for every later sync.
pub fn enrol_store(
    store: &mut relevo_store::Store,
    url: &str,
    invitation: &str,
    allow_http: bool,
) -> Result<(), SyncError> {
    let invitation = Invitation::parse(invitation)?;
    let code = invitation.code.as_str();
    let link = Link {
        url: url.to_owned(),
        pin: invitation.pin,
        allow_http,
    };
    let client = Client::connect(&link)?;
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
    store.set_hub_transport(
        link.pin.as_ref().map(crate::tls::show_pin).as_deref(),
        allow_http,
    )?;
    fetch_network_key(store, &client, &enrolled.token)?;
    Ok(())
}

/// Takes the network's bundle key from the hub if this device lacks it (a
/// device enrolled before bundles were encrypted gets it at its next sync).
fn fetch_network_key(
    store: &mut relevo_store::Store,
    client: &Client,
    token: &str,
) -> Result<(), SyncError> {
    if store.network_key()?.is_none() {
        let key = client.network_key(token)?;
        store.set_network_key(&key)?;
    }
    Ok(())
}
