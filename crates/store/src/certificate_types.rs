//! TLS certificates as the store keeps them. The store knows shapes, not meaning: the chain is
//! PEM text it does not parse, and the private key is a KMS envelope it cannot open.

use std::fmt;

/// How a certificate came to the gateway.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum CertificateSource {
    /// Ordered by the gateway from an ACME certificate authority, and renewed by it.
    Acme,
    /// Supplied by an operator; the gateway does not renew it.
    Import,
}

/// A TLS certificate with its sealed private key, one per domain name.
#[derive(Clone, PartialEq, Eq)]
pub struct StoredCertificate {
    /// The domain name the certificate is for, e.g. `api.example.com` or `*.example.com`.
    /// Unique.
    pub name: String,
    /// The certificate chain, PEM, leaf first.
    pub cert_pem: String,
    /// The private key, sealed by the KMS (text form).
    pub key_enc: String,
    /// Obtained through ACME or imported.
    pub source: CertificateSource,
    /// The issuer DN of the leaf, for the inventory.
    pub issuer: String,
    /// The leaf's expiry, ms since the Unix epoch.
    pub not_after_ms: i64,
    /// When this certificate was written (issuance, renewal or import), ms since the Unix epoch.
    pub updated_at_ms: i64,
}

// === impl CertificateSource ===

impl CertificateSource {
    /// `acme` or `import`.
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::Acme => "acme",
            Self::Import => "import",
        }
    }

    /// The source named by [`Self::as_str`].
    pub fn parse(s: &str) -> Option<Self> {
        [Self::Acme, Self::Import].into_iter().find(|k| k.as_str() == s)
    }
}

impl fmt::Debug for StoredCertificate {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("StoredCertificate")
            .field("name", &self.name)
            .field("cert_pem", &self.cert_pem)
            .field("key_enc", &"…")
            .field("source", &self.source)
            .field("issuer", &self.issuer)
            .field("not_after_ms", &self.not_after_ms)
            .field("updated_at_ms", &self.updated_at_ms)
            .finish()
    }
}
