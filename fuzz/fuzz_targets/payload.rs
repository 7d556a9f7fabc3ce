//! Every payload kind, decoded from raw bytes, and what the rules ask of
//! a decoded payload.
#![no_main]

use libfuzzer_sys::fuzz_target;
use relevo_core::payload::*;

const KINDS: &[&str] = &[
    PERSON_DECLARE, CRISIS_OPEN, REQUEST_CREATE, TASK_CREATE, ROSTER_ORG, ROSTER_SITE,
    ROSTER_PERSON, HUB_DECLARE, DEVICE_GRANT, DEVICE_REVOKE, FLOW_COUNT, ALERT_RAISE,
    ALERT_ACK, CORRIDOR_SET,
];

fuzz_target!(|data: &[u8]| {
    let Some((&pick, bytes)) = data.split_first() else {
        return;
    };
    let n = KINDS.len() + ChangeKind::ALL.len();
    let i = pick as usize % n;
    let kind = if i < KINDS.len() { KINDS[i] } else { ChangeKind::ALL[i - KINDS.len()].kind() };
    if let Ok(Some(p)) = Payload::decode(kind, bytes) {
        let _ = p.deps();
        let _ = p.crisis();
        let _ = p.encode();
    }
});
