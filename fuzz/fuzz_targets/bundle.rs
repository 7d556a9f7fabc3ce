//! A bundle file as `relevo bundle import` reads it, on a device in memory.
#![no_main]

use libfuzzer_sys::fuzz_target;
use relevo_store::Store;
use std::sync::Mutex;

static DEVICE: Mutex<Option<Store>> = Mutex::new(None);

fuzz_target!(|data: &[u8]| {
    let mut device = DEVICE.lock().unwrap_or_else(|p| p.into_inner());
    let store = device.get_or_insert_with(|| Store::open_in_memory().expect("store"));
    let _ = relevo_sync::bundle::import(store, data);
});
