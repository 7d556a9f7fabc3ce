//! Humanitarian assistance requests: a need, where, for how many, how urgent.

use super::person::{code as parse_code, required_text};
use super::time::deadline;
use super::validation::{FieldError, Rule};
use super::{vocabulary, Country, Sector};
use serde::{Deserialize, Serialize};
use specta::Type;

vocabulary! {
    /// How urgent a need is.
    Priority {
        Critical => "critical", "Critical", "Crítica";
        High => "high", "High", "Alta";
        Medium => "medium", "Medium", "Media";
        Low => "low", "Low", "Baja";
    }
}

vocabulary! {
    /// Where a request is in its life. `closed`, `cancelled` and `duplicate`
    /// are final.
    RequestStatus {
        New => "new", "New", "Nueva";
        Triaged => "triaged", "Triaged", "Clasificada";
        InProgress => "in-progress", "In progress", "En curso";
        PartlyFulfilled => "partly-fulfilled", "Partly fulfilled", "Parcialmente atendida";
        Fulfilled => "fulfilled", "Fulfilled", "Atendida";
        Closed => "closed", "Closed", "Cerrada";
        Cancelled => "cancelled", "Cancelled", "Cancelada";
        Duplicate => "duplicate", "Duplicate", "Duplicada";
    }
}

impl RequestStatus {
    /// Still waiting for something: not yet fulfilled, closed, cancelled or
    /// a duplicate.
    pub fn is_open(self) -> bool {
        !self.is_final() && self != RequestStatus::Fulfilled
    }

    pub fn is_final(self) -> bool {
        matches!(
            self,
            RequestStatus::Closed | RequestStatus::Cancelled | RequestStatus::Duplicate
        )
    }

    /// May a request move from `self` to `to`? Forward along
    /// new → triaged → in progress → partly fulfilled → fulfilled, closed
    /// once fulfilled, cancelled from any open state, marked duplicate while
    /// still new or triaged. Nothing leaves a final state.
    pub fn can_move_to(self, to: RequestStatus) -> bool {
        use RequestStatus::*;
        let rank = |s: RequestStatus| match s {
            New => 0,
            Triaged => 1,
            InProgress => 2,
            PartlyFulfilled => 3,
            Fulfilled => 4,
            _ => 9,
        };
        if self.is_final() {
            return false;
        }
        match to {
            Cancelled => true,
            Duplicate => matches!(self, New | Triaged),
            Closed => self == Fulfilled,
            New => false,
            _ => rank(to) > rank(self),
        }
    }

    /// Moves that decide about a request (directors) rather than report
    /// progress on it (anyone who may update it).
    pub fn is_triage(self) -> bool {
        matches!(
            self,
            RequestStatus::Triaged
                | RequestStatus::Closed
                | RequestStatus::Cancelled
                | RequestStatus::Duplicate
        )
    }
}

vocabulary! {
    /// Groups with specific protection needs, counted within a request.
    VulnerableGroup {
        Uasc => "uasc", "Unaccompanied or separated children", "Niñas, niños y adolescentes no acompañados o separados";
        PregnantLactating => "pregnant-lactating", "Pregnant or lactating women", "Mujeres embarazadas o lactantes";
        Disability => "disability", "People with disabilities", "Personas con discapacidad";
        Older => "older", "Older people", "Personas mayores";
        ChronicIllness => "chronic-illness", "Chronic illness", "Enfermedades crónicas";
        Other => "other", "Other specific needs", "Otras necesidades específicas";
    }
}

/// How many people of a vulnerable group a request covers.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, Type)]
pub struct Vulnerable {
    pub group: VulnerableGroup,
    pub count: u32,
}

#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, Type)]
#[serde(default)]
pub struct VulnerableDraft {
    pub group: String,
    pub count: Option<f64>,
}

/// One line of what is needed (ICS 213 RR): quantity, unit, description.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, Type)]
pub struct ItemLine {
    pub quantity: f64,
    pub unit: String,
    pub description: String,
}

impl Eq for ItemLine {}

#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, Type)]
#[serde(default)]
pub struct ItemDraft {
    pub quantity: Option<f64>,
    pub unit: String,
    pub description: String,
}

/// Longest unit text ("kits", "litros", "cajas de 12").
pub const MAX_UNIT_CHARS: usize = 40;
/// Most item lines in one request.
pub const MAX_ITEMS: usize = 50;
/// Largest quantity in one item line.
pub const MAX_QUANTITY: f64 = 1e9;

pub(crate) fn validate_items(raw: &[ItemDraft], errors: &mut Vec<FieldError>) -> Vec<ItemLine> {
    if raw.len() > MAX_ITEMS {
        errors.push(
            FieldError::new(
                "items",
                Rule::TooLarge,
                format!("{} item lines; the most accepted is {MAX_ITEMS}", raw.len()),
            )
            .with_limit(MAX_ITEMS as u64),
        );
        return Vec::new();
    }
    let mut out = Vec::new();
    for (i, item) in raw.iter().enumerate() {
        let field = |f: &str| format!("items.{i}.{f}");
        let quantity = quantity(item.quantity, &field("quantity"), errors);
        let unit = required_text(&item.unit, &field("unit"), MAX_UNIT_CHARS, errors);
        let description = required_text(
            &item.description,
            &field("description"),
            MAX_SITE_CHARS,
            errors,
        );
        if let (Some(quantity), Some(unit), Some(description)) = (quantity, unit, description) {
            out.push(ItemLine {
                quantity,
                unit,
                description,
            });
        }
    }
    out
}

/// A positive quantity of goods (fractions allowed: 2.5 tonnes).
pub(crate) fn quantity(raw: Option<f64>, field: &str, errors: &mut Vec<FieldError>) -> Option<f64> {
    match raw {
        None => {
            errors.push(FieldError::new(
                field,
                Rule::Required,
                format!("{field} is required"),
            ));
            None
        }
        Some(q) if !q.is_finite() || q <= 0.0 => {
            errors.push(FieldError::new(
                field,
                Rule::AtLeastOne,
                format!("{field} must be more than zero (got {q})"),
            ));
            None
        }
        Some(q) if q > MAX_QUANTITY => {
            errors.push(
                FieldError::new(
                    field,
                    Rule::TooLarge,
                    format!("{field} is {q}; the largest accepted is {MAX_QUANTITY}"),
                )
                .with_limit(MAX_QUANTITY as u64),
            );
            None
        }
        Some(q) => Some(q),
    }
}

/// Longest site or place text accepted, in characters.
pub const MAX_SITE_CHARS: usize = 200;
/// Longest description accepted, in characters.
pub const MAX_DESCRIPTION_CHARS: usize = 4000;
/// Largest head count accepted in one request: larger numbers are typing
/// mistakes, not needs.
pub const MAX_PEOPLE: u64 = 10_000_000;

/// A request as typed into a form or on the command line, before validation.
/// Everything is loose on purpose (text for codes, any number for counts)
/// so that bad input reaches [`RequestDraft::validate`] and gets an error that
/// names the field, rather than failing to parse.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, Type)]
#[serde(default)]
pub struct RequestDraft {
    pub country: String,
    pub site: String,
    pub sector: String,
    pub people_total: Option<f64>,
    pub women: Option<f64>,
    pub men: Option<f64>,
    pub girls: Option<f64>,
    pub boys: Option<f64>,
    pub under5: Option<f64>,
    pub age5_17: Option<f64>,
    pub age18_59: Option<f64>,
    pub age60_plus: Option<f64>,
    pub vulnerable: Vec<VulnerableDraft>,
    pub priority: String,
    /// When it is needed by: `YYYY-MM-DD` (end of that day in the request's
    /// country), `YYYY-MM-DDTHH:MM` (local time there) or RFC 3339.
    pub needed_by: String,
    pub items: Vec<ItemDraft>,
    pub description: String,
}

/// People affected, total and by sex and age where known.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize, Type)]
pub struct People {
    pub total: u32,
    pub women: Option<u32>,
    pub men: Option<u32>,
    pub girls: Option<u32>,
    pub boys: Option<u32>,
    /// By age band, where known.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub under5: Option<u32>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub age5_17: Option<u32>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub age18_59: Option<u32>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub age60_plus: Option<u32>,
}

impl People {
    /// The sum of the age bands given.
    pub fn age_sum(&self) -> u64 {
        [self.under5, self.age5_17, self.age18_59, self.age60_plus]
            .iter()
            .flatten()
            .map(|n| u64::from(*n))
            .sum()
    }

    /// Women and girls, where either was recorded.
    pub fn female(&self) -> Option<u32> {
        sum_known(&[self.women, self.girls])
    }

    /// Men and boys, where either was recorded.
    pub fn male(&self) -> Option<u32> {
        sum_known(&[self.men, self.boys])
    }

    /// Girls and boys, or else the age bands under 18.
    pub fn children(&self) -> Option<u32> {
        sum_known(&[self.girls, self.boys]).or(sum_known(&[self.under5, self.age5_17]))
    }

    /// Women and men, or else the age bands from 18.
    pub fn adults(&self) -> Option<u32> {
        sum_known(&[self.women, self.men]).or(sum_known(&[self.age18_59, self.age60_plus]))
    }

    /// The sum of the breakdown given (unknown parts count as zero).
    pub fn breakdown_sum(&self) -> u64 {
        [self.women, self.men, self.girls, self.boys]
            .iter()
            .flatten()
            .map(|n| u64::from(*n))
            .sum()
    }
}

/// The vulnerable groups of a request or a count: each a known group, a
/// whole count within `total`, listed once.
pub(crate) fn vulnerable_groups(
    raw: &[VulnerableDraft],
    total: Option<u32>,
    errors: &mut Vec<FieldError>,
) -> Vec<Vulnerable> {
    let mut vulnerable: Vec<Vulnerable> = Vec::new();
    for (i, v) in raw.iter().enumerate() {
        let field = format!("vulnerable.{i}");
        let group = parse_code(
            &v.group,
            &field,
            VulnerableGroup::parse,
            VulnerableGroup::slugs,
            errors,
        );
        let n = required_count(v.count, &field, errors);
        if let (Some(group), Some(n)) = (group, n) {
            if let Some(total) = total.filter(|t| n > *t) {
                errors.push(
                    FieldError::new(
                        &field,
                        Rule::BreakdownExceedsTotal,
                        format!("{n} people in group {group}, more than the total of {total}"),
                    )
                    .with_limit(u64::from(total)),
                );
            } else if vulnerable.iter().any(|x| x.group == group) {
                errors.push(FieldError::new(
                    &field,
                    Rule::Duplicate,
                    format!("group {group} is listed twice"),
                ));
            } else if n > 0 {
                vulnerable.push(Vulnerable { group, count: n });
            }
        }
    }
    vulnerable
}

/// A count that must be given (for a list entry such as a group).
pub(crate) fn required_count(
    raw: Option<f64>,
    field: &str,
    errors: &mut Vec<FieldError>,
) -> Option<u32> {
    match raw {
        None => {
            errors.push(FieldError::new(
                field,
                Rule::Required,
                format!("{field}: how many people is required"),
            ));
            None
        }
        Some(n) => count_of(n, field, errors),
    }
}

/// The sum of the parts recorded; none when none was.
fn sum_known(parts: &[Option<u32>]) -> Option<u32> {
    if parts.iter().all(Option::is_none) {
        None
    } else {
        Some(
            parts
                .iter()
                .flatten()
                .fold(0u32, |a, n| a.saturating_add(*n)),
        )
    }
}

/// A request that passed validation.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct NewRequest {
    pub country: Country,
    pub site: String,
    pub sector: Sector,
    pub people: People,
    pub priority: Priority,
    pub description: String,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub vulnerable: Vec<Vulnerable>,
    /// Deadline, ms since the Unix epoch (UTC).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub needed_by: Option<i64>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub items: Vec<ItemLine>,
}

impl RequestDraft {
    /// Checks every field and reports every broken rule at once, so a form
    /// can mark all of them in one pass.
    pub fn validate(&self) -> Result<NewRequest, Vec<FieldError>> {
        let mut errors = Vec::new();

        let country = parse_code(
            &self.country,
            "country",
            Country::parse,
            Country::slugs,
            &mut errors,
        );
        let site = required_text(&self.site, "site", MAX_SITE_CHARS, &mut errors);
        let sector = parse_code(
            &self.sector,
            "sector",
            Sector::parse,
            Sector::slugs,
            &mut errors,
        );
        let priority = parse_code(
            &self.priority,
            "priority",
            Priority::parse,
            Priority::slugs,
            &mut errors,
        );
        let description = required_text(
            &self.description,
            "description",
            MAX_DESCRIPTION_CHARS,
            &mut errors,
        );

        let total = match self.people_total {
            None => {
                errors.push(FieldError::new(
                    "people.total",
                    Rule::Required,
                    "how many people are affected is required",
                ));
                None
            }
            Some(0.0) => {
                errors.push(FieldError::new(
                    "people.total",
                    Rule::AtLeastOne,
                    "a request is for at least one person",
                ));
                None
            }
            Some(n) => count_of(n, "people.total", &mut errors),
        };
        let women = self
            .women
            .and_then(|n| count_of(n, "people.women", &mut errors));
        let men = self
            .men
            .and_then(|n| count_of(n, "people.men", &mut errors));
        let girls = self
            .girls
            .and_then(|n| count_of(n, "people.girls", &mut errors));
        let boys = self
            .boys
            .and_then(|n| count_of(n, "people.boys", &mut errors));
        let under5 = self
            .under5
            .and_then(|n| count_of(n, "people.under5", &mut errors));
        let age5_17 = self
            .age5_17
            .and_then(|n| count_of(n, "people.age5_17", &mut errors));
        let age18_59 = self
            .age18_59
            .and_then(|n| count_of(n, "people.age18_59", &mut errors));
        let age60_plus = self
            .age60_plus
            .and_then(|n| count_of(n, "people.age60_plus", &mut errors));
        let people = total.map(|total| People {
            total,
            women,
            men,
            girls,
            boys,
            under5,
            age5_17,
            age18_59,
            age60_plus,
        });

        let vulnerable = vulnerable_groups(&self.vulnerable, total, &mut errors);
        let items = validate_items(&self.items, &mut errors);
        let needed_by =
            country.and_then(|c| deadline(&self.needed_by, "needed_by", c, &mut errors));

        if let Some(people) = people {
            let total = people.total;
            let ages = people.age_sum();
            if ages > u64::from(total) {
                errors.push(
                    FieldError::new(
                        "people",
                        Rule::BreakdownExceedsTotal,
                        format!("the age bands add up to {ages}, more than the total of {total}"),
                    )
                    .with_limit(u64::from(total)),
                );
            }
            let sum = people.breakdown_sum();
            if sum > u64::from(total) {
                errors.push(
                    FieldError::new(
                        "people",
                        Rule::BreakdownExceedsTotal,
                        format!("women, men, girls and boys add up to {sum}, more than the total of {total}"),
                    )
                    .with_limit(u64::from(total)),
                );
            }
        }

        match (country, site, sector, people, priority, description) {
            (
                Some(country),
                Some(site),
                Some(sector),
                Some(people),
                Some(priority),
                Some(description),
            ) if errors.is_empty() => Ok(NewRequest {
                country,
                site,
                sector,
                people,
                priority,
                description,
                vulnerable,
                needed_by,
                items,
            }),
            _ => Err(errors),
        }
    }
}

impl NewRequest {
    /// The same rules, applied to a request received from another device:
    /// every replica must reach the same verdict on it.
    pub fn check(&self) -> Result<(), Vec<FieldError>> {
        self.to_draft().validate().map(|_| ())
    }

    pub fn to_draft(&self) -> RequestDraft {
        RequestDraft {
            country: self.country.slug().into(),
            site: self.site.clone(),
            sector: self.sector.slug().into(),
            people_total: Some(f64::from(self.people.total)),
            women: self.people.women.map(f64::from),
            men: self.people.men.map(f64::from),
            girls: self.people.girls.map(f64::from),
            boys: self.people.boys.map(f64::from),
            under5: self.people.under5.map(f64::from),
            age5_17: self.people.age5_17.map(f64::from),
            age18_59: self.people.age18_59.map(f64::from),
            age60_plus: self.people.age60_plus.map(f64::from),
            vulnerable: self
                .vulnerable
                .iter()
                .map(|v| VulnerableDraft {
                    group: v.group.slug().into(),
                    count: Some(f64::from(v.count)),
                })
                .collect(),
            priority: self.priority.slug().into(),
            needed_by: self.needed_by.map(super::time::rfc3339).unwrap_or_default(),
            items: self
                .items
                .iter()
                .map(|i| ItemDraft {
                    quantity: Some(i.quantity),
                    unit: i.unit.clone(),
                    description: i.description.clone(),
                })
                .collect(),
            description: self.description.clone(),
        }
    }
}

pub(crate) fn count_of(n: f64, field: &str, errors: &mut Vec<FieldError>) -> Option<u32> {
    if !n.is_finite() || n.fract() != 0.0 {
        errors.push(FieldError::new(
            field,
            Rule::WholeNumber,
            format!("{field} must be a whole number of people (got {n})"),
        ));
        return None;
    }
    if n < 0.0 {
        errors.push(FieldError::new(
            field,
            Rule::Negative,
            format!("{field} cannot be negative (got {n})"),
        ));
        return None;
    }
    if n > MAX_PEOPLE as f64 {
        errors.push(
            FieldError::new(
                field,
                Rule::TooLarge,
                format!("{field} is {n}; the largest accepted is {MAX_PEOPLE}"),
            )
            .with_limit(MAX_PEOPLE),
        );
        return None;
    }
    // A whole number in 0..=MAX_PEOPLE, which fits in u32.
    Some(n as u32)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn good() -> RequestDraft {
        RequestDraft {
            country: "GT".into(),
            site: "Tecún Umán, albergue municipal".into(),
            sector: "shelter".into(),
            people_total: Some(120.0),
            women: Some(40.0),
            men: Some(35.0),
            girls: Some(25.0),
            boys: Some(20.0),
            priority: "high".into(),
            description: "Colchonetas y frazadas para 120 personas".into(),
            ..Default::default()
        }
    }

    fn rules(d: &RequestDraft) -> Vec<(String, Rule)> {
        d.validate()
            .expect_err("must be rejected")
            .into_iter()
            .map(|e| (e.field, e.rule))
            .collect()
    }

    #[test]
    fn a_complete_request_validates_and_is_trimmed() {
        let mut d = good();
        d.site = "  Tecún Umán  ".into();
        let r = d.validate().expect("valid");
        assert_eq!(r.country, Country::Gt);
        assert_eq!(r.site, "Tecún Umán");
        assert_eq!(r.people.breakdown_sum(), 120);
    }

    #[test]
    fn breakdown_is_optional() {
        let d = RequestDraft {
            women: None,
            men: None,
            girls: None,
            boys: None,
            ..good()
        };
        assert_eq!(d.validate().expect("valid").people.women, None);
    }

    #[test]
    fn unknown_country_is_named() {
        let d = RequestDraft {
            country: "XX".into(),
            ..good()
        };
        let errs = d.validate().expect_err("unknown country");
        assert_eq!(errs[0].field, "country");
        assert_eq!(errs[0].rule, Rule::Unknown);
        assert!(
            errs[0].message.contains("'XX'") && errs[0].message.contains("GT"),
            "{}",
            errs[0].message
        );
    }

    #[test]
    fn negative_count_is_named() {
        let d = RequestDraft {
            girls: Some(-3.0),
            ..good()
        };
        assert_eq!(rules(&d), vec![("people.girls".into(), Rule::Negative)]);
    }

    #[test]
    fn breakdown_larger_than_total() {
        let d = RequestDraft {
            people_total: Some(100.0),
            ..good()
        };
        assert_eq!(
            rules(&d),
            vec![("people".into(), Rule::BreakdownExceedsTotal)]
        );
    }

    #[test]
    fn empty_sector_and_every_other_problem_reported_together() {
        let d = RequestDraft {
            sector: "  ".into(),
            country: String::new(),
            people_total: Some(0.0),
            priority: "urgentísimo".into(),
            description: "x".repeat(MAX_DESCRIPTION_CHARS + 1),
            ..good()
        };
        assert_eq!(
            rules(&d),
            vec![
                ("country".into(), Rule::Required),
                ("sector".into(), Rule::Required),
                ("priority".into(), Rule::Unknown),
                ("description".into(), Rule::TooLong),
                ("people.total".into(), Rule::AtLeastOne),
            ]
        );
    }

    #[test]
    fn missing_total_and_absurd_totals() {
        assert_eq!(
            rules(&RequestDraft {
                people_total: None,
                ..good()
            }),
            vec![("people.total".into(), Rule::Required)]
        );
        assert_eq!(
            rules(&RequestDraft {
                people_total: Some(1e12),
                ..good()
            }),
            vec![("people.total".into(), Rule::TooLarge)]
        );
    }

    #[test]
    fn counts_are_whole_numbers() {
        let d = RequestDraft {
            boys: Some(2.5),
            ..good()
        };
        assert_eq!(rules(&d), vec![("people.boys".into(), Rule::WholeNumber)]);
    }

    #[test]
    fn limits_count_characters_not_bytes() {
        // 200 accented characters are 400 bytes: still within the limit.
        let d = RequestDraft {
            site: "á".repeat(MAX_SITE_CHARS),
            ..good()
        };
        assert!(d.validate().is_ok());
    }

    #[test]
    fn received_requests_are_checked_with_the_same_rules() {
        let mut r = good().validate().expect("valid");
        assert!(r.check().is_ok());
        r.people.total = 10;
        assert!(
            r.check().is_err(),
            "a breakdown over the total must be refused on receipt too"
        );
    }
}
