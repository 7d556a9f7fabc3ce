//! A store written by the previous release opens in this one with nothing
//! lost and every projection unchanged.
//!
//! `fixtures/schema-9` was written by the release whose schema was 9 (the
//! CLI: `relevo init` as a national director in Guatemala, then `relevo
//! demo`), encrypted with the passphrase below. It holds the demo crisis:
//! requests, tasks with handovers and conflicts, flow counts, alerts.

use relevo_core::domain::RequestDraft;
use relevo_core::Reference;
use relevo_store::Store;
use rusqlite::types::ValueRef;
use rusqlite::Connection;
use std::collections::BTreeMap;
use std::path::Path;

const PASSPHRASE: &str = "fixture-passphrase";

/// Every row of every table and view (SQLite's own aside), as text, each
/// one's rows sorted by all its columns: what the file holds, whatever the
/// order of its rows or the shape of its tables and indexes.
fn contents(path: &Path, key: &relevo_store::DbKey) -> (i64, BTreeMap<String, Vec<String>>) {
    let conn = Connection::open(path).expect("open");
    key.apply(&conn).expect("key");
    let version: i64 = conn
        .pragma_query_value(None, "user_version", |r| r.get(0))
        .expect("version");
    let tables: Vec<String> = conn
        .prepare("SELECT name FROM sqlite_schema WHERE type IN ('table', 'view') AND name NOT LIKE 'sqlite_%'")
        .expect("tables")
        .query_map([], |r| r.get(0))
        .expect("rows")
        .collect::<rusqlite::Result<_>>()
        .expect("names");
    let mut out = BTreeMap::new();
    for table in tables {
        let mut stmt = conn
            .prepare(&format!("SELECT * FROM {table}"))
            .expect("select");
        let columns = stmt.column_count();
        let mut rows: Vec<String> = stmt
            .query_map([], |row| {
                Ok((0..columns)
                    .map(|i| match row.get_ref(i) {
                        Ok(ValueRef::Null) => "NULL".to_owned(),
                        Ok(ValueRef::Integer(n)) => n.to_string(),
                        Ok(ValueRef::Real(f)) => f.to_string(),
                        Ok(ValueRef::Text(t)) => format!("{:?}", String::from_utf8_lossy(t)),
                        Ok(ValueRef::Blob(b)) => hex::encode(b),
                        Err(e) => format!("<{e}>"),
                    })
                    .collect::<Vec<_>>()
                    .join("|"))
            })
            .expect("rows")
            .collect::<rusqlite::Result<_>>()
            .expect("row");
        rows.sort();
        out.insert(table, rows);
    }
    (version, out)
}

#[test]
fn a_schema_9_store_opens_with_its_log_and_every_projection_unchanged() {
    let dir = tempfile::tempdir().expect("tempdir");
    let fixture = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/schema-9");
    for file in ["relevo.db", "relevo.key"] {
        std::fs::copy(fixture.join(file), dir.path().join(file)).expect("copy fixture");
    }
    let path = dir.path().join("relevo.db");
    let (key, _) =
        relevo_store::keys::unlock_with_passphrase(dir.path(), PASSPHRASE).expect("unlock");
    let (version, before) = contents(&path, &key);
    assert_eq!(version, 9, "the fixture is a schema-9 store");
    assert!(before["ops"].len() > 800, "{} ops", before["ops"].len());
    assert!(before["requests"].len() >= 40 && !before["tasks"].is_empty());
    assert!(!before["conflicts"].is_empty() && !before["flow_counts"].is_empty());

    let store = Store::open(&path, &key).expect("upgrade");
    assert!(store.verify().expect("verify").intact());
    assert_eq!(
        store.op_count().expect("count") as usize,
        before["ops"].len()
    );
    // The next request's number follows the last this device gave.
    let crisis = store.current_crisis().expect("q").expect("crisis");
    let mine = store.identity().expect("q").expect("identity").device_tag;
    let last = store
        .requests(crisis.id)
        .expect("requests")
        .iter()
        .filter(|r| r.reference.contains(&format!("-{mine}-")))
        .filter_map(|r| Reference::number(&r.reference))
        .max()
        .unwrap_or(0);
    drop(store);

    let (version, after) = contents(&path, &key);
    assert_eq!(version, relevo_store::SCHEMA_VERSION);
    // The log's rows moved to `op_rows`; `ops` shows them as before.
    // Checkpoints of the past are new, and none is made by opening.
    assert!(after["checkpoints"].is_empty());
    let mut tables: Vec<&String> = after
        .keys()
        .filter(|t| !["op_rows", "checkpoints"].contains(&t.as_str()))
        .collect();
    tables.sort();
    assert_eq!(before.keys().collect::<Vec<_>>(), tables, "the same tables");
    assert_eq!(after["op_rows"].len(), before["ops"].len());
    for (table, rows) in &before {
        // Row by row, so that a difference names its table and row.
        let gone: Vec<&String> = rows.iter().filter(|r| !after[table].contains(r)).collect();
        let new: Vec<&String> = after[table].iter().filter(|r| !rows.contains(r)).collect();
        assert!(
            gone.is_empty() && new.is_empty(),
            "{table}: rows gone {gone:#?}, rows new {new:#?}"
        );
    }
    // The big tables are kept in arrival order now (schema 10), the log's
    // devices named by their ids.
    let conn = Connection::open(&path).expect("open");
    key.apply(&conn).expect("key");
    for table in ["op_rows", "requests", "tasks", "flow_counts"] {
        let sql: String = conn
            .query_row(
                "SELECT sql FROM sqlite_schema WHERE type = 'table' AND name = ?1",
                [table],
                |r| r.get(0),
            )
            .expect("schema");
        assert!(!sql.contains("WITHOUT ROWID"), "{table}: {sql}");
    }
    let unnamed: i64 = conn
        .query_row(
            "SELECT count(*) FROM op_rows WHERE device NOT IN (SELECT id FROM devices)",
            [],
            |r| r.get(0),
        )
        .expect("ids");
    assert_eq!(unnamed, 0, "every op's device has an id");
    drop(conn);

    let mut store = Store::open(&path, &key).expect("reopen");
    let next = store
        .add_request(&RequestDraft {
            country: "GT".into(),
            site: "Tecún Umán".into(),
            sector: "wash".into(),
            people_total: Some(12.0),
            priority: "high".into(),
            description: "Agua segura".into(),
            ..Default::default()
        })
        .expect("a request after the upgrade");
    assert_eq!(Reference::number(&next.reference), Some(last + 1));
    // Found by its reference as a person types it, in any case.
    let found = store
        .request_detail(&next.reference.to_lowercase())
        .expect("found by reference");
    assert_eq!(found.request.id, next.id);
}
