//! The RustCrypto provider reads and writes the same files as SQLCipher's
//! own OpenSSL provider, in both directions, with both HMACs a store may
//! use. The test switches SQLCipher's provider for the whole process, so it
//! is the only test in this binary.

use rusqlite::Connection;

const KEY: &str =
    "PRAGMA key = \"x'2b7e151628aed2a6abf7158809cf4f3c762e7160f38b4da56a784d9045190cfe'\";";

fn open(path: &std::path::Path, hmac: &str) -> Connection {
    let conn = Connection::open(path).expect("open");
    conn.execute_batch(KEY).expect("key");
    conn.execute_batch(&format!("PRAGMA cipher_hmac_algorithm = {hmac};"))
        .expect("hmac");
    conn
}

fn provider(conn: &Connection) -> String {
    conn.query_row("PRAGMA cipher_provider", [], |r| r.get(0))
        .expect("provider")
}

/// Writes rows spread over many pages, so that a wrong byte anywhere in
/// the cipher, the HMAC or the key derivation shows.
fn write(conn: &Connection, from: i64) {
    conn.execute_batch("CREATE TABLE IF NOT EXISTS t (n INTEGER PRIMARY KEY, text TEXT)")
        .expect("table");
    let tx = conn.unchecked_transaction().expect("tx");
    for n in from..from + 2000 {
        tx.execute(
            "INSERT INTO t (n, text) VALUES (?1, ?2)",
            rusqlite::params![
                n,
                format!("fila {n}: niñas y niños en tránsito, albergue {}", n % 17)
            ],
        )
        .expect("insert");
    }
    tx.commit().expect("commit");
}

fn check(conn: &Connection, rows: i64) {
    let (count, sum): (i64, i64) = conn
        .query_row("SELECT count(*), sum(length(text)) FROM t", [], |r| {
            Ok((r.get(0)?, r.get(1)?))
        })
        .expect("read");
    assert_eq!(count, rows);
    let expected: i64 = (0..rows)
        .map(|n| {
            format!("fila {n}: niñas y niños en tránsito, albergue {}", n % 17)
                .chars()
                .count() as i64
        })
        .sum();
    assert_eq!(sum, expected);
    let problems: Vec<String> = conn
        .prepare("PRAGMA cipher_integrity_check")
        .expect("check")
        .query_map([], |r| r.get(0))
        .expect("rows")
        .collect::<Result<_, _>>()
        .expect("problems");
    assert!(problems.is_empty(), "{problems:?}");
}

#[test]
fn both_providers_read_and_write_each_others_files() {
    let dir = tempfile::tempdir().expect("tempdir");
    for hmac in ["HMAC_SHA256", "HMAC_SHA512", "HMAC_SHA1"] {
        let path = dir.path().join(format!("{hmac}.db"));

        relevo_cipher::install().expect("install");
        {
            let ours = open(&path, hmac);
            assert_eq!(provider(&ours), relevo_cipher::PROVIDER_NAME);
            write(&ours, 0);
        }

        relevo_cipher::use_openssl_for_tests().expect("openssl");
        {
            let openssl = open(&path, hmac);
            assert_eq!(provider(&openssl), "openssl");
            check(&openssl, 2000);
            write(&openssl, 2000);
        }

        relevo_cipher::install().expect("install again");
        let ours = open(&path, hmac);
        assert_eq!(provider(&ours), relevo_cipher::PROVIDER_NAME);
        check(&ours, 4000);

        // And the file is ciphertext: no row's text is in it.
        drop(ours);
        let bytes = std::fs::read(&path).expect("read file");
        assert!(!bytes.windows(8).any(|w| w == b"albergue"));
    }
    a_wrong_key_is_refused(dir.path());
}

/// A wrong key is refused by the page check (run inside the one test).
fn a_wrong_key_is_refused(dir: &std::path::Path) {
    let path = dir.join("keyed.db");
    relevo_cipher::install().expect("install");
    write(&open(&path, "HMAC_SHA256"), 0);
    let wrong = Connection::open(&path).expect("open");
    wrong
        .execute_batch(
            "PRAGMA key = \"x'0000000000000000000000000000000000000000000000000000000000000000'\";",
        )
        .expect("key");
    assert!(wrong
        .query_row("SELECT count(*) FROM sqlite_schema", [], |r| r
            .get::<_, i64>(0))
        .is_err());
}
