//! What a device signs to enrol: proof that whoever spends an invitation
//! code holds the private key of the device it names, for this hub alone.

use crate::identity::{DeviceId, SignatureError};
use crate::ids::EntityId;

/// Marks an enrolment's signed bytes, so that they can never be taken for
/// an op's (which start with `relevo/op/v1`).
pub const ENROL_TAG: &[u8] = b"relevo/enrol/v1\0";

/// Invitation codes are read aloud and typed: case and dashes do not count.
pub fn normalise_code(code: &str) -> String {
    code.chars()
        .filter(|c| c.is_ascii_alphanumeric())
        .map(|c| c.to_ascii_lowercase())
        .collect()
}

/// The bytes a device signs to enrol with `hub` using `code`:
///
/// ```text
/// "relevo/enrol/v1\0" | hub (32) | device (32) | person (16) | normalised code
/// ```
pub fn enrolment_message(
    hub: &DeviceId,
    device: &DeviceId,
    person: &EntityId,
    code: &str,
) -> Vec<u8> {
    let code = normalise_code(code);
    let mut out = Vec::with_capacity(ENROL_TAG.len() + 80 + code.len());
    out.extend_from_slice(ENROL_TAG);
    out.extend_from_slice(hub.as_bytes());
    out.extend_from_slice(device.as_bytes());
    out.extend_from_slice(person.as_bytes());
    out.extend_from_slice(code.as_bytes());
    out
}

/// Does `signature` prove that `device`'s key signed this enrolment?
pub fn verify_enrolment(
    hub: &DeviceId,
    device: &DeviceId,
    person: &EntityId,
    code: &str,
    signature: &[u8; 64],
) -> Result<(), SignatureError> {
    device.verify(&enrolment_message(hub, device, person, code), signature)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::DeviceKey;

    #[test]
    fn only_the_named_key_for_this_hub_and_code_verifies() {
        let hub = DeviceKey::from_secret([1; 32]).device_id();
        let key = DeviceKey::from_secret([2; 32]);
        let other = DeviceKey::from_secret([3; 32]);
        let person = EntityId::from_bytes([4; 16]);
        let device = key.device_id();
        let sig = key.sign(&enrolment_message(&hub, &device, &person, "3f9a1-0bc2d"));
        assert!(
            verify_enrolment(&hub, &device, &person, "3F9A10BC2D", &sig).is_ok(),
            "case and dashes do not count"
        );
        assert!(
            verify_enrolment(&hub, &device, &person, "3f9a1-0bc2e", &sig).is_err(),
            "another code"
        );
        assert!(
            verify_enrolment(&other.device_id(), &device, &person, "3f9a1-0bc2d", &sig).is_err(),
            "another hub"
        );
        let forged = other.sign(&enrolment_message(&hub, &device, &person, "3f9a1-0bc2d"));
        assert!(
            verify_enrolment(&hub, &device, &person, "3f9a1-0bc2d", &forged).is_err(),
            "signed by another key"
        );
    }
}
