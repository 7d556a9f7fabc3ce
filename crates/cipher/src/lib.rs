//! SQLCipher's page cryptography done by RustCrypto instead of OpenSSL 3.
//!
//! SQLCipher encrypts every page it writes (AES-256-CBC with a fresh random
//! IV) and authenticates it (an HMAC), through a table of functions it calls
//! a provider. Its OpenSSL provider sets OpenSSL 3 up anew for every page:
//! it fetches the HMAC algorithm by name, allocates a MAC and a cipher
//! context, expands the key and frees them again. Measured on logging one
//! request (about 16 pages written per commit), that set-up cost more than
//! the cryptography itself: about 13 µs a page, of which AES and SHA-256
//! themselves were about 5 (README, Benchmarks).
//!
//! This crate registers a provider of its own with SQLCipher's public
//! `sqlcipher_register_provider`. It computes the same functions with the
//! RustCrypto crates (`aes`, `cbc`, `hmac`, `sha1`, `sha2`, `pbkdf2`), which
//! use AES-NI and SHA-NI where the processor has them and keep no state
//! between calls, and draws IVs from the operating system's generator. The
//! file format does not change: a store written by either provider opens
//! with the other (`tests/interop.rs` proves it in both directions).
//!
//! Only SQLCipher 4, whose provider table this crate mirrors, is accepted;
//! with any other version [`install`] refuses and OpenSSL keeps the job.

use aes::Aes256;
use cbc::cipher::{block_padding::NoPadding, BlockDecryptMut, BlockEncryptMut, KeyIvInit};
use hmac::{Hmac, Mac};
use rand_core::{OsRng, RngCore};
use sha1::Sha1;
use sha2::{Sha256, Sha512};
use std::ffi::{c_char, c_int, c_void, CStr};
use std::sync::OnceLock;

/// The name SQLCipher reports for this provider (`PRAGMA cipher_provider`).
pub const PROVIDER_NAME: &str = "rustcrypto";

const NAME: &CStr = c"rustcrypto";
const VERSION: &CStr = c"relevo-cipher 1 (aes 0.8, cbc 0.1, hmac 0.12, sha2 0.10, pbkdf2 0.12)";
const CIPHER_NAME: &CStr = c"AES-256-CBC";

const SQLITE_OK: c_int = 0;
const SQLITE_ERROR: c_int = 1;

// SQLCipher 4's constants (sqlcipher.h).
const ENCRYPT: c_int = 1;
const DECRYPT: c_int = 0;
const HMAC_SHA1: c_int = 0;
const HMAC_SHA256: c_int = 1;
const HMAC_SHA512: c_int = 2;
const PBKDF2_HMAC_SHA1: c_int = 0;
const PBKDF2_HMAC_SHA256: c_int = 1;
const PBKDF2_HMAC_SHA512: c_int = 2;
const KEY_SIZE: usize = 32;
const BLOCK_SIZE: usize = 16;

/// SQLCipher 4's `sqlcipher_provider`, field for field.
#[repr(C)]
struct Provider {
    init: Option<unsafe extern "C" fn() -> c_int>,
    shutdown: Option<unsafe extern "C" fn()>,
    get_provider_name: Option<unsafe extern "C" fn(*mut c_void) -> *const c_char>,
    add_random: Option<unsafe extern "C" fn(*mut c_void, *const c_void, c_int) -> c_int>,
    random: Option<unsafe extern "C" fn(*mut c_void, *mut c_void, c_int) -> c_int>,
    hmac: Option<
        unsafe extern "C" fn(
            *mut c_void,
            c_int,
            *const u8,
            c_int,
            *const u8,
            c_int,
            *const u8,
            c_int,
            *mut u8,
        ) -> c_int,
    >,
    kdf: Option<
        unsafe extern "C" fn(
            *mut c_void,
            c_int,
            *const u8,
            c_int,
            *const u8,
            c_int,
            c_int,
            c_int,
            *mut u8,
        ) -> c_int,
    >,
    cipher: Option<
        unsafe extern "C" fn(
            *mut c_void,
            c_int,
            *const u8,
            c_int,
            *const u8,
            *const u8,
            c_int,
            *mut u8,
        ) -> c_int,
    >,
    get_cipher: Option<unsafe extern "C" fn(*mut c_void) -> *const c_char>,
    get_key_sz: Option<unsafe extern "C" fn(*mut c_void) -> c_int>,
    get_iv_sz: Option<unsafe extern "C" fn(*mut c_void) -> c_int>,
    get_block_sz: Option<unsafe extern "C" fn(*mut c_void) -> c_int>,
    get_hmac_sz: Option<unsafe extern "C" fn(*mut c_void, c_int) -> c_int>,
    ctx_init: Option<unsafe extern "C" fn(*mut *mut c_void) -> c_int>,
    ctx_free: Option<unsafe extern "C" fn(*mut *mut c_void) -> c_int>,
    fips_status: Option<unsafe extern "C" fn(*mut c_void) -> c_int>,
    get_provider_version: Option<unsafe extern "C" fn(*mut c_void) -> *const c_char>,
    next: *mut Provider,
}

extern "C" {
    fn sqlcipher_register_provider(p: *mut Provider) -> c_int;
    fn sqlcipher_get_provider() -> *mut Provider;
    fn sqlcipher_malloc(size: u64) -> *mut c_void;
    fn sqlcipher_version() -> *mut c_char;
    fn sqlcipher_extra_init(arg: *const c_char) -> c_int;
}

/// The two providers, once this crate has registered its own: raw pointers
/// into SQLCipher's provider list, which lives as long as the process.
#[derive(Debug, Clone, Copy)]
struct Registered {
    ours: usize,
    openssl: usize,
}

static REGISTERED: OnceLock<Result<Registered, String>> = OnceLock::new();

/// Makes this crate's provider the one SQLCipher uses for every database
/// keyed from now on, in the whole process. Idempotent. Must run before the
/// first database is keyed (databases keyed earlier keep their provider).
///
/// Refuses, and leaves OpenSSL in charge, if the linked SQLCipher is not
/// version 4.
pub fn install() -> Result<(), String> {
    let registered = REGISTERED.get_or_init(register).clone()?;
    make_default(registered.ours)
}

/// Makes SQLCipher's own OpenSSL provider the default again, for tests that
/// prove both providers read each other's files. Not for production use.
#[doc(hidden)]
pub fn use_openssl_for_tests() -> Result<(), String> {
    let registered = REGISTERED.get_or_init(register).clone()?;
    make_default(registered.openssl)
}

fn make_default(provider: usize) -> Result<(), String> {
    // SAFETY: `provider` is one of the two providers on SQLCipher's list
    // (see `register`), which are never freed before the process ends;
    // registering a listed provider again only moves it to the front, under
    // SQLCipher's provider mutex.
    let rc = unsafe { sqlcipher_register_provider(provider as *mut Provider) };
    if rc == SQLITE_OK {
        Ok(())
    } else {
        Err(format!("SQLCipher refused the crypto provider (code {rc})"))
    }
}

fn register() -> Result<Registered, String> {
    // SAFETY: sqlite3_initialize is safe to call at any time and from any
    // thread; it runs SQLCipher's set-up, which registers its OpenSSL
    // provider.
    let rc = unsafe { libsqlite3_sys::sqlite3_initialize() };
    if rc != SQLITE_OK {
        return Err(format!("SQLite could not be initialised (code {rc})"));
    }
    // SQLite marks itself initialised before it runs SQLCipher's set-up,
    // so when another thread is opening the process's first connection,
    // `sqlite3_initialize` above may return before SQLCipher has a
    // provider. Running the set-up here waits for it: it takes SQLite's
    // master mutex and returns at once if the set-up is done.
    // SAFETY: SQLite is initialised (so its mutexes exist); the set-up
    // ignores its argument.
    let rc = unsafe { sqlcipher_extra_init(std::ptr::null()) };
    if rc != SQLITE_OK {
        return Err(format!("SQLCipher could not be initialised (code {rc})"));
    }
    let version = linked_version();
    if !version.starts_with("4.") {
        return Err(format!(
            "SQLCipher {version} is not version 4, whose provider table this build knows"
        ));
    }
    // SAFETY: SQLite is initialised, so SQLCipher's provider list exists.
    let openssl = unsafe { sqlcipher_get_provider() };
    if openssl.is_null() {
        return Err("SQLCipher has no default crypto provider".into());
    }
    let table = Provider {
        init: None,
        shutdown: None,
        get_provider_name: Some(provider_name),
        add_random: Some(add_random),
        random: Some(random),
        hmac: Some(hmac),
        kdf: Some(kdf),
        cipher: Some(cipher),
        get_cipher: Some(cipher_name),
        get_key_sz: Some(key_size),
        get_iv_sz: Some(block_size),
        get_block_sz: Some(block_size),
        get_hmac_sz: Some(hmac_size),
        ctx_init: Some(ctx_init),
        ctx_free: Some(ctx_free),
        fips_status: Some(fips_status),
        get_provider_version: Some(provider_version),
        next: std::ptr::null_mut(),
    };
    // SQLCipher frees its providers with `sqlcipher_free` at shutdown, so
    // the table is allocated with its allocator.
    // SAFETY: sqlcipher_malloc returns zeroed memory of the size asked, or
    // null.
    let ours = unsafe { sqlcipher_malloc(std::mem::size_of::<Provider>() as u64) } as *mut Provider;
    if ours.is_null() {
        return Err("no memory for SQLCipher's crypto provider".into());
    }
    // SAFETY: `ours` is a fresh allocation of the right size, suitably
    // aligned (SQLite's allocator aligns to 8 bytes), owned by no one else.
    unsafe { ours.write(table) };
    make_default(ours as usize)?;
    Ok(Registered {
        ours: ours as usize,
        openssl: openssl as usize,
    })
}

/// The linked SQLCipher's version ("4.20.0 community").
fn linked_version() -> String {
    // SAFETY: sqlcipher_version returns a string from sqlite3_mprintf (or
    // null), which the caller frees with sqlite3_free.
    unsafe {
        let text = sqlcipher_version();
        if text.is_null() {
            return String::new();
        }
        let version = CStr::from_ptr(text).to_string_lossy().into_owned();
        libsqlite3_sys::sqlite3_free(text as *mut c_void);
        version
    }
}

unsafe extern "C" fn provider_name(_ctx: *mut c_void) -> *const c_char {
    NAME.as_ptr()
}

unsafe extern "C" fn provider_version(_ctx: *mut c_void) -> *const c_char {
    VERSION.as_ptr()
}

unsafe extern "C" fn cipher_name(_ctx: *mut c_void) -> *const c_char {
    CIPHER_NAME.as_ptr()
}

unsafe extern "C" fn key_size(_ctx: *mut c_void) -> c_int {
    KEY_SIZE as c_int
}

unsafe extern "C" fn block_size(_ctx: *mut c_void) -> c_int {
    BLOCK_SIZE as c_int
}

unsafe extern "C" fn hmac_size(_ctx: *mut c_void, algorithm: c_int) -> c_int {
    match algorithm {
        HMAC_SHA1 => 20,
        HMAC_SHA256 => 32,
        HMAC_SHA512 => 64,
        _ => 0,
    }
}

/// No per-database state: every call stands alone.
unsafe extern "C" fn ctx_init(ctx: *mut *mut c_void) -> c_int {
    if !ctx.is_null() {
        // SAFETY: SQLCipher passes the address of its context pointer.
        unsafe { *ctx = std::ptr::null_mut() };
    }
    SQLITE_OK
}

unsafe extern "C" fn ctx_free(_ctx: *mut *mut c_void) -> c_int {
    SQLITE_OK
}

unsafe extern "C" fn fips_status(_ctx: *mut c_void) -> c_int {
    0
}

/// The operating system's generator needs no entropy from outside.
unsafe extern "C" fn add_random(
    _ctx: *mut c_void,
    _buffer: *const c_void,
    _length: c_int,
) -> c_int {
    SQLITE_OK
}

unsafe extern "C" fn random(_ctx: *mut c_void, buffer: *mut c_void, length: c_int) -> c_int {
    let Ok(length) = usize::try_from(length) else {
        return SQLITE_ERROR;
    };
    if buffer.is_null() {
        return if length == 0 { SQLITE_OK } else { SQLITE_ERROR };
    }
    // SAFETY: SQLCipher passes a writable buffer of `length` bytes.
    let out = unsafe { std::slice::from_raw_parts_mut(buffer as *mut u8, length) };
    match OsRng.try_fill_bytes(out) {
        Ok(()) => SQLITE_OK,
        Err(_) => SQLITE_ERROR,
    }
}

/// `length` bytes at `data`, or None for a null pointer or a negative size.
///
/// # Safety
/// A non-null `data` must point to `length` readable bytes that outlive the
/// returned slice.
unsafe fn bytes<'a>(data: *const u8, length: c_int) -> Option<&'a [u8]> {
    let length = usize::try_from(length).ok()?;
    if data.is_null() {
        return (length == 0).then_some(&[]);
    }
    // SAFETY: guaranteed by the caller.
    Some(unsafe { std::slice::from_raw_parts(data, length) })
}

fn mac<M: Mac + hmac::digest::KeyInit>(key: &[u8], parts: [&[u8]; 2], out: &mut [u8]) -> bool {
    let Ok(mut mac) = <M as hmac::digest::KeyInit>::new_from_slice(key) else {
        return false;
    };
    for part in parts {
        mac.update(part);
    }
    let tag = mac.finalize().into_bytes();
    if out.len() != tag.len() {
        return false;
    }
    out.copy_from_slice(&tag);
    true
}

#[allow(clippy::too_many_arguments)]
unsafe extern "C" fn hmac(
    _ctx: *mut c_void,
    algorithm: c_int,
    key: *const u8,
    key_size: c_int,
    input: *const u8,
    input_size: c_int,
    input2: *const u8,
    input2_size: c_int,
    out: *mut u8,
) -> c_int {
    if input.is_null() || out.is_null() {
        return SQLITE_ERROR;
    }
    // SAFETY: SQLCipher passes each buffer with its size; the second input
    // is optional (null).
    let (Some(key), Some(input)) = (unsafe { bytes(key, key_size) }, unsafe {
        bytes(input, input_size)
    }) else {
        return SQLITE_ERROR;
    };
    let input2 = if input2.is_null() {
        &[][..]
    } else {
        // SAFETY: as above.
        match unsafe { bytes(input2, input2_size) } {
            Some(input2) => input2,
            None => return SQLITE_ERROR,
        }
    };
    // SAFETY: `out` holds the algorithm's tag size (`hmac_size`), which
    // SQLCipher reserves at the end of every page.
    let size = unsafe { hmac_size(std::ptr::null_mut(), algorithm) } as usize;
    if size == 0 {
        return SQLITE_ERROR;
    }
    // SAFETY: see above.
    let out = unsafe { std::slice::from_raw_parts_mut(out, size) };
    let parts = [input, input2];
    let done = match algorithm {
        HMAC_SHA1 => mac::<Hmac<Sha1>>(key, parts, out),
        HMAC_SHA256 => mac::<Hmac<Sha256>>(key, parts, out),
        HMAC_SHA512 => mac::<Hmac<Sha512>>(key, parts, out),
        _ => false,
    };
    if done {
        SQLITE_OK
    } else {
        SQLITE_ERROR
    }
}

#[allow(clippy::too_many_arguments)]
unsafe extern "C" fn kdf(
    _ctx: *mut c_void,
    algorithm: c_int,
    pass: *const u8,
    pass_size: c_int,
    salt: *const u8,
    salt_size: c_int,
    workfactor: c_int,
    key_size: c_int,
    key: *mut u8,
) -> c_int {
    // SAFETY: SQLCipher passes each buffer with its size.
    let (Some(pass), Some(salt)) = (unsafe { bytes(pass, pass_size) }, unsafe {
        bytes(salt, salt_size)
    }) else {
        return SQLITE_ERROR;
    };
    let (Ok(rounds), Ok(key_size)) = (u32::try_from(workfactor), usize::try_from(key_size)) else {
        return SQLITE_ERROR;
    };
    if key.is_null() || rounds == 0 {
        return SQLITE_ERROR;
    }
    // SAFETY: SQLCipher passes a writable buffer of `key_size` bytes.
    let key = unsafe { std::slice::from_raw_parts_mut(key, key_size) };
    match algorithm {
        PBKDF2_HMAC_SHA1 => pbkdf2::pbkdf2_hmac::<Sha1>(pass, salt, rounds, key),
        PBKDF2_HMAC_SHA256 => pbkdf2::pbkdf2_hmac::<Sha256>(pass, salt, rounds, key),
        PBKDF2_HMAC_SHA512 => pbkdf2::pbkdf2_hmac::<Sha512>(pass, salt, rounds, key),
        _ => return SQLITE_ERROR,
    }
    SQLITE_OK
}

/// AES-256-CBC without padding over whole blocks, `input` to `out` (which
/// may be the same buffer).
#[allow(clippy::too_many_arguments)]
unsafe extern "C" fn cipher(
    _ctx: *mut c_void,
    mode: c_int,
    key: *const u8,
    key_size: c_int,
    iv: *const u8,
    input: *const u8,
    input_size: c_int,
    out: *mut u8,
) -> c_int {
    let Ok(length) = usize::try_from(input_size) else {
        return SQLITE_ERROR;
    };
    if key.is_null()
        || iv.is_null()
        || input.is_null()
        || out.is_null()
        || key_size as usize != KEY_SIZE
        || length % BLOCK_SIZE != 0
    {
        return SQLITE_ERROR;
    }
    // SAFETY: SQLCipher passes a key of `key_size` (checked: 32) bytes, an
    // IV of one block, and `input` and `out` buffers of `input_size` bytes,
    // possibly the same one (`copy` allows the overlap).
    let (key, iv, buffer) = unsafe {
        std::ptr::copy(input, out, length);
        (
            &*(key as *const [u8; KEY_SIZE]),
            &*(iv as *const [u8; BLOCK_SIZE]),
            std::slice::from_raw_parts_mut(out, length),
        )
    };
    let done = match mode {
        ENCRYPT => cbc::Encryptor::<Aes256>::new(key.into(), iv.into())
            .encrypt_padded_mut::<NoPadding>(buffer, length)
            .is_ok(),
        DECRYPT => cbc::Decryptor::<Aes256>::new(key.into(), iv.into())
            .decrypt_padded_mut::<NoPadding>(buffer)
            .is_ok(),
        _ => false,
    };
    if done {
        SQLITE_OK
    } else {
        SQLITE_ERROR
    }
}
