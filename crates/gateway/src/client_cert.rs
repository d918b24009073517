//! The client certificate of a mutual-TLS connection, in the forms API Gateway passes on
//! (reference §10.1): PEM, subject and issuer DN (`C=US,O=Example,CN=alice`), serial
//! (`a1:b2:…`), validity (`May 28 12:30:02 2019 GMT`); plus its SHA-256 fingerprint and its DNS
//! and URI subject alternative names. Parsed once per connection, after rustls verified it.

use rustls_pki_types::CertificateDer;
use sha2::{Digest as _, Sha256};
use x509_parser::prelude::{FromDer as _, GeneralName, X509Certificate, X509Name};

/// A verified client certificate.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ClientCert {
    /// PEM of the leaf certificate.
    pub pem: String,
    /// Subject DN.
    pub subject_dn: String,
    /// Issuer DN.
    pub issuer_dn: String,
    /// Serial number, lower-case hex pairs joined by `:`.
    pub serial: String,
    /// Not valid before, `May 28 12:30:02 2019 GMT`.
    pub not_before: String,
    /// Not valid after.
    pub not_after: String,
    /// SHA-256 of the DER, lower-case hex.
    pub fingerprint: String,
    /// DNS and URI subject alternative names.
    pub sans: Vec<String>,
}

// === impl ClientCert ===

impl ClientCert {
    /// Reads the leaf certificate; `None` if it does not parse (rustls has already accepted it,
    /// so that does not happen with a verified chain).
    pub fn parse(der: &CertificateDer<'_>) -> Option<Self> {
        let (_, cert) = X509Certificate::from_der(der.as_ref()).ok()?;
        let sans = cert
            .subject_alternative_name()
            .ok()
            .flatten()
            .map(|ext| {
                ext.value
                    .general_names
                    .iter()
                    .filter_map(|n| match n {
                        GeneralName::DNSName(s) | GeneralName::URI(s) => Some((*s).to_owned()),
                        _ => None,
                    })
                    .collect()
            })
            .unwrap_or_default();
        Some(Self {
            pem: pem(der.as_ref()),
            subject_dn: dn(cert.subject()),
            issuer_dn: dn(cert.issuer()),
            serial: cert.raw_serial().iter().map(|b| format!("{b:02x}")).collect::<Vec<_>>().join(":"),
            not_before: openssl_time(cert.validity().not_before.timestamp()),
            not_after: openssl_time(cert.validity().not_after.timestamp()),
            fingerprint: hex::encode(Sha256::digest(der.as_ref())),
            sans,
        })
    }
}

/// A certificate's issuer DN and expiry (milliseconds since the epoch), for the inventory.
pub(crate) fn issuer_and_expiry(der: &CertificateDer<'_>) -> Option<(String, i64)> {
    let (_, cert) = X509Certificate::from_der(der.as_ref()).ok()?;
    Some((dn(cert.issuer()), cert.validity().not_after.timestamp().saturating_mul(1000)))
}

/// `C=US,O=Example,CN=alice`, in the certificate's own order.
fn dn(name: &X509Name<'_>) -> String {
    let registry = x509_parser::objects::oid_registry();
    let mut parts = Vec::new();
    for rdn in name.iter_rdn() {
        for attr in rdn.iter() {
            let key = x509_parser::objects::oid2abbrev(attr.attr_type(), registry)
                .map_or_else(|_| attr.attr_type().to_id_string(), str::to_owned);
            let value = attr.as_str().map_or_else(|_| hex::encode(attr.attr_value().data), str::to_owned);
            parts.push(format!("{key}={value}"));
        }
    }
    parts.join(",")
}

/// OpenSSL's date form, as API Gateway sends it: `May 28 12:30:02 2019 GMT`.
fn openssl_time(epoch_secs: i64) -> String {
    const FORMAT: &[time::format_description::BorrowedFormatItem<'_>] =
        time::macros::format_description!("[month repr:short] [day padding:space] [hour]:[minute]:[second] [year] GMT");
    time::OffsetDateTime::from_unix_timestamp(epoch_secs).ok().and_then(|t| t.format(FORMAT).ok()).unwrap_or_default()
}

fn pem(der: &[u8]) -> String {
    use base64::Engine as _;
    let b64 = base64::engine::general_purpose::STANDARD.encode(der);
    let mut out = String::from("-----BEGIN CERTIFICATE-----\n");
    for line in b64.as_bytes().chunks(64) {
        out.push_str(&String::from_utf8_lossy(line));
        out.push('\n');
    }
    out.push_str("-----END CERTIFICATE-----\n");
    out
}

#[cfg(test)]
mod tests {
    use super::ClientCert;

    #[test]
    fn fields_in_api_gateway_forms() {
        let mut params =
            rcgen::CertificateParams::new(vec!["svc.example.com".into()]).unwrap_or_else(|e| panic!("{e}"));
        params.distinguished_name = rcgen::DistinguishedName::new();
        params.distinguished_name.push(rcgen::DnType::CountryName, "US");
        params.distinguished_name.push(rcgen::DnType::OrganizationName, "Example");
        params.distinguished_name.push(rcgen::DnType::CommonName, "alice");
        params.serial_number = Some(rcgen::SerialNumber::from_slice(&[0x0a, 0x1b, 0xff]));
        params.not_before = rcgen::date_time_ymd(2019, 5, 28);
        params.not_after = rcgen::date_time_ymd(2031, 8, 5);
        let key = rcgen::KeyPair::generate().unwrap_or_else(|e| panic!("{e}"));
        let cert = params.self_signed(&key).unwrap_or_else(|e| panic!("{e}"));
        let c = ClientCert::parse(cert.der()).unwrap_or_else(|| panic!("does not parse"));
        assert_eq!(c.subject_dn, "C=US,O=Example,CN=alice");
        assert_eq!(c.issuer_dn, c.subject_dn);
        assert_eq!(c.serial, "0a:1b:ff");
        assert_eq!(c.not_before, "May 28 00:00:00 2019 GMT");
        assert_eq!(c.not_after, "Aug  5 00:00:00 2031 GMT");
        assert_eq!(c.sans, vec!["svc.example.com".to_owned()]);
        assert!(c.pem.starts_with("-----BEGIN CERTIFICATE-----\n") && c.fingerprint.len() == 64);
    }
}
