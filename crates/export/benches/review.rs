//! Review benchmarks on fixed, generated crises, each against a plain
//! sequential read of the same rows in the same run:
//!
//! 1. as-of: rebuilding the board as of a moment from about 1M ops (copy
//!    the ops up to then into a fresh store, project them), against reading
//!    those op rows with one SELECT;
//! 2. Excel export of about 200k requests (the whole workbook: requests,
//!    tasks, timeline, measures, 3W), against reading the request rows.
//!
//! `cargo bench -p relevo-export --bench review`; `RELEVO_BENCH_SCALE=0.1`
//! runs a tenth of it.

use relevo_store::{Basis, Scale, Store};
use std::time::{Duration, Instant};

const DAY: u64 = 86_400_000;

fn scale() -> f64 {
    std::env::var("RELEVO_BENCH_SCALE")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(1.0)
}

fn now() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .expect("clock")
        .as_millis() as u64
}

fn scenario(
    dir: &std::path::Path,
    requests: usize,
    tasks: usize,
) -> (Store, relevo_core::EntityId) {
    let started = Instant::now();
    let mut store = Store::open_unencrypted(&dir.join("relevo.db")).expect("open");
    let s = store
        .generate_scenario(Scale { requests, tasks }, now() - 60 * DAY)
        .expect("scenario");
    println!(
        "  (generated {} ops: {requests} requests, {tasks} tasks, in {:.1} s)",
        store.op_count().expect("count"),
        started.elapsed().as_secs_f64()
    );
    (store, s.crisis)
}

fn ratio(what: &str, ours: Duration, base: Duration, rows: u64) {
    println!(
        "{what}: {:.2} s ({:.1} µs/row) | sequential read of the same {rows} rows {:.3} s ({:.2} µs/row) | ratio {:.0}×",
        ours.as_secs_f64(),
        ours.as_secs_f64() * 1e6 / rows as f64,
        base.as_secs_f64(),
        base.as_secs_f64() * 1e6 / rows as f64,
        ours.as_secs_f64() / base.as_secs_f64()
    );
}

/// Reads every column of the rows a query selects; returns the count.
fn read_rows(db: &std::path::Path, sql: &str, arg: i64) -> (Duration, u64) {
    let conn = rusqlite::Connection::open(db).expect("open");
    let started = Instant::now();
    let mut stmt = conn.prepare(sql).expect("prepare");
    let columns = stmt.column_count();
    let mut rows = stmt.query([arg]).expect("query");
    let (mut n, mut bytes) = (0u64, 0usize);
    while let Some(r) = rows.next().expect("row") {
        for i in 0..columns {
            bytes += match r.get_ref(i).expect("cell") {
                rusqlite::types::ValueRef::Blob(b) | rusqlite::types::ValueRef::Text(b) => b.len(),
                _ => 8,
            };
        }
        n += 1;
    }
    assert!(bytes > 0);
    (started.elapsed(), n)
}

fn as_of() {
    let s = scale();
    let dir = tempfile::tempdir().expect("tmp");
    let (store, crisis) = scenario(
        dir.path(),
        (520_000.0 * s) as usize,
        (52_000.0 * s) as usize,
    );
    let db = dir.path().join("relevo.db");
    let conn = rusqlite::Connection::open(&db).expect("open");
    let (first, last): (i64, i64) = conn
        .query_row("SELECT min(hlc_wall), max(hlc_wall) FROM ops", [], |r| {
            Ok((r.get(0)?, r.get(1)?))
        })
        .expect("span");
    for (label, at) in [("end", last), ("half-way", first + (last - first) / 2)] {
        let (base, rows) = read_rows(
            &db,
            "SELECT device, seq, hlc_wall, hlc_counter, author, kind, payload, prev, signature, hash, received_at, refused FROM ops WHERE hlc_wall <= ?1",
            at,
        );
        let started = Instant::now();
        let then = store.as_of(crisis, at as u64, Basis::Made).expect("as of");
        let board = then
            .board(crisis, &relevo_store::TaskFilter::default())
            .expect("board");
        let ours = started.elapsed();
        assert!(!board.columns.is_empty());
        ratio(&format!("as-of rebuild ({label})"), ours, base, rows);
    }
}

fn xlsx() {
    let s = scale();
    let dir = tempfile::tempdir().expect("tmp");
    let (store, crisis) = scenario(
        dir.path(),
        (200_000.0 * s) as usize,
        (20_000.0 * s) as usize,
    );
    let db = dir.path().join("relevo.db");
    let (base, rows) = read_rows(&db, "SELECT * FROM requests WHERE ?1 = ?1", 0);
    let path = dir.path().join("crisis.xlsx");
    let started = Instant::now();
    let written = relevo_export::export(
        &store,
        crisis,
        relevo_export::Format::Xlsx,
        relevo_export::Audience::Response,
        &path,
        &mut |_, _| {},
    )
    .expect("xlsx");
    let ours = started.elapsed();
    assert_eq!(written.requests, rows);
    ratio(
        &format!("Excel export ({} bytes)", written.bytes),
        ours,
        base,
        rows,
    );
}

fn main() {
    if std::env::args().any(|a| a == "--list") {
        return;
    }
    let only = std::env::var("RELEVO_BENCH_ONLY").unwrap_or_default();
    if only.is_empty() || only == "asof" {
        as_of();
    }
    if only.is_empty() || only == "xlsx" {
        xlsx();
    }
}
