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
//! it behind axum with the size limit in front of every body.

use axum::body::Bytes;
use axum::extract::{DefaultBodyLimit, State};
use axum::http::{header, HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use governor::{DefaultKeyedRateLimiter, Quota, RateLimiter};
use relevo_core::DeviceId;
use relevo_store::{AuthFailure, Store};
use relevo_sync::http::{
    encode_enrolled, EnrolRequest, ErrorBody, Health, ENROL, HEALTH, MAX_BODY, SYNC,
};
use relevo_sync::{Request, PAGE};
use std::num::NonZeroU32;
use std::path::Path;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Instant;

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
            HubError::RateLimited => StatusCode::TOO_MANY_REQUESTS,
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

impl IntoResponse for HubError {
    fn into_response(self) -> Response {
        (
            self.status(),
            Json(ErrorBody {
                error: self.to_string(),
            }),
        )
            .into_response()
    }
}

/// A hub: its store and its limits.
pub struct Hub {
    store: Mutex<Store>,
    id: DeviceId,
    limits: Limits,
    limiter: DefaultKeyedRateLimiter<DeviceId>,
}

impl std::fmt::Debug for Hub {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Hub")
            .field("id", &self.id)
            .finish_non_exhaustive()
    }
}

/// Opens (creating if needed) a hub database.
pub fn open_store(db: &Path, name: &str) -> Result<Store, relevo_store::Error> {
    let mut store = Store::open(db)?;
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
        Ok(Health {
            status: "ok".into(),
            hub: self.id.to_string(),
            ops: self.store().op_count()?,
        })
    }

    /// `POST /v1/enrol`: a JSON [`EnrolRequest`]; answers with the grant.
    pub fn enrol(&self, body: &[u8]) -> Result<Vec<u8>, HubError> {
        let request: EnrolRequest = serde_json::from_slice(body).map_err(|e| {
            HubError::BadRequest(format!("the enrolment request is not valid: {e}"))
        })?;
        let enrolled = self
            .store()
            .enrol_device(&request.code, request.device, request.person)?;
        tracing::info!(device = %request.device.tag(), "device enrolled");
        Ok(encode_enrolled(&enrolled))
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
        if self.limiter.check_key(&device).is_err() {
            return Err(HubError::RateLimited);
        }
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
        for (op, why) in &response.refused {
            tracing::warn!(device = %device.tag(), op = %format!("{}#{}", op.device.tag(), op.seq), reason = %why, "op refused");
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

/// Runs blocking hub work off the async threads; a panic becomes a 500.
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

async fn health(State(hub): State<Arc<Hub>>) -> Result<Json<Health>, HubError> {
    let h = hub.clone();
    Ok(Json(blocking(move || h.health()).await?))
}

async fn enrol(State(hub): State<Arc<Hub>>, body: Bytes) -> Result<Response, HubError> {
    let answer = blocking(move || hub.enrol(&body)).await?;
    Ok(binary(answer))
}

async fn sync(
    State(hub): State<Arc<Hub>>,
    headers: HeaderMap,
    body: Bytes,
) -> Result<Response, HubError> {
    let token = bearer(&headers);
    let answer = blocking(move || hub.sync(token.as_deref(), &body)).await;
    if let Err(e) = &answer {
        tracing::info!(status = e.status().as_u16(), error = %e, "sync refused");
    }
    Ok(binary(answer?))
}

/// The hub's HTTP API. A body declared longer than [`MAX_BODY`] is refused
/// with 413 before any of it is read; one that turns out longer (chunked, or
/// a false length) is cut off at the limit.
pub fn router(hub: Arc<Hub>) -> Router {
    Router::new()
        .route(HEALTH, get(health))
        .route(ENROL, post(enrol))
        .route(SYNC, post(sync))
        .layer(DefaultBodyLimit::disable())
        .layer(tower_http::limit::RequestBodyLimitLayer::new(MAX_BODY))
        .with_state(hub)
}
