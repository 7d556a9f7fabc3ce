//! Humanitarian assistance requests: a need, where, for how many, how urgent.

use super::person::{code as parse_code, required_text};
use super::validation::{FieldError, Rule};
use super::{vocabulary, Country, Sector};
use serde::{Deserialize, Serialize};
use ts_rs::TS;

vocabulary! {
    /// How urgent a need is.
    Priority {
        Critical => "critical", "Critical", "Crítica";
        High => "high", "High", "Alta";
        Medium => "medium", "Medium", "Media";
        Low => "low", "Low", "Baja";
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
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, TS)]
#[serde(default)]
pub struct RequestDraft {
    pub country: String,
    pub site: String,
    pub sector: String,
    #[ts(type = "number | null")]
    pub people_total: Option<f64>,
    #[ts(type = "number | null")]
    pub women: Option<f64>,
    #[ts(type = "number | null")]
    pub men: Option<f64>,
    #[ts(type = "number | null")]
    pub girls: Option<f64>,
    #[ts(type = "number | null")]
    pub boys: Option<f64>,
    pub priority: String,
    pub description: String,
}

/// People affected, total and by sex and age where known.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize, TS)]
pub struct People {
    pub total: u32,
    pub women: Option<u32>,
    pub men: Option<u32>,
    pub girls: Option<u32>,
    pub boys: Option<u32>,
}

impl People {
    /// The sum of the breakdown given (unknown parts count as zero).
    pub fn breakdown_sum(&self) -> u64 {
        [self.women, self.men, self.girls, self.boys]
            .iter()
            .flatten()
            .map(|n| u64::from(*n))
            .sum()
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
            Some(n) => count(n, "people.total", &mut errors),
        };
        let women = self
            .women
            .and_then(|n| count(n, "people.women", &mut errors));
        let men = self.men.and_then(|n| count(n, "people.men", &mut errors));
        let girls = self
            .girls
            .and_then(|n| count(n, "people.girls", &mut errors));
        let boys = self.boys.and_then(|n| count(n, "people.boys", &mut errors));

        if let Some(total) = total {
            let people = People {
                total,
                women,
                men,
                girls,
                boys,
            };
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

        match (country, site, sector, total, priority, description) {
            (
                Some(country),
                Some(site),
                Some(sector),
                Some(total),
                Some(priority),
                Some(description),
            ) if errors.is_empty() => Ok(NewRequest {
                country,
                site,
                sector,
                people: People {
                    total,
                    women,
                    men,
                    girls,
                    boys,
                },
                priority,
                description,
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
            priority: self.priority.slug().into(),
            description: self.description.clone(),
        }
    }
}

fn count(n: f64, field: &str, errors: &mut Vec<FieldError>) -> Option<u32> {
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
