//! The hub's signed head: its statement of everything its log holds.
//!
//! For every device the hub holds ops of, the head names the highest seq
//! held and the hash of that op; since each op names its predecessor's hash,
//! that one hash commits to the device's whole history up to it. The root
//! hashes the moment and those entries, and the hub signs the root. Devices
//! keep every head they receive: a reviewer can later recompute each root
//! from the ops a device holds, so a hub that ever presented one history and
//! then another (rewrote or dropped an op it had acknowledged) is caught by
//! its own signature.

use crate::identity::{DeviceId, DeviceKey, SignatureError};
use crate::op::OpHash;
use sha2::{Digest, Sha256};

/// Marks the layout of the bytes hashed into a root.
pub const HEAD_TAG: &[u8] = b"relevo/hub-head/v1\0";

/// One device's place in the hub's log.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct HeadEntry {
    pub device: DeviceId,
    pub seq: u64,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct HubHead {
    /// When the hub made it (ms since 1970, the hub's clock).
    pub at_ms: u64,
    /// Sorted by device, one per device.
    pub entries: Vec<HeadEntry>,
    pub root: [u8; 32],
    pub signature: [u8; 64],
}

/// The root over `at_ms` and each entry with the hash of its op. `hashes`
/// must be in the order of `entries` (sorted by device).
pub fn root(at_ms: u64, entries: &[HeadEntry], hashes: &[OpHash]) -> [u8; 32] {
    let mut h = Sha256::new();
    h.update(HEAD_TAG);
    h.update(at_ms.to_be_bytes());
    h.update((entries.len() as u64).to_be_bytes());
    for (e, hash) in entries.iter().zip(hashes) {
        h.update(e.device.as_bytes());
        h.update(e.seq.to_be_bytes());
        h.update(hash.0);
    }
    h.finalize().into()
}

impl HubHead {
    /// The hub signs its head. `entries` and `hashes` pair up; the entries
    /// are sorted here.
    pub fn sign(key: &DeviceKey, at_ms: u64, mut held: Vec<(HeadEntry, OpHash)>) -> HubHead {
        held.sort_by_key(|(e, _)| e.device);
        let (entries, hashes): (Vec<_>, Vec<_>) = held.into_iter().unzip();
        let root = root(at_ms, &entries, &hashes);
        HubHead {
            at_ms,
            signature: key.sign(&root),
            entries,
            root,
        }
    }

    /// Is the root signed by `hub`?
    pub fn verify(&self, hub: &DeviceId) -> Result<(), SignatureError> {
        if !self.entries.windows(2).all(|w| w[0].device < w[1].device) {
            return Err(SignatureError::Mismatch);
        }
        hub.verify(&self.root, &self.signature)
    }

    /// Ops the head accounts for.
    pub fn count(&self) -> u64 {
        self.entries.iter().map(|e| e.seq).sum()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_head_is_signed_by_its_hub_and_commits_to_every_entry() {
        let hub = DeviceKey::from_secret([1; 32]);
        let a = DeviceKey::from_secret([2; 32]).device_id();
        let b = DeviceKey::from_secret([3; 32]).device_id();
        let held = vec![
            (HeadEntry { device: b, seq: 4 }, OpHash([7; 32])),
            (HeadEntry { device: a, seq: 9 }, OpHash([8; 32])),
        ];
        let head = HubHead::sign(&hub, 1_000, held);
        head.verify(&hub.device_id()).expect("signed by the hub");
        assert_eq!(head.count(), 13);
        assert!(head.entries[0].device < head.entries[1].device);
        let other = DeviceKey::from_secret([4; 32]).device_id();
        assert!(head.verify(&other).is_err(), "not signed by another key");
        // A different op at an entry gives a different root.
        let hashes = [OpHash([8; 32]), OpHash([7; 32])];
        let mut flipped = hashes;
        flipped[1].0[0] ^= 1;
        let (x, y) = if a < b {
            (hashes, flipped)
        } else {
            (flipped, hashes)
        };
        assert_ne!(
            root(1_000, &head.entries, &x),
            root(1_000, &head.entries, &y)
        );
    }
}
