//! Progress of long work on a store, for whoever shows it.
//!
//! A full rebuild of the projections reads the whole log: after an upgrade
//! that changed their shape it runs when the store opens, before anything
//! can be shown, and on a crisis of a million ops it takes minutes. The CLI
//! prints its progress; the app's start screen shows it. Both register one
//! observer for their process ([`observe_rebuilds`]), since a rebuild may
//! start inside any way of opening a store.

use std::sync::RwLock;

/// How far a full rebuild has gone: `done` of `total` ops read.
#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize, specta::Type)]
pub struct Progress {
    pub done: u64,
    pub total: u64,
}

type Observer = Box<dyn Fn(Progress) + Send + Sync>;

static OBSERVER: RwLock<Option<Observer>> = RwLock::new(None);

/// From now on, every full rebuild in this process reports to `observer`:
/// once when it starts (`done` 0), about every half per cent, and once when
/// it ends (`done` = `total`). Replaces any earlier observer.
pub fn observe_rebuilds(observer: impl Fn(Progress) + Send + Sync + 'static) {
    if let Ok(mut slot) = OBSERVER.write() {
        *slot = Some(Box::new(observer));
    }
}

/// Reports one rebuild's progress to the observer, if there is one.
pub(crate) struct Reporter {
    total: u64,
    step: u64,
    next: u64,
}

impl Reporter {
    pub(crate) fn start(total: u64) -> Reporter {
        let reporter = Reporter {
            total,
            step: (total / 200).max(1_000),
            next: 0,
        };
        reporter.report(0);
        reporter
    }

    /// `done` ops have been read.
    pub(crate) fn tick(&mut self, done: u64) {
        if done >= self.next {
            self.next = done + self.step;
            self.report(done.min(self.total));
        }
    }

    pub(crate) fn finish(self) {
        self.report(self.total);
    }

    fn report(&self, done: u64) {
        if let Ok(slot) = OBSERVER.read() {
            if let Some(observer) = slot.as_ref() {
                observer(Progress {
                    done,
                    total: self.total,
                });
            }
        }
    }
}
