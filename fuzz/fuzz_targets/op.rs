//! An op's fields taken from raw bytes: its shape, canonical bytes, hash
//! and signature check must never panic, whatever the values.
#![no_main]

use libfuzzer_sys::fuzz_target;
use relevo_core::{DeviceId, EntityId, Hlc, Op, OpHash, UnsignedOp};

fn take<const N: usize>(data: &mut &[u8]) -> [u8; N] {
    let mut out = [0u8; N];
    let n = N.min(data.len());
    out[..n].copy_from_slice(&data[..n]);
    *data = &data[n..];
    out
}

fuzz_target!(|data: &[u8]| {
    let mut rest = data;
    let device = DeviceId::from_bytes(take::<32>(&mut rest));
    let seq = u64::from_le_bytes(take::<8>(&mut rest));
    let wall = u64::from_le_bytes(take::<8>(&mut rest));
    let counter = u32::from_le_bytes(take::<4>(&mut rest));
    let author = EntityId::from_bytes(take::<16>(&mut rest));
    let prev = OpHash(take::<32>(&mut rest));
    let signature = take::<64>(&mut rest);
    let kind_len = take::<1>(&mut rest)[0] as usize;
    let kind_len = kind_len.min(rest.len());
    let kind = String::from_utf8_lossy(&rest[..kind_len]).into_owned();
    let payload = rest[kind_len..].to_vec();
    let op = Op {
        body: UnsignedOp {
            device,
            seq,
            hlc: Hlc::new(wall, counter),
            author,
            kind,
            payload,
            prev,
        },
        signature,
    };
    let _ = op.body.check_shape();
    let _ = relevo_core::op::canonical_bytes(&op.body);
    let _ = op.hash();
    let _ = op.verify();
    let _ = relevo_core::op::verify_batch(std::slice::from_ref(&op), &mut rand_core::OsRng);
    let _ = relevo_core::payload::Payload::decode(&op.body.kind, &op.body.payload);
});
