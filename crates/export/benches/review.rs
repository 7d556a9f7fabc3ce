//! Review benchmarks on fixed, generated crises, each against a plain
//! sequential read of the same rows in the same run:
//!
//! 1. the past, from about 1M ops: rebuilding every projection; the board
//!    as of five moments, the first time and again from checkpoints; a
//!    neighbouring moment on the slider, forward and back; each against
//!    reading the op rows up to its moment with one SELECT;
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
    let (mut store, crisis) = scenario(
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
    let read = |at: i64| {
        read_rows(
            &db,
            "SELECT device, seq, hlc_wall, hlc_counter, author, kind, payload, prev, signature, hash, received_at, refused FROM ops WHERE hlc_wall <= ?1",
            at,
        )
    };

    // Rebuilding every projection of the live store from the whole log.
    let (base, rows) = read(last);
    let started = Instant::now();
    store.rebuild_projections().expect("rebuild");
    ratio("rebuild every projection", started.elapsed(), base, rows);

    // Five moments: the first time (no checkpoint yet: each view makes the
    // ones it passes), then again (each from its nearest checkpoint).
    let moments: Vec<(String, i64)> = [10, 30, 50, 70, 90]
        .iter()
        .map(|p| (format!("{p}%"), first + (last - first) * p / 100))
        .collect();
    for round in ["first time", "from checkpoints"] {
        for (label, at) in &moments {
            let (base, rows) = read(*at);
            let started = Instant::now();
            let then = store.as_of(crisis, *at as u64, Basis::Made).expect("as of");
            let board = then
                .board(crisis, &relevo_store::TaskFilter::default())
                .expect("board");
            let ours = started.elapsed();
            assert!(!board.columns.is_empty());
            ratio(&format!("as-of {label} ({round})"), ours, base, rows);
        }
    }
    let kept = store.checkpoints().expect("checkpoints");
    let bytes: i64 = conn
        .query_row(
            "SELECT COALESCE(sum(length(image)), 0) FROM checkpoints",
            [],
            |r| r.get(0),
        )
        .expect("bytes");
    let file = std::fs::metadata(&db).expect("size").len();
    println!(
        "  checkpoints: {} kept, {:.1} MB compressed in all ({:.0}% of the {:.0} MB database)",
        kept.len(),
        bytes as f64 / 1e6,
        100.0 * bytes as f64 / file as f64,
        file as f64 / 1e6
    );

    // The slider: a neighbouring moment (a hundredth of the crisis away)
    // after the first, forward and back, through the view the app keeps.
    let mut cache = relevo_store::PastCache::default();
    let half = first + (last - first) / 2;
    let step = (last - first) / 100;
    store
        .as_of_view_cached(&mut cache, crisis, half as u64, Basis::Made)
        .expect("first moment");
    for (label, at) in [("forward", half + step), ("back", half)] {
        let (base, rows) = read(at);
        let started = Instant::now();
        let view = store
            .as_of_view_cached(&mut cache, crisis, at as u64, Basis::Made)
            .expect("neighbour");
        let ours = started.elapsed();
        assert!(!view.requests.is_empty());
        ratio(
            &format!("as-of neighbouring moment, {label}"),
            ours,
            base,
            rows,
        );
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
