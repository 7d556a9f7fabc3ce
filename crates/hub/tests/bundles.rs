//! Bundle files carry the log where there is no network: the result is the
//! same as an HTTP sync, and a tampered bundle is refused whole.

mod common;

use common::*;
use relevo_sync::bundle;

#[test]
fn a_bundle_gives_what_a_sync_gives_and_a_tampered_one_nothing() {
    let dir = tempfile::tempdir().expect("tempdir");
    let hub = hub_in_process(dir.path(), generous());
    let mut boss = open_device(&dir.path().join("boss"));
    enrol_in_process(&hub, &mut boss, "Rosa", "regional-director", "PA");
    boss.open_crisis(&crisis()).expect("crisis");
    let mut field = open_device(&dir.path().join("field"));
    enrol_in_process(&hub, &mut field, "Ana", "field-coordinator", "GT");
    let mut shelter = open_device(&dir.path().join("shelter"));
    enrol_in_process(&hub, &mut shelter, "Luis", "field-coordinator", "GT");
    let mut online = open_device(&dir.path().join("online"));
    enrol_in_process(&hub, &mut online, "Marta", "national-director", "GT");
    for s in [&mut boss, &mut field, &mut shelter, &mut online] {
        sync_in_process(&hub, s).expect("sync");
    }
    let crisis = field.crises().expect("c")[0].id;
    field.set_current_crisis(crisis).expect("current");
    for i in 0..30 {
        field
            .add_request(&request("GT", &format!("Frontera {i}"), 20.0))
            .expect("request");
    }

    // No network at the shelter: only what it lacks goes on the stick.
    let everything = bundle::export(&field, &Default::default())
        .expect("export all")
        .0;
    let (data, n) = bundle::export(&field, &shelter.sync_vector().expect("vv")).expect("export");
    assert_eq!(n, 30, "only the ops the shelter lacks");
    assert!(data.len() < everything.len());
    let path = dir.path().join("usb").join("relevo.bundle");
    std::fs::create_dir_all(path.parent().expect("dir")).expect("mkdir");
    bundle::write_file(&path, &data).expect("write");

    // A tampered copy is refused whole: nothing of it is taken in.
    let before = digest(&shelter);
    let mut tampered = std::fs::read(&path).expect("read");
    let middle = tampered.len() / 2;
    tampered[middle] ^= 0x20;
    let err = bundle::import(&mut shelter, &tampered).expect_err("tampered");
    let message = err.to_string();
    assert!(
        message.contains("damaged") || message.contains("altered"),
        "{message}"
    );
    assert_eq!(digest(&shelter), before, "nothing imported");
    let err = bundle::import(&mut shelter, b"PK\x03\x04 a zip file").expect_err("not ours");
    assert!(err.to_string().contains("not a Relevo bundle"), "{err}");

    let imported =
        bundle::import(&mut shelter, &std::fs::read(&path).expect("read")).expect("import");
    assert_eq!(imported.applied, 30);
    assert!(imported.refused.is_empty());
    // Again: nothing changes.
    let again = bundle::import(&mut shelter, &std::fs::read(&path).expect("read")).expect("import");
    assert_eq!(again.duplicates, 30);

    // The same as going through the hub.
    sync_in_process(&hub, &mut field).expect("sync");
    sync_in_process(&hub, &mut online).expect("sync");
    assert_eq!(digest(&shelter), digest(&online));
    // The shelter's next sync sends nothing of the field's and takes the rest.
    let report = sync_in_process(&hub, &mut shelter).expect("sync");
    assert_eq!(report.sent, 0);
    assert_eq!(digest(&shelter), digest(&online));

    // A bundle of another hub's network is refused.
    let other_dir = tempfile::tempdir().expect("tempdir");
    let other_hub = hub_in_process(other_dir.path(), generous());
    let mut stranger = open_device(&other_dir.path().join("s"));
    enrol_in_process(&other_hub, &mut stranger, "X", "field-coordinator", "GT");
    let foreign = bundle::export(&stranger, &Default::default())
        .expect("export")
        .0;
    let err = bundle::import(&mut shelter, &foreign).expect_err("foreign");
    assert!(err.to_string().contains("another hub"), "{err}");
}
