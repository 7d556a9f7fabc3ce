//! Flow monitoring: group tallies of people passing a point (a border
//! crossing, a transit hub, a shelter) in a time window, as flow monitoring
//! practice records them. A count holds no personal data.

use super::person::{code as parse_code, optional_text};
use super::request::{count_of, required_count, vulnerable_groups, Vulnerable, VulnerableDraft};
use super::validation::{FieldError, Rule};
use super::{time, vocabulary, Country, People};
use chrono::NaiveTime;
use serde::{Deserialize, Serialize};
use specta::Type;

vocabulary! {
    Direction {
        Entering => "entering", "Entering", "Entrando";
        Leaving => "leaving", "Leaving", "Saliendo";
    }
}

vocabulary! {
    Transport {
        Foot => "foot", "On foot", "A pie";
        Bus => "bus", "Bus", "Autobús";
        Car => "car", "Car", "Automóvil";
        Truck => "truck", "Truck", "Camión";
        Boat => "boat", "Boat", "Lancha";
        Train => "train", "Train", "Tren";
        Other => "other", "Other", "Otro";
    }
}

/// The longest window one count may cover.
pub const MAX_WINDOW_MS: i64 = 7 * 86_400_000;
/// How far past the moment it is logged a count's window may end: clocks
/// disagree by a few minutes.
pub const CLOCK_SLACK_MS: i64 = 10 * 60_000;
const MAX_REMARKS_CHARS: usize = 1000;

/// People of one nationality in a count.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, Type)]
pub struct Nationality {
    /// ISO 3166-1 alpha-2, upper case.
    pub code: String,
    pub count: u32,
}

#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, Type)]
#[serde(default)]
pub struct NationalityDraft {
    pub code: String,
    pub count: Option<f64>,
}

/// A count as typed in the form or the CLI.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, Type)]
#[serde(default)]
pub struct FlowDraft {
    /// The point's site id: `gt-tecun-uman`.
    pub point: String,
    /// The window: `YYYY-MM-DD` (start or end of that day at the point),
    /// `YYYY-MM-DDTHH:MM` (local time at the point) or RFC 3339.
    pub start: String,
    pub end: String,
    pub direction: String,
    /// Where the group came from and is heading next (ISO codes).
    pub from_country: String,
    pub to_country: String,
    pub total: Option<f64>,
    pub women: Option<f64>,
    pub men: Option<f64>,
    pub girls: Option<f64>,
    pub boys: Option<f64>,
    pub nationalities: Vec<NationalityDraft>,
    pub vulnerable: Vec<VulnerableDraft>,
    /// The country the group says it is heading for in the end.
    pub destination: String,
    pub transport: String,
    pub remarks: String,
}

/// A count that passed validation.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, Type)]
pub struct FlowCount {
    pub point: String,
    /// The point's country (the record's scope).
    pub country: Country,
    pub start_ms: i64,
    pub end_ms: i64,
    pub direction: Direction,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub from_country: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub to_country: Option<String>,
    /// Total and the breakdown by sex and age (women, men, girls, boys).
    pub people: People,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub nationalities: Vec<Nationality>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub vulnerable: Vec<Vulnerable>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub destination: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub transport: Option<Transport>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub remarks: Option<String>,
}

/// Two upper-case letters, as ISO 3166-1 alpha-2 writes a country. Codes of
/// countries outside the region are expected (nationalities come from far
/// away), so the shape is checked, not a list.
fn iso_code(raw: &str, field: &str, errors: &mut Vec<FieldError>) -> Option<String> {
    let t = raw.trim().to_ascii_uppercase();
    if t.is_empty() {
        return None;
    }
    if t.len() == 2 && t.chars().all(|c| c.is_ascii_uppercase()) {
        Some(t)
    } else {
        errors.push(FieldError::new(
            field,
            Rule::Unknown,
            format!(
                "'{}' is not a two-letter ISO country code such as VE or HT",
                raw.trim()
            ),
        ));
        None
    }
}

impl FlowDraft {
    /// Checks every field and reports every broken rule at once.
    /// `point_country` is the country of the point the roster knows by that
    /// id (`None`: not a point on the roster); `now_ms` is the device's clock.
    pub fn validate(
        &self,
        point_country: Option<Country>,
        now_ms: i64,
    ) -> Result<FlowCount, Vec<FieldError>> {
        let mut errors = Vec::new();
        let point = self.point.trim().to_owned();
        if point.is_empty() {
            errors.push(FieldError::new(
                "point",
                Rule::Required,
                "which flow monitoring point counted them is required",
            ));
        } else if point_country.is_none() {
            errors.push(FieldError::new(
                "point",
                Rule::NotOnRoster,
                format!("'{point}' is not a flow monitoring point on the roster"),
            ));
        }
        // Times are read in the point's zone; an unknown point reads them in
        // UTC, only to report every other problem at once.
        let zone = point_country.unwrap_or(Country::Gt);
        let start = self.required_moment(&self.start, "start", zone, false, &mut errors);
        let end = self.required_moment(&self.end, "end", zone, true, &mut errors);
        let direction = parse_code(
            &self.direction,
            "direction",
            Direction::parse,
            Direction::slugs,
            &mut errors,
        );
        let from_country = iso_code(&self.from_country, "from_country", &mut errors);
        let to_country = iso_code(&self.to_country, "to_country", &mut errors);
        let destination = iso_code(&self.destination, "destination", &mut errors);
        let transport = if self.transport.trim().is_empty() {
            None
        } else {
            parse_code(
                &self.transport,
                "transport",
                Transport::parse,
                Transport::slugs,
                &mut errors,
            )
        };
        let remarks = optional_text(&self.remarks, "remarks", MAX_REMARKS_CHARS, &mut errors);

        let total = match self.total {
            None => {
                errors.push(FieldError::new(
                    "people.total",
                    Rule::Required,
                    "how many people passed is required",
                ));
                None
            }
            Some(n) => count_of(n, "people.total", &mut errors),
        };
        let mut part =
            |v: Option<f64>, field: &str| v.and_then(|n| count_of(n, field, &mut errors));
        let women = part(self.women, "people.women");
        let men = part(self.men, "people.men");
        let girls = part(self.girls, "people.girls");
        let boys = part(self.boys, "people.boys");
        let people = total.map(|total| People {
            total,
            women,
            men,
            girls,
            boys,
            under5: None,
            age5_17: None,
            age18_59: None,
            age60_plus: None,
        });
        if let Some(p) = &people {
            let parts = p.breakdown_sum();
            if parts > u64::from(p.total) {
                errors.push(
                    FieldError::new(
                        "people",
                        Rule::BreakdownExceedsTotal,
                        format!(
                            "women, men, girls and boys add up to {parts}, more than the total of {}",
                            p.total
                        ),
                    )
                    .with_limit(u64::from(p.total)),
                );
            }
        }

        let mut nationalities: Vec<Nationality> = Vec::new();
        for (i, n) in self.nationalities.iter().enumerate() {
            let field = format!("nationalities.{i}");
            let code = iso_code(&n.code, &field, &mut errors);
            if code.is_none() && n.code.trim().is_empty() {
                errors.push(FieldError::new(
                    &field,
                    Rule::Required,
                    format!("{field}: the country code is required"),
                ));
            }
            let c = required_count(n.count, &field, &mut errors);
            if let (Some(code), Some(c)) = (code, c) {
                if nationalities.iter().any(|x| x.code == code) {
                    errors.push(FieldError::new(
                        &field,
                        Rule::Duplicate,
                        format!("nationality {code} is listed twice"),
                    ));
                } else if c > 0 {
                    nationalities.push(Nationality { code, count: c });
                }
            }
        }
        if let Some(total) = total {
            let sum: u64 = nationalities.iter().map(|n| u64::from(n.count)).sum();
            if sum > u64::from(total) {
                errors.push(
                    FieldError::new(
                        "nationalities",
                        Rule::BreakdownExceedsTotal,
                        format!(
                            "the nationalities add up to {sum}, more than the total of {total}"
                        ),
                    )
                    .with_limit(u64::from(total)),
                );
            }
        }

        let vulnerable = vulnerable_groups(&self.vulnerable, total, &mut errors);

        if let (Some(s), Some(e)) = (start, end) {
            if e <= s {
                errors.push(FieldError::new(
                    "end",
                    Rule::BadDate,
                    "the window must end after it starts",
                ));
            } else if e - s > MAX_WINDOW_MS {
                errors.push(
                    FieldError::new(
                        "end",
                        Rule::TooLarge,
                        "one count covers at most 7 days; log longer periods as several counts",
                    )
                    .with_limit(7),
                );
            }
            if e > now_ms + CLOCK_SLACK_MS {
                errors.push(FieldError::new(
                    "end",
                    Rule::BadDate,
                    "the window ends in the future: a count records people who have already passed",
                ));
            }
        }

        match (point_country, start, end, direction, people) {
            (Some(country), Some(start_ms), Some(end_ms), Some(direction), Some(people))
                if errors.is_empty() =>
            {
                Ok(FlowCount {
                    point,
                    country,
                    start_ms,
                    end_ms,
                    direction,
                    from_country,
                    to_country,
                    people,
                    nationalities,
                    vulnerable,
                    destination,
                    transport,
                    remarks,
                })
            }
            _ => Err(errors),
        }
    }

    fn required_moment(
        &self,
        raw: &str,
        field: &str,
        zone: Country,
        end: bool,
        errors: &mut Vec<FieldError>,
    ) -> Option<i64> {
        if raw.trim().is_empty() {
            errors.push(FieldError::new(
                field,
                Rule::Required,
                format!("the window's {field} is required"),
            ));
            return None;
        }
        let at = if end {
            NaiveTime::from_hms_opt(23, 59, 59)
        } else {
            NaiveTime::from_hms_opt(0, 0, 0)
        }
        .expect("valid time");
        time::moment(raw, field, zone, at, errors)
    }
}

impl FlowCount {
    /// The same rules, applied to a count received from another device: its
    /// window judged against the moment it was logged (the op's clock), not
    /// the receiver's, so every replica reaches the same verdict.
    pub fn check(&self, logged_at_ms: i64) -> Result<(), Vec<FieldError>> {
        self.to_draft()
            .validate(Some(self.country), logged_at_ms)
            .map(|_| ())
    }

    pub fn to_draft(&self) -> FlowDraft {
        let opt = |v: Option<u32>| v.map(f64::from);
        FlowDraft {
            point: self.point.clone(),
            start: time::rfc3339(self.start_ms),
            end: time::rfc3339(self.end_ms),
            direction: self.direction.slug().into(),
            from_country: self.from_country.clone().unwrap_or_default(),
            to_country: self.to_country.clone().unwrap_or_default(),
            total: Some(f64::from(self.people.total)),
            women: opt(self.people.women),
            men: opt(self.people.men),
            girls: opt(self.people.girls),
            boys: opt(self.people.boys),
            nationalities: self
                .nationalities
                .iter()
                .map(|n| NationalityDraft {
                    code: n.code.clone(),
                    count: Some(f64::from(n.count)),
                })
                .collect(),
            vulnerable: self
                .vulnerable
                .iter()
                .map(|v| VulnerableDraft {
                    group: v.group.slug().into(),
                    count: Some(f64::from(v.count)),
                })
                .collect(),
            destination: self.destination.clone().unwrap_or_default(),
            transport: self.transport.map(|t| t.slug().into()).unwrap_or_default(),
            remarks: self.remarks.clone().unwrap_or_default(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const NOW: i64 = 1_790_000_000_000; // 2026-09-21

    fn draft() -> FlowDraft {
        FlowDraft {
            point: "gt-agua-caliente".into(),
            start: "2026-09-20".into(),
            end: "2026-09-20".into(),
            direction: "entering".into(),
            from_country: "hn".into(),
            to_country: "GT".into(),
            total: Some(300.0),
            women: Some(80.0),
            men: Some(120.0),
            girls: Some(50.0),
            boys: Some(50.0),
            nationalities: vec![
                NationalityDraft {
                    code: "VE".into(),
                    count: Some(200.0),
                },
                NationalityDraft {
                    code: "HT".into(),
                    count: Some(60.0),
                },
            ],
            vulnerable: vec![VulnerableDraft {
                group: "uasc".into(),
                count: Some(12.0),
            }],
            destination: "US".into(),
            transport: "foot".into(),
            remarks: "Grupo grande desde la madrugada".into(),
        }
    }

    fn fields(e: &[FieldError]) -> Vec<(&str, Rule)> {
        e.iter().map(|e| (e.field.as_str(), e.rule)).collect()
    }

    #[test]
    fn a_good_count_passes_and_reads_times_at_the_point() {
        let c = draft().validate(Some(Country::Gt), NOW).expect("valid");
        assert_eq!(c.from_country.as_deref(), Some("HN"));
        assert_eq!(c.people.female(), Some(130));
        // The whole of 20 September in Guatemala (UTC-6).
        assert_eq!(time::rfc3339(c.start_ms), "2026-09-20T06:00:00Z");
        assert_eq!(time::rfc3339(c.end_ms), "2026-09-21T05:59:59Z");
        assert_eq!(c.check(NOW), Ok(()));
        assert_eq!(c.to_draft().validate(Some(Country::Gt), NOW), Ok(c));
    }

    #[test]
    fn counts_that_do_not_add_up_are_named() {
        let mut d = draft();
        d.women = Some(200.0);
        d.nationalities[0].count = Some(290.0);
        d.vulnerable[0].count = Some(301.0);
        let e = d.validate(Some(Country::Gt), NOW).expect_err("bad");
        assert_eq!(
            fields(&e),
            vec![
                ("people", Rule::BreakdownExceedsTotal),
                ("nationalities", Rule::BreakdownExceedsTotal),
                ("vulnerable.0", Rule::BreakdownExceedsTotal),
            ]
        );
        let mut d = draft();
        d.total = Some(-3.0);
        d.men = Some(2.5);
        let e = d.validate(Some(Country::Gt), NOW).expect_err("bad");
        assert_eq!(
            fields(&e),
            vec![
                ("people.total", Rule::Negative),
                ("people.men", Rule::WholeNumber)
            ]
        );
    }

    #[test]
    fn windows_in_the_future_backwards_or_too_long_are_refused() {
        let mut d = draft();
        d.end = "2026-09-22T10:00".into();
        let e = d.validate(Some(Country::Gt), NOW).expect_err("future");
        assert!(e[0].message.contains("in the future"), "{e:?}");
        let mut d = draft();
        d.start = "2026-09-20T12:00".into();
        d.end = "2026-09-20T11:00".into();
        let e = d.validate(Some(Country::Gt), NOW).expect_err("backwards");
        assert!(e[0].message.contains("end after it starts"), "{e:?}");
        let mut d = draft();
        d.start = "2026-09-01".into();
        let e = d.validate(Some(Country::Gt), NOW).expect_err("long");
        assert_eq!(fields(&e), vec![("end", Rule::TooLarge)]);
        // A received count is judged at the moment it was logged.
        let c = draft().validate(Some(Country::Gt), NOW).expect("valid");
        assert!(c.check(NOW - 2 * 86_400_000).is_err());
    }

    #[test]
    fn unknown_points_and_codes_are_named() {
        let mut d = draft();
        d.from_country = "Honduras".into();
        d.nationalities[1].code = "VE".into();
        let e = d.validate(None, NOW).expect_err("bad");
        assert_eq!(
            fields(&e),
            vec![
                ("point", Rule::NotOnRoster),
                ("from_country", Rule::Unknown),
                ("nationalities.1", Rule::Duplicate),
            ]
        );
        assert!(e[0].message.contains("gt-agua-caliente"));
    }
}
