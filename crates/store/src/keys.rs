//! The key that encrypts a store at rest, and where it is kept.
//!
//! Every database is a SQLCipher file (AES-256, a per-page HMAC) opened with
//! a random 256-bit key. A device keeps that key in one of two places, named
//! by the small file `relevo.key` beside the database (it holds no secret):
//!
//! - **the system keyring** (Secret Service, Windows Credential Manager,
//!   macOS Keychain): the key is random and the keyring holds it. Nothing is
//!   asked of the person.
//! - **a passphrase**, where no keyring answers (a headless Linux machine):
//!   the key is derived from it with Argon2id (64 MiB, 3 passes), with a
//!   random salt kept in `relevo.key`. `RELEVO_PASSPHRASE` gives it to
//!   scripts and CI; set, it also chooses the passphrase for a new folder.
//!
//! `relevo.key` also holds a check value of the key (a domain-separated
//! SHA-256), so a wrong passphrase is told apart from a damaged file before
//! the database is touched. It reveals nothing an attacker holding the
//! encrypted file could not already test a guess against.
//!
//! A hub keeps its key in a key file of its own (see [`DbKey::load_or_create`]).

use crate::error::{Error, Result};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use std::io::Write;
use std::path::Path;
use zeroize::Zeroizing;

/// The file beside a device's database that says where its key is kept.
pub const KEY_FILE: &str = "relevo.key";

/// The environment variable that gives the passphrase to scripts and CI.
pub const PASSPHRASE_ENV: &str = "RELEVO_PASSPHRASE";

/// The shortest passphrase accepted for a new folder.
pub const MIN_PASSPHRASE_CHARS: usize = 8;

/// The keyring service entries are filed under.
const KEYRING_SERVICE: &str = "relevo";

const CHECK_TAG: &[u8] = b"relevo/key-check/v1\0";

/// Argon2id's cost for a new folder: 64 MiB, 3 passes, one lane (RFC 9106's
/// second recommended setting, on one lane for two-core laptops).
const ARGON2_MEMORY_KIB: u32 = 64 * 1024;
const ARGON2_PASSES: u32 = 3;
const ARGON2_LANES: u32 = 1;

/// SQLCipher's settings for every Relevo store, set before a connection is
/// keyed or a database attached. Pages are AES-256-CBC with HMAC-SHA256
/// rather than SQLCipher's default HMAC-SHA512: as strong for page
/// integrity, and hardware-accelerated on current x86 (SHA-NI) and ARM
/// laptops. Measured on merging 100,000 received ops, it brings
/// encryption's cost from about 1.28× to about 1.15× (README, Benchmarks).
/// Changing it makes existing stores unreadable.
/// (SQLCipher would also print a failed page check to stderr; the error
/// returned says it, in words a person can act on.)
const CIPHER_DEFAULTS: &str =
    "PRAGMA cipher_log_level = NONE; PRAGMA cipher_default_hmac_algorithm = HMAC_SHA256;";

/// Sets [`CIPHER_DEFAULTS`] once per process, before any connection is
/// keyed or database attached: they are SQLCipher's process-wide defaults,
/// and setting them while another thread keys a connection races (seen as
/// "An error occurred with PRAGMA key" under parallel tests).
pub(crate) fn cipher_defaults() -> rusqlite::Result<()> {
    static SET: std::sync::OnceLock<Result<(), String>> = std::sync::OnceLock::new();
    SET.get_or_init(|| {
        relevo_cipher::install()?;
        rusqlite::Connection::open_in_memory()
            .and_then(|c| c.execute_batch(CIPHER_DEFAULTS))
            .map_err(|e| e.to_string())
    })
    .clone()
    .map_err(|e| {
        rusqlite::Error::SqliteFailure(
            rusqlite::ffi::Error::new(rusqlite::ffi::SQLITE_ERROR),
            Some(format!("SQLCipher's settings could not be made: {e}")),
        )
    })
}

/// A store's 256-bit encryption key. Wiped from memory when dropped; never
/// printed.
#[derive(Clone)]
pub struct DbKey(Zeroizing<[u8; 32]>);

impl std::fmt::Debug for DbKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("DbKey(..)")
    }
}

impl DbKey {
    /// A fresh random key.
    pub fn random() -> DbKey {
        DbKey(Zeroizing::new(crate::random()))
    }

    pub fn from_bytes(bytes: [u8; 32]) -> DbKey {
        DbKey(Zeroizing::new(bytes))
    }

    /// A second copy, for a store that opens more connections to its file.
    pub(crate) fn duplicate(&self) -> DbKey {
        DbKey(Zeroizing::new(*self.0))
    }

    fn from_hex(text: &str) -> Option<DbKey> {
        let mut bytes = Zeroizing::new([0u8; 32]);
        hex::decode_to_slice(text.trim(), bytes.as_mut_slice()).ok()?;
        Some(DbKey(bytes))
    }

    fn to_hex(&self) -> Zeroizing<String> {
        Zeroizing::new(hex::encode(self.0.as_slice()))
    }

    /// The statement that keys a fresh SQLCipher connection: a raw key, so
    /// SQLCipher runs no key derivation of its own.
    fn pragma(&self) -> Zeroizing<String> {
        Zeroizing::new(format!("PRAGMA key = \"x'{}'\";", self.to_hex().as_str()))
    }

    /// Keys a raw SQLite connection to a store, for tools and tests that
    /// read the file behind the store's back. Must run before anything is
    /// read.
    pub fn apply(&self, conn: &rusqlite::Connection) -> rusqlite::Result<()> {
        cipher_defaults()?;
        conn.execute_batch(self.pragma().as_str())
    }

    /// The ATTACH clause that keys an attached database with this key.
    pub(crate) fn attach_key(&self) -> Zeroizing<String> {
        Zeroizing::new(format!("\"x'{}'\"", self.to_hex().as_str()))
    }

    /// A value that tells whether a key is this one, and nothing more.
    fn check(&self) -> String {
        let mut hash = Sha256::new();
        hash.update(CHECK_TAG);
        hash.update(self.0.as_slice());
        hex::encode(&hash.finalize()[..16])
    }

    /// A hub's key file: read it, or make it (0600) if it does not exist.
    /// The file holds the key as 64 hex digits. A key file that others may
    /// read is refused, as ssh refuses a loose private key.
    pub fn load_or_create(path: &Path) -> Result<DbKey> {
        let bad = |detail: String| Error::KeyFile {
            path: path.to_owned(),
            detail,
        };
        if !path.exists() {
            let key = DbKey::random();
            let mut text = key.to_hex();
            text.push('\n');
            // Another process (`serve` and `invite` on a new hub) may have
            // made it first: then its key is the key.
            if publish_new(path, text.as_bytes()).map_err(|e| bad(e.to_string()))? {
                return Ok(key);
            }
        }
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let mode = std::fs::metadata(path)
                .map_err(|e| bad(e.to_string()))?
                .permissions()
                .mode();
            if mode & 0o077 != 0 {
                return Err(bad(format!(
                    "others may read it (mode {:o}); make it readable by its owner alone \
                     (chmod 600) and start again",
                    mode & 0o777
                )));
            }
        }
        let text = Zeroizing::new(std::fs::read_to_string(path).map_err(|e| bad(e.to_string()))?);
        DbKey::from_hex(&text).ok_or_else(|| bad("it does not hold a key (64 hex digits)".into()))
    }
}

/// What a passphrase prompt is for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Prompt {
    /// A new data folder: choose a passphrase (ask twice).
    Choose,
    /// An existing folder: enter its passphrase.
    Enter,
    /// The passphrase given was wrong: enter it again.
    Retry,
}

/// Where a folder's key is kept.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Keeper {
    Keyring,
    Passphrase,
}

/// `relevo.key`: where the key is kept and how to check it. No secret.
#[derive(Serialize, Deserialize)]
struct KeyInfo {
    version: u32,
    #[serde(flatten)]
    kept: Kept,
    check: String,
}

#[derive(Serialize, Deserialize)]
#[serde(tag = "keeper", rename_all = "lowercase")]
enum Kept {
    Keyring {
        account: String,
    },
    Passphrase {
        salt: String,
        memory_kib: u32,
        passes: u32,
        lanes: u32,
    },
}

/// Asks the person for a passphrase; `None` when nobody can answer.
pub type Ask<'a> = &'a mut dyn FnMut(Prompt) -> Option<Zeroizing<String>>;

/// How many times a wrong passphrase may be entered at one prompt.
const TRIES: usize = 3;

/// The key of the data folder `dir`: from the keyring or a passphrase as
/// `relevo.key` says, or a new key for a new folder (or a plaintext database
/// about to be encrypted), kept in the keyring when one answers and behind a
/// passphrase otherwise.
pub fn unlock(dir: &Path, ask: Ask) -> Result<(DbKey, Keeper)> {
    let env = std::env::var(PASSPHRASE_ENV)
        .ok()
        .filter(|p| !p.is_empty())
        .map(|p| Given {
            passphrase: Zeroizing::new(p),
            by: "the passphrase in RELEVO_PASSPHRASE",
        });
    unlock_given(dir, env, ask)
}

/// [`unlock`] with a passphrase given by the caller (a script, a test, the
/// app's unlock screen): it opens a folder kept behind a passphrase, and a
/// new folder is kept behind it. A folder whose key is in the keyring is
/// opened from the keyring.
pub fn unlock_with_passphrase(dir: &Path, passphrase: &str) -> Result<(DbKey, Keeper)> {
    let given = Given {
        passphrase: Zeroizing::new(passphrase.to_owned()),
        by: "the passphrase given",
    };
    unlock_given(dir, Some(given), &mut |_| None)
}

/// A passphrase that came without asking, and where from (for the error
/// that says it is wrong).
struct Given {
    passphrase: Zeroizing<String>,
    by: &'static str,
}

fn unlock_given(dir: &Path, env: Option<Given>, ask: Ask) -> Result<(DbKey, Keeper)> {
    std::fs::create_dir_all(dir)?;
    crate::private::folder(dir)?;
    let info_path = dir.join(KEY_FILE);
    match read_info(&info_path)? {
        Some(info) => open_existing(&info_path, &info, env, ask),
        None => {
            let db = dir.join(crate::DB_FILE);
            if is_encrypted(&db) {
                return Err(Error::KeyFile {
                    path: info_path,
                    detail: "it is missing, and the database beside it is encrypted; restore \
                             relevo.key from the backup it was saved with"
                        .into(),
                });
            }
            create(&info_path, env, ask)
        }
    }
}

fn open_existing(
    path: &Path,
    info: &KeyInfo,
    env: Option<Given>,
    ask: Ask,
) -> Result<(DbKey, Keeper)> {
    match &info.kept {
        Kept::Keyring { account } => {
            let entry = keyring::Entry::new(KEYRING_SERVICE, account)
                .map_err(|e| Error::KeyringUnavailable(e.to_string()))?;
            let text = Zeroizing::new(entry.get_password().map_err(|e| {
                match e {
                    keyring::Error::NoEntry => Error::KeyFile {
                        path: path.to_owned(),
                        detail: "the system keyring answers but no longer holds this folder's key \
                             (the keyring was reset, or this is another computer or account). \
                             Without it the database cannot be read: restore the keyring, or \
                             set this device up again and sync a fresh copy from the hub"
                            .into(),
                    },
                    other => Error::KeyringUnavailable(other.to_string()),
                }
            })?);
            let key = DbKey::from_hex(&text).filter(|k| k.check() == info.check);
            key.map(|k| (k, Keeper::Keyring))
                .ok_or_else(|| Error::KeyFile {
                    path: path.to_owned(),
                    detail: "the key the system keyring holds for it is not this folder's key"
                        .into(),
                })
        }
        Kept::Passphrase {
            salt,
            memory_kib,
            passes,
            lanes,
        } => {
            let salt = hex::decode(salt).map_err(|_| Error::KeyFile {
                path: path.to_owned(),
                detail: "its salt is not hex".into(),
            })?;
            let derive = |p: &str| derive(p, &salt, *memory_kib, *passes, *lanes);
            if let Some(given) = env {
                let key = derive(&given.passphrase)?;
                return if key.check() == info.check {
                    Ok((key, Keeper::Passphrase))
                } else {
                    Err(Error::WrongPassphrase { given_by: given.by })
                };
            }
            let mut prompt = Prompt::Enter;
            for _ in 0..TRIES {
                let passphrase = ask(prompt).ok_or(Error::PassphraseNeeded)?;
                let key = derive(&passphrase)?;
                if key.check() == info.check {
                    return Ok((key, Keeper::Passphrase));
                }
                prompt = Prompt::Retry;
            }
            Err(Error::WrongPassphrase {
                given_by: "the passphrase typed",
            })
        }
    }
}

fn create(path: &Path, env: Option<Given>, ask: Ask) -> Result<(DbKey, Keeper)> {
    let (key, kept, keeper) = match env {
        Some(given) => passphrase_key(&given.passphrase)?,
        None => match keyring_key() {
            Some((key, kept)) => (key, kept, Keeper::Keyring),
            None => {
                let passphrase = ask(Prompt::Choose).ok_or(Error::PassphraseNeeded)?;
                passphrase_key(&passphrase)?
            }
        },
    };
    let info = KeyInfo {
        version: 1,
        check: key.check(),
        kept,
    };
    let mut text = serde_json::to_string_pretty(&info).expect("key info serialises");
    text.push('\n');
    let published = publish_new(path, text.as_bytes()).map_err(|e| Error::KeyFile {
        path: path.to_owned(),
        detail: e.to_string(),
    })?;
    if !published {
        return Err(Error::KeyFile {
            path: path.to_owned(),
            detail: "another Relevo set up this folder's key at the same moment; nothing was \
                     changed: start again and use that one"
                .into(),
        });
    }
    Ok((key, keeper))
}

fn passphrase_key(passphrase: &str) -> Result<(DbKey, Kept, Keeper)> {
    if passphrase.chars().count() < MIN_PASSPHRASE_CHARS {
        return Err(Error::Invalid(format!(
            "the passphrase is too short: use at least {MIN_PASSPHRASE_CHARS} characters"
        )));
    }
    let salt: [u8; 16] = crate::random();
    let key = derive(
        passphrase,
        &salt,
        ARGON2_MEMORY_KIB,
        ARGON2_PASSES,
        ARGON2_LANES,
    )?;
    let kept = Kept::Passphrase {
        salt: hex::encode(salt),
        memory_kib: ARGON2_MEMORY_KIB,
        passes: ARGON2_PASSES,
        lanes: ARGON2_LANES,
    };
    Ok((key, kept, Keeper::Passphrase))
}

/// A new random key in the system keyring, read back to be sure the keyring
/// keeps it; `None` when no keyring answers.
fn keyring_key() -> Option<(DbKey, Kept)> {
    let account = hex::encode(crate::random::<16>());
    let entry = keyring::Entry::new(KEYRING_SERVICE, &account).ok()?;
    let key = DbKey::random();
    entry.set_password(&key.to_hex()).ok()?;
    let back = Zeroizing::new(entry.get_password().ok()?);
    (back.as_str() == key.to_hex().as_str()).then_some((key, Kept::Keyring { account }))
}

fn derive(
    passphrase: &str,
    salt: &[u8],
    memory_kib: u32,
    passes: u32,
    lanes: u32,
) -> Result<DbKey> {
    // Refuse costs no device would choose: a tampered relevo.key must not
    // make the derivation take all memory, nor make it trivially cheap.
    let params = argon2::Params::new(memory_kib, passes, lanes, Some(32))
        .ok()
        .filter(|_| (8 * 1024..=1024 * 1024).contains(&memory_kib) && passes <= 16 && lanes <= 8)
        .ok_or_else(|| Error::Invalid("relevo.key names an Argon2 cost out of range".into()))?;
    let argon = argon2::Argon2::new(argon2::Algorithm::Argon2id, argon2::Version::V0x13, params);
    let mut out = Zeroizing::new([0u8; 32]);
    argon
        .hash_password_into(passphrase.as_bytes(), salt, out.as_mut_slice())
        .map_err(|e| Error::Invalid(format!("the passphrase could not be used: {e}")))?;
    Ok(DbKey(out))
}

fn read_info(path: &Path) -> Result<Option<KeyInfo>> {
    let text = match std::fs::read_to_string(path) {
        Ok(text) => text,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        Err(e) => {
            return Err(Error::KeyFile {
                path: path.to_owned(),
                detail: e.to_string(),
            })
        }
    };
    let info: KeyInfo = serde_json::from_str(&text).map_err(|e| Error::KeyFile {
        path: path.to_owned(),
        detail: format!("it is not readable ({e})"),
    })?;
    if info.version != 1 {
        return Err(Error::KeyFile {
            path: path.to_owned(),
            detail: format!(
                "it was written by a newer Relevo (version {})",
                info.version
            ),
        });
    }
    Ok(Some(info))
}

/// The first bytes of every plaintext SQLite file.
const SQLITE_MAGIC: &[u8; 16] = b"SQLite format 3\0";

/// Is `path` a plaintext SQLite database (one Relevo wrote before it
/// encrypted its stores)?
pub(crate) fn is_plaintext(path: &Path) -> bool {
    let mut head = [0u8; 16];
    std::fs::File::open(path)
        .and_then(|mut f| std::io::Read::read_exact(&mut f, &mut head))
        .is_ok_and(|()| &head == SQLITE_MAGIC)
}

/// Does `path` hold data that is not plaintext SQLite (so, encrypted)?
pub fn is_encrypted(path: &Path) -> bool {
    std::fs::metadata(path).is_ok_and(|m| m.len() > 0) && !is_plaintext(path)
}

/// Writes a new small file readable by its owner alone, whole, and only if
/// no file of that name exists: a key file is never replaced, even by two
/// processes setting up one folder at the same moment. `Ok(false)` when
/// the file already existed.
pub(crate) fn publish_new(path: &Path, bytes: &[u8]) -> std::io::Result<bool> {
    let dir = path
        .parent()
        .filter(|d| !d.as_os_str().is_empty())
        .unwrap_or(Path::new("."));
    // tempfile makes it 0600, with a name no other process uses.
    let mut tmp = tempfile::Builder::new()
        .prefix(".relevo-key-")
        .tempfile_in(dir)?;
    tmp.write_all(bytes)?;
    tmp.as_file().sync_all()?;
    match tmp.persist_noclobber(path) {
        Ok(_) => {
            sync_folder(path);
            Ok(true)
        }
        Err(e) if e.error.kind() == std::io::ErrorKind::AlreadyExists => Ok(false),
        Err(e) => Err(e.error),
    }
}

/// Makes a rename in `path`'s folder durable (best effort where folders
/// cannot be opened, as on Windows).
pub(crate) fn sync_folder(path: &Path) {
    if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
        if let Ok(d) = std::fs::File::open(dir) {
            let _ = d.sync_all();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_key_checks_only_itself() {
        let a = DbKey::from_bytes([1; 32]);
        let b = DbKey::from_bytes([2; 32]);
        assert_ne!(a.check(), b.check());
        assert_eq!(a.check(), DbKey::from_bytes([1; 32]).check());
        assert_eq!(format!("{a:?}"), "DbKey(..)");
    }

    #[test]
    fn a_passphrase_derives_one_key_per_salt() {
        let one = derive("correct horse", b"0123456789abcdef", 8192, 1, 1).unwrap();
        let again = derive("correct horse", b"0123456789abcdef", 8192, 1, 1).unwrap();
        let other_salt = derive("correct horse", b"fedcba9876543210", 8192, 1, 1).unwrap();
        assert_eq!(one.check(), again.check());
        assert_ne!(one.check(), other_salt.check());
        assert!(derive("x", b"0123456789abcdef", 1 << 30, 1, 1).is_err());
    }

    #[test]
    fn a_key_file_is_never_replaced() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join(KEY_FILE);
        assert!(publish_new(&path, b"first").unwrap());
        assert!(!publish_new(&path, b"second").unwrap(), "it existed");
        assert_eq!(std::fs::read(&path).unwrap(), b"first");
        let left: Vec<_> = std::fs::read_dir(dir.path()).unwrap().collect();
        assert_eq!(left.len(), 1, "no temporary file left behind");
    }

    #[test]
    fn a_key_file_others_can_read_is_refused() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("hub.key");
        let key = DbKey::load_or_create(&path).unwrap();
        assert_eq!(DbKey::load_or_create(&path).unwrap().check(), key.check());
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            assert_eq!(
                std::fs::metadata(&path).unwrap().permissions().mode() & 0o777,
                0o600
            );
            std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o644)).unwrap();
            let err = DbKey::load_or_create(&path).unwrap_err().to_string();
            assert!(err.contains("chmod 600"), "{err}");
        }
    }
}
