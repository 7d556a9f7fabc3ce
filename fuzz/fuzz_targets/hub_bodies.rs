//! The hub's HTTP bodies: an enrolment request (JSON) and a sync request,
//! as the hub library takes them (with a hub store in memory).
#![no_main]

use libfuzzer_sys::fuzz_target;
use relevo_store::Store;
use std::sync::Mutex;

static HUB: Mutex<Option<Store>> = Mutex::new(None);

fuzz_target!(|data: &[u8]| {
    let mut hub = HUB.lock().unwrap_or_else(|p| p.into_inner());
    let store = hub.get_or_insert_with(|| {
        let mut s = Store::open_in_memory().expect("store");
        s.init_hub("fuzz").expect("hub");
        s
    });
    if let Ok(r) = serde_json::from_slice::<relevo_sync::http::EnrolRequest>(data) {
        let _ = store.enrol_device(&r.code, r.device, r.person);
    }
    if let Ok(request) = relevo_sync::Request::decode(data) {
        let _ = relevo_sync::respond(store, request, relevo_sync::PAGE);
    }
});
