//! Logging one request end to end (validate, sign, append, project, durable
//! commit) against the floor: a raw rusqlite single-row insert and commit
//! with the same pragmas (WAL, synchronous=FULL) on the same disk.
//!
//! Both run in the same process on files in the same folder, so the ratio
//! between them is what matters, not either absolute figure. Relevo's store
//! is measured plaintext and encrypted (SQLCipher): the encrypted one is
//! what devices run; the ratio between the two is encryption's cost.

use criterion::{criterion_group, Criterion};
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

/// A store ready to log requests: plaintext, or encrypted with `key`.
fn bench_store(path: &std::path::Path, key: Option<&relevo_store::DbKey>) -> Store {
    let mut store = match key {
        Some(key) => Store::open(path, key),
        None => Store::open_unencrypted(path),
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
    store
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
        let mut store = bench_store(&dir.path().join(format!("{name}.db")), key.as_ref());
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

/// Encryption's cost, paired: the plaintext and the encrypted store log
/// requests in alternating rounds of 100 (the order swapped every round),
/// so that whatever else the machine does falls on both; the median of the
/// rounds' ratios is the figure. A durable commit's time varies with the
/// disk, so the rounds are many.
fn paired() {
    const ROUNDS: usize = 101;
    let base = std::path::Path::new(env!("CARGO_TARGET_TMPDIR"));
    let dir = tempfile::tempdir_in(base).expect("tempdir");
    let mut stores = [
        bench_store(&dir.path().join("paired-plain.db"), None),
        bench_store(
            &dir.path().join("paired-encrypted.db"),
            Some(&relevo_store::DbKey::random()),
        ),
    ];
    let mut n = 0u64;
    let mut round = |store: &mut Store| {
        let started = std::time::Instant::now();
        for _ in 0..100 {
            n += 1;
            black_box(store.add_request(&draft(n)).expect("add"));
        }
        started.elapsed().as_secs_f64() * 1e6 / 100.0
    };
    // Warm both up, to a crisis's size: a thousand requests each, so that
    // the trees are as deep as a shelter's first weeks make them.
    for s in &mut stores {
        for _ in 0..10 {
            round(s);
        }
    }
    let mut ratios = Vec::new();
    let (mut plain, mut encrypted) = (Vec::new(), Vec::new());
    for r in 0..ROUNDS {
        let order = if r % 2 == 0 { [0, 1] } else { [1, 0] };
        let mut took = [0.0; 2];
        for i in order {
            took[i] = round(&mut stores[i]);
        }
        plain.push(took[0]);
        encrypted.push(took[1]);
        ratios.push(took[1] / took[0]);
    }
    let median = |v: &mut Vec<f64>| {
        v.sort_by(f64::total_cmp);
        v[v.len() / 2]
    };
    println!(
        "log one request, paired over {ROUNDS} rounds of 100 (after 1,000 each): encrypted/plaintext time {:.3}× (median; rounds {:.2}×–{:.2}×), median {:.0} vs {:.0} µs",
        median(&mut ratios),
        ratios[0],
        ratios[ratios.len() - 1],
        median(&mut encrypted),
        median(&mut plain)
    );
}

/// Time to the first query: opening a folder kept behind a passphrase
/// (Argon2id, then SQLCipher) and a plaintext store, ten times each in
/// turns; medians.
fn open_times() {
    let base = std::path::Path::new(env!("CARGO_TARGET_TMPDIR"));
    let dir = tempfile::tempdir_in(base).expect("tempdir");
    let folder = dir.path().join("locked");
    let plain = dir.path().join("plain.db");
    let passphrase = "frase de prueba del puesto";
    {
        let (key, _) =
            relevo_store::keys::unlock_with_passphrase(&folder, passphrase).expect("unlock");
        let mut store = Store::open_dir(&folder, &key).expect("open");
        let mut plain_store = Store::open_unencrypted(&plain).expect("open");
        for s in [&mut store, &mut plain_store] {
            s.load_demo().expect("demo");
        }
    }
    let time = |f: &mut dyn FnMut()| {
        let started = std::time::Instant::now();
        f();
        started.elapsed().as_secs_f64() * 1e3
    };
    let (mut locked, mut open) = (Vec::new(), Vec::new());
    for _ in 0..10 {
        locked.push(time(&mut || {
            let (key, _) =
                relevo_store::keys::unlock_with_passphrase(&folder, passphrase).expect("unlock");
            let store = Store::open_dir(&folder, &key).expect("open");
            black_box(store.snapshot().expect("first query"));
        }));
        open.push(time(&mut || {
            let store = Store::open_unencrypted(&plain).expect("open");
            black_box(store.snapshot().expect("first query"));
        }));
    }
    locked.sort_by(f64::total_cmp);
    open.sort_by(f64::total_cmp);
    println!(
        "open to first query (demo crisis): passphrase (Argon2id + SQLCipher) {:.1} ms, plaintext {:.1} ms (medians of 10)",
        locked[5], open[5]
    );
}

criterion_group!(benches, bench);

fn main() {
    open_times();
    paired();
    benches();
    Criterion::default().configure_from_args().final_summary();
}
