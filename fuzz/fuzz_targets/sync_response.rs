//! A hub's answer as a device reads it.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let _ = relevo_sync::Response::decode(data);
});
