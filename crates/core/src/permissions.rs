//! Who may do what, where: the one function every replica asks.
//!
//! A verdict depends only on the actor's role and country (their grant), the
//! action, the scope of the record it touches and — for "a task they hold" —
//! whether the actor is the holder the op saw. It never depends on a
//! replica's current state, so every device and the hub reach the same
//! verdict whatever order ops arrive in.
//!
//! [`crate::rules::verdict`] asks it for every op, before a device makes it
//! and again on every replica that receives it.

use crate::domain::{Country, Role};
use serde::{Deserialize, Serialize};
use specta::Type;
use std::fmt;

/// Something a person can do to the record.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize, Type)]
#[serde(rename_all = "kebab-case")]
pub enum Action {
    OpenCrisis,
    CloseCrisis,
    /// Log a new assistance request.
    LogRequest,
    /// Correct a request's details, record fulfilment.
    UpdateRequest,
    /// Move a request through its lifecycle (triaged, closed, cancelled,
    /// duplicate).
    TriageRequest,
    AddNote,
    CreateTask,
    AssignTask,
    HandOverTask,
    /// Turn a national task into a regional one.
    EscalateTask,
    /// Accept, progress, block or finish a task the actor holds.
    UpdateHeldTask,
    LinkRequests,
    ResolveConflict,
    ManageRoster,
    /// Log a flow count (and the alert a surge in it raises).
    LogFlow,
    /// Acknowledge an early-warning alert for a country (or the region).
    AcknowledgeAlert,
    /// Change the corridor and the surge rule.
    SetCorridor,
}

impl Action {
    pub const ALL: &'static [Action] = &[
        Action::OpenCrisis,
        Action::CloseCrisis,
        Action::LogRequest,
        Action::UpdateRequest,
        Action::TriageRequest,
        Action::AddNote,
        Action::CreateTask,
        Action::AssignTask,
        Action::HandOverTask,
        Action::EscalateTask,
        Action::UpdateHeldTask,
        Action::LinkRequests,
        Action::ResolveConflict,
        Action::ManageRoster,
        Action::LogFlow,
        Action::AcknowledgeAlert,
        Action::SetCorridor,
    ];

    /// A stable name for the UI's message catalogue.
    pub fn slug(self) -> &'static str {
        match self {
            Action::OpenCrisis => "open-crisis",
            Action::CloseCrisis => "close-crisis",
            Action::LogRequest => "log-request",
            Action::UpdateRequest => "update-request",
            Action::TriageRequest => "triage-request",
            Action::AddNote => "add-note",
            Action::CreateTask => "create-task",
            Action::AssignTask => "assign-task",
            Action::HandOverTask => "hand-over-task",
            Action::EscalateTask => "escalate-task",
            Action::UpdateHeldTask => "update-held-task",
            Action::LinkRequests => "link-requests",
            Action::ResolveConflict => "resolve-conflict",
            Action::ManageRoster => "manage-roster",
            Action::LogFlow => "log-flow",
            Action::AcknowledgeAlert => "acknowledge-alert",
            Action::SetCorridor => "set-corridor",
        }
    }

    fn describe(self) -> &'static str {
        match self {
            Action::OpenCrisis => "open a crisis",
            Action::CloseCrisis => "close a crisis",
            Action::LogRequest => "log a request",
            Action::UpdateRequest => "update a request",
            Action::TriageRequest => "triage a request",
            Action::AddNote => "add a note",
            Action::CreateTask => "create a task",
            Action::AssignTask => "assign a task",
            Action::HandOverTask => "hand over a task",
            Action::EscalateTask => "escalate a task",
            Action::UpdateHeldTask => "accept or update a task",
            Action::LinkRequests => "link requests to a task",
            Action::ResolveConflict => "resolve a conflict",
            Action::ManageRoster => "change the roster",
            Action::LogFlow => "log a flow count",
            Action::AcknowledgeAlert => "acknowledge an alert",
            Action::SetCorridor => "change the corridor",
        }
    }
}

/// Where the record an action touches belongs.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Scope {
    /// One country's record (a request, a national task).
    National(Country),
    /// The region as a whole (a regional task, the roster, a crisis).
    Regional,
}

/// A person as the permission rules see them: their grant.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Actor {
    pub role: Role,
    pub country: Country,
}

/// Why an action was refused, saying what it would need.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Refusal {
    pub action: Action,
    pub role: Role,
    /// The roles that may do it (in the right scope).
    pub needs: Vec<Role>,
    /// The action is allowed for this role, but not in this scope.
    pub out_of_scope: bool,
    /// The action is allowed for this role only on a task they hold.
    pub not_holder: bool,
}

impl fmt::Display for Refusal {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let role = self.role.name_en().to_lowercase();
        if self.not_holder {
            return write!(
                f,
                "a {role} can {} only when they hold it",
                self.action.describe()
            );
        }
        if self.out_of_scope {
            return write!(
                f,
                "a {role} can {} only within their own country",
                self.action.describe()
            );
        }
        if self.role == Role::Reviewer {
            return write!(
                f,
                "a reviewer can only read; to {} you need another role",
                self.action.describe()
            );
        }
        let needs: Vec<String> = self
            .needs
            .iter()
            .map(|r| r.name_en().to_lowercase())
            .collect();
        write!(
            f,
            "a {role} cannot {}; it needs a {}",
            self.action.describe(),
            needs.join(" or ")
        )
    }
}

impl std::error::Error for Refusal {}

impl Refusal {
    /// Why, in one word: `scope` (right role, wrong country), `holder` (only
    /// the holder may), `reviewer` (read-only) or `role`.
    pub fn why(&self) -> &'static str {
        if self.not_holder {
            "holder"
        } else if self.out_of_scope {
            "scope"
        } else if self.role == Role::Reviewer {
            "reviewer"
        } else {
            "role"
        }
    }
}

/// What a role may do, and where.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
enum Reach {
    Never,
    /// Only records of the actor's own country.
    OwnCountry,
    /// Only a task the actor holds.
    HeldOnly,
    Anywhere,
}

fn reach(role: Role, action: Action) -> Reach {
    use Action::*;
    use Reach::*;
    // Until crises arrive by sync, whoever is first on the ground must be
    // able to open one and start recording, offline.
    if action == OpenCrisis {
        return if role == Role::Reviewer {
            Never
        } else {
            Anywhere
        };
    }
    match role {
        Role::Reviewer => Never,
        Role::FieldCoordinator => match action {
            LogRequest | UpdateRequest | AddNote | LogFlow => OwnCountry,
            UpdateHeldTask => HeldOnly,
            _ => Never,
        },
        Role::NationalDirector => match action {
            ResolveConflict | ManageRoster | CloseCrisis | SetCorridor => Never,
            UpdateHeldTask => HeldOnly,
            _ => OwnCountry,
        },
        Role::RegionalDirector => match action {
            ManageRoster => Never,
            _ => Anywhere,
        },
        Role::Administrator => match action {
            ManageRoster => Anywhere,
            _ => Never,
        },
    }
}

/// The actions `actor` may take somewhere: in their own country, in the
/// region, or on a task they hold. The app offers what this lists and
/// nothing else, so that it never re-derives permissions from role names;
/// every op is still checked by [`check`] when it is made and received.
pub fn allowed(actor: Actor) -> Vec<Action> {
    Action::ALL
        .iter()
        .copied()
        .filter(|a| reach(actor.role, *a) != Reach::Never)
        .collect()
}

/// May `actor` do `action` on a record in `scope`? `holds` says whether the
/// actor is the holder the op saw (only [`Action::UpdateHeldTask`] uses it;
/// directors who do not hold a task manage it through assign and hand over).
pub fn check(actor: Actor, action: Action, scope: Scope, holds: bool) -> Result<(), Refusal> {
    let allowed = match reach(actor.role, action) {
        Reach::Never => false,
        Reach::Anywhere => true,
        Reach::OwnCountry => scope == Scope::National(actor.country),
        Reach::HeldOnly => holds,
    };
    if allowed {
        return Ok(());
    }
    let needs = Role::ALL
        .iter()
        .copied()
        .filter(|r| reach(*r, action) != Reach::Never)
        .collect();
    let out_of_scope = reach(actor.role, action) == Reach::OwnCountry;
    let not_holder = reach(actor.role, action) == Reach::HeldOnly;
    Err(Refusal {
        action,
        role: actor.role,
        needs,
        out_of_scope,
        not_holder,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use Action::*;

    const GT: Country = Country::Gt;
    const HN: Country = Country::Hn;

    /// What the app offers is exactly what some op of the person would
    /// pass: in their country, another, the region, or on a held task.
    #[test]
    fn allowed_lists_what_check_lets_through_somewhere() {
        for role in Role::ALL.iter().copied() {
            let actor = Actor { role, country: GT };
            let allowed = allowed(actor);
            for action in Action::ALL.iter().copied() {
                let somewhere = [Scope::National(GT), Scope::National(HN), Scope::Regional]
                    .into_iter()
                    .any(|scope| {
                        [false, true]
                            .into_iter()
                            .any(|holds| check(actor, action, scope, holds).is_ok())
                    });
                assert_eq!(allowed.contains(&action), somewhere, "{role:?} {action:?}");
            }
        }
        let reviewer = allowed(Actor {
            role: Role::Reviewer,
            country: GT,
        });
        assert!(reviewer.is_empty(), "{reviewer:?}");
    }

    /// Every role × action × scope, written out: (role, action, own country,
    /// other country, regional, a task the actor holds).
    #[test]
    fn the_whole_table() {
        let y = true;
        let n = false;
        #[rustfmt::skip]
        let table: &[(Role, Action, bool, bool, bool, bool)] = &[
            // role                     action            own    other  region held
            (Role::FieldCoordinator,  OpenCrisis,       y, y, y, y),
            (Role::FieldCoordinator,  CloseCrisis,      n, n, n, n),
            (Role::FieldCoordinator,  LogRequest,       y, n, n, n),
            (Role::FieldCoordinator,  UpdateRequest,    y, n, n, n),
            (Role::FieldCoordinator,  TriageRequest,    n, n, n, n),
            (Role::FieldCoordinator,  AddNote,          y, n, n, n),
            (Role::FieldCoordinator,  CreateTask,       n, n, n, n),
            (Role::FieldCoordinator,  AssignTask,       n, n, n, n),
            (Role::FieldCoordinator,  HandOverTask,     n, n, n, n),
            (Role::FieldCoordinator,  EscalateTask,     n, n, n, n),
            (Role::FieldCoordinator,  UpdateHeldTask,   n, n, n, y),
            (Role::FieldCoordinator,  LinkRequests,     n, n, n, n),
            (Role::FieldCoordinator,  ResolveConflict,  n, n, n, n),
            (Role::FieldCoordinator,  ManageRoster,     n, n, n, n),
            (Role::FieldCoordinator,  LogFlow,          y, n, n, n),
            (Role::FieldCoordinator,  AcknowledgeAlert, n, n, n, n),
            (Role::FieldCoordinator,  SetCorridor,      n, n, n, n),
            (Role::NationalDirector,  OpenCrisis,       y, y, y, y),
            (Role::NationalDirector,  CloseCrisis,      n, n, n, n),
            (Role::NationalDirector,  LogRequest,       y, n, n, n),
            (Role::NationalDirector,  UpdateRequest,    y, n, n, n),
            (Role::NationalDirector,  TriageRequest,    y, n, n, n),
            (Role::NationalDirector,  AddNote,          y, n, n, n),
            (Role::NationalDirector,  CreateTask,       y, n, n, n),
            (Role::NationalDirector,  AssignTask,       y, n, n, n),
            (Role::NationalDirector,  HandOverTask,     y, n, n, n),
            (Role::NationalDirector,  EscalateTask,     y, n, n, n),
            (Role::NationalDirector,  UpdateHeldTask,   n, n, n, y),
            (Role::NationalDirector,  LinkRequests,     y, n, n, n),
            (Role::NationalDirector,  ResolveConflict,  n, n, n, n),
            (Role::NationalDirector,  ManageRoster,     n, n, n, n),
            (Role::NationalDirector,  LogFlow,          y, n, n, n),
            (Role::NationalDirector,  AcknowledgeAlert, y, n, n, n),
            (Role::NationalDirector,  SetCorridor,      n, n, n, n),
            (Role::RegionalDirector,  OpenCrisis,       y, y, y, y),
            (Role::RegionalDirector,  CloseCrisis,      y, y, y, y),
            (Role::RegionalDirector,  LogRequest,       y, y, y, y),
            (Role::RegionalDirector,  UpdateRequest,    y, y, y, y),
            (Role::RegionalDirector,  TriageRequest,    y, y, y, y),
            (Role::RegionalDirector,  AddNote,          y, y, y, y),
            (Role::RegionalDirector,  CreateTask,       y, y, y, y),
            (Role::RegionalDirector,  AssignTask,       y, y, y, y),
            (Role::RegionalDirector,  HandOverTask,     y, y, y, y),
            (Role::RegionalDirector,  EscalateTask,     y, y, y, y),
            (Role::RegionalDirector,  UpdateHeldTask,   y, y, y, y),
            (Role::RegionalDirector,  LinkRequests,     y, y, y, y),
            (Role::RegionalDirector,  ResolveConflict,  y, y, y, y),
            (Role::RegionalDirector,  ManageRoster,     n, n, n, n),
            (Role::RegionalDirector,  LogFlow,          y, y, y, y),
            (Role::RegionalDirector,  AcknowledgeAlert, y, y, y, y),
            (Role::RegionalDirector,  SetCorridor,      y, y, y, y),
            (Role::Administrator,     OpenCrisis,       y, y, y, y),
            (Role::Administrator,     ManageRoster,     y, y, y, y),
        ];
        // Reviewers: nothing, anywhere. Administrators: only what is listed.
        let mut rows: Vec<(Role, Action, bool, bool, bool, bool)> = table.to_vec();
        for &action in Action::ALL {
            rows.push((Role::Reviewer, action, n, n, n, n));
            if !table
                .iter()
                .any(|r| r.0 == Role::Administrator && r.1 == action)
            {
                rows.push((Role::Administrator, action, n, n, n, n));
            }
        }
        for &role in Role::ALL {
            for &action in Action::ALL {
                assert_eq!(
                    rows.iter().filter(|r| r.0 == role && r.1 == action).count(),
                    1,
                    "the table must state {role:?} × {action:?} exactly once"
                );
            }
        }
        for (role, action, own, other, regional, held) in rows {
            let actor = Actor { role, country: GT };
            let verdict = |scope, holds| check(actor, action, scope, holds).is_ok();
            assert_eq!(
                verdict(Scope::National(GT), false),
                own,
                "{role:?} {action:?} in own country"
            );
            assert_eq!(
                verdict(Scope::National(HN), false),
                other,
                "{role:?} {action:?} in another country"
            );
            assert_eq!(
                verdict(Scope::Regional, false),
                regional,
                "{role:?} {action:?} regional"
            );
            assert_eq!(
                verdict(Scope::National(HN), true),
                held || other,
                "{role:?} {action:?} on a held task"
            );
        }
    }

    #[test]
    fn refusals_say_what_is_needed() {
        let fc = Actor {
            role: Role::FieldCoordinator,
            country: GT,
        };
        let r = check(fc, AssignTask, Scope::National(GT), false).expect_err("refused");
        assert_eq!(r.to_string(), "a field coordinator cannot assign a task; it needs a national director or regional director");
        let r = check(fc, LogRequest, Scope::National(HN), false).expect_err("out of scope");
        assert_eq!(
            r.to_string(),
            "a field coordinator can log a request only within their own country"
        );
        let rev = Actor {
            role: Role::Reviewer,
            country: GT,
        };
        assert!(check(rev, AddNote, Scope::National(GT), false)
            .expect_err("read-only")
            .to_string()
            .contains("only read"));
    }
}
