//! What belongs to the person or the device rather than to the record: the
//! language chosen, the last site and counting point typed, the window's
//! size. Kept in the data folder (`settings.json`, owner only), so that a
//! second data folder on the same machine does not inherit them, as it did
//! while they lived in the web view's storage.
//!
//! Settings never stop the app: a missing or unreadable file reads as the
//! defaults (the reason goes to stderr), and a bad value is refused with a
//! message naming it.

use crate::error::{Error, Result};
use serde::{Deserialize, Serialize};
use specta::Type;
use std::io::Write;
use std::path::Path;

/// The file in the data folder.
pub const SETTINGS_FILE: &str = "settings.json";

/// The longest site or point name remembered.
const MAX_NAME: usize = 200;

/// The window's inner size, in logical pixels.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, Type)]
pub struct WindowSize {
    pub width: u32,
    pub height: u32,
}

/// The person's and the device's settings. Every field is optional: none
/// is set until the person makes a choice.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize, Type)]
#[serde(default)]
pub struct Settings {
    /// `es` or `en`; none follows the system's language.
    pub lang: Option<String>,
    /// The site last typed in the request form.
    pub last_site: Option<String>,
    /// The counting point last chosen in the flow form.
    pub last_point: Option<String>,
    pub window: Option<WindowSize>,
}

impl Settings {
    /// The settings in `dir`, or the defaults if there are none or they
    /// cannot be read.
    pub fn load(dir: &Path) -> Settings {
        let path = dir.join(SETTINGS_FILE);
        let text = match std::fs::read_to_string(&path) {
            Ok(t) => t,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Settings::default(),
            Err(e) => {
                eprintln!(
                    "relevo: {} could not be read ({e}); using the defaults",
                    path.display()
                );
                return Settings::default();
            }
        };
        match serde_json::from_str::<Settings>(&text) {
            Ok(s) if s.check().is_ok() => s,
            Ok(_) | Err(_) => {
                eprintln!(
                    "relevo: {} is not valid settings; using the defaults",
                    path.display()
                );
                Settings::default()
            }
        }
    }

    /// These settings with `changes` laid over them: each field given in
    /// `changes` replaces this one; a field left out keeps its value.
    pub fn merged(&self, changes: &Settings) -> Settings {
        Settings {
            lang: changes.lang.clone().or_else(|| self.lang.clone()),
            last_site: changes.last_site.clone().or_else(|| self.last_site.clone()),
            last_point: changes
                .last_point
                .clone()
                .or_else(|| self.last_point.clone()),
            window: changes.window.or(self.window),
        }
    }

    /// Lays `changes` over the settings kept in `dir` and keeps the result;
    /// answers with the settings now in force.
    pub fn update(dir: &Path, changes: &Settings) -> Result<Settings> {
        let merged = Settings::load(dir).merged(changes);
        merged.save(dir)?;
        Ok(merged)
    }

    /// Refuses a value the app would not have written, naming it.
    pub fn check(&self) -> Result<()> {
        if let Some(lang) = &self.lang {
            if lang != "es" && lang != "en" {
                return Err(Error::Invalid(format!(
                    "the language must be es or en, not {lang:?}"
                )));
            }
        }
        for (what, name) in [("site", &self.last_site), ("point", &self.last_point)] {
            if name.as_ref().is_some_and(|n| n.chars().count() > MAX_NAME) {
                return Err(Error::Invalid(format!(
                    "the last {what} remembered is at most {MAX_NAME} characters"
                )));
            }
        }
        if let Some(w) = self.window {
            if !(400..=16_000).contains(&w.width) || !(300..=16_000).contains(&w.height) {
                return Err(Error::Invalid(format!(
                    "a window of {}×{} is not a size to open at",
                    w.width, w.height
                )));
            }
        }
        Ok(())
    }

    /// Writes the settings to `dir`, whole or not at all: a new owner-only
    /// file renamed over the old one.
    pub fn save(&self, dir: &Path) -> Result<()> {
        self.check()?;
        let body = serde_json::to_vec_pretty(self)
            .map_err(|e| Error::Invalid(format!("the settings cannot be written: {e}")))?;
        // tempfile makes it 0600, with a name no other process uses.
        let mut tmp = tempfile::Builder::new()
            .prefix(".settings-")
            .tempfile_in(dir)?;
        tmp.write_all(&body)?;
        tmp.as_file().sync_all()?;
        tmp.persist(dir.join(SETTINGS_FILE))
            .map_err(|e| Error::Io(e.error))?;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn settings_round_trip_and_changes_keep_what_they_leave_out() {
        let dir = tempfile::tempdir().unwrap();
        assert_eq!(Settings::load(dir.path()), Settings::default());
        let first = Settings {
            lang: Some("es".into()),
            last_site: Some("Albergue Casa del Migrante".into()),
            ..Settings::default()
        };
        first.save(dir.path()).unwrap();
        Settings::update(
            dir.path(),
            &Settings {
                window: Some(WindowSize {
                    width: 1200,
                    height: 660,
                }),
                ..Settings::default()
            },
        )
        .unwrap();
        let read = Settings::load(dir.path());
        assert_eq!(read.lang.as_deref(), Some("es"));
        assert_eq!(
            read.last_site.as_deref(),
            Some("Albergue Casa del Migrante")
        );
        assert_eq!(read.window.map(|w| w.width), Some(1200));
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let mode = std::fs::metadata(dir.path().join(SETTINGS_FILE))
                .unwrap()
                .permissions()
                .mode();
            assert_eq!(mode & 0o777, 0o600);
        }
    }

    #[test]
    fn a_bad_value_is_refused_and_a_bad_file_reads_as_the_defaults() {
        let dir = tempfile::tempdir().unwrap();
        let bad = Settings {
            lang: Some("fr".into()),
            ..Settings::default()
        };
        let err = bad.save(dir.path()).unwrap_err().to_string();
        assert!(err.contains("es or en"), "{err}");
        assert!(!dir.path().join(SETTINGS_FILE).exists());
        let tiny = Settings {
            window: Some(WindowSize {
                width: 10,
                height: 10,
            }),
            ..Settings::default()
        };
        assert!(tiny.save(dir.path()).is_err());
        std::fs::write(dir.path().join(SETTINGS_FILE), b"{\"lang\": 7").unwrap();
        assert_eq!(Settings::load(dir.path()), Settings::default());
        std::fs::write(dir.path().join(SETTINGS_FILE), b"{\"lang\": \"de\"}").unwrap();
        assert_eq!(Settings::load(dir.path()), Settings::default());
    }
}
