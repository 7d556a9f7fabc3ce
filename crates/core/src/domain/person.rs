//! People and crises as they are declared: who uses this device, and the
//! incident being coordinated.

use super::validation::{FieldError, Rule};
use super::{Country, Role};
use serde::{Deserialize, Serialize};
use specta::Type;

pub const MAX_NAME_CHARS: usize = 120;

/// "Who are you?" as typed on first run or given to `relevo init`.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize, Type)]
#[serde(default)]
pub struct IdentityDraft {
    pub name: String,
    pub role: String,
    pub country: String,
    pub org: String,
}

/// A validated identity.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Identity {
    pub name: String,
    pub role: Role,
    pub country: Country,
    pub org: Option<String>,
}

impl IdentityDraft {
    pub fn validate(&self) -> Result<Identity, Vec<FieldError>> {
        let mut errors = Vec::new();
        let name = required_text(&self.name, "name", MAX_NAME_CHARS, &mut errors);
        let role = code(&self.role, "role", Role::parse, Role::slugs, &mut errors);
        let country = code(
            &self.country,
            "country",
            Country::parse,
            Country::slugs,
            &mut errors,
        );
        let org = optional_text(&self.org, "org", MAX_NAME_CHARS, &mut errors);
        match (name, role, country) {
            (Some(name), Some(role), Some(country)) if errors.is_empty() => Ok(Identity {
                name,
                role,
                country,
                org,
            }),
            _ => Err(errors),
        }
    }
}

/// A new crisis as typed.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize, Type)]
#[serde(default)]
pub struct CrisisDraft {
    pub name: String,
    /// ISO codes of the affected countries.
    pub countries: Vec<String>,
}

/// A validated crisis.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Crisis {
    pub name: String,
    pub countries: Vec<Country>,
}

impl CrisisDraft {
    pub fn validate(&self) -> Result<Crisis, Vec<FieldError>> {
        let mut errors = Vec::new();
        let name = required_text(&self.name, "name", MAX_NAME_CHARS, &mut errors);
        let mut countries = Vec::new();
        for raw in &self.countries {
            if let Some(c) = code(
                raw,
                "countries",
                Country::parse,
                Country::slugs,
                &mut errors,
            ) {
                if !countries.contains(&c) {
                    countries.push(c);
                }
            }
        }
        if self.countries.is_empty() {
            errors.push(FieldError::new(
                "countries",
                Rule::Required,
                "name at least one affected country",
            ));
        }
        match name {
            Some(name) if errors.is_empty() => Ok(Crisis { name, countries }),
            _ => Err(errors),
        }
    }
}

pub(crate) fn required_text(
    raw: &str,
    field: &str,
    max: usize,
    errors: &mut Vec<FieldError>,
) -> Option<String> {
    let t = optional_text(raw, field, max, errors);
    if raw.trim().is_empty() {
        errors.push(FieldError::new(
            field,
            Rule::Required,
            format!("{field} is required"),
        ));
    }
    t
}

pub(crate) fn optional_text(
    raw: &str,
    field: &str,
    max: usize,
    errors: &mut Vec<FieldError>,
) -> Option<String> {
    let trimmed = raw.trim();
    if trimmed.is_empty() {
        return None;
    }
    let chars = trimmed.chars().count();
    if chars > max {
        errors.push(
            FieldError::new(
                field,
                Rule::TooLong,
                format!("{field} is {chars} characters long; the limit is {max}"),
            )
            .with_limit(max as u64),
        );
        return None;
    }
    Some(trimmed.to_owned())
}

pub(crate) fn code<T>(
    raw: &str,
    field: &str,
    parse: fn(&str) -> Option<T>,
    known: fn() -> String,
    errors: &mut Vec<FieldError>,
) -> Option<T> {
    if raw.trim().is_empty() {
        errors.push(FieldError::new(
            field,
            Rule::Required,
            format!("{field} is required (one of: {})", known()),
        ));
        return None;
    }
    let parsed = parse(raw);
    if parsed.is_none() {
        errors.push(FieldError::new(
            field,
            Rule::Unknown,
            format!(
                "'{}' is not a known {field}; use one of: {}",
                raw.trim(),
                known()
            ),
        ));
    }
    parsed
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn identity_rules() {
        let ok = IdentityDraft {
            name: "Ana".into(),
            role: "field-coordinator".into(),
            country: "gt".into(),
            org: "".into(),
        };
        let id = ok.validate().expect("valid");
        assert_eq!(
            (id.role, id.country, id.org),
            (Role::FieldCoordinator, Country::Gt, None)
        );
        let bad = IdentityDraft {
            name: " ".into(),
            role: "boss".into(),
            country: "GT".into(),
            org: "".into(),
        };
        let fields: Vec<_> = bad
            .validate()
            .expect_err("invalid")
            .into_iter()
            .map(|e| (e.field, e.rule))
            .collect();
        assert_eq!(
            fields,
            vec![
                ("name".into(), Rule::Required),
                ("role".into(), Rule::Unknown)
            ]
        );
    }

    #[test]
    fn crisis_rules() {
        let c = CrisisDraft {
            name: "Flujo mixto".into(),
            countries: vec!["GT".into(), "gt".into(), "HN".into()],
        };
        assert_eq!(
            c.validate().expect("valid").countries,
            vec![Country::Gt, Country::Hn]
        );
        let none = CrisisDraft {
            name: "X".into(),
            countries: vec![],
        };
        assert_eq!(
            none.validate().expect_err("no countries")[0].field,
            "countries"
        );
    }
}
