//! Every command the UI can call, declared once in [`handler`]. Arguments
//! and results are the types `ui/src/lib/bindings.ts` is generated from.

use crate::AppState;
use relevo_core::api::{ApiError, ErrorCode};
use relevo_core::domain::{CrisisDraft, IdentityDraft, RequestDraft};
use relevo_core::EntityId;
use relevo_store::{CrisisView, IdentityView, RequestView, Snapshot, Store};
use tauri::State;

type Reply<T> = Result<T, ApiError>;

/// The one list of commands.
pub fn handler() -> impl Fn(tauri::ipc::Invoke) -> bool + Send + Sync + 'static {
    tauri::generate_handler![
        system_locale,
        snapshot,
        init_identity,
        load_demo,
        open_crisis,
        select_crisis,
        add_request,
        list_requests
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

/// Runs `f` on the store, or returns why the store is unavailable.
fn with_store<T>(
    state: &AppState,
    f: impl FnOnce(&mut Store) -> relevo_store::Result<T>,
) -> Reply<T> {
    let mut guard = state.store.lock().map_err(|_| {
        ApiError::new(
            ErrorCode::Internal,
            "an earlier command failed midway; restart Relevo",
        )
    })?;
    match guard.as_mut() {
        Ok(store) => f(store).map_err(ApiError::from),
        Err(open_error) => Err(open_error.clone()),
    }
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

#[tauri::command]
async fn list_requests(state: State<'_, AppState>) -> Reply<Vec<RequestView>> {
    with_store(&state, |s| {
        let crisis = s.current_crisis()?.ok_or(relevo_store::Error::NoCrisis)?;
        s.requests(crisis.id)
    })
}
