//! The demo crisis: a mass movement north through the Central American
//! corridor over six days, for trying Relevo out, for screenshots and tests,
//! and — scaled up — for benchmarks.
//!
//! It is made by demo devices with demo identities and every declaration and
//! the crisis are marked `demo`, so sync can keep all of it on this device.
//! Every op goes through the same rules as any other (judged, signed,
//! projected), in one transaction. The scenario is deterministic: the same
//! people, requests, tasks, handovers, one escalation and one unresolved
//! conflict every time; only the dates move with today. Along the corridor,
//! a week of flow counts at eleven points, with a surge at Agua Caliente
//! (Honduras) on the last day that raises an early-warning alert, which
//! Guatemala acknowledges.

use crate::coord::{change, Found};
use crate::error::Result;
use crate::log::{sign_and_apply, Net};
use crate::{now_ms, CrisisView, Store};
use relevo_core::domain::corridor::default_corridor;
use relevo_core::domain::roster::builtin_sites;
use relevo_core::domain::{
    Country, Crisis, Direction, FlowCount, Holder, Identity, Nationality, NewTask, People,
    Priority, RequestDraft, RequestStatus, Role, Sector, TaskScope, TaskStatus, Transport,
    Vulnerable, VulnerableGroup,
};
use relevo_core::ids::RefKind;
use relevo_core::payload::{
    AlertAcked, AlertArrival, AlertRaised, ChangeKind, CrisisOpened, EntityKind, FlowCounted,
    Fulfilment, Payload, PersonDeclared, RequestCreated, TaskCreated,
};
use relevo_core::{DeviceKey, EntityId, Hlc, OpRef, Reference};
use rusqlite::{Transaction, TransactionBehavior};
use serde_json::{json, Value};

const MINUTE: u64 = 60_000;
const DAY: u64 = 24 * 60 * MINUTE;

/// How big a scenario to generate.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Scale {
    pub requests: usize,
    pub tasks: usize,
}

impl Scale {
    /// The demo crisis the app offers on first run.
    pub const DEMO: Scale = Scale {
        requests: 320,
        tasks: 48,
    };
}

/// What a generated scenario holds.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Scenario {
    pub crisis: EntityId,
    pub ops: u64,
    /// The task two directors assigned while offline.
    pub conflicted_task: String,
    /// The national task taken to the region.
    pub escalated_task: String,
}

/// A deterministic generator (xorshift64): the same scenario every time.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }
    fn below(&mut self, n: usize) -> usize {
        (self.next() % n as u64) as usize
    }
    fn bytes<const N: usize>(&mut self) -> [u8; N] {
        let mut out = [0u8; N];
        for b in out.iter_mut() {
            *b = self.next() as u8;
        }
        out
    }
    fn pick<'a, T>(&mut self, v: &'a [T]) -> &'a T {
        &v[self.below(v.len())]
    }
}

struct Actor {
    key: DeviceKey,
    person: EntityId,
    role: Role,
    country: Country,
    org: &'static str,
    requests: u64,
    tasks: u64,
    flows: u64,
    alerts: u64,
}

struct Req {
    id: EntityId,
    on: OpRef,
    reference: String,
    country: Country,
    sector: Sector,
    status: RequestStatus,
    tasked: bool,
}

struct Task {
    status: TaskStatus,
    /// Index of the actor holding it, if a person.
    holder: Option<usize>,
    requests: Vec<usize>,
}

struct Gen<'a> {
    tx: &'a Transaction<'a>,
    net: Net,
    rng: Rng,
    now: u64,
    step: u64,
    actors: Vec<Actor>,
    crisis: EntityId,
    ops: u64,
    /// When the last flow window ends.
    flow_end: u64,
    /// The counts' own randomness, so that they leave the rest of the
    /// scenario as it was.
    flow_rng: Rng,
    alerted: bool,
}

const PEOPLE: &[(&str, Role, Country, &str)] = &[
    (
        "Demo · Marta Solís",
        Role::RegionalDirector,
        Country::Pa,
        "iom",
    ),
    (
        "Demo · Rosa Díaz",
        Role::NationalDirector,
        Country::Gt,
        "mig-gt",
    ),
    (
        "Demo · Óscar Rivera",
        Role::NationalDirector,
        Country::Hn,
        "mig-hn",
    ),
    (
        "Demo · Carmen Vargas",
        Role::NationalDirector,
        Country::Cr,
        "mig-cr",
    ),
    (
        "Demo · Iván Castillo",
        Role::NationalDirector,
        Country::Pa,
        "mig-pa",
    ),
    (
        "Demo · Ana López",
        Role::FieldCoordinator,
        Country::Gt,
        "mig-gt",
    ),
    (
        "Demo · Julio Pérez",
        Role::FieldCoordinator,
        Country::Gt,
        "rc-gt",
    ),
    (
        "Demo · Luis Mejía",
        Role::FieldCoordinator,
        Country::Hn,
        "mig-hn",
    ),
    (
        "Demo · Karla Zelaya",
        Role::FieldCoordinator,
        Country::Hn,
        "rc-hn",
    ),
    (
        "Demo · Diego Mora",
        Role::FieldCoordinator,
        Country::Cr,
        "mig-cr",
    ),
    (
        "Demo · Yaneth Ríos",
        Role::FieldCoordinator,
        Country::Pa,
        "mig-pa",
    ),
    (
        "Demo · Mauricio Flores",
        Role::FieldCoordinator,
        Country::Sv,
        "mig-sv",
    ),
    (
        "Demo · Fátima Obando",
        Role::FieldCoordinator,
        Country::Ni,
        "rc-ni",
    ),
];

const NEEDS: &[(Sector, &str, &str)] = &[
    (Sector::Wash, "litros", "Agua segura y kits de higiene"),
    (
        Sector::Health,
        "consultas",
        "Atención primaria y rehidratación oral",
    ),
    (
        Sector::Shelter,
        "colchonetas",
        "Colchonetas y frazadas; albergue saturado",
    ),
    (
        Sector::FoodSecurity,
        "raciones",
        "Raciones de alimentos para tres días",
    ),
    (
        Sector::ChildProtection,
        "casos",
        "Niñas y niños no acompañados: cuidado temporal y localización de familias",
    ),
    (
        Sector::Protection,
        "orientaciones",
        "Orientación legal y registro",
    ),
    (
        Sector::Gbv,
        "acompañamientos",
        "Espacio seguro y acompañamiento psicosocial",
    ),
    (
        Sector::Nutrition,
        "kits",
        "Suplementos nutricionales para menores de 5 años",
    ),
    (
        Sector::Logistics,
        "viajes",
        "Transporte de insumos desde la capital",
    ),
    (
        Sector::Telecoms,
        "recargas",
        "Conectividad para contacto familiar",
    ),
];

/// The demo's flow monitoring points, south to north: which way the people
/// they count are going, and about how many pass a day.
const FLOW_POINTS: &[(&str, Direction, u64)] = &[
    ("pa-lajas-blancas", Direction::Entering, 420),
    ("cr-paso-canoas", Direction::Entering, 400),
    ("cr-penas-blancas", Direction::Leaving, 390),
    ("ni-penas-blancas", Direction::Entering, 380),
    ("ni-las-manos", Direction::Leaving, 240),
    ("hn-las-manos", Direction::Entering, 230),
    ("hn-agua-caliente", Direction::Leaving, 160),
    ("sv-el-amatillo", Direction::Entering, 120),
    ("gt-agua-caliente", Direction::Entering, 150),
    ("gt-tecun-uman", Direction::Leaving, 300),
    ("mx-ciudad-hidalgo", Direction::Entering, 280),
];
/// Where the last day surges, and by how much.
const SURGE_POINT: &str = "hn-agua-caliente";
const SURGE: u64 = 6;
/// Two counts a day (12-hour windows) for seven days.
const FLOW_WINDOWS: u64 = 14;

/// One planned count.
struct Window {
    point: usize,
    start: u64,
    end: u64,
}

impl Gen<'_> {
    fn tick(&mut self) -> Hlc {
        self.now += self.step;
        Hlc::new(self.now, 0)
    }

    fn put(&mut self, who: usize, payload: Payload) -> Result<OpRef> {
        let hlc = self.tick();
        let a = &self.actors[who];
        let op = sign_and_apply(self.tx, &a.key, a.person, hlc, &payload, self.net)?;
        self.ops += 1;
        Ok(op.op_ref())
    }

    fn id(&mut self) -> EntityId {
        EntityId::new_v7(self.now, self.rng.bytes())
    }

    /// Logs every planned count whose window has ended by now; raises the
    /// alert the first time the surge rule fires at the surge point, and has
    /// Guatemala acknowledge it.
    fn flows_until(
        &mut self,
        plan: &mut Vec<Window>,
        logged: &mut Vec<(usize, u64, u64)>,
    ) -> Result<()> {
        while plan.first().is_some_and(|w| w.end <= self.now) {
            let w = plan.remove(0);
            let (point, direction, daily) = FLOW_POINTS[w.point];
            let site = builtin_sites()
                .into_iter()
                .find(|s| s.id == point)
                .expect("demo points are built in");
            let last_day = w.end + DAY > self.flow_end;
            let surge = point == SURGE_POINT && last_day;
            let base = daily / 2;
            let total = (base * (85 + self.flow_rng.below(30) as u64) / 100)
                * if surge { SURGE } else { 1 };
            let part = |pct: u64| Some((total * pct / 100) as u32);
            let count = FlowCount {
                point: point.into(),
                country: site.country,
                start_ms: w.start as i64,
                end_ms: w.end as i64,
                direction,
                from_country: None,
                to_country: None,
                people: People {
                    total: total as u32,
                    women: part(24),
                    men: part(44),
                    girls: part(15),
                    boys: part(15),
                    under5: None,
                    age5_17: None,
                    age18_59: None,
                    age60_plus: None,
                },
                nationalities: [("VE", 55), ("HT", 15), ("EC", 10), ("CO", 5), ("CN", 3)]
                    .iter()
                    .map(|&(code, pct)| Nationality {
                        code: code.into(),
                        count: (total * pct / 100) as u32,
                    })
                    .collect(),
                vulnerable: vec![
                    Vulnerable {
                        group: VulnerableGroup::Uasc,
                        count: (total * if surge { 6 } else { 2 } / 100) as u32,
                    },
                    Vulnerable {
                        group: VulnerableGroup::PregnantLactating,
                        count: (total * 2 / 100) as u32,
                    },
                ],
                destination: Some("US".into()),
                transport: Some(if surge {
                    Transport::Foot
                } else {
                    Transport::Bus
                }),
                remarks: surge.then(|| {
                    "Grupo grande llegó de madrugada; muchas niñas y niños no acompañados".into()
                }),
            };
            let who = self
                .people_in(site.country, Role::FieldCoordinator)
                .first()
                .copied()
                .unwrap_or(0);
            let id = EntityId::new_v7(self.now, self.flow_rng.bytes());
            self.actors[who].flows += 1;
            let reference = Reference::new(
                RefKind::Flow,
                &self.actors[who].key.device_id().tag(),
                self.actors[who].flows,
            )
            .into_string();
            let crisis = self.crisis;
            self.put(
                who,
                Payload::FlowCount(FlowCounted {
                    id,
                    reference,
                    crisis,
                    count: count.clone(),
                }),
            )?;
            logged.push((w.point, w.end, total));
            if self.alerted || point != SURGE_POINT {
                continue;
            }
            // The same rule the store applies when a count is logged.
            let corridor = default_corridor();
            let rule = &corridor.rule;
            let mut days = vec![None; rule.baseline_days as usize + 1];
            for &(p, end, n) in logged.iter() {
                if p != w.point || end > w.end || w.end - end >= DAY * (days.len() as u64) {
                    continue;
                }
                let d = ((w.end - end) / DAY) as usize;
                *days[d].get_or_insert(0) += n;
            }
            let history: Vec<Option<u64>> = days[1..].iter().rev().copied().collect();
            let Some(found) = rule.check(days[0].unwrap_or(0), &history) else {
                continue;
            };
            self.alerted = true;
            let sites = builtin_sites();
            let arrivals = corridor
                .arrivals(point)
                .into_iter()
                .filter_map(|a| {
                    let s = sites.iter().find(|s| s.id == a.point)?;
                    Some(AlertArrival {
                        country: s.country,
                        earliest_ms: w.end as i64 + (a.earliest_days * DAY as f64) as i64,
                        latest_ms: w.end as i64 + (a.latest_days * DAY as f64) as i64,
                        point: a.point,
                    })
                })
                .collect();
            let alert = EntityId::new_v7(self.now, self.flow_rng.bytes());
            self.actors[who].alerts += 1;
            let reference = Reference::new(
                RefKind::Alert,
                &self.actors[who].key.device_id().tag(),
                self.actors[who].alerts,
            )
            .into_string();
            let on = self.put(
                who,
                Payload::AlertRaise(AlertRaised {
                    id: alert,
                    reference,
                    crisis,
                    point: point.into(),
                    country: site.country,
                    direction,
                    count: id,
                    window_end_ms: w.end as i64,
                    surge: found,
                    vulnerable: count.vulnerable.clone(),
                    arrivals,
                }),
            )?;
            // Guatemala acknowledges it two hours later.
            self.now += 2 * 60 * MINUTE;
            let gt = self.director(Country::Gt);
            self.put(
                gt,
                Payload::AlertAck(AlertAcked {
                    alert,
                    on,
                    country: Some(Country::Gt),
                    note: Some("Albergues de Esquipulas y Tecún Umán avisados".into()),
                }),
            )?;
        }
        Ok(())
    }

    fn act(
        &mut self,
        who: usize,
        kind: ChangeKind,
        id: EntityId,
        on: OpRef,
        writes: Vec<(&str, Value)>,
        text: Option<&str>,
    ) -> Result<OpRef> {
        let record = if kind.kind().starts_with("task.") {
            EntityKind::Task
        } else {
            EntityKind::Request
        };
        let mut c = change(
            self.tx,
            Found { id, on, record },
            kind,
            writes.into_iter().map(|(f, v)| (f.to_owned(), v)).collect(),
        )?;
        c.text = text.map(str::to_owned);
        self.put(who, Payload::Change(kind, c))
    }

    fn people_in(&self, country: Country, role: Role) -> Vec<usize> {
        (0..self.actors.len())
            .filter(|&i| self.actors[i].country == country && self.actors[i].role == role)
            .collect()
    }

    /// The director who manages `country`'s tasks: its national director,
    /// else the regional director.
    fn director(&self, country: Country) -> usize {
        self.people_in(country, Role::NationalDirector)
            .first()
            .copied()
            .unwrap_or(0)
    }

    fn request(&mut self, who: usize) -> Result<Req> {
        let country = self.actors[who].country;
        let sites: Vec<String> = builtin_sites()
            .into_iter()
            .filter(|s| s.country == country)
            .map(|s| s.name)
            .collect();
        let site = format!("{}, punto de atención", self.rng.pick(&sites));
        let &(sector, unit, need) = self.rng.pick(NEEDS);
        let total = 5 + self.rng.below(400) as u64;
        let detailed = self.rng.below(3) > 0;
        let quarter = (total / 4) as f64;
        let priority = *self
            .rng
            .pick(&["critical", "high", "high", "medium", "medium", "low"]);
        let mut draft = RequestDraft {
            country: country.slug().into(),
            site,
            sector: sector.slug().into(),
            people_total: Some(total as f64),
            priority: priority.into(),
            description: need.into(),
            ..Default::default()
        };
        if detailed {
            draft.women = Some(quarter);
            draft.men = Some(quarter);
            draft.girls = Some((total / 5) as f64);
            draft.boys = Some((total / 5) as f64);
            draft.under5 = Some((total / 10) as f64);
        }
        if self.rng.below(4) == 0 {
            draft.vulnerable = vec![relevo_core::domain::VulnerableDraft {
                group: self
                    .rng
                    .pick(&[
                        "uasc",
                        "pregnant-lactating",
                        "disability",
                        "older",
                        "chronic-illness",
                    ])
                    .to_string(),
                count: Some((1 + total / 20) as f64),
            }];
        }
        if self.rng.below(2) == 0 {
            draft.items = vec![relevo_core::domain::ItemDraft {
                quantity: Some((total * (1 + self.rng.below(3) as u64)) as f64),
                unit: unit.into(),
                description: need.into(),
            }];
        }
        if self.rng.below(3) == 0 {
            draft.needed_by = relevo_core::domain::time::rfc3339(
                (self.now + DAY * (1 + self.rng.below(3) as u64)) as i64,
            );
        }
        let request = draft
            .validate()
            .expect("the demo generator makes valid requests");
        let a = &mut self.actors[who];
        a.requests += 1;
        let reference =
            Reference::new(RefKind::Request, &a.key.device_id().tag(), a.requests).into_string();
        let id = self.id();
        let on = self.put(
            who,
            Payload::RequestCreate(RequestCreated {
                id,
                reference: reference.clone(),
                crisis: self.crisis,
                request,
            }),
        )?;
        Ok(Req {
            id,
            on,
            reference,
            country,
            sector,
            status: RequestStatus::New,
            tasked: false,
        })
    }
}

impl Store {
    /// Loads the demo crisis (once) and makes it current.
    pub fn load_demo(&mut self) -> Result<CrisisView> {
        if let Some(existing) = self.crises()?.into_iter().find(|c| c.demo) {
            self.set_current_crisis(existing.id)?;
            return Ok(existing);
        }
        let scenario = self.generate_scenario(Scale::DEMO, now_ms().saturating_sub(6 * DAY))?;
        self.set_current_crisis(scenario.crisis)?;
        Ok(self
            .crisis(scenario.crisis)?
            .expect("the demo crisis was just stored"))
    }

    /// Generates the scenario at `scale`, its first op at `start_ms`, in one
    /// transaction.
    pub fn generate_scenario(&mut self, scale: Scale, start_ms: u64) -> Result<Scenario> {
        let tx = self
            .conn
            .transaction_with_behavior(TransactionBehavior::Immediate)?;
        let scenario = generate(&tx, scale, start_ms, self.net)?;
        tx.commit()?;
        self.conn
            .execute_batch("PRAGMA analysis_limit = 1000; PRAGMA optimize;")?;
        self.clock.observe(Hlc::new(start_ms + 6 * DAY, 0));
        Ok(scenario)
    }
}

fn generate(tx: &Transaction<'_>, scale: Scale, start: u64, net: Net) -> Result<Scenario> {
    let mut rng = Rng(0x5245_4c45_564f_2026);
    let actors: Vec<Actor> = PEOPLE
        .iter()
        .map(|&(_, role, country, org)| Actor {
            key: DeviceKey::from_secret(rng.bytes()),
            person: EntityId::new_v7(start, rng.bytes()),
            role,
            country,
            org,
            requests: 0,
            tasks: 0,
            flows: 0,
            alerts: 0,
        })
        .collect();
    // Six days of ops, evenly spaced.
    let flow_ops = FLOW_POINTS.len() as u64 * FLOW_WINDOWS + 2;
    let total_ops =
        (PEOPLE.len() + 1 + scale.requests * 2 + scale.tasks * 5 + 16) as u64 + flow_ops;
    let mut g = Gen {
        tx,
        net,
        rng,
        now: start,
        step: (6 * DAY / total_ops).max(1),
        actors,
        crisis: EntityId::from_bytes([0; 16]),
        ops: 0,
        flow_end: start + 6 * DAY - 30 * MINUTE,
        flow_rng: Rng(0x464c_4f57_5345_4544),
        alerted: false,
    };
    // A week of counts at each point, the last window ending half an hour
    // before the scenario's last op.
    let first = g.flow_end - FLOW_WINDOWS * 12 * 60 * MINUTE;
    let mut plan: Vec<Window> = (0..FLOW_WINDOWS)
        .flat_map(|k| {
            let start = first + k * 12 * 60 * MINUTE;
            (0..FLOW_POINTS.len()).map(move |point| Window {
                point,
                start,
                end: start + 12 * 60 * MINUTE,
            })
        })
        .collect();
    let mut counted = Vec::new();
    for (i, &(name, role, country, org)) in PEOPLE.iter().enumerate() {
        let person = g.actors[i].person;
        g.put(
            i,
            Payload::PersonDeclare(PersonDeclared::new(
                person,
                Identity {
                    name: name.into(),
                    role,
                    country,
                    org: Some(org.into()),
                },
                true,
            )),
        )?;
    }
    g.crisis = g.id();
    let crisis = g.crisis;
    g.put(
        0,
        Payload::CrisisOpen(CrisisOpened::new(
            crisis,
            Crisis {
                name: "Demo · Movimiento masivo por el corredor centroamericano".into(),
                countries: vec![
                    Country::Pa,
                    Country::Cr,
                    Country::Ni,
                    Country::Hn,
                    Country::Sv,
                    Country::Gt,
                    Country::Mx,
                ],
            },
            true,
        )),
    )?;

    let field: Vec<usize> = (0..g.actors.len())
        .filter(|&i| g.actors[i].role == Role::FieldCoordinator)
        .collect();
    let mut reqs: Vec<Req> = Vec::new();
    let mut tasks: Vec<Task> = Vec::new();
    let every = (scale.requests / scale.tasks.max(1)).max(1);
    let mut escalated = String::new();
    let mut conflicted = String::new();
    for n in 0..scale.requests {
        g.flows_until(&mut plan, &mut counted)?;
        let who = field[n % field.len()];
        let r = g.request(who)?;
        reqs.push(r);
        // Directors triage about half of what comes in.
        if n % 2 == 0 {
            let i = reqs.len() - 1;
            let d = g.director(reqs[i].country);
            let (id, on) = (reqs[i].id, reqs[i].on);
            g.act(
                d,
                ChangeKind::RequestStatus,
                id,
                on,
                vec![("status", json!("triaged"))],
                None,
            )?;
            reqs[i].status = RequestStatus::Triaged;
        }
        if n % 7 == 3 {
            let i = reqs.len() - 1;
            let (id, on) = (reqs[i].id, reqs[i].on);
            let significant = n % 21 == 3;
            let hlc_who = who;
            let request = Found {
                id,
                on,
                record: EntityKind::Request,
            };
            let mut c = change(tx, request, ChangeKind::NoteAdd, vec![])?;
            c.text = Some(if significant {
                "Llegó un grupo grande durante la noche; la cifra puede duplicarse".into()
            } else {
                "Verificado en sitio con la contraparte local".into()
            });
            c.significant = significant;
            g.put(hlc_who, Payload::Change(ChangeKind::NoteAdd, c))?;
        }
        if n % every != every - 1 || tasks.len() >= scale.tasks {
            continue;
        }
        // A director turns recent untasked requests of one country into a task.
        let i = reqs.len() - 1 - g.rng.below(reqs.len().min(8));
        let country = reqs[i].country;
        let sector = reqs[i].sector;
        let linked: Vec<usize> = (0..reqs.len())
            .rev()
            .filter(|&j| {
                reqs[j].country == country && !reqs[j].tasked && !reqs[j].status.is_final()
            })
            .take(1 + g.rng.below(3))
            .collect();
        let d = g.director(country);
        let locals = g.people_in(country, Role::FieldCoordinator);
        let holder_person =
            (!locals.is_empty() && g.rng.below(3) > 0).then(|| *g.rng.pick(&locals));
        let holder = match holder_person {
            Some(p) => Holder {
                person: Some(g.actors[p].person),
                org: Some(g.actors[p].org.into()),
            },
            None => Holder {
                person: None,
                org: Some(g.rng.pick(&["iom", "unicef", "unhcr", "wfp"]).to_string()),
            },
        };
        // Every fifth task is left open so two directors can race for it.
        let race = tasks.len() % 5 == 2 && conflicted.is_empty() && g.director(country) != 0;
        let a = &mut g.actors[d];
        a.tasks += 1;
        let reference =
            Reference::new(RefKind::Task, &a.key.device_id().tag(), a.tasks).into_string();
        let id = g.id();
        let due = g.now + DAY * (1 + g.rng.below(4) as u64);
        let priority = *g
            .rng
            .pick(&[Priority::Critical, Priority::High, Priority::Medium]);
        let title = format!(
            "{}: {}",
            NEEDS
                .iter()
                .find(|x| x.0 == sector)
                .map(|x| x.2)
                .unwrap_or("Respuesta"),
            reqs[i].reference
        );
        let on = g.put(
            d,
            Payload::TaskCreate(TaskCreated {
                id,
                reference: reference.clone(),
                crisis,
                task: NewTask {
                    title,
                    description: None,
                    scope: TaskScope::National(country),
                    sector,
                    priority,
                    due: Some(due as i64),
                },
                requests: linked.iter().map(|&j| reqs[j].id).collect(),
                holder: (!race).then(|| holder.clone()),
                alert: None,
            }),
        )?;
        for &j in &linked {
            reqs[j].tasked = true;
        }
        let mut t = Task {
            status: if race {
                TaskStatus::Open
            } else {
                TaskStatus::Assigned
            },
            holder: if race { None } else { holder_person },
            requests: linked,
        };
        if race {
            // The national director and the regional director both assign
            // it while offline: each write saw only the create op.
            let task = Found {
                id,
                on,
                record: EntityKind::Task,
            };
            let c1 = change(
                tx,
                task,
                ChangeKind::TaskAssign,
                vec![
                    ("holder".into(), json!(holder)),
                    ("status".into(), json!("assigned")),
                ],
            )?;
            let other = Holder {
                person: None,
                org: Some("iom".into()),
            };
            let mut c2 = c1.clone();
            c2.writes[0].value = json!(other);
            g.put(d, Payload::Change(ChangeKind::TaskAssign, c1))?;
            g.put(0, Payload::Change(ChangeKind::TaskAssign, c2))?;
            conflicted = reference;
            tasks.push(t);
            continue;
        }
        if escalated.is_empty() && country == Country::Gt {
            g.act(
                d,
                ChangeKind::TaskEscalate,
                id,
                on,
                vec![("scope", json!(TaskScope::Regional))],
                Some("El flujo continúa hacia México: requiere coordinación regional"),
            )?;
            g.act(
                0,
                ChangeKind::TaskHandOver,
                id,
                on,
                vec![
                    (
                        "holder",
                        json!(Holder {
                            person: None,
                            org: Some("iom".into())
                        }),
                    ),
                    ("status", json!("assigned")),
                ],
                Some("OIM coordina con INM México"),
            )?;
            t.holder = None;
            escalated = reference;
            tasks.push(t);
            continue;
        }
        // The holder takes it on and works it; some get handed over,
        // some blocked, most finished.
        if let Some(h) = t.holder {
            g.act(
                h,
                ChangeKind::TaskAccept,
                id,
                on,
                vec![("status", json!("accepted"))],
                None,
            )?;
            g.act(
                h,
                ChangeKind::TaskStatus,
                id,
                on,
                vec![("status", json!("in-progress"))],
                None,
            )?;
            t.status = TaskStatus::InProgress;
            match tasks.len() % 6 {
                0 => {
                    g.act(
                        d,
                        ChangeKind::TaskHandOver,
                        id,
                        on,
                        vec![
                            (
                                "holder",
                                json!(Holder {
                                    person: None,
                                    org: Some(format!("rc-{}", country.slug().to_lowercase()))
                                }),
                            ),
                            ("status", json!("assigned")),
                        ],
                        Some("Cambio de turno: pasa a Cruz Roja con la lista de familias"),
                    )?;
                    t.status = TaskStatus::Assigned;
                    t.holder = None;
                }
                1 => {
                    g.act(
                        h,
                        ChangeKind::TaskStatus,
                        id,
                        on,
                        vec![("status", json!("blocked"))],
                        Some("El camión no pasa el puesto de control"),
                    )?;
                    t.status = TaskStatus::Blocked;
                }
                2 | 3 => {
                    g.act(
                        h,
                        ChangeKind::TaskStatus,
                        id,
                        on,
                        vec![("status", json!("done"))],
                        None,
                    )?;
                    t.status = TaskStatus::Done;
                    for &j in &t.requests.clone() {
                        let (rid, ron) = (reqs[j].id, reqs[j].on);
                        // The delivery closes the request when it is still
                        // new or triaged.
                        let status = crate::coord::value(tx, rid, "status")?;
                        let closes =
                            status == Some(json!("triaged")) || status == Some(json!("new"));
                        let writes = if closes {
                            reqs[j].status = RequestStatus::Fulfilled;
                            vec![("status".into(), json!("fulfilled"))]
                        } else {
                            vec![]
                        };
                        let request = Found {
                            id: rid,
                            on: ron,
                            record: EntityKind::Request,
                        };
                        let mut c = change(tx, request, ChangeKind::RequestFulfil, writes)?;
                        c.fulfilment = Some(Fulfilment {
                            item: None,
                            what: "Entrega".into(),
                            quantity: 1.0,
                            unit: "entrega".into(),
                            by: Some(g.actors[h].org.into()),
                        });
                        g.put(h, Payload::Change(ChangeKind::RequestFulfil, c))?;
                    }
                }
                _ => {}
            }
        }
        tasks.push(t);
    }
    // The counts whose windows end after the last request, each logged just
    // after its window ends, a minute apart: the last lands before now.
    g.step = MINUTE;
    while let Some(end) = plan.first().map(|w| w.end) {
        g.now = g.now.max(end);
        g.flows_until(&mut plan, &mut counted)?;
    }
    Ok(Scenario {
        crisis,
        ops: g.ops,
        conflicted_task: conflicted,
        escalated_task: escalated,
    })
}
