//! Response tasks (ICS 204): who does what, national or regional, and who
//! holds each one.

use super::person::{code as parse_code, optional_text, required_text};
use super::request::MAX_DESCRIPTION_CHARS;
use super::time::deadline;
use super::validation::{FieldError, Rule};
use super::{vocabulary, Country, Priority, Sector};
use crate::ids::EntityId;
use serde::{Deserialize, Serialize};
use specta::Type;

pub const MAX_TITLE_CHARS: usize = 200;
/// Most requests one task can be created from.
pub const MAX_LINKED: usize = 200;

vocabulary! {
    /// Where a task is in its life. `done` and `cancelled` are final.
    TaskStatus {
        Open => "open", "Open", "Abierta";
        Assigned => "assigned", "Assigned", "Asignada";
        Accepted => "accepted", "Accepted", "Aceptada";
        InProgress => "in-progress", "In progress", "En curso";
        Blocked => "blocked", "Blocked", "Bloqueada";
        Done => "done", "Done", "Terminada";
        Cancelled => "cancelled", "Cancelled", "Cancelada";
    }
}

impl TaskStatus {
    pub fn is_final(self) -> bool {
        matches!(self, TaskStatus::Done | TaskStatus::Cancelled)
    }

    /// Held by someone: it can be accepted, worked on and handed over.
    pub fn is_held(self) -> bool {
        matches!(
            self,
            TaskStatus::Assigned
                | TaskStatus::Accepted
                | TaskStatus::InProgress
                | TaskStatus::Blocked
        )
    }
}

/// The steps of a task's life, each an op kind of its own.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum TaskStep {
    /// Give an open task its first holder.
    Assign,
    /// The holder takes it on.
    Accept,
    /// From one holder to another, with a note.
    HandOver,
    /// Progress, block, finish or cancel.
    Status(TaskStatus),
}

impl TaskStep {
    /// The status a step leads to from `from`, or `None` when the lifecycle
    /// does not allow it.
    pub fn apply(self, from: TaskStatus) -> Option<TaskStatus> {
        use TaskStatus::*;
        if from.is_final() {
            return None;
        }
        match self {
            TaskStep::Assign => (from == Open).then_some(Assigned),
            TaskStep::Accept => (from == Assigned).then_some(Accepted),
            TaskStep::HandOver => from.is_held().then_some(Assigned),
            TaskStep::Status(to) => {
                let ok = match to {
                    Cancelled => true,
                    InProgress => matches!(from, Assigned | Accepted | Blocked),
                    Blocked => matches!(from, Assigned | Accepted | InProgress),
                    Done => matches!(from, Accepted | InProgress),
                    Open | Assigned | Accepted => false,
                };
                ok.then_some(to)
            }
        }
    }
}

/// National (one country's authorities) or regional (the commission as a
/// whole). Serialised as `{"national":"GT"}` or `"regional"`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize, Type)]
#[serde(rename_all = "kebab-case")]
pub enum TaskScope {
    National(Country),
    Regional,
}

/// Who holds a task: a person, an organisation, or both.
#[derive(Clone, Debug, PartialEq, Eq, Hash, Serialize, Deserialize, Type)]
pub struct Holder {
    pub person: Option<EntityId>,
    pub org: Option<String>,
}

impl Holder {
    pub fn is_empty(&self) -> bool {
        self.person.is_none() && self.org.is_none()
    }
}

/// A task as typed, before validation.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize, Type)]
#[serde(default)]
pub struct TaskDraft {
    pub title: String,
    pub description: String,
    /// `national` or `regional`.
    pub scope: String,
    /// The country of a national task.
    pub country: String,
    pub sector: String,
    pub priority: String,
    /// `YYYY-MM-DD`, `YYYY-MM-DDTHH:MM` (in the task's country) or RFC 3339.
    pub due: String,
    /// References (`REQ-…`) or ids of the requests it answers.
    pub requests: Vec<String>,
    /// Person id of the first holder, if assigned straight away.
    pub holder_person: String,
    /// Organisation id of the first holder.
    pub holder_org: String,
}

/// A validated task (linked requests are resolved by the store).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct NewTask {
    pub title: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    pub scope: TaskScope,
    pub sector: Sector,
    pub priority: Priority,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub due: Option<i64>,
}

impl TaskDraft {
    /// `home` is the country whose zone reads a regional task's due date.
    pub fn validate(&self, home: Country) -> Result<(NewTask, Option<Holder>), Vec<FieldError>> {
        let mut errors = Vec::new();
        let title = required_text(&self.title, "title", MAX_TITLE_CHARS, &mut errors);
        let description = optional_text(
            &self.description,
            "description",
            MAX_DESCRIPTION_CHARS,
            &mut errors,
        );
        let scope = match self.scope.trim().to_ascii_lowercase().as_str() {
            "regional" => Some(TaskScope::Regional),
            "national" | "" => parse_code(
                &self.country,
                "country",
                Country::parse,
                Country::slugs,
                &mut errors,
            )
            .map(TaskScope::National),
            other => {
                errors.push(FieldError::new(
                    "scope",
                    Rule::Unknown,
                    format!("'{other}' is not a scope; use national or regional"),
                ));
                None
            }
        };
        let sector = parse_code(
            &self.sector,
            "sector",
            Sector::parse,
            Sector::slugs,
            &mut errors,
        );
        let priority = parse_code(
            &self.priority,
            "priority",
            Priority::parse,
            Priority::slugs,
            &mut errors,
        );
        let zone = match scope {
            Some(TaskScope::National(c)) => c,
            _ => home,
        };
        let due = deadline(&self.due, "due", zone, &mut errors);
        if self.requests.len() > MAX_LINKED {
            errors.push(
                FieldError::new(
                    "requests",
                    Rule::TooLarge,
                    format!(
                        "{} requests; one task can answer at most {MAX_LINKED}",
                        self.requests.len()
                    ),
                )
                .with_limit(MAX_LINKED as u64),
            );
        }
        let holder = holder(&self.holder_person, &self.holder_org, &mut errors);
        match (title, scope, sector, priority) {
            (Some(title), Some(scope), Some(sector), Some(priority)) if errors.is_empty() => Ok((
                NewTask {
                    title,
                    description,
                    scope,
                    sector,
                    priority,
                    due,
                },
                holder,
            )),
            _ => Err(errors),
        }
    }
}

impl NewTask {
    /// The rules a task received from another device must meet.
    pub fn check(&self) -> Result<(), Vec<FieldError>> {
        let mut errors = Vec::new();
        required_text(&self.title, "title", MAX_TITLE_CHARS, &mut errors);
        if let Some(d) = &self.description {
            required_text(d, "description", MAX_DESCRIPTION_CHARS, &mut errors);
        }
        if errors.is_empty() {
            Ok(())
        } else {
            Err(errors)
        }
    }
}

/// A holder from a person id and/or an organisation id; `None` when both are
/// empty.
pub fn holder(person: &str, org: &str, errors: &mut Vec<FieldError>) -> Option<Holder> {
    let person = match person.trim() {
        "" => None,
        p => match p.parse::<EntityId>() {
            Ok(id) => Some(id),
            Err(_) => {
                errors.push(FieldError::new(
                    "holder",
                    Rule::NotOnRoster,
                    format!("'{p}' is not a person id from the roster"),
                ));
                None
            }
        },
    };
    let org = optional_text(org, "holder", 60, errors);
    let h = Holder { person, org };
    (!h.is_empty()).then_some(h)
}

#[cfg(test)]
mod tests {
    use super::*;
    use TaskStatus::*;

    #[test]
    fn lifecycle() {
        assert_eq!(TaskStep::Assign.apply(Open), Some(Assigned));
        assert_eq!(
            TaskStep::Assign.apply(Assigned),
            None,
            "reassigning is a handover"
        );
        assert_eq!(TaskStep::Accept.apply(Assigned), Some(Accepted));
        assert_eq!(TaskStep::Accept.apply(Cancelled), None);
        assert_eq!(TaskStep::HandOver.apply(InProgress), Some(Assigned));
        assert_eq!(TaskStep::HandOver.apply(Open), None);
        assert_eq!(TaskStep::Status(Done).apply(Assigned), None, "accept first");
        assert_eq!(TaskStep::Status(Done).apply(InProgress), Some(Done));
        assert_eq!(TaskStep::Status(Blocked).apply(Accepted), Some(Blocked));
        assert_eq!(
            TaskStep::Status(InProgress).apply(Blocked),
            Some(InProgress)
        );
        assert_eq!(TaskStep::Status(Cancelled).apply(Open), Some(Cancelled));
        for step in [
            TaskStep::Accept,
            TaskStep::HandOver,
            TaskStep::Status(Cancelled),
        ] {
            assert_eq!(step.apply(Done), None);
        }
    }

    #[test]
    fn scope_serialises_as_designed() {
        assert_eq!(
            serde_json::to_string(&TaskScope::National(Country::Gt)).expect("json"),
            r#"{"national":"GT"}"#
        );
        assert_eq!(
            serde_json::to_string(&TaskScope::Regional).expect("json"),
            r#""regional""#
        );
    }

    #[test]
    fn draft_rules() {
        let d = TaskDraft {
            title: "Distribuir kits de higiene".into(),
            scope: "national".into(),
            country: "HN".into(),
            sector: "wash".into(),
            priority: "high".into(),
            due: "2026-12-03".into(),
            ..Default::default()
        };
        let (t, h) = d.validate(Country::Gt).expect("valid");
        assert_eq!(t.scope, TaskScope::National(Country::Hn));
        assert!(h.is_none());
        let bad = TaskDraft {
            title: "".into(),
            scope: "global".into(),
            holder_person: "ana".into(),
            ..d
        };
        let fields: Vec<_> = bad
            .validate(Country::Gt)
            .expect_err("bad")
            .into_iter()
            .map(|e| (e.field, e.rule))
            .collect();
        assert_eq!(
            fields,
            vec![
                ("title".into(), Rule::Required),
                ("scope".into(), Rule::Unknown),
                ("holder".into(), Rule::NotOnRoster)
            ]
        );
    }
}
