//! The Relevo desktop app: a window over the device's store.
//!
//! This crate only adapts: each command parses its arguments, calls
//! `relevo-store` and maps the error to `{code, message, fields}`. No SQL,
//! no domain rule here.

// Without a console window on Windows release builds.
#![cfg_attr(not(debug_assertions), windows_subsystem = "windows")]

mod commands;
mod sync;

use relevo_core::api::{ApiError, ErrorCode};
use relevo_store::{keys, DbKey, Prompt, Store};
use std::path::{Path, PathBuf};
use std::sync::{Mutex, OnceLock};
use tauri::Manager;

/// The device's store, or why it could not be opened (a damaged file, one
/// from a newer version): the window still opens and shows the reason.
#[derive(Debug)]
pub struct AppState {
    store: Mutex<Result<Store, ApiError>>,
    /// The background sync, once the store is open.
    sync: OnceLock<sync::Syncer>,
    /// The data folder, or why there is none.
    dir: Result<PathBuf, ApiError>,
}

/// Opens the data folder's encrypted store: with its key from the keyring
/// or `RELEVO_PASSPHRASE`, or with a passphrase the person typed. When a
/// passphrase is needed and none was given, the error (code `locked`) says
/// whether to enter the folder's passphrase or choose one for a new folder
/// (`args.prompt`: `enter` or `choose`).
fn open_store(dir: &Path, passphrase: Option<&str>) -> Result<(Store, DbKey), ApiError> {
    let mut wanted = None;
    let unlocked = match passphrase {
        Some(p) => keys::unlock_with_passphrase(dir, p),
        None => keys::unlock(dir, &mut |prompt| {
            wanted = Some(prompt);
            None
        }),
    };
    let key = match unlocked {
        Ok((key, _)) => key,
        Err(e @ relevo_store::Error::PassphraseNeeded) => {
            let prompt = if wanted == Some(Prompt::Choose) {
                "choose"
            } else {
                "enter"
            };
            return Err(ApiError::from(e).with_arg("prompt", prompt));
        }
        Err(e) => return Err(ApiError::from(e)),
    };
    let store = Store::open_dir(dir, &key).map_err(ApiError::from)?;
    Ok((store, key))
}

fn data_dir(app: &tauri::App) -> Result<PathBuf, ApiError> {
    if let Some(dir) = std::env::var_os("RELEVO_DATA_DIR").filter(|d| !d.is_empty()) {
        return Ok(PathBuf::from(dir));
    }
    app.path().app_data_dir().map_err(|e| {
        ApiError::new(
            ErrorCode::Storage,
            format!("no app data folder for this user: {e}"),
        )
    })
}

fn main() {
    tauri::Builder::default()
        .plugin(tauri_plugin_dialog::init())
        .setup(|app| {
            let dir = data_dir(app);
            let opened = dir.clone().and_then(|dir| open_store(&dir, None));
            let sync = OnceLock::new();
            let store = match (opened, &dir) {
                (Ok((store, key)), Ok(dir)) => {
                    let _ = sync.set(sync::Syncer::start(app.handle().clone(), dir.clone(), key));
                    Ok(store)
                }
                (Err(e), _) => {
                    if e.code != ErrorCode::Locked {
                        eprintln!("relevo: could not open the database: {}", e.message);
                    }
                    Err(e)
                }
                (Ok(_), Err(e)) => Err(e.clone()),
            };
            app.manage(AppState {
                store: Mutex::new(store),
                sync,
                dir,
            });
            Ok(())
        })
        .invoke_handler(commands::handler())
        .run(tauri::generate_context!())
        .unwrap_or_else(|e| {
            eprintln!("relevo: the app could not start: {e}");
            std::process::exit(1);
        });
}
