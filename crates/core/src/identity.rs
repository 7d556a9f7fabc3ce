//! Device identity: an ed25519 key pair per device.
//!
//! The device id *is* the public key, so any op can be checked for
//! authenticity with nothing but the op itself.
//!
//! Two replicas must never disagree on whether an op is genuine, and a
//! replica checks a page of ops as one batch but a lone op by itself. So
//! signatures are checked under the ZIP 215 rules (`ed25519-zebra`), which
//! are defined so that batch and single checks give the same answer for
//! every input, including the malleable and small-order edge cases where
//! other Ed25519 verifiers differ. A device id that is a small-order point
//! (a "weak" key, for which anyone could make signatures) is refused
//! outright. Signing is plain RFC 8032 Ed25519 (`ed25519-dalek`).

use ed25519_dalek::{Signer, SigningKey, VerifyingKey};
use ed25519_zebra::VerificationKey;
use serde::{Deserialize, Deserializer, Serialize, Serializer};
use sha2::{Digest, Sha256};
use specta::Type;
use std::fmt;
use std::str::FromStr;

/// A device's public key, which is also its id. Shown as 64 hex digits.
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Type)]
#[specta(type = String)]
pub struct DeviceId([u8; 32]);

/// Crockford's base32 alphabet: no I, L, O or U, so a tag survives being read
/// over a bad phone line.
const CROCKFORD: &[u8; 32] = b"0123456789ABCDEFGHJKMNPQRSTVWXYZ";

impl DeviceId {
    pub const LEN: usize = 32;

    pub fn from_bytes(bytes: [u8; 32]) -> Self {
        DeviceId(bytes)
    }

    pub fn as_bytes(&self) -> &[u8; 32] {
        &self.0
    }

    /// Six Crockford base32 characters (30 bits) from a hash of the key: short
    /// enough to read aloud in a reference. With a thousand devices in one
    /// crisis the chance that two share a tag is about one in two thousand;
    /// the full device id is always kept beside it.
    pub fn tag(&self) -> String {
        let digest = Sha256::digest(self.0);
        let bits = u32::from_be_bytes([digest[0], digest[1], digest[2], digest[3]]) >> 2;
        (0..6)
            .map(|i| CROCKFORD[((bits >> (25 - 5 * i)) & 0x1f) as usize] as char)
            .collect()
    }

    /// Checks `signature` over `message` with this device's key.
    pub fn verify(&self, message: &[u8], signature: &[u8; 64]) -> Result<(), SignatureError> {
        verify_with(&self.verifying_key()?, message, signature)
    }

    /// The key in the form signatures are checked with, refusing ids that
    /// are not points on the curve or are weak (small-order) keys.
    /// Decompressing it costs about as much as half a check: a page of one
    /// device's ops does it once.
    pub fn verifying_key(&self) -> Result<VerificationKey, SignatureError> {
        let weak = VerifyingKey::from_bytes(&self.0)
            .map(|k| k.is_weak())
            .unwrap_or(true);
        if weak {
            return Err(SignatureError::BadKey);
        }
        VerificationKey::try_from(self.0).map_err(|_| SignatureError::BadKey)
    }
}

/// Checks `signature` over `message` with an already decompressed key.
pub fn verify_with(
    key: &VerificationKey,
    message: &[u8],
    signature: &[u8; 64],
) -> Result<(), SignatureError> {
    key.verify(&ed25519_zebra::Signature::from_bytes(signature), message)
        .map_err(|_| SignatureError::Mismatch)
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum SignatureError {
    #[error("the device id is not a valid ed25519 public key (or is a weak, small-order one)")]
    BadKey,
    #[error("the signature does not match the operation and the device key")]
    Mismatch,
}

impl fmt::Display for DeviceId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&hex::encode(self.0))
    }
}

impl fmt::Debug for DeviceId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "DeviceId({})", self.tag())
    }
}

#[derive(Debug, thiserror::Error)]
#[error("a device id is 64 hex digits")]
pub struct ParseDeviceIdError;

impl FromStr for DeviceId {
    type Err = ParseDeviceIdError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let mut bytes = [0u8; 32];
        hex::decode_to_slice(s, &mut bytes).map_err(|_| ParseDeviceIdError)?;
        Ok(DeviceId(bytes))
    }
}

impl Serialize for DeviceId {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&self.to_string())
    }
}

impl<'de> Deserialize<'de> for DeviceId {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = String::deserialize(d)?;
        s.parse().map_err(serde::de::Error::custom)
    }
}

/// A device's signing key. Never printed, never serialised by accident.
#[derive(Clone)]
pub struct DeviceKey(SigningKey);

impl DeviceKey {
    /// From 32 secret bytes: freshly random ones (the caller reads the OS
    /// source) or ones loaded from the device's database.
    pub fn from_secret(secret: [u8; 32]) -> Self {
        DeviceKey(SigningKey::from_bytes(&secret))
    }

    pub fn secret(&self) -> [u8; 32] {
        self.0.to_bytes()
    }

    pub fn device_id(&self) -> DeviceId {
        DeviceId(self.0.verifying_key().to_bytes())
    }

    pub fn sign(&self, message: &[u8]) -> [u8; 64] {
        self.0.sign(message).to_bytes()
    }
}

impl fmt::Debug for DeviceKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "DeviceKey({:?}, secret hidden)", self.device_id())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sign_and_verify() {
        let key = DeviceKey::from_secret([7; 32]);
        let sig = key.sign(b"hello");
        key.device_id()
            .verify(b"hello", &sig)
            .expect("own signature verifies");
        assert_eq!(
            key.device_id().verify(b"hellO", &sig),
            Err(SignatureError::Mismatch)
        );
        let other = DeviceKey::from_secret([8; 32]);
        assert_eq!(
            other.device_id().verify(b"hello", &sig),
            Err(SignatureError::Mismatch)
        );
    }

    #[test]
    fn tag_is_six_unambiguous_characters() {
        let tag = DeviceKey::from_secret([1; 32]).device_id().tag();
        assert_eq!(tag.len(), 6);
        assert!(tag.bytes().all(|b| CROCKFORD.contains(&b)), "{tag}");
        assert_ne!(tag, DeviceKey::from_secret([2; 32]).device_id().tag());
    }

    #[test]
    fn debug_hides_the_secret() {
        let key = DeviceKey::from_secret([9; 32]);
        let shown = format!("{key:?}");
        assert!(!shown.contains(&hex::encode([9u8; 32])));
        assert!(shown.contains("secret hidden"));
    }

    #[test]
    fn device_id_text_round_trip() {
        let id = DeviceKey::from_secret([3; 32]).device_id();
        assert_eq!(id.to_string().parse::<DeviceId>().expect("parses"), id);
        assert!("xyz".parse::<DeviceId>().is_err());
    }
}
