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
use relevo_store::Store;
use std::path::PathBuf;
use std::sync::Mutex;
use tauri::Manager;

/// The device's store, or why it could not be opened (a damaged file, one
/// from a newer version): the window still opens and shows the reason.
#[derive(Debug)]
pub struct AppState {
    store: Mutex<Result<Store, ApiError>>,
    /// The background sync, once the store is open.
    sync: Option<sync::Syncer>,
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
            let store = dir
                .clone()
                .and_then(|dir| Store::open_dir(&dir).map_err(ApiError::from));
            if let Err(e) = &store {
                eprintln!("relevo: could not open the database: {}", e.message);
            }
            let sync = match (&store, dir) {
                (Ok(_), Ok(dir)) => Some(sync::Syncer::start(app.handle().clone(), dir)),
                _ => None,
            };
            app.manage(AppState {
                store: Mutex::new(store),
                sync,
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
