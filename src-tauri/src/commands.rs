//! Every command the UI can call, declared once in [`handler`]. Arguments
//! and results are the types `ui/src/lib/bindings.ts` is generated from.

use crate::AppState;
use relevo_core::api::{ApiError, ErrorCode};
use relevo_core::domain::{
    Corridor, Country, CrisisDraft, FlowDraft, IdentityDraft, RequestDraft, TaskDraft,
};
use relevo_core::EntityId;
use relevo_store::settings::Settings;
use relevo_store::{
    AlertTaskProposal, AlertView, AreaCount, AsOfView, Basis, Board, ConflictView, CorridorPicture,
    CrisisView, Event, FlowFilter, FlowView, FulfilmentDraft, HolderDraft, Holding, IdentityView,
    Logged, Measures, RequestDetail, RequestFilter, RequestView, Roster, Snapshot, Span, Store,
    SyncStatus, TaskDetail, TaskFilter, TimelineFilter, VerifyReport, WhoWhatWhere,
};
use relevo_sync::SyncError;
use serde_json::Value;
use tauri::State;

type Reply<T> = Result<T, ApiError>;

/// The one list of commands, with the types the UI names but no command
/// carries. Tauri dispatches through it, and `ui/src/lib/bindings.ts` is
/// generated from it (see the `bindings_are_fresh` test).
pub fn builder() -> tauri_specta::Builder<tauri::Wry> {
    tauri_specta::Builder::<tauri::Wry>::new()
        .commands(tauri_specta::collect_commands![
            system_locale,
            unlock,
            snapshot,
            init_identity,
            load_demo,
            open_crisis,
            select_crisis,
            add_request,
            list_requests,
            request_detail,
            update_request,
            set_request_status,
            fulfil_request,
            add_note,
            board,
            task_detail,
            add_task,
            assign_task,
            accept_task,
            hand_over_task,
            set_task_status,
            escalate_task,
            link_requests,
            conflicts,
            resolve_conflict,
            holdings,
            roster,
            close_crisis,
            sync_status,
            sync_now,
            enrol,
            export_bundle,
            import_bundle,
            review_span,
            review_as_of,
            review_timeline,
            review_measures,
            review_where,
            review_areas,
            review_export,
            default_export_path,
            verify_log,
            log_flow,
            list_flows,
            alerts,
            alerts_awaiting_me,
            acknowledge_alert,
            settings,
            save_settings,
            propose_alert_tasks,
            create_alert_tasks,
            corridor_picture,
            corridor,
            set_corridor,
        ])
        .typ::<ErrorCode>()
        .typ::<relevo_core::domain::Sector>()
        .typ::<relevo_core::domain::Priority>()
        .typ::<relevo_core::domain::RequestStatus>()
        .typ::<relevo_core::domain::TaskStatus>()
        .typ::<relevo_core::domain::VulnerableGroup>()
        .typ::<relevo_core::domain::Rule>()
        .typ::<relevo_core::domain::Holder>()
        .typ::<ExportProgress>()
        .typ::<relevo_store::Progress>()
        // A failure rejects the promise with the ApiError, as `invoke` does.
        .error_handling(tauri_specta::ErrorHandlingMode::Throw)
        // Counts and times in ms are integers well below 2^53.
        .dangerously_cast_bigints_to_number()
        // One TypeScript type per Rust type, as the UI names them.
        .disable_serde_phases()
}

/// How far an export has got: the `export-progress` event's payload.
#[derive(Clone, Copy, Debug, serde::Serialize, specta::Type)]
pub struct ExportProgress {
    pub done: u64,
    pub total: u64,
}

/// A command's argument as the UI sent it, read when the command runs, so
/// that a malformed one (a count sent as text, a missing object) is answered
/// with a validation error naming it, like any other bad input, rather than
/// with the IPC layer's untyped string. Its TypeScript type is `T`'s.
#[derive(Debug)]
pub struct Arg<T>(Result<T, String>);

impl<T> Arg<T> {
    /// The argument, or a validation error naming `what` was malformed.
    fn get(self, what: &str) -> Reply<T> {
        self.0.map_err(|e| {
            ApiError::new(
                ErrorCode::Validation,
                format!("the {what} is malformed: {e}"),
            )
        })
    }
}

impl<T: Default> Arg<Option<T>> {
    /// An argument the UI may leave out (null): then `T`'s default.
    fn or_default(self, what: &str) -> Reply<T> {
        Ok(self.get(what)?.unwrap_or_default())
    }
}

impl<'de, T: serde::de::DeserializeOwned> serde::Deserialize<'de> for Arg<T> {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        // A missing argument reads as null: then `T` decides (an `Option`
        // is None, anything else is malformed).
        let value = Option::<Value>::deserialize(d)?.unwrap_or(Value::Null);
        Ok(Arg(serde_json::from_value(value).map_err(|e| e.to_string())))
    }
}

impl<T: specta::Type> specta::Type for Arg<T> {
    fn definition(types: &mut specta::Types) -> specta::datatype::DataType {
        T::definition(types)
    }
}

fn poisoned() -> ApiError {
    ApiError::new(
        ErrorCode::Internal,
        "an earlier command failed midway; restart Relevo",
    )
}

/// Waits for the store being opened at start (see `main`), if it still is,
/// and puts it in place. Every command that needs the store or the sync
/// passes here first.
fn ready(state: &AppState) -> Reply<()> {
    let mut opening = state.opening.lock().map_err(|_| poisoned())?;
    if let Some(thread) = opening.take() {
        let opened = thread.join().unwrap_or_else(|_| {
            Err(ApiError::new(
                ErrorCode::Internal,
                "opening the database failed midway; restart Relevo",
            ))
        });
        let store = opened.map(|(store, syncer)| {
            let _ = state.sync.set(syncer);
            store
        });
        *state.store.lock().map_err(|_| poisoned())? = store;
    }
    Ok(())
}

/// The store, locked, or why it is unavailable.
fn locked(state: &AppState) -> Reply<std::sync::MutexGuard<'_, Result<Store, ApiError>>> {
    ready(state)?;
    state.store.lock().map_err(|_| poisoned())
}

/// Runs `f` on the store, or returns why the store is unavailable.
fn with_store<T>(
    state: &AppState,
    f: impl FnOnce(&mut Store) -> relevo_store::Result<T>,
) -> Reply<T> {
    let mut guard = locked(state)?;
    let store = guard.as_mut().map_err(|e| e.clone())?;
    f(store).map_err(ApiError::from)
}

/// The person's and the device's settings, from the data folder (the
/// defaults where there is none).
#[tauri::command]
#[specta::specta]
fn settings(state: State<'_, AppState>) -> Settings {
    match &state.dir {
        Ok(dir) => Settings::load(dir),
        Err(_) => Settings::default(),
    }
}

/// Lays `changes` over the data folder's settings and keeps them; answers
/// with the settings now in force.
#[tauri::command]
#[specta::specta]
fn save_settings(state: State<'_, AppState>, changes: Arg<Settings>) -> Reply<Settings> {
    let changes = changes.get("settings")?;
    let dir = state.dir.as_ref().map_err(Clone::clone)?;
    Settings::update(dir, &changes).map_err(ApiError::from)
}

/// The operating system's language (such as `es-GT`), which the web view
/// does not always report: the UI starts in it until the person chooses.
#[tauri::command]
#[specta::specta]
fn system_locale() -> Option<String> {
    sys_locale::get_locale()
}

#[tauri::command]
#[specta::specta]
async fn snapshot(state: State<'_, AppState>) -> Reply<Snapshot> {
    with_store(&state, |s| s.snapshot())
}

#[tauri::command]
#[specta::specta]
async fn init_identity(
    state: State<'_, AppState>,
    draft: Arg<IdentityDraft>,
) -> Reply<IdentityView> {
    let draft = draft.get("identity")?;
    with_store(&state, |s| s.init_identity(&draft))
}

#[tauri::command]
#[specta::specta]
async fn load_demo(state: State<'_, AppState>) -> Reply<CrisisView> {
    with_store(&state, |s| s.load_demo())
}

#[tauri::command]
#[specta::specta]
async fn open_crisis(state: State<'_, AppState>, draft: Arg<CrisisDraft>) -> Reply<CrisisView> {
    let draft = draft.get("crisis")?;
    with_store(&state, |s| s.open_crisis(&draft))
}

#[tauri::command]
#[specta::specta]
async fn select_crisis(state: State<'_, AppState>, id: Arg<String>) -> Reply<()> {
    let id = id.get("crisis id")?;
    let id: EntityId = id
        .parse()
        .map_err(|_| ApiError::new(ErrorCode::Validation, format!("'{id}' is not a crisis id")))?;
    with_store(&state, |s| s.set_current_crisis(id))
}

#[tauri::command]
#[specta::specta]
async fn add_request(state: State<'_, AppState>, draft: Arg<RequestDraft>) -> Reply<RequestView> {
    let draft = draft.get("request")?;
    with_store(&state, |s| s.add_request(&draft))
}

/// Most requests one list call returns; filters narrow it down.
const LIST_LIMIT: u32 = 500;

fn current(s: &Store) -> relevo_store::Result<EntityId> {
    Ok(s.current_crisis()?.ok_or(relevo_store::Error::NoCrisis)?.id)
}

#[tauri::command]
#[specta::specta]
async fn list_requests(
    state: State<'_, AppState>,
    filter: Arg<Option<RequestFilter>>,
) -> Reply<Vec<RequestView>> {
    let filter = filter.or_default("request filter")?;
    with_store(&state, |s| {
        s.find_requests(current(s)?, &filter, LIST_LIMIT)
    })
}

#[tauri::command]
#[specta::specta]
async fn request_detail(
    state: State<'_, AppState>,
    reference: Arg<String>,
) -> Reply<RequestDetail> {
    let reference = reference.get("reference")?;
    with_store(&state, |s| s.request_detail(&reference))
}

/// Runs a request action, then answers with the request as it now stands.
fn request_action(
    state: &AppState,
    reference: Arg<String>,
    f: impl FnOnce(&mut Store, &str) -> relevo_store::Result<()>,
) -> Reply<RequestDetail> {
    let reference = reference.get("reference")?;
    with_store(state, |s| {
        f(s, &reference)?;
        s.request_detail(&reference)
    })
}

#[tauri::command]
#[specta::specta]
async fn update_request(
    state: State<'_, AppState>,
    reference: Arg<String>,
    draft: Arg<RequestDraft>,
) -> Reply<RequestDetail> {
    let draft = draft.get("request")?;
    request_action(&state, reference, |s, r| {
        s.update_request(r, &draft).map(|_| ())
    })
}

#[tauri::command]
#[specta::specta]
async fn set_request_status(
    state: State<'_, AppState>,
    reference: Arg<String>,
    status: Arg<String>,
    duplicate: Arg<Option<String>>,
) -> Reply<RequestDetail> {
    let status = status.get("status")?;
    let duplicate = duplicate.or_default("duplicate")?;
    request_action(&state, reference, |s, r| {
        s.set_request_status(r, &status, &duplicate).map(|_| ())
    })
}

#[tauri::command]
#[specta::specta]
async fn fulfil_request(
    state: State<'_, AppState>,
    reference: Arg<String>,
    draft: Arg<FulfilmentDraft>,
) -> Reply<RequestDetail> {
    let draft = draft.get("delivery")?;
    request_action(&state, reference, |s, r| {
        s.fulfil_request(r, &draft).map(|_| ())
    })
}

#[tauri::command]
#[specta::specta]
async fn add_note(
    state: State<'_, AppState>,
    reference: Arg<String>,
    note: Arg<String>,
    significant: Arg<Option<bool>>,
) -> Reply<()> {
    let reference = reference.get("reference")?;
    let note = note.get("note")?;
    let significant = significant.get("significance")?.unwrap_or(false);
    with_store(&state, |s| s.add_note(&reference, &note, significant))
}

#[tauri::command]
#[specta::specta]
async fn board(state: State<'_, AppState>, filter: Arg<Option<TaskFilter>>) -> Reply<Board> {
    let filter = filter.or_default("board filter")?;
    with_store(&state, |s| s.board(current(s)?, &filter))
}

#[tauri::command]
#[specta::specta]
async fn task_detail(state: State<'_, AppState>, reference: Arg<String>) -> Reply<TaskDetail> {
    let reference = reference.get("reference")?;
    with_store(&state, |s| s.task_detail(&reference))
}

#[tauri::command]
#[specta::specta]
async fn add_task(state: State<'_, AppState>, draft: Arg<TaskDraft>) -> Reply<TaskDetail> {
    let draft = draft.get("task")?;
    with_store(&state, |s| {
        let id = s.add_task(&draft)?;
        s.task_detail(&id.to_string())
    })
}

/// Runs a task action, then answers with the task as it now stands.
fn task_action(
    state: &AppState,
    reference: Arg<String>,
    f: impl FnOnce(&mut Store, &str) -> relevo_store::Result<()>,
) -> Reply<TaskDetail> {
    let reference = reference.get("reference")?;
    with_store(state, |s| {
        f(s, &reference)?;
        s.task_detail(&reference)
    })
}

#[tauri::command]
#[specta::specta]
async fn assign_task(
    state: State<'_, AppState>,
    reference: Arg<String>,
    holder: Arg<HolderDraft>,
) -> Reply<TaskDetail> {
    let holder = holder.get("holder")?;
    task_action(&state, reference, |s, r| s.assign_task(r, &holder))
}

#[tauri::command]
#[specta::specta]
async fn accept_task(state: State<'_, AppState>, reference: Arg<String>) -> Reply<TaskDetail> {
    task_action(&state, reference, |s, r| s.accept_task(r))
}

#[tauri::command]
#[specta::specta]
async fn hand_over_task(
    state: State<'_, AppState>,
    reference: Arg<String>,
    holder: Arg<HolderDraft>,
    note: Arg<Option<String>>,
) -> Reply<TaskDetail> {
    let holder = holder.get("holder")?;
    let note = note.or_default("note")?;
    task_action(&state, reference, |s, r| {
        s.hand_over_task(r, &holder, &note)
    })
}

#[tauri::command]
#[specta::specta]
async fn set_task_status(
    state: State<'_, AppState>,
    reference: Arg<String>,
    status: Arg<String>,
    reason: Arg<Option<String>>,
) -> Reply<TaskDetail> {
    let status = status.get("status")?;
    let reason = reason.or_default("reason")?;
    task_action(&state, reference, |s, r| {
        s.set_task_status(r, &status, &reason)
    })
}

#[tauri::command]
#[specta::specta]
async fn escalate_task(
    state: State<'_, AppState>,
    reference: Arg<String>,
    note: Arg<Option<String>>,
) -> Reply<TaskDetail> {
    let note = note.or_default("note")?;
    task_action(&state, reference, |s, r| s.escalate_task(r, &note))
}

#[tauri::command]
#[specta::specta]
async fn link_requests(
    state: State<'_, AppState>,
    reference: Arg<String>,
    requests: Arg<Vec<String>>,
    link: Arg<Option<bool>>,
) -> Reply<TaskDetail> {
    let requests = requests.get("request list")?;
    let link = link.get("link")?.unwrap_or(true);
    task_action(&state, reference, |s, r| {
        s.link_requests(r, &requests, link)
    })
}

#[tauri::command]
#[specta::specta]
async fn conflicts(state: State<'_, AppState>) -> Reply<Vec<ConflictView>> {
    with_store(&state, |s| s.conflicts(Some(current(s)?), None))
}

#[tauri::command]
#[specta::specta]
async fn resolve_conflict(
    state: State<'_, AppState>,
    reference: Arg<String>,
    field: Arg<String>,
    choose: Arg<String>,
) -> Reply<Vec<ConflictView>> {
    let (reference, field, choose) = (
        reference.get("reference")?,
        field.get("field")?,
        choose.get("choice")?,
    );
    with_store(&state, |s| {
        s.resolve_conflict(&reference, &field, &choose)?;
        s.conflicts(Some(current(s)?), None)
    })
}

#[tauri::command]
#[specta::specta]
async fn holdings(state: State<'_, AppState>) -> Reply<Vec<Holding>> {
    with_store(&state, |s| s.holdings(current(s)?))
}

#[tauri::command]
#[specta::specta]
async fn roster(state: State<'_, AppState>) -> Reply<Roster> {
    with_store(&state, |s| s.roster())
}

#[tauri::command]
#[specta::specta]
async fn close_crisis(state: State<'_, AppState>) -> Reply<CrisisView> {
    with_store(&state, |s| s.close_crisis())
}

fn sync_error(e: SyncError) -> ApiError {
    match e {
        SyncError::Store(e) => ApiError::from(e),
        other => ApiError::new(other.code(), other.to_string()),
    }
}

/// Opens the encrypted store with the passphrase the person typed (or
/// chose, for a new data folder), or, with none, tries again as at start
/// (a keyring that did not answer may answer now); then starts the
/// background sync.
#[tauri::command]
#[specta::specta]
async fn unlock(
    app: tauri::AppHandle,
    state: State<'_, AppState>,
    passphrase: Arg<Option<String>>,
) -> Reply<()> {
    let passphrase = passphrase.get("passphrase")?.map(zeroize::Zeroizing::new);
    let dir = state.dir.clone()?;
    let mut guard = locked(&state)?;
    if guard.is_ok() {
        return Ok(());
    }
    let opened = crate::open_store(&dir, passphrase.as_ref().map(|p| p.as_str()));
    if passphrase.is_none() {
        // What the start screen shows next: the store, or why not.
        if let Err(e) = &opened {
            *guard = Err(e.clone());
        }
    }
    let (store, key) = opened?;
    *guard = Ok(store);
    drop(guard);
    let _ = state.sync.set(crate::sync::Syncer::start(app, dir, key));
    Ok(())
}

#[tauri::command]
#[specta::specta]
async fn sync_status(state: State<'_, AppState>) -> Reply<SyncStatus> {
    ready(&state)?;
    let sync = state.sync.get().cloned();
    with_store(&state, |s| {
        Ok(match &sync {
            Some(sync) => sync.status(s),
            None => crate::sync::alone(),
        })
    })
}

/// Asks the background sync to try now.
#[tauri::command]
#[specta::specta]
async fn sync_now(state: State<'_, AppState>) -> Reply<()> {
    ready(&state)?;
    if let Some(sync) = state.sync.get() {
        sync.wake();
    }
    Ok(())
}

/// Enrols this device with a hub (a device with no identity yet takes the
/// one its invitation names), then syncs at once.
#[tauri::command]
#[specta::specta]
async fn enrol(
    state: State<'_, AppState>,
    url: Arg<String>,
    code: Arg<String>,
) -> Reply<IdentityView> {
    let url = url.get("hub address")?;
    let code = code.get("invitation code")?;
    if url.trim().is_empty() || code.trim().is_empty() {
        return Err(ApiError::new(
            ErrorCode::Validation,
            "both the hub address and the invitation code are needed",
        ));
    }
    let me = with_store_sync(&state, |s| {
        relevo_sync::http::enrol_store(s, url.trim(), code.trim(), false)?;
        Ok(s.identity()?)
    })?;
    if let Some(sync) = state.sync.get() {
        sync.wake();
    }
    me.ok_or_else(|| ApiError::new(ErrorCode::Internal, "enrolled, but no identity is held"))
}

/// Writes a bundle file: every op this device may share, or only those the
/// device whose `relevo status --json` is in `for_vector` lacks.
#[tauri::command]
#[specta::specta]
async fn export_bundle(
    state: State<'_, AppState>,
    path: Arg<String>,
    for_vector: Arg<Option<String>>,
) -> Reply<u64> {
    let path = path.get("file path")?;
    let for_vector = for_vector.or_default("vector file")?;
    if path.trim().is_empty() {
        return Err(ApiError::new(
            ErrorCode::Validation,
            "choose where to write the bundle",
        ));
    }
    with_store_sync(&state, |s| {
        let lacks = if for_vector.trim().is_empty() {
            relevo_store::Vector::new()
        } else {
            relevo_sync::bundle::read_vector(std::path::Path::new(for_vector.trim()))?
        };
        let (n, _) = relevo_sync::bundle::export_to(s, &lacks, std::path::Path::new(path.trim()))?;
        Ok(n)
    })
}

/// Imports a bundle file, checked whole before anything is kept.
#[tauri::command]
#[specta::specta]
async fn import_bundle(
    state: State<'_, AppState>,
    path: Arg<String>,
) -> Reply<relevo_sync::bundle::Imported> {
    let path = path.get("file path")?;
    let data = std::fs::read(path.trim()).map_err(|e| {
        ApiError::new(
            ErrorCode::Validation,
            format!("could not read {}: {e}", path.trim()),
        )
    })?;
    with_store_sync(&state, |s| relevo_sync::bundle::import(s, &data))
}

fn with_store_sync<T>(
    state: &AppState,
    f: impl FnOnce(&mut Store) -> Result<T, SyncError>,
) -> Reply<T> {
    let mut guard = locked(state)?;
    let store = guard.as_mut().map_err(|e| e.clone())?;
    f(store).map_err(sync_error)
}

/// When the current crisis began and when its latest op was made.
#[tauri::command]
#[specta::specta]
async fn review_span(state: State<'_, AppState>, basis: Arg<Option<Basis>>) -> Reply<Span> {
    let basis = basis.or_default("time basis (made or received)")?;
    with_store(&state, |s| s.span(current(s)?, basis))
}

/// The requests and the board of the current crisis at a moment.
#[tauri::command]
#[specta::specta]
async fn review_as_of(
    state: State<'_, AppState>,
    at: Arg<u64>,
    basis: Arg<Option<Basis>>,
) -> Reply<AsOfView> {
    let at = at.get("moment (ms since 1970)")?;
    let basis = basis.or_default("time basis (made or received)")?;
    with_store(&state, |s| {
        // Taken while the store is held, always in this order.
        let mut past = state.past.lock().unwrap_or_else(|p| p.into_inner());
        s.as_of_view_cached(&mut past, current(s)?, at, basis)
    })
}

#[tauri::command]
#[specta::specta]
async fn review_timeline(
    state: State<'_, AppState>,
    filter: Arg<Option<TimelineFilter>>,
) -> Reply<Vec<Event>> {
    let filter = filter.or_default("timeline filter")?;
    with_store(&state, |s| s.timeline(current(s)?, &filter))
}

fn now_ms() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_millis() as u64)
        .unwrap_or(0)
}

#[tauri::command]
#[specta::specta]
async fn review_measures(state: State<'_, AppState>) -> Reply<Measures> {
    with_store(&state, |s| s.measures(current(s)?, now_ms()))
}

#[tauri::command]
#[specta::specta]
async fn review_where(state: State<'_, AppState>) -> Reply<Vec<WhoWhatWhere>> {
    with_store(&state, |s| s.who_what_where(current(s)?))
}

#[tauri::command]
#[specta::specta]
async fn review_areas(state: State<'_, AppState>) -> Reply<Vec<AreaCount>> {
    with_store(&state, |s| s.areas(current(s)?))
}

/// Where an export goes unless the person says otherwise: their documents
/// folder (or home), named after the crisis and the day.
#[tauri::command]
#[specta::specta]
async fn default_export_path(
    state: State<'_, AppState>,
    format: Arg<relevo_export::Format>,
    lang: Arg<String>,
) -> Reply<String> {
    let format = format.get("export format")?;
    // The file is named in the person's language, like the report in it.
    let spanish = lang.get("language")?.starts_with("es");
    let name = with_store(&state, |s| Ok(s.current_crisis()?.map(|c| c.name)))?
        .unwrap_or_else(|| "crisis".into());
    let slug: String = name
        .chars()
        .map(|c| {
            if c.is_alphanumeric() {
                c.to_ascii_lowercase()
            } else {
                '-'
            }
        })
        .collect::<String>()
        .split('-')
        .filter(|p| !p.is_empty())
        .take(6)
        .collect::<Vec<_>>()
        .join("-");
    let dir = dirs::document_dir()
        .or_else(dirs::home_dir)
        .unwrap_or_else(std::env::temp_dir);
    let day = chrono::Utc::now().format("%Y-%m-%d");
    let file = match format {
        relevo_export::Format::Report if spanish => format!("relevo-{slug}-informe-{day}.html"),
        relevo_export::Format::Report => format!("relevo-{slug}-report-{day}.html"),
        relevo_export::Format::FiveW => format!("relevo-{slug}-5w-{day}.csv"),
        relevo_export::Format::Flows if spanish => format!("relevo-{slug}-flujos-{day}.csv"),
        relevo_export::Format::Flows => format!("relevo-{slug}-flows-{day}.csv"),
        f => format!("relevo-{slug}-{day}.{}", f.extension()),
    };
    Ok(dir.join(file).display().to_string())
}

/// Writes an export of the current crisis, reporting progress with
/// `export-progress` events ({done, total}). The record is read under the
/// store's lock; the file is written after it is released.
#[tauri::command]
#[specta::specta]
async fn review_export(
    app: tauri::AppHandle,
    state: State<'_, AppState>,
    format: Arg<relevo_export::Format>,
    path: Arg<String>,
    audience: Arg<Option<relevo_export::Audience>>,
) -> Reply<relevo_export::Written> {
    use tauri::Emitter;
    let format = format.get("export format")?;
    let audience = audience.or_default("export audience")?;
    let path = path.get("file path")?;
    if path.trim().is_empty() {
        return Err(ApiError::new(
            ErrorCode::Validation,
            "choose where to write the export",
        ));
    }
    let review = {
        let guard = locked(&state)?;
        let store = guard.as_ref().map_err(Clone::clone)?;
        let crisis = current(store).map_err(ApiError::from)?;
        relevo_export::Review::read(store, crisis)
            .map_err(|e| ApiError::new(e.code(), e.to_string()))?
    }
    .for_audience(audience);
    relevo_export::write(
        &review,
        format,
        std::path::Path::new(path.trim()),
        &mut |done, total| {
            let _ = app.emit("export-progress", ExportProgress { done, total });
        },
    )
    .map_err(|e| ApiError::new(e.code(), e.to_string()))
}

/// Checks every device's chain of ops and signatures.
#[tauri::command]
#[specta::specta]
async fn verify_log(state: State<'_, AppState>) -> Reply<VerifyReport> {
    with_store(&state, |s| s.verify())
}

#[tauri::command]
#[specta::specta]
async fn log_flow(state: State<'_, AppState>, draft: Arg<FlowDraft>) -> Reply<Logged> {
    let draft = draft.get("flow count")?;
    with_store(&state, |s| s.log_flow(&draft))
}

#[tauri::command]
#[specta::specta]
async fn list_flows(
    state: State<'_, AppState>,
    filter: Arg<Option<FlowFilter>>,
) -> Reply<Vec<FlowView>> {
    let filter = filter.or_default("flow filter")?;
    with_store(&state, |s| s.flows(current(s)?, &filter))
}

#[tauri::command]
#[specta::specta]
async fn alerts(state: State<'_, AppState>) -> Reply<Vec<AlertView>> {
    with_store(&state, |s| s.alerts(current(s)?, None))
}

/// The alerts of the current crisis that concern the person and await
/// their acknowledgement: the banner.
#[tauri::command]
#[specta::specta]
async fn alerts_awaiting_me(state: State<'_, AppState>) -> Reply<Vec<AlertView>> {
    with_store(&state, |s| s.alerts_awaiting_me())
}

#[tauri::command]
#[specta::specta]
async fn acknowledge_alert(
    state: State<'_, AppState>,
    alert: Arg<String>,
    note: Arg<Option<String>>,
) -> Reply<AlertView> {
    let alert = alert.get("alert")?;
    let note = note.or_default("note")?;
    with_store(&state, |s| s.acknowledge_alert(&alert, &note))
}

/// The tasks an alert suggests, for the director to change before anything
/// is signed.
#[tauri::command]
#[specta::specta]
async fn propose_alert_tasks(
    state: State<'_, AppState>,
    alert: Arg<String>,
    country: Arg<Option<Country>>,
    lang: Arg<String>,
) -> Reply<AlertTaskProposal> {
    let alert = alert.get("alert")?;
    // Null (a regional director's choice left to the corridor) is None.
    let country = country.get("country")?;
    let lang = lang.get("language")?;
    with_store(&state, |s| s.propose_alert_tasks(&alert, country, &lang))
}

/// Creates the tasks of a proposal as the director left them, all or none;
/// answers with the alert, which now lists them.
#[tauri::command]
#[specta::specta]
async fn create_alert_tasks(
    state: State<'_, AppState>,
    alert: Arg<String>,
    drafts: Arg<Vec<TaskDraft>>,
) -> Reply<AlertView> {
    let alert = alert.get("alert")?;
    let drafts = drafts.get("task list")?;
    with_store(&state, |s| {
        s.create_alert_tasks(&alert, &drafts)?;
        let (id, _) = s.find_alert(&alert)?;
        s.alert_view(id)?
            .ok_or_else(|| relevo_store::Error::Invalid(format!("alert {alert} vanished")))
    })
}

#[tauri::command]
#[specta::specta]
async fn corridor_picture(state: State<'_, AppState>) -> Reply<CorridorPicture> {
    with_store(&state, |s| s.corridor_picture(current(s)?, now_ms()))
}

#[tauri::command]
#[specta::specta]
async fn corridor(state: State<'_, AppState>) -> Reply<Corridor> {
    with_store(&state, |s| s.corridor())
}

/// Replaces the corridor and the surge rule (regional directors); answers
/// with the corridor now in force.
#[tauri::command]
#[specta::specta]
async fn set_corridor(state: State<'_, AppState>, corridor: Arg<Corridor>) -> Reply<Corridor> {
    let corridor = corridor.get("corridor")?;
    with_store(&state, |s| {
        s.set_corridor(&corridor)?;
        s.corridor()
    })
}

#[cfg(test)]
mod tests {
    /// `ui/src/lib/bindings.ts` is what the commands and their types
    /// generate; this fails when it is stale.
    #[test]
    fn bindings_are_fresh() {
        let path = concat!(env!("CARGO_MANIFEST_DIR"), "/../ui/src/lib/bindings.ts");
        let dir = tempfile::tempdir().expect("temp dir");
        let fresh = dir.path().join("bindings.ts");
        super::builder()
            .export(
                specta_typescript::Typescript::default().header(
                    "// Generated from the Rust commands and types by relevo-app's bindings test. Do not edit.\n\
                     // Regenerate: RELEVO_WRITE_BINDINGS=1 cargo test -p relevo-app bindings",
                ),
                &fresh,
            )
            .expect("export the bindings");
        let generated = std::fs::read_to_string(&fresh).expect("read the bindings");
        if std::env::var_os("RELEVO_WRITE_BINDINGS").is_some() {
            std::fs::write(path, &generated).expect("write bindings");
        }
        let committed = std::fs::read_to_string(path).unwrap_or_default();
        assert!(
            committed == generated,
            "ui/src/lib/bindings.ts is stale. \
             Run `RELEVO_WRITE_BINDINGS=1 cargo test -p relevo-app bindings` and commit the result."
        );
    }
}
