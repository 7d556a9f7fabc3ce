//! The nouns of a migration-crisis response and their validation rules.

pub mod corridor;
pub mod country;
pub mod flow;
pub mod person;
pub mod request;
pub mod role;
pub mod roster;
pub mod sector;
pub mod task;
pub mod time;
pub mod validation;

pub use corridor::{Arrival, Corridor, Segment, SurgeRule};
pub use country::Country;
pub use flow::{Direction, FlowCount, FlowDraft, Nationality, NationalityDraft, Transport};
pub use person::{Crisis, CrisisDraft, Identity, IdentityDraft};
pub use request::{
    ItemDraft, ItemLine, NewRequest, People, Priority, RequestDraft, RequestStatus, Vulnerable,
    VulnerableDraft, VulnerableGroup,
};
pub use role::Role;
pub use roster::{Org, OrgDraft, OrgKind, PersonDraft, Site, SiteDraft, SiteKind};
pub use sector::Sector;
pub use task::{Holder, NewTask, TaskDraft, TaskScope, TaskStatus, TaskStep};
pub use validation::{FieldError, Rule};

/// Declares a closed vocabulary: a unit enum with its slug and its names in
/// English and Spanish, serialised as the slug.
macro_rules! vocabulary {
    ($(#[$meta:meta])* $name:ident { $($variant:ident => $slug:literal, $en:literal, $es:literal;)+ }) => {
        $(#[$meta])*
        #[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash,
                 serde::Serialize, serde::Deserialize, specta::Type)]
        pub enum $name {
            $(#[serde(rename = $slug)] $variant,)+
        }

        impl $name {
            pub const ALL: &'static [$name] = &[$($name::$variant,)+];

            pub fn slug(self) -> &'static str {
                match self { $($name::$variant => $slug,)+ }
            }

            pub fn name_en(self) -> &'static str {
                match self { $($name::$variant => $en,)+ }
            }

            pub fn name_es(self) -> &'static str {
                match self { $($name::$variant => $es,)+ }
            }

            /// Case-insensitive, surrounding spaces ignored.
            pub fn parse(text: &str) -> Option<Self> {
                let text = text.trim();
                Self::ALL.iter().copied().find(|v| v.slug().eq_ignore_ascii_case(text))
            }

            /// The accepted slugs, for error messages.
            pub fn slugs() -> String {
                Self::ALL.iter().map(|v| v.slug()).collect::<Vec<_>>().join(", ")
            }
        }

        impl std::fmt::Display for $name {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str(self.slug())
            }
        }
    };
}
pub(crate) use vocabulary;
