//! The roster: organisations, sites and people a crisis response names.
//!
//! The region's standing organisations and its main border crossings are
//! built in, so a device set up offline can assign work from the first
//! minute; administrators add the rest (NGOs, shelters, staff) as ops.

use super::person::{code as parse_code, optional_text, required_text, MAX_NAME_CHARS};
use super::validation::{FieldError, Rule};
use super::{vocabulary, Country};
use serde::{Deserialize, Serialize};
use ts_rs::TS;

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
        FlowMonitoringPoint => "flow-monitoring-point", "Flow monitoring point", "Punto de monitoreo de flujos";
        Other => "other", "Other", "Otro";
    }
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, TS)]
pub struct Org {
    /// A short lowercase id: `iom`, `mig-gt`, `cr-hn`.
    pub id: String,
    pub name: String,
    pub kind: OrgKind,
    pub country: Option<Country>,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, TS)]
pub struct Site {
    pub id: String,
    pub name: String,
    pub kind: SiteKind,
    pub country: Country,
    /// Admin area P-code, kept as text (they nest and have exceptions).
    pub pcode: Option<String>,
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

/// The main border crossings and reception stations of the corridor.
pub fn builtin_sites() -> Vec<Site> {
    use Country::*;
    let s = |id: &str, name: &str, kind, country| Site {
        id: id.into(),
        name: name.into(),
        kind,
        country,
        pcode: None,
        lat: None,
        lon: None,
    };
    use SiteKind::*;
    vec![
        s(
            "pa-lajas-blancas",
            "Lajas Blancas (ERM)",
            ReceptionCentre,
            Pa,
        ),
        s("pa-san-vicente", "San Vicente (ERM)", ReceptionCentre, Pa),
        s("pa-paso-canoas", "Paso Canoas", BorderCrossing, Pa),
        s("cr-paso-canoas", "Paso Canoas", BorderCrossing, Cr),
        s("cr-penas-blancas", "Peñas Blancas", BorderCrossing, Cr),
        s("ni-penas-blancas", "Peñas Blancas", BorderCrossing, Ni),
        s("ni-el-guasaule", "El Guasaule", BorderCrossing, Ni),
        s("ni-las-manos", "Las Manos", BorderCrossing, Ni),
        s("hn-el-guasaule", "El Guasaule", BorderCrossing, Hn),
        s("hn-las-manos", "Las Manos", BorderCrossing, Hn),
        s("hn-agua-caliente", "Agua Caliente", BorderCrossing, Hn),
        s("hn-corinto", "Corinto", BorderCrossing, Hn),
        s("hn-el-florido", "El Florido", BorderCrossing, Hn),
        s("hn-el-amatillo", "El Amatillo", BorderCrossing, Hn),
        s("sv-el-amatillo", "El Amatillo", BorderCrossing, Sv),
        s("sv-la-hachadura", "La Hachadura", BorderCrossing, Sv),
        s("sv-san-cristobal", "San Cristóbal", BorderCrossing, Sv),
        s("gt-agua-caliente", "Agua Caliente", BorderCrossing, Gt),
        s("gt-corinto", "Corinto", BorderCrossing, Gt),
        s("gt-el-florido", "El Florido", BorderCrossing, Gt),
        s(
            "gt-pedro-de-alvarado",
            "Pedro de Alvarado",
            BorderCrossing,
            Gt,
        ),
        s("gt-tecun-uman", "Tecún Umán", BorderCrossing, Gt),
        s("gt-el-carmen", "El Carmen", BorderCrossing, Gt),
        s("gt-la-mesilla", "La Mesilla", BorderCrossing, Gt),
        s(
            "gt-melchor-de-mencos",
            "Melchor de Mencos",
            BorderCrossing,
            Gt,
        ),
        s("bz-benque-viejo", "Benque Viejo", BorderCrossing, Bz),
        s("bz-santa-elena", "Santa Elena", BorderCrossing, Bz),
        s("mx-ciudad-hidalgo", "Ciudad Hidalgo", BorderCrossing, Mx),
        s("mx-talisman", "Talismán", BorderCrossing, Mx),
        s(
            "mx-ciudad-cuauhtemoc",
            "Ciudad Cuauhtémoc",
            BorderCrossing,
            Mx,
        ),
        s("do-dajabon", "Dajabón", BorderCrossing, Do),
        s("do-elias-pina", "Elías Piña", BorderCrossing, Do),
        s("do-jimani", "Jimaní", BorderCrossing, Do),
    ]
}

/// An organisation to add, as typed by an administrator.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize, TS)]
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

/// A person to put on the roster (someone who can hold tasks).
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize, TS)]
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
