//! Entity ids and the references people read aloud over a radio.
//!
//! Entity ids are UUIDv7: time-ordered and unique without coordination.
//! References (`REQ-7K2M9Q-14`) are for humans: a short tag derived from the
//! device key plus a per-device counter, so two offline devices never hand out
//! the same reference and nobody needs a central counter.

use serde::{Deserialize, Serialize};
use specta::Type;
use std::fmt;
use std::str::FromStr;
use uuid::Uuid;

/// The id of an entity (crisis, request, person...). A UUIDv7.
#[derive(
    Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize, Type,
)]
#[specta(type = String)]
pub struct EntityId(Uuid);

impl EntityId {
    /// A UUIDv7 from a Unix time in milliseconds and 10 random bytes supplied
    /// by the caller (core does no I/O, so it cannot read the OS random source).
    pub fn new_v7(unix_ms: u64, random: [u8; 10]) -> Self {
        EntityId(uuid::Builder::from_unix_timestamp_millis(unix_ms, &random).into_uuid())
    }

    pub const fn from_bytes(bytes: [u8; 16]) -> Self {
        EntityId(Uuid::from_bytes(bytes))
    }

    pub fn as_bytes(&self) -> &[u8; 16] {
        self.0.as_bytes()
    }
}

impl fmt::Display for EntityId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.0.hyphenated().fmt(f)
    }
}

impl FromStr for EntityId {
    type Err = uuid::Error;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Uuid::parse_str(s).map(EntityId)
    }
}

/// The kinds of record that carry a human reference.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum RefKind {
    Request,
    Task,
    Flow,
    Alert,
}

impl RefKind {
    pub fn prefix(self) -> &'static str {
        match self {
            RefKind::Request => "REQ",
            RefKind::Task => "TSK",
            RefKind::Flow => "FLW",
            RefKind::Alert => "ALR",
        }
    }
}

/// A human reference such as `REQ-7K2M9Q-14`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Reference(String);

impl Reference {
    /// `counter` is the device's own count of records of this kind, from 1.
    pub fn new(kind: RefKind, device_tag: &str, counter: u64) -> Self {
        Reference(format!("{}-{}-{}", kind.prefix(), device_tag, counter))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// The device's count in a reference (`14` in `REQ-7K2M9Q-14`).
    pub fn number(reference: &str) -> Option<u64> {
        let (_, n) = reference.rsplit_once('-')?;
        n.parse().ok()
    }

    pub fn into_string(self) -> String {
        self.0
    }
}

impl fmt::Display for Reference {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_reference_gives_back_its_number() {
        let r = Reference::new(RefKind::Task, "7K2M9Q", 14);
        assert_eq!(Reference::number(r.as_str()), Some(14));
        assert_eq!(Reference::number("REQ-7K2M9Q-"), None);
        assert_eq!(Reference::number("REQ"), None);
    }

    #[test]
    fn v7_ids_sort_by_time() {
        let a = EntityId::new_v7(1_000, [0xff; 10]);
        let b = EntityId::new_v7(1_001, [0x00; 10]);
        assert!(
            a < b,
            "UUIDv7 must order by their millisecond timestamp first"
        );
        assert_eq!(
            a.to_string().as_bytes()[14],
            b'7',
            "version nibble must be 7"
        );
    }

    #[test]
    fn ids_round_trip_through_text() {
        let a = EntityId::new_v7(1_732_880_000_000, [1, 2, 3, 4, 5, 6, 7, 8, 9, 10]);
        let parsed: EntityId = a.to_string().parse().expect("own output parses");
        assert_eq!(a, parsed);
    }

    #[test]
    fn reference_format() {
        assert_eq!(
            Reference::new(RefKind::Request, "7K2M9Q", 14).as_str(),
            "REQ-7K2M9Q-14"
        );
    }
}
