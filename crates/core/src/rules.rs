//! The rules every replica applies to an op before projecting it.
//!
//! A verdict depends only on the op and what it names: the grant its device
//! declared, the record it changes (its create op) and the values it saw
//! (its parents). It never depends on a replica's current state, so every
//! device and the hub reach the same verdict whatever order ops arrive in.
//! The store waits until it holds every op an op names before judging it.
//!
//! An op that breaks a rule was still made and signed: it is kept in the log,
//! marked refused with the reason, and left out of the projections. The same
//! function runs before a local op is made, so a person is refused at once
//! and nothing is written.

use crate::domain::validation::{describe, FieldError};
use crate::domain::{IdentityDraft, NewRequest, RequestStatus, TaskScope, TaskStatus, TaskStep};
use crate::identity::DeviceId;
use crate::ids::EntityId;
use crate::op::{OpRef, UnsignedOp};
use crate::payload::{Change, ChangeKind, EntityKind, Payload};
use crate::permissions::{self, Action, Actor, Refusal, Scope};
use crate::Hlc;
use serde::de::DeserializeOwned;
use serde_json::Value;
use std::fmt;

/// An op another op names, as the rules need it.
#[derive(Clone, Debug)]
pub struct Dep {
    pub hlc: Hlc,
    pub payload: Payload,
}

/// What a verdict may look at besides the op itself.
pub struct Context<'a> {
    /// The person the op's device declared in its first op, and their grant.
    pub declared: Option<(EntityId, Actor)>,
    /// The ops this op names ([`Payload::deps`]).
    pub dep: &'a dyn Fn(&OpRef) -> Option<Dep>,
    /// The hub of the network the replica is enrolled in: the only device
    /// whose grants and revocations count. `None` on a device used alone.
    pub hub: Option<DeviceId>,
}

impl fmt::Debug for Context<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Context")
            .field("declared", &self.declared)
            .field("hub", &self.hub)
            .finish_non_exhaustive()
    }
}

/// Why an op is refused.
#[derive(Clone, Debug, PartialEq)]
pub enum Refused {
    /// The author's role or scope does not allow it.
    Permission(Refusal),
    /// The record's status does not allow this step.
    Lifecycle {
        record: EntityKind,
        from: String,
        step: &'static str,
    },
    /// The field has competing values: resolve the conflict first.
    InConflict { field: String },
    /// A value breaks a validation rule.
    Validation(Vec<FieldError>),
    /// Anything else that makes the op meaningless.
    Invalid(String),
    /// The op names an op that is not held (the store waits for it).
    Missing(OpRef),
}

impl fmt::Display for Refused {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Refused::Permission(r) => r.fmt(f),
            Refused::Lifecycle { record, from, step } => write!(
                f,
                "a {} that is {from} cannot take the step {step}",
                record.slug()
            ),
            Refused::InConflict { field } => write!(
                f,
                "{field} has competing values from people who were offline: a regional director must resolve the conflict first"
            ),
            Refused::Validation(errors) => f.write_str(&describe(errors)),
            Refused::Invalid(why) => f.write_str(why),
            Refused::Missing(op) => write!(f, "op {op} it relies on is not held yet"),
        }
    }
}

impl std::error::Error for Refused {}

type Verdict = Result<(), Refused>;

fn invalid(why: impl Into<String>) -> Refused {
    Refused::Invalid(why.into())
}

fn permit(actor: Actor, action: Action, scope: Scope, holds: bool) -> Verdict {
    permissions::check(actor, action, scope, holds).map_err(Refused::Permission)
}

fn parse<T: DeserializeOwned>(value: &Value, what: &str) -> Result<T, Refused> {
    serde_json::from_value(value.clone()).map_err(|e| invalid(format!("{what} is not valid: {e}")))
}

fn reference(reference: &str, prefix: &str, op: &UnsignedOp) -> Verdict {
    let prefix = format!("{prefix}-{}-", op.device.tag());
    let counter = reference.strip_prefix(&prefix).map(|n| n.parse::<u64>());
    if matches!(counter, Some(Ok(n)) if n > 0) {
        Ok(())
    } else {
        Err(invalid(format!(
            "reference {reference} is not of the form {prefix}<n> for the device that made it"
        )))
    }
}

/// Grants, revocations and the hub's declaration count only when the hub of
/// the replica's network made them.
fn hub_op(op: &UnsignedOp, payload: &Payload, hub: Option<DeviceId>) -> Verdict {
    if hub != Some(op.device) {
        return Err(invalid(
            "only the hub of this network may declare itself, grant or revoke a device",
        ));
    }
    match payload {
        Payload::HubDeclare(h) if op.seq != 1 || h.name.trim().is_empty() => Err(invalid(
            "a hub declares itself once, in its first op, with a name",
        )),
        Payload::DeviceGrant(g) => IdentityDraft {
            name: g.name.clone(),
            role: g.role.slug().into(),
            country: g.country.slug().into(),
            org: g.org.clone().unwrap_or_default(),
        }
        .validate()
        .map(|_| ())
        .map_err(Refused::Validation),
        _ => Ok(()),
    }
}

/// The verdict on `op` carrying `payload`.
pub fn verdict(op: &UnsignedOp, payload: &Payload, ctx: &Context<'_>) -> Verdict {
    if payload.is_hub_kind() {
        return hub_op(op, payload, ctx.hub);
    }
    if let Payload::PersonDeclare(p) = payload {
        if p.id != op.author {
            return Err(invalid(
                "a person can only declare themselves (payload id differs from the op's author)",
            ));
        }
        return IdentityDraft {
            name: p.name.clone(),
            role: p.role.slug().into(),
            country: p.country.slug().into(),
            org: p.org.clone().unwrap_or_default(),
        }
        .validate()
        .map(|_| ())
        .map_err(Refused::Validation);
    }
    let (person, actor) = ctx
        .declared
        .ok_or_else(|| invalid("the device that made it never declared who uses it"))?;
    if person != op.author {
        return Err(invalid("its author is not the person this device declared"));
    }
    match payload {
        Payload::PersonDeclare(_)
        | Payload::HubDeclare(_)
        | Payload::DeviceGrant(_)
        | Payload::DeviceRevoke(_) => Ok(()),
        Payload::CrisisOpen(c) => {
            permit(actor, Action::OpenCrisis, Scope::Regional, false)?;
            crate::domain::CrisisDraft {
                name: c.name.clone(),
                countries: c.countries.iter().map(|c| c.slug().to_owned()).collect(),
            }
            .validate()
            .map(|_| ())
            .map_err(Refused::Validation)
        }
        Payload::RequestCreate(r) => {
            reference(&r.reference, "REQ", op)?;
            r.request.check().map_err(Refused::Validation)?;
            permit(
                actor,
                Action::LogRequest,
                Scope::National(r.request.country),
                false,
            )
        }
        Payload::TaskCreate(t) => {
            reference(&t.reference, "TSK", op)?;
            t.task.check().map_err(Refused::Validation)?;
            let scope = scope_of(t.task.scope);
            permit(actor, Action::CreateTask, scope, false)?;
            match &t.holder {
                Some(h) if h.is_empty() => {
                    Err(invalid("a holder names a person or an organisation"))
                }
                Some(_) => permit(actor, Action::AssignTask, scope, false),
                None => Ok(()),
            }
        }
        Payload::RosterOrg(o) => {
            permit(actor, Action::ManageRoster, Scope::Regional, false)?;
            crate::domain::OrgDraft {
                id: o.id.clone(),
                name: o.name.clone(),
                kind: o.kind.slug().into(),
                country: o.country.map(|c| c.slug().into()).unwrap_or_default(),
            }
            .validate()
            .map(|_| ())
            .map_err(Refused::Validation)
        }
        Payload::RosterSite(s) => {
            permit(actor, Action::ManageRoster, Scope::Regional, false)?;
            let lat_ok = s.lat.is_none_or(|l| (-90.0..=90.0).contains(&l));
            let lon_ok = s.lon.is_none_or(|l| (-180.0..=180.0).contains(&l));
            if s.name.trim().is_empty() || !lat_ok || !lon_ok {
                return Err(invalid("a site needs a name and coordinates within range"));
            }
            if s.adm1.as_ref().is_some_and(|a| a.chars().count() > 80) {
                return Err(invalid("a site's admin area name is at most 80 characters"));
            }
            Ok(())
        }
        Payload::RosterPerson(p) => {
            permit(actor, Action::ManageRoster, Scope::Regional, false)?;
            IdentityDraft {
                name: p.name.clone(),
                role: p.role.slug().into(),
                country: p.country.slug().into(),
                org: p.org.clone().unwrap_or_default(),
            }
            .validate()
            .map(|_| ())
            .map_err(Refused::Validation)
        }
        Payload::Change(kind, c) => change(op, *kind, c, actor, ctx),
        Payload::FlowCount(f) => {
            reference(&f.reference, "FLW", op)?;
            f.count
                .check(op.hlc.wall_ms as i64)
                .map_err(Refused::Validation)?;
            permit(
                actor,
                Action::LogFlow,
                Scope::National(f.count.country),
                false,
            )
        }
        Payload::AlertRaise(a) => {
            reference(&a.reference, "ALR", op)?;
            permit(actor, Action::LogFlow, Scope::National(a.country), false)?;
            if a.surge.people == 0 || a.point.trim().is_empty() {
                return Err(invalid(
                    "an alert names its point and how many people surged",
                ));
            }
            if a.arrivals.iter().any(|x| x.latest_ms < x.earliest_ms) {
                return Err(invalid("an arrival window ends before it begins"));
            }
            Ok(())
        }
        Payload::AlertAck(k) => {
            let raised = (ctx.dep)(&k.on).ok_or(Refused::Missing(k.on))?;
            let Payload::AlertRaise(alert) = raised.payload else {
                return Err(invalid(
                    "an acknowledgement names the op that raised the alert",
                ));
            };
            if alert.id != k.alert {
                return Err(invalid(
                    "an acknowledgement names the op that raised the alert",
                ));
            }
            match k.country {
                Some(c) => {
                    permit(actor, Action::AcknowledgeAlert, Scope::National(c), false)?;
                    if !alert.concerns().contains(&c) {
                        return Err(invalid(format!(
                            "alert {} does not concern {}: none of its points is there",
                            alert.reference,
                            c.code()
                        )));
                    }
                    Ok(())
                }
                None => permit(actor, Action::AcknowledgeAlert, Scope::Regional, false),
            }
        }
        Payload::CorridorSet(c) => {
            permit(actor, Action::SetCorridor, Scope::Regional, false)?;
            // Which points exist is the roster's business, which changes;
            // the corridor's own shape is checked here.
            c.validate(|_| true).map_err(Refused::Validation)
        }
    }
}

pub fn scope_of(scope: TaskScope) -> Scope {
    match scope {
        TaskScope::National(c) => Scope::National(c),
        TaskScope::Regional => Scope::Regional,
    }
}

/// Longest note, handover note or reason, in characters.
pub const MAX_NOTE_CHARS: usize = 4000;

fn change(
    op: &UnsignedOp,
    kind: ChangeKind,
    c: &Change,
    actor: Actor,
    ctx: &Context<'_>,
) -> Verdict {
    use ChangeKind as K;
    let dep = |r: &OpRef| (ctx.dep)(r).ok_or(Refused::Missing(*r));
    let target = dep(&c.on)?.payload;
    let (record, id) = target
        .creates()
        .ok_or_else(|| invalid(format!("{} does not create a record", c.on)))?;
    if id != c.entity {
        return Err(invalid(format!(
            "{} created another record than {}",
            c.on, c.entity
        )));
    }
    let expected = match kind {
        K::RequestUpdate | K::RequestStatus | K::RequestFulfil => Some(EntityKind::Request),
        K::TaskAssign
        | K::TaskAccept
        | K::TaskHandOver
        | K::TaskStatus
        | K::TaskEscalate
        | K::TaskLink
        | K::TaskUnlink => Some(EntityKind::Task),
        K::CrisisClose => Some(EntityKind::Crisis),
        K::NoteAdd => (record == EntityKind::Crisis).then_some(EntityKind::Request),
        K::ConflictResolve => None,
    };
    if expected.is_some_and(|e| e != record) {
        return Err(invalid(format!(
            "{} cannot change a {}",
            kind.kind(),
            record.slug()
        )));
    }
    // The values each write saw must be writes of the same field.
    let mut seen_values: Vec<Vec<(Hlc, OpRef, Value)>> = Vec::new();
    for w in &c.writes {
        let mut values = Vec::new();
        for s in &w.seen {
            let d = dep(s)?;
            let v = d
                .payload
                .field_value(c.entity, &w.field)
                .ok_or_else(|| invalid(format!("{s} did not write {} of {}", w.field, c.entity)))?;
            values.push((d.hlc, *s, v));
        }
        // Concurrent writes of the same value agree: only different values
        // are a conflict.
        if distinct(&values) > 1 && kind != K::ConflictResolve {
            return Err(Refused::InConflict {
                field: w.field.clone(),
            });
        }
        seen_values.push(values);
    }
    if let Some(text) = &c.text {
        if text.trim().is_empty() || text.chars().count() > MAX_NOTE_CHARS {
            return Err(invalid(format!(
                "a note has 1 to {MAX_NOTE_CHARS} characters"
            )));
        }
    }
    // The value a field had as the op saw it: the winner among `saw`.
    let saw = |field: &str| -> Result<Option<Value>, Refused> {
        let mut best: Option<(Hlc, OpRef, Value)> = None;
        for r in &c.saw {
            let d = dep(r)?;
            if let Some(v) = d.payload.field_value(c.entity, field) {
                if best
                    .as_ref()
                    .is_none_or(|(h, o, _)| (d.hlc, r.device) > (*h, o.device))
                {
                    best = Some((d.hlc, *r, v));
                }
            }
        }
        Ok(best.map(|b| b.2))
    };
    let scope = match &target {
        Payload::RequestCreate(r) => Scope::National(r.request.country),
        Payload::TaskCreate(_) => {
            let v =
                saw("scope")?.ok_or_else(|| invalid("a task change must name the scope it saw"))?;
            scope_of(parse::<TaskScope>(&v, "scope")?)
        }
        _ => Scope::Regional,
    };
    let holder: Option<crate::domain::Holder> = match record {
        EntityKind::Task => saw("holder")?
            .map(|v| parse(&v, "holder"))
            .transpose()?
            .flatten(),
        _ => None,
    };
    let holds = holder.as_ref().and_then(|h| h.person) == Some(op.author);

    let fields: Vec<&str> = c.writes.iter().map(|w| w.field.as_str()).collect();
    let only = |allowed: &[&str], required: &[&str]| -> Verdict {
        if let Some(f) = fields.iter().find(|f| !allowed.contains(f)) {
            return Err(invalid(format!("{} cannot write {f}", kind.kind())));
        }
        if let Some(f) = required.iter().find(|f| !fields.contains(f)) {
            return Err(invalid(format!("{} must write {f}", kind.kind())));
        }
        let mut sorted = fields.clone();
        sorted.sort();
        sorted.dedup();
        if sorted.len() != fields.len() {
            return Err(invalid("a field is written twice in one op"));
        }
        Ok(())
    };
    let write = |field: &str| c.writes.iter().position(|w| w.field == field);
    let value_of = |field: &str| write(field).map(|i| &c.writes[i].value);
    // The single value a write replaces.
    let from = |field: &str| -> Result<Value, Refused> {
        let i = write(field).ok_or_else(|| invalid(format!("must write {field}")))?;
        match seen_values[i].first() {
            Some((_, _, v)) if distinct(&seen_values[i]) == 1 => Ok(v.clone()),
            _ => Err(invalid(format!(
                "a {field} change must name the value it replaces"
            ))),
        }
    };
    let task_step = |step: TaskStep, name: &'static str| -> Verdict {
        let from: TaskStatus = parse(&from("status")?, "status")?;
        let to: TaskStatus = parse(value_of("status").expect("checked by only()"), "status")?;
        if step.apply(from) != Some(to) {
            return Err(Refused::Lifecycle {
                record,
                from: from.slug().into(),
                step: name,
            });
        }
        Ok(())
    };

    match kind {
        K::RequestUpdate => {
            only(crate::payload::REQUEST_EDITABLE, &[])?;
            if fields.is_empty() {
                return Err(invalid("an update must change at least one field"));
            }
            let Payload::RequestCreate(r) = &target else {
                unreachable!("checked above")
            };
            let mut merged =
                serde_json::to_value(&r.request).map_err(|e| invalid(e.to_string()))?;
            for w in &c.writes {
                merged[w.field.as_str()] = w.value.clone();
            }
            let updated: NewRequest = parse(&merged, "the request")?;
            updated.check().map_err(Refused::Validation)?;
            permit(actor, Action::UpdateRequest, scope, false)
        }
        K::RequestStatus | K::RequestFulfil => {
            if kind == K::RequestFulfil {
                only(&["status"], &[])?;
                let f = c
                    .fulfilment
                    .as_ref()
                    .ok_or_else(|| invalid("a fulfilment entry is missing"))?;
                // The item lines as the op saw them (they may have been
                // edited since the request was logged).
                let Payload::RequestCreate(r) = &target else {
                    unreachable!("checked above")
                };
                let lines = match saw("items")? {
                    Some(v) => parse::<Vec<crate::domain::ItemLine>>(&v, "items")?.len(),
                    None => r.request.items.len(),
                };
                let ok = !f.what.trim().is_empty()
                    && f.what.chars().count() <= 200
                    && f.quantity.is_finite()
                    && f.quantity > 0.0
                    && f.quantity <= crate::domain::request::MAX_QUANTITY
                    && !f.unit.trim().is_empty()
                    && f.unit.chars().count() <= crate::domain::request::MAX_UNIT_CHARS
                    && f.item.is_none_or(|i| (i as usize) < lines);
                if !ok {
                    return Err(invalid("a fulfilment needs what, a quantity above zero, a unit and an existing item line"));
                }
                if write("status").is_none() {
                    return permit(actor, Action::UpdateRequest, scope, false);
                }
            } else {
                only(&["status", "duplicate_of"], &["status"])?;
            }
            let from: RequestStatus = parse(&from("status")?, "status")?;
            let to: RequestStatus = parse(value_of("status").expect("written"), "status")?;
            if kind == K::RequestFulfil
                && !matches!(
                    to,
                    RequestStatus::PartlyFulfilled | RequestStatus::Fulfilled
                )
            {
                return Err(invalid(
                    "a fulfilment can only mark a request partly fulfilled or fulfilled",
                ));
            }
            if !from.can_move_to(to) {
                return Err(Refused::Lifecycle {
                    record,
                    from: from.slug().into(),
                    step: to.slug(),
                });
            }
            if to == RequestStatus::Duplicate {
                let of: Option<EntityId> = parse(
                    value_of("duplicate_of").unwrap_or(&Value::Null),
                    "duplicate_of",
                )?;
                if of.is_none() || of == Some(c.entity) {
                    return Err(invalid("a duplicate names the other request it duplicates"));
                }
            } else if write("duplicate_of").is_some() {
                return Err(invalid("duplicate_of is only set when marking a duplicate"));
            }
            let action = if to.is_triage() {
                Action::TriageRequest
            } else {
                Action::UpdateRequest
            };
            permit(actor, action, scope, false)
        }
        K::TaskAssign | K::TaskHandOver => {
            only(&["holder", "status"], &["holder", "status"])?;
            let to: Option<crate::domain::Holder> =
                parse(value_of("holder").expect("written"), "holder")?;
            let to = to
                .filter(|h| !h.is_empty())
                .ok_or_else(|| invalid("a holder names a person or an organisation"))?;
            if kind == K::TaskAssign {
                task_step(TaskStep::Assign, "assign")?;
                permit(actor, Action::AssignTask, scope, false)
            } else {
                task_step(TaskStep::HandOver, "handover")?;
                if c.text.is_none() {
                    return Err(invalid("a handover carries a note for the next holder"));
                }
                let was: Option<crate::domain::Holder> = parse(&from("holder")?, "holder")?;
                if was.as_ref() == Some(&to) {
                    return Err(invalid("a handover goes to another holder"));
                }
                permit(actor, Action::HandOverTask, scope, false)
            }
        }
        K::TaskAccept => {
            only(&["status"], &["status"])?;
            task_step(TaskStep::Accept, "accept")?;
            permit(actor, Action::UpdateHeldTask, scope, holds)
        }
        K::TaskStatus => {
            only(&["status"], &["status"])?;
            let to: TaskStatus = parse(value_of("status").expect("written"), "status")?;
            task_step(TaskStep::Status(to), to.slug())?;
            if to == TaskStatus::Blocked && c.text.is_none() {
                return Err(invalid("a blocked task says why"));
            }
            if to == TaskStatus::Cancelled {
                permit(actor, Action::AssignTask, scope, false)
            } else {
                permit(actor, Action::UpdateHeldTask, scope, holds)
            }
        }
        K::TaskEscalate => {
            only(&["scope"], &["scope"])?;
            let was: TaskScope = parse(&from("scope")?, "scope")?;
            let to: TaskScope = parse(value_of("scope").expect("written"), "scope")?;
            if !matches!((was, to), (TaskScope::National(_), TaskScope::Regional)) {
                return Err(invalid("escalation takes a national task to regional"));
            }
            permit(actor, Action::EscalateTask, scope, false)
        }
        K::TaskLink | K::TaskUnlink => {
            if c.writes.is_empty() {
                return Err(invalid("name at least one request"));
            }
            let want = Value::Bool(kind == K::TaskLink);
            for w in &c.writes {
                let ok = w
                    .field
                    .strip_prefix("link/")
                    .is_some_and(|id| id.parse::<EntityId>().is_ok());
                if !ok || w.value != want {
                    return Err(invalid(format!(
                        "{} writes link/<request id> = {want}",
                        kind.kind()
                    )));
                }
            }
            permit(actor, Action::LinkRequests, scope, false)
        }
        K::NoteAdd => {
            only(&[], &[])?;
            if c.text.is_none() {
                return Err(invalid("a note has text"));
            }
            permit(actor, Action::AddNote, scope, false).or_else(|refusal| {
                if holds {
                    Ok(())
                } else {
                    Err(refusal)
                }
            })
        }
        K::ConflictResolve => {
            if c.writes.is_empty() {
                return Err(invalid(
                    "a resolution chooses a value for at least one field",
                ));
            }
            for (w, seen) in c.writes.iter().zip(&seen_values) {
                if distinct(seen) < 2 {
                    return Err(invalid(format!(
                        "{} had no competing values to resolve",
                        w.field
                    )));
                }
                if !seen.iter().any(|(_, _, v)| *v == w.value) {
                    return Err(invalid(format!(
                        "the value chosen for {} is not one of the competing values",
                        w.field
                    )));
                }
            }
            permit(actor, Action::ResolveConflict, scope, false)
        }
        K::CrisisClose => {
            only(&["status"], &["status"])?;
            let from: String = parse(&from("status")?, "status")?;
            if from != "open" || value_of("status") != Some(&Value::from("closed")) {
                return Err(Refused::Lifecycle {
                    record,
                    from,
                    step: "close",
                });
            }
            permit(actor, Action::CloseCrisis, Scope::Regional, false)
        }
    }
}

/// How many different values a set of writes holds.
fn distinct(values: &[(Hlc, OpRef, Value)]) -> usize {
    let mut seen: Vec<&Value> = Vec::new();
    for (_, _, v) in values {
        if !seen.contains(&v) {
            seen.push(v);
        }
    }
    seen.len()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::{Country, Holder, NewTask, Priority, RequestDraft, Role, Sector};
    use crate::payload::{PersonDeclared, RequestCreated, TaskCreated, Write};
    use crate::{DeviceKey, OpHash};
    use serde_json::json;
    use std::collections::HashMap;

    /// A tiny log: ops by ref, and the grant each device declared.
    struct Log {
        ops: HashMap<OpRef, Dep>,
        key: DeviceKey,
        seq: u64,
    }

    const ME: EntityId = EntityId::from_bytes([7; 16]);
    const OTHER: EntityId = EntityId::from_bytes([8; 16]);
    const TASK: EntityId = EntityId::from_bytes([5; 16]);
    const REQ: EntityId = EntityId::from_bytes([6; 16]);

    impl Log {
        fn new() -> Log {
            Log {
                ops: HashMap::new(),
                key: DeviceKey::from_secret([4; 32]),
                seq: 0,
            }
        }

        fn op(&self, payload: &Payload) -> UnsignedOp {
            UnsignedOp {
                device: self.key.device_id(),
                seq: self.seq + 1,
                hlc: Hlc::new(1000 + self.seq, 0),
                author: ME,
                kind: payload.kind().into(),
                payload: payload.encode(),
                prev: OpHash::GENESIS,
            }
        }

        fn judge(&self, payload: &Payload, role: Role) -> Verdict {
            self.judge_at(payload, role, 1000 + self.seq)
        }

        /// As judged on any replica, the op made at `wall_ms`.
        fn judge_at(&self, payload: &Payload, role: Role, wall_ms: u64) -> Verdict {
            let dep = |r: &OpRef| self.ops.get(r).cloned();
            let ctx = Context {
                declared: Some((
                    ME,
                    Actor {
                        role,
                        country: Country::Gt,
                    },
                )),
                dep: &dep,
                hub: None,
            };
            let mut op = self.op(payload);
            op.hlc = Hlc::new(wall_ms, 0);
            verdict(&op, payload, &ctx)
        }

        /// Records an op as applied; returns its ref.
        fn push(&mut self, payload: Payload) -> OpRef {
            self.seq += 1;
            let r = OpRef {
                device: self.key.device_id(),
                seq: self.seq,
            };
            self.ops.insert(
                r,
                Dep {
                    hlc: Hlc::new(1000 + self.seq, 0),
                    payload,
                },
            );
            r
        }

        fn task(&mut self, scope: TaskScope, holder: Option<EntityId>) -> OpRef {
            self.push(Payload::TaskCreate(TaskCreated {
                id: TASK,
                reference: format!("TSK-{}-1", self.key.device_id().tag()),
                crisis: EntityId::from_bytes([1; 16]),
                task: NewTask {
                    title: "Agua para Tecún Umán".into(),
                    description: None,
                    scope,
                    sector: Sector::Wash,
                    priority: Priority::High,
                    due: None,
                },
                requests: vec![],
                holder: holder.map(|p| Holder {
                    person: Some(p),
                    org: None,
                }),
                alert: None,
            }))
        }
    }

    fn change(
        on: OpRef,
        entity: EntityId,
        writes: Vec<(&str, Value, Vec<OpRef>)>,
        saw: Vec<OpRef>,
    ) -> Change {
        Change {
            entity,
            on,
            writes: writes
                .into_iter()
                .map(|(f, v, seen)| Write {
                    field: f.into(),
                    value: v,
                    seen,
                })
                .collect(),
            saw,
            text: None,
            significant: false,
            fulfilment: None,
        }
    }

    fn holder(p: EntityId) -> Value {
        json!({"person": p, "org": null})
    }

    #[test]
    fn only_the_holder_accepts_and_a_cancelled_task_cannot_be_accepted() {
        let mut log = Log::new();
        let gt = TaskScope::National(Country::Gt);
        let t = log.task(gt, Some(OTHER));
        let accept = Payload::Change(
            ChangeKind::TaskAccept,
            change(
                t,
                TASK,
                vec![("status", json!("accepted"), vec![t])],
                vec![t],
            ),
        );
        let refused = log
            .judge(&accept, Role::FieldCoordinator)
            .expect_err("not the holder");
        assert!(matches!(refused, Refused::Permission(_)), "{refused}");

        let mut log = Log::new();
        let t = log.task(gt, Some(ME));
        let accept = Payload::Change(
            ChangeKind::TaskAccept,
            change(
                t,
                TASK,
                vec![("status", json!("accepted"), vec![t])],
                vec![t],
            ),
        );
        log.judge(&accept, Role::FieldCoordinator)
            .expect("the holder accepts");

        let cancel = log.push(Payload::Change(
            ChangeKind::TaskStatus,
            change(
                t,
                TASK,
                vec![("status", json!("cancelled"), vec![t])],
                vec![t],
            ),
        ));
        let accept = Payload::Change(
            ChangeKind::TaskAccept,
            change(
                t,
                TASK,
                vec![("status", json!("accepted"), vec![cancel])],
                vec![t],
            ),
        );
        let refused = log
            .judge(&accept, Role::FieldCoordinator)
            .expect_err("cancelled");
        assert_eq!(
            refused.to_string(),
            "a task that is cancelled cannot take the step accept"
        );
    }

    #[test]
    fn scope_comes_from_what_the_op_saw() {
        let mut log = Log::new();
        let t = log.task(TaskScope::National(Country::Gt), None);
        let assign = |saw| {
            Payload::Change(
                ChangeKind::TaskAssign,
                change(
                    t,
                    TASK,
                    vec![
                        ("holder", holder(OTHER), vec![t]),
                        ("status", json!("assigned"), vec![t]),
                    ],
                    saw,
                ),
            )
        };
        log.judge(&assign(vec![t]), Role::NationalDirector)
            .expect("own country");
        assert!(matches!(
            log.judge(&assign(vec![]), Role::NationalDirector),
            Err(Refused::Invalid(_))
        ));
        let esc = log.push(Payload::Change(
            ChangeKind::TaskEscalate,
            change(
                t,
                TASK,
                vec![("scope", json!("regional"), vec![t])],
                vec![t],
            ),
        ));
        let refused = log
            .judge(&assign(vec![esc, t]), Role::NationalDirector)
            .expect_err("regional now");
        assert!(
            refused
                .to_string()
                .contains("only within their own country"),
            "{refused}"
        );
        log.judge(&assign(vec![esc, t]), Role::RegionalDirector)
            .expect("regional director");
        // A field coordinator is never offered assignment.
        assert!(log.judge(&assign(vec![t]), Role::FieldCoordinator).is_err());
    }

    #[test]
    fn two_heads_need_a_resolution_by_a_regional_director() {
        let mut log = Log::new();
        let t = log.task(TaskScope::National(Country::Gt), None);
        let a = log.push(Payload::Change(
            ChangeKind::TaskAssign,
            change(
                t,
                TASK,
                vec![
                    ("holder", holder(ME), vec![t]),
                    ("status", json!("assigned"), vec![t]),
                ],
                vec![t],
            ),
        ));
        let b = log.push(Payload::Change(
            ChangeKind::TaskAssign,
            change(
                t,
                TASK,
                vec![
                    ("holder", holder(OTHER), vec![t]),
                    ("status", json!("assigned"), vec![t]),
                ],
                vec![t],
            ),
        ));
        let handover = Payload::Change(
            ChangeKind::TaskHandOver,
            change(
                t,
                TASK,
                vec![("holder", holder(ME), vec![a, b])],
                vec![t, a, b],
            ),
        );
        assert!(matches!(
            log.judge(&handover, Role::RegionalDirector),
            Err(Refused::InConflict { .. })
        ));
        let resolve = |value| {
            Payload::Change(
                ChangeKind::ConflictResolve,
                change(t, TASK, vec![("holder", value, vec![a, b])], vec![t]),
            )
        };
        log.judge(&resolve(holder(OTHER)), Role::RegionalDirector)
            .expect("resolves");
        assert!(log
            .judge(&resolve(holder(OTHER)), Role::NationalDirector)
            .is_err());
        assert!(
            log.judge(&resolve(holder(REQ)), Role::RegionalDirector)
                .is_err(),
            "a resolution picks one of the competing values"
        );
    }

    fn request(log: &mut Log, country: &str) -> OpRef {
        let request = RequestDraft {
            country: country.into(),
            site: "Corinto".into(),
            sector: "health".into(),
            people_total: Some(3.0),
            priority: "low".into(),
            description: "Consulta médica".into(),
            ..Default::default()
        }
        .validate()
        .expect("valid");
        let p = Payload::RequestCreate(RequestCreated {
            id: REQ,
            reference: format!("REQ-{}-1", log.key.device_id().tag()),
            crisis: EntityId::from_bytes([2; 16]),
            request,
        });
        log.judge(&p, Role::RegionalDirector)
            .expect("valid request");
        log.push(p)
    }

    #[test]
    fn request_lifecycle_and_roles() {
        let mut log = Log::new();
        let r = request(&mut log, "GT");
        let status = |to: &str, seen| {
            Payload::Change(
                ChangeKind::RequestStatus,
                change(r, REQ, vec![("status", json!(to), vec![seen])], vec![]),
            )
        };
        assert!(
            log.judge(&status("triaged", r), Role::FieldCoordinator)
                .is_err(),
            "triage is for directors"
        );
        log.judge(&status("triaged", r), Role::NationalDirector)
            .expect("triage");
        log.judge(&status("in-progress", r), Role::FieldCoordinator)
            .expect("progress");
        assert!(matches!(
            log.judge(&status("closed", r), Role::NationalDirector),
            Err(Refused::Lifecycle { .. })
        ));
        let bad = Payload::Change(
            ChangeKind::RequestUpdate,
            change(
                r,
                REQ,
                vec![(
                    "people",
                    json!({"total": 2, "women": 5, "men": null, "girls": null, "boys": null}),
                    vec![r],
                )],
                vec![],
            ),
        );
        assert!(matches!(
            log.judge(&bad, Role::FieldCoordinator),
            Err(Refused::Validation(_))
        ));
        let mut hn = Log::new();
        let r = request(&mut hn, "HN");
        let edit = Payload::Change(
            ChangeKind::RequestUpdate,
            change(
                r,
                REQ,
                vec![("priority", json!("critical"), vec![r])],
                vec![],
            ),
        );
        assert!(
            hn.judge(&edit, Role::FieldCoordinator).is_err(),
            "HN request, GT coordinator"
        );
    }

    #[test]
    fn references_and_self_declaration() {
        let mut log = Log::new();
        let p = Payload::RequestCreate(RequestCreated {
            id: REQ,
            reference: "REQ-ZZZZZZ-1".into(),
            crisis: EntityId::from_bytes([2; 16]),
            request: RequestDraft {
                country: "GT".into(),
                site: "x".into(),
                sector: "health".into(),
                people_total: Some(1.0),
                priority: "low".into(),
                description: "x".into(),
                ..Default::default()
            }
            .validate()
            .expect("valid"),
        });
        assert!(log
            .judge(&p, Role::FieldCoordinator)
            .expect_err("foreign tag")
            .to_string()
            .contains("not of the form"));
        let declare = Payload::PersonDeclare(PersonDeclared {
            id: OTHER,
            name: "Luis".into(),
            role: Role::NationalDirector,
            country: Country::Hn,
            org: None,
            demo: false,
        });
        assert!(log.judge(&declare, Role::FieldCoordinator).is_err());
        let _ = log.push(declare);
    }

    #[test]
    fn only_the_networks_hub_grants() {
        let hub = DeviceKey::from_secret([40; 32]).device_id();
        let other = DeviceKey::from_secret([41; 32]).device_id();
        let grant = Payload::DeviceGrant(crate::payload::DeviceGrant {
            device: other,
            person: EntityId::from_bytes([9; 16]),
            name: "Ana López".into(),
            role: Role::FieldCoordinator,
            country: Country::Gt,
            org: None,
        });
        let op = |device: DeviceId| UnsignedOp {
            device,
            seq: 2,
            hlc: Hlc::new(1, 0),
            author: EntityId::from_bytes([0; 16]),
            kind: grant.kind().into(),
            payload: grant.encode(),
            prev: OpHash([1; 32]),
        };
        let none = |_: &OpRef| None;
        let ctx = |hub| Context {
            declared: None,
            dep: &none,
            hub,
        };
        assert_eq!(verdict(&op(hub), &grant, &ctx(Some(hub))), Ok(()));
        for (maker, anchor) in [(other, Some(hub)), (hub, None)] {
            let refused = verdict(&op(maker), &grant, &ctx(anchor)).expect_err("not the hub");
            assert!(refused.to_string().contains("only the hub"), "{refused}");
        }
    }

    #[test]
    fn counts_alerts_and_acknowledgements_are_judged_from_the_op_alone() {
        use crate::domain::corridor::Surge;
        use crate::domain::{Corridor, Direction, FlowDraft, Segment, SurgeRule};
        use crate::payload::{AlertAcked, AlertArrival, AlertRaised, FlowCounted};
        const NOW: u64 = 1_790_000_000_000;
        let mut log = Log::new();
        let tag = log.key.device_id().tag();
        let count = FlowDraft {
            point: "gt-tecun-uman".into(),
            start: "2026-09-20T08:00".into(),
            end: "2026-09-20T09:00".into(),
            direction: "leaving".into(),
            total: Some(40.0),
            ..FlowDraft::default()
        }
        .validate(Some(Country::Gt), NOW as i64)
        .expect("count");
        let flow = Payload::FlowCount(FlowCounted {
            id: REQ,
            reference: format!("FLW-{tag}-1"),
            crisis: EntityId::from_bytes([1; 16]),
            count: count.clone(),
        });
        assert_eq!(log.judge_at(&flow, Role::FieldCoordinator, NOW), Ok(()));
        // Logged before its window ended (by the op's own clock): refused on
        // every replica alike.
        let early = count.end_ms as u64 - 3_600_000;
        assert!(matches!(
            log.judge_at(&flow, Role::FieldCoordinator, early),
            Err(Refused::Validation(_))
        ));
        assert!(matches!(
            log.judge_at(&flow, Role::Reviewer, NOW),
            Err(Refused::Permission(_))
        ));

        let alert = AlertRaised {
            id: TASK,
            reference: format!("ALR-{tag}-1"),
            crisis: EntityId::from_bytes([1; 16]),
            point: "hn-agua-caliente".into(),
            country: Country::Hn,
            direction: Direction::Leaving,
            count: REQ,
            window_end_ms: NOW as i64,
            surge: Surge {
                people: 900,
                baseline: Some(120.0),
                by: "factor".into(),
            },
            vulnerable: vec![],
            arrivals: vec![AlertArrival {
                point: "gt-agua-caliente".into(),
                country: Country::Gt,
                earliest_ms: NOW as i64 + 1000,
                latest_ms: NOW as i64 + 2000,
            }],
        };
        // A GT field coordinator cannot raise an alert at an HN point.
        let raise = Payload::AlertRaise(alert.clone());
        assert!(matches!(
            log.judge_at(&raise, Role::FieldCoordinator, NOW),
            Err(Refused::Permission(_))
        ));
        let on = log.push(raise);
        let ack = |country| {
            Payload::AlertAck(AlertAcked {
                alert: TASK,
                on,
                country,
                note: None,
            })
        };
        // The GT national director acknowledges for Guatemala, which the
        // alert concerns; not for the region, not as a field coordinator.
        assert_eq!(
            log.judge(&ack(Some(Country::Gt)), Role::NationalDirector),
            Ok(())
        );
        assert!(log.judge(&ack(None), Role::NationalDirector).is_err());
        assert!(log
            .judge(&ack(Some(Country::Gt)), Role::FieldCoordinator)
            .is_err());
        assert_eq!(log.judge(&ack(None), Role::RegionalDirector), Ok(()));
        // A country it does not concern: refused, naming the alert.
        let e = log
            .judge(&ack(Some(Country::Cr)), Role::RegionalDirector)
            .expect_err("not concerned");
        assert!(e.to_string().contains("does not concern CR"), "{e}");
        // Naming an op that is not the alert's.
        let mut wrong = AlertAcked {
            alert: OTHER,
            on,
            country: Some(Country::Gt),
            note: None,
        };
        assert!(log
            .judge(&Payload::AlertAck(wrong.clone()), Role::NationalDirector)
            .is_err());
        wrong.alert = TASK;
        wrong.on = OpRef {
            device: log.key.device_id(),
            seq: 99,
        };
        assert!(matches!(
            log.judge(&Payload::AlertAck(wrong), Role::NationalDirector),
            Err(Refused::Missing(_))
        ));

        // The corridor: a regional director's, and never a circle.
        let circle = Corridor {
            segments: vec![
                Segment {
                    from: "a".into(),
                    to: "b".into(),
                    days: 1.0,
                },
                Segment {
                    from: "b".into(),
                    to: "a".into(),
                    days: 1.0,
                },
            ],
            rule: SurgeRule::default(),
        };
        assert!(matches!(
            log.judge(&Payload::CorridorSet(circle), Role::RegionalDirector),
            Err(Refused::Validation(_))
        ));
        let default = crate::domain::corridor::default_corridor();
        assert_eq!(
            log.judge(
                &Payload::CorridorSet(default.clone()),
                Role::RegionalDirector
            ),
            Ok(())
        );
        assert!(matches!(
            log.judge(&Payload::CorridorSet(default), Role::NationalDirector),
            Err(Refused::Permission(_))
        ));
    }
}
