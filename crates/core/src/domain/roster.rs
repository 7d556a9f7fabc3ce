//! The roster: organisations, sites and people a crisis response names.
//!
//! The region's standing organisations and its main border crossings are
//! built in, so a device set up offline can assign work from the first
//! minute; administrators add the rest (NGOs, shelters, staff) as ops.

use super::person::{code as parse_code, optional_text, required_text, MAX_NAME_CHARS};
use super::validation::{FieldError, Rule};
use super::{vocabulary, Country};
use serde::{Deserialize, Serialize};
use specta::Type;

vocabulary! {
    OrgKind {
        MigrationAuthority => "migration-authority", "Migration authority", "Autoridad migratoria";
        UnAgency => "un-agency", "UN agency", "Agencia de la ONU";
        RedCross => "red-cross", "Red Cross", "Cruz Roja";
        Ngo => "ngo", "NGO", "ONG";
        Government => "government", "Government", "Gobierno";
        Other => "other", "Other", "Otra";
    }
}

vocabulary! {
    SiteKind {
        BorderCrossing => "border-crossing", "Border crossing", "Paso fronterizo";
        Shelter => "shelter", "Shelter", "Albergue";
        ReceptionCentre => "reception-centre", "Reception centre", "Estación de recepción";
        TransitHub => "transit-hub", "Transit hub", "Centro de tránsito";
        FlowMonitoringPoint => "flow-monitoring-point", "Flow monitoring point", "Punto de monitoreo de flujos";
        Other => "other", "Other", "Otro";
    }
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, Type)]
pub struct Org {
    /// A short lowercase id: `iom`, `mig-gt`, `cr-hn`.
    pub id: String,
    pub name: String,
    pub kind: OrgKind,
    pub country: Option<Country>,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, Type)]
pub struct Site {
    pub id: String,
    pub name: String,
    pub kind: SiteKind,
    pub country: Country,
    /// Admin area P-code, kept as text (they nest and have exceptions).
    pub pcode: Option<String>,
    /// The first-level admin area's name (department, province, state).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub adm1: Option<String>,
    pub lat: Option<f64>,
    pub lon: Option<f64>,
}

impl Eq for Site {}

fn org(id: &str, name: &str, kind: OrgKind, country: Option<Country>) -> Org {
    Org {
        id: id.into(),
        name: name.into(),
        kind,
        country,
    }
}

/// The region's standing organisations: each country's migration authority,
/// its Red Cross society, and the UN agencies and federations working across
/// the region.
pub fn builtin_orgs() -> Vec<Org> {
    use Country::*;
    use OrgKind::*;
    let mut v = vec![
        org(
            "mig-bz",
            "Immigration and Nationality Department (BZ)",
            MigrationAuthority,
            Some(Bz),
        ),
        org(
            "mig-cr",
            "Dirección General de Migración y Extranjería (CR)",
            MigrationAuthority,
            Some(Cr),
        ),
        org(
            "mig-sv",
            "Dirección General de Migración y Extranjería (SV)",
            MigrationAuthority,
            Some(Sv),
        ),
        org(
            "mig-gt",
            "Instituto Guatemalteco de Migración",
            MigrationAuthority,
            Some(Gt),
        ),
        org(
            "mig-hn",
            "Instituto Nacional de Migración (HN)",
            MigrationAuthority,
            Some(Hn),
        ),
        org(
            "mig-ni",
            "Dirección General de Migración y Extranjería (NI)",
            MigrationAuthority,
            Some(Ni),
        ),
        org(
            "mig-pa",
            "Servicio Nacional de Migración (PA)",
            MigrationAuthority,
            Some(Pa),
        ),
        org(
            "mig-do",
            "Dirección General de Migración (DO)",
            MigrationAuthority,
            Some(Do),
        ),
        org(
            "mig-mx",
            "Instituto Nacional de Migración (MX)",
            MigrationAuthority,
            Some(Mx),
        ),
        org("iom", "IOM / OIM", UnAgency, None),
        org("unhcr", "UNHCR / ACNUR", UnAgency, None),
        org("unicef", "UNICEF", UnAgency, None),
        org("wfp", "WFP / PMA", UnAgency, None),
        org("ifrc", "IFRC / FICR", RedCross, None),
    ];
    for c in [Bz, Cr, Sv, Gt, Hn, Ni, Pa, Do, Mx] {
        v.push(org(
            &format!("rc-{}", c.slug().to_lowercase()),
            &format!("Cruz Roja ({})", c.slug()),
            RedCross,
            Some(c),
        ));
    }
    v
}

/// The main border crossings and reception stations of the corridor, with
/// their first-level admin area (department, province, state) and
/// approximate coordinates (to about a kilometre; enough for a regional map,
/// not for navigation). P-codes are left to administrators: the region's
/// sets differ in format and we ship none we have not checked.
pub fn builtin_sites() -> Vec<Site> {
    BUILTIN_SITES
        .iter()
        .map(|&(id, name, kind, country, adm1, lat, lon)| Site {
            id: id.into(),
            name: name.into(),
            kind,
            country,
            pcode: None,
            adm1: Some(adm1.into()),
            lat: Some(lat),
            lon: Some(lon),
        })
        .collect()
}

type SiteRow = (
    &'static str,
    &'static str,
    SiteKind,
    Country,
    &'static str,
    f64,
    f64,
);

#[rustfmt::skip]
const BUILTIN_SITES: &[SiteRow] = {
    use Country::*;
    use SiteKind::*;
    &[
        ("pa-lajas-blancas", "Lajas Blancas (ERM)", ReceptionCentre, Pa, "Darién", 8.28, -77.83),
        ("pa-san-vicente", "San Vicente (ERM)", ReceptionCentre, Pa, "Darién", 8.50, -77.97),
        ("pa-paso-canoas", "Paso Canoas", BorderCrossing, Pa, "Chiriquí", 8.53, -82.83),
        ("cr-paso-canoas", "Paso Canoas", BorderCrossing, Cr, "Puntarenas", 8.54, -82.84),
        ("cr-penas-blancas", "Peñas Blancas", BorderCrossing, Cr, "Guanacaste", 11.21, -85.61),
        ("ni-penas-blancas", "Peñas Blancas", BorderCrossing, Ni, "Rivas", 11.23, -85.62),
        ("ni-el-guasaule", "El Guasaule", BorderCrossing, Ni, "Chinandega", 12.93, -87.00),
        ("ni-las-manos", "Las Manos", BorderCrossing, Ni, "Nueva Segovia", 13.78, -86.52),
        ("hn-el-guasaule", "El Guasaule", BorderCrossing, Hn, "Choluteca", 12.94, -87.01),
        ("hn-las-manos", "Las Manos", BorderCrossing, Hn, "El Paraíso", 13.79, -86.53),
        ("hn-agua-caliente", "Agua Caliente", BorderCrossing, Hn, "Ocotepeque", 14.57, -89.20),
        ("hn-corinto", "Corinto", BorderCrossing, Hn, "Cortés", 15.60, -88.33),
        ("hn-el-florido", "El Florido", BorderCrossing, Hn, "Copán", 14.86, -89.24),
        ("hn-el-amatillo", "El Amatillo", BorderCrossing, Hn, "Valle", 13.60, -87.75),
        ("sv-el-amatillo", "El Amatillo", BorderCrossing, Sv, "La Unión", 13.59, -87.76),
        ("sv-la-hachadura", "La Hachadura", BorderCrossing, Sv, "Ahuachapán", 13.86, -90.09),
        ("sv-san-cristobal", "San Cristóbal", BorderCrossing, Sv, "Santa Ana", 14.15, -89.67),
        ("gt-agua-caliente", "Agua Caliente", BorderCrossing, Gt, "Chiquimula", 14.58, -89.21),
        ("gt-corinto", "Corinto", BorderCrossing, Gt, "Izabal", 15.61, -88.35),
        ("gt-el-florido", "El Florido", BorderCrossing, Gt, "Chiquimula", 14.86, -89.26),
        ("gt-pedro-de-alvarado", "Pedro de Alvarado", BorderCrossing, Gt, "Jutiapa", 13.87, -90.10),
        ("gt-tecun-uman", "Tecún Umán", BorderCrossing, Gt, "San Marcos", 14.68, -92.14),
        ("gt-el-carmen", "El Carmen", BorderCrossing, Gt, "San Marcos", 14.96, -92.14),
        ("gt-la-mesilla", "La Mesilla", BorderCrossing, Gt, "Huehuetenango", 15.63, -91.99),
        ("gt-melchor-de-mencos", "Melchor de Mencos", BorderCrossing, Gt, "Petén", 17.06, -89.15),
        ("bz-benque-viejo", "Benque Viejo", BorderCrossing, Bz, "Cayo", 17.07, -89.14),
        ("bz-santa-elena", "Santa Elena", BorderCrossing, Bz, "Corozal", 18.49, -88.39),
        ("mx-ciudad-hidalgo", "Ciudad Hidalgo", BorderCrossing, Mx, "Chiapas", 14.68, -92.15),
        ("mx-talisman", "Talismán", BorderCrossing, Mx, "Chiapas", 14.96, -92.15),
        ("mx-ciudad-cuauhtemoc", "Ciudad Cuauhtémoc", BorderCrossing, Mx, "Chiapas", 15.66, -92.00),
        ("do-dajabon", "Dajabón", BorderCrossing, Do, "Dajabón", 19.55, -71.71),
        ("do-elias-pina", "Elías Piña", BorderCrossing, Do, "Elías Piña", 18.88, -71.70),
        ("do-jimani", "Jimaní", BorderCrossing, Do, "Independencia", 18.49, -71.85),
    ]
};

/// An organisation to add, as typed by an administrator.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize, Type)]
#[serde(default)]
pub struct OrgDraft {
    pub id: String,
    pub name: String,
    pub kind: String,
    pub country: String,
}

impl OrgDraft {
    pub fn validate(&self) -> Result<Org, Vec<FieldError>> {
        let mut errors = Vec::new();
        let id = slug_id(&self.id, "id", &mut errors);
        let name = required_text(&self.name, "name", MAX_NAME_CHARS, &mut errors);
        let kind = parse_code(
            &self.kind,
            "kind",
            OrgKind::parse,
            OrgKind::slugs,
            &mut errors,
        );
        let country = if self.country.trim().is_empty() {
            None
        } else {
            parse_code(
                &self.country,
                "country",
                Country::parse,
                Country::slugs,
                &mut errors,
            )
        };
        match (id, name, kind) {
            (Some(id), Some(name), Some(kind)) if errors.is_empty() => Ok(Org {
                id,
                name,
                kind,
                country,
            }),
            _ => Err(errors),
        }
    }
}

/// A site to add (or a built-in one to correct: the same id), as typed by
/// an administrator.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, Type)]
#[serde(default)]
pub struct SiteDraft {
    pub id: String,
    pub name: String,
    pub kind: String,
    pub country: String,
    pub adm1: String,
    pub pcode: String,
    pub lat: Option<f64>,
    pub lon: Option<f64>,
}

impl SiteDraft {
    pub fn validate(&self) -> Result<Site, Vec<FieldError>> {
        let mut errors = Vec::new();
        let id = slug_id(&self.id, "id", &mut errors);
        let name = required_text(&self.name, "name", MAX_NAME_CHARS, &mut errors);
        let kind = parse_code(
            &self.kind,
            "kind",
            SiteKind::parse,
            SiteKind::slugs,
            &mut errors,
        );
        let country = parse_code(
            &self.country,
            "country",
            Country::parse,
            Country::slugs,
            &mut errors,
        );
        let adm1 = optional_text(&self.adm1, "adm1", 80, &mut errors);
        let pcode = optional_text(&self.pcode, "pcode", 40, &mut errors);
        let mut coordinate = |v: Option<f64>, field: &str, limit: f64| match v {
            Some(x) if !(x.is_finite() && (-limit..=limit).contains(&x)) => {
                errors.push(FieldError::new(
                    field,
                    Rule::TooLarge,
                    format!("{field} must be between -{limit} and {limit} (got {x})"),
                ));
                None
            }
            other => other,
        };
        let lat = coordinate(self.lat, "lat", 90.0);
        let lon = coordinate(self.lon, "lon", 180.0);
        if lat.is_some() != lon.is_some() {
            errors.push(FieldError::new(
                if lat.is_some() { "lon" } else { "lat" },
                Rule::Required,
                "give both latitude and longitude, or neither",
            ));
        }
        match (id, name, kind, country) {
            (Some(id), Some(name), Some(kind), Some(country)) if errors.is_empty() => Ok(Site {
                id,
                name,
                kind,
                country,
                pcode,
                adm1,
                lat,
                lon,
            }),
            _ => Err(errors),
        }
    }
}

/// A person to put on the roster (someone who can hold tasks).
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize, Type)]
#[serde(default)]
pub struct PersonDraft {
    pub name: String,
    pub role: String,
    pub country: String,
    pub org: String,
}

/// Lowercase letters, digits and dashes, 2 to 40 characters.
fn slug_id(raw: &str, field: &str, errors: &mut Vec<FieldError>) -> Option<String> {
    let t = optional_text(raw, field, 40, errors)?;
    if t.len() < 2
        || !t
            .chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-')
    {
        errors.push(FieldError::new(
            field,
            Rule::Unknown,
            format!("{field} '{t}' must be 2 to 40 lowercase letters, digits or dashes"),
        ));
        return None;
    }
    Some(t)
}

impl PersonDraft {
    pub fn to_identity(&self) -> super::IdentityDraft {
        super::IdentityDraft {
            name: self.name.clone(),
            role: self.role.clone(),
            country: self.country.clone(),
            org: self.org.clone(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn builtin_ids_are_unique_and_valid() {
        let orgs = builtin_orgs();
        let mut ids: Vec<_> = orgs.iter().map(|o| o.id.clone()).collect();
        ids.sort();
        ids.dedup();
        assert_eq!(ids.len(), orgs.len());
        for o in &orgs {
            let mut e = Vec::new();
            assert!(slug_id(&o.id, "id", &mut e).is_some(), "{}", o.id);
        }
        let sites = builtin_sites();
        let mut ids: Vec<_> = sites.iter().map(|s| s.id.clone()).collect();
        ids.sort();
        ids.dedup();
        assert_eq!(ids.len(), sites.len());
    }

    #[test]
    fn builtin_sites_lie_in_their_country() {
        use Country::*;
        // (south, north, west, east), a little wider than each country.
        let bbox = |c: Country| match c {
            Pa => (7.1, 9.8, -83.1, -77.1),
            Cr => (8.0, 11.3, -86.0, -82.5),
            Ni => (10.7, 15.1, -87.8, -83.1),
            Hn => (12.9, 16.5, -89.4, -83.1),
            Sv => (13.1, 14.5, -90.2, -87.6),
            Gt => (13.7, 17.9, -92.3, -88.2),
            Bz => (15.8, 18.6, -89.3, -87.4),
            Mx => (14.5, 32.8, -118.5, -86.7),
            Do => (17.5, 20.0, -72.1, -68.3),
            other => panic!("no built-in site expected in {other:?}"),
        };
        for s in builtin_sites() {
            let (south, north, west, east) = bbox(s.country);
            let (lat, lon) = (s.lat.expect("lat"), s.lon.expect("lon"));
            assert!(
                (south..=north).contains(&lat) && (west..=east).contains(&lon),
                "{} at {lat},{lon} is outside {:?}",
                s.id,
                s.country
            );
            assert!(s.adm1.as_deref().is_some_and(|a| !a.is_empty()), "{}", s.id);
        }
    }

    #[test]
    fn org_draft_rules() {
        let e = OrgDraft {
            id: "Casa Migrante!".into(),
            name: "Casa del Migrante".into(),
            kind: "ngo".into(),
            country: "GT".into(),
        }
        .validate()
        .expect_err("bad id");
        assert_eq!(e[0].field, "id");
    }
}
