//! The Relevo desktop app: a window over the device's store.
//!
//! This crate only adapts: each command reads its typed arguments, calls
//! `relevo-store` and maps the error to `{code, message, fields}`. No SQL,
//! no domain rule here.

// Without a console window on Windows release builds.
#![cfg_attr(not(debug_assertions), windows_subsystem = "windows")]

mod commands;
mod sync;

use relevo_core::api::{ApiError, ErrorCode};
use relevo_store::settings::{Settings, WindowSize};
use relevo_store::{keys, DbKey, Prompt, Store};
use std::path::{Path, PathBuf};
use std::sync::{Mutex, OnceLock};
use tauri::{Emitter, Manager};

/// The thread opening the store at start: the store and its background
/// sync, or why it could not be opened.
type Opening = std::thread::JoinHandle<Result<(Store, sync::Syncer), ApiError>>;

/// The device's store, or why it could not be opened (a damaged file, one
/// from a newer version): the window still opens and shows the reason.
#[derive(Debug)]
pub struct AppState {
    store: Mutex<Result<Store, ApiError>>,
    /// The store being opened at start, on its own thread (the key's
    /// derivation takes a fifth of a second), so that the window loads
    /// meanwhile; the first command waits for it (`commands::ready`).
    opening: Mutex<Option<Opening>>,
    /// The background sync, once the store is open.
    sync: OnceLock<sync::Syncer>,
    /// The review's view of the past, moved along as the slider moves.
    past: Mutex<relevo_store::PastCache>,
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

/// Keeps the window's size in the data folder's settings, for the next
/// start. Best effort: a size not kept costs nothing.
fn remember_size(window: &tauri::Window) {
    let state = window.state::<AppState>();
    let Ok(dir) = &state.dir else { return };
    let (Ok(size), Ok(scale)) = (window.inner_size(), window.scale_factor()) else {
        return;
    };
    let logical = size.to_logical::<f64>(scale);
    let changes = Settings {
        window: Some(WindowSize {
            width: logical.width.round() as u32,
            height: logical.height.round() as u32,
        }),
        ..Settings::default()
    };
    if let Err(e) = Settings::update(dir, &changes) {
        eprintln!("relevo: the window's size was not kept: {e}");
    }
}

/// On Linux without a GPU render node (a virtual machine, a remote desktop,
/// many older laptops) WebKitGTK's DMA-BUF renderer paints in software
/// through a path 1.6 to 1.8 times slower than its plain one, and holds 75
/// to 165 MiB more (measured by `./dev bench-app`). There, unless one has
/// set the variable either way, the plain renderer is chosen. Called first
/// in `main`, before any thread or web view exists.
fn choose_renderer() {
    const VAR: &str = "WEBKIT_DISABLE_DMABUF_RENDERER";
    if cfg!(target_os = "linux")
        && std::env::var_os(VAR).is_none()
        && !has_render_node(Path::new("/dev/dri"))
    {
        std::env::set_var(VAR, "1");
    }
}

/// Whether `dri` (`/dev/dri`) holds a GPU render node (`renderD128`...).
fn has_render_node(dri: &Path) -> bool {
    std::fs::read_dir(dri).is_ok_and(|nodes| {
        nodes
            .flatten()
            .any(|n| n.file_name().to_string_lossy().starts_with("renderD"))
    })
}

fn main() {
    choose_renderer();
    tauri::Builder::default()
        .plugin(tauri_plugin_dialog::init())
        .setup(|app| {
            // The launch benchmark's baseline: the same binary and window
            // loading an empty page of its own assets instead of the app,
            // with no store (see tests/src/bin/launch-bench.rs).
            if std::env::var_os("RELEVO_EMPTY_WINDOW").is_some() {
                if let Some(window) = app.get_webview_window("main") {
                    if let Some(empty) = window.url().ok().and_then(|u| u.join("/empty.html").ok())
                    {
                        let _ = window.navigate(empty);
                    }
                }
                let nothing = ApiError::new(ErrorCode::Internal, "an empty window for a benchmark");
                app.manage(AppState {
                    store: Mutex::new(Err(nothing.clone())),
                    opening: Mutex::new(None),
                    sync: OnceLock::new(),
                    past: Mutex::default(),
                    dir: Err(nothing),
                });
                return Ok(());
            }
            let dir = data_dir(app);
            // The window opens at the size it was closed at, from this data
            // folder's settings.
            if let (Ok(dir), Some(window)) = (&dir, app.get_webview_window("main")) {
                if let Some(size) = Settings::load(dir).window {
                    let _ = window.set_size(tauri::LogicalSize::new(size.width, size.height));
                }
            }
            // A full rebuild of the views (after an upgrade, when the store
            // opens; for an as-of view) shows its progress on the start
            // screen and in the review.
            let handle = app.handle().clone();
            relevo_store::observe_rebuilds(move |p| {
                let _ = handle.emit("rebuild-progress", p);
            });
            // The store opens on its own thread while the window loads; the
            // first command that needs it waits (`commands::ready`).
            let opening = dir.clone().ok().map(|dir| {
                let app = app.handle().clone();
                std::thread::spawn(move || match open_store(&dir, None) {
                    Ok((store, key)) => Ok((store, sync::Syncer::start(app, dir, key))),
                    Err(e) => {
                        if e.code != ErrorCode::Locked {
                            eprintln!("relevo: could not open the database: {}", e.message);
                        }
                        Err(e)
                    }
                })
            });
            let store = match &dir {
                Ok(_) => Err(ApiError::new(
                    ErrorCode::Internal,
                    "the database is being opened",
                )),
                Err(e) => Err(e.clone()),
            };
            app.manage(AppState {
                store: Mutex::new(store),
                opening: Mutex::new(opening),
                sync: OnceLock::new(),
                past: Mutex::default(),
                dir,
            });
            Ok(())
        })
        .on_window_event(|window, event| {
            if let tauri::WindowEvent::CloseRequested { .. } = event {
                remember_size(window);
            }
        })
        .invoke_handler(commands::builder().invoke_handler())
        .run(tauri::generate_context!())
        .unwrap_or_else(|e| {
            eprintln!("relevo: the app could not start: {e}");
            std::process::exit(1);
        });
}

#[cfg(test)]
mod tests {
    #[test]
    fn a_render_node_is_found_only_where_there_is_one() {
        let dri = tempfile::tempdir().expect("temp dir");
        assert!(!super::has_render_node(&dri.path().join("absent")));
        std::fs::write(dri.path().join("card0"), b"").expect("card");
        assert!(!super::has_render_node(dri.path()));
        std::fs::write(dri.path().join("renderD128"), b"").expect("node");
        assert!(super::has_render_node(dri.path()));
    }
}
