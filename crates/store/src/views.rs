//! What the coordination screens read: the task board, a record's detail
//! and timeline, who holds what, the open conflicts and the roster.

use crate::coord::heads;
use crate::error::Result;
use crate::log::{damaged, device_id, entity_id};
use crate::queries::parse_slug;
use crate::{RequestView, Store};
use relevo_core::domain::roster::{builtin_sites, Site};
use relevo_core::domain::{
    Country, Holder, Priority, RequestStatus, Role, Sector, TaskScope, TaskStatus, TaskStep,
};
use relevo_core::permissions::{self, Action, Actor, Scope};
use relevo_core::{EntityId, OpRef};
use rusqlite::types::Value as Sql;
use serde::{Deserialize, Serialize};
use specta::Type;
use std::collections::HashMap;

/// A holder with the names people read.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, Type)]
pub struct HolderView {
    pub person: Option<EntityId>,
    pub person_name: Option<String>,
    pub org: Option<String>,
    pub org_name: Option<String>,
}

/// A task as the board shows it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, Type)]
pub struct TaskView {
    pub id: EntityId,
    pub reference: String,
    pub crisis: EntityId,
    pub title: String,
    pub description: Option<String>,
    pub scope: TaskScope,
    pub sector: Sector,
    pub priority: Priority,
    pub due_ms: Option<i64>,
    pub status: TaskStatus,
    pub holder: Option<HolderView>,
    /// Past its due date and not finished.
    pub overdue: bool,
    /// Fields with competing values.
    pub conflicts: u32,
    /// Requests it answers.
    pub requests: u32,
    pub author_name: Option<String>,
    pub created_at_ms: u64,
    /// The hub is known to hold the op that created it.
    pub on_hub: bool,
}

/// Board filters; every one is optional.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize, Type)]
#[serde(default)]
pub struct TaskFilter {
    /// Tasks of one country (national tasks of it).
    pub country: Option<Country>,
    /// `national` or `regional`.
    pub scope: Option<String>,
    pub sector: Option<Sector>,
    pub priority: Option<Priority>,
    pub status: Option<TaskStatus>,
    /// Held by this person id.
    pub person: Option<EntityId>,
    /// Held by this organisation id.
    pub org: Option<String>,
    pub overdue: bool,
    /// Only tasks with a conflict.
    pub conflicted: bool,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, Type)]
pub struct BoardColumn {
    pub status: TaskStatus,
    /// All tasks in this column that match the filters.
    pub count: u32,
    /// The first of them, most urgent first.
    pub tasks: Vec<TaskView>,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, Type)]
pub struct Board {
    pub columns: Vec<BoardColumn>,
}

/// Request list filters.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize, Type)]
#[serde(default)]
pub struct RequestFilter {
    pub status: Option<RequestStatus>,
    pub country: Option<Country>,
    pub sector: Option<Sector>,
    pub priority: Option<Priority>,
    /// Words in the site or description.
    pub text: Option<String>,
    pub conflicted: bool,
}

/// One field's value at one moment, as a timeline shows it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, Type)]
pub struct FieldChange {
    pub field: String,
    /// JSON text of the value.
    pub value: String,
}

/// One thing that happened to a record.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, Type)]
pub struct TimelineEntry {
    /// The op, `<device>/<seq>`.
    pub op: String,
    /// The op kind: `task.handover`, `note.add`...
    pub kind: String,
    pub at_ms: u64,
    pub author_name: Option<String>,
    pub device_tag: String,
    pub changes: Vec<FieldChange>,
    pub text: Option<String>,
    pub significant: bool,
}

/// One competing value of a field in conflict.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, Type)]
pub struct ConflictValue {
    /// The op that wrote it, `<device>/<seq>`: what a resolution names.
    pub op: String,
    /// JSON text of the value.
    pub value: String,
    /// The holder's names, when the field is a holder.
    pub holder: Option<HolderView>,
    pub author_name: Option<String>,
    pub device_tag: String,
    pub at_ms: u64,
    /// The provisional winner shown until someone resolves it.
    pub provisional: bool,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, Type)]
pub struct ConflictView {
    pub record: EntityId,
    pub reference: String,
    /// What people call the record besides its reference: a task's title,
    /// a request's site, a crisis's name.
    pub label: String,
    /// `request`, `task` or `crisis`.
    pub kind: String,
    pub field: String,
    pub values: Vec<ConflictValue>,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, Type)]
pub struct FulfilmentView {
    pub item: Option<u32>,
    pub what: String,
    pub quantity: f64,
    pub unit: String,
    pub by: Option<String>,
    pub author_name: Option<String>,
    pub at_ms: u64,
}

impl Eq for FulfilmentView {}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, Type)]
pub struct RequestDetail {
    pub request: RequestView,
    pub fulfilments: Vec<FulfilmentView>,
    pub tasks: Vec<TaskView>,
    pub timeline: Vec<TimelineEntry>,
    pub conflicts: Vec<ConflictView>,
    /// What this device's person may do to it now.
    pub allowed: Vec<String>,
}

/// One holder in a task's history.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, Type)]
pub struct HolderChange {
    pub holder: Option<HolderView>,
    pub kind: String,
    pub by_name: Option<String>,
    pub at_ms: u64,
    pub note: Option<String>,
    /// A competing value that lost (or has not yet won) a conflict.
    pub contested: bool,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, Type)]
pub struct TaskDetail {
    pub task: TaskView,
    pub requests: Vec<RequestView>,
    pub holders: Vec<HolderChange>,
    pub timeline: Vec<TimelineEntry>,
    pub conflicts: Vec<ConflictView>,
    /// What this device's person may do to it now: `assign`, `accept`,
    /// `handover`, `start`, `block`, `done`, `cancel`, `escalate`, `link`,
    /// `note`, `resolve`.
    pub allowed: Vec<String>,
}

/// Tasks grouped by who holds them.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, Type)]
pub struct Holding {
    pub holder: HolderView,
    pub tasks: Vec<TaskView>,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, Type)]
pub struct PersonView {
    pub id: EntityId,
    pub name: String,
    pub role: Role,
    pub country: Country,
    pub org: Option<String>,
    /// Uses a device (declared themselves) rather than added by an administrator.
    pub declared: bool,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, Type)]
pub struct Roster {
    pub people: Vec<PersonView>,
    pub orgs: Vec<relevo_core::domain::Org>,
    pub sites: Vec<Site>,
}

/// Tasks shown per board column.
pub const BOARD_COLUMN_LIMIT: u32 = 100;

const TASK_COLUMNS: &str =
    "t.id, t.reference, t.crisis, t.title, t.description, t.scope, t.sector, t.priority, t.due,
    t.status, t.holder_person, hp.name, t.holder_org, t.conflicts,
    (SELECT count(*) FROM task_links l WHERE l.task = t.id), a.name, t.hlc_wall, t.device, t.seq";

const TASK_FROM: &str =
    "tasks t LEFT JOIN persons hp ON hp.id = t.holder_person LEFT JOIN persons a ON a.id = t.author";

/// A WHERE clause built from optional filters, numbering its parameters.
struct Where {
    clauses: Vec<String>,
    args: Vec<Sql>,
}

impl Where {
    fn new(clause: &str, v: Sql) -> Where {
        Where {
            clauses: vec![clause.replace('?', "?1")],
            args: vec![v],
        }
    }

    /// Adds a clause; every `?` in it is the one new parameter.
    fn add(&mut self, clause: &str, v: Sql) {
        self.args.push(v);
        self.clauses
            .push(clause.replace('?', &format!("?{}", self.args.len())));
    }

    fn raw(&mut self, clause: &str) {
        self.clauses.push(clause.to_owned());
    }

    fn finish(self) -> (String, Vec<Sql>) {
        (self.clauses.join(" AND "), self.args)
    }
}

/// Names for the ids a screen shows.
struct Names {
    people: HashMap<EntityId, String>,
    orgs: HashMap<String, String>,
}

impl Names {
    fn person(&self, id: &[u8]) -> Result<Option<String>> {
        Ok(self.people.get(&entity_id(id)?).cloned())
    }
}

impl Store {
    fn org_names(&self) -> Result<HashMap<String, String>> {
        Ok(self.orgs()?.into_iter().map(|o| (o.id, o.name)).collect())
    }

    /// People's and organisations' names, read once per screen.
    fn names(&self) -> Result<Names> {
        let mut stmt = self.conn.prepare_cached("SELECT id, name FROM persons")?;
        let rows = stmt.query_map([], |r| {
            Ok((r.get::<_, Vec<u8>>(0)?, r.get::<_, String>(1)?))
        })?;
        let mut out = HashMap::new();
        for row in rows {
            let (id, name) = row?;
            out.insert(entity_id(&id)?, name);
        }
        Ok(Names {
            people: out,
            orgs: self.org_names()?,
        })
    }

    fn task_rows(
        &self,
        filter: &str,
        args: Vec<Sql>,
        order: &str,
        limit: u32,
    ) -> Result<Vec<TaskView>> {
        self.task_rows_named(&self.org_names()?, filter, args, order, limit)
    }

    fn task_rows_named(
        &self,
        orgs: &HashMap<String, String>,
        filter: &str,
        args: Vec<Sql>,
        order: &str,
        limit: u32,
    ) -> Result<Vec<TaskView>> {
        let now = self.view_now() as i64;
        let on_hub = self.on_hub_test()?;
        let sql = format!(
            "SELECT {TASK_COLUMNS} FROM {TASK_FROM} WHERE {filter} ORDER BY {order} LIMIT {limit}"
        );
        let mut stmt = self.conn.prepare_cached(&sql)?;
        let mut rows = stmt.query(rusqlite::params_from_iter(args))?;
        let mut out = Vec::new();
        while let Some(r) = rows.next()? {
            let scope: String = r.get(5)?;
            let scope = if scope == "regional" {
                TaskScope::Regional
            } else {
                TaskScope::National(parse_slug(&scope, Country::parse)?)
            };
            let status = parse_slug(&r.get::<_, String>(9)?, TaskStatus::parse)?;
            let due: Option<i64> = r.get(8)?;
            let person = r
                .get::<_, Option<Vec<u8>>>(10)?
                .map(|p| entity_id(&p))
                .transpose()?;
            let org: Option<String> = r.get(12)?;
            let holder = (person.is_some() || org.is_some()).then(|| HolderView {
                person,
                person_name: r.get(11).ok().flatten(),
                org_name: org.as_ref().and_then(|o| orgs.get(o).cloned()),
                org,
            });
            out.push(TaskView {
                id: entity_id(&r.get::<_, Vec<u8>>(0)?)?,
                reference: r.get(1)?,
                crisis: entity_id(&r.get::<_, Vec<u8>>(2)?)?,
                title: r.get(3)?,
                description: r.get(4)?,
                scope,
                sector: parse_slug(&r.get::<_, String>(6)?, Sector::parse)?,
                priority: parse_slug(&r.get::<_, String>(7)?, Priority::parse)?,
                due_ms: due,
                overdue: due.is_some_and(|d| d < now) && !status.is_final(),
                status,
                holder,
                conflicts: r.get(13)?,
                requests: r.get(14)?,
                author_name: r.get(15)?,
                created_at_ms: r.get::<_, i64>(16)? as u64,
                on_hub: on_hub(&r.get::<_, Vec<u8>>(17)?, r.get(18)?)?,
            });
        }
        Ok(out)
    }

    /// The WHERE clause and arguments for a board filter.
    fn task_where(&self, crisis: EntityId, f: &TaskFilter) -> (String, Vec<Sql>) {
        let mut w = Where::new("t.crisis = ?", crisis.as_bytes().to_vec().into());
        if let Some(c) = f.country {
            w.add("t.scope = ?", c.slug().to_owned().into());
        }
        match f.scope.as_deref() {
            Some("regional") => w.raw("t.scope = 'regional'"),
            Some("national") => w.raw("t.scope <> 'regional'"),
            _ => {}
        }
        if let Some(s) = f.sector {
            w.add("t.sector = ?", s.slug().to_owned().into());
        }
        if let Some(p) = f.priority {
            w.add("t.priority = ?", p.slug().to_owned().into());
        }
        if let Some(s) = f.status {
            w.add("t.status = ?", s.slug().to_owned().into());
        }
        if let Some(p) = f.person {
            w.add("t.holder_person = ?", p.as_bytes().to_vec().into());
        }
        if let Some(o) = &f.org {
            w.add("t.holder_org = ?", o.clone().into());
        }
        if f.overdue {
            w.add(
                "t.due < ? AND t.status NOT IN ('done', 'cancelled')",
                Sql::Integer(self.view_now() as i64),
            );
        }
        if f.conflicted {
            w.raw("t.conflicts > 0");
        }
        w.finish()
    }

    /// The task board of a crisis: one column per status, each with its
    /// count and its most urgent tasks.
    pub fn board(&self, crisis: EntityId, filter: &TaskFilter) -> Result<Board> {
        let (clause, args) = self.task_where(crisis, filter);
        let mut counts: HashMap<String, u32> = HashMap::new();
        {
            let sql =
                format!("SELECT t.status, count(*) FROM tasks t WHERE {clause} GROUP BY t.status");
            let mut stmt = self.conn.prepare_cached(&sql)?;
            let rows = stmt.query_map(rusqlite::params_from_iter(args.iter()), |r| {
                Ok((r.get::<_, String>(0)?, r.get::<_, u32>(1)?))
            })?;
            for row in rows {
                let (s, n) = row?;
                counts.insert(s, n);
            }
        }
        let orgs = self.org_names()?;
        let mut columns = Vec::new();
        for &status in TaskStatus::ALL {
            let count = counts.get(status.slug()).copied().unwrap_or(0);
            let tasks = if count == 0 || filter.status.is_some_and(|s| s != status) {
                Vec::new()
            } else {
                let mut args = args.clone();
                args.push(status.slug().to_owned().into());
                self.task_rows_named(
                    &orgs,
                    &format!("{clause} AND t.status = ?{}", args.len()),
                    args,
                    "CASE t.priority WHEN 'critical' THEN 0 WHEN 'high' THEN 1 WHEN 'medium' THEN 2 ELSE 3 END,
                     t.due IS NULL, t.due, t.hlc_wall DESC",
                    BOARD_COLUMN_LIMIT,
                )?
            };
            columns.push(BoardColumn {
                status,
                count,
                tasks,
            });
        }
        Ok(Board { columns })
    }

    /// Every task of a crisis, oldest first.
    pub fn tasks(&self, crisis: EntityId) -> Result<Vec<TaskView>> {
        self.task_rows(
            "t.crisis = ?1",
            vec![crisis.as_bytes().to_vec().into()],
            "t.hlc_wall, t.device, t.seq",
            u32::MAX,
        )
    }

    pub fn task(&self, id: EntityId) -> Result<Option<TaskView>> {
        Ok(self
            .task_rows("t.id = ?1", vec![id.as_bytes().to_vec().into()], "t.id", 1)?
            .pop())
    }

    /// Requests of a crisis that match a filter, newest first.
    pub fn find_requests(
        &self,
        crisis: EntityId,
        f: &RequestFilter,
        limit: u32,
    ) -> Result<Vec<RequestView>> {
        let mut w = Where::new("r.crisis = ?", crisis.as_bytes().to_vec().into());
        if let Some(s) = f.status {
            w.add("r.status = ?", s.slug().to_owned().into());
        }
        if let Some(c) = f.country {
            w.add("r.country = ?", c.slug().to_owned().into());
        }
        if let Some(s) = f.sector {
            w.add("r.sector = ?", s.slug().to_owned().into());
        }
        if let Some(p) = f.priority {
            w.add("r.priority = ?", p.slug().to_owned().into());
        }
        if let Some(t) = f.text.as_deref().map(str::trim).filter(|t| !t.is_empty()) {
            // The text is matched as typed: `%`, `_` and `\` are not
            // wildcards.
            let escaped = t
                .replace('\\', "\\\\")
                .replace('%', "\\%")
                .replace('_', "\\_");
            let pattern = format!("%{escaped}%");
            w.add(
                "(r.site LIKE ? ESCAPE '\\' OR r.description LIKE ? ESCAPE '\\' OR r.reference LIKE ? ESCAPE '\\')",
                pattern.into(),
            );
        }
        if f.conflicted {
            w.raw("r.conflicts > 0");
        }
        let (clause, args) = w.finish();
        self.request_rows(&clause, &args, limit)
    }

    fn record_timeline(&self, names: &Names, id: EntityId) -> Result<Vec<TimelineEntry>> {
        let mut entries: Vec<(i64, u32, Vec<u8>, TimelineEntry)> = Vec::new();
        {
            let mut stmt = self.conn.prepare_cached(
                "SELECT device, seq, hlc_wall, hlc_counter, author, kind, text, field, value FROM registers
                 WHERE entity = ?1 ORDER BY hlc_wall, hlc_counter, device, seq, field",
            )?;
            let mut rows = stmt.query([id.as_bytes()])?;
            while let Some(r) = rows.next()? {
                let device: Vec<u8> = r.get(0)?;
                let seq: i64 = r.get(1)?;
                let kind: String = r.get(5)?;
                let field: String = r.get(7)?;
                let value: String = r.get(8)?;
                let same = entries
                    .last()
                    .is_some_and(|(_, _, d, e)| *d == device && e.op.ends_with(&format!("/{seq}")));
                if !same {
                    let d = device_id(&device)?;
                    entries.push((
                        r.get(2)?,
                        r.get(3)?,
                        device.clone(),
                        TimelineEntry {
                            op: OpRef {
                                device: d,
                                seq: seq as u64,
                            }
                            .to_string(),
                            author_name: names.person(&r.get::<_, Vec<u8>>(4)?)?,
                            device_tag: d.tag(),
                            at_ms: r.get::<_, i64>(2)? as u64,
                            changes: Vec::new(),
                            text: r.get(6)?,
                            significant: false,
                            kind: kind.clone(),
                        },
                    ));
                }
                // A create op's every field is its first value: the
                // timeline says "created" once instead of listing them.
                if !kind.ends_with(".create") && !kind.ends_with(".open") {
                    entries
                        .last_mut()
                        .expect("pushed above")
                        .3
                        .changes
                        .push(FieldChange { field, value });
                }
            }
        }
        // The create op, whose values are not stored per field.
        if let Some(record) = crate::project::record(&self.conn, id)? {
            let d = device_id(&record.device)?;
            let op = OpRef {
                device: d,
                seq: record.seq as u64,
            }
            .to_string();
            if !entries.iter().any(|e| e.3.op == op) {
                if let Some((_, w)) = crate::project::create_writes(&self.conn, id, &record)?
                    .into_iter()
                    .next()
                {
                    entries.push((
                        w.wall,
                        w.counter,
                        w.device.clone(),
                        TimelineEntry {
                            op,
                            author_name: names.person(&w.author)?,
                            device_tag: d.tag(),
                            at_ms: w.wall as u64,
                            changes: Vec::new(),
                            text: None,
                            significant: false,
                            kind: w.kind,
                        },
                    ));
                }
            }
        }
        {
            let mut stmt = self.conn.prepare_cached(
                "SELECT device, seq, hlc_wall, hlc_counter, author, text, significant FROM notes WHERE entity = ?1",
            )?;
            let mut rows = stmt.query([id.as_bytes()])?;
            while let Some(r) = rows.next()? {
                let device: Vec<u8> = r.get(0)?;
                let d = device_id(&device)?;
                entries.push((
                    r.get(2)?,
                    r.get(3)?,
                    device,
                    TimelineEntry {
                        op: OpRef {
                            device: d,
                            seq: r.get::<_, i64>(1)? as u64,
                        }
                        .to_string(),
                        kind: "note.add".into(),
                        at_ms: r.get::<_, i64>(2)? as u64,
                        author_name: names.person(&r.get::<_, Vec<u8>>(4)?)?,
                        device_tag: d.tag(),
                        changes: Vec::new(),
                        text: r.get(5)?,
                        significant: r.get(6)?,
                    },
                ));
            }
        }
        {
            let mut stmt = self.conn.prepare_cached(
                "SELECT device, seq, hlc_wall, hlc_counter, author, what, quantity, unit FROM fulfilments WHERE request = ?1",
            )?;
            let mut rows = stmt.query([id.as_bytes()])?;
            while let Some(r) = rows.next()? {
                let device: Vec<u8> = r.get(0)?;
                let d = device_id(&device)?;
                let op = OpRef {
                    device: d,
                    seq: r.get::<_, i64>(1)? as u64,
                }
                .to_string();
                let text = format!(
                    "{} {} {}",
                    r.get::<_, f64>(6)?,
                    r.get::<_, String>(7)?,
                    r.get::<_, String>(5)?
                );
                // A fulfilment that also moved the status is one entry.
                if let Some(e) = entries.iter_mut().find(|e| e.3.op == op) {
                    e.3.text = Some(text);
                    continue;
                }
                entries.push((
                    r.get(2)?,
                    r.get(3)?,
                    device,
                    TimelineEntry {
                        op,
                        kind: "request.fulfil".into(),
                        at_ms: r.get::<_, i64>(2)? as u64,
                        author_name: names.person(&r.get::<_, Vec<u8>>(4)?)?,
                        device_tag: d.tag(),
                        changes: Vec::new(),
                        text: Some(text),
                        significant: false,
                    },
                ));
            }
        }
        entries.sort_by(|a, b| (a.0, a.1, &a.2).cmp(&(b.0, b.1, &b.2)));
        Ok(entries.into_iter().map(|e| e.3).collect())
    }

    /// Competing values of every field in conflict on a record (or, with
    /// `None`, in a crisis).
    pub fn conflicts(
        &self,
        crisis: Option<EntityId>,
        record: Option<EntityId>,
    ) -> Result<Vec<ConflictView>> {
        self.conflicts_named(&self.names()?, crisis, record)
    }

    fn conflicts_named(
        &self,
        names: &Names,
        crisis: Option<EntityId>,
        record: Option<EntityId>,
    ) -> Result<Vec<ConflictView>> {
        let mut list: Vec<(Vec<u8>, String, String)> = Vec::new();
        {
            let mut stmt = self.conn.prepare_cached(
                "SELECT entity, field, kind FROM conflicts
                 WHERE (?1 IS NULL OR crisis = ?1 OR entity = ?1) AND (?2 IS NULL OR entity = ?2)
                 ORDER BY entity, field",
            )?;
            let rows = stmt.query_map(
                rusqlite::params![
                    crisis.map(|c| c.as_bytes().to_vec()),
                    record.map(|r| r.as_bytes().to_vec())
                ],
                |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)),
            )?;
            for row in rows {
                list.push(row?);
            }
        }
        let mut out = Vec::new();
        for (entity, field, kind) in list {
            let id = entity_id(&entity)?;
            let (reference, label): (String, String) = self
                .conn
                .query_row(
                    "SELECT reference, site FROM requests WHERE id = ?1
                     UNION ALL SELECT reference, title FROM tasks WHERE id = ?1
                     UNION ALL SELECT name, name FROM crises WHERE id = ?1",
                    [&entity],
                    |r| Ok((r.get(0)?, r.get(1)?)),
                )
                .unwrap_or_else(|_| (id.to_string(), String::new()));
            let mut values = Vec::new();
            for (i, write) in crate::project::head_writes(&self.conn, id, &field)?
                .into_iter()
                .enumerate()
            {
                let head = write.op()?;
                let (value, author, wall) = (write.value, write.author, write.wall);
                let holder = (field == "holder")
                    .then(|| {
                        serde_json::from_str::<Option<Holder>>(&value)
                            .ok()
                            .flatten()
                    })
                    .flatten()
                    .map(|h| holder_view(h, names));
                values.push(ConflictValue {
                    op: head.to_string(),
                    value,
                    holder,
                    author_name: names.person(&author)?,
                    device_tag: head.device.tag(),
                    at_ms: wall as u64,
                    provisional: i == 0,
                });
            }
            out.push(ConflictView {
                record: id,
                reference,
                label,
                kind,
                field,
                values,
            });
        }
        Ok(out)
    }

    /// A request with its deliveries, tasks, timeline and conflicts.
    pub fn request_detail(&self, reference: &str) -> Result<RequestDetail> {
        let found = self.find_request(reference)?;
        let request = self
            .request(found.id)?
            .ok_or_else(|| damaged("a request found by reference is missing"))?;
        let names = self.names()?;
        let mut fulfilments = Vec::new();
        {
            let mut stmt = self.conn.prepare_cached(
                "SELECT item, what, quantity, unit, by_org, author, hlc_wall FROM fulfilments WHERE request = ?1
                 ORDER BY hlc_wall, hlc_counter, device",
            )?;
            let mut rows = stmt.query([found.id.as_bytes()])?;
            while let Some(r) = rows.next()? {
                fulfilments.push(FulfilmentView {
                    item: r.get(0)?,
                    what: r.get(1)?,
                    quantity: r.get(2)?,
                    unit: r.get(3)?,
                    by: r.get(4)?,
                    author_name: names.person(&r.get::<_, Vec<u8>>(5)?)?,
                    at_ms: r.get::<_, i64>(6)? as u64,
                });
            }
        }
        let tasks = self.task_rows_named(
            &names.orgs,
            "t.id IN (SELECT task FROM task_links WHERE request = ?1)",
            vec![found.id.as_bytes().to_vec().into()],
            "t.hlc_wall",
            1000,
        )?;
        let allowed = self.request_actions(&request)?;
        Ok(RequestDetail {
            timeline: self.record_timeline(&names, found.id)?,
            conflicts: self.conflicts_named(&names, None, Some(found.id))?,
            request,
            fulfilments,
            tasks,
            allowed,
        })
    }

    fn actor(&self) -> Result<Option<(EntityId, Actor)>> {
        Ok(self.identity()?.map(|me| {
            (
                me.person_id,
                Actor {
                    role: me.role,
                    country: me.country,
                },
            )
        }))
    }

    /// The actions the UI offers on a request: what the rules would allow.
    fn request_actions(&self, r: &RequestView) -> Result<Vec<String>> {
        let Some((_, actor)) = self.actor()? else {
            return Ok(Vec::new());
        };
        let scope = Scope::National(r.country);
        let may = |a| permissions::check(actor, a, scope, false).is_ok();
        let mut out = Vec::new();
        let in_conflict = r.conflicts > 0;
        if may(Action::UpdateRequest) {
            out.push("edit".to_owned());
            if !r.status.is_final() {
                out.push("fulfil".into());
            }
        }
        for s in RequestStatus::ALL {
            let action = if s.is_triage() {
                Action::TriageRequest
            } else {
                Action::UpdateRequest
            };
            if r.status.can_move_to(*s) && may(action) {
                out.push(format!("status:{}", s.slug()));
            }
        }
        if may(Action::AddNote) {
            out.push("note".into());
        }
        if may(Action::CreateTask) {
            out.push("task".into());
        }
        if in_conflict && may(Action::ResolveConflict) {
            out.push("resolve".into());
        }
        Ok(out)
    }

    /// A task with its requests, holder history, timeline and conflicts.
    pub fn task_detail(&self, reference: &str) -> Result<TaskDetail> {
        let found = self.find_task(reference)?;
        let task = self
            .task(found.id)?
            .ok_or_else(|| damaged("a task found by reference is missing"))?;
        let requests = self.request_rows(
            "r.id IN (SELECT request FROM task_links WHERE task = ?1)",
            &[found.id.as_bytes().to_vec().into()],
            1000,
        )?;
        let names = self.names()?;
        let current: Vec<OpRef> = heads(&self.conn, found.id, "holder")?;
        let mut holders = Vec::new();
        for (write, superseded) in crate::project::field_writes(&self.conn, found.id, "holder")? {
            let holder: Option<Holder> = serde_json::from_str(&write.value).unwrap_or(None);
            if holder.is_none() && write.kind.ends_with(".create") {
                continue;
            }
            let op = write.op()?;
            holders.push(HolderChange {
                holder: holder.map(|h| holder_view(h, &names)),
                by_name: names.person(&write.author)?,
                at_ms: write.wall as u64,
                note: write.text,
                kind: write.kind,
                contested: !superseded && current.len() > 1 && current.first() != Some(&op),
            });
        }
        let allowed = self.task_actions(&task)?;
        Ok(TaskDetail {
            timeline: self.record_timeline(&names, found.id)?,
            conflicts: self.conflicts_named(&names, None, Some(found.id))?,
            task,
            requests,
            holders,
            allowed,
        })
    }

    /// The actions the UI offers on a task: what the rules would allow.
    fn task_actions(&self, t: &TaskView) -> Result<Vec<String>> {
        let Some((me, actor)) = self.actor()? else {
            return Ok(Vec::new());
        };
        let scope = relevo_core::rules::scope_of(t.scope);
        let holds = t.holder.as_ref().and_then(|h| h.person) == Some(me);
        let may = |a| permissions::check(actor, a, scope, holds).is_ok();
        let step = |s: TaskStep| s.apply(t.status).is_some();
        let mut out = Vec::new();
        let mut offer = |name: &str, ok: bool| {
            if ok {
                out.push(name.to_owned());
            }
        };
        offer("assign", step(TaskStep::Assign) && may(Action::AssignTask));
        offer(
            "accept",
            step(TaskStep::Accept) && may(Action::UpdateHeldTask),
        );
        offer(
            "handover",
            step(TaskStep::HandOver) && may(Action::HandOverTask),
        );
        offer(
            "start",
            step(TaskStep::Status(TaskStatus::InProgress)) && may(Action::UpdateHeldTask),
        );
        offer(
            "block",
            step(TaskStep::Status(TaskStatus::Blocked)) && may(Action::UpdateHeldTask),
        );
        offer(
            "done",
            step(TaskStep::Status(TaskStatus::Done)) && may(Action::UpdateHeldTask),
        );
        offer(
            "cancel",
            step(TaskStep::Status(TaskStatus::Cancelled)) && may(Action::AssignTask),
        );
        offer(
            "escalate",
            matches!(t.scope, TaskScope::National(_))
                && !t.status.is_final()
                && may(Action::EscalateTask),
        );
        offer("link", may(Action::LinkRequests));
        offer("note", may(Action::AddNote) || holds);
        offer("resolve", t.conflicts > 0 && may(Action::ResolveConflict));
        Ok(out)
    }

    /// Who holds what in a crisis: open tasks grouped by person, then by
    /// organisation (tasks held by an organisation with no person named).
    pub fn holdings(&self, crisis: EntityId) -> Result<Vec<Holding>> {
        let tasks = self.task_rows(
            "t.crisis = ?1 AND t.status NOT IN ('done', 'cancelled') AND (t.holder_person IS NOT NULL OR t.holder_org IS NOT NULL)",
            vec![crisis.as_bytes().to_vec().into()],
            "hp.name, t.holder_org, t.due IS NULL, t.due",
            u32::MAX,
        )?;
        let mut out: Vec<Holding> = Vec::new();
        for t in tasks {
            let Some(h) = t.holder.clone() else { continue };
            let key = HolderView {
                person: h.person,
                person_name: h.person_name.clone(),
                org: if h.person.is_some() {
                    None
                } else {
                    h.org.clone()
                },
                org_name: if h.person.is_some() {
                    None
                } else {
                    h.org_name.clone()
                },
            };
            match out.iter_mut().find(|x| x.holder == key) {
                Some(x) => x.tasks.push(t),
                None => out.push(Holding {
                    holder: key,
                    tasks: vec![t],
                }),
            }
        }
        out.sort_by(|a, b| {
            (
                a.holder.person.is_none(),
                &a.holder.person_name,
                &a.holder.org_name,
            )
                .cmp(&(
                    b.holder.person.is_none(),
                    &b.holder.person_name,
                    &b.holder.org_name,
                ))
        });
        Ok(out)
    }

    /// The built-in sites and those administrators added; an administrator's
    /// entry for a built-in id replaces the built-in one.
    pub fn sites(&self) -> Result<Vec<Site>> {
        let mut sites = builtin_sites();
        let mut stmt = self.conn.prepare_cached(
            "SELECT id, name, kind, country, pcode, lat, lon, adm1 FROM sites ORDER BY name",
        )?;
        let mut rows = stmt.query([])?;
        while let Some(r) = rows.next()? {
            let site = Site {
                id: r.get(0)?,
                name: r.get(1)?,
                kind: parse_slug(
                    &r.get::<_, String>(2)?,
                    relevo_core::domain::SiteKind::parse,
                )?,
                country: parse_slug(&r.get::<_, String>(3)?, Country::parse)?,
                pcode: r.get(4)?,
                adm1: r.get(7)?,
                lat: r.get(5)?,
                lon: r.get(6)?,
            };
            // An administrator's entry for a built-in site (to add its
            // P-code, say) replaces the built-in one.
            match sites.iter_mut().find(|s| s.id == site.id) {
                Some(builtin) => *builtin = site,
                None => sites.push(site),
            }
        }
        Ok(sites)
    }

    /// People, organisations and sites on the roster.
    pub fn roster(&self) -> Result<Roster> {
        let mut people = Vec::new();
        {
            let mut stmt = self.conn.prepare_cached(
                "SELECT id, name, role, country, org, declared FROM persons ORDER BY name",
            )?;
            let mut rows = stmt.query([])?;
            while let Some(r) = rows.next()? {
                people.push(PersonView {
                    id: entity_id(&r.get::<_, Vec<u8>>(0)?)?,
                    name: r.get(1)?,
                    role: parse_slug(&r.get::<_, String>(2)?, Role::parse)?,
                    country: parse_slug(&r.get::<_, String>(3)?, Country::parse)?,
                    org: r.get(4)?,
                    declared: r.get(5)?,
                });
            }
        }
        Ok(Roster {
            people,
            orgs: self.orgs()?,
            sites: self.sites()?,
        })
    }
}

fn holder_view(h: Holder, names: &Names) -> HolderView {
    HolderView {
        person_name: h.person.and_then(|p| names.people.get(&p).cloned()),
        person: h.person,
        org_name: h.org.as_ref().and_then(|o| names.orgs.get(o).cloned()),
        org: h.org,
    }
}
