//! Hybrid logical clock.
//!
//! A timestamp is the wall-clock time in milliseconds plus a counter. A clock
//! never issues a timestamp lower than or equal to one it issued or observed
//! before, whatever the wall clock does: when the wall clock stands still or
//! goes backwards (a laptop whose battery died, a manual correction) the
//! counter moves instead. Observing a remote timestamp pulls the clock
//! forward, so an op made after receiving another always sorts after it.

use serde::{Deserialize, Serialize};
use std::fmt;

/// A hybrid logical clock timestamp. Ordered by wall time, then counter.
#[derive(
    Clone, Copy, Debug, Default, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize,
)]
pub struct Hlc {
    /// Milliseconds since the Unix epoch, as the issuing clock believed.
    pub wall_ms: u64,
    /// Disambiguates timestamps issued within the same millisecond, or while
    /// the wall clock was behind a timestamp already seen.
    pub counter: u32,
}

impl Hlc {
    pub const ZERO: Hlc = Hlc {
        wall_ms: 0,
        counter: 0,
    };

    pub fn new(wall_ms: u64, counter: u32) -> Self {
        Hlc { wall_ms, counter }
    }
}

impl fmt::Display for Hlc {
    /// Fixed-width and sortable as text: `0001732880000000-00000003`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:016}-{:08}", self.wall_ms, self.counter)
    }
}

/// Issues monotonic timestamps from a (possibly wrong) wall clock.
#[derive(Clone, Debug, Default)]
pub struct Clock {
    last: Hlc,
}

impl Clock {
    /// A clock that will only issue timestamps after `last` (the highest
    /// timestamp held in the log when the process starts).
    pub fn starting_after(last: Hlc) -> Self {
        Clock { last }
    }

    /// The highest timestamp issued or observed so far.
    pub fn last(&self) -> Hlc {
        self.last
    }

    /// A new timestamp for a local event, strictly after every timestamp
    /// issued or observed before.
    pub fn tick(&mut self, wall_ms: u64) -> Hlc {
        let next = if wall_ms > self.last.wall_ms {
            Hlc::new(wall_ms, 0)
        } else if self.last.counter == u32::MAX {
            // Four billion events in one millisecond cannot happen in practice;
            // moving the wall part on keeps the clock monotonic if it ever does
            // (and at the end of time it stands still rather than wrap).
            Hlc::new(self.last.wall_ms.saturating_add(1), 0)
        } else {
            Hlc::new(self.last.wall_ms, self.last.counter + 1)
        };
        self.last = next;
        next
    }

    /// Takes a timestamp received from another device into account, so that
    /// the next local event sorts after it.
    pub fn observe(&mut self, remote: Hlc) {
        if remote > self.last {
            self.last = remote;
        }
    }
}

/// How far ahead of a receiver's wall clock a received op may be stamped and
/// still be taken in now (one hour: laptops in the field drift by minutes,
/// and a clock set to the wrong zone is off by hours). An op stamped later
/// waits, unapplied and uncounted, until the receiver's clock comes within
/// this distance: it never drags a clock forward. Whether the op is accepted
/// does not depend on it; only when.
pub const MAX_DRIFT_MS: u64 = 3_600_000;

/// Is an op stamped `hlc` due on a receiver whose wall clock reads `now_ms`?
pub fn is_due(hlc: Hlc, now_ms: u64) -> bool {
    hlc.wall_ms <= now_ms.saturating_add(MAX_DRIFT_MS)
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn wall_clock_moving_forward_resets_the_counter() {
        let mut c = Clock::default();
        assert_eq!(c.tick(1000), Hlc::new(1000, 0));
        assert_eq!(c.tick(1000), Hlc::new(1000, 1));
        assert_eq!(c.tick(2000), Hlc::new(2000, 0));
    }

    #[test]
    fn wall_clock_going_backwards_never_goes_back_in_hlc() {
        let mut c = Clock::default();
        let a = c.tick(4_000_000);
        // The user set the clock back an hour.
        let b = c.tick(4_000_000 - 3_600_000);
        assert!(
            b > a,
            "after a backwards clock jump the HLC must still advance: {a} then {b}"
        );
        assert_eq!(b, Hlc::new(4_000_000, 1));
    }

    #[test]
    fn observing_a_remote_timestamp_pulls_the_clock_forward() {
        let mut c = Clock::default();
        c.tick(1_000);
        c.observe(Hlc::new(9_000, 4));
        let next = c.tick(1_001);
        assert!(
            next > Hlc::new(9_000, 4),
            "a local op after receiving a remote one must sort after it"
        );
        // An older remote timestamp changes nothing.
        c.observe(Hlc::new(10, 0));
        assert!(c.tick(1_002) > next);
    }

    #[test]
    fn counter_overflow_moves_the_wall_part() {
        let mut c = Clock::starting_after(Hlc::new(7, u32::MAX));
        assert_eq!(c.tick(0), Hlc::new(8, 0));
    }

    #[test]
    fn the_end_of_time_stands_still_rather_than_wrap() {
        let mut c = Clock::starting_after(Hlc::new(u64::MAX, u32::MAX));
        assert_eq!(c.tick(0), Hlc::new(u64::MAX, 0));
    }

    #[test]
    fn an_op_more_than_the_drift_ahead_is_not_due() {
        let now = 1_800_000_000_000;
        assert!(is_due(Hlc::new(now + MAX_DRIFT_MS, 9), now));
        assert!(!is_due(Hlc::new(now + MAX_DRIFT_MS + 1, 0), now));
        assert!(is_due(Hlc::new(u64::MAX, 0), u64::MAX));
    }

    #[test]
    fn display_sorts_like_the_timestamp() {
        let a = Hlc::new(999, 12);
        let b = Hlc::new(1000, 3);
        assert!(a.to_string() < b.to_string());
    }

    proptest! {
        /// Whatever the wall clock and remote timestamps do, every issued
        /// timestamp is strictly greater than everything before it.
        #[test]
        fn strictly_monotonic(events in proptest::collection::vec((any::<bool>(), 0u64..10_000, 0u32..5), 1..200)) {
            let mut c = Clock::default();
            let mut high = Hlc::ZERO;
            for (remote, wall, counter) in events {
                if remote {
                    let r = Hlc::new(wall, counter);
                    c.observe(r);
                    high = high.max(r);
                } else {
                    let t = c.tick(wall);
                    prop_assert!(t > high);
                    high = t;
                }
            }
        }
    }
}
