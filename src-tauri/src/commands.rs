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

/// The one list of commands.
pub fn handler() -> impl Fn(tauri::ipc::Invoke) -> bool + Send + Sync + 'static {
    tauri::generate_handler![
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
        set_corridor
    ]
}

/// Reads a command's input. Arguments arrive as plain JSON so that a
/// malformed one (a count sent as text, a missing object) is answered with a
/// validation error naming the problem, like any other bad input, rather
/// than with the IPC layer's untyped string.
fn parse<T: serde::de::DeserializeOwned>(what: &str, value: serde_json::Value) -> Reply<T> {
    serde_json::from_value(value).map_err(|e| {
        ApiError::new(
            ErrorCode::Validation,
            format!("the {what} is malformed: {e}"),
        )
    })
}

/// An argument the UI may leave out (null): then its default.
fn parse_or_default<T: serde::de::DeserializeOwned + Default>(
    what: &str,
    value: serde_json::Value,
) -> Reply<T> {
    if value.is_null() {
        Ok(T::default())
    } else {
        parse(what, value)
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
fn settings(state: State<'_, AppState>) -> Settings {
    match &state.dir {
        Ok(dir) => Settings::load(dir),
        Err(_) => Settings::default(),
    }
}

/// Lays `changes` over the data folder's settings and keeps them; answers
/// with the settings now in force.
#[tauri::command]
fn save_settings(state: State<'_, AppState>, changes: Value) -> Reply<Settings> {
    let changes: Settings = parse("settings", changes)?;
    let dir = state.dir.as_ref().map_err(Clone::clone)?;
    Settings::update(dir, &changes).map_err(ApiError::from)
}

/// The operating system's language (such as `es-GT`), which the web view
/// does not always report: the UI starts in it until the person chooses.
#[tauri::command]
fn system_locale() -> Option<String> {
    sys_locale::get_locale()
}

#[tauri::command]
async fn snapshot(state: State<'_, AppState>) -> Reply<Snapshot> {
    with_store(&state, |s| s.snapshot())
}

#[tauri::command]
async fn init_identity(
    state: State<'_, AppState>,
    draft: serde_json::Value,
) -> Reply<IdentityView> {
    let draft: IdentityDraft = parse("identity", draft)?;
    with_store(&state, |s| s.init_identity(&draft))
}

#[tauri::command]
async fn load_demo(state: State<'_, AppState>) -> Reply<CrisisView> {
    with_store(&state, |s| s.load_demo())
}

#[tauri::command]
async fn open_crisis(state: State<'_, AppState>, draft: serde_json::Value) -> Reply<CrisisView> {
    let draft: CrisisDraft = parse("crisis", draft)?;
    with_store(&state, |s| s.open_crisis(&draft))
}

#[tauri::command]
async fn select_crisis(state: State<'_, AppState>, id: String) -> Reply<()> {
    let id: EntityId = id
        .parse()
        .map_err(|_| ApiError::new(ErrorCode::Validation, format!("'{id}' is not a crisis id")))?;
    with_store(&state, |s| s.set_current_crisis(id))
}

#[tauri::command]
async fn add_request(state: State<'_, AppState>, draft: serde_json::Value) -> Reply<RequestView> {
    let draft: RequestDraft = parse("request", draft)?;
    with_store(&state, |s| s.add_request(&draft))
}

/// Most requests one list call returns; filters narrow it down.
const LIST_LIMIT: u32 = 500;

fn current(s: &Store) -> relevo_store::Result<EntityId> {
    Ok(s.current_crisis()?.ok_or(relevo_store::Error::NoCrisis)?.id)
}

/// A text argument (a reference, a status, a note).
fn text(what: &str, value: Value) -> Reply<String> {
    match value {
        Value::String(s) => Ok(s),
        Value::Null => Ok(String::new()),
        other => Err(ApiError::new(
            ErrorCode::Validation,
            format!("the {what} must be text, not {other}"),
        )),
    }
}

#[tauri::command]
async fn list_requests(state: State<'_, AppState>, filter: Value) -> Reply<Vec<RequestView>> {
    let filter: RequestFilter = parse_or_default("request filter", filter)?;
    with_store(&state, |s| {
        s.find_requests(current(s)?, &filter, LIST_LIMIT)
    })
}

#[tauri::command]
async fn request_detail(state: State<'_, AppState>, reference: Value) -> Reply<RequestDetail> {
    let reference = text("reference", reference)?;
    with_store(&state, |s| s.request_detail(&reference))
}

/// Runs a request action, then answers with the request as it now stands.
fn request_action(
    state: &AppState,
    reference: Value,
    f: impl FnOnce(&mut Store, &str) -> relevo_store::Result<()>,
) -> Reply<RequestDetail> {
    let reference = text("reference", reference)?;
    with_store(state, |s| {
        f(s, &reference)?;
        s.request_detail(&reference)
    })
}

#[tauri::command]
async fn update_request(
    state: State<'_, AppState>,
    reference: Value,
    draft: Value,
) -> Reply<RequestDetail> {
    let draft: RequestDraft = parse("request", draft)?;
    request_action(&state, reference, |s, r| {
        s.update_request(r, &draft).map(|_| ())
    })
}

#[tauri::command]
async fn set_request_status(
    state: State<'_, AppState>,
    reference: Value,
    status: Value,
    duplicate: Value,
) -> Reply<RequestDetail> {
    let (status, duplicate) = (text("status", status)?, text("duplicate", duplicate)?);
    request_action(&state, reference, |s, r| {
        s.set_request_status(r, &status, &duplicate).map(|_| ())
    })
}

#[tauri::command]
async fn fulfil_request(
    state: State<'_, AppState>,
    reference: Value,
    draft: Value,
) -> Reply<RequestDetail> {
    let draft: FulfilmentDraft = parse("delivery", draft)?;
    request_action(&state, reference, |s, r| {
        s.fulfil_request(r, &draft).map(|_| ())
    })
}

#[tauri::command]
async fn add_note(
    state: State<'_, AppState>,
    reference: Value,
    note: Value,
    significant: Value,
) -> Reply<()> {
    let reference = text("reference", reference)?;
    let note = text("note", note)?;
    let significant = significant.as_bool().unwrap_or(false);
    with_store(&state, |s| s.add_note(&reference, &note, significant))
}

#[tauri::command]
async fn board(state: State<'_, AppState>, filter: Value) -> Reply<Board> {
    let filter: TaskFilter = parse_or_default("board filter", filter)?;
    with_store(&state, |s| s.board(current(s)?, &filter))
}

#[tauri::command]
async fn task_detail(state: State<'_, AppState>, reference: Value) -> Reply<TaskDetail> {
    let reference = text("reference", reference)?;
    with_store(&state, |s| s.task_detail(&reference))
}

#[tauri::command]
async fn add_task(state: State<'_, AppState>, draft: Value) -> Reply<TaskDetail> {
    let draft: TaskDraft = parse("task", draft)?;
    with_store(&state, |s| {
        let id = s.add_task(&draft)?;
        s.task_detail(&id.to_string())
    })
}

/// Runs a task action, then answers with the task as it now stands.
fn task_action(
    state: &AppState,
    reference: Value,
    f: impl FnOnce(&mut Store, &str) -> relevo_store::Result<()>,
) -> Reply<TaskDetail> {
    let reference = text("reference", reference)?;
    with_store(state, |s| {
        f(s, &reference)?;
        s.task_detail(&reference)
    })
}

#[tauri::command]
async fn assign_task(
    state: State<'_, AppState>,
    reference: Value,
    holder: Value,
) -> Reply<TaskDetail> {
    let holder: HolderDraft = parse("holder", holder)?;
    task_action(&state, reference, |s, r| s.assign_task(r, &holder))
}

#[tauri::command]
async fn accept_task(state: State<'_, AppState>, reference: Value) -> Reply<TaskDetail> {
    task_action(&state, reference, |s, r| s.accept_task(r))
}

#[tauri::command]
async fn hand_over_task(
    state: State<'_, AppState>,
    reference: Value,
    holder: Value,
    note: Value,
) -> Reply<TaskDetail> {
    let holder: HolderDraft = parse("holder", holder)?;
    let note = text("note", note)?;
    task_action(&state, reference, |s, r| {
        s.hand_over_task(r, &holder, &note)
    })
}

#[tauri::command]
async fn set_task_status(
    state: State<'_, AppState>,
    reference: Value,
    status: Value,
    reason: Value,
) -> Reply<TaskDetail> {
    let (status, reason) = (text("status", status)?, text("reason", reason)?);
    task_action(&state, reference, |s, r| {
        s.set_task_status(r, &status, &reason)
    })
}

#[tauri::command]
async fn escalate_task(
    state: State<'_, AppState>,
    reference: Value,
    note: Value,
) -> Reply<TaskDetail> {
    let note = text("note", note)?;
    task_action(&state, reference, |s, r| s.escalate_task(r, &note))
}

#[tauri::command]
async fn link_requests(
    state: State<'_, AppState>,
    reference: Value,
    requests: Value,
    link: Value,
) -> Reply<TaskDetail> {
    let requests: Vec<String> = parse("request list", requests)?;
    let link = link.as_bool().unwrap_or(true);
    task_action(&state, reference, |s, r| {
        s.link_requests(r, &requests, link)
    })
}

#[tauri::command]
async fn conflicts(state: State<'_, AppState>) -> Reply<Vec<ConflictView>> {
    with_store(&state, |s| s.conflicts(Some(current(s)?), None))
}

#[tauri::command]
async fn resolve_conflict(
    state: State<'_, AppState>,
    reference: Value,
    field: Value,
    choose: Value,
) -> Reply<Vec<ConflictView>> {
    let (reference, field, choose) = (
        text("reference", reference)?,
        text("field", field)?,
        text("choice", choose)?,
    );
    with_store(&state, |s| {
        s.resolve_conflict(&reference, &field, &choose)?;
        s.conflicts(Some(current(s)?), None)
    })
}

#[tauri::command]
async fn holdings(state: State<'_, AppState>) -> Reply<Vec<Holding>> {
    with_store(&state, |s| s.holdings(current(s)?))
}

#[tauri::command]
async fn roster(state: State<'_, AppState>) -> Reply<Roster> {
    with_store(&state, |s| s.roster())
}

#[tauri::command]
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
async fn unlock(app: tauri::AppHandle, state: State<'_, AppState>, passphrase: Value) -> Reply<()> {
    let passphrase = match passphrase {
        Value::Null => None,
        other => Some(zeroize::Zeroizing::new(text("passphrase", other)?)),
    };
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
async fn enrol(state: State<'_, AppState>, url: Value, code: Value) -> Reply<IdentityView> {
    let url = text("hub address", url)?;
    let code = text("invitation code", code)?;
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
async fn export_bundle(state: State<'_, AppState>, path: Value, for_vector: Value) -> Reply<u64> {
    let path = text("file path", path)?;
    let for_vector = match for_vector {
        Value::Null => String::new(),
        other => text("vector file", other)?,
    };
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
async fn import_bundle(
    state: State<'_, AppState>,
    path: Value,
) -> Reply<relevo_sync::bundle::Imported> {
    let path = text("file path", path)?;
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
async fn review_span(state: State<'_, AppState>, basis: Value) -> Reply<Span> {
    let basis = parse_or_default::<Basis>("time basis (made or received)", basis)?;
    with_store(&state, |s| s.span(current(s)?, basis))
}

/// The requests and the board of the current crisis at a moment.
#[tauri::command]
async fn review_as_of(state: State<'_, AppState>, at: Value, basis: Value) -> Reply<AsOfView> {
    let at: u64 = parse("moment (ms since 1970)", at)?;
    let basis = parse_or_default::<Basis>("time basis (made or received)", basis)?;
    with_store(&state, |s| s.as_of_view(current(s)?, at, basis))
}

#[tauri::command]
async fn review_timeline(state: State<'_, AppState>, filter: Value) -> Reply<Vec<Event>> {
    let filter: TimelineFilter = parse_or_default("timeline filter", filter)?;
    with_store(&state, |s| s.timeline(current(s)?, &filter))
}

fn now_ms() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_millis() as u64)
        .unwrap_or(0)
}

#[tauri::command]
async fn review_measures(state: State<'_, AppState>) -> Reply<Measures> {
    with_store(&state, |s| s.measures(current(s)?, now_ms()))
}

#[tauri::command]
async fn review_where(state: State<'_, AppState>) -> Reply<Vec<WhoWhatWhere>> {
    with_store(&state, |s| s.who_what_where(current(s)?))
}

#[tauri::command]
async fn review_areas(state: State<'_, AppState>) -> Reply<Vec<AreaCount>> {
    with_store(&state, |s| s.areas(current(s)?))
}

/// Where an export goes unless the person says otherwise: their documents
/// folder (or home), named after the crisis and the day.
#[tauri::command]
async fn default_export_path(
    state: State<'_, AppState>,
    format: Value,
    lang: Value,
) -> Reply<String> {
    let format: relevo_export::Format = parse("export format", format)?;
    // The file is named in the person's language, like the report in it.
    let spanish = text("language", lang)?.starts_with("es");
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
async fn review_export(
    app: tauri::AppHandle,
    state: State<'_, AppState>,
    format: Value,
    path: Value,
    audience: Value,
) -> Reply<relevo_export::Written> {
    use tauri::Emitter;
    let format: relevo_export::Format = parse("export format", format)?;
    let audience: relevo_export::Audience = parse_or_default("export audience", audience)?;
    let path = text("file path", path)?;
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
            let _ = app.emit(
                "export-progress",
                serde_json::json!({ "done": done, "total": total }),
            );
        },
    )
    .map_err(|e| ApiError::new(e.code(), e.to_string()))
}

/// Checks every device's chain of ops and signatures.
#[tauri::command]
async fn verify_log(state: State<'_, AppState>) -> Reply<VerifyReport> {
    with_store(&state, |s| s.verify())
}

#[tauri::command]
async fn log_flow(state: State<'_, AppState>, draft: Value) -> Reply<Logged> {
    let draft: FlowDraft = parse("flow count", draft)?;
    with_store(&state, |s| s.log_flow(&draft))
}

#[tauri::command]
async fn list_flows(state: State<'_, AppState>, filter: Value) -> Reply<Vec<FlowView>> {
    let filter: FlowFilter = parse_or_default("flow filter", filter)?;
    with_store(&state, |s| s.flows(current(s)?, &filter))
}

#[tauri::command]
async fn alerts(state: State<'_, AppState>) -> Reply<Vec<AlertView>> {
    with_store(&state, |s| s.alerts(current(s)?, None))
}

/// The alerts of the current crisis that concern the person and await
/// their acknowledgement: the banner.
#[tauri::command]
async fn alerts_awaiting_me(state: State<'_, AppState>) -> Reply<Vec<AlertView>> {
    with_store(&state, |s| s.alerts_awaiting_me())
}

#[tauri::command]
async fn acknowledge_alert(
    state: State<'_, AppState>,
    alert: Value,
    note: Value,
) -> Reply<AlertView> {
    let alert = text("alert", alert)?;
    let note = text("note", note)?;
    with_store(&state, |s| s.acknowledge_alert(&alert, &note))
}

/// The tasks an alert suggests, for the director to change before anything
/// is signed.
#[tauri::command]
async fn propose_alert_tasks(
    state: State<'_, AppState>,
    alert: Value,
    country: Value,
    lang: Value,
) -> Reply<AlertTaskProposal> {
    let alert = text("alert", alert)?;
    // Null (a regional director's choice left to the corridor) is None.
    let country: Option<Country> = parse("country", country)?;
    let lang = text("language", lang)?;
    with_store(&state, |s| s.propose_alert_tasks(&alert, country, &lang))
}

/// Creates the tasks of a proposal as the director left them, all or none;
/// answers with the alert, which now lists them.
#[tauri::command]
async fn create_alert_tasks(
    state: State<'_, AppState>,
    alert: Value,
    drafts: Value,
) -> Reply<AlertView> {
    let alert = text("alert", alert)?;
    let drafts: Vec<TaskDraft> = parse("task list", drafts)?;
    with_store(&state, |s| {
        s.create_alert_tasks(&alert, &drafts)?;
        let (id, _) = s.find_alert(&alert)?;
        s.alert_view(id)?
            .ok_or_else(|| relevo_store::Error::Invalid(format!("alert {alert} vanished")))
    })
}

#[tauri::command]
async fn corridor_picture(state: State<'_, AppState>) -> Reply<CorridorPicture> {
    with_store(&state, |s| s.corridor_picture(current(s)?, now_ms()))
}

#[tauri::command]
async fn corridor(state: State<'_, AppState>) -> Reply<Corridor> {
    with_store(&state, |s| s.corridor())
}

/// Replaces the corridor and the surge rule (regional directors); answers
/// with the corridor now in force.
#[tauri::command]
async fn set_corridor(state: State<'_, AppState>, corridor: Value) -> Reply<Corridor> {
    let corridor: Corridor = parse("corridor", corridor)?;
    with_store(&state, |s| {
        s.set_corridor(&corridor)?;
        s.corridor()
    })
}
