//! Deadlines as people type them, stored as UTC.
//!
//! Every member country keeps one UTC offset all year (no daylight saving
//! time), so a date typed without a zone is read in the zone of the country
//! the record belongs to: "needed by 2026-12-01" at a Panamanian border post
//! means the end of that day in Panama.

use super::validation::{FieldError, Rule};
use super::Country;
use chrono::{DateTime, FixedOffset, NaiveDate, NaiveDateTime, NaiveTime, TimeZone, Utc};

/// Parses a deadline: `YYYY-MM-DD` (end of that day in `country`),
/// `YYYY-MM-DDTHH:MM` (local time in `country`) or RFC 3339 with an offset.
/// Empty means no deadline.
pub fn deadline(
    raw: &str,
    field: &str,
    country: Country,
    errors: &mut Vec<FieldError>,
) -> Option<i64> {
    let end_of_day = NaiveTime::from_hms_opt(23, 59, 0).expect("valid time");
    moment(raw, field, country, end_of_day, errors)
}

/// Parses a moment typed in `country`: `YYYY-MM-DD` (at `bare_date_at` that
/// day in `country`), `YYYY-MM-DDTHH:MM` (local time in `country`) or RFC
/// 3339 with an offset. Empty means none.
pub fn moment(
    raw: &str,
    field: &str,
    country: Country,
    bare_date_at: NaiveTime,
    errors: &mut Vec<FieldError>,
) -> Option<i64> {
    let raw = raw.trim();
    if raw.is_empty() {
        return None;
    }
    let zone = FixedOffset::east_opt(country.utc_offset_hours() * 3600)
        .expect("offsets are whole hours within a day");
    let parsed = DateTime::parse_from_rfc3339(raw)
        .map(|d| d.with_timezone(&Utc))
        .ok()
        .or_else(|| {
            NaiveDateTime::parse_from_str(raw, "%Y-%m-%dT%H:%M")
                .ok()
                .and_then(|t| zone.from_local_datetime(&t).single())
                .map(|d| d.with_timezone(&Utc))
        })
        .or_else(|| {
            NaiveDate::parse_from_str(raw, "%Y-%m-%d")
                .ok()
                .map(|d| d.and_time(bare_date_at))
                .and_then(|t| zone.from_local_datetime(&t).single())
                .map(|d| d.with_timezone(&Utc))
        });
    match parsed {
        Some(t) if (2000..=2100).contains(&chrono::Datelike::year(&t)) => {
            Some(t.timestamp_millis())
        }
        Some(_) => {
            errors.push(FieldError::new(
                field,
                Rule::BadDate,
                format!("{field} '{raw}' is outside the years 2000 to 2100"),
            ));
            None
        }
        None => {
            errors.push(FieldError::new(
                field,
                Rule::BadDate,
                format!(
                    "{field} '{raw}' is not a date; use YYYY-MM-DD, YYYY-MM-DDTHH:MM or RFC 3339"
                ),
            ));
            None
        }
    }
}

/// A stored time as RFC 3339 in UTC, for drafts and exports.
pub fn rfc3339(ms: i64) -> String {
    Utc.timestamp_millis_opt(ms)
        .single()
        .map(|t| t.to_rfc3339_opts(chrono::SecondsFormat::Secs, true))
        .unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(raw: &str, c: Country) -> Result<Option<i64>, Vec<FieldError>> {
        let mut errors = Vec::new();
        let t = deadline(raw, "due", c, &mut errors);
        if errors.is_empty() {
            Ok(t)
        } else {
            Err(errors)
        }
    }

    #[test]
    fn a_bare_date_is_the_end_of_that_day_in_the_country() {
        // 23:59 in Guatemala (UTC-6) is 05:59 UTC the next day.
        let gt = parse("2026-12-01", Country::Gt).expect("ok").expect("some");
        assert_eq!(rfc3339(gt), "2026-12-02T05:59:00Z");
        let pa = parse("2026-12-01", Country::Pa).expect("ok").expect("some");
        assert_eq!(gt - pa, 3_600_000, "Panama is an hour ahead of Guatemala");
        assert_eq!(
            rfc3339(
                parse("2026-12-01T08:30", Country::Do)
                    .expect("ok")
                    .expect("some")
            ),
            "2026-12-01T12:30:00Z"
        );
        assert_eq!(
            parse("2026-12-01T08:30:00-06:00", Country::Pa).expect("ok"),
            parse("2026-12-01T08:30", Country::Gt).expect("ok")
        );
    }

    #[test]
    fn empty_is_none_and_nonsense_is_named() {
        assert_eq!(parse("  ", Country::Gt).expect("ok"), None);
        let e = parse("mañana", Country::Gt).expect_err("bad");
        assert_eq!((e[0].field.as_str(), e[0].rule), ("due", Rule::BadDate));
        assert!(parse("2026-02-30", Country::Gt).is_err());
        assert!(parse("1800-01-01", Country::Gt).is_err());
    }
}
