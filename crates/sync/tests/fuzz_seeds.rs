//! The fuzzers' seed corpus (`fuzz/corpus/TARGET/seed-*`): real messages of
//! each kind, made by the code that makes them. This test checks that every
//! seed still decodes (so a wire change cannot leave the fuzzers starting
//! from noise); `RELEVO_WRITE_FUZZ_SEEDS=1 cargo test -p relevo-sync --test
//! fuzz_seeds` writes them again.

use relevo_core::domain::{CrisisDraft, IdentityDraft, RequestDraft};
use relevo_store::Store;
use relevo_sync::http::{decode_enrolled, encode_enrolled, EnrolRequest};
use relevo_sync::{bundle, respond, Request, Response, PAGE};
use std::path::PathBuf;

fn corpus() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../fuzz/corpus")
}

fn seeds() -> Vec<(&'static str, Vec<u8>)> {
    let mut hub = Store::open_in_memory().expect("hub");
    hub.init_hub("semillas").expect("init hub");
    let code = hub
        .invite(
            &IdentityDraft {
                name: "Ana López".into(),
                role: "regional-director".into(),
                country: "GT".into(),
                org: "IGM".into(),
            },
            relevo_store::INVITE_TTL_MS,
        )
        .expect("invite");
    let (key, person) = relevo_store::new_device_identity();
    let enrol = EnrolRequest::signed(
        &hub.hub().expect("a hub"),
        &code,
        key.device_id(),
        person,
        |m| key.sign(m),
    );
    let enrolled = hub
        .enrol_device(&code, key.device_id(), person)
        .expect("enrol");
    let mut device = Store::open_in_memory().expect("device");
    device
        .join("http://hub", &enrolled, Some(key))
        .expect("join");
    device
        .open_crisis(&CrisisDraft {
            name: "Flujo mixto".into(),
            countries: vec!["GT".into(), "HN".into()],
        })
        .expect("crisis");
    for site in ["Tecún Umán", "El Carmen", "Agua Caliente"] {
        device
            .add_request(&RequestDraft {
                country: "GT".into(),
                site: site.into(),
                sector: "shelter".into(),
                people_total: Some(40.0),
                priority: "high".into(),
                description: "Colchonetas y frazadas".into(),
                ..Default::default()
            })
            .expect("request");
    }
    let ops = device.ops().expect("ops");
    let mine: Vec<_> = ops
        .iter()
        .filter(|o| Some(o.body.device) == device.device())
        .cloned()
        .collect();
    let request = Request {
        vector: device.sync_vector().expect("vv"),
        push: mine.clone(),
        want: PAGE,
    };
    let pull = Request {
        vector: Default::default(),
        push: Vec::new(),
        want: PAGE,
    };
    let answer = respond(&mut hub, pull.clone(), PAGE).expect("respond");
    let (bundle, _) = bundle::export(&device, &Default::default()).expect("bundle");
    let op = &mine[mine.len() - 1];
    let mut raw = op.body.device.as_bytes().to_vec();
    raw.extend(op.body.seq.to_le_bytes());
    raw.extend(op.body.hlc.wall_ms.to_le_bytes());
    raw.extend(op.body.hlc.counter.to_le_bytes());
    raw.extend(op.body.author.as_bytes());
    raw.extend(op.body.prev.0);
    raw.extend(op.signature);
    raw.push(op.body.kind.len() as u8);
    raw.extend(op.body.kind.as_bytes());
    raw.extend(&op.body.payload);
    let mut payload = vec![2u8]; // request.create in the target's list
    payload.extend(&op.body.payload);
    vec![
        ("sync_request", request.encode()),
        ("sync_request", pull.encode()),
        ("hub_bodies", request.encode()),
        ("hub_bodies", serde_json::to_vec(&enrol).expect("json")),
        ("sync_response", answer.encode()),
        ("bundle", bundle),
        ("enrolment", encode_enrolled(&enrolled)),
        ("op", raw),
        ("payload", payload),
    ]
}

#[test]
fn the_fuzz_seeds_are_real_messages() {
    if std::env::var_os("RELEVO_WRITE_FUZZ_SEEDS").is_some() {
        let mut n = std::collections::BTreeMap::new();
        for (target, bytes) in seeds() {
            let i = n.entry(target).or_insert(0);
            *i += 1;
            let dir = corpus().join(target);
            std::fs::create_dir_all(&dir).expect("mkdir");
            std::fs::write(dir.join(format!("seed-{i}")), bytes).expect("write");
        }
    }
    let read = |target: &str| -> Vec<Vec<u8>> {
        let dir = corpus().join(target);
        let mut files: Vec<_> = std::fs::read_dir(&dir)
            .unwrap_or_else(|e| panic!("{}: {e}", dir.display()))
            .map(|e| e.expect("entry").path())
            .filter(|p| {
                p.file_name()
                    .is_some_and(|n| n.to_string_lossy().starts_with("seed-"))
            })
            .collect();
        files.sort();
        assert!(!files.is_empty(), "no seed for {target}");
        files
            .iter()
            .map(|f| std::fs::read(f).expect("read"))
            .collect()
    };
    for seed in read("sync_request") {
        Request::decode(&seed).expect("a sync request seed decodes");
    }
    for seed in read("sync_response") {
        Response::decode(&seed).expect("a sync response seed decodes");
    }
    for seed in read("enrolment") {
        decode_enrolled(&seed).expect("an enrolment seed decodes");
    }
    let mut fresh = Store::open_in_memory().expect("store");
    for seed in read("bundle") {
        // Ours and intact; a device outside the network refuses it for
        // that reason alone.
        let err = bundle::import(&mut fresh, &seed).expect_err("not enrolled");
        assert!(err.to_string().contains("enrol it first"), "{err}");
    }
    assert!(!read("op").is_empty() && !read("payload").is_empty());
    assert_eq!(read("hub_bodies").len(), 2);
}
