//! Relevo's hub: stores the merged log of every enrolled device and relays
//! it. It exposes a health check, enrolment and sync, nothing else.
//!
//! Every op is checked before it is stored or relayed: shape, signature,
//! hash chain, gapless sequence and its device's grant (the store does all
//! of it, see `relevo_store::Store::ingest_batch`). An op that fails is
//! answered with the reason and never stored. An op that is genuine but not
//! permitted is kept and marked refused, as on every replica.
//!
//! [`Hub`] is the whole behaviour without HTTP, so tests can drive it in
//! process through exactly the bytes a device would send; [`router`] puts
//! it behind axum. Nothing from outside is trusted before it is checked: a
//! sync request is authenticated before its body is read, bodies are read
//! within a size cap and at a minimum rate, enrolment and failed
//! authentication are rate-limited per address, and a failure on the hub's
//! side is answered without its internal message (which goes to the log).
//! [`serve`] accepts the connections with caps and timeouts.

pub mod serve;

use axum::body::{Body, Bytes};
use axum::extract::{ConnectInfo, State};
use axum::http::{header, HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use governor::{DefaultKeyedRateLimiter, Quota, RateLimiter};
use http_body_util::BodyExt;
use relevo_core::DeviceId;
use relevo_store::{AuthFailure, Store};
use relevo_sync::http::{
    encode_enrolled, EnrolRequest, ErrorBody, Health, ENROL, HEALTH, MAX_BODY, SYNC,
};
use relevo_sync::{Request, PAGE};
use std::collections::HashMap;
use std::net::{IpAddr, SocketAddr};
use std::num::NonZeroU32;
use std::path::Path;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, Instant};

/// The largest enrolment body: a code and two ids in JSON.
pub const MAX_ENROL_BODY: usize = 16 << 10;

/// A body must keep arriving at this rate (bytes per second) once
/// [`BODY_GRACE`] has passed: 1 KiB/s, slower than any link Relevo is used
/// on, faster than a client that holds a connection open on purpose.
pub const MIN_BODY_RATE: u64 = 1024;

/// Time a body has before the minimum rate applies.
pub const BODY_GRACE: Duration = Duration::from_secs(20);

/// No body is read for longer than this, however steadily it comes (five
/// minutes: a full page over a 2G link).
pub const BODY_DEADLINE: Duration = Duration::from_secs(300);

/// Limits a hub applies.
#[derive(Debug, Clone, Copy)]
pub struct Limits {
    /// Sync requests per second each device may make (sustained).
    pub per_device_per_second: NonZeroU32,
    /// Requests a device may make at once after a quiet spell.
    pub burst: NonZeroU32,
    /// Ops per page answered.
    pub page: u32,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            per_device_per_second: NonZeroU32::new(20).expect("non-zero"),
            burst: NonZeroU32::new(40).expect("non-zero"),
            page: PAGE,
        }
    }
}

/// Why the hub refused a request; each maps to one HTTP status.
#[derive(Debug, thiserror::Error)]
pub enum HubError {
    #[error("this request needs a device token (Authorization: Bearer ...) the hub knows")]
    Unauthenticated,
    #[error("this device was revoked by the hub administrator")]
    Revoked,
    #[error("{0}")]
    BadRequest(String),
    #[error("{0}")]
    Enrolment(String),
    #[error("too many requests from this device: slow down")]
    RateLimited,
    #[error("too many attempts from this address: wait a minute and try again")]
    AddressLimited,
    #[error("the request body is larger than the {0} bytes the hub takes")]
    TooLarge(usize),
    #[error("the request body arrived too slowly (under {MIN_BODY_RATE} bytes a second)")]
    SlowBody,
    /// A failure on the hub's side; the detail goes to the hub's log, never
    /// to the client.
    #[error("the hub failed: {0}")]
    Internal(String),
}

impl HubError {
    pub fn status(&self) -> StatusCode {
        match self {
            HubError::Unauthenticated => StatusCode::UNAUTHORIZED,
            HubError::Revoked => StatusCode::FORBIDDEN,
            HubError::BadRequest(_) => StatusCode::BAD_REQUEST,
            HubError::Enrolment(_) => StatusCode::UNPROCESSABLE_ENTITY,
            HubError::RateLimited | HubError::AddressLimited => StatusCode::TOO_MANY_REQUESTS,
            HubError::TooLarge(_) => StatusCode::PAYLOAD_TOO_LARGE,
            HubError::SlowBody => StatusCode::REQUEST_TIMEOUT,
            HubError::Internal(_) => StatusCode::INTERNAL_SERVER_ERROR,
        }
    }
}

impl From<relevo_store::Error> for HubError {
    fn from(e: relevo_store::Error) -> Self {
        match e {
            relevo_store::Error::Enrolment(m) => HubError::Enrolment(m),
            relevo_store::Error::Validation(_) | relevo_store::Error::Invalid(_) => {
                HubError::BadRequest(e.to_string())
            }
            other => HubError::Internal(other.to_string()),
        }
    }
}

/// Numbers internal failures, so that a person reporting one can point at
/// its line in the hub's log.
static INCIDENTS: AtomicU64 = AtomicU64::new(1);

impl IntoResponse for HubError {
    fn into_response(self) -> Response {
        let error = match &self {
            HubError::Internal(detail) => {
                let incident = INCIDENTS.fetch_add(1, Ordering::Relaxed);
                tracing::error!(incident, %detail, "request failed on the hub's side");
                format!(
                    "the hub failed on its side (incident {incident} in the hub's log): try again later; if it persists, tell the hub's administrator"
                )
            }
            other => other.to_string(),
        };
        (self.status(), Json(ErrorBody { error })).into_response()
    }
}

/// A hub: its store and its limits.
pub struct Hub {
    store: Mutex<Store>,
    id: DeviceId,
    limits: Limits,
    limiter: DefaultKeyedRateLimiter<DeviceId>,
    /// Sync requests under way per device.
    busy: Mutex<HashMap<DeviceId, usize>>,
    /// The op count `/v1/health` reports, and when it was read: health
    /// checks are not allowed to count the log each time.
    counted: Mutex<Option<(Instant, u64)>>,
}

/// Sync requests one device may have under way at once.
pub const PER_DEVICE_CONCURRENT: usize = 2;

/// A device's place among the requests under way; given back on drop.
#[derive(Debug)]
pub struct Busy<'a> {
    hub: &'a Hub,
    device: DeviceId,
}

impl Drop for Busy<'_> {
    fn drop(&mut self) {
        let mut busy = self.hub.busy.lock().unwrap_or_else(|p| p.into_inner());
        if let Some(n) = busy.get_mut(&self.device) {
            *n -= 1;
            if *n == 0 {
                busy.remove(&self.device);
            }
        }
    }
}

impl std::fmt::Debug for Hub {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Hub")
            .field("id", &self.id)
            .finish_non_exhaustive()
    }
}

/// Opens (creating if needed) a hub database, encrypted with `key`.
pub fn open_store(
    db: &Path,
    key: &relevo_store::DbKey,
    name: &str,
) -> Result<Store, relevo_store::Error> {
    let mut store = Store::open(db, key)?;
    if store.device().is_none() {
        store.init_hub(name)?;
    } else if !store.is_hub() {
        return Err(relevo_store::Error::Enrolment(format!(
            "{} is a device's database, not a hub's",
            db.display()
        )));
    }
    Ok(store)
}

impl Hub {
    pub fn new(store: Store, limits: Limits) -> Result<Hub, HubError> {
        let id = store
            .hub()
            .filter(|_| store.is_hub())
            .ok_or_else(|| HubError::Internal("the database is not a hub's".into()))?;
        let quota = Quota::per_second(limits.per_device_per_second).allow_burst(limits.burst);
        Ok(Hub {
            store: Mutex::new(store),
            id,
            limits,
            limiter: RateLimiter::keyed(quota),
            busy: Mutex::new(HashMap::new()),
            counted: Mutex::new(None),
        })
    }

    pub fn id(&self) -> DeviceId {
        self.id
    }

    fn store(&self) -> MutexGuard<'_, Store> {
        // A panic while holding the lock cannot leave the store half-written
        // (every write is one transaction), so a poisoned lock is still safe.
        self.store.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Runs `f` on the store (tests and tools).
    pub fn with_store<T>(&self, f: impl FnOnce(&mut Store) -> T) -> T {
        f(&mut self.store())
    }

    pub fn health(&self) -> Result<Health, HubError> {
        let mut counted = self.counted.lock().unwrap_or_else(|p| p.into_inner());
        let ops = match *counted {
            Some((at, n)) if at.elapsed() < Duration::from_secs(10) => n,
            _ => {
                let n = self.store().op_count()?;
                *counted = Some((Instant::now(), n));
                n
            }
        };
        Ok(Health {
            status: "ok".into(),
            hub: self.id.to_string(),
            ops,
        })
    }

    /// Admits one more sync request of `device`, before its body is read:
    /// within its rate, and with at most [`PER_DEVICE_CONCURRENT`] under
    /// way.
    pub fn admit(&self, device: DeviceId) -> Result<Busy<'_>, HubError> {
        if self.limiter.check_key(&device).is_err() {
            return Err(HubError::RateLimited);
        }
        let mut busy = self.busy.lock().unwrap_or_else(|p| p.into_inner());
        let n = busy.entry(device).or_insert(0);
        if *n >= PER_DEVICE_CONCURRENT {
            return Err(HubError::RateLimited);
        }
        *n += 1;
        Ok(Busy { hub: self, device })
    }

    /// `POST /v1/enrol`: a JSON [`EnrolRequest`]; answers with the grant.
    pub fn enrol(&self, body: &[u8]) -> Result<Vec<u8>, HubError> {
        let request: EnrolRequest = serde_json::from_slice(body).map_err(|e| {
            HubError::BadRequest(format!("the enrolment request is not valid: {e}"))
        })?;
        if !request.is_signed_for(&self.id) {
            return Err(HubError::Enrolment(
                "the enrolment is not signed by the key of the device it names, for this hub: it was refused, and the invitation can still be used".into(),
            ));
        }
        let enrolled = self
            .store()
            .enrol_device(&request.code, request.device, request.person)?;
        tracing::info!(device = %request.device.tag(), "device enrolled");
        Ok(encode_enrolled(&enrolled))
    }

    /// `GET /v1/network-key`: the network's bundle key, for an enrolled
    /// device (authenticated and admitted by the caller).
    pub fn network_key_for(&self, device: DeviceId) -> Result<Vec<u8>, HubError> {
        let key = self.store().hub_network_key()?;
        tracing::info!(device = %device.tag(), "network key given");
        Ok(key.to_vec())
    }

    /// The device a bearer token belongs to.
    pub fn authenticate(&self, token: Option<&str>) -> Result<DeviceId, HubError> {
        let token = token.ok_or(HubError::Unauthenticated)?;
        match self.store().authenticate(token)? {
            Ok(device) => Ok(device),
            Err(AuthFailure::Unknown) => Err(HubError::Unauthenticated),
            Err(AuthFailure::Revoked) => Err(HubError::Revoked),
        }
    }

    /// `POST /v1/sync`: one page each way, as the device holding `token`.
    pub fn sync(&self, token: Option<&str>, body: &[u8]) -> Result<Vec<u8>, HubError> {
        let device = self.authenticate(token)?;
        let _busy = self.admit(device)?;
        self.sync_as(device, body)
    }

    /// One page each way, as an authenticated device already admitted
    /// ([`Hub::admit`]).
    pub fn sync_as(&self, device: DeviceId, body: &[u8]) -> Result<Vec<u8>, HubError> {
        let request = Request::decode(body).map_err(|e| HubError::BadRequest(e.to_string()))?;
        let started = Instant::now();
        let pushed = request.push.len();
        let response = relevo_sync::respond(&mut self.store(), request, self.limits.page)?;
        tracing::info!(
            device = %device.tag(),
            pushed,
            refused = response.refused.len(),
            pulled = response.pull.len(),
            more = response.more,
            ms = started.elapsed().as_millis() as u64,
            "sync page"
        );
        // One line per request, whatever a page holds.
        if let Some((op, why)) = response.refused.first() {
            tracing::warn!(
                device = %device.tag(),
                refused = response.refused.len(),
                first = %format!("{}#{}", op.device.tag(), op.seq),
                reason = %why,
                "ops refused"
            );
        }
        Ok(response.encode())
    }
}

fn bearer(headers: &HeaderMap) -> Option<String> {
    headers
        .get(header::AUTHORIZATION)?
        .to_str()
        .ok()?
        .strip_prefix("Bearer ")
        .map(|t| t.trim().to_owned())
}

/// Runs blocking hub work off the async threads; a panic becomes a 500
/// whose detail stays in the log.
async fn blocking<T: Send + 'static>(
    f: impl FnOnce() -> Result<T, HubError> + Send + 'static,
) -> Result<T, HubError> {
    tokio::task::spawn_blocking(f)
        .await
        .map_err(|e| HubError::Internal(format!("a request handler failed: {e}")))?
}

fn binary(bytes: Vec<u8>) -> Response {
    ([(header::CONTENT_TYPE, "application/octet-stream")], bytes).into_response()
}

/// Reads a request body of at most `limit` bytes. A body declared longer
/// is refused before any of it is read; one that keeps coming past the
/// limit is cut off there; one that arrives slower than [`MIN_BODY_RATE`]
/// (after `grace`) is dropped.
pub async fn read_body(
    headers: &HeaderMap,
    body: Body,
    limit: usize,
    grace: Duration,
) -> Result<Bytes, HubError> {
    let declared = headers
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<u64>().ok());
    if declared.is_some_and(|n| n > limit as u64) {
        return Err(HubError::TooLarge(limit));
    }
    let start = tokio::time::Instant::now();
    let end = start + BODY_DEADLINE.max(grace);
    let mut body = body;
    let mut buf = Vec::with_capacity(declared.unwrap_or(0).min(limit as u64) as usize);
    loop {
        let deadline =
            (start + grace + Duration::from_millis(buf.len() as u64 * 1000 / MIN_BODY_RATE))
                .min(end);
        match tokio::time::timeout_at(deadline, body.frame()).await {
            Err(_) => return Err(HubError::SlowBody),
            Ok(None) => return Ok(Bytes::from(buf)),
            Ok(Some(Err(e))) => {
                return Err(HubError::BadRequest(format!(
                    "the request body could not be read: {e}"
                )))
            }
            Ok(Some(Ok(frame))) => {
                if let Ok(data) = frame.into_data() {
                    if buf.len() + data.len() > limit {
                        return Err(HubError::TooLarge(limit));
                    }
                    buf.extend_from_slice(&data);
                }
            }
        }
    }
}

/// Limits of the HTTP API: per address, and on bodies.
#[derive(Debug, Clone, Copy)]
pub struct HttpLimits {
    /// Time a body has before [`MIN_BODY_RATE`] applies.
    pub body_grace: Duration,
    /// Enrolment attempts per minute from one address.
    pub enrol_per_minute: NonZeroU32,
    /// Failed authentications per minute from one address before it is
    /// refused for a while.
    pub failures_per_minute: NonZeroU32,
}

impl Default for HttpLimits {
    fn default() -> Self {
        HttpLimits {
            body_grace: BODY_GRACE,
            enrol_per_minute: NonZeroU32::new(10).expect("non-zero"),
            failures_per_minute: NonZeroU32::new(30).expect("non-zero"),
        }
    }
}

/// The HTTP side of a hub: the hub and its per-address limits.
struct Web {
    hub: Arc<Hub>,
    body_grace: Duration,
    enrol: DefaultKeyedRateLimiter<IpAddr>,
    failures: DefaultKeyedRateLimiter<IpAddr>,
    /// Addresses refused until a moment, after too many failures.
    blocked: Mutex<HashMap<IpAddr, Instant>>,
    /// Requests seen, to tidy the limiters now and then.
    requests: AtomicU64,
    /// Sync pages being decoded and taken in at once: a few, whatever the
    /// number of devices (the store takes one at a time anyway), so that
    /// decoding many large pages together cannot exhaust memory.
    work: tokio::sync::Semaphore,
}

/// Sync pages decoded and taken in at once.
pub const CONCURRENT_PAGES: usize = 4;

/// How long an address that failed authentication too often is refused.
const BLOCKED_FOR: Duration = Duration::from_secs(60);

impl Web {
    fn is_blocked(&self, ip: IpAddr) -> bool {
        let mut blocked = self.blocked.lock().unwrap_or_else(|p| p.into_inner());
        match blocked.get(&ip) {
            Some(until) if *until > Instant::now() => true,
            Some(_) => {
                blocked.remove(&ip);
                false
            }
            None => false,
        }
    }

    /// Forgets idle addresses in the rate limiters now and then (not on
    /// every request: it walks every key).
    fn tidy(&self) {
        let n = self.requests.fetch_add(1, Ordering::Relaxed);
        if n.is_multiple_of(1024) {
            self.enrol.retain_recent();
            self.failures.retain_recent();
        }
    }

    fn failed(&self, ip: IpAddr) {
        if self.failures.check_key(&ip).is_err() {
            let mut blocked = self.blocked.lock().unwrap_or_else(|p| p.into_inner());
            if blocked.len() > 100_000 {
                let now = Instant::now();
                blocked.retain(|_, until| *until > now);
            }
            blocked.insert(ip, Instant::now() + BLOCKED_FOR);
            tracing::warn!(%ip, "address refused for a minute: too many failed authentications");
        }
        self.tidy();
    }
}

/// The address a request counts against: its peer's, with an IPv6 address
/// taken as its /64 (one site's network), since a client can change the
/// rest at will.
fn peer(extensions: &axum::http::Extensions) -> Option<IpAddr> {
    extensions
        .get::<ConnectInfo<SocketAddr>>()
        .map(|ConnectInfo(a)| network_of(a.ip()))
}

/// An address as a rate limit counts it: IPv4 as it is, IPv6 by its /64.
pub fn network_of(ip: IpAddr) -> IpAddr {
    match ip {
        IpAddr::V4(_) => ip,
        IpAddr::V6(v6) => match v6.to_ipv4_mapped() {
            Some(v4) => IpAddr::V4(v4),
            None => {
                let s = v6.segments();
                IpAddr::V6(std::net::Ipv6Addr::new(s[0], s[1], s[2], s[3], 0, 0, 0, 0))
            }
        },
    }
}

async fn health(State(web): State<Arc<Web>>) -> Result<Json<Health>, HubError> {
    let h = web.hub.clone();
    Ok(Json(blocking(move || h.health()).await?))
}

async fn enrol(
    State(web): State<Arc<Web>>,
    request: axum::extract::Request,
) -> Result<Response, HubError> {
    let (parts, body) = request.into_parts();
    if let Some(ip) = peer(&parts.extensions) {
        if web.enrol.check_key(&ip).is_err() {
            tracing::warn!(%ip, "enrolment refused: too many attempts from this address");
            return Err(HubError::AddressLimited);
        }
        web.tidy();
    }
    let body = read_body(&parts.headers, body, MAX_ENROL_BODY, web.body_grace).await?;
    let hub = web.hub.clone();
    let answer = blocking(move || hub.enrol(&body)).await?;
    Ok(binary(answer))
}

/// Who is asking, before a byte of the body is read. A valid token goes
/// through even from an address refused for others' failures (a proxy or a
/// shared office router); a failed one from such an address is refused
/// without a word more.
async fn authenticated(
    web: &Arc<Web>,
    parts: &axum::http::request::Parts,
) -> Result<DeviceId, HubError> {
    let ip = peer(&parts.extensions);
    let token = bearer(&parts.headers);
    let hub = web.hub.clone();
    match blocking(move || hub.authenticate(token.as_deref())).await {
        Ok(device) => Ok(device),
        Err(e) => {
            if let Some(ip) = ip {
                if web.is_blocked(ip) {
                    return Err(HubError::AddressLimited);
                }
                web.failed(ip);
            }
            tracing::info!(status = e.status().as_u16(), error = %e, "request refused");
            Err(e)
        }
    }
}

async fn network_key(
    State(web): State<Arc<Web>>,
    request: axum::extract::Request,
) -> Result<Response, HubError> {
    let (parts, _) = request.into_parts();
    let device = authenticated(&web, &parts).await?;
    let _busy = web.hub.admit(device)?;
    let hub = web.hub.clone();
    Ok(binary(blocking(move || hub.network_key_for(device)).await?))
}

async fn sync(
    State(web): State<Arc<Web>>,
    request: axum::extract::Request,
) -> Result<Response, HubError> {
    let (parts, body) = request.into_parts();
    let device = authenticated(&web, &parts).await?;
    // Within its rate and its share of requests under way, also before the
    // body is read.
    let _busy = web.hub.admit(device)?;
    let body = read_body(&parts.headers, body, MAX_BODY, web.body_grace).await?;
    let _turn = web
        .work
        .acquire()
        .await
        .map_err(|e| HubError::Internal(e.to_string()))?;
    let hub = web.hub.clone();
    let answer = blocking(move || hub.sync_as(device, &body)).await;
    if let Err(e) = &answer {
        tracing::info!(status = e.status().as_u16(), error = %e, "sync refused");
    }
    Ok(binary(answer?))
}

/// The hub's HTTP API, with the default per-address limits.
pub fn router(hub: Arc<Hub>) -> Router {
    router_with(hub, HttpLimits::default())
}

/// The hub's HTTP API. Per-address limits apply where the request carries
/// its peer's address ([`serve::serve`] adds it).
pub fn router_with(hub: Arc<Hub>, limits: HttpLimits) -> Router {
    let web = Arc::new(Web {
        hub,
        body_grace: limits.body_grace,
        enrol: RateLimiter::keyed(Quota::per_minute(limits.enrol_per_minute)),
        failures: RateLimiter::keyed(Quota::per_minute(limits.failures_per_minute)),
        blocked: Mutex::new(HashMap::new()),
        requests: AtomicU64::new(0),
        work: tokio::sync::Semaphore::new(CONCURRENT_PAGES),
    });
    Router::new()
        .route(HEALTH, get(health))
        .route(ENROL, post(enrol))
        .route(SYNC, post(sync))
        .route(relevo_sync::http::NETWORK_KEY, get(network_key))
        .with_state(web)
}
