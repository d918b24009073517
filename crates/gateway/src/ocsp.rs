//! OCSP stapling (RFC 6960, RFC 6066 §8): for a certificate whose leaf names an OCSP
//! responder (Authority Information Access) and whose chain holds its issuer, the gateway asks
//! the responder itself and sends the answer with its handshakes, so clients need not ask —
//! and do not tell the responder whom they visit.
//!
//! Only the response's status is checked here; the client verifies its signature, its
//! certificate ID and its dates, as it would for a response it fetched itself.

use rustls_pki_types::CertificateDer;
use x509_parser::prelude::{FromDer as _, GeneralName, ParsedExtension, X509Certificate};

/// `id-ad-ocsp`.
const OCSP_ACCESS: &str = "1.3.6.1.5.5.7.48.1";

/// The responder URL and the request for a leaf issued by `issuer`, if the leaf names one.
pub(crate) fn request_for(leaf: &CertificateDer<'_>, issuer: &CertificateDer<'_>) -> Option<(String, Vec<u8>)> {
    let (_, leaf) = X509Certificate::from_der(leaf.as_ref()).ok()?;
    let (_, issuer) = X509Certificate::from_der(issuer.as_ref()).ok()?;
    let url = leaf.extensions().iter().find_map(|ext| match ext.parsed_extension() {
        ParsedExtension::AuthorityInfoAccess(aia) => aia.iter().find_map(|d| match &d.access_location {
            GeneralName::URI(u) if d.access_method.to_id_string() == OCSP_ACCESS => Some((*u).to_owned()),
            _ => None,
        }),
        _ => None,
    })?;
    // Plain HTTP is the norm for responders (the answer is signed); nothing else is fetched.
    if !url.starts_with("http://") {
        return None;
    }
    let sha1 = |data: &[u8]| ring::digest::digest(&ring::digest::SHA1_FOR_LEGACY_USE_ONLY, data).as_ref().to_vec();
    let name_hash = sha1(leaf.issuer().as_raw());
    let key_hash = sha1(&issuer.public_key().subject_public_key.data);
    let serial = leaf.raw_serial();
    let request = yasna::construct_der(|w| {
        // OCSPRequest { TBSRequest { requestList [ Request { CertID } ] } }
        w.write_sequence(|w| {
            w.next().write_sequence(|w| {
                w.next().write_sequence(|w| {
                    w.next().write_sequence(|w| {
                        w.next().write_sequence(|w| {
                            w.next().write_sequence(|w| {
                                w.next().write_oid(&yasna::models::ObjectIdentifier::from_slice(&[1, 3, 14, 3, 2, 26]));
                                w.next().write_null();
                            });
                            w.next().write_bytes(&name_hash);
                            w.next().write_bytes(&key_hash);
                            w.next().write_bigint_bytes(serial, true);
                        });
                    });
                });
            });
        });
    });
    Some((url, request))
}

/// Whether a responder's answer is a `successful` OCSPResponse with response bytes: the only
/// kind worth stapling.
pub(crate) fn is_successful(response: &[u8]) -> bool {
    yasna::parse_der(response, |r| {
        r.read_sequence(|r| {
            let status = r.next().read_enum()?;
            let bytes = r.read_optional(|r| r.read_tagged(yasna::Tag::context(0), |r| r.read_der()))?;
            Ok(status == 0 && bytes.is_some())
        })
    })
    .unwrap_or(false)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn status_of_responses() {
        // successful, with responseBytes.
        let ok = yasna::construct_der(|w| {
            w.write_sequence(|w| {
                w.next().write_enum(0);
                w.next().write_tagged(yasna::Tag::context(0), |w| w.write_bytes(b"x"));
            });
        });
        assert!(is_successful(&ok));
        // unauthorized (6), no bytes; and garbage.
        let refused = yasna::construct_der(|w| w.write_sequence(|w| w.next().write_enum(6)));
        assert!(!is_successful(&refused));
        assert!(!is_successful(b"\x30\x03\x0a\x01"));
    }
}
