//! Projections: the tables screens read, computed from the log.
//!
//! Each projection is an upsert keyed by entity id where the earliest op by
//! (clock, device) wins, so the result is the same whatever order ops were
//! applied in, and [`Store::rebuild_projections`] reproduces it exactly.

use crate::error::Result;
use crate::log::{RawOp, OP_COLUMNS};
use crate::Store;
use relevo_core::payload::Payload;
use relevo_core::Op;
use rusqlite::{params, Transaction, TransactionBehavior};

/// The projection tables, in the order they are cleared and dumped.
const TABLES: &[&str] = &["persons", "crises", "requests"];

/// Only replace an existing row when the incoming op is earlier.
const EARLIER: &str = "WHERE (excluded.hlc_wall, excluded.hlc_counter, excluded.device) \
                       < (hlc_wall, hlc_counter, device)";

pub(crate) fn project(tx: &Transaction, op: &Op, payload: &Payload) -> Result<()> {
    let b = &op.body;
    let (device, seq, wall, counter) = (
        b.device.as_bytes(),
        b.seq as i64,
        b.hlc.wall_ms as i64,
        b.hlc.counter,
    );
    match payload {
        Payload::PersonDeclare(p) => {
            tx.execute(
                &format!(
                    "INSERT INTO persons (id, name, role, country, org, demo, device, seq, hlc_wall, hlc_counter)
                     VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10)
                     ON CONFLICT (id) DO UPDATE SET name = excluded.name, role = excluded.role,
                       country = excluded.country, org = excluded.org, demo = excluded.demo,
                       device = excluded.device, seq = excluded.seq, hlc_wall = excluded.hlc_wall,
                       hlc_counter = excluded.hlc_counter {EARLIER}"
                ),
                params![p.id.as_bytes(), p.name, p.role.slug(), p.country.slug(), p.org, p.demo, device, seq, wall, counter],
            )?;
        }
        Payload::CrisisOpen(c) => {
            let countries = c
                .countries
                .iter()
                .map(|c| c.slug())
                .collect::<Vec<_>>()
                .join(",");
            tx.execute(
                &format!(
                    "INSERT INTO crises (id, name, countries, demo, opened_by, device, seq, hlc_wall, hlc_counter)
                     VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9)
                     ON CONFLICT (id) DO UPDATE SET name = excluded.name, countries = excluded.countries,
                       demo = excluded.demo, opened_by = excluded.opened_by, device = excluded.device,
                       seq = excluded.seq, hlc_wall = excluded.hlc_wall, hlc_counter = excluded.hlc_counter {EARLIER}"
                ),
                params![c.id.as_bytes(), c.name, countries, c.demo, b.author.as_bytes(), device, seq, wall, counter],
            )?;
        }
        Payload::RequestCreate(r) => {
            let q = &r.request;
            tx.execute(
                &format!(
                    "INSERT INTO requests (id, reference, crisis, country, site, sector, people_total, women, men,
                       girls, boys, priority, description, author, device, seq, hlc_wall, hlc_counter)
                     VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15, ?16, ?17, ?18)
                     ON CONFLICT (id) DO UPDATE SET reference = excluded.reference, crisis = excluded.crisis,
                       country = excluded.country, site = excluded.site, sector = excluded.sector,
                       people_total = excluded.people_total, women = excluded.women, men = excluded.men,
                       girls = excluded.girls, boys = excluded.boys, priority = excluded.priority,
                       description = excluded.description, author = excluded.author, device = excluded.device,
                       seq = excluded.seq, hlc_wall = excluded.hlc_wall, hlc_counter = excluded.hlc_counter {EARLIER}"
                ),
                params![
                    r.id.as_bytes(),
                    r.reference,
                    r.crisis.as_bytes(),
                    q.country.slug(),
                    q.site,
                    q.sector.slug(),
                    q.people.total,
                    q.people.women,
                    q.people.men,
                    q.people.girls,
                    q.people.boys,
                    q.priority.slug(),
                    q.description,
                    b.author.as_bytes(),
                    device,
                    seq,
                    wall,
                    counter
                ],
            )?;
        }
    }
    Ok(())
}

impl Store {
    /// Throws the projections away and recomputes them from the log, in one
    /// transaction. The result must equal the incrementally kept tables.
    pub fn rebuild_projections(&mut self) -> Result<()> {
        let tx = self
            .conn
            .transaction_with_behavior(TransactionBehavior::Immediate)?;
        for table in TABLES {
            tx.execute(&format!("DELETE FROM {table}"), [])?;
        }
        {
            let mut stmt = tx.prepare(&format!(
                "SELECT {OP_COLUMNS} FROM ops WHERE refused IS NULL ORDER BY hlc_wall, hlc_counter, device, seq"
            ))?;
            let mut rows = stmt.query([])?;
            while let Some(row) = rows.next()? {
                let op = RawOp::read(row)?.into_op()?;
                // Ops of kinds this version does not know are skipped, as
                // when they were first applied.
                if let Ok(Some(payload)) = Payload::decode(&op.body.kind, &op.body.payload) {
                    project(&tx, &op, &payload)?;
                }
            }
        }
        tx.commit()?;
        Ok(())
    }

    /// Every projection row as text, in a fixed order: two stores with equal
    /// dumps show people exactly the same thing.
    pub fn projection_dump(&self) -> Result<String> {
        let mut out = String::new();
        for table in TABLES {
            out.push_str(&format!("## {table}\n"));
            let mut stmt = self
                .conn
                .prepare(&format!("SELECT * FROM {table} ORDER BY id"))?;
            let columns = stmt.column_count();
            let mut rows = stmt.query([])?;
            while let Some(row) = rows.next()? {
                let cells: Vec<String> = (0..columns)
                    .map(|i| match row.get_ref(i) {
                        Ok(rusqlite::types::ValueRef::Null) => "NULL".to_owned(),
                        Ok(rusqlite::types::ValueRef::Integer(n)) => n.to_string(),
                        Ok(rusqlite::types::ValueRef::Real(f)) => f.to_string(),
                        Ok(rusqlite::types::ValueRef::Text(t)) => {
                            format!("{:?}", String::from_utf8_lossy(t))
                        }
                        Ok(rusqlite::types::ValueRef::Blob(b)) => hex::encode(b),
                        Err(e) => format!("<{e}>"),
                    })
                    .collect();
                out.push_str(&cells.join("|"));
                out.push('\n');
            }
        }
        Ok(out)
    }
}
