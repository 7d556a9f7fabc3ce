//! The movement itself: flow counts at monitoring points, the corridor
//! picture, and the early-warning alerts a surge raises for the points
//! downstream. Counts, alerts, acknowledgements and the corridor are ops like
//! everything else, so they reach every device at the next sync.

use crate::error::{Error, Result};
use crate::log::{damaged, device_id, entity_id};
use crate::queries::permit;
use crate::{new_id, now_ms, Store};
use relevo_core::domain::corridor::{default_corridor, Surge};
use relevo_core::domain::roster::Site;
use relevo_core::domain::{
    Corridor, Country, Direction, FlowCount, FlowDraft, Role, Sector, TaskDraft, Vulnerable,
};
use relevo_core::payload::{AlertAcked, AlertArrival, AlertRaised, FlowCounted, Payload};
use relevo_core::permissions::{Action, Scope};
use relevo_core::{EntityId, OpRef};
use rusqlite::{params, OptionalExtension};
use serde::{Deserialize, Serialize};
use specta::Type;
use std::collections::{BTreeMap, HashMap};

pub(crate) const DAY: i64 = 86_400_000;

/// A flow count as lists show it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, Type)]
pub struct FlowView {
    pub id: EntityId,
    pub reference: String,
    pub point_name: String,
    #[serde(flatten)]
    pub count: FlowCount,
    pub author_name: Option<String>,
    /// When it was logged (the author's clock).
    pub logged_at_ms: u64,
    pub on_hub: bool,
}

/// Which counts to list; every filter is optional.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize, Type)]
#[serde(default)]
pub struct FlowFilter {
    pub point: Option<String>,
    pub country: Option<Country>,
    pub from_ms: Option<i64>,
    pub to_ms: Option<i64>,
    /// At most this many, newest first (default 500).
    pub limit: Option<u32>,
}

/// A point downstream of an alert, and when the people are expected there.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, Type)]
pub struct ArrivalView {
    #[serde(flatten)]
    pub arrival: AlertArrival,
    pub name: String,
}

/// Who acknowledged an alert, for which country (none: the region).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, Type)]
pub struct AckView {
    pub country: Option<Country>,
    pub by: Option<String>,
    pub at_ms: u64,
    pub note: Option<String>,
}

/// A task made to prepare for an alert.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, Type)]
pub struct AlertTask {
    pub id: EntityId,
    pub reference: String,
    pub title: String,
    pub scope: String,
    pub created_at_ms: u64,
}

/// An early-warning alert as the banner and the list show it.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, Type)]
pub struct AlertView {
    pub id: EntityId,
    pub reference: String,
    pub point: String,
    pub point_name: String,
    pub country: Country,
    pub direction: Direction,
    pub surge: Surge,
    pub window_end_ms: i64,
    pub raised_at_ms: u64,
    pub raised_by: Option<String>,
    pub vulnerable: Vec<Vulnerable>,
    pub arrivals: Vec<ArrivalView>,
    /// The countries it concerns: the point's and every one downstream.
    pub concerns: Vec<Country>,
    pub acks: Vec<AckView>,
    pub tasks: Vec<AlertTask>,
    /// It concerns the person using this device (their country, or the
    /// region for a regional director).
    pub mine: bool,
    /// ...and is not yet acknowledged for them.
    pub awaiting_me: bool,
}

/// People at one point in the last day and week, and the trend.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, Type)]
pub struct PointFlow {
    pub point: String,
    pub name: String,
    pub country: Country,
    pub lat: Option<f64>,
    pub lon: Option<f64>,
    pub last_day: u64,
    pub last_week: u64,
    /// The mean daily count over the seven days before the last day (days
    /// with counts only).
    pub daily_before: Option<f64>,
    /// The last day against that mean: 1.0 is steady, 2.0 twice as many.
    pub trend: Option<f64>,
}

/// People along one leg of the corridor: the count at its start, shared
/// evenly among the legs that leave it (counts do not say which road a
/// group takes next).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, Type)]
pub struct SegmentFlow {
    pub from: String,
    pub to: String,
    pub days: f64,
    pub last_day: f64,
    pub last_week: f64,
}

/// The corridor as it stands at a moment.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, Type)]
pub struct CorridorPicture {
    pub at_ms: u64,
    pub points: Vec<PointFlow>,
    pub segments: Vec<SegmentFlow>,
}

/// A day on which the surge rule fired for a point and direction.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, Type)]
pub struct SurgeDay {
    pub point: String,
    pub direction: Direction,
    /// The end of the (UTC) day.
    pub day_end_ms: i64,
    pub surge: Surge,
}

/// What logging a count did: the count, and the alert it raised, if any.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, Type)]
pub struct Logged {
    pub flow: FlowView,
    pub alert: Option<AlertView>,
}

/// The tasks an alert suggests, for a director to check and change before
/// anything is signed: who, where, by when (on the site's clock) and what.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, Type)]
pub struct AlertTaskProposal {
    /// The alert's reference.
    pub alert: String,
    /// The country the tasks prepare, and whose clock their due time reads.
    pub country: Country,
    /// The point where the first people are expected.
    pub site: String,
    pub window_from_ms: u64,
    pub window_to_ms: u64,
    /// The window has begun (or begins within [`ASAP_GRACE_MS`]): the
    /// tasks are due as soon as possible, that long from now, and say so.
    pub asap: bool,
    /// The window has ended too.
    pub passed: bool,
    pub due_ms: u64,
    /// One per task, ready for [`Store::create_alert_tasks`]; `due` is on
    /// the wall clock of `country`.
    pub drafts: Vec<TaskDraft>,
}

/// How long a task made from an alert whose arrival window has already
/// begun has: due "as soon as possible", not overdue the moment it exists.
pub const ASAP_GRACE_MS: i64 = 2 * 3600 * 1000;

/// Words for the tasks made from an alert, in the language asked for.
struct TaskWords {
    shelter: &'static str,
    health: &'static str,
    people: &'static str,
    between: &'static str,
    and: &'static str,
    from_alert: &'static str,
    asap: &'static str,
    began: &'static str,
    ended: &'static str,
}

const ES: TaskWords = TaskWords {
    shelter: "Preparar albergue en",
    health: "Preposicionar personal de salud en",
    people: "personas",
    between: "llegada estimada entre el",
    and: "y el",
    from_alert: "Alerta temprana",
    asap: "Lo antes posible",
    began: "la llegada estimada ya empezó",
    ended: "la ventana de llegada estimada ya terminó",
};
const EN: TaskWords = TaskWords {
    shelter: "Prepare shelter at",
    health: "Pre-position health staff at",
    people: "people",
    between: "expected between",
    and: "and",
    from_alert: "Early warning",
    asap: "As soon as possible",
    began: "arrivals were expected from then on",
    ended: "the expected arrival window has ended",
};

fn wall_clock(ms: i64, country: Country) -> Option<chrono::DateTime<chrono::FixedOffset>> {
    let offset = chrono::FixedOffset::east_opt(country.utc_offset_hours() * 3600)?;
    chrono::DateTime::from_timestamp_millis(ms).map(|t| t.with_timezone(&offset))
}

/// A moment on the clock of `country`, with its offset named: the region
/// spans UTC−6 to UTC−4, and a time without its zone misleads.
fn day_label(ms: i64, country: Country) -> String {
    wall_clock(ms, country)
        .map(|t| {
            format!(
                "{} (UTC{:+})",
                t.format("%Y-%m-%d %H:%M"),
                country.utc_offset_hours()
            )
        })
        .unwrap_or_default()
}

/// `YYYY-MM-DDTHH:MM` on the clock of `country`: the due form a task draft
/// reads in its country.
fn wall_input(ms: i64, country: Country) -> String {
    wall_clock(ms, country)
        .map(|t| t.format("%Y-%m-%dT%H:%M").to_string())
        .unwrap_or_default()
}

impl Store {
    /// The corridor in force: the last one a regional director set, or the
    /// default one.
    pub fn corridor(&self) -> Result<Corridor> {
        let body: Option<String> = self
            .conn
            .query_row("SELECT body FROM corridor WHERE id = 1", [], |r| r.get(0))
            .optional()?;
        match body {
            Some(b) => serde_json::from_str(&b)
                .map_err(|e| damaged(&format!("the stored corridor is unreadable: {e}"))),
            None => Ok(default_corridor()),
        }
    }

    /// Counts can name any site on the roster.
    fn sites_by_id(&self) -> Result<HashMap<String, Site>> {
        Ok(self
            .sites()?
            .into_iter()
            .map(|s| (s.id.clone(), s))
            .collect())
    }

    /// Site id → name, to show points by name.
    fn site_names(&self) -> Result<HashMap<String, String>> {
        Ok(self.sites()?.into_iter().map(|s| (s.id, s.name)).collect())
    }

    /// Sets the corridor and the surge rule (regional directors). Every
    /// point must be on the roster and the corridor must not go round in a
    /// circle; nothing is written otherwise.
    pub fn set_corridor(&mut self, corridor: &Corridor) -> Result<()> {
        permit(&self.me()?, Action::SetCorridor, Scope::Regional)?;
        let sites = self.sites_by_id()?;
        corridor
            .validate(|p| sites.contains_key(p))
            .map_err(Error::Validation)?;
        let c = corridor.clone();
        self.append_local(|_| Ok(Payload::CorridorSet(c)))?;
        Ok(())
    }

    /// Logs a flow count in the current crisis. If the count makes the last
    /// 24 hours at its point a surge (by the corridor's rule) and no alert
    /// was raised there for that direction in the last day, an alert is
    /// raised too, with the arrival window at every point downstream.
    pub fn log_flow(&mut self, draft: &FlowDraft) -> Result<Logged> {
        let me = self.me()?;
        let crisis = self.current_crisis()?.ok_or(Error::NoCrisis)?;
        let sites = self.sites_by_id()?;
        let point_country = sites.get(draft.point.trim()).map(|s| s.country);
        let count = draft
            .validate(point_country, now_ms() as i64)
            .map_err(Error::Validation)?;
        permit(&me, Action::LogFlow, Scope::National(count.country))?;
        let id = new_id();
        let c = count.clone();
        self.append_local(|_| {
            Ok(Payload::FlowCount(FlowCounted {
                id,
                // Numbered when its key is chosen.
                reference: String::new(),
                crisis: crisis.id,
                count: c,
            }))
        })?;
        let alert = self.raise_if_surge(crisis.id, id, &count, &sites)?;
        let flow = self
            .flow(id)?
            .ok_or_else(|| damaged("the count just logged is missing"))?;
        Ok(Logged { flow, alert })
    }

    /// People at `point` in `direction`, per day before `end_ms`: index 0 is
    /// the 24 hours up to `end_ms`, index d the 24 hours before that, up to
    /// `days`. `None`: no count ended in that day.
    fn daily(
        &self,
        crisis: EntityId,
        point: &str,
        direction: Direction,
        end_ms: i64,
        days: u32,
    ) -> Result<Vec<Option<u64>>> {
        let mut out = vec![None; days as usize + 1];
        let mut stmt = self.conn.prepare_cached(
            "SELECT (?4 - end_ms) / 86400000 AS d, sum(total) FROM flow_counts
             WHERE crisis = ?1 AND point = ?2 AND direction = ?3
               AND end_ms > ?4 - (?5 + 1) * 86400000 AND end_ms <= ?4
             GROUP BY d",
        )?;
        let mut rows = stmt.query(params![
            crisis.as_bytes(),
            point,
            direction.slug(),
            end_ms,
            days
        ])?;
        while let Some(r) = rows.next()? {
            let d: i64 = r.get(0)?;
            let n: i64 = r.get(1)?;
            if let Some(slot) = out.get_mut(d as usize) {
                *slot = Some(n.max(0) as u64);
            }
        }
        Ok(out)
    }

    /// The surge at a point and direction as of `end_ms`, if the rule finds
    /// one, with the vulnerable groups counted in its last 24 hours.
    pub fn surge_at(
        &self,
        crisis: EntityId,
        point: &str,
        direction: Direction,
        end_ms: i64,
        corridor: &Corridor,
    ) -> Result<Option<(Surge, Vec<Vulnerable>)>> {
        let rule = &corridor.rule;
        let daily = self.daily(crisis, point, direction, end_ms, rule.baseline_days)?;
        let last = daily[0].unwrap_or(0);
        let history: Vec<Option<u64>> = daily[1..].iter().rev().copied().collect();
        let Some(surge) = rule.check(last, &history) else {
            return Ok(None);
        };
        let mut groups: BTreeMap<relevo_core::domain::VulnerableGroup, u32> = BTreeMap::new();
        let mut stmt = self.conn.prepare_cached(
            "SELECT body FROM flow_counts
             WHERE crisis = ?1 AND point = ?2 AND direction = ?3
               AND end_ms > ?4 - 86400000 AND end_ms <= ?4",
        )?;
        let mut rows = stmt.query(params![crisis.as_bytes(), point, direction.slug(), end_ms])?;
        while let Some(r) = rows.next()? {
            let c: FlowCount = serde_json::from_str(&r.get::<_, String>(0)?)
                .map_err(|e| damaged(&format!("a stored count is unreadable: {e}")))?;
            for v in c.vulnerable {
                *groups.entry(v.group).or_default() += v.count;
            }
        }
        let vulnerable = groups
            .into_iter()
            .map(|(group, count)| Vulnerable { group, count })
            .collect();
        Ok(Some((surge, vulnerable)))
    }

    fn raise_if_surge(
        &mut self,
        crisis: EntityId,
        count_id: EntityId,
        count: &FlowCount,
        sites: &HashMap<String, Site>,
    ) -> Result<Option<AlertView>> {
        let corridor = self.corridor()?;
        let Some((surge, vulnerable)) = self.surge_at(
            crisis,
            &count.point,
            count.direction,
            count.end_ms,
            &corridor,
        )?
        else {
            return Ok(None);
        };
        let recent: Option<Vec<u8>> = self
            .conn
            .query_row(
                "SELECT id FROM alerts WHERE crisis = ?1 AND point = ?2 AND direction = ?3
                   AND window_end > ?4 - 86400000 LIMIT 1",
                params![
                    crisis.as_bytes(),
                    count.point,
                    count.direction.slug(),
                    count.end_ms
                ],
                |r| r.get(0),
            )
            .optional()?;
        if recent.is_some() {
            return Ok(None);
        }
        let arrivals: Vec<AlertArrival> = corridor
            .arrivals(&count.point)
            .into_iter()
            .filter_map(|a| {
                let site = sites.get(&a.point)?;
                Some(AlertArrival {
                    country: site.country,
                    earliest_ms: count.end_ms + (a.earliest_days * DAY as f64) as i64,
                    latest_ms: count.end_ms + (a.latest_days * DAY as f64) as i64,
                    point: a.point,
                })
            })
            .collect();
        let id = new_id();
        let point = count.point.clone();
        let (country, direction, window_end_ms) = (count.country, count.direction, count.end_ms);
        self.append_local(|_| {
            Ok(Payload::AlertRaise(AlertRaised {
                id,
                // Numbered when its key is chosen.
                reference: String::new(),
                crisis,
                point,
                country,
                direction,
                count: count_id,
                window_end_ms,
                surge,
                vulnerable,
                arrivals,
            }))
        })?;
        self.alert_view(id)
    }

    /// Every day of the crisis on which the surge rule fires, at every point
    /// and direction, by UTC day: one pass over the counts, summed per day
    /// (the index holds the totals), then the rule over each series.
    pub fn surge_history(&self, crisis: EntityId, corridor: &Corridor) -> Result<Vec<SurgeDay>> {
        let rule = &corridor.rule;
        let mut stmt = self.conn.prepare_cached(
            "SELECT point, direction, end_ms / 86400000 AS day, sum(total) FROM flow_counts
             WHERE crisis = ?1 GROUP BY point, direction, day ORDER BY point, direction, day",
        )?;
        let mut rows = stmt.query([crisis.as_bytes()])?;
        let mut out = Vec::new();
        // The current series: its key and (day, total) so far.
        let mut key: Option<(String, String)> = None;
        let mut days: Vec<(i64, u64)> = Vec::new();
        let check =
            |key: &(String, String), days: &[(i64, u64)], out: &mut Vec<SurgeDay>| -> Result<()> {
                let direction = Direction::parse(&key.1).ok_or_else(|| {
                    damaged(&format!("a count's direction '{}' is unknown", key.1))
                })?;
                let mut history: std::collections::VecDeque<(i64, u64)> = Default::default();
                for &(day, total) in days {
                    while history
                        .front()
                        .is_some_and(|(d, _)| *d < day - i64::from(rule.baseline_days))
                    {
                        history.pop_front();
                    }
                    let series: Vec<Option<u64>> = (day - i64::from(rule.baseline_days)..day)
                        .map(|d| history.iter().find(|(x, _)| *x == d).map(|(_, n)| *n))
                        .collect();
                    if let Some(surge) = rule.check(total, &series) {
                        out.push(SurgeDay {
                            point: key.0.clone(),
                            direction,
                            day_end_ms: (day + 1) * DAY,
                            surge,
                        });
                    }
                    history.push_back((day, total));
                }
                Ok(())
            };
        while let Some(r) = rows.next()? {
            let k: (String, String) = (r.get(0)?, r.get(1)?);
            if key.as_ref() != Some(&k) {
                if let Some(done) = key.take() {
                    check(&done, &days, &mut out)?;
                }
                key = Some(k);
                days.clear();
            }
            days.push((r.get(2)?, r.get::<_, i64>(3)?.max(0) as u64));
        }
        if let Some(done) = key {
            check(&done, &days, &mut out)?;
        }
        Ok(out)
    }

    /// One count.
    pub fn flow(&self, id: EntityId) -> Result<Option<FlowView>> {
        Ok(self
            .flow_rows("f.id = ?1", &[id.as_bytes().to_vec().into()], 1)?
            .pop())
    }

    /// Counts of a crisis, newest first.
    pub fn flows(&self, crisis: EntityId, filter: &FlowFilter) -> Result<Vec<FlowView>> {
        use rusqlite::types::Value as V;
        let mut clauses = vec!["f.crisis = ?1".to_owned()];
        let mut args: Vec<V> = vec![crisis.as_bytes().to_vec().into()];
        if let Some(p) = &filter.point {
            args.push(p.trim().to_owned().into());
            clauses.push(format!("f.point = ?{}", args.len()));
        }
        if let Some(c) = filter.country {
            args.push(c.slug().to_owned().into());
            clauses.push(format!("f.country = ?{}", args.len()));
        }
        if let Some(t) = filter.from_ms {
            args.push(t.into());
            clauses.push(format!("f.end_ms >= ?{}", args.len()));
        }
        if let Some(t) = filter.to_ms {
            args.push(t.into());
            clauses.push(format!("f.end_ms <= ?{}", args.len()));
        }
        self.flow_rows(&clauses.join(" AND "), &args, filter.limit.unwrap_or(500))
    }

    fn flow_rows(
        &self,
        filter: &str,
        args: &[rusqlite::types::Value],
        limit: u32,
    ) -> Result<Vec<FlowView>> {
        let names = self.site_names()?;
        let on_hub = self.on_hub_test()?;
        let mut stmt = self.conn.prepare_cached(&format!(
            "SELECT f.id, f.reference, f.body, p.name, f.hlc_wall, f.device, f.seq
             FROM flow_counts f LEFT JOIN persons p ON p.id = f.author
             WHERE {filter}
             ORDER BY f.end_ms DESC, f.hlc_wall DESC, f.device
             LIMIT {limit}"
        ))?;
        let mut rows = stmt.query(rusqlite::params_from_iter(args))?;
        let mut out = Vec::new();
        while let Some(r) = rows.next()? {
            let count: FlowCount = serde_json::from_str(&r.get::<_, String>(2)?)
                .map_err(|e| damaged(&format!("a stored count is unreadable: {e}")))?;
            let device: Vec<u8> = r.get(5)?;
            out.push(FlowView {
                id: entity_id(&r.get::<_, Vec<u8>>(0)?)?,
                reference: r.get(1)?,
                point_name: names
                    .get(&count.point)
                    .cloned()
                    .unwrap_or_else(|| count.point.clone()),
                count,
                author_name: r.get(3)?,
                logged_at_ms: r.get::<_, i64>(4)?.max(0) as u64,
                on_hub: on_hub(&device, r.get(6)?)?,
            });
        }
        Ok(out)
    }

    /// The alerts of a crisis, newest first; `concerning` keeps those that
    /// concern one country.
    pub fn alerts(&self, crisis: EntityId, concerning: Option<Country>) -> Result<Vec<AlertView>> {
        let mut stmt = self.conn.prepare_cached(
            "SELECT a.id FROM alerts a
             WHERE a.crisis = ?1
               AND (?2 IS NULL OR EXISTS (SELECT 1 FROM alert_concerns c
                                          WHERE c.alert = a.id AND c.country = ?2))
             ORDER BY a.hlc_wall DESC, a.device",
        )?;
        let ids: Vec<Vec<u8>> = stmt
            .query_map(
                params![crisis.as_bytes(), concerning.map(|c| c.slug())],
                |r| r.get(0),
            )?
            .collect::<rusqlite::Result<_>>()?;
        let names = self.site_names()?;
        let me = self.identity()?;
        let mut out = Vec::with_capacity(ids.len());
        for id in ids {
            if let Some(a) = self.alert_view_with(entity_id(&id)?, &names, me.as_ref())? {
                out.push(a);
            }
        }
        Ok(out)
    }

    /// The alerts of the current crisis that concern the person using this
    /// device and that nobody has acknowledged for them yet.
    pub fn alerts_awaiting_me(&self) -> Result<Vec<AlertView>> {
        let Some(crisis) = self.current_crisis()? else {
            return Ok(Vec::new());
        };
        Ok(self
            .alerts(crisis.id, None)?
            .into_iter()
            .filter(|a| a.awaiting_me)
            .collect())
    }

    /// Finds an alert by reference (`ALR-…`) or id.
    pub fn find_alert(&self, reference: &str) -> Result<(EntityId, OpRef)> {
        let r = reference.trim();
        let arg: rusqlite::types::Value = match r.parse::<EntityId>() {
            Ok(id) => id.as_bytes().to_vec().into(),
            Err(_) => r.to_owned().into(),
        };
        let row: Option<(Vec<u8>, Vec<u8>, i64)> = self
            .conn
            .query_row(
                "SELECT id, device, seq FROM alerts WHERE id = ?1 OR upper(reference) = upper(?1)
                 LIMIT 1",
                [arg],
                |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)),
            )
            .optional()?;
        let (id, device, seq) = row.ok_or_else(|| Error::NotFound {
            what: "alert",
            reference: r.to_owned(),
        })?;
        Ok((
            entity_id(&id)?,
            OpRef {
                device: device_id(&device)?,
                seq: seq as u64,
            },
        ))
    }

    /// One alert as the screens show it.
    pub fn alert_view(&self, id: EntityId) -> Result<Option<AlertView>> {
        self.alert_view_with(id, &self.site_names()?, self.identity()?.as_ref())
    }

    fn alert_view_with(
        &self,
        id: EntityId,
        names: &HashMap<String, String>,
        me: Option<&crate::IdentityView>,
    ) -> Result<Option<AlertView>> {
        let row: Option<(String, Option<String>, i64)> = self
            .conn
            .query_row(
                "SELECT a.body, p.name, a.hlc_wall FROM alerts a LEFT JOIN persons p ON p.id = a.author
                 WHERE a.id = ?1",
                [id.as_bytes()],
                |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)),
            )
            .optional()?;
        let Some((body, raised_by, at)) = row else {
            return Ok(None);
        };
        let a: AlertRaised = serde_json::from_str(&body)
            .map_err(|e| damaged(&format!("a stored alert is unreadable: {e}")))?;
        let name = |p: &str| names.get(p).cloned().unwrap_or_else(|| p.to_owned());
        let mut acks = Vec::new();
        {
            let mut stmt = self.conn.prepare_cached(
                "SELECT k.scope, p.name, k.hlc_wall, k.note FROM alert_acks k
                 LEFT JOIN persons p ON p.id = k.author WHERE k.alert = ?1
                 ORDER BY k.hlc_wall, k.scope",
            )?;
            let mut rows = stmt.query([id.as_bytes()])?;
            while let Some(r) = rows.next()? {
                let scope: String = r.get(0)?;
                acks.push(AckView {
                    country: Country::parse(&scope),
                    by: r.get(1)?,
                    at_ms: r.get::<_, i64>(2)?.max(0) as u64,
                    note: r.get(3)?,
                });
            }
        }
        let mut tasks = Vec::new();
        {
            let mut stmt = self.conn.prepare_cached(
                "SELECT id, reference, title, scope, hlc_wall FROM tasks WHERE alert = ?1
                 ORDER BY hlc_wall, reference",
            )?;
            let mut rows = stmt.query([id.as_bytes()])?;
            while let Some(r) = rows.next()? {
                tasks.push(AlertTask {
                    id: entity_id(&r.get::<_, Vec<u8>>(0)?)?,
                    reference: r.get(1)?,
                    title: r.get(2)?,
                    scope: r.get(3)?,
                    created_at_ms: r.get::<_, i64>(4)?.max(0) as u64,
                });
            }
        }
        let concerns = a.concerns();
        let (mine, awaiting_me) = match me {
            Some(me) if me.role == Role::RegionalDirector => {
                (true, !acks.iter().any(|k| k.country.is_none()))
            }
            Some(me) if matches!(me.role, Role::NationalDirector | Role::FieldCoordinator) => {
                let mine = concerns.contains(&me.country);
                (
                    mine,
                    mine && !acks.iter().any(|k| k.country == Some(me.country)),
                )
            }
            _ => (false, false),
        };
        Ok(Some(AlertView {
            id,
            reference: a.reference,
            point_name: name(&a.point),
            point: a.point,
            country: a.country,
            direction: a.direction,
            surge: a.surge,
            window_end_ms: a.window_end_ms,
            raised_at_ms: at.max(0) as u64,
            raised_by,
            vulnerable: a.vulnerable,
            arrivals: a
                .arrivals
                .into_iter()
                .map(|x| ArrivalView {
                    name: name(&x.point),
                    arrival: x,
                })
                .collect(),
            concerns,
            acks,
            tasks,
            mine,
            awaiting_me,
        }))
    }

    /// Acknowledges an alert for the person's country (a national director)
    /// or for the region (a regional director). Acknowledging again changes
    /// nothing.
    pub fn acknowledge_alert(&mut self, alert: &str, note: &str) -> Result<AlertView> {
        let me = self.me()?;
        let (id, on) = self.find_alert(alert)?;
        let country = (me.role != Role::RegionalDirector).then_some(me.country);
        let scope = country.map_or(Scope::Regional, Scope::National);
        permit(&me, Action::AcknowledgeAlert, scope)?;
        let view = self
            .alert_view(id)?
            .ok_or_else(|| damaged("the alert just found is missing"))?;
        if let Some(c) = country {
            if !view.concerns.contains(&c) {
                return Err(Error::Invalid(format!(
                    "alert {} does not concern {}: none of its points is there",
                    view.reference,
                    c.code()
                )));
            }
        }
        if view.acks.iter().any(|k| k.country == country) {
            return Ok(view);
        }
        let note = Some(note.trim().to_owned()).filter(|n| !n.is_empty());
        if note.as_ref().is_some_and(|n| n.chars().count() > 1000) {
            return Err(Error::Invalid("a note is at most 1000 characters".into()));
        }
        self.append_local(|_| {
            Ok(Payload::AlertAck(AlertAcked {
                alert: id,
                on,
                country,
                note,
            }))
        })?;
        self.alert_view(id)?
            .ok_or_else(|| damaged("the alert just acknowledged is missing"))
    }

    /// Turns an alert into tasks in one step: the tasks of
    /// [`Store::propose_alert_tasks`], created as proposed (the CLI's
    /// `alert tasks`; the app shows the proposal first).
    pub fn tasks_from_alert(
        &mut self,
        alert: &str,
        country: Option<Country>,
        lang: &str,
    ) -> Result<Vec<EntityId>> {
        let proposal = self.propose_alert_tasks(alert, country, lang)?;
        self.create_alert_tasks(alert, &proposal.drafts)
    }

    /// The tasks an alert suggests: prepare shelter and pre-position health
    /// staff at the first point downstream in `country` (a national
    /// director's own country by default; for a regional director, the
    /// first country downstream), due when the first people are expected
    /// there. A window that has already begun makes them due as soon as
    /// possible, [`ASAP_GRACE_MS`] from now, and their text says so. Titles
    /// are in `lang` (`es` or `en`). Nothing is signed.
    pub fn propose_alert_tasks(
        &self,
        alert: &str,
        country: Option<Country>,
        lang: &str,
    ) -> Result<AlertTaskProposal> {
        let me = self.me()?;
        let (id, _) = self.find_alert(alert)?;
        let view = self
            .alert_view(id)?
            .ok_or_else(|| damaged("the alert just found is missing"))?;
        let country = match country {
            Some(c) => c,
            None if me.role == Role::RegionalDirector => view
                .arrivals
                .iter()
                .map(|a| a.arrival.country)
                .find(|c| *c != view.country)
                .unwrap_or(view.country),
            None => me.country,
        };
        permit(&me, Action::CreateTask, Scope::National(country))?;
        let Some(next) = view.arrivals.iter().find(|a| a.arrival.country == country) else {
            return Err(Error::Invalid(format!(
                "alert {} expects nobody at a point in {}: no task to prepare there",
                view.reference,
                country.code()
            )));
        };
        let w = if lang.starts_with("en") { &EN } else { &ES };
        let (earliest, latest) = (next.arrival.earliest_ms, next.arrival.latest_ms);
        let now = now_ms() as i64;
        let asap = earliest < now + ASAP_GRACE_MS;
        let passed = latest < now;
        let due = if asap { now + ASAP_GRACE_MS } else { earliest };
        let mut description = format!(
            "{} {} ({}, {}): {} {} {} {}.",
            w.from_alert,
            view.reference,
            view.point_name,
            view.country.code(),
            w.between,
            day_label(earliest, country),
            w.and,
            day_label(latest, country)
        );
        if asap {
            let why = if passed { w.ended } else { w.began };
            description.push_str(&format!(" {}: {why}.", w.asap));
        }
        let drafts = [(Sector::Shelter, w.shelter), (Sector::Health, w.health)]
            .into_iter()
            .map(|(sector, verb)| TaskDraft {
                title: format!("{verb} {}: ~{} {}", next.name, view.surge.people, w.people),
                description: description.clone(),
                scope: "national".into(),
                country: country.slug().into(),
                sector: sector.slug().into(),
                priority: "critical".into(),
                due: wall_input(due, country),
                ..TaskDraft::default()
            })
            .collect();
        Ok(AlertTaskProposal {
            alert: view.reference,
            country,
            site: next.name.clone(),
            window_from_ms: earliest.max(0) as u64,
            window_to_ms: latest.max(0) as u64,
            asap,
            passed,
            due_ms: due.max(0) as u64,
            drafts,
        })
    }

    /// Creates the tasks of a proposal, as the director changed it, linked
    /// to the alert. All or none: every draft is checked (fields, holder,
    /// permission) before the first is signed; a field error names the
    /// task by its place, as `0.title`.
    pub fn create_alert_tasks(
        &mut self,
        alert: &str,
        drafts: &[TaskDraft],
    ) -> Result<Vec<EntityId>> {
        let me = self.me()?;
        let (id, _) = self.find_alert(alert)?;
        if drafts.is_empty() {
            return Err(Error::Invalid(
                "no task to create: the proposal is empty".into(),
            ));
        }
        if drafts.len() > 10 {
            return Err(Error::Invalid(format!(
                "at most 10 tasks are made from one alert at a time, not {}",
                drafts.len()
            )));
        }
        let mut errors = Vec::new();
        for (i, draft) in drafts.iter().enumerate() {
            match draft.validate(me.country) {
                Ok((task, holder)) => {
                    permit(
                        &me,
                        Action::CreateTask,
                        relevo_core::rules::scope_of(task.scope),
                    )?;
                    if holder.is_some() {
                        self.check_holder(&crate::coord::HolderDraft {
                            person: draft.holder_person.clone(),
                            org: draft.holder_org.clone(),
                        })?;
                    }
                }
                Err(fields) => errors.extend(fields.into_iter().map(|mut f| {
                    f.field = format!("{i}.{}", f.field);
                    f
                })),
            }
        }
        if !errors.is_empty() {
            return Err(Error::Validation(errors));
        }
        drafts
            .iter()
            .map(|draft| self.create_task(draft, Some(id)))
            .collect()
    }

    /// People per point in the last day and week before `at_ms`, the trend,
    /// and the corridor's legs with the people along them.
    pub fn corridor_picture(&self, crisis: EntityId, at_ms: u64) -> Result<CorridorPicture> {
        let at = at_ms as i64;
        let corridor = self.corridor()?;
        let sites = self.sites_by_id()?;
        let mut per_point: BTreeMap<String, (u64, u64, u64, u32)> = BTreeMap::new();
        {
            // Last day, last week, the 7 days before the last day, and on
            // how many of those days anything was counted.
            let mut stmt = self.conn.prepare_cached(
                "SELECT point,
                        coalesce(sum(CASE WHEN end_ms > ?2 - 86400000 THEN total END), 0),
                        coalesce(sum(CASE WHEN end_ms > ?2 - 7 * 86400000 THEN total END), 0),
                        coalesce(sum(CASE WHEN end_ms <= ?2 - 86400000 THEN total END), 0),
                        count(DISTINCT CASE WHEN end_ms <= ?2 - 86400000
                                            THEN (?2 - end_ms) / 86400000 END)
                 FROM flow_counts
                 WHERE crisis = ?1 AND end_ms > ?2 - 8 * 86400000 AND end_ms <= ?2
                 GROUP BY point",
            )?;
            let mut rows = stmt.query(params![crisis.as_bytes(), at])?;
            while let Some(r) = rows.next()? {
                let n = |i: usize| r.get::<_, i64>(i).map(|v| v.max(0) as u64);
                per_point.insert(r.get(0)?, (n(1)?, n(2)?, n(3)?, r.get(4)?));
            }
        }
        let mut ids: Vec<String> = corridor.points().into_iter().map(str::to_owned).collect();
        for p in per_point.keys() {
            if !ids.contains(p) {
                ids.push(p.clone());
            }
        }
        let mut points = Vec::new();
        for p in &ids {
            let Some(site) = sites.get(p) else { continue };
            let (last_day, last_week, before, days) = per_point.get(p).copied().unwrap_or_default();
            let daily_before = (days > 0).then(|| before as f64 / f64::from(days));
            points.push(PointFlow {
                point: p.clone(),
                name: site.name.clone(),
                country: site.country,
                lat: site.lat,
                lon: site.lon,
                last_day,
                last_week,
                daily_before,
                trend: daily_before
                    .filter(|d| *d > 0.0)
                    .map(|d| last_day as f64 / d),
            });
        }
        let mut legs: HashMap<&str, usize> = HashMap::new();
        for s in &corridor.segments {
            *legs.entry(s.from.as_str()).or_default() += 1;
        }
        let segments = corridor
            .segments
            .iter()
            .map(|s| {
                let (day, week, _, _) = per_point.get(&s.from).copied().unwrap_or_default();
                let share = legs.get(s.from.as_str()).copied().unwrap_or(1).max(1) as f64;
                SegmentFlow {
                    from: s.from.clone(),
                    to: s.to.clone(),
                    days: s.days,
                    last_day: day as f64 / share,
                    last_week: week as f64 / share,
                }
            })
            .collect();
        Ok(CorridorPicture {
            at_ms,
            points,
            segments,
        })
    }
}
