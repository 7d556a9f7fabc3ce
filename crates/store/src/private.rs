//! Files readable by their owner alone. A device's folder holds the signing
//! key and data about people in flight: whatever the umask, the folder is
//! 0700 and the database and its companions 0600. On systems without Unix
//! permissions these do nothing.

use crate::error::Result;
use std::path::Path;

/// The data folder: owner only.
#[cfg(unix)]
pub(crate) fn folder(dir: &Path) -> Result<()> {
    use std::os::unix::fs::PermissionsExt;
    let mode = std::fs::metadata(dir)?.permissions().mode() & 0o777;
    if mode != 0o700 {
        // Best effort: a folder on a read-only medium can still be read.
        let _ = std::fs::set_permissions(dir, std::fs::Permissions::from_mode(0o700));
    }
    Ok(())
}

/// The database file (created empty if it does not exist yet, so that
/// SQLite never makes it with the umask's permissions) and its -wal, -shm
/// and -journal files where they exist: owner only.
#[cfg(unix)]
pub(crate) fn database(path: &Path) -> Result<()> {
    use std::os::unix::fs::{OpenOptionsExt, PermissionsExt};
    if !path.exists() {
        std::fs::OpenOptions::new()
            .write(true)
            .create_new(true)
            .mode(0o600)
            .open(path)?;
    }
    for suffix in ["", "-wal", "-shm", "-journal"] {
        let file = crate::companion(path, suffix);
        let Ok(meta) = std::fs::metadata(&file) else {
            continue;
        };
        if meta.permissions().mode() & 0o777 != 0o600 {
            // Best effort, as for the folder.
            let _ = std::fs::set_permissions(&file, std::fs::Permissions::from_mode(0o600));
        }
    }
    Ok(())
}

#[cfg(not(unix))]
pub(crate) fn folder(_dir: &Path) -> Result<()> {
    Ok(())
}

#[cfg(not(unix))]
pub(crate) fn database(_path: &Path) -> Result<()> {
    Ok(())
}
