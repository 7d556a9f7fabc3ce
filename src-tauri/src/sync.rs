//! The background sync: watches for the hub, syncs when it is reachable
//! (backing off while it is not, trying at once on "sync now" or after a
//! local change), and tells the window where things stand through
//! `sync-status` events.
//!
//! It works on its own connection to the device's database, so the window
//! stays responsive during a long session: every page is one short
//! transaction, and the window's reads see each page as soon as it commits.

use relevo_store::{Store, SyncState, SyncStatus, WAITING_SHOWN};
use relevo_sync::http::Client;
use std::path::PathBuf;
use std::sync::mpsc::{self, RecvTimeoutError, Sender};
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tauri::{AppHandle, Emitter};

pub const EVENT: &str = "sync-status";

/// Retries while the hub cannot be reached: 2 s, doubling up to this.
const MAX_BACKOFF: Duration = Duration::from_secs(15);
/// A check for news from the hub while all is well.
const IDLE: Duration = Duration::from_secs(30);

/// The handle the commands hold.
#[derive(Debug, Clone)]
pub struct Syncer {
    wake: Sender<()>,
    status: Arc<Mutex<SyncStatus>>,
}

/// The status of a device that is not enrolled.
pub fn alone() -> SyncStatus {
    SyncStatus {
        state: SyncState::Alone,
        not_on_hub: 0,
        last_sync_ms: None,
        error: None,
        sent: 0,
        received: 0,
        to_send: 0,
        hub_url: None,
        forks: Vec::new(),
        waiting: Vec::new(),
        waiting_count: 0,
    }
}

impl Syncer {
    /// Starts the background thread on the database in `dir`.
    pub fn start(app: AppHandle, dir: PathBuf, key: relevo_store::DbKey) -> Syncer {
        let (wake, rx) = mpsc::channel::<()>();
        let status = Arc::new(Mutex::new(alone()));
        let shared = status.clone();
        std::thread::Builder::new()
            .name("relevo-sync".into())
            .spawn(move || {
                let mut backoff = Duration::from_secs(2);
                loop {
                    let state = cycle(&app, &dir, &key, &shared);
                    let wait = match state {
                        SyncState::Offline => {
                            let w = backoff;
                            backoff = (backoff * 2).min(MAX_BACKOFF);
                            w
                        }
                        SyncState::Alone => Duration::from_secs(3600),
                        SyncState::Error => Duration::from_secs(60),
                        _ => {
                            backoff = Duration::from_secs(2);
                            IDLE
                        }
                    };
                    match rx.recv_timeout(wait) {
                        Ok(()) => {
                            // Several wake-ups at once make one session.
                            while rx.try_recv().is_ok() {}
                            backoff = Duration::from_secs(2);
                        }
                        Err(RecvTimeoutError::Timeout) => {}
                        Err(RecvTimeoutError::Disconnected) => return,
                    }
                }
            })
            .expect("the sync thread starts");
        Syncer { wake, status }
    }

    /// Try now (an explicit "sync now", a new enrolment, a local change).
    pub fn wake(&self) {
        let _ = self.wake.send(());
    }

    /// The last status, with this device's unsent count read fresh from
    /// `store` (it changes with every local op).
    pub fn status(&self, store: &Store) -> SyncStatus {
        let mut s = self
            .status
            .lock()
            .map(|s| s.clone())
            .unwrap_or_else(|_| alone());
        if let Ok(n) = store.not_on_hub() {
            s.not_on_hub = n;
        }
        // A bundle import can leave ops waiting at any moment.
        held(store, &mut s);
        if let Ok(Some(e)) = store.enrolment() {
            s.hub_url = Some(e.url);
            if s.state == SyncState::Alone {
                s.state = SyncState::Offline;
            }
        }
        s
    }
}

/// What the store holds outside its log, read into a status: quarantined
/// forks and waiting ops (what one could not read stays as it was).
fn held(store: &Store, status: &mut SyncStatus) {
    if let Ok(forks) = store.forks() {
        status.forks = forks;
    }
    if let (Ok(w), Ok(n)) = (store.waiting(WAITING_SHOWN), store.pending_count()) {
        status.waiting = w;
        status.waiting_count = n;
    }
}

fn publish(app: &AppHandle, shared: &Mutex<SyncStatus>, status: SyncStatus) {
    if let Ok(mut s) = shared.lock() {
        *s = status.clone();
    }
    let _ = app.emit(EVENT, status);
}

/// One round: look for the hub, sync if it answers. Returns the state it
/// ended in.
fn cycle(
    app: &AppHandle,
    dir: &std::path::Path,
    key: &relevo_store::DbKey,
    shared: &Mutex<SyncStatus>,
) -> SyncState {
    let mut store = match Store::open_dir(dir, key) {
        Ok(s) => s,
        Err(e) => {
            let s = SyncStatus {
                state: SyncState::Error,
                error: Some(e.to_string()),
                ..alone()
            };
            publish(app, shared, s);
            return SyncState::Error;
        }
    };
    let Ok(Some(enrolment)) = store.enrolment() else {
        publish(app, shared, alone());
        return SyncState::Alone;
    };
    let mut status = SyncStatus {
        state: SyncState::Offline,
        not_on_hub: store.not_on_hub().unwrap_or(0),
        last_sync_ms: store.last_sync().ok().flatten(),
        hub_url: Some(enrolment.url.clone()),
        ..alone()
    };
    held(&store, &mut status);
    let reachable =
        Client::connect(&relevo_sync::http::Link::of(&enrolment)).and_then(|c| c.health());
    if let Err(e) = reachable {
        status.error = Some(e.to_string());
        publish(app, shared, status);
        return SyncState::Offline;
    }
    status.state = SyncState::Syncing;
    publish(app, shared, status.clone());
    let result = relevo_sync::http::sync_store(&mut store, None, |p| {
        let mut s = status.clone();
        s.sent = p.sent;
        s.received = p.received;
        s.to_send = p.to_send;
        publish(app, shared, s);
    });
    status.not_on_hub = store.not_on_hub().unwrap_or(status.not_on_hub);
    status.last_sync_ms = store.last_sync().ok().flatten();
    held(&store, &mut status);
    match result {
        Ok(report) => {
            status.state = SyncState::UpToDate;
            status.sent = report.sent;
            status.received = report.received;
            status.error = report.refused.first().cloned();
        }
        Err(e) => {
            status.state = if e.is_offline() {
                SyncState::Offline
            } else {
                SyncState::Error
            };
            status.error = Some(e.to_string());
        }
    }
    let state = status.state;
    publish(app, shared, status);
    state
}
