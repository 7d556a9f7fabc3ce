//! The countries of the region: OCAM members and observers.

use super::vocabulary;

vocabulary! {
    /// An ISO 3166-1 alpha-2 code of a country Relevo coordinates in.
    Country {
        Bz => "BZ", "Belize", "Belice";
        Cr => "CR", "Costa Rica", "Costa Rica";
        Sv => "SV", "El Salvador", "El Salvador";
        Gt => "GT", "Guatemala", "Guatemala";
        Hn => "HN", "Honduras", "Honduras";
        Ni => "NI", "Nicaragua", "Nicaragua";
        Pa => "PA", "Panama", "Panamá";
        Do => "DO", "Dominican Republic", "República Dominicana";
        Mx => "MX", "Mexico", "México";
        Us => "US", "United States", "Estados Unidos";
    }
}

/// A country's place in the Central American Commission of Migration
/// Directors (OCAM).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum OcamStatus {
    Member,
    Observer,
}

impl Country {
    pub fn ocam_status(self) -> OcamStatus {
        match self {
            Country::Mx | Country::Us => OcamStatus::Observer,
            _ => OcamStatus::Member,
        }
    }

    pub fn code(self) -> &'static str {
        self.slug()
    }

    /// The offset from UTC of the country's capital, in hours. No member
    /// observes daylight saving time; for Mexico and the United States, which
    /// span several zones, this is the zone of the southern border.
    pub fn utc_offset_hours(self) -> i32 {
        match self {
            Country::Pa | Country::Us => -5,
            Country::Do => -4,
            _ => -6,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn eight_members_two_observers() {
        let members = Country::ALL
            .iter()
            .filter(|c| c.ocam_status() == OcamStatus::Member)
            .count();
        assert_eq!(members, 8);
        assert_eq!(Country::ALL.len(), 10);
    }

    #[test]
    fn parse_is_lenient_about_case_but_not_about_codes() {
        assert_eq!(Country::parse(" gt "), Some(Country::Gt));
        assert_eq!(Country::parse("GTM"), None);
        assert_eq!(Country::parse("HT"), None);
    }

    #[test]
    fn serialises_as_the_iso_code() {
        assert_eq!(serde_json::to_string(&Country::Do).expect("json"), "\"DO\"");
    }
}
