//! The TypeScript types the UI uses, generated from the Rust types that
//! cross the IPC boundary. `ui/src/lib/bindings.ts` is this output; a test
//! fails when it is stale (regenerate with `RELEVO_WRITE_BINDINGS=1 cargo
//! test -p relevo-store bindings`).

use crate::coord::{FulfilmentDraft, HolderDraft};
use crate::log::Waits;
use crate::net::{ForkView, SyncState, SyncStatus, WaitingView};
use crate::queries::{CrisisView, IdentityView, RequestView, Snapshot};
use crate::views::{
    Board, BoardColumn, ConflictValue, ConflictView, FieldChange, FulfilmentView, HolderChange,
    HolderView, Holding, PersonView, RequestDetail, RequestFilter, Roster, TaskDetail, TaskFilter,
    TaskView, TimelineEntry,
};
use relevo_core::api::{ApiError, ErrorCode};
use relevo_core::domain::roster::{Org, OrgKind, Site, SiteKind};
use relevo_core::domain::{
    Country, CrisisDraft, FieldError, Holder, IdentityDraft, ItemDraft, ItemLine, People,
    PersonDraft, Priority, RequestDraft, RequestStatus, Role, Rule, Sector, TaskDraft, TaskScope,
    TaskStatus, Vulnerable, VulnerableDraft, VulnerableGroup,
};
use relevo_core::EntityId;
use ts_rs::{Config, TS};

/// The whole bindings file.
pub fn typescript() -> String {
    let cfg = Config::default();
    let decls = [
        EntityId::decl(&cfg),
        Country::decl(&cfg),
        Sector::decl(&cfg),
        Priority::decl(&cfg),
        Role::decl(&cfg),
        Rule::decl(&cfg),
        FieldError::decl(&cfg),
        ErrorCode::decl(&cfg),
        ApiError::decl(&cfg),
        People::decl(&cfg),
        RequestStatus::decl(&cfg),
        VulnerableGroup::decl(&cfg),
        Vulnerable::decl(&cfg),
        VulnerableDraft::decl(&cfg),
        ItemLine::decl(&cfg),
        ItemDraft::decl(&cfg),
        RequestDraft::decl(&cfg),
        IdentityDraft::decl(&cfg),
        CrisisDraft::decl(&cfg),
        relevo_core::permissions::Action::decl(&cfg),
        IdentityView::decl(&cfg),
        CrisisView::decl(&cfg),
        RequestView::decl(&cfg),
        Snapshot::decl(&cfg),
        TaskStatus::decl(&cfg),
        TaskScope::decl(&cfg),
        Holder::decl(&cfg),
        TaskDraft::decl(&cfg),
        HolderDraft::decl(&cfg),
        FulfilmentDraft::decl(&cfg),
        HolderView::decl(&cfg),
        TaskView::decl(&cfg),
        TaskFilter::decl(&cfg),
        BoardColumn::decl(&cfg),
        Board::decl(&cfg),
        RequestFilter::decl(&cfg),
        FieldChange::decl(&cfg),
        TimelineEntry::decl(&cfg),
        ConflictValue::decl(&cfg),
        ConflictView::decl(&cfg),
        FulfilmentView::decl(&cfg),
        RequestDetail::decl(&cfg),
        HolderChange::decl(&cfg),
        TaskDetail::decl(&cfg),
        Holding::decl(&cfg),
        PersonView::decl(&cfg),
        OrgKind::decl(&cfg),
        Org::decl(&cfg),
        SiteKind::decl(&cfg),
        Site::decl(&cfg),
        Roster::decl(&cfg),
        PersonDraft::decl(&cfg),
        ForkView::decl(&cfg),
        Waits::decl(&cfg),
        WaitingView::decl(&cfg),
        SyncState::decl(&cfg),
        SyncStatus::decl(&cfg),
        crate::TimelineFilter::decl(&cfg),
        crate::Event::decl(&cfg),
        crate::Basis::decl(&cfg),
        crate::Span::decl(&cfg),
        crate::AsOfView::decl(&cfg),
        crate::Stat::decl(&cfg),
        crate::ResponseTimes::decl(&cfg),
        crate::RecordRef::decl(&cfg),
        crate::DeviceLag::decl(&cfg),
        crate::Handovers::decl(&cfg),
        crate::AlertTimes::decl(&cfg),
        crate::Measures::decl(&cfg),
        crate::PeopleSum::decl(&cfg),
        crate::WhoWhatWhere::decl(&cfg),
        crate::AreaCount::decl(&cfg),
        crate::HeadsReport::decl(&cfg),
        crate::DeviceReport::decl(&cfg),
        crate::VerifyReport::decl(&cfg),
        relevo_core::domain::Direction::decl(&cfg),
        relevo_core::domain::Transport::decl(&cfg),
        relevo_core::domain::Nationality::decl(&cfg),
        relevo_core::domain::NationalityDraft::decl(&cfg),
        relevo_core::domain::FlowDraft::decl(&cfg),
        relevo_core::domain::FlowCount::decl(&cfg),
        relevo_core::domain::Segment::decl(&cfg),
        relevo_core::domain::SurgeRule::decl(&cfg),
        relevo_core::domain::Corridor::decl(&cfg),
        relevo_core::domain::corridor::Surge::decl(&cfg),
        relevo_core::payload::AlertArrival::decl(&cfg),
        crate::FlowView::decl(&cfg),
        crate::FlowFilter::decl(&cfg),
        crate::ArrivalView::decl(&cfg),
        crate::AckView::decl(&cfg),
        crate::AlertTask::decl(&cfg),
        crate::AlertView::decl(&cfg),
        crate::AlertTaskProposal::decl(&cfg),
        crate::PointFlow::decl(&cfg),
        crate::SegmentFlow::decl(&cfg),
        crate::CorridorPicture::decl(&cfg),
        crate::Logged::decl(&cfg),
        crate::settings::WindowSize::decl(&cfg),
        crate::settings::Settings::decl(&cfg),
    ];
    let mut out = String::from(
        "// Generated from the Rust types by relevo-store's bindings test. Do not edit.\n\
         // Regenerate: RELEVO_WRITE_BINDINGS=1 cargo test -p relevo-store bindings\n\n",
    );
    for decl in decls {
        out.push_str("export ");
        out.push_str(&decl);
        out.push_str("\n\n");
    }
    out.truncate(out.trim_end().len());
    out.push('\n');
    out
}

#[cfg(test)]
mod tests {
    #[test]
    fn bindings_are_fresh() {
        let path = concat!(env!("CARGO_MANIFEST_DIR"), "/../../ui/src/lib/bindings.ts");
        let generated = super::typescript();
        if std::env::var_os("RELEVO_WRITE_BINDINGS").is_some() {
            std::fs::write(path, &generated).expect("write bindings");
        }
        let on_disk = std::fs::read_to_string(path).unwrap_or_default();
        assert!(
            on_disk == generated,
            "ui/src/lib/bindings.ts is stale: the Rust types crossing IPC changed. \
             Run `RELEVO_WRITE_BINDINGS=1 cargo test -p relevo-store bindings` and commit the result."
        );
    }
}
