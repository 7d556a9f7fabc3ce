//! The demo crisis: a few days of a mixed-migration response along the
//! Honduras–Guatemala corridor, for trying Relevo out.
//!
//! It is made by demo devices with demo identities (keys that exist only
//! while it is generated) and every declaration and the crisis are marked
//! `demo`, so sync can keep all of it on this device. Its ops go through
//! [`Store::ingest`], the same checks as ops from any other device.

use crate::error::Result;
use crate::{new_id, now_ms, random, CrisisView, Store};
use relevo_core::domain::{Country, Crisis, Identity, RequestDraft, Role};
use relevo_core::ids::RefKind;
use relevo_core::payload::{CrisisOpened, Payload, PersonDeclared, RequestCreated};
use relevo_core::{DeviceKey, EntityId, Hlc, Op, OpHash, Reference, UnsignedOp};

const HOUR: u64 = 3_600_000;

struct DemoDevice {
    key: DeviceKey,
    person: EntityId,
    seq: u64,
    prev: OpHash,
    country: Country,
    requests: u64,
}

impl DemoDevice {
    fn new(
        name: &str,
        role: Role,
        country: Country,
        org: &str,
        wall: u64,
        ops: &mut Vec<Op>,
    ) -> Self {
        let person = EntityId::new_v7(wall, random());
        let mut d = DemoDevice {
            key: DeviceKey::from_secret(random()),
            person,
            seq: 0,
            prev: OpHash::GENESIS,
            country,
            requests: 0,
        };
        let identity = Identity {
            name: name.into(),
            role,
            country,
            org: Some(org.into()),
        };
        ops.push(d.sign(
            Payload::PersonDeclare(PersonDeclared::new(person, identity, true)),
            wall,
        ));
        d
    }

    fn sign(&mut self, payload: Payload, wall: u64) -> Op {
        self.seq += 1;
        let body = UnsignedOp {
            device: self.key.device_id(),
            seq: self.seq,
            hlc: Hlc::new(wall, 0),
            author: self.person,
            kind: payload.kind().into(),
            payload: payload.encode(),
            prev: self.prev,
        };
        let op = body.sign(&self.key).expect("demo ops have a valid shape");
        self.prev = op.hash();
        op
    }

    #[allow(clippy::too_many_arguments)]
    fn request(
        &mut self,
        crisis: EntityId,
        wall: u64,
        site: &str,
        sector: &str,
        people: [i64; 5],
        priority: &str,
        description: &str,
        ops: &mut Vec<Op>,
    ) {
        let [total, women, men, girls, boys] = people;
        let known = |n: i64| (n >= 0).then_some(n as f64);
        let request = RequestDraft {
            country: self.country.slug().into(),
            site: site.into(),
            sector: sector.into(),
            people_total: Some(total as f64),
            women: known(women),
            men: known(men),
            girls: known(girls),
            boys: known(boys),
            priority: priority.into(),
            description: description.into(),
            ..Default::default()
        }
        .validate()
        .expect("demo data is valid");
        self.requests += 1;
        let reference =
            Reference::new(RefKind::Request, &self.key.device_id().tag(), self.requests)
                .into_string();
        let payload = Payload::RequestCreate(RequestCreated {
            id: EntityId::new_v7(wall, random()),
            reference,
            crisis,
            request,
        });
        ops.push(self.sign(payload, wall));
    }
}

impl Store {
    /// Loads the demo crisis (once) and makes it current.
    pub fn load_demo(&mut self) -> Result<CrisisView> {
        if let Some(existing) = self.crises()?.into_iter().find(|c| c.demo) {
            self.set_current_crisis(existing.id)?;
            return Ok(existing);
        }
        let start = now_ms().saturating_sub(72 * HOUR);
        let mut ops = Vec::new();
        let mut regional = DemoDevice::new(
            "Demo · Marta Solís",
            Role::RegionalDirector,
            Country::Pa,
            "OIM / IOM",
            start,
            &mut ops,
        );
        let crisis_id = new_id();
        let crisis = Crisis {
            name: "Demo · Flujo mixto Honduras–Guatemala".into(),
            countries: vec![Country::Hn, Country::Gt, Country::Mx],
        };
        ops.push(regional.sign(
            Payload::CrisisOpen(CrisisOpened::new(crisis_id, crisis, true)),
            start + 1,
        ));

        let mut gt = DemoDevice::new(
            "Demo · Ana López",
            Role::FieldCoordinator,
            Country::Gt,
            "Instituto Guatemalteco de Migración",
            start + HOUR,
            &mut ops,
        );
        let mut hn = DemoDevice::new(
            "Demo · Luis Mejía",
            Role::FieldCoordinator,
            Country::Hn,
            "Instituto Nacional de Migración",
            start + HOUR,
            &mut ops,
        );

        hn.request(
            crisis_id,
            start + 2 * HOUR,
            "Corinto, punto fronterizo",
            "health",
            [85, 30, 25, 16, 14],
            "high",
            "Atención primaria y rehidratación oral para grupo recién llegado",
            &mut ops,
        );
        hn.request(
            crisis_id,
            start + 9 * HOUR,
            "Agua Caliente, Ocotepeque",
            "wash",
            [240, -1, -1, -1, -1],
            "critical",
            "Agua segura y letrinas portátiles; el punto no tiene servicios",
            &mut ops,
        );
        hn.request(
            crisis_id,
            start + 30 * HOUR,
            "San Pedro Sula, Centro de Atención al Migrante Retornado",
            "child-protection",
            [12, 0, 0, 5, 7],
            "critical",
            "12 niñas y niños no acompañados requieren cuidado temporal y localización de familias",
            &mut ops,
        );

        gt.request(
            crisis_id,
            start + 20 * HOUR,
            "Esquipulas, albergue parroquial",
            "shelter",
            [160, 50, 45, 35, 30],
            "high",
            "Colchonetas y frazadas; capacidad del albergue superada",
            &mut ops,
        );
        gt.request(
            crisis_id,
            start + 26 * HOUR,
            "Esquipulas, albergue parroquial",
            "food-security",
            [160, 50, 45, 35, 30],
            "medium",
            "Raciones para tres días",
            &mut ops,
        );
        gt.request(
            crisis_id,
            start + 44 * HOUR,
            "Tecún Umán, Casa del Migrante",
            "gbv",
            [9, 9, 0, 0, 0],
            "high",
            "Espacio seguro y acompañamiento psicosocial para mujeres sobrevivientes",
            &mut ops,
        );
        gt.request(
            crisis_id,
            start + 60 * HOUR,
            "Tecún Umán, Casa del Migrante",
            "logistics",
            [300, -1, -1, -1, -1],
            "low",
            "Transporte de insumos desde Ciudad de Guatemala",
            &mut ops,
        );

        for op in &ops {
            self.ingest(op)?;
        }
        self.set_current_crisis(crisis_id)?;
        Ok(self
            .crisis(crisis_id)?
            .expect("the demo crisis was just stored"))
    }
}
