//! The task board and a full rebuild at scale, against raw SELECTs over the
//! same rows.
//!
//! Data set: the demo scenario generator scaled to 200,000 requests and
//! 50,000 tasks (about half a million signed ops from 13 devices), built
//! once and kept under the target folder. `RELEVO_BENCH_SCALE=0.1` builds a
//! tenth of it for a quick run. Every figure is a median of repeated runs in
//! this process; the ratio to the raw SELECT measured in the same run is
//! what to compare, not the absolute times.

use relevo_core::domain::{Country, IdentityDraft, Priority, Sector, TaskStatus};
use relevo_store::{Scale, Store, TaskFilter};
use std::hint::black_box;
use std::path::PathBuf;
use std::time::Instant;

mod timing;
use timing::time;

/// Bump when the generator or the schema changes, so a stale data set is
/// rebuilt rather than measured.
const DATA_VERSION: u32 = 3;

fn data_set(scale: f64) -> PathBuf {
    let dir = PathBuf::from(env!("CARGO_TARGET_TMPDIR"));
    let path = dir.join(format!(
        "board-bench-v{}-{}-{scale}.db",
        relevo_store::SCHEMA_VERSION,
        DATA_VERSION
    ));
    if path.exists() {
        return path;
    }
    let building = path.with_extension("building");
    let _ = std::fs::remove_file(&building);
    let mut store = Store::open_unencrypted(&building).expect("open");
    store
        .init_identity(&IdentityDraft {
            name: "Bench".into(),
            role: "regional-director".into(),
            country: "PA".into(),
            org: "iom".into(),
        })
        .expect("init");
    let scale = Scale {
        requests: (200_000.0 * scale) as usize,
        tasks: (50_000.0 * scale) as usize,
    };
    let t = Instant::now();
    // A fixed start: the data set is the same whenever it is built.
    let s = store
        .generate_scenario(scale, 1_793_491_200_000)
        .expect("generate");
    store.set_current_crisis(s.crisis).expect("current");
    println!(
        "generated {} requests, {} tasks, {} ops in {:.1} s",
        scale.requests,
        scale.tasks,
        s.ops,
        t.elapsed().as_secs_f64()
    );
    drop(store);
    std::fs::rename(&building, &path).expect("rename");
    path
}

fn main() {
    // `cargo bench` passes --bench; nothing else is accepted.
    let scale: f64 = std::env::var("RELEVO_BENCH_SCALE")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(1.0);
    let path = data_set(scale);
    let mut store = Store::open_unencrypted(&path).expect("open");
    let raw = rusqlite::Connection::open(&path).expect("raw");
    let crisis = store.current_crisis().expect("q").expect("crisis").id;
    let tasks: i64 = raw
        .query_row("SELECT count(*) FROM tasks", [], |r| r.get(0))
        .expect("count");
    let ops: i64 = raw
        .query_row("SELECT count(*) FROM ops", [], |r| r.get(0))
        .expect("count");
    println!("data set: {tasks} tasks, {ops} ops ({})", path.display());
    let iom_person = None;
    let filters: Vec<(&str, TaskFilter, &str)> = vec![
        ("no filter", TaskFilter::default(), "1"),
        (
            "country GT",
            TaskFilter {
                country: Some(Country::Gt),
                ..Default::default()
            },
            "scope = 'GT'",
        ),
        (
            "scope regional",
            TaskFilter {
                scope: Some("regional".into()),
                ..Default::default()
            },
            "scope = 'regional'",
        ),
        (
            "sector wash",
            TaskFilter {
                sector: Some(Sector::Wash),
                ..Default::default()
            },
            "sector = 'wash'",
        ),
        (
            "holder org iom",
            TaskFilter {
                org: Some("iom".into()),
                person: iom_person,
                ..Default::default()
            },
            "holder_org = 'iom'",
        ),
        (
            "priority critical",
            TaskFilter {
                priority: Some(Priority::Critical),
                ..Default::default()
            },
            "priority = 'critical'",
        ),
        (
            "status blocked",
            TaskFilter {
                status: Some(TaskStatus::Blocked),
                ..Default::default()
            },
            "status = 'blocked'",
        ),
        (
            "overdue",
            TaskFilter {
                overdue: true,
                ..Default::default()
            },
            "due < 9999999999999 AND status NOT IN ('done', 'cancelled')",
        ),
    ];
    println!();
    println!(
        "{:<20} {:>8} {:>12} {:>12} {:>7}",
        "board filter", "rows", "board", "raw SELECT", "ratio"
    );
    for (name, filter, clause) in filters {
        let board = time(15, || store.board(crisis, &filter).expect("board"));
        let sql = format!(
            "SELECT id, reference, title, status, priority, sector, scope, holder_person, holder_org, due
             FROM tasks WHERE crisis = ?1 AND {clause}"
        );
        let mut rows = 0usize;
        let baseline = time(15, || {
            let mut stmt = raw.prepare_cached(&sql).expect("prepare");
            let out: Vec<(Vec<u8>, String, String, String)> = stmt
                .query_map([crisis.as_bytes()], |r| {
                    Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?))
                })
                .expect("query")
                .collect::<Result<_, _>>()
                .expect("rows");
            rows = out.len();
            out
        });
        println!(
            "{:<20} {:>8} {:>9.2} ms {:>9.2} ms {:>6.2}x",
            name,
            rows,
            board.as_secs_f64() * 1e3,
            baseline.as_secs_f64() * 1e3,
            board.as_secs_f64() / baseline.as_secs_f64()
        );
    }
    println!();
    // A request found by the reference a person types (in any case), as
    // the detail view and every request action do, against the raw lookup
    // of the same row by its primary key.
    let references: Vec<(String, Vec<u8>)> = {
        let mut stmt = raw
            .prepare("SELECT reference, id FROM requests ORDER BY id")
            .expect("prepare");
        let all: Vec<(String, Vec<u8>)> = stmt
            .query_map([], |r| Ok((r.get(0)?, r.get(1)?)))
            .expect("query")
            .collect::<Result<_, _>>()
            .expect("rows");
        // Twenty spread over the table, not its first rows.
        all.iter()
            .step_by(all.len().div_ceil(20))
            .cloned()
            .collect()
    };
    let detail = time(5, || {
        for (r, _) in &references {
            black_box(store.request_detail(&r.to_lowercase()).expect("detail"));
        }
    });
    let lookup = time(5, || {
        for (_, id) in &references {
            let mut stmt = raw
                .prepare_cached("SELECT reference, site, description FROM requests WHERE id = ?1")
                .expect("prepare");
            black_box(
                stmt.query_row([id], |row| row.get::<_, String>(0))
                    .expect("row"),
            );
        }
    });
    println!(
        "request by reference ({} of {} requests): detail {:.3} ms each; raw lookup by key {:.3} ms each; ratio {:.1}x",
        references.len(),
        raw.query_row("SELECT count(*) FROM requests", [], |r| r.get::<_, i64>(0))
            .expect("count"),
        detail.as_secs_f64() * 1e3 / references.len() as f64,
        lookup.as_secs_f64() * 1e3 / references.len() as f64,
        detail.as_secs_f64() / lookup.as_secs_f64()
    );
    println!();
    let runs = 3;
    let rebuild = time(runs, || store.rebuild_projections().expect("rebuild"));
    let baseline = time(runs, || {
        let mut stmt = raw
            .prepare_cached("SELECT device, seq, hlc_wall, hlc_counter, author, kind, payload, prev, signature FROM ops")
            .expect("prepare");
        let n = stmt
            .query_map([], |r| {
                Ok((r.get::<_, Vec<u8>>(0)?, r.get::<_, Vec<u8>>(6)?))
            })
            .expect("query")
            .count();
        n
    });
    println!(
        "rebuild all projections from {ops} ops: {:.2} s; raw SELECT of the ops: {:.3} s; ratio {:.1}x",
        rebuild.as_secs_f64(),
        baseline.as_secs_f64(),
        rebuild.as_secs_f64() / baseline.as_secs_f64()
    );
}
