//! Logging one request end to end (validate, sign, append, project, durable
//! commit) against the floor: a raw rusqlite single-row insert and commit
//! with the same pragmas (WAL, synchronous=FULL) on the same disk.
//!
//! Both run in the same process on files in the same folder, so the ratio
//! between them is what matters, not either absolute figure. Relevo's store
//! is measured plaintext and encrypted (SQLCipher): the encrypted one is
//! what devices run; the ratio between the two is encryption's cost.

use criterion::{criterion_group, criterion_main, Criterion};
use relevo_core::domain::{CrisisDraft, IdentityDraft, RequestDraft};
use relevo_store::Store;
use std::hint::black_box;

fn draft(i: u64) -> RequestDraft {
    RequestDraft {
        country: "GT".into(),
        site: format!("Tecún Umán, albergue {i}"),
        sector: "shelter".into(),
        people_total: Some(120.0),
        women: Some(40.0),
        men: Some(35.0),
        girls: Some(25.0),
        boys: Some(20.0),
        priority: "high".into(),
        description: "Colchonetas y frazadas para 120 personas; el albergue superó su capacidad"
            .into(),
        ..Default::default()
    }
}

fn bench(c: &mut Criterion) {
    // Under target/ so both files share the disk the project builds on.
    let base = std::path::Path::new(env!("CARGO_TARGET_TMPDIR"));
    let dir = tempfile::tempdir_in(base).expect("tempdir");

    let mut group = c.benchmark_group("log_one_request");

    let raw_path = dir.path().join("raw.db");
    let raw = rusqlite::Connection::open(&raw_path).expect("open raw");
    raw.pragma_update(None, "journal_mode", "WAL").expect("wal");
    raw.pragma_update(None, "synchronous", "FULL")
        .expect("full");
    raw.execute_batch(
        "CREATE TABLE t (id INTEGER PRIMARY KEY, site TEXT, description TEXT, people INTEGER)",
    )
    .expect("table");
    let mut n = 0u64;
    group.bench_function("raw_rusqlite_insert_commit", |b| {
        b.iter(|| {
            n += 1;
            let d = draft(n);
            raw.execute(
                "INSERT INTO t (site, description, people) VALUES (?1, ?2, ?3)",
                rusqlite::params![d.site, d.description, d.people_total],
            )
            .expect("insert");
        })
    });

    for (name, key) in [
        ("relevo_add_request", None),
        (
            "relevo_add_request_encrypted",
            Some(relevo_store::DbKey::random()),
        ),
    ] {
        let path = dir.path().join(format!("{name}.db"));
        let mut store = match &key {
            Some(key) => Store::open(&path, key),
            None => Store::open_unencrypted(&path),
        }
        .expect("open store");
        store
            .init_identity(&IdentityDraft {
                name: "Bench".into(),
                role: "field-coordinator".into(),
                country: "GT".into(),
                org: String::new(),
            })
            .expect("init");
        store
            .open_crisis(&CrisisDraft {
                name: "Bench".into(),
                countries: vec!["GT".into()],
            })
            .expect("crisis");
        let mut m = 0u64;
        group.bench_function(name, |b| {
            b.iter(|| {
                m += 1;
                black_box(store.add_request(&draft(m)).expect("add"));
            })
        });
    }
    group.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
