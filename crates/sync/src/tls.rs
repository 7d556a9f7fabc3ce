//! TLS to a hub whose certificate was pinned at enrolment.
//!
//! A field office's hub has no certificate authority: it serves a
//! self-signed certificate, and the invitation carries that certificate's
//! SHA-256 fingerprint (`CODE#sha256:HEX`). The device then trusts exactly
//! that certificate: the handshake succeeds only when the hub presents it
//! and proves it holds its key. Names and expiry are not checked: the pin
//! is the hub's identity, and a field office's address changes with its
//! router. A hub behind a certificate authority is reached without a pin,
//! through the usual web roots.
//!
//! The connector plugs into ureq's transport chain (its `unversioned` API,
//! held at the exact ureq version in `Cargo.lock`).

use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::crypto::CryptoProvider;
use rustls::pki_types::{CertificateDer, ServerName, UnixTime};
use rustls::{ClientConfig, ClientConnection, DigitallySignedStruct, SignatureScheme, StreamOwned};
use sha2::{Digest, Sha256};
use std::io::{Read, Write};
use std::sync::{Arc, Mutex};
use ureq::unversioned::transport::{
    Buffers, ConnectionDetails, Connector, Either, LazyBuffers, NextTimeout, Transport,
    TransportAdapter,
};

/// A certificate's SHA-256 fingerprint.
pub type Pin = [u8; 32];

/// The fingerprint of a DER certificate.
pub fn fingerprint(der: &[u8]) -> Pin {
    Sha256::digest(der).into()
}

/// How a pin is written: `sha256:` and 64 hex digits.
pub fn show_pin(pin: &Pin) -> String {
    format!("sha256:{}", hex::encode(pin))
}

/// Reads a pin written as `sha256:HEX`, `HEX`, or hex with colons (as
/// `openssl x509 -fingerprint -sha256` prints it).
pub fn parse_pin(text: &str) -> Option<Pin> {
    let text = text.trim();
    let hex_part = text
        .strip_prefix("sha256:")
        .or_else(|| text.strip_prefix("SHA256:"))
        .unwrap_or(text)
        .replace(':', "");
    let mut pin = [0u8; 32];
    hex::decode_to_slice(hex_part, &mut pin).ok()?;
    Some(pin)
}

/// Trusts one certificate, by its fingerprint. What the hub presented when
/// it did not match is kept, to be named in the error.
#[derive(Debug)]
struct PinnedVerifier {
    pin: Pin,
    provider: Arc<CryptoProvider>,
    mismatch: Arc<Mutex<Option<Pin>>>,
}

impl ServerCertVerifier for PinnedVerifier {
    fn verify_server_cert(
        &self,
        end_entity: &CertificateDer<'_>,
        _intermediates: &[CertificateDer<'_>],
        _server_name: &ServerName<'_>,
        _ocsp_response: &[u8],
        _now: UnixTime,
    ) -> Result<ServerCertVerified, rustls::Error> {
        let seen = fingerprint(end_entity.as_ref());
        if seen == self.pin {
            Ok(ServerCertVerified::assertion())
        } else {
            if let Ok(mut slot) = self.mismatch.lock() {
                *slot = Some(seen);
            }
            Err(rustls::Error::General(format!(
                "the hub presented the certificate {}, not the pinned {}",
                show_pin(&seen),
                show_pin(&self.pin)
            )))
        }
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls12_signature(
            message,
            cert,
            dss,
            &self.provider.signature_verification_algorithms,
        )
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls13_signature(
            message,
            cert,
            dss,
            &self.provider.signature_verification_algorithms,
        )
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.provider
            .signature_verification_algorithms
            .supported_schemes()
    }
}

/// Wraps the TCP transport in TLS that trusts only the pinned certificate.
#[derive(Debug)]
pub(crate) struct PinnedTls {
    config: Arc<ClientConfig>,
}

impl PinnedTls {
    /// The connector, and the slot where a mismatching certificate's
    /// fingerprint lands.
    pub(crate) fn new(pin: Pin) -> (PinnedTls, Arc<Mutex<Option<Pin>>>) {
        let provider = Arc::new(rustls::crypto::ring::default_provider());
        let mismatch = Arc::new(Mutex::new(None));
        let verifier = PinnedVerifier {
            pin,
            provider: provider.clone(),
            mismatch: mismatch.clone(),
        };
        let config = ClientConfig::builder_with_provider(provider)
            .with_safe_default_protocol_versions()
            .expect("rustls's default protocol versions")
            .dangerous()
            .with_custom_certificate_verifier(Arc::new(verifier))
            .with_no_client_auth();
        (
            PinnedTls {
                config: Arc::new(config),
            },
            mismatch,
        )
    }
}

impl<In: Transport> Connector<In> for PinnedTls {
    type Out = Either<In, PinnedTransport>;

    fn connect(
        &self,
        details: &ConnectionDetails,
        chained: Option<In>,
    ) -> Result<Option<Self::Out>, ureq::Error> {
        let Some(transport) = chained else {
            return Ok(None);
        };
        if !details.needs_tls() || transport.is_tls() {
            return Ok(Some(Either::A(transport)));
        }
        // The name is not checked (the pin is), but the handshake sends it.
        let host = details.uri.host().unwrap_or_default();
        let host = host.trim_start_matches('[').trim_end_matches(']');
        let name = ServerName::try_from(host.to_owned())
            .or_else(|_| ServerName::try_from("relevo-hub".to_owned()))
            .map_err(|_| ureq::Error::Tls("no usable server name"))?;
        let mut conn = ClientConnection::new(self.config.clone(), name)?;
        let mut sock = TransportAdapter::new(transport.boxed(), details.current_time.clone());
        sock.set_timeout(details.timeout);
        conn.complete_io(&mut sock)?;
        let buffers = LazyBuffers::new(
            details.config.input_buffer_size(),
            details.config.output_buffer_size(),
        );
        Ok(Some(Either::B(PinnedTransport {
            buffers,
            stream: StreamOwned { conn, sock },
        })))
    }
}

/// A TLS connection to a pinned hub.
pub(crate) struct PinnedTransport {
    buffers: LazyBuffers,
    stream: StreamOwned<ClientConnection, TransportAdapter>,
}

impl std::fmt::Debug for PinnedTransport {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PinnedTransport").finish_non_exhaustive()
    }
}

impl Transport for PinnedTransport {
    fn buffers(&mut self) -> &mut dyn Buffers {
        &mut self.buffers
    }

    fn transmit_output(&mut self, amount: usize, timeout: NextTimeout) -> Result<(), ureq::Error> {
        self.stream.get_mut().set_timeout(timeout);
        let output = &self.buffers.output()[..amount];
        self.stream.write_all(output)?;
        Ok(())
    }

    fn await_input(&mut self, timeout: NextTimeout) -> Result<bool, ureq::Error> {
        self.stream.get_mut().set_timeout(timeout);
        let input = self.buffers.input_append_buf();
        let amount = self.stream.read(input)?;
        self.buffers.input_appended(amount);
        Ok(amount > 0)
    }

    fn is_open(&mut self) -> bool {
        self.stream.get_mut().get_mut().is_open()
    }

    fn is_tls(&self) -> bool {
        true
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pins_read_in_the_forms_people_paste() {
        let pin = [0xab; 32];
        let shown = show_pin(&pin);
        assert_eq!(parse_pin(&shown), Some(pin));
        assert_eq!(parse_pin(&hex::encode(pin)), Some(pin));
        let openssl = vec!["AB"; 32].join(":");
        assert_eq!(parse_pin(&format!("SHA256:{openssl}")), Some(pin));
        assert_eq!(parse_pin("sha256:abcd"), None);
        assert_eq!(parse_pin(""), None);
    }
}
