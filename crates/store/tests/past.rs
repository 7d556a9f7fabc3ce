//! Property: a view of the past at a moment shows the same thing however it
//! got there: rebuilt from nothing, started from a checkpoint, moved
//! forward from an earlier moment or back from a later one; and it still
//! does after ops made long ago arrive late and drop the checkpoints they
//! are missing from.

mod common;

use common::*;
use proptest::prelude::*;
use relevo_core::domain::TaskDraft;
use relevo_core::Op;
use relevo_store::{Basis, HolderDraft, Store};

/// A tiny deterministic generator for choices inside one case.
struct Rng(u64);

impl Rng {
    fn next(&mut self, n: usize) -> usize {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        (self.0 % n.max(1) as u64) as usize
    }
}

/// One piece of work by store `who`: a request, a status, a task, an
/// assignment or a note, on the records it knows.
fn work(s: &mut Store, action: u8, rng: &mut Rng) {
    let crisis = s.current_crisis().expect("q").expect("crisis").id;
    let requests: Vec<String> = s
        .requests(crisis)
        .expect("requests")
        .into_iter()
        .map(|r| r.reference)
        .collect();
    let tasks: Vec<String> = s
        .board(crisis, &Default::default())
        .expect("board")
        .columns
        .into_iter()
        .flat_map(|c| c.tasks)
        .map(|t| t.reference)
        .collect();
    let me = s.identity().expect("q").expect("identity").person_id;
    // Refusals (a status the record cannot take now) are part of the work.
    let _ = match action % 5 {
        0 => s
            .add_request(&request(
                &format!("Albergue {}", rng.next(9)),
                10 + rng.next(90) as i64,
            ))
            .map(|_| ()),
        1 if !requests.is_empty() => s
            .set_request_status(
                &requests[rng.next(requests.len())],
                ["triaged", "in-progress", "fulfilled"][rng.next(3)],
                "",
            )
            .map(|_| ()),
        2 => s
            .add_task(&TaskDraft {
                title: format!("Entrega {}", rng.next(99)),
                scope: "national".into(),
                country: "GT".into(),
                sector: "shelter".into(),
                priority: "high".into(),
                ..Default::default()
            })
            .map(|_| ()),
        3 if !tasks.is_empty() => s
            .assign_task(
                &tasks[rng.next(tasks.len())],
                &HolderDraft {
                    person: me.to_string(),
                    org: String::new(),
                },
            )
            .map(|_| ()),
        _ if !requests.is_empty() => s
            .add_note(
                &requests[rng.next(requests.len())],
                "Llegaron 20 personas más",
                false,
            )
            .map(|_| ()),
        _ => Ok(()),
    };
}

/// What a view shows.
fn shown(s: &Store) -> String {
    s.projection_dump().expect("dump")
}

/// From the crisis's opening to its last op.
fn wall_range(s: &Store) -> (u64, u64) {
    let crisis = s.current_crisis().expect("q").expect("crisis").id;
    let span = s.span(crisis, Basis::Made).expect("span");
    (span.first_ms, span.last_ms)
}

/// Every way of reaching `at` shows what a rebuild from nothing shows.
fn every_way_agrees(r: &mut Store, crisis: relevo_core::EntityId, at: u64, rng: &mut Rng) {
    let (first, last) = wall_range(r);
    let every = 7;

    // From nothing: no checkpoint kept, none made.
    r.set_checkpoint_every(u64::MAX);
    r.drop_checkpoints().expect("drop");
    let scratch = shown(&r.as_of(crisis, at, Basis::Made).expect("scratch"));
    assert!(r.checkpoints().expect("none").is_empty());

    // Checkpoints made by a view that passes them all, then used.
    r.set_checkpoint_every(every);
    let through = r.as_of(crisis, last, Basis::Made).expect("through");
    drop(through);
    assert!(
        !r.checkpoints().expect("made").is_empty() || r.op_count().expect("n") < every * 2,
        "a view passing the log keeps checkpoints"
    );
    assert_eq!(
        shown(&r.as_of(crisis, at, Basis::Made).expect("from a checkpoint")),
        scratch,
        "from a checkpoint at {at}"
    );
    // Forward from an earlier moment, back from a later one.
    let earlier = first + rng.next((at - first) as usize + 1) as u64;
    let mut view = r
        .as_of(crisis, earlier.max(first), Basis::Made)
        .expect("earlier");
    view.move_to(at).expect("forward");
    assert_eq!(shown(&view), scratch, "forward from {earlier} to {at}");
    let later = at + rng.next((last - at) as usize + 1) as u64;
    let mut view = r.as_of(crisis, later, Basis::Made).expect("later");
    view.move_to(at).expect("back");
    assert_eq!(shown(&view), scratch, "back from {later} to {at}");
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 12, ..ProptestConfig::default() })]

    #[test]
    fn every_way_to_a_moment_shows_the_same(
        steps in proptest::collection::vec((any::<bool>(), any::<u8>()), 12..40),
        moments in proptest::collection::vec(0u64..1_000, 2..4),
        seed in 1u64..u64::MAX,
    ) {
        let mut rng = Rng(seed);
        // A regional director and a national director who works offline
        // all along: what she did reaches the reviewer last.
        let mut a = ready_store("regional-director", "GT");
        let mut b = joined("national-director", "GT", &a);
        exchange(&mut a, &mut b);
        // She has logged a request before the rest begins, at least.
        b.add_request(&request("Paso fronterizo", 35)).expect("offline request");
        for (offline, action) in steps {
            let s = if offline { &mut b } else { &mut a };
            work(s, action, &mut rng);
            // Ops a few ms apart, so that moments fall between them.
            std::thread::sleep(std::time::Duration::from_millis(2));
        }
        let dir = tempfile::tempdir().expect("tempdir");
        let mut r = Store::open(&dir.path().join("reviewer.db"), &key()).expect("open");
        r.init_identity(&identity("reviewer", "PA")).expect("identity");
        for op in a.ops().expect("ops") {
            r.ingest(&op).expect("genuine");
        }
        let crisis = a.current_crisis().expect("q").expect("crisis").id;
        r.set_current_crisis(crisis).expect("current");
        let (first, last) = wall_range(&r);
        for m in &moments {
            let at = first + (last - first) * m / 1_000;
            every_way_agrees(&mut r, crisis, at, &mut rng);
        }

        // The offline director's work arrives: made all along, received now.
        r.set_checkpoint_every(5);
        let _ = r.as_of(crisis, last, Basis::Made).expect("checkpoints");
        let held: std::collections::HashSet<_> =
            r.ops().expect("ops").iter().map(|o| o.op_ref()).collect();
        let late: Vec<Op> = b
            .ops()
            .expect("ops")
            .into_iter()
            .filter(|o| !held.contains(&o.op_ref()))
            .collect();
        let earliest = late.iter().map(|o| o.body.hlc.wall_ms).min().expect("late ops");
        for op in &late {
            r.ingest(op).expect("genuine");
        }
        prop_assert!(
            r.checkpoints().expect("kept").iter().all(|&c| c < earliest),
            "checkpoints made without the late ops are dropped"
        );
        let (first, last) = wall_range(&r);
        for m in &moments {
            let at = first + (last - first) * m / 1_000;
            every_way_agrees(&mut r, crisis, at, &mut rng);
        }
    }
}
