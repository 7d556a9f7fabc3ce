//! The corridor picture and surge detection over a year of hourly counts at
//! 60 points (525,600 counts), against a plain aggregate query over the
//! same rows, measured in the same run.
//!
//! Data set: 60 monitoring points (the 33 built-in crossings and 27 more),
//! one count an hour for 365 days, with a surge on a few days at each point.
//! The counts are written straight into the flow-count table (one
//! transaction): what is measured is the reading side — the picture a
//! director opens, the rule run at every point, the year's surge history —
//! and writing half a million signed ops first would only make the run
//! longer. `RELEVO_BENCH_SCALE=0.1` builds a tenth of the year.

use relevo_core::domain::{Corridor, Direction, FlowCount, IdentityDraft, People};
use relevo_store::Store;
use std::time::{Duration, Instant};

mod timing;
use timing::time;

const HOUR: i64 = 3_600_000;
const DAY: i64 = 24 * HOUR;
const POINTS: usize = 60;

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1000.0
}

fn main() {
    let scale: f64 = std::env::var("RELEVO_BENCH_SCALE")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(1.0);
    let hours = (365.0 * 24.0 * scale) as i64;
    let dir = tempfile::tempdir().expect("tmp");
    let path = dir.path().join("flows.db");
    let mut store = Store::open_unencrypted(&path).expect("open");
    store
        .init_identity(&IdentityDraft {
            name: "Bench".into(),
            role: "regional-director".into(),
            country: "PA".into(),
            org: "iom".into(),
        })
        .expect("init");
    let crisis = store
        .open_crisis(&relevo_core::domain::CrisisDraft {
            name: "Bench".into(),
            countries: vec!["GT".into(), "HN".into()],
        })
        .expect("crisis")
        .id;
    let mut points: Vec<(String, relevo_core::domain::Country)> = store
        .sites()
        .expect("points")
        .into_iter()
        .map(|s| (s.id, s.country))
        .collect();

    // The fixture, in one transaction on a second connection.
    let started = Instant::now();
    let end = (std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .expect("clock")
        .as_millis() as i64
        / HOUR
        - 1)
        * HOUR;
    {
        let mut conn = rusqlite::Connection::open(&path).expect("open");
        let tx = conn.transaction().expect("tx");
        let mut n = 0;
        while points.len() < POINTS {
            let id = format!("bench-point-{n}");
            tx.execute(
                "INSERT INTO sites (id, name, kind, country, pcode, lat, lon, device, seq, hlc_wall, hlc_counter, adm1)
                 VALUES (?1, ?2, 'flow-monitoring-point', 'GT', NULL, 15.0, -90.0, x'00', 0, 0, 0, NULL)",
                rusqlite::params![id, format!("Punto {n}")],
            )
            .expect("site");
            points.push((id, relevo_core::domain::Country::Gt));
            n += 1;
        }
        let mut insert = tx
            .prepare(
                "INSERT INTO flow_counts (id, reference, crisis, point, country, direction, start_ms, end_ms,
                   total, body, author, device, seq, hlc_wall, hlc_counter)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, x'00', x'00', ?11, ?8, 0)",
            )
            .expect("prepare");
        let mut rng: u64 = 0x464c_4f57;
        let mut seq = 0i64;
        for (p, (point, country)) in points.iter().enumerate() {
            let direction = if p % 2 == 0 {
                Direction::Entering
            } else {
                Direction::Leaving
            };
            for h in 0..hours {
                rng ^= rng << 13;
                rng ^= rng >> 7;
                rng ^= rng << 17;
                let at = end - (hours - 1 - h) * HOUR;
                // About 5 to 15 an hour; every 40th day, three times that.
                let surge = (at / DAY + p as i64) % 40 == 0;
                let total = (5 + rng % 11) as u32 * if surge { 3 } else { 1 };
                let count = FlowCount {
                    point: point.clone(),
                    country: *country,
                    start_ms: at - HOUR,
                    end_ms: at,
                    direction,
                    from_country: None,
                    to_country: None,
                    people: People {
                        total,
                        women: Some(total / 4),
                        men: Some(total / 2),
                        girls: None,
                        boys: None,
                        under5: None,
                        age5_17: None,
                        age18_59: None,
                        age60_plus: None,
                    },
                    nationalities: vec![],
                    vulnerable: vec![],
                    destination: None,
                    transport: None,
                    remarks: None,
                };
                seq += 1;
                let mut id = [0u8; 16];
                id[..8].copy_from_slice(&seq.to_be_bytes());
                insert
                    .execute(rusqlite::params![
                        id.to_vec(),
                        format!("FLW-BENCH-{seq}"),
                        crisis.as_bytes().to_vec(),
                        point,
                        country.slug(),
                        direction.slug(),
                        at - HOUR,
                        at,
                        total,
                        serde_json::to_string(&count).expect("json"),
                        seq,
                    ])
                    .expect("insert");
            }
        }
        drop(insert);
        tx.commit().expect("commit");
        conn.execute_batch("PRAGMA optimize; ANALYZE;")
            .expect("analyze");
    }
    let rows = POINTS as i64 * hours;
    println!(
        "  (fixture: {rows} counts at {POINTS} points, {} days, in {:.1} s)",
        hours / 24,
        started.elapsed().as_secs_f64()
    );
    let store = Store::open_unencrypted(&path).expect("reopen");
    let corridor: Corridor = store.corridor().expect("corridor");
    let conn = rusqlite::Connection::open(&path).expect("open");

    // The baseline: a plain aggregate over the same rows.
    let plain = |sql: &str, arg: i64| {
        let mut stmt = conn.prepare_cached(sql).expect("prepare");
        let mut rows = stmt
            .query(rusqlite::params![crisis.as_bytes().to_vec(), arg])
            .expect("query");
        let mut n = 0i64;
        while let Some(r) = rows.next().expect("row") {
            n += r.get::<_, i64>(2).expect("sum");
        }
        n
    };
    let year_sql = "SELECT point, direction, sum(total) FROM flow_counts
                    WHERE crisis = ?1 AND end_ms > ?2 GROUP BY point, direction";
    let base_year = time(7, || plain(year_sql, 0));
    let base_week = time(21, || plain(year_sql, end - 8 * DAY));

    let picture = time(21, || {
        store.corridor_picture(crisis, end as u64).expect("picture")
    });
    let surge_now = time(21, || {
        points
            .iter()
            .enumerate()
            .filter_map(|(p, (point, _))| {
                let direction = if p % 2 == 0 {
                    Direction::Entering
                } else {
                    Direction::Leaving
                };
                store
                    .surge_at(crisis, point, direction, end, &corridor)
                    .expect("surge")
            })
            .count()
    });
    let history = time(7, || {
        store
            .surge_history(crisis, &corridor)
            .expect("history")
            .len()
    });
    let surges = store.surge_history(crisis, &corridor).expect("history");
    // Every 40th day is tripled at each point: about 9 a year each.
    let per_point = surges.len() as f64 / POINTS as f64;
    let expected = hours as f64 / 24.0 / 40.0;
    assert!(
        (per_point - expected).abs() <= 1.5,
        "{per_point} surge days a point, expected about {expected}"
    );

    println!(
        "plain aggregate, all {rows} counts by point: {:.1} ms | over the last 8 days: {:.2} ms",
        ms(base_year),
        ms(base_week)
    );
    println!(
        "corridor picture now (last 8 days, {} points, {} legs): {:.2} ms | ratio to the 8-day aggregate {:.2}×",
        store.corridor_picture(crisis, end as u64).expect("p").points.len(),
        corridor.segments.len(),
        ms(picture),
        ms(picture) / ms(base_week)
    );
    println!(
        "surge rule now at all {POINTS} points: {:.2} ms | ratio to the 8-day aggregate {:.2}×",
        ms(surge_now),
        ms(surge_now) / ms(base_week)
    );
    println!(
        "surge history over the whole year ({} surge days found): {:.1} ms | ratio to the full aggregate {:.2}×",
        surges.len(),
        ms(history),
        ms(history) / ms(base_year)
    );
}
