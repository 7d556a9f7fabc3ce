//! Helpers shared by the store's integration tests.
#![allow(dead_code)]

use relevo_core::domain::{CrisisDraft, IdentityDraft, RequestDraft};
use relevo_store::{DbKey, Store};

/// The key the tests' stores are encrypted with.
pub fn key() -> DbKey {
    DbKey::from_bytes([7; 32])
}

/// A raw SQLite connection to a test store, keyed, to look at or damage
/// the file behind the store's back.
pub fn raw(path: &std::path::Path) -> rusqlite::Connection {
    let conn = rusqlite::Connection::open(path).expect("raw open");
    key().apply(&conn).expect("key");
    conn
}

pub fn identity(role: &str, country: &str) -> IdentityDraft {
    IdentityDraft {
        name: format!("Tester {role} {country}"),
        role: role.into(),
        country: country.into(),
        org: "OIM".into(),
    }
}

pub fn crisis() -> CrisisDraft {
    CrisisDraft {
        name: "Flujo mixto".into(),
        countries: vec!["GT".into(), "HN".into()],
    }
}

pub fn request(site: &str, total: i64) -> RequestDraft {
    let total = total as f64;
    RequestDraft {
        country: "GT".into(),
        site: site.into(),
        sector: "shelter".into(),
        people_total: Some(total),
        women: Some((total / 4.0).floor()),
        men: Some((total / 4.0).floor()),
        girls: None,
        boys: None,
        priority: "high".into(),
        description: "Colchonetas y frazadas".into(),
        ..Default::default()
    }
}

/// A store with an identity and an open crisis.
pub fn ready_store(role: &str, country: &str) -> Store {
    let mut s = Store::open_in_memory().expect("open");
    s.init_identity(&identity(role, country)).expect("init");
    s.open_crisis(&crisis()).expect("crisis");
    s
}

/// The file's bytes, to show that a refused open left it untouched.
pub fn file_bytes(path: &std::path::Path) -> Vec<u8> {
    std::fs::read(path).expect("read file")
}

/// Gives each store every op the other holds (the hub's job, done directly).
pub fn exchange(a: &mut Store, b: &mut Store) {
    let from_a = a.ops().expect("ops");
    let from_b = b.ops().expect("ops");
    for op in &from_b {
        a.ingest(op).expect("genuine op");
    }
    for op in &from_a {
        b.ingest(op).expect("genuine op");
    }
}

/// A store for `role` in `country` holding everything `source` holds, with
/// the same current crisis.
pub fn joined(role: &str, country: &str, source: &Store) -> Store {
    let mut s = Store::open_in_memory().expect("open");
    s.init_identity(&identity(role, country)).expect("init");
    for op in source.ops().expect("ops") {
        s.ingest(&op).expect("genuine op");
    }
    let crisis = source.current_crisis().expect("q").expect("crisis").id;
    s.set_current_crisis(crisis).expect("current");
    s
}
