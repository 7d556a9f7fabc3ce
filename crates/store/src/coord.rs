//! Coordination: the actions directors and field coordinators take on
//! requests and tasks. Each builds one op whose field writes name the heads
//! they replace, checks what depends on this device's state (references,
//! the roster, quantities still owed), and lets the rules judge it exactly as
//! every replica will. A refused action writes nothing.

use crate::error::{Error, Result};
use crate::log::{damaged, device_id, entity_id};
use crate::queries::permit;
use crate::{new_id, CrisisView, RequestView, Store};
use relevo_core::domain::roster::{builtin_orgs, Org, OrgDraft, PersonDraft};
use relevo_core::domain::validation::{FieldError, Rule};
use relevo_core::domain::{
    Country, Holder, NewRequest, RequestDraft, RequestStatus, TaskDraft, TaskScope, TaskStatus,
};
use relevo_core::payload::{
    link_field, Change, ChangeKind, EntityKind, Fulfilment, Payload, RosterPerson, TaskCreated,
    Write, REQUEST_EDITABLE,
};
use relevo_core::permissions::{Action, Scope};
use relevo_core::{EntityId, OpRef};
use rusqlite::{params, Connection, OptionalExtension};
use serde::{Deserialize, Serialize};
use serde_json::{json, Value};
use specta::Type;

/// A holder as picked in a form or given on the command line.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize, Type)]
#[serde(default)]
pub struct HolderDraft {
    /// A person id from the roster.
    pub person: String,
    /// An organisation id from the roster (`iom`, `mig-gt`...).
    pub org: String,
}

/// A delivery against a request, as typed.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, Type)]
#[serde(default)]
pub struct FulfilmentDraft {
    /// The item line it answers (0-based), if any.
    pub item: Option<u32>,
    pub what: String,
    pub quantity: Option<f64>,
    pub unit: String,
    /// Organisation id that delivered.
    pub by: String,
    /// For a request without item lines: this delivery completes it.
    pub complete: bool,
}

/// A record as the actions find it: its id, its create op, and its kind.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Found {
    pub id: EntityId,
    pub on: OpRef,
    pub record: EntityKind,
}

/// The query that finds a record of `table` by its id or by its reference
/// as a person typed it, in any case (served by the `*_by_reference`
/// indexes on `(length(reference), upper(reference))`).
pub(crate) fn find_sql(table: &str, by_id: bool) -> String {
    format!(
        "SELECT id, device, seq FROM {table} WHERE {} LIMIT 1",
        if by_id {
            "id = ?1"
        } else {
            "length(reference) = length(?1) AND upper(reference) = upper(?1)"
        }
    )
}

fn not_found(what: &'static str, reference: &str) -> Error {
    Error::NotFound {
        what,
        reference: reference.trim().to_owned(),
    }
}

/// The heads of one field: the writes nobody has replaced yet, the
/// displayed winner first.
pub(crate) fn heads(conn: &Connection, entity: EntityId, field: &str) -> Result<Vec<OpRef>> {
    crate::project::head_writes(conn, entity, field)?
        .iter()
        .map(|w| w.op())
        .collect()
}

/// The current value of one field (the displayed winner).
pub(crate) fn value(conn: &Connection, entity: EntityId, field: &str) -> Result<Option<Value>> {
    Ok(crate::project::head_writes(conn, entity, field)?
        .into_iter()
        .next()
        .and_then(|w| serde_json::from_str(&w.value).ok()))
}

/// The fields whose heads a change names as context, because the rules
/// judge it by them: a task's scope and holder (who may act on it), and a
/// request's item lines for a delivery (which line it answers).
fn context_fields(record: EntityKind, kind: ChangeKind) -> &'static [&'static str] {
    match (record, kind) {
        (EntityKind::Task, _) => &["scope", "holder"],
        (EntityKind::Request, ChangeKind::RequestFulfil) => &["items"],
        _ => &[],
    }
}

/// A change of `kind` whose writes replace each field's current heads, and
/// which names the context heads the rules will judge it by.
pub(crate) fn change(
    conn: &Connection,
    found: Found,
    kind: ChangeKind,
    writes: Vec<(String, Value)>,
) -> Result<Change> {
    let saw_fields = context_fields(found.record, kind);
    let mut out = Vec::new();
    for (field, value) in writes {
        let seen = heads(conn, found.id, &field)?;
        out.push(Write { field, value, seen });
    }
    let mut saw = Vec::new();
    for f in saw_fields {
        saw.extend(heads(conn, found.id, f)?);
    }
    saw.sort();
    saw.dedup();
    Ok(Change {
        entity: found.id,
        on: found.on,
        writes: out,
        saw,
        text: None,
        significant: false,
        fulfilment: None,
    })
}

fn text(raw: &str) -> Option<String> {
    let t = raw.trim();
    (!t.is_empty()).then(|| t.to_owned())
}

impl Store {
    fn find(&self, record: EntityKind, what: &'static str, reference: &str) -> Result<Found> {
        let table = match record {
            EntityKind::Request => "requests",
            EntityKind::Task => "tasks",
            EntityKind::Crisis => "crises",
        };
        let key = reference.trim();
        let by_id = key.parse::<EntityId>().ok();
        if by_id.is_none() && record == EntityKind::Crisis {
            // Crises have no human reference: only their id finds them.
            return Err(not_found(what, reference));
        }
        let sql = find_sql(table, by_id.is_some());
        let arg: rusqlite::types::Value = match by_id {
            Some(id) => id.as_bytes().to_vec().into(),
            None => key.to_owned().into(),
        };
        let row: Option<(Vec<u8>, Vec<u8>, i64)> = self
            .conn
            .query_row(&sql, [arg], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)))
            .optional()?;
        let (id, device, seq) = row.ok_or_else(|| not_found(what, reference))?;
        Ok(Found {
            id: entity_id(&id)?,
            on: OpRef {
                device: device_id(&device)?,
                seq: seq as u64,
            },
            record,
        })
    }

    pub(crate) fn find_request(&self, reference: &str) -> Result<Found> {
        self.find(EntityKind::Request, "request", reference)
    }

    pub(crate) fn find_task(&self, reference: &str) -> Result<Found> {
        self.find(EntityKind::Task, "task", reference)
    }

    /// A request or a task, for notes and conflict resolution.
    pub(crate) fn find_record(&self, reference: &str) -> Result<Found> {
        let tries: [&dyn Fn() -> Result<Found>; 3] = [
            &|| self.find_request(reference),
            &|| self.find_task(reference),
            &|| self.find(EntityKind::Crisis, "record", reference),
        ];
        for attempt in tries {
            match attempt() {
                Err(Error::NotFound { .. }) => continue,
                found => return found,
            }
        }
        Err(not_found("record", reference))
    }

    /// Is `holder` on the roster? Names the field that is not.
    pub(crate) fn check_holder(&self, draft: &HolderDraft) -> Result<Holder> {
        let mut errors = Vec::new();
        let holder = relevo_core::domain::task::holder(&draft.person, &draft.org, &mut errors);
        if !errors.is_empty() {
            return Err(Error::Validation(errors));
        }
        let holder = holder.ok_or_else(|| {
            Error::Validation(vec![FieldError::new(
                "holder",
                Rule::Required,
                "name a person or an organisation to hold the task",
            )])
        })?;
        if let Some(p) = holder.person {
            let known: bool = self.conn.query_row(
                "SELECT EXISTS (SELECT 1 FROM persons WHERE id = ?1)",
                [p.as_bytes()],
                |r| r.get(0),
            )?;
            if !known {
                return Err(Error::Validation(vec![FieldError::new(
                    "holder",
                    Rule::NotOnRoster,
                    format!("person {p} is not on the roster"),
                )]));
            }
        }
        if let Some(o) = &holder.org {
            if !self.orgs()?.iter().any(|x| &x.id == o) {
                return Err(Error::Validation(vec![FieldError::new(
                    "holder",
                    Rule::NotOnRoster,
                    format!("organisation '{o}' is not on the roster"),
                )]));
            }
        }
        Ok(holder)
    }

    /// Organisations on the roster: the built-in ones, then those added.
    pub fn orgs(&self) -> Result<Vec<Org>> {
        let mut out = builtin_orgs();
        let mut stmt = self
            .conn
            .prepare_cached("SELECT id, name, kind, country FROM orgs ORDER BY name")?;
        let rows = stmt.query_map([], |r| {
            Ok((
                r.get::<_, String>(0)?,
                r.get::<_, String>(1)?,
                r.get::<_, String>(2)?,
                r.get::<_, Option<String>>(3)?,
            ))
        })?;
        for row in rows {
            let (id, name, kind, country) = row?;
            if out.iter().any(|o| o.id == id) {
                continue;
            }
            out.push(Org {
                id,
                name,
                kind: relevo_core::domain::OrgKind::parse(&kind)
                    .ok_or_else(|| damaged("unknown organisation kind"))?,
                country: country.as_deref().and_then(Country::parse),
            });
        }
        Ok(out)
    }

    /// Creates a task in the current crisis, optionally linked to requests
    /// and assigned at once.
    pub fn add_task(&mut self, draft: &TaskDraft) -> Result<EntityId> {
        self.create_task(draft, None)
    }

    /// [`Store::add_task`], for the alert it prepares for, if any.
    pub(crate) fn create_task(
        &mut self,
        draft: &TaskDraft,
        alert: Option<EntityId>,
    ) -> Result<EntityId> {
        let me = self.me()?;
        let crisis = self.current_crisis()?.ok_or(Error::NoCrisis)?;
        let (task, holder_given) = draft.validate(me.country).map_err(Error::Validation)?;
        let holder = match holder_given {
            Some(_) => Some(self.check_holder(&HolderDraft {
                person: draft.holder_person.clone(),
                org: draft.holder_org.clone(),
            })?),
            None => None,
        };
        let mut requests = Vec::new();
        for r in &draft.requests {
            let found = self.find_request(r)?;
            let in_crisis = self
                .request(found.id)?
                .is_some_and(|v| v.crisis == crisis.id);
            if !in_crisis {
                return Err(not_found("request in this crisis", r));
            }
            if !requests.contains(&found.id) {
                requests.push(found.id);
            }
        }
        let scope = relevo_core::rules::scope_of(task.scope);
        permit(&me, Action::CreateTask, scope)?;
        let id = new_id();
        self.append_local(|_| {
            Ok(Payload::TaskCreate(TaskCreated {
                id,
                // Numbered when its key is chosen.
                reference: String::new(),
                crisis: crisis.id,
                task,
                requests,
                holder,
                alert,
            }))
        })?;
        Ok(id)
    }

    /// Makes a change to a found record in one transaction.
    fn act(
        &mut self,
        kind: ChangeKind,
        found: Found,
        writes: Vec<(String, Value)>,
        finish: impl FnOnce(&mut Change),
    ) -> Result<()> {
        self.append_local(|tx| {
            let mut c = change(tx, found, kind, writes)?;
            finish(&mut c);
            Ok(Payload::Change(kind, c))
        })?;
        Ok(())
    }

    pub fn assign_task(&mut self, task: &str, holder: &HolderDraft) -> Result<()> {
        let found = self.find_task(task)?;
        let holder = self.check_holder(holder)?;
        self.act(
            ChangeKind::TaskAssign,
            found,
            vec![
                ("holder".into(), json!(holder)),
                ("status".into(), json!(TaskStatus::Assigned)),
            ],
            |_| {},
        )
    }

    pub fn accept_task(&mut self, task: &str) -> Result<()> {
        let found = self.find_task(task)?;
        self.act(
            ChangeKind::TaskAccept,
            found,
            vec![("status".into(), json!(TaskStatus::Accepted))],
            |_| {},
        )
    }

    /// Hands a task to another holder with a note for them; the new holder
    /// accepts it again.
    pub fn hand_over_task(&mut self, task: &str, holder: &HolderDraft, note: &str) -> Result<()> {
        let found = self.find_task(task)?;
        let holder = self.check_holder(holder)?;
        let note = text(note).ok_or_else(|| {
            Error::Validation(vec![FieldError::new(
                "note",
                Rule::Required,
                "a handover carries a note for the next holder",
            )])
        })?;
        self.act(
            ChangeKind::TaskHandOver,
            found,
            vec![
                ("holder".into(), json!(holder)),
                ("status".into(), json!(TaskStatus::Assigned)),
            ],
            |c| c.text = Some(note),
        )
    }

    /// Progress, block (with a reason), finish or cancel.
    pub fn set_task_status(&mut self, task: &str, status: &str, reason: &str) -> Result<()> {
        let found = self.find_task(task)?;
        let to = TaskStatus::parse(status).ok_or_else(|| {
            Error::Validation(vec![FieldError::new(
                "status",
                Rule::Unknown,
                format!(
                    "'{status}' is not a task status; use one of: {}",
                    TaskStatus::slugs()
                ),
            )])
        })?;
        if to == TaskStatus::Blocked && text(reason).is_none() {
            return Err(Error::Validation(vec![FieldError::new(
                "reason",
                Rule::Required,
                "say why the task is blocked",
            )]));
        }
        self.act(
            ChangeKind::TaskStatus,
            found,
            vec![("status".into(), json!(to))],
            |c| c.text = text(reason),
        )
    }

    /// Takes a national task to the regional level.
    pub fn escalate_task(&mut self, task: &str, note: &str) -> Result<()> {
        let found = self.find_task(task)?;
        self.act(
            ChangeKind::TaskEscalate,
            found,
            vec![("scope".into(), json!(TaskScope::Regional))],
            |c| c.text = text(note),
        )
    }

    /// Links requests to a task, or unlinks them.
    pub fn link_requests(&mut self, task: &str, requests: &[String], link: bool) -> Result<()> {
        let found = self.find_task(task)?;
        if requests.is_empty() {
            return Err(Error::Validation(vec![FieldError::new(
                "requests",
                Rule::Required,
                "name at least one request",
            )]));
        }
        let mut writes = Vec::new();
        for r in requests {
            let request = self.find_request(r)?;
            writes.push((link_field(request.id), json!(link)));
        }
        writes.sort_by(|a, b| a.0.cmp(&b.0));
        writes.dedup_by(|a, b| a.0 == b.0);
        let kind = if link {
            ChangeKind::TaskLink
        } else {
            ChangeKind::TaskUnlink
        };
        self.act(kind, found, writes, |_| {})
    }

    /// Corrects a request's details: every field of the draft is validated,
    /// and the fields that differ are written. The country cannot change.
    pub fn update_request(&mut self, request: &str, draft: &RequestDraft) -> Result<RequestView> {
        let found = self.find_request(request)?;
        let current = self
            .request(found.id)?
            .ok_or_else(|| not_found("request", request))?;
        let mut draft = draft.clone();
        if draft.country.trim().is_empty() {
            draft.country = current.country.slug().into();
        }
        let updated: NewRequest = draft.validate().map_err(Error::Validation)?;
        if updated.country != current.country {
            return Err(Error::Validation(vec![FieldError::new(
                "country",
                Rule::Unknown,
                "a request's country cannot change; cancel it and log it in the right country",
            )]));
        }
        let before = serde_json::to_value(current.to_request())
            .map_err(|e| Error::Invalid(e.to_string()))?;
        let after = serde_json::to_value(&updated).map_err(|e| Error::Invalid(e.to_string()))?;
        let mut writes = Vec::new();
        // Empty lists and absent values are left out of the JSON.
        let field_of = |v: &Value, field: &str| {
            v.get(field).cloned().unwrap_or(match field {
                "vulnerable" | "items" => json!([]),
                _ => Value::Null,
            })
        };
        for &field in REQUEST_EDITABLE {
            let new = field_of(&after, field);
            if field_of(&before, field) != new {
                writes.push((field.to_owned(), new));
            }
        }
        if writes.is_empty() {
            return Ok(current);
        }
        self.act(ChangeKind::RequestUpdate, found, writes, |_| {})?;
        self.request(found.id)?
            .ok_or_else(|| damaged("the request just updated is missing"))
    }

    pub fn set_request_status(
        &mut self,
        request: &str,
        status: &str,
        duplicate_of: &str,
    ) -> Result<RequestView> {
        let found = self.find_request(request)?;
        let to = RequestStatus::parse(status).ok_or_else(|| {
            Error::Validation(vec![FieldError::new(
                "status",
                Rule::Unknown,
                format!(
                    "'{status}' is not a request status; use one of: {}",
                    RequestStatus::slugs()
                ),
            )])
        })?;
        let mut writes = vec![("status".to_owned(), json!(to))];
        if to == RequestStatus::Duplicate {
            let other = text(duplicate_of).ok_or_else(|| {
                Error::Validation(vec![FieldError::new(
                    "duplicate_of",
                    Rule::Required,
                    "name the request this one duplicates",
                )])
            })?;
            let other = self.find_request(&other)?;
            writes.push(("duplicate_of".into(), json!(other.id)));
        }
        self.act(ChangeKind::RequestStatus, found, writes, |_| {})?;
        self.request(found.id)?
            .ok_or_else(|| damaged("the request just updated is missing"))
    }

    /// Records a delivery. Refuses more than an item line still needs, and
    /// moves the request to partly fulfilled or fulfilled when it can.
    pub fn fulfil_request(
        &mut self,
        request: &str,
        draft: &FulfilmentDraft,
    ) -> Result<RequestView> {
        let found = self.find_request(request)?;
        let current = self
            .request(found.id)?
            .ok_or_else(|| not_found("request", request))?;
        let mut errors = Vec::new();
        let what = text(&draft.what);
        if what.is_none() {
            errors.push(FieldError::new(
                "what",
                Rule::Required,
                "say what was delivered",
            ));
        }
        let unit = text(&draft.unit);
        if unit.is_none() {
            errors.push(FieldError::new(
                "unit",
                Rule::Required,
                "the unit is required",
            ));
        }
        let quantity = match draft.quantity {
            Some(q) if q.is_finite() && q > 0.0 => Some(q),
            _ => {
                errors.push(FieldError::new(
                    "quantity",
                    Rule::AtLeastOne,
                    "the quantity must be more than zero",
                ));
                None
            }
        };
        let by = text(&draft.by);
        if let Some(o) = &by {
            if !self.orgs()?.iter().any(|x| &x.id == o) {
                errors.push(FieldError::new(
                    "by",
                    Rule::NotOnRoster,
                    format!("organisation '{o}' is not on the roster"),
                ));
            }
        }
        let delivered = self.delivered(found.id)?;
        if let (Some(i), Some(q)) = (draft.item, quantity) {
            match current.items.get(i as usize) {
                None => errors.push(FieldError::new(
                    "item",
                    Rule::UnknownReference,
                    format!("the request has no item line {}", i + 1),
                )),
                Some(line) => {
                    let remaining =
                        line.quantity - delivered.get(i as usize).copied().unwrap_or(0.0);
                    if q > remaining + 1e-9 {
                        errors.push(
                            FieldError::new(
                                "quantity",
                                Rule::OverFulfilment,
                                format!(
                                    "{q} {} is more than the {remaining} still needed on that line",
                                    line.unit
                                ),
                            )
                            .with_limit(remaining.max(0.0) as u64),
                        );
                    }
                }
            }
        }
        if !errors.is_empty() {
            return Err(Error::Validation(errors));
        }
        let (what, unit, quantity) = (
            what.expect("checked"),
            unit.expect("checked"),
            quantity.expect("checked"),
        );
        let done = if current.items.is_empty() {
            draft.complete
        } else {
            current.items.iter().enumerate().all(|(i, line)| {
                let mut got = delivered.get(i).copied().unwrap_or(0.0);
                if draft.item == Some(i as u32) {
                    got += quantity;
                }
                got + 1e-9 >= line.quantity
            })
        };
        let target = if done {
            RequestStatus::Fulfilled
        } else {
            RequestStatus::PartlyFulfilled
        };
        let status_in_conflict: bool = self.conn.query_row(
            "SELECT EXISTS (SELECT 1 FROM conflicts WHERE entity = ?1 AND field = 'status')",
            [found.id.as_bytes()],
            |r| r.get(0),
        )?;
        let writes = if current.status.can_move_to(target) && !status_in_conflict {
            vec![("status".to_owned(), json!(target))]
        } else {
            vec![]
        };
        let fulfilment = Fulfilment {
            item: draft.item,
            what,
            quantity,
            unit,
            by,
        };
        self.act(ChangeKind::RequestFulfil, found, writes, |c| {
            c.fulfilment = Some(fulfilment)
        })?;
        self.request(found.id)?
            .ok_or_else(|| damaged("the request just updated is missing"))
    }

    /// Quantity delivered per item line.
    pub(crate) fn delivered(&self, request: EntityId) -> Result<Vec<f64>> {
        let mut stmt = self.conn.prepare_cached(
            "SELECT item, sum(quantity) FROM fulfilments WHERE request = ?1 AND item IS NOT NULL GROUP BY item",
        )?;
        let rows = stmt.query_map([request.as_bytes()], |r| {
            Ok((r.get::<_, i64>(0)?, r.get::<_, f64>(1)?))
        })?;
        let mut out = Vec::new();
        for row in rows {
            let (i, q) = row?;
            let i = i as usize;
            if out.len() <= i {
                out.resize(i + 1, 0.0);
            }
            out[i] = q;
        }
        Ok(out)
    }

    /// Adds a note (ICS 214) to a request or a task.
    pub fn add_note(&mut self, record: &str, note: &str, significant: bool) -> Result<()> {
        let found = self.find_record(record)?;
        let note = text(note).ok_or_else(|| {
            Error::Validation(vec![FieldError::new(
                "text",
                Rule::Required,
                "the note is empty",
            )])
        })?;
        if note.chars().count() > relevo_core::rules::MAX_NOTE_CHARS {
            return Err(Error::Validation(vec![FieldError::new(
                "text",
                Rule::TooLong,
                format!(
                    "the note is longer than {} characters",
                    relevo_core::rules::MAX_NOTE_CHARS
                ),
            )
            .with_limit(relevo_core::rules::MAX_NOTE_CHARS as u64)]));
        }
        self.act(ChangeKind::NoteAdd, found, vec![], |c| {
            c.text = Some(note);
            c.significant = significant;
        })
    }

    /// Resolves a conflict on one field by choosing one of its competing
    /// values (named by the op that wrote it, `<device>/<seq>`, or by the
    /// 1-based position shown in `conflicts list`).
    pub fn resolve_conflict(&mut self, record: &str, field: &str, choose: &str) -> Result<()> {
        let found = self.find_record(record)?;
        let competing = heads(&self.conn, found.id, field)?;
        let conflicted: bool = self.conn.query_row(
            "SELECT EXISTS (SELECT 1 FROM conflicts WHERE entity = ?1 AND field = ?2)",
            params![found.id.as_bytes(), field],
            |r| r.get(0),
        )?;
        if !conflicted {
            return Err(Error::Invalid(format!(
                "{field} of {record} has no conflict to resolve"
            )));
        }
        let chosen = match choose.trim().parse::<usize>() {
            Ok(n) if (1..=competing.len()).contains(&n) => competing[n - 1],
            _ => choose
                .trim()
                .parse::<OpRef>()
                .ok()
                .filter(|r| competing.contains(r))
                .ok_or_else(|| {
                    Error::Validation(vec![FieldError::new(
                        "choose",
                        Rule::Unknown,
                        format!(
                            "'{choose}' is not one of the {} competing values",
                            competing.len()
                        ),
                    )])
                })?,
        };
        let text: String = crate::project::head_writes(&self.conn, found.id, field)?
            .into_iter()
            .find(|w| w.op().is_ok_and(|op| op == chosen))
            .map(|w| w.value)
            .ok_or_else(|| damaged("a competing value is missing"))?;
        let value: Value =
            serde_json::from_str(&text).map_err(|_| damaged("a stored value is not valid"))?;
        self.act(
            ChangeKind::ConflictResolve,
            found,
            vec![(field.to_owned(), value)],
            |_| {},
        )
    }

    /// Closes the current crisis.
    pub fn close_crisis(&mut self) -> Result<CrisisView> {
        let crisis = self.current_crisis()?.ok_or(Error::NoCrisis)?;
        let found = self.find(EntityKind::Crisis, "crisis", &crisis.id.to_string())?;
        self.act(
            ChangeKind::CrisisClose,
            found,
            vec![("status".into(), json!("closed"))],
            |_| {},
        )?;
        self.crisis(crisis.id)?
            .ok_or_else(|| damaged("the crisis just closed is missing"))
    }

    /// Adds an organisation to the roster (administrators).
    pub fn add_org(&mut self, draft: &OrgDraft) -> Result<Org> {
        let me = self.me()?;
        let org = draft.validate().map_err(Error::Validation)?;
        permit(&me, Action::ManageRoster, Scope::Regional)?;
        if self.orgs()?.iter().any(|o| o.id == org.id) {
            return Err(Error::Validation(vec![FieldError::new(
                "id",
                Rule::Duplicate,
                format!("organisation '{}' is already on the roster", org.id),
            )]));
        }
        let out = org.clone();
        self.append_local(|_| Ok(Payload::RosterOrg(org)))?;
        Ok(out)
    }

    /// Adds a site (a crossing, shelter or monitoring point) to the roster,
    /// or corrects a built-in one by its id (administrators).
    pub fn add_site(
        &mut self,
        draft: &relevo_core::domain::SiteDraft,
    ) -> Result<relevo_core::domain::Site> {
        let me = self.me()?;
        let site = draft.validate().map_err(Error::Validation)?;
        permit(&me, Action::ManageRoster, Scope::Regional)?;
        let out = site.clone();
        self.append_local(|_| Ok(Payload::RosterSite(site)))?;
        Ok(out)
    }

    /// Puts a person on the roster (administrators): they can hold tasks.
    pub fn add_person(&mut self, draft: &PersonDraft) -> Result<EntityId> {
        let me = self.me()?;
        let identity = draft.to_identity().validate().map_err(Error::Validation)?;
        permit(&me, Action::ManageRoster, Scope::Regional)?;
        let id = new_id();
        self.append_local(|_| {
            Ok(Payload::RosterPerson(RosterPerson {
                id,
                name: identity.name,
                role: identity.role,
                country: identity.country,
                org: identity.org,
            }))
        })?;
        Ok(id)
    }
}
