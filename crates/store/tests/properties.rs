//! Property: random work on 2–4 real stores (requests, tasks, assignments,
//! handovers, notes, status changes, some refused), exchanged partially
//! while they work and finally in a random order with duplicates, always
//! converges: identical projections and identical conflict sets everywhere,
//! each equal to a rebuild from the log.

mod common;

use common::*;
use proptest::prelude::*;
use relevo_core::domain::{RequestDraft, TaskDraft};
use relevo_core::Op;
use relevo_store::{HolderDraft, Store};

/// Who works on each store: a regional director, two GT national
/// directors and a GT field coordinator.
const ROLES: [(&str, &str); 4] = [
    ("regional-director", "PA"),
    ("national-director", "GT"),
    ("field-coordinator", "GT"),
    ("national-director", "GT"),
];

/// A tiny deterministic generator for shuffles inside one case.
struct Rng(u64);

impl Rng {
    fn next(&mut self, n: usize) -> usize {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        (self.0 % n as u64) as usize
    }
}

fn stores(n: usize) -> Vec<Store> {
    let first = ready_store(ROLES[0].0, ROLES[0].1);
    let mut all = vec![first];
    for (role, country) in &ROLES[1..n] {
        let s = joined(role, country, &all[0]);
        all.push(s);
    }
    // Everyone knows everyone's declaration.
    for i in 1..n {
        let (a, b) = all.split_at_mut(i);
        exchange(&mut a[0], &mut b[0]);
    }
    for i in 1..n {
        let (a, b) = all.split_at_mut(i);
        exchange(&mut a[0], &mut b[0]);
    }
    all
}

fn people(s: &Store) -> Vec<String> {
    s.roster()
        .expect("roster")
        .people
        .into_iter()
        .map(|p| p.id.to_string())
        .collect()
}

/// One step of work on store `who`; refusals are part of the game.
fn act(all: &mut [Store], who: usize, action: u8, arg: u8, rng: &mut Rng) {
    let s = &mut all[who];
    let crisis = s.current_crisis().expect("q").expect("crisis").id;
    let tasks: Vec<String> = s
        .board(crisis, &Default::default())
        .expect("board")
        .columns
        .into_iter()
        .flat_map(|c| c.tasks)
        .map(|t| t.reference)
        .collect();
    let requests: Vec<String> = s
        .requests(crisis)
        .expect("requests")
        .into_iter()
        .map(|r| r.reference)
        .collect();
    let pick = |v: &[String]| (!v.is_empty()).then(|| v[arg as usize % v.len()].clone());
    let holder = |s: &Store| {
        let p = people(s);
        HolderDraft {
            person: p[arg as usize % p.len()].clone(),
            org: if arg.is_multiple_of(3) {
                "iom".into()
            } else {
                String::new()
            },
        }
    };
    let _ = match action % 9 {
        0 => s
            .add_request(&RequestDraft {
                priority: ["low", "high", "critical"][arg as usize % 3].into(),
                ..request(&format!("sitio {arg}"), 5 + i64::from(arg))
            })
            .map(|_| ()),
        1 => s
            .add_task(&TaskDraft {
                title: format!("Tarea {arg}"),
                scope: if arg.is_multiple_of(4) {
                    "regional"
                } else {
                    "national"
                }
                .into(),
                country: "GT".into(),
                sector: "wash".into(),
                priority: "high".into(),
                requests: pick(&requests).into_iter().collect(),
                ..Default::default()
            })
            .map(|_| ()),
        2 => match pick(&tasks) {
            Some(t) => {
                let h = holder(s);
                s.assign_task(&t, &h)
            }
            None => Ok(()),
        },
        3 => match pick(&tasks) {
            Some(t) => {
                let h = holder(s);
                s.hand_over_task(&t, &h, "relevo")
            }
            None => Ok(()),
        },
        4 => match pick(&tasks) {
            Some(t) => s.accept_task(&t),
            None => Ok(()),
        },
        5 => match pick(&tasks) {
            Some(t) => s.set_task_status(
                &t,
                ["in-progress", "done", "cancelled", "blocked"][rng.next(4)],
                "sin agua",
            ),
            None => Ok(()),
        },
        6 => match pick(&requests) {
            Some(r) => s.add_note(&r, "visto", arg.is_multiple_of(2)),
            None => Ok(()),
        },
        7 => match pick(&requests) {
            Some(r) => s
                .set_request_status(&r, ["triaged", "in-progress", "cancelled"][rng.next(3)], "")
                .map(|_| ()),
            None => Ok(()),
        },
        _ => match pick(&tasks) {
            Some(t) => s.escalate_task(&t, ""),
            None => Ok(()),
        },
    };
}

/// Gives `to` some of `from`'s ops, in a random order with duplicates.
fn partial_sync(all: &mut [Store], from: usize, to: usize, rng: &mut Rng) {
    if from == to {
        return;
    }
    let ops: Vec<Op> = all[from].ops().expect("ops");
    let n = ops.len();
    for _ in 0..n {
        let op = &ops[rng.next(n)];
        all[to].ingest(op).expect("genuine");
    }
}

/// A genuine device whose second op breaks a rule: a reviewer opening a
/// crisis. Every replica keeps it, marks it refused and leaves it out.
fn rogue() -> Vec<Op> {
    use relevo_core::domain::{Country, Role};
    use relevo_core::payload::{CrisisOpened, Payload, PersonDeclared};
    use relevo_core::{DeviceKey, EntityId, Hlc, OpHash, UnsignedOp};
    let key = DeviceKey::from_secret([77; 32]);
    let person = EntityId::from_bytes([5; 16]);
    let payloads = [
        Payload::PersonDeclare(PersonDeclared {
            id: person,
            name: "Revisor".into(),
            role: Role::Reviewer,
            country: Country::Pa,
            org: None,
            demo: false,
        }),
        Payload::CrisisOpen(CrisisOpened {
            id: EntityId::from_bytes([6; 16]),
            name: "No permitida".into(),
            countries: vec![Country::Pa],
            demo: false,
        }),
    ];
    let mut prev = OpHash::GENESIS;
    let mut out = Vec::new();
    for (i, payload) in payloads.iter().enumerate() {
        let op = UnsignedOp {
            device: key.device_id(),
            seq: i as u64 + 1,
            hlc: Hlc::new(1, i as u32),
            author: person,
            kind: payload.kind().into(),
            payload: payload.encode(),
            prev,
        }
        .sign(&key)
        .expect("shape");
        prev = op.hash();
        out.push(op);
    }
    out
}

fn view(s: &Store) -> (String, String) {
    (
        s.projection_dump().expect("dump"),
        format!("{:?}", s.conflicts(None, None).expect("conflicts")),
    )
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 32, ..ProptestConfig::default() })]

    #[test]
    fn random_work_on_several_stores_converges(
        n in 2usize..=4,
        steps in proptest::collection::vec((any::<u8>(), any::<u8>(), any::<u8>(), any::<bool>()), 4..28),
        seed in 1u64..u64::MAX,
    ) {
        let mut rng = Rng(seed);
        let mut all = stores(n);
        for (who, action, arg, sync) in steps {
            let who = who as usize % n;
            act(&mut all, who, action, arg, &mut rng);
            if sync {
                let to = rng.next(n);
                partial_sync(&mut all, who, to, &mut rng);
            }
        }
        // Everything reaches everyone, shuffled, with duplicates.
        let mut pool: Vec<Op> = all.iter().flat_map(|s| s.ops().expect("ops")).collect();
        pool.extend(rogue());
        let extra: Vec<Op> = (0..pool.len() / 3).map(|_| pool[rng.next(pool.len())].clone()).collect();
        pool.extend(extra);
        for s in all.iter_mut() {
            let mut order: Vec<usize> = (0..pool.len()).collect();
            for i in (1..order.len()).rev() {
                order.swap(i, rng.next(i + 1));
            }
            for i in order {
                s.ingest(&pool[i]).expect("genuine");
            }
        }
        let reference = view(&all[0]);
        let refused = all[0].log_entries().expect("log").iter().filter(|e| e.refused.is_some()).count();
        prop_assert_eq!(refused, 1, "the rogue op is kept and refused");
        for s in all.iter_mut() {
            prop_assert_eq!(&view(s), &reference);
            prop_assert!(s.verify().expect("verify").intact());
            s.rebuild_projections().expect("rebuild");
            prop_assert_eq!(&view(s), &reference, "incremental equals rebuild");
        }
    }
}

/// The generator does reach what the property is about: conflicts and
/// refused ops happen in the corpus, not only in theory.
#[test]
fn the_work_exercises_conflicts_and_handovers() {
    let mut rng = Rng(7);
    let mut all = stores(3);
    // Two directors assign the same task while offline.
    act(&mut all, 1, 1, 1, &mut rng);
    partial_sync(&mut all, 1, 0, &mut rng);
    let ops = all[1].ops().expect("ops");
    for op in &ops {
        all[0].ingest(op).expect("genuine");
    }
    act(&mut all, 0, 2, 1, &mut rng);
    act(&mut all, 1, 2, 2, &mut rng);
    for i in 0..3 {
        for j in 0..3 {
            let ops = all[i].ops().expect("ops");
            for op in &ops {
                all[j].ingest(op).expect("genuine");
            }
        }
    }
    let c = all[2].conflicts(None, None).expect("conflicts");
    assert_eq!(c.len(), 1, "{c:?}");
    assert_eq!(view(&all[0]), view(&all[2]));
}
