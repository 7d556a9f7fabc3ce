//! The hub's answer to an enrolment, as a device reads it.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let _ = relevo_sync::http::decode_enrolled(data);
});
