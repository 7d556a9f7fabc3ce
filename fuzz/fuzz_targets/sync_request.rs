//! A sync request as the hub reads it: decoded, then answered by a hub
//! store in memory. No input may panic or allocate without bound.
#![no_main]

use libfuzzer_sys::fuzz_target;
use relevo_store::Store;
use std::sync::Mutex;

static HUB: Mutex<Option<Store>> = Mutex::new(None);

fuzz_target!(|data: &[u8]| {
    let Ok(request) = relevo_sync::Request::decode(data) else {
        return;
    };
    let mut hub = HUB.lock().unwrap_or_else(|p| p.into_inner());
    let store = hub.get_or_insert_with(|| {
        let mut s = Store::open_in_memory().expect("store");
        s.init_hub("fuzz").expect("hub");
        s
    });
    let _ = relevo_sync::respond(store, request, relevo_sync::PAGE);
});
