//! The corridor: which flow monitoring points lie after which, and how long
//! the trip between them usually takes; the surge rule that raises an early
//! warning; and the arrival windows it gives the points downstream.

use super::validation::{FieldError, Rule};
use serde::{Deserialize, Serialize};
use specta::Type;
use std::collections::{BTreeMap, BTreeSet};

/// One leg of the corridor: people counted at `from` usually reach `to`
/// about `days` later.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, Type)]
pub struct Segment {
    pub from: String,
    pub to: String,
    pub days: f64,
}

/// When a count is a surge. A regional director sets it with the corridor.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, Type)]
pub struct SurgeRule {
    /// A surge: the last 24 hours over `factor` times the point's daily
    /// baseline...
    pub factor: f64,
    /// ...or over this many people, whatever the baseline.
    pub absolute: u32,
    /// The baseline: the mean daily count over this many days before.
    pub baseline_days: u32,
    /// Below this many people nothing is a surge (3 after 1 is not one).
    pub min_people: u32,
}

impl Default for SurgeRule {
    fn default() -> Self {
        SurgeRule {
            factor: 2.0,
            absolute: 1000,
            baseline_days: 7,
            min_people: 50,
        }
    }
}

/// The days of history the factor test needs before it can judge a point.
pub const MIN_BASELINE_DAYS: usize = 3;

/// Why a count is a surge.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, Type)]
pub struct Surge {
    /// People counted at the point in the last 24 hours, in that direction.
    pub people: u64,
    /// The point's mean daily count over the baseline, if it has one.
    pub baseline: Option<f64>,
    /// `factor` or `absolute`: which test it passed.
    pub by: String,
}

impl SurgeRule {
    /// `last_day`: people counted in the last 24 hours; `history`: the daily
    /// totals of the `baseline_days` days before (oldest first), `None` for a
    /// day without any count (not the same as a day when nobody passed).
    pub fn check(&self, last_day: u64, history: &[Option<u64>]) -> Option<Surge> {
        let days: Vec<u64> = history.iter().flatten().copied().collect();
        let baseline = (days.len() >= MIN_BASELINE_DAYS)
            .then(|| days.iter().sum::<u64>() as f64 / days.len() as f64);
        if last_day < u64::from(self.min_people) {
            return None;
        }
        if last_day >= u64::from(self.absolute) {
            return Some(Surge {
                people: last_day,
                baseline,
                by: "absolute".into(),
            });
        }
        match baseline {
            Some(b) if last_day as f64 >= self.factor * b.max(1.0) => Some(Surge {
                people: last_day,
                baseline,
                by: "factor".into(),
            }),
            _ => None,
        }
    }

    pub fn validate(&self) -> Result<(), Vec<FieldError>> {
        let mut errors = Vec::new();
        if !(self.factor.is_finite() && (1.1..=100.0).contains(&self.factor)) {
            errors.push(FieldError::new(
                "rule.factor",
                Rule::TooLarge,
                format!(
                    "the surge factor must be between 1.1 and 100 (got {})",
                    self.factor
                ),
            ));
        }
        if self.absolute == 0 {
            errors.push(FieldError::new(
                "rule.absolute",
                Rule::AtLeastOne,
                "the absolute threshold is at least one person",
            ));
        }
        if !(1..=60).contains(&self.baseline_days) {
            errors.push(
                FieldError::new(
                    "rule.baseline_days",
                    Rule::TooLarge,
                    format!(
                        "the baseline covers 1 to 60 days (got {})",
                        self.baseline_days
                    ),
                )
                .with_limit(60),
            );
        }
        if errors.is_empty() {
            Ok(())
        } else {
            Err(errors)
        }
    }
}

/// The usual corridor and the surge rule.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, Type)]
pub struct Corridor {
    pub segments: Vec<Segment>,
    pub rule: SurgeRule,
}

/// When people counted at a point are expected at a point downstream, in
/// days after the count's window ended.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, Type)]
pub struct Arrival {
    pub point: String,
    pub earliest_days: f64,
    pub latest_days: f64,
}

/// The arrival window spreads the corridor's typical times: the fastest
/// groups make it in three quarters of the quickest route's time, the
/// slowest take half as long again as the longest route.
pub const EARLY: f64 = 0.75;
pub const LATE: f64 = 1.5;

/// The longest a segment may take.
const MAX_SEGMENT_DAYS: f64 = 60.0;

impl Corridor {
    /// Segments leaving each point.
    fn next(&self) -> BTreeMap<&str, Vec<&Segment>> {
        let mut out: BTreeMap<&str, Vec<&Segment>> = BTreeMap::new();
        for s in &self.segments {
            out.entry(s.from.as_str()).or_default().push(s);
        }
        out
    }

    /// Every point downstream of `from`, with its arrival window, nearest
    /// first. The corridor has no cycle (see [`Corridor::validate`]), so
    /// every route ends.
    pub fn arrivals(&self, from: &str) -> Vec<Arrival> {
        let next = self.next();
        // (quickest, longest) cumulative days to each point.
        let mut reach: BTreeMap<&str, (f64, f64)> = BTreeMap::new();
        let mut stack: Vec<(&str, f64, f64)> = vec![(from, 0.0, 0.0)];
        while let Some((at, quick, slow)) = stack.pop() {
            for s in next.get(at).into_iter().flatten() {
                let (q, l) = (quick + s.days, slow + s.days);
                let improved = match reach.get_mut(s.to.as_str()) {
                    None => {
                        reach.insert(s.to.as_str(), (q, l));
                        true
                    }
                    Some(e) => {
                        let better = q < e.0 || l > e.1;
                        e.0 = e.0.min(q);
                        e.1 = e.1.max(l);
                        better
                    }
                };
                if improved {
                    stack.push((s.to.as_str(), q, l));
                }
            }
        }
        reach.remove(from);
        let mut out: Vec<Arrival> = reach
            .into_iter()
            .map(|(point, (q, l))| Arrival {
                point: point.to_owned(),
                earliest_days: q * EARLY,
                latest_days: l * LATE,
            })
            .collect();
        out.sort_by(|a, b| {
            a.earliest_days
                .total_cmp(&b.earliest_days)
                .then_with(|| a.point.cmp(&b.point))
        });
        out
    }

    /// Every point the corridor names.
    pub fn points(&self) -> BTreeSet<&str> {
        self.segments
            .iter()
            .flat_map(|s| [s.from.as_str(), s.to.as_str()])
            .collect()
    }

    /// Checks the corridor: every point known (`known`), no segment from a
    /// point to itself or twice, travel times within 0 to 60 days, and no
    /// cycle (a route that comes back to where it started would make arrival
    /// windows endless). Reports every problem at once; a cycle is named.
    pub fn validate(&self, known: impl Fn(&str) -> bool) -> Result<(), Vec<FieldError>> {
        let mut errors = self.rule.validate().err().unwrap_or_default();
        let mut pairs = BTreeSet::new();
        for (i, s) in self.segments.iter().enumerate() {
            let field = format!("segments.{i}");
            for p in [&s.from, &s.to] {
                if !known(p) {
                    errors.push(FieldError::new(
                        &field,
                        Rule::NotOnRoster,
                        format!("{field}: '{p}' is not a flow monitoring point on the roster"),
                    ));
                }
            }
            if s.from == s.to {
                errors.push(FieldError::new(
                    &field,
                    Rule::Cycle,
                    format!("{field} goes from {} to itself", s.from),
                ));
            }
            if !(s.days.is_finite() && s.days > 0.0 && s.days <= MAX_SEGMENT_DAYS) {
                errors.push(
                    FieldError::new(
                        &field,
                        Rule::TooLarge,
                        format!(
                            "{field}: the trip from {} to {} takes more than 0 and at most 60 days (got {})",
                            s.from, s.to, s.days
                        ),
                    )
                    .with_limit(60),
                );
            }
            if !pairs.insert((s.from.as_str(), s.to.as_str())) {
                errors.push(FieldError::new(
                    &field,
                    Rule::Duplicate,
                    format!("{field}: {} to {} is listed twice", s.from, s.to),
                ));
            }
        }
        if let Some(cycle) = self.find_cycle() {
            errors.push(FieldError::new(
                "segments",
                Rule::Cycle,
                format!("the corridor goes round in a circle: {}", cycle.join(" → ")),
            ));
        }
        if errors.is_empty() {
            Ok(())
        } else {
            Err(errors)
        }
    }

    /// A route that comes back to its start (self-loops aside), if any.
    fn find_cycle(&self) -> Option<Vec<String>> {
        let next = self.next();
        #[derive(Clone, Copy, PartialEq)]
        enum Mark {
            Open,
            Done,
        }
        let mut marks: BTreeMap<&str, Mark> = BTreeMap::new();
        for start in next.keys() {
            if marks.contains_key(start) {
                continue;
            }
            // Depth-first, with the route so far.
            let mut route: Vec<(&str, usize)> = vec![(start, 0)];
            marks.insert(start, Mark::Open);
            while let Some((at, i)) = route.last().copied() {
                let outs: Vec<&str> = next
                    .get(at)
                    .map(|v| {
                        v.iter()
                            .map(|s| s.to.as_str())
                            .filter(|to| *to != at)
                            .collect()
                    })
                    .unwrap_or_default();
                if i < outs.len() {
                    route.last_mut().expect("route").1 += 1;
                    let to = outs[i];
                    match marks.get(to) {
                        Some(Mark::Open) => {
                            let from = route.iter().position(|(p, _)| *p == to).unwrap_or(0);
                            let mut cycle: Vec<String> =
                                route[from..].iter().map(|(p, _)| p.to_string()).collect();
                            cycle.push(to.to_owned());
                            return Some(cycle);
                        }
                        Some(Mark::Done) => {}
                        None => {
                            marks.insert(to, Mark::Open);
                            route.push((to, 0));
                        }
                    }
                } else {
                    marks.insert(at, Mark::Done);
                    route.pop();
                }
            }
        }
        None
    }
}

/// The usual route north, Panama to Mexico through Costa Rica, Nicaragua,
/// Honduras, El Salvador and Guatemala, with typical travel times in days.
/// Crossing a border (one side's post to the other's) takes a quarter of a
/// day. The Dominican Republic's points are points of entry of their own:
/// no segment leads to or from them.
pub fn default_corridor() -> Corridor {
    #[rustfmt::skip]
    const LEGS: &[(&str, &str, f64)] = &[
        ("pa-lajas-blancas", "pa-paso-canoas", 1.5),
        ("pa-san-vicente", "pa-paso-canoas", 1.5),
        ("pa-paso-canoas", "cr-paso-canoas", 0.25),
        ("cr-paso-canoas", "cr-penas-blancas", 1.0),
        ("cr-penas-blancas", "ni-penas-blancas", 0.25),
        ("ni-penas-blancas", "ni-el-guasaule", 1.0),
        ("ni-penas-blancas", "ni-las-manos", 1.0),
        ("ni-el-guasaule", "hn-el-guasaule", 0.25),
        ("ni-las-manos", "hn-las-manos", 0.25),
        ("hn-el-guasaule", "hn-el-amatillo", 0.5),
        ("hn-el-guasaule", "hn-agua-caliente", 2.0),
        ("hn-las-manos", "hn-agua-caliente", 2.0),
        ("hn-las-manos", "hn-corinto", 2.0),
        ("hn-las-manos", "hn-el-florido", 2.0),
        ("hn-el-amatillo", "sv-el-amatillo", 0.25),
        ("sv-el-amatillo", "sv-la-hachadura", 1.0),
        ("sv-la-hachadura", "gt-pedro-de-alvarado", 0.25),
        ("hn-agua-caliente", "gt-agua-caliente", 0.25),
        ("hn-corinto", "gt-corinto", 0.25),
        ("hn-el-florido", "gt-el-florido", 0.25),
        ("gt-agua-caliente", "gt-tecun-uman", 1.5),
        ("gt-agua-caliente", "gt-el-carmen", 1.5),
        ("gt-agua-caliente", "gt-la-mesilla", 1.5),
        ("gt-corinto", "gt-tecun-uman", 2.0),
        ("gt-el-florido", "gt-tecun-uman", 1.5),
        ("gt-pedro-de-alvarado", "gt-tecun-uman", 1.0),
        ("gt-pedro-de-alvarado", "gt-el-carmen", 1.0),
        ("gt-tecun-uman", "mx-ciudad-hidalgo", 0.25),
        ("gt-el-carmen", "mx-talisman", 0.25),
        ("gt-la-mesilla", "mx-ciudad-cuauhtemoc", 0.25),
    ];
    Corridor {
        segments: LEGS
            .iter()
            .map(|&(from, to, days)| Segment {
                from: from.into(),
                to: to.into(),
                days,
            })
            .collect(),
        rule: SurgeRule::default(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::roster::builtin_sites;

    fn seg(from: &str, to: &str, days: f64) -> Segment {
        Segment {
            from: from.into(),
            to: to.into(),
            days,
        }
    }

    #[test]
    fn the_default_corridor_is_valid_and_runs_from_panama_to_mexico() {
        let sites = builtin_sites();
        let c = default_corridor();
        c.validate(|p| sites.iter().any(|s| s.id == p))
            .expect("valid");
        let from_darien: Vec<String> = c
            .arrivals("pa-lajas-blancas")
            .into_iter()
            .map(|a| a.point)
            .collect();
        for p in [
            "cr-paso-canoas",
            "hn-agua-caliente",
            "gt-tecun-uman",
            "mx-ciudad-hidalgo",
        ] {
            assert!(
                from_darien.iter().any(|x| x == p),
                "{p} downstream of the Darién"
            );
        }
        // The Dominican Republic is on its own.
        assert!(c.arrivals("do-dajabon").is_empty());
        assert!(!c.points().contains("do-dajabon"));
    }

    #[test]
    fn arrival_windows_along_the_default_corridor() {
        let c = default_corridor();
        let at = |from: &str, to: &str| {
            c.arrivals(from)
                .into_iter()
                .find(|a| a.point == to)
                .unwrap_or_else(|| panic!("{to} is not downstream of {from}"))
        };
        // Agua Caliente (HN) → the Guatemalan side: a quarter day.
        let a = at("hn-agua-caliente", "gt-agua-caliente");
        assert_eq!(
            (a.earliest_days, a.latest_days),
            (0.25 * EARLY, 0.25 * LATE)
        );
        // → Tecún Umán: 0.25 + 1.5 days, one route.
        let a = at("hn-agua-caliente", "gt-tecun-uman");
        assert_eq!(
            (a.earliest_days, a.latest_days),
            (1.75 * EARLY, 1.75 * LATE)
        );
        // Las Manos (HN) → Tecún Umán: quickest through Agua Caliente or El
        // Florido (2 + 0.25 + 1.5 = 3.75), longest through Corinto
        // (2 + 0.25 + 2 = 4.25).
        let a = at("hn-las-manos", "gt-tecun-uman");
        assert_eq!(
            (a.earliest_days, a.latest_days),
            (3.75 * EARLY, 4.25 * LATE)
        );
        // Nearest first, and nothing upstream.
        let all = c.arrivals("hn-agua-caliente");
        assert_eq!(all[0].point, "gt-agua-caliente");
        assert!(all.iter().all(|a| !a.point.starts_with("pa-")));
        assert!(all
            .windows(2)
            .all(|w| w[0].earliest_days <= w[1].earliest_days));
    }

    #[test]
    fn a_corridor_with_a_cycle_or_bad_legs_is_refused_with_the_cycle_named() {
        let c = Corridor {
            segments: vec![
                seg("a", "b", 1.0),
                seg("b", "c", 1.0),
                seg("c", "a", 1.0),
                seg("c", "d", 1.0),
            ],
            rule: SurgeRule::default(),
        };
        let e = c.validate(|_| true).expect_err("cycle");
        assert_eq!(e.len(), 1, "{e:?}");
        assert_eq!(e[0].rule, Rule::Cycle);
        assert!(e[0].message.contains("a → b → c → a"), "{}", e[0].message);

        let c = Corridor {
            segments: vec![
                seg("a", "a", 1.0),
                seg("a", "b", 0.0),
                seg("a", "b", 1.0),
                seg("b", "nowhere", 1.0),
            ],
            rule: SurgeRule {
                factor: 0.5,
                ..SurgeRule::default()
            },
        };
        let e = c.validate(|p| p != "nowhere").expect_err("bad");
        let rules: Vec<(&str, Rule)> = e.iter().map(|e| (e.field.as_str(), e.rule)).collect();
        assert_eq!(
            rules,
            vec![
                ("rule.factor", Rule::TooLarge),
                ("segments.0", Rule::Cycle),
                ("segments.1", Rule::TooLarge),
                ("segments.2", Rule::Duplicate),
                ("segments.3", Rule::NotOnRoster),
            ]
        );
    }

    fn week(days: &[u64]) -> Vec<Option<u64>> {
        days.iter().map(|d| Some(*d)).collect()
    }

    #[test]
    fn the_surge_rule_on_series_with_known_answers() {
        let rule = SurgeRule::default(); // ×2, 1000 absolute, 7 days, min 50
                                         // A quiet week, then a quiet day: no alert.
        let quiet = week(&[100, 120, 90, 110, 100, 95, 105]);
        assert_eq!(rule.check(110, &quiet), None);
        // Baseline 102.86; 206 is over twice that.
        let s = rule.check(206, &quiet).expect("surge");
        assert_eq!(s.by, "factor");
        assert!((s.baseline.expect("baseline") - 720.0 / 7.0).abs() < 1e-9);
        // Just under twice: not yet.
        assert_eq!(rule.check(205, &quiet), None);
        // A gradual rise, 10% a day: never twice the week before.
        let mut series: Vec<u64> = vec![100];
        for _ in 0..20 {
            series.push((*series.last().expect("day") as f64 * 1.1).round() as u64);
        }
        for day in 7..series.len() {
            let history = week(&series[day - 7..day]);
            assert_eq!(rule.check(series[day], &history), None, "day {day}");
        }
        // Over the absolute threshold, whatever the baseline.
        let busy = week(&[900, 950, 1000, 980, 990, 1010, 970]);
        assert_eq!(
            rule.check(1200, &busy).map(|s| s.by),
            Some("absolute".into())
        );
        // No baseline yet (two days of counts): only the absolute test.
        let new_point = vec![None, None, None, None, None, Some(10), Some(12)];
        assert_eq!(rule.check(400, &new_point), None);
        assert!(rule.check(1000, &new_point).is_some());
        // Below the floor nothing is a surge: 40 after a week of 5.
        assert_eq!(rule.check(40, &week(&[5, 5, 5, 5, 5, 5, 5])), None);
        // A point that counted nobody for a week: 60 is a surge.
        assert!(rule.check(60, &week(&[0, 0, 0, 0, 0, 0, 0])).is_some());
    }
}
