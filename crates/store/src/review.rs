//! Review: what happened in a crisis, the board as it stood at any moment,
//! how fast the response was, and who did what where. Everything here reads
//! the log and the projections; nothing writes the device's log.

use crate::error::{Error, Result};
use crate::log::{entity_id, RawOp, OP_COLUMNS};
use crate::queries::parse_slug;
use crate::{now_ms, Store, TaskView};
use relevo_core::domain::{Country, Priority, RequestStatus, Sector, TaskScope};
use relevo_core::payload::{link_field, ChangeKind, Payload};
use relevo_core::EntityId;
use rusqlite::{params, OptionalExtension};
use serde::{Deserialize, Serialize};
use serde_json::Value;
use specta::Type;
use std::collections::{BTreeMap, HashMap, HashSet};

/// Timeline filters; every one is optional.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize, Type)]
#[serde(default)]
pub struct TimelineFilter {
    /// Events on records of this country (a regional task has none).
    pub country: Option<Country>,
    pub sector: Option<Sector>,
    /// Made by this person.
    pub person: Option<EntityId>,
    /// Made by someone of this organisation (its id).
    pub org: Option<String>,
    /// On this record (its reference, `REQ-…` or `TSK-…`).
    pub record: Option<String>,
    /// Made at or after (ms since the Unix epoch).
    pub from_ms: Option<i64>,
    /// Made at or before.
    pub to_ms: Option<i64>,
    /// Only significant notes.
    pub significant: bool,
}

/// One op of a crisis as a readable event.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, Type)]
pub struct Event {
    /// `<device>/<seq>`.
    pub op: String,
    pub device_tag: String,
    pub seq: u64,
    /// The op kind: `request.create`, `task.handover`…
    pub kind: String,
    /// One line in English, for the command line and the exports.
    pub summary: String,
    /// When it was made, by its device's clock.
    pub made_at_ms: u64,
    /// When this replica took it in (on the hub: when the hub received it).
    pub received_at_ms: u64,
    /// When the hub received it, as the hub told this device (on the hub,
    /// its own receipt); `None` when not known here.
    pub hub_received_at_ms: Option<u64>,
    pub author: EntityId,
    pub author_name: Option<String>,
    pub org: Option<String>,
    /// The record's reference (or the crisis name).
    pub record: Option<String>,
    /// `crisis`, `request` or `task`.
    pub record_kind: Option<String>,
    pub country: Option<Country>,
    pub sector: Option<Sector>,
    /// Fields it wrote (JSON text of each value).
    pub changes: Vec<crate::FieldChange>,
    pub text: Option<String>,
    pub significant: bool,
    /// Why every replica refused it; a refused op changed nothing.
    pub refused: Option<String>,
}

/// What the review knows of a record.
#[derive(Clone)]
struct Record {
    reference: String,
    kind: &'static str,
    country: Option<Country>,
    sector: Option<Sector>,
}

/// Which time "as of" counts by.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize, Type)]
#[serde(rename_all = "lowercase")]
pub enum Basis {
    /// When each op was made (its clock): what people did.
    #[default]
    Made,
    /// When this replica received it (on the hub, when the hub learned of
    /// it): what could be known; the difference is what being offline cost.
    Received,
}

/// The moments a crisis spans, for the as-of picker.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, Type)]
pub struct Span {
    pub first_ms: u64,
    pub last_ms: u64,
    pub ops: u64,
}

/// A view of the past kept between calls of [`Store::as_of_view_cached`]
/// (empty at first).
#[derive(Debug, Default)]
pub struct PastCache(Option<((EntityId, Basis, i64), Store)>);

/// The requests and the task board as they stood at a moment.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, Type)]
pub struct AsOfView {
    pub at_ms: u64,
    pub basis: Basis,
    /// How many requests the crisis had then.
    pub request_count: u64,
    /// The newest of them (at most [`AS_OF_SHOWN`]), newest first: a crisis
    /// of half a million requests is counted, not sent whole at every move
    /// of the slider.
    pub requests: Vec<crate::RequestView>,
    pub board: crate::Board,
}

/// The most requests an [`AsOfView`] lists.
pub const AS_OF_SHOWN: u32 = 40;

/// Median and 90th percentile of a set of durations.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, Type)]
pub struct Stat {
    /// How many records reached the milestone.
    pub count: u32,
    pub median_ms: Option<f64>,
    pub p90_ms: Option<f64>,
}

impl Stat {
    /// Median (the mean of the middle two for an even count) and 90th
    /// percentile (nearest rank: the smallest value with at least 90% of the
    /// values at or below it).
    pub fn of(mut values: Vec<f64>) -> Stat {
        values.sort_by(f64::total_cmp);
        let n = values.len();
        if n == 0 {
            return Stat::default();
        }
        let median = if n % 2 == 1 {
            values[n / 2]
        } else {
            (values[n / 2 - 1] + values[n / 2]) / 2.0
        };
        let rank = (0.9 * n as f64).ceil() as usize;
        Stat {
            count: n as u32,
            median_ms: Some(median),
            p90_ms: Some(values[rank.clamp(1, n) - 1]),
        }
    }
}

/// Response times for one group of requests.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, Type)]
pub struct ResponseTimes {
    /// `all`, `country`, `sector` or `priority`.
    pub by: String,
    /// The group's code (`GT`, `shelter`, `high`), empty for `all`.
    pub group: String,
    pub requests: u32,
    /// From logging a request to the first task that answers it.
    pub to_first_task: Stat,
    /// To the first delivery recorded against it.
    pub to_first_fulfilment: Stat,
    /// To its status becoming fulfilled.
    pub to_fulfilled: Stat,
}

/// A record the measures point at.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, Type)]
pub struct RecordRef {
    pub reference: String,
    pub country: Option<Country>,
    pub sector: Sector,
    pub priority: Priority,
    pub at_ms: u64,
}

/// Made → received for one device's ops in the crisis.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, Type)]
pub struct DeviceLag {
    pub device_tag: String,
    pub person: Option<String>,
    pub lag: Stat,
    pub max_ms: Option<f64>,
}

/// Handovers per task.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, Type)]
pub struct Handovers {
    pub tasks: u32,
    pub handovers: u32,
    pub tasks_handed_over: u32,
    pub max_per_task: u32,
    /// Tasks by number of handovers: index 0 = none, 1 = one…
    pub distribution: Vec<u32>,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, Type)]
pub struct Measures {
    pub crisis: EntityId,
    /// The moment overdue is judged at.
    pub at_ms: u64,
    pub response: Vec<ResponseTimes>,
    pub overdue: Vec<RecordRef>,
    pub handovers: Handovers,
    /// Open requests no task answers.
    pub without_task: Vec<RecordRef>,
    pub sync_lag: Vec<DeviceLag>,
    /// Early warnings: how fast they were acknowledged and acted on.
    pub alerts: AlertTimes,
}

/// Early-warning alerts of a crisis and how fast the countries responded:
/// from the alert to its first acknowledgement, and to the first task made
/// to prepare for it (each by the clocks of the ops).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, Type)]
pub struct AlertTimes {
    pub raised: u32,
    pub acknowledged: u32,
    /// Acknowledgements, one per country (or the region) per alert.
    pub acknowledgements: u32,
    pub with_tasks: u32,
    pub to_first_ack: Stat,
    pub to_first_task: Stat,
}

/// One cell of the 5W matrix: who (organisation) does what (sector) where
/// (country, admin area), when (from its first task to its last finished
/// one) and for whom (the people in the requests its tasks answer).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, Type)]
pub struct WhoWhatWhere {
    /// The organisation's id, or `unassigned`.
    pub org: String,
    pub org_name: Option<String>,
    pub sector: Sector,
    pub country: Option<Country>,
    /// The first-level admin area of the requests' site, where known.
    pub adm1: Option<String>,
    /// Its P-code, where an administrator recorded one.
    pub pcode: Option<String>,
    pub tasks: u32,
    /// Of which not yet done or cancelled.
    pub open_tasks: u32,
    /// Distinct requests its tasks answer.
    pub requests: u32,
    /// When its first task was created.
    pub start_ms: Option<u64>,
    /// When its last task was finished; none while any is still open.
    pub end_ms: Option<u64>,
    /// People in those requests, and the parts of them whose sex or age
    /// was recorded.
    pub people: PeopleSum,
}

/// People summed over requests. A part counts only the requests that
/// recorded it, so the parts may add up to less than the total.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize, Type)]
pub struct PeopleSum {
    pub total: u64,
    pub female: u64,
    pub male: u64,
    pub children: u64,
    pub elderly: u64,
    /// People counted in the requests' vulnerable groups.
    pub vulnerable: u64,
}

impl PeopleSum {
    pub fn add(&mut self, r: &crate::RequestView) {
        let p = &r.people;
        self.total += u64::from(p.total);
        self.female += u64::from(p.female().unwrap_or(0));
        self.male += u64::from(p.male().unwrap_or(0));
        self.children += u64::from(p.children().unwrap_or(0));
        self.elderly += u64::from(p.age60_plus.unwrap_or(0));
        self.vulnerable += r.vulnerable.iter().map(|v| u64::from(v.count)).sum::<u64>();
    }
}

/// Where a site lies, as far as the roster knows.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, Type)]
pub struct Place {
    pub adm1: Option<String>,
    pub pcode: Option<String>,
    pub lat: Option<f64>,
    pub lon: Option<f64>,
}

/// The roster's sites by country and name, to place a request's site. A
/// request names a site exactly, or begins with its name and then says more
/// ("Tecún Umán, bajo el puente").
#[derive(Clone, Debug, Default)]
pub struct Places(HashMap<(Country, String), Place>);

impl Places {
    pub fn of(&self, country: Country, site: &str) -> Option<&Place> {
        let site = site.trim().to_lowercase();
        if let Some(p) = self.0.get(&(country, site.clone())) {
            return Some(p);
        }
        self.0
            .iter()
            .filter(|((c, name), _)| {
                *c == country
                    && site
                        .strip_prefix(name.as_str())
                        .is_some_and(|rest| rest.starts_with([',', '(', '-', ' ']))
            })
            .max_by_key(|((_, name), _)| name.len())
            .map(|(_, p)| p)
    }

    /// Every site's place, with its country.
    pub fn iter(&self) -> impl Iterator<Item = (Country, &Place)> {
        self.0.iter().map(|((c, _), p)| (*c, p))
    }
}

/// Requests and people per country and admin area, for the map.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, Type)]
pub struct AreaCount {
    pub country: Country,
    pub adm1: Option<String>,
    pub pcode: Option<String>,
    /// The mean position of the area's sites that have coordinates.
    pub lat: Option<f64>,
    pub lon: Option<f64>,
    pub requests: u32,
    pub people: u64,
    pub open: u32,
}

fn describe_value(v: &Value) -> String {
    match v {
        Value::String(s) => s.clone(),
        Value::Null => "nothing".into(),
        other => other.to_string(),
    }
}

impl Store {
    /// Every record of a crisis as the review names it.
    fn records(&self, crisis: EntityId) -> Result<HashMap<EntityId, Record>> {
        let mut out = HashMap::new();
        let mut stmt = self
            .conn
            .prepare("SELECT id, reference, country, sector FROM requests WHERE crisis = ?1")?;
        let mut rows = stmt.query([crisis.as_bytes()])?;
        while let Some(r) = rows.next()? {
            out.insert(
                entity_id(&r.get::<_, Vec<u8>>(0)?)?,
                Record {
                    reference: r.get(1)?,
                    kind: "request",
                    country: Some(parse_slug(&r.get::<_, String>(2)?, Country::parse)?),
                    sector: Some(parse_slug(&r.get::<_, String>(3)?, Sector::parse)?),
                },
            );
        }
        let mut stmt = self
            .conn
            .prepare("SELECT id, reference, scope, sector FROM tasks WHERE crisis = ?1")?;
        let mut rows = stmt.query([crisis.as_bytes()])?;
        while let Some(r) = rows.next()? {
            let scope: String = r.get(2)?;
            out.insert(
                entity_id(&r.get::<_, Vec<u8>>(0)?)?,
                Record {
                    reference: r.get(1)?,
                    kind: "task",
                    country: Country::parse(&scope),
                    sector: Some(parse_slug(&r.get::<_, String>(3)?, Sector::parse)?),
                },
            );
        }
        for (table, kind) in [("flow_counts", "flow"), ("alerts", "alert")] {
            let mut stmt = self.conn.prepare(&format!(
                "SELECT id, reference, country FROM {table} WHERE crisis = ?1"
            ))?;
            let mut rows = stmt.query([crisis.as_bytes()])?;
            while let Some(r) = rows.next()? {
                out.insert(
                    entity_id(&r.get::<_, Vec<u8>>(0)?)?,
                    Record {
                        reference: r.get(1)?,
                        kind,
                        country: Some(parse_slug(&r.get::<_, String>(2)?, Country::parse)?),
                        sector: None,
                    },
                );
            }
        }
        if let Some(c) = self.crisis(crisis)? {
            out.insert(
                crisis,
                Record {
                    reference: c.name,
                    kind: "crisis",
                    country: None,
                    sector: None,
                },
            );
        }
        Ok(out)
    }

    /// People's names and organisations.
    fn people(&self) -> Result<HashMap<EntityId, (String, Option<String>)>> {
        let mut stmt = self.conn.prepare("SELECT id, name, org FROM persons")?;
        let mut rows = stmt.query([])?;
        let mut out = HashMap::new();
        while let Some(r) = rows.next()? {
            out.insert(entity_id(&r.get::<_, Vec<u8>>(0)?)?, (r.get(1)?, r.get(2)?));
        }
        Ok(out)
    }

    /// Every op of a crisis, oldest first, as readable events.
    pub fn timeline(&self, crisis: EntityId, f: &TimelineFilter) -> Result<Vec<Event>> {
        let records = self.records(crisis)?;
        let people = self.people()?;
        let by_id: HashMap<EntityId, &Record> = records.iter().map(|(k, v)| (*k, v)).collect();
        let columns = OP_COLUMNS
            .split(", ")
            .map(|c| format!("o.{c}"))
            .collect::<Vec<_>>()
            .join(", ");
        let mut stmt = self.conn.prepare(&format!(
            "SELECT {columns}, o.received_at, o.refused, hr.at FROM ops o
             LEFT JOIN hub_receipts hr ON hr.device = o.device AND hr.seq = o.seq
             WHERE (?1 IS NULL OR o.hlc_wall >= ?1) AND (?2 IS NULL OR o.hlc_wall <= ?2)
             ORDER BY o.hlc_wall, o.hlc_counter, o.device, o.seq"
        ))?;
        let mut rows = stmt.query(params![f.from_ms, f.to_ms])?;
        let mut out = Vec::new();
        let is_hub = self.net.is_hub;
        while let Some(row) = rows.next()? {
            let received: i64 = row.get(9)?;
            let refused: Option<String> = row.get(10)?;
            let hub_received: Option<i64> = if is_hub { Some(received) } else { row.get(11)? };
            let op = RawOp::read(row)?.into_op()?;
            let Ok(Some(payload)) = Payload::decode(&op.body.kind, &op.body.payload) else {
                continue;
            };
            let entity = match &payload {
                Payload::Change(_, c) => c.entity,
                Payload::FlowCount(f) if f.crisis == crisis => f.id,
                Payload::AlertRaise(a) if a.crisis == crisis => a.id,
                Payload::AlertAck(k) => k.alert,
                p => match p.creates() {
                    Some((_, id)) if p.crisis() == Some(crisis) => id,
                    _ => continue,
                },
            };
            // A refused create made no record: name it from its payload.
            let record: Option<Record> = match by_id.get(&entity) {
                Some(r) => Some((*r).clone()),
                None => match &payload {
                    Payload::RequestCreate(r) if r.crisis == crisis => Some(Record {
                        reference: r.reference.clone(),
                        kind: "request",
                        country: Some(r.request.country),
                        sector: Some(r.request.sector),
                    }),
                    Payload::TaskCreate(t) if t.crisis == crisis => Some(Record {
                        reference: t.reference.clone(),
                        kind: "task",
                        country: match t.task.scope {
                            TaskScope::National(c) => Some(c),
                            TaskScope::Regional => None,
                        },
                        sector: Some(t.task.sector),
                    }),
                    Payload::FlowCount(f) if f.crisis == crisis => Some(Record {
                        reference: f.reference.clone(),
                        kind: "flow",
                        country: Some(f.count.country),
                        sector: None,
                    }),
                    Payload::AlertRaise(a) if a.crisis == crisis => Some(Record {
                        reference: a.reference.clone(),
                        kind: "alert",
                        country: Some(a.country),
                        sector: None,
                    }),
                    _ => None,
                },
            };
            let Some(record) = record else { continue };
            let author = op.body.author;
            let (author_name, org) = people
                .get(&author)
                .cloned()
                .map(|(n, o)| (Some(n), o))
                .unwrap_or((None, None));
            let (text, significant) = match &payload {
                Payload::Change(_, c) => (c.text.clone(), c.significant),
                // An early warning is always worth a reviewer's eye.
                Payload::AlertRaise(_) => (None, true),
                Payload::AlertAck(k) => (k.note.clone(), false),
                Payload::FlowCount(f) => (f.count.remarks.clone(), false),
                _ => (None, false),
            };
            if f.country.is_some() && record.country != f.country
                || f.sector.is_some() && record.sector != f.sector
                || f.person.is_some_and(|p| p != author)
                || f.org.as_ref().is_some_and(|o| org.as_ref() != Some(o))
                || f.record
                    .as_ref()
                    .is_some_and(|r| !r.eq_ignore_ascii_case(&record.reference))
                || f.significant && !significant
            {
                continue;
            }
            let changes = match &payload {
                Payload::Change(_, c) => c
                    .writes
                    .iter()
                    .map(|w| crate::FieldChange {
                        field: w.field.clone(),
                        value: w.value.to_string(),
                    })
                    .collect(),
                _ => Vec::new(),
            };
            let summary = summarise(&payload, &record, &people);
            out.push(Event {
                op: op.op_ref().to_string(),
                device_tag: op.body.device.tag(),
                seq: op.body.seq,
                kind: op.body.kind.clone(),
                summary,
                made_at_ms: op.body.hlc.wall_ms,
                received_at_ms: received as u64,
                hub_received_at_ms: hub_received.map(|t| t.max(0) as u64),
                author,
                author_name,
                org,
                record: Some(record.reference.clone()),
                record_kind: Some(record.kind.to_owned()),
                country: record.country,
                sector: record.sector,
                changes,
                text,
                significant,
                refused,
            });
        }
        Ok(out)
    }

    /// When a crisis opened and when its latest op was made (or received).
    pub fn span(&self, crisis: EntityId, basis: Basis) -> Result<Span> {
        let events = self.timeline(crisis, &TimelineFilter::default())?;
        let time = |e: &Event| match basis {
            Basis::Made => e.made_at_ms,
            Basis::Received => e.received_at_ms,
        };
        let first = events.iter().map(time).min();
        let last = events.iter().map(time).max();
        match (first, last) {
            (Some(first_ms), Some(last_ms)) => Ok(Span {
                first_ms,
                last_ms,
                ops: events.len() as u64,
            }),
            _ => Err(Error::Invalid(
                "this crisis has nothing recorded yet: there is nothing to review".into(),
            )),
        }
    }

    /// The whole store as it stood at `at_ms`: a view of the past (an
    /// in-memory store, see `past`) whose projections hold only the ops
    /// made (or received, by `basis`) by then, with the verdicts every
    /// replica reached. Views of it (requests, board, measures) show the
    /// crisis exactly as it was; [`Store::move_to`] moves it to another
    /// moment, reusing what it holds.
    pub fn as_of(&self, crisis: EntityId, at_ms: u64, basis: Basis) -> Result<Store> {
        self.check_moment(crisis, at_ms, basis)?;
        self.past(basis, at_ms)
    }

    /// Whether a crisis can be seen as of `at_ms`: not before it opened,
    /// not in the future.
    pub fn check_moment(&self, crisis: EntityId, at_ms: u64, basis: Basis) -> Result<()> {
        let shown = format_ms;
        let opened = self.opened(crisis, basis)?;
        if at_ms < opened {
            return Err(Error::Invalid(format!(
                "{} is before the crisis began ({}): pick a moment between then and {}",
                shown(at_ms),
                shown(opened),
                shown(now_ms())
            )));
        }
        if at_ms > now_ms() {
            return Err(Error::Invalid(format!(
                "{} is in the future: pick a moment between {} and now",
                shown(at_ms),
                shown(opened)
            )));
        }
        Ok(())
    }

    /// When a crisis was opened (or its opening received, by `basis`).
    fn opened(&self, crisis: EntityId, basis: Basis) -> Result<u64> {
        let at: Option<i64> = self
            .conn
            .query_row(
                &format!(
                    "SELECT o.{} FROM crises c JOIN ops o ON o.device = c.device AND o.seq = c.seq
                     WHERE c.id = ?1",
                    match basis {
                        Basis::Made => "hlc_wall",
                        Basis::Received => "received_at",
                    }
                ),
                [crisis.as_bytes()],
                |r| r.get(0),
            )
            .optional()?;
        at.map(|t| t.max(0) as u64).ok_or_else(|| {
            Error::Invalid(
                "this crisis has nothing recorded yet: there is nothing to review".into(),
            )
        })
    }

    /// The requests and the board of a crisis as they stood at `at_ms`.
    pub fn as_of_view(&self, crisis: EntityId, at_ms: u64, basis: Basis) -> Result<AsOfView> {
        self.as_of_view_cached(&mut PastCache::default(), crisis, at_ms, basis)
    }

    /// [`Store::as_of_view`], reusing the view of the past an earlier call
    /// left in `cache` while it still stands for the same crisis, basis and
    /// log (no op taken in since): moved to the new moment (see
    /// [`Store::move_to`]) instead of built again. A reviewer dragging the
    /// slider waits for the ops between two moments, not for the crisis.
    pub fn as_of_view_cached(
        &self,
        cache: &mut PastCache,
        crisis: EntityId,
        at_ms: u64,
        basis: Basis,
    ) -> Result<AsOfView> {
        self.check_moment(crisis, at_ms, basis)?;
        let arrived: i64 =
            self.conn
                .query_row("SELECT COALESCE(max(rowid), 0) FROM op_rows", [], |r| {
                    r.get(0)
                })?;
        let key = (crisis, basis, arrived);
        let reused = match cache.0.take() {
            Some((k, mut then)) if k == key => then.move_to(at_ms).map(|()| then),
            _ => self.past(basis, at_ms),
        }?;
        let request_count: i64 = reused.conn.query_row(
            "SELECT count(*) FROM requests WHERE crisis = ?1",
            [crisis.as_bytes()],
            |r| r.get(0),
        )?;
        let view = AsOfView {
            at_ms,
            basis,
            request_count: request_count as u64,
            requests: reused.find_requests(crisis, &Default::default(), AS_OF_SHOWN)?,
            board: reused.board(crisis, &crate::TaskFilter::default())?,
        };
        cache.0 = Some((key, reused));
        Ok(view)
    }

    /// Response-time measures, overdue tasks, handovers, requests nobody
    /// answers and sync lag, for a crisis. Overdue is judged at `at_ms`.
    pub fn measures(&self, crisis: EntityId, at_ms: u64) -> Result<Measures> {
        let events = self.timeline(crisis, &TimelineFilter::default())?;
        self.measures_of(crisis, at_ms, &events)
    }

    /// [`Store::measures`] from the crisis's timeline already read.
    pub fn measures_of(&self, crisis: EntityId, at_ms: u64, events: &[Event]) -> Result<Measures> {
        let requests = self.requests(crisis)?;
        let tasks = self.tasks(crisis)?;
        // First link of a task to each request (a task created for it, or
        // linked later), by the clock of the op that linked it.
        let mut first_task: HashMap<EntityId, u64> = HashMap::new();
        let mut first_fulfilment: HashMap<EntityId, u64> = HashMap::new();
        let mut fulfilled: HashMap<EntityId, u64> = HashMap::new();
        {
            // One pass over the link writes (the registers are keyed by
            // record first, so a lookup per request would scan them all).
            let mut links: HashMap<String, u64> = HashMap::new();
            let mut stmt = self.conn.prepare(
                "SELECT field, min(hlc_wall) FROM registers
                 WHERE field >= 'link/' AND field < 'link0' AND value = 'true' GROUP BY field",
            )?;
            let mut rows = stmt.query([])?;
            while let Some(r) = rows.next()? {
                links.insert(r.get(0)?, r.get::<_, i64>(1)? as u64);
            }
            let mut fstmt = self
                .conn
                .prepare_cached("SELECT min(hlc_wall) FROM fulfilments WHERE request = ?1")?;
            let mut sstmt = self.conn.prepare_cached(
                "SELECT min(hlc_wall) FROM registers WHERE entity = ?1 AND field = 'status'
                   AND value IN ('\"fulfilled\"', '\"closed\"')",
            )?;
            for r in &requests {
                if let Some(t) = links.get(&link_field(r.id)) {
                    first_task.insert(r.id, *t);
                }
                let t: Option<i64> = fstmt.query_row([r.id.as_bytes()], |x| x.get(0))?;
                if let Some(t) = t {
                    first_fulfilment.insert(r.id, t as u64);
                }
                let t: Option<i64> = sstmt.query_row([r.id.as_bytes()], |x| x.get(0))?;
                if let Some(t) = t {
                    fulfilled.insert(r.id, t as u64);
                }
            }
        }
        let answered = |r: &crate::RequestView| {
            !matches!(
                r.status,
                RequestStatus::Cancelled | RequestStatus::Duplicate
            )
        };
        let mut groups: BTreeMap<(u8, &'static str, String), Vec<&crate::RequestView>> =
            BTreeMap::new();
        for r in requests.iter().filter(|r| answered(r)) {
            groups.entry((0, "all", String::new())).or_default().push(r);
            groups
                .entry((1, "country", r.country.code().to_owned()))
                .or_default()
                .push(r);
            groups
                .entry((2, "sector", r.sector.slug().to_owned()))
                .or_default()
                .push(r);
            groups
                .entry((3, "priority", r.priority.slug().to_owned()))
                .or_default()
                .push(r);
        }
        let since = |m: &HashMap<EntityId, u64>, rs: &[&crate::RequestView]| {
            Stat::of(
                rs.iter()
                    .filter_map(|r| {
                        m.get(&r.id)
                            .map(|t| t.saturating_sub(r.recorded_at_ms) as f64)
                    })
                    .collect(),
            )
        };
        let response = groups
            .into_iter()
            .map(|((_, by, group), rs)| ResponseTimes {
                by: by.to_owned(),
                group,
                requests: rs.len() as u32,
                to_first_task: since(&first_task, &rs),
                to_first_fulfilment: since(&first_fulfilment, &rs),
                to_fulfilled: since(&fulfilled, &rs),
            })
            .collect();
        let task_ref = |t: &TaskView| RecordRef {
            reference: t.reference.clone(),
            country: match t.scope {
                TaskScope::National(c) => Some(c),
                TaskScope::Regional => None,
            },
            sector: t.sector,
            priority: t.priority,
            at_ms: t.due_ms.unwrap_or_default() as u64,
        };
        let overdue = tasks
            .iter()
            .filter(|t| t.due_ms.is_some_and(|d| d < at_ms as i64) && !t.status.is_final())
            .map(task_ref)
            .collect();
        // Handovers: writes of a task's holder by a handover op.
        let mut per_task: HashMap<EntityId, u32> = tasks.iter().map(|t| (t.id, 0)).collect();
        {
            let mut stmt = self.conn.prepare(
                "SELECT entity, count(*) FROM registers WHERE field = 'holder' AND kind = ?1
                 GROUP BY entity",
            )?;
            let mut rows = stmt.query([ChangeKind::TaskHandOver.kind()])?;
            while let Some(r) = rows.next()? {
                let id = entity_id(&r.get::<_, Vec<u8>>(0)?)?;
                if let Some(n) = per_task.get_mut(&id) {
                    *n = r.get(1)?;
                }
            }
        }
        let max_per_task = per_task.values().copied().max().unwrap_or(0);
        let mut distribution = vec![0u32; max_per_task as usize + 1];
        for n in per_task.values() {
            distribution[*n as usize] += 1;
        }
        let handovers = Handovers {
            tasks: per_task.len() as u32,
            handovers: per_task.values().sum(),
            tasks_handed_over: per_task.values().filter(|n| **n > 0).count() as u32,
            max_per_task,
            distribution,
        };
        let without_task = requests
            .iter()
            .filter(|r| r.tasks == 0 && r.status.is_open())
            .map(|r| RecordRef {
                reference: r.reference.clone(),
                country: Some(r.country),
                sector: r.sector,
                priority: r.priority,
                at_ms: r.recorded_at_ms,
            })
            .collect();
        let sync_lag = sync_lag(events);
        Ok(Measures {
            crisis,
            at_ms,
            response,
            overdue,
            handovers,
            without_task,
            sync_lag,
            alerts: self.alert_times(crisis)?,
        })
    }

    fn alert_times(&self, crisis: EntityId) -> Result<AlertTimes> {
        let mut stmt = self.conn.prepare(
            "SELECT a.hlc_wall,
                    (SELECT min(k.hlc_wall) FROM alert_acks k WHERE k.alert = a.id),
                    (SELECT count(*) FROM alert_acks k WHERE k.alert = a.id),
                    (SELECT min(t.hlc_wall) FROM tasks t WHERE t.alert = a.id)
             FROM alerts a WHERE a.crisis = ?1",
        )?;
        let mut rows = stmt.query([crisis.as_bytes()])?;
        let (mut raised, mut acknowledged, mut acknowledgements, mut with_tasks) = (0, 0, 0, 0);
        let (mut to_ack, mut to_task) = (Vec::new(), Vec::new());
        while let Some(r) = rows.next()? {
            let at: i64 = r.get(0)?;
            raised += 1;
            if let Some(k) = r.get::<_, Option<i64>>(1)? {
                acknowledged += 1;
                to_ack.push((k - at).max(0) as f64);
            }
            acknowledgements += r.get::<_, i64>(2)? as u32;
            if let Some(t) = r.get::<_, Option<i64>>(3)? {
                with_tasks += 1;
                to_task.push((t - at).max(0) as f64);
            }
        }
        Ok(AlertTimes {
            raised,
            acknowledged,
            acknowledgements,
            with_tasks,
            to_first_ack: Stat::of(to_ack),
            to_first_task: Stat::of(to_task),
        })
    }

    /// The 5W matrix of a crisis: who (organisation) does what (sector)
    /// where (country, admin area), when and for whom, from its tasks and
    /// the requests they answer.
    pub fn who_what_where(&self, crisis: EntityId) -> Result<Vec<WhoWhatWhere>> {
        let tasks = self.tasks(crisis)?;
        let requests: HashMap<EntityId, crate::RequestView> = self
            .requests(crisis)?
            .into_iter()
            .map(|r| (r.id, r))
            .collect();
        let places = self.site_places()?;
        let person_org: HashMap<EntityId, Option<String>> = self
            .people()?
            .into_iter()
            .map(|(id, (_, org))| (id, org))
            .collect();
        let org_names: HashMap<String, String> =
            self.orgs()?.into_iter().map(|o| (o.id, o.name)).collect();
        type Key = (String, String, String, String);
        let mut cells: BTreeMap<Key, (WhoWhatWhere, HashSet<EntityId>)> = BTreeMap::new();
        let mut links = self
            .conn
            .prepare("SELECT request FROM task_links WHERE task = ?1")?;
        // A finished task's status register holds when it was finished.
        let mut finished = self.conn.prepare(
            "SELECT max(hlc_wall) FROM registers WHERE entity = ?1 AND field = 'status'",
        )?;
        for t in &tasks {
            let org = t
                .holder
                .as_ref()
                .and_then(|h| {
                    h.org
                        .clone()
                        .or_else(|| h.person.and_then(|p| person_org.get(&p).cloned().flatten()))
                })
                .unwrap_or_else(|| "unassigned".into());
            let answered: Vec<&crate::RequestView> = links
                .query_map([t.id.as_bytes()], |r| r.get::<_, Vec<u8>>(0))?
                .filter_map(|r| r.ok())
                .filter_map(|b| entity_id(&b).ok())
                .filter_map(|id| requests.get(&id))
                .collect();
            let country = match t.scope {
                TaskScope::National(c) => Some(c),
                TaskScope::Regional => answered.first().map(|r| r.country),
            };
            let place = answered
                .iter()
                .find_map(|r| places.of(r.country, &r.site))
                .cloned()
                .unwrap_or_default();
            let key = (
                org.clone(),
                t.sector.slug().to_owned(),
                country.map(|c| c.code().to_owned()).unwrap_or_default(),
                place.adm1.clone().unwrap_or_default(),
            );
            let (cell, seen) = cells.entry(key).or_insert_with(|| {
                let cell = WhoWhatWhere {
                    org_name: org_names.get(&org).cloned(),
                    org: org.clone(),
                    sector: t.sector,
                    country,
                    adm1: place.adm1.clone(),
                    pcode: place.pcode.clone(),
                    tasks: 0,
                    open_tasks: 0,
                    requests: 0,
                    start_ms: None,
                    end_ms: Some(0),
                    people: PeopleSum::default(),
                };
                (cell, HashSet::new())
            });
            cell.tasks += 1;
            cell.start_ms = Some(
                cell.start_ms
                    .map_or(t.created_at_ms, |s| s.min(t.created_at_ms)),
            );
            if t.status.is_final() {
                let at: Option<i64> = finished.query_row([t.id.as_bytes()], |r| r.get(0))?;
                let at = at.unwrap_or(0).max(0) as u64;
                cell.end_ms = cell.end_ms.map(|e| e.max(at));
            } else {
                cell.open_tasks += 1;
                cell.end_ms = None;
            }
            for r in answered {
                if seen.insert(r.id) {
                    cell.requests += 1;
                    cell.people.add(r);
                }
            }
        }
        Ok(cells.into_values().map(|(cell, _)| cell).collect())
    }

    /// Requests and people per country and admin area (where the site is
    /// known), for the map.
    pub fn areas(&self, crisis: EntityId) -> Result<Vec<AreaCount>> {
        let places = self.site_places()?;
        // Each area's position: the mean of its sites' coordinates.
        let mut positions: HashMap<(Country, String), (f64, f64, u32)> = HashMap::new();
        for (country, p) in places.iter() {
            if let (Some(adm1), Some(lat), Some(lon)) = (&p.adm1, p.lat, p.lon) {
                let at = positions.entry((country, adm1.clone())).or_default();
                *at = (at.0 + lat, at.1 + lon, at.2 + 1);
            }
        }
        let mut out: BTreeMap<(Country, Option<String>), AreaCount> = BTreeMap::new();
        for r in self.requests(crisis)? {
            if matches!(
                r.status,
                RequestStatus::Cancelled | RequestStatus::Duplicate
            ) {
                continue;
            }
            let place = places.of(r.country, &r.site).cloned().unwrap_or_default();
            let cell = out
                .entry((r.country, place.adm1.clone()))
                .or_insert_with(|| {
                    let at = place
                        .adm1
                        .as_ref()
                        .and_then(|a| positions.get(&(r.country, a.clone())));
                    AreaCount {
                        country: r.country,
                        adm1: place.adm1.clone(),
                        pcode: place.pcode.clone(),
                        lat: at.map(|a| a.0 / f64::from(a.2)),
                        lon: at.map(|a| a.1 / f64::from(a.2)),
                        requests: 0,
                        people: 0,
                        open: 0,
                    }
                });
            cell.requests += 1;
            cell.people += u64::from(r.people.total);
            if r.status.is_open() {
                cell.open += 1;
            }
        }
        Ok(out.into_values().collect())
    }

    /// The requests a task answers.
    pub fn task_requests(&self, task: EntityId) -> Result<Vec<EntityId>> {
        let mut stmt = self
            .conn
            .prepare_cached("SELECT request FROM task_links WHERE task = ?1")?;
        let rows = stmt.query_map([task.as_bytes()], |r| r.get::<_, Vec<u8>>(0))?;
        let mut out = Vec::new();
        for r in rows {
            out.push(entity_id(&r?)?);
        }
        Ok(out)
    }

    /// Where the roster says its sites lie.
    pub fn site_places(&self) -> Result<Places> {
        Ok(Places(
            self.roster()?
                .sites
                .into_iter()
                .map(|s| {
                    let place = Place {
                        adm1: s.adm1,
                        pcode: s.pcode,
                        lat: s.lat,
                        lon: s.lon,
                    };
                    ((s.country, s.name.trim().to_lowercase()), place)
                })
                .collect(),
        ))
    }
}

/// One line in English saying what an op did.
fn summarise(
    payload: &Payload,
    record: &Record,
    people: &HashMap<EntityId, (String, Option<String>)>,
) -> String {
    let r = &record.reference;
    match payload {
        Payload::CrisisOpen(c) => format!("opened the crisis {}", c.name),
        Payload::FlowCount(f) => {
            let c = &f.count;
            format!(
                "counted {} people {} at {} ({}) from {} to {}",
                c.people.total,
                c.direction.slug(),
                c.point,
                c.country.code(),
                format_ms(c.start_ms.max(0) as u64),
                format_ms(c.end_ms.max(0) as u64)
            )
        }
        Payload::AlertRaise(a) => {
            let next = a
                .arrivals
                .first()
                .map(|x| {
                    format!(
                        "; expected at {} ({}) from {}",
                        x.point,
                        x.country.code(),
                        format_ms(x.earliest_ms.max(0) as u64)
                    )
                })
                .unwrap_or_default();
            format!(
                "raised early-warning alert {r}: {} people at {} ({}) in 24 h{next}",
                a.surge.people,
                a.point,
                a.country.code()
            )
        }
        Payload::AlertAck(k) => format!(
            "acknowledged {r} for {}",
            k.country.map(|c| c.code()).unwrap_or("the region")
        ),
        Payload::RequestCreate(q) => {
            let q = &q.request;
            format!(
                "logged {r}: {} for {} people at {} ({}), {} priority",
                q.sector.slug(),
                q.people.total,
                q.site,
                q.country.code(),
                q.priority.slug()
            )
        }
        Payload::TaskCreate(t) => {
            let to = t
                .holder
                .as_ref()
                .map(|h| format!(", assigned to {}", holder_name(h, people)))
                .unwrap_or_default();
            format!("created {r}: {}{to}", t.task.title)
        }
        Payload::Change(kind, c) => {
            let value = |field: &str| {
                c.writes
                    .iter()
                    .find(|w| w.field == field)
                    .map(|w| w.value.clone())
            };
            let holder = || {
                value("holder")
                    .and_then(|v| {
                        serde_json::from_value::<Option<relevo_core::domain::Holder>>(v).ok()
                    })
                    .flatten()
                    .map(|h| holder_name(&h, people))
                    .unwrap_or_else(|| "nobody".into())
            };
            let status = || {
                value("status")
                    .map(|v| describe_value(&v))
                    .unwrap_or_default()
            };
            match kind {
                ChangeKind::RequestUpdate => format!(
                    "corrected {r}: {}",
                    c.writes
                        .iter()
                        .map(|w| w.field.as_str())
                        .collect::<Vec<_>>()
                        .join(", ")
                ),
                ChangeKind::RequestStatus | ChangeKind::TaskStatus => {
                    format!("set {r} to {}", status())
                }
                ChangeKind::RequestFulfil => match &c.fulfilment {
                    Some(f) => format!(
                        "recorded delivery on {r}: {} {} {}{}",
                        f.quantity,
                        f.unit,
                        f.what,
                        f.by.as_ref()
                            .map(|b| format!(" by {b}"))
                            .unwrap_or_default()
                    ),
                    None => format!("recorded delivery on {r}"),
                },
                ChangeKind::TaskAssign => format!("assigned {r} to {}", holder()),
                ChangeKind::TaskAccept => format!("accepted {r}"),
                ChangeKind::TaskHandOver => format!("handed {r} over to {}", holder()),
                ChangeKind::TaskEscalate => format!("escalated {r} to the regional level"),
                ChangeKind::TaskLink => format!("linked {r} to a request"),
                ChangeKind::TaskUnlink => format!("unlinked {r} from a request"),
                ChangeKind::NoteAdd => format!(
                    "{}note on {r}: {}",
                    if c.significant { "significant " } else { "" },
                    c.text.clone().unwrap_or_default()
                ),
                ChangeKind::ConflictResolve => format!(
                    "resolved the conflict on {r} ({})",
                    c.writes
                        .iter()
                        .map(|w| w.field.as_str())
                        .collect::<Vec<_>>()
                        .join(", ")
                ),
                ChangeKind::CrisisClose => "closed the crisis".into(),
            }
        }
        other => other.kind().to_owned(),
    }
}

fn holder_name(
    h: &relevo_core::domain::Holder,
    people: &HashMap<EntityId, (String, Option<String>)>,
) -> String {
    let person = h
        .person
        .map(|p| people.get(&p).map(|x| x.0.clone()).unwrap_or(p.to_string()));
    match (person, &h.org) {
        (Some(p), Some(o)) => format!("{p} ({o})"),
        (Some(p), None) => p,
        (None, Some(o)) => o.clone(),
        (None, None) => "nobody".into(),
    }
}

/// A moment as people read it in messages: `2026-11-29 21:48 UTC`.
pub fn format_ms(ms: u64) -> String {
    chrono::DateTime::from_timestamp_millis(ms as i64)
        .map(|t| t.format("%Y-%m-%d %H:%M UTC").to_string())
        .unwrap_or_else(|| format!("{ms} ms"))
}

/// Made → received by the hub, per device, over the crisis's ops whose
/// hub receipt is known here; where none is (a device used alone, the
/// demo), made → received by this device.
fn sync_lag(events: &[Event]) -> Vec<DeviceLag> {
    let via_hub = events.iter().any(|e| e.hub_received_at_ms.is_some());
    let mut per: BTreeMap<String, (Option<String>, Vec<f64>)> = BTreeMap::new();
    for e in events {
        let received = if via_hub {
            match e.hub_received_at_ms {
                Some(t) => t,
                None => continue,
            }
        } else {
            e.received_at_ms
        };
        let entry = per
            .entry(e.device_tag.clone())
            .or_insert_with(|| (e.author_name.clone(), Vec::new()));
        entry.1.push(received.saturating_sub(e.made_at_ms) as f64);
    }
    per.into_iter()
        .map(|(device_tag, (person, lags))| DeviceLag {
            device_tag,
            person,
            max_ms: lags.iter().copied().reduce(f64::max),
            lag: Stat::of(lags),
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_request_site_is_placed_by_its_name_or_what_it_begins_with() {
        let place = |adm1: &str| Place {
            adm1: Some(adm1.into()),
            ..Place::default()
        };
        let places = Places(HashMap::from([
            ((Country::Gt, "el carmen".into()), place("San Marcos")),
            (
                (Country::Gt, "el carmen de bolívar".into()),
                place("Elsewhere"),
            ),
            ((Country::Mx, "talismán".into()), place("Chiapas")),
        ]));
        let adm1 = |c, site: &str| places.of(c, site).and_then(|p| p.adm1.clone());
        assert_eq!(adm1(Country::Gt, " El Carmen "), Some("San Marcos".into()));
        assert_eq!(
            adm1(Country::Gt, "El Carmen, puente"),
            Some("San Marcos".into())
        );
        // The longest name that fits wins.
        assert_eq!(
            adm1(Country::Gt, "El Carmen de Bolívar (albergue)"),
            Some("Elsewhere".into())
        );
        // A name that merely starts the same is another place.
        assert_eq!(adm1(Country::Gt, "El Carmencita"), None);
        // The country must match too.
        assert_eq!(adm1(Country::Gt, "Talismán"), None);
    }
}
