//! State-machine property: 2–5 enrolled devices and the hub library in
//! process. Devices work offline and sync partially while the network
//! drops, duplicates, delays and reorders messages; after healing (every
//! device syncs cleanly, twice round) all replicas hold the same log and
//! show the same thing, and every op any device made — acknowledged or
//! not — is on the hub and everywhere else. An enrolled rogue device
//! pushes, now and then, ops that name dependencies that never arrive: they
//! wait on the hub, bounded, and stop no one.
//!
//! 1,000 cases by default; `RELEVO_SYNC_CASES` sets another number.

mod common;

use common::*;
use proptest::prelude::*;
use relevo_core::domain::TaskDraft;
use relevo_hub::Hub;
use relevo_store::{HolderDraft, Store};
use relevo_sync::{SyncError, Transport};

const ROLES: [(&str, &str); 5] = [
    ("regional-director", "PA"),
    ("field-coordinator", "GT"),
    ("national-director", "GT"),
    ("field-coordinator", "GT"),
    ("regional-director", "HN"),
];

/// What the network does to one session.
#[derive(Debug, Clone, Copy)]
enum Net {
    /// Every message arrives once, in order.
    Clean,
    /// The link dies after this many exchanges.
    CutAfter(u32),
    /// This exchange's request never arrives.
    DropRequest(u32),
    /// This exchange's answer never arrives (the hub did the work).
    DropAnswer(u32),
    /// This exchange's request arrives twice.
    Duplicate(u32),
    /// A request from an earlier session arrives late, before this one's
    /// first; its answer is lost.
    Stale,
    /// The answer to this exchange is the previous exchange's answer.
    OldAnswer(u32),
}

#[derive(Debug, Clone)]
enum Step {
    Work {
        device: usize,
        action: u8,
        arg: u8,
    },
    Sync {
        device: usize,
        net: Net,
        page: u32,
    },
    /// The rogue pushes this many ops, the first naming an op that will
    /// never exist, the rest chained after it.
    Rogue {
        ops: u8,
    },
}

fn step(devices: usize) -> impl Strategy<Value = Step> {
    let net = prop_oneof![
        3 => Just(Net::Clean),
        1 => (0u32..4).prop_map(Net::CutAfter),
        1 => (0u32..3).prop_map(Net::DropRequest),
        1 => (0u32..3).prop_map(Net::DropAnswer),
        1 => (0u32..3).prop_map(Net::Duplicate),
        1 => Just(Net::Stale),
        1 => (1u32..3).prop_map(Net::OldAnswer),
    ];
    prop_oneof![
        3 => (0..devices, any::<u8>(), any::<u8>()).prop_map(|(device, action, arg)| Step::Work { device, action, arg }),
        2 => (0..devices, net, 1u32..6).prop_map(|(device, net, page)| Step::Sync { device, net, page }),
        1 => (1u8..4).prop_map(|ops| Step::Rogue { ops }),
    ]
}

/// The network between one device and the hub, as `Net` says.
struct Faulty<'a> {
    hub: &'a Hub,
    token: String,
    net: Net,
    exchanges: u32,
    last_answer: Option<Vec<u8>>,
    stale: Option<Vec<u8>>,
}

impl Transport for Faulty<'_> {
    fn exchange(&mut self, request: &[u8]) -> Result<Vec<u8>, SyncError> {
        let n = self.exchanges;
        self.exchanges += 1;
        let deliver = |bytes: &[u8]| {
            self.hub
                .sync(Some(&self.token), bytes)
                .map_err(|e| SyncError::Http {
                    status: e.status().as_u16(),
                    message: e.to_string(),
                })
        };
        if let Some(old) = self.stale.take() {
            let _ = deliver(&old);
        }
        let lost = || Err(SyncError::Offline("message lost".into()));
        match self.net {
            Net::CutAfter(k) if n >= k => lost(),
            Net::DropRequest(k) if n == k => lost(),
            Net::DropAnswer(k) if n == k => {
                deliver(request)?;
                lost()
            }
            Net::Duplicate(k) if n == k => {
                deliver(request)?;
                deliver(request)
            }
            Net::OldAnswer(k) if n == k => {
                let fresh = deliver(request)?;
                Ok(self.last_answer.replace(fresh.clone()).unwrap_or(fresh))
            }
            _ => {
                let answer = deliver(request)?;
                self.last_answer = Some(answer.clone());
                Ok(answer)
            }
        }
    }
}

fn crisis_of(s: &Store) -> Option<relevo_core::EntityId> {
    s.crises().ok()?.first().map(|c| c.id)
}

fn work(s: &mut Store, action: u8, arg: u8) {
    let Some(crisis) = crisis_of(s) else { return };
    let _ = s.set_current_crisis(crisis);
    let tasks: Vec<String> = s
        .board(crisis, &Default::default())
        .map(|b| {
            b.columns
                .into_iter()
                .flat_map(|c| c.tasks)
                .map(|t| t.reference)
                .collect()
        })
        .unwrap_or_default();
    let pick = |v: &[String]| (!v.is_empty()).then(|| v[arg as usize % v.len()].clone());
    // Refusals (a field coordinator creating a task...) are part of the game.
    let _ = match action % 5 {
        0 | 1 => s
            .add_request(&request(
                "GT",
                &format!("sitio {arg}"),
                5.0 + f64::from(arg),
            ))
            .map(|_| ()),
        2 => s
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
                ..Default::default()
            })
            .map(|_| ()),
        3 => match pick(&tasks) {
            Some(t) => s.assign_task(
                &t,
                &HolderDraft {
                    person: String::new(),
                    org: ["iom", "unicef", "mig-gt"][arg as usize % 3].into(),
                },
            ),
            None => Ok(()),
        },
        _ => match pick(&tasks) {
            Some(t) => s.add_note(&t, "visto", arg.is_multiple_of(2)),
            None => Ok(()),
        },
    };
}

fn session(hub: &Hub, s: &mut Store, net: Net, page: u32, stale: &mut Option<Vec<u8>>) {
    let token = s.enrolment().expect("q").expect("enrolled").token;
    let mut transport = Faulty {
        hub,
        token,
        net,
        exchanges: 0,
        last_answer: None,
        stale: if matches!(net, Net::Stale) {
            stale.take()
        } else {
            None
        },
    };
    // Remember a request of this device's for a later stale delivery.
    let vector = s.sync_vector().expect("vv");
    *stale = Some(
        relevo_sync::Request {
            vector,
            push: s
                .ops()
                .expect("ops")
                .into_iter()
                .filter(|o| Some(o.body.device) == s.device())
                .take(3)
                .collect(),
            want: page,
        }
        .encode(),
    );
    match relevo_sync::run(s, &mut transport, page, |_| {}) {
        Ok(_) => {}
        Err(e) => assert!(e.is_offline(), "only the network may stop a session: {e}"),
    }
}

fn check(devices: usize, steps: Vec<Step>) -> Result<(), TestCaseError> {
    let dir = tempfile::tempdir().expect("tempdir");
    let hub = hub_in_process(dir.path(), generous());
    let mut all: Vec<Store> = ROLES[..devices]
        .iter()
        .enumerate()
        .map(|(i, (role, country))| {
            // Real encrypted files, as devices run (a fixed key: no
            // passphrase derivation per case).
            let path = dir.path().join(format!("device-{i}.db"));
            let mut s = Store::open(&path, &relevo_store::DbKey::from_bytes([i as u8 + 1; 32]))
                .expect("open");
            enrol_in_process(&hub, &mut s, &format!("Persona {i}"), role, country);
            s
        })
        .collect();
    all[0].open_crisis(&crisis()).expect("crisis");
    let mut rogue = Rogue::enrol_in_process(&hub);
    let mut rogue_ops = 0u64;
    let mut stale: Vec<Option<Vec<u8>>> = vec![None; devices];
    for st in steps {
        match st {
            Step::Work {
                device,
                action,
                arg,
            } => work(&mut all[device], action, arg),
            Step::Sync { device, net, page } => {
                session(&hub, &mut all[device], net, page, &mut stale[device])
            }
            Step::Rogue { ops } => {
                let push = (0..ops).map(|_| rogue.orphan_note()).collect();
                let request = relevo_sync::Request {
                    vector: Default::default(),
                    push,
                    want: 10,
                };
                hub.sync(Some(&rogue.token), &request.encode())
                    .expect("the hub answers the rogue");
                rogue_ops += u64::from(ops);
            }
        }
    }
    // Healing: clean sessions, twice round.
    for _ in 0..2 {
        for s in all.iter_mut() {
            relevo_sync::run(
                s,
                &mut Faulty {
                    hub: &hub,
                    token: s.enrolment().expect("q").expect("e").token,
                    net: Net::Clean,
                    exchanges: 0,
                    last_answer: None,
                    stale: None,
                },
                50,
                |_| {},
            )
            .map_err(|e| TestCaseError::fail(format!("a clean session failed: {e}")))?;
        }
    }
    let hub_vv = hub.with_store(|h| h.version_vector().expect("vv"));
    // The hub keeps the log layer alone: the devices must show one another
    // the same thing.
    let first_dump = all[0].projection_dump().expect("dump");
    for (i, s) in all.iter().enumerate() {
        // Every op this device made is on the hub.
        let mine = s.device().expect("d");
        let vv = s.version_vector().expect("vv");
        prop_assert_eq!(
            hub_vv.get(&mine),
            vv.get(&mine),
            "device {} ops on the hub",
            i
        );
        prop_assert_eq!(&vv, &hub_vv, "device {} holds what the hub holds", i);
        prop_assert_eq!(s.pending_count().expect("p"), 0);
        prop_assert!(s.forks().expect("f").is_empty());
        prop_assert!(s.verify().expect("verify").intact());
        prop_assert_eq!(s.not_on_hub().expect("n"), 0);
        let dump = s.projection_dump().expect("dump");
        prop_assert!(dump == first_dump, "device {} shows what device 0 shows", i);
    }
    prop_assert!(hub.with_store(|h| h.verify().expect("v").intact()));
    // What the rogue sent waits on the hub, uncounted.
    prop_assert_eq!(hub.with_store(|h| h.pending_count().expect("p")), rogue_ops);
    prop_assert_eq!(hub_vv.get(&rogue.key.device_id()), None);
    Ok(())
}

fn cases() -> u32 {
    std::env::var("RELEVO_SYNC_CASES")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(1000)
}

proptest! {
    #![proptest_config(ProptestConfig { cases: cases(), failure_persistence: None, ..ProptestConfig::default() })]

    #[test]
    fn replicas_converge_whatever_the_network_does(
        (devices, steps) in (2usize..=5).prop_flat_map(|n| (Just(n), proptest::collection::vec(step(n), 4..30)))
    ) {
        check(devices, steps)?;
    }
}
