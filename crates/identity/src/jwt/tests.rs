// Tests may unwrap: a panic is the failure report.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine as _;
use ring::rand::SystemRandom;
use ring::signature::{self as sig, EcdsaKeyPair, Ed25519KeyPair, KeyPair as _, RsaKeyPair};
use serde_json::{json, Value};

use super::{KeySet, KeysError, Policy, Rejection, Token};

const ISS: &str = "https://idp.example.com/pool-a";
const NOW: u64 = 1_800_000_000;

fn b64(bytes: &[u8]) -> String {
    URL_SAFE_NO_PAD.encode(bytes)
}

/// `header.payload` of these JSON values.
fn unsigned(header: &Value, claims: &Value) -> String {
    format!("{}.{}", b64(header.to_string().as_bytes()), b64(claims.to_string().as_bytes()))
}

fn claims() -> Value {
    json!({"iss": ISS, "sub": "u-1", "aud": "client-1", "exp": NOW + 300, "iat": NOW - 10, "token_use": "id", "scope": "openid pets/read"})
}

fn policy() -> Policy {
    Policy {
        issuers: vec![ISS.into()],
        audiences: vec!["client-1".into()],
        token_use: None,
        clock_skew_s: 60,
        required: vec![],
    }
}

/// A P-256 key: its signer, and its JWK with `kid`.
struct Es256 {
    pair: EcdsaKeyPair,
    kid: &'static str,
}

impl Es256 {
    fn new(kid: &'static str) -> Self {
        let rng = SystemRandom::new();
        let pkcs8 = EcdsaKeyPair::generate_pkcs8(&sig::ECDSA_P256_SHA256_FIXED_SIGNING, &rng).unwrap();
        let pair = EcdsaKeyPair::from_pkcs8(&sig::ECDSA_P256_SHA256_FIXED_SIGNING, pkcs8.as_ref(), &rng).unwrap();
        Self { pair, kid }
    }

    fn jwk(&self) -> Value {
        let point = self.pair.public_key().as_ref();
        json!({"kty": "EC", "crv": "P-256", "use": "sig", "kid": self.kid, "x": b64(&point[1..33]), "y": b64(&point[33..])})
    }

    fn sign_with(&self, header: &Value, claims: &Value) -> String {
        let signed = unsigned(header, claims);
        let signature = self.pair.sign(&SystemRandom::new(), signed.as_bytes()).unwrap();
        format!("{signed}.{}", b64(signature.as_ref()))
    }

    fn sign(&self, claims: &Value) -> String {
        self.sign_with(&json!({"alg": "ES256", "kid": self.kid, "typ": "JWT"}), claims)
    }
}

fn keys(jwks: &[Value]) -> KeySet {
    KeySet::parse(json!({ "keys": jwks }).to_string().as_bytes()).unwrap()
}

/// Parse, verify and check, as an authorizer does.
fn accept(keys: &KeySet, token: &str, scopes: &[String]) -> Result<super::Claims, Rejection> {
    let parsed = Token::parse(token)?;
    keys.verify(&parsed)?;
    policy().check(parsed.claims, NOW, scopes)
}

#[test]
fn a_good_token_passes_with_its_claims() {
    let key = Es256::new("k1");
    let set = keys(&[key.jwk()]);
    let claims = accept(&set, &key.sign(&claims()), &[]).unwrap();
    assert_eq!(claims.text("sub").as_deref(), Some("u-1"));
    assert_eq!(claims.scopes(), vec!["openid", "pets/read"]);
    assert_eq!(claims.expires_s(), NOW + 300);
}

#[test]
fn token_attacks_are_refused() {
    let key = Es256::new("k1");
    let set = keys(&[key.jwk()]);
    let good = key.sign(&claims());
    let (head, rest) = good.split_once('.').unwrap();
    let (payload, signature) = rest.split_once('.').unwrap();

    // alg: none, with and without a signature.
    let none = unsigned(&json!({"alg": "none"}), &claims());
    assert_eq!(accept(&set, &format!("{none}."), &[]).unwrap_err(), Rejection::Algorithm);
    assert_eq!(accept(&set, &format!("{none}.{signature}"), &[]).unwrap_err(), Rejection::Algorithm);
    // HS256 "signed" with the public key, the classic key-confusion attack.
    let hs = unsigned(&json!({"alg": "HS256", "kid": "k1"}), &claims());
    let mac = ring::hmac::sign(
        &ring::hmac::Key::new(ring::hmac::HMAC_SHA256, key.jwk().to_string().as_bytes()),
        hs.as_bytes(),
    );
    assert_eq!(accept(&set, &format!("{hs}.{}", b64(mac.as_ref())), &[]).unwrap_err(), Rejection::Algorithm);
    // Headers that point at the attacker's own key.
    for extra in [
        json!({"jku": "https://evil.example/jwks"}),
        json!({"x5u": "https://evil.example/c"}),
        json!({"jwk": key.jwk()}),
        json!({"crit": ["exp"]}),
    ] {
        let mut header = json!({"alg": "ES256", "kid": "k1"});
        header.as_object_mut().unwrap().extend(extra.as_object().unwrap().clone());
        assert_eq!(accept(&set, &key.sign_with(&header, &claims()), &[]).unwrap_err(), Rejection::Header, "{header}");
    }
    // A tampered payload under the original signature.
    let mut raised = claims();
    raised["sub"] = json!("admin");
    let tampered = format!("{head}.{}.{signature}", b64(raised.to_string().as_bytes()));
    assert_eq!(accept(&set, &tampered, &[]).unwrap_err(), Rejection::Signature);
    // The right kid, another key (a token of another pool that reuses the kid).
    let other = Es256::new("k1");
    assert_eq!(accept(&set, &other.sign(&claims()), &[]).unwrap_err(), Rejection::Signature);
    // An unknown kid.
    assert_eq!(accept(&set, &Es256::new("k9").sign(&claims()), &[]).unwrap_err(), Rejection::UnknownKey);
    // Not three parts, padding, junk.
    for bad in [
        format!("{head}.{payload}"),
        format!("{good}.x"),
        format!("{head}=.{payload}.{signature}"),
        "a.b.c".to_owned(),
        String::new(),
    ] {
        assert_eq!(accept(&set, &bad, &[]).unwrap_err(), Rejection::Malformed, "{bad}");
    }
    let array_payload = key.sign_with(&json!({"alg": "ES256", "kid": "k1"}), &json!([1, 2]));
    assert_eq!(accept(&set, &array_payload, &[]).unwrap_err(), Rejection::Malformed);
    assert_eq!(accept(&set, &"a".repeat(super::MAX_TOKEN_LEN + 1), &[]).unwrap_err(), Rejection::Malformed);
}

#[test]
fn claims_are_checked_in_aws_order() {
    let key = Es256::new("k1");
    let set = keys(&[key.jwk()]);
    let with = |change: &dyn Fn(&mut Value)| {
        let mut c = claims();
        change(&mut c);
        accept(&set, &key.sign(&c), &[])
    };
    assert_eq!(with(&|c| c["iss"] = json!("https://idp.example.com/pool-b")).unwrap_err(), Rejection::Issuer);
    assert_eq!(with(&|c| c["aud"] = json!("client-2")).unwrap_err(), Rejection::Audience);
    assert!(with(&|c| c["aud"] = json!(["x", "client-1"])).is_ok());
    // Without `aud`, `client_id` is the audience (Cognito access tokens).
    assert!(with(&|c| {
        c.as_object_mut().unwrap().remove("aud");
        c["client_id"] = json!("client-1");
    })
    .is_ok());
    assert_eq!(
        with(&|c| {
            c.as_object_mut().unwrap().remove("aud");
            c["client_id"] = json!("client-2");
        })
        .unwrap_err(),
        Rejection::Audience
    );
    // Expiry and not-before, with 60 s of clock skew either way.
    assert_eq!(with(&|c| c["exp"] = json!(NOW - 61)).unwrap_err(), Rejection::Expired);
    assert!(with(&|c| c["exp"] = json!(NOW - 59)).is_ok());
    assert_eq!(
        with(&|c| {
            c.as_object_mut().unwrap().remove("exp");
        })
        .unwrap_err(),
        Rejection::Expired
    );
    assert_eq!(with(&|c| c["nbf"] = json!(NOW + 61)).unwrap_err(), Rejection::NotYetValid);
    assert_eq!(with(&|c| c["iat"] = json!(NOW + 3600)).unwrap_err(), Rejection::NotYetValid);
    assert!(with(&|c| c["nbf"] = json!(NOW + 59)).is_ok());
    // token_use, when the authorizer names one.
    let access = Policy { token_use: Some("access".into()), ..policy() };
    assert_eq!(access.check(claims().as_object().unwrap().clone(), NOW, &[]).unwrap_err(), Rejection::TokenUse);
}

#[test]
fn one_of_the_route_scopes_is_enough() {
    let key = Es256::new("k1");
    let set = keys(&[key.jwk()]);
    let token = key.sign(&claims());
    let scopes = |s: &[&str]| s.iter().map(|x| (*x).to_owned()).collect::<Vec<_>>();
    assert!(accept(&set, &token, &scopes(&["pets/write", "pets/read"])).is_ok());
    assert_eq!(accept(&set, &token, &scopes(&["pets/write"])).unwrap_err(), Rejection::Scope);
    let mut scp = claims();
    scp.as_object_mut().unwrap().remove("scope");
    scp["scp"] = json!(["pets/write"]);
    assert!(accept(&set, &key.sign(&scp), &scopes(&["pets/write"])).is_ok());
}

/// An RSA key made by OpenSSL, as PKCS#8 DER (ring cannot generate RSA keys).
fn rsa_key() -> RsaKeyPair {
    let dir = std::env::temp_dir().join(format!("portcullis-jwt-test-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let pem = dir.join("rsa.pem");
    let der = dir.join("rsa.der");
    let run = |args: &[&str]| {
        let out =
            std::process::Command::new("openssl").args(args).output().expect("openssl is installed (CI installs it)");
        assert!(out.status.success(), "openssl {args:?}: {}", String::from_utf8_lossy(&out.stderr));
    };
    run(&["genpkey", "-algorithm", "RSA", "-pkeyopt", "rsa_keygen_bits:2048", "-out", pem.to_str().unwrap()]);
    run(&[
        "pkcs8",
        "-topk8",
        "-nocrypt",
        "-in",
        pem.to_str().unwrap(),
        "-outform",
        "DER",
        "-out",
        der.to_str().unwrap(),
    ]);
    let key = RsaKeyPair::from_pkcs8(&std::fs::read(&der).unwrap()).unwrap();
    std::fs::remove_dir_all(&dir).unwrap();
    key
}

#[test]
fn rsa_and_eddsa_keys_verify_their_algorithms_only() {
    let rsa = rsa_key();
    let public: sig::RsaPublicKeyComponents<Vec<u8>> = rsa.public().into();
    let rsa_jwk = |kid: &str, alg: Option<&str>| {
        let mut jwk = json!({"kty": "RSA", "kid": kid, "use": "sig",
            "n": b64(&public.n), "e": b64(&public.e)});
        if let Some(alg) = alg {
            jwk["alg"] = json!(alg);
        }
        jwk
    };
    let sign_rsa = |alg: &str, kid: &str, padding: &'static dyn sig::RsaEncoding| {
        let signed = unsigned(&json!({"alg": alg, "kid": kid}), &claims());
        let mut signature = vec![0; rsa.public().modulus_len()];
        rsa.sign(padding, &SystemRandom::new(), signed.as_bytes(), &mut signature).unwrap();
        format!("{signed}.{}", b64(&signature))
    };
    let ed_pkcs8 = Ed25519KeyPair::generate_pkcs8(&SystemRandom::new()).unwrap();
    let ed = Ed25519KeyPair::from_pkcs8(ed_pkcs8.as_ref()).unwrap();
    let ed_jwk = json!({"kty": "OKP", "crv": "Ed25519", "kid": "ed", "x": b64(ed.public_key().as_ref())});
    let set = keys(&[rsa_jwk("r1", None), rsa_jwk("pinned", Some("RS256")), ed_jwk]);
    assert_eq!(set.len(), 3);

    assert!(accept(&set, &sign_rsa("RS256", "r1", &sig::RSA_PKCS1_SHA256), &[]).is_ok());
    assert!(accept(&set, &sign_rsa("PS256", "r1", &sig::RSA_PSS_SHA256), &[]).is_ok());
    assert!(accept(&set, &sign_rsa("RS512", "r1", &sig::RSA_PKCS1_SHA512), &[]).is_ok());
    // A key that pins RS256 does not verify PS256, and the header's alg must be the one used.
    assert_eq!(
        accept(&set, &sign_rsa("PS256", "pinned", &sig::RSA_PSS_SHA256), &[]).unwrap_err(),
        Rejection::UnknownKey
    );
    assert_eq!(accept(&set, &sign_rsa("RS256", "r1", &sig::RSA_PSS_SHA256), &[]).unwrap_err(), Rejection::Signature);
    // An RSA kid named in an ES256 token: the key does not suit the algorithm.
    assert_eq!(accept(&set, &Es256::new("r1").sign(&claims()), &[]).unwrap_err(), Rejection::UnknownKey);

    let signed = unsigned(&json!({"alg": "EdDSA", "kid": "ed"}), &claims());
    let token = format!("{signed}.{}", b64(ed.sign(signed.as_bytes()).as_ref()));
    assert!(accept(&set, &token, &[]).is_ok());
}

#[test]
fn jwks_documents_keep_their_signing_keys() {
    let key = Es256::new("k1");
    let mut enc = key.jwk();
    enc["use"] = json!("enc");
    let doc = json!({"keys": [enc, {"kty": "oct", "k": "c2VjcmV0"}, {"kty": "EC", "crv": "P-256", "x": "AA", "y": "AA"}, key.jwk()]});
    let set = KeySet::parse(doc.to_string().as_bytes()).unwrap();
    assert_eq!(set.len(), 1);
    assert!(set.has_kid("k1"));
    assert_eq!(KeySet::parse(br#"{"keys":[{"kty":"oct","k":"c2VjcmV0"}]}"#).unwrap_err(), KeysError::NoUsableKey);
    assert!(matches!(KeySet::parse(b"[]").unwrap_err(), KeysError::NotJwks(_)));
}

#[test]
fn required_claims_must_match_exactly() {
    let key = Es256::new("k1");
    let set = keys(&[key.jwk()]);
    let mut with_tenant = claims();
    with_tenant["tenant"] = json!("acme");
    let token = key.sign(&with_tenant);
    let parsed = Token::parse(&token).unwrap();
    set.verify(&parsed).unwrap();
    let want = |v: &str| Policy { required: vec![("tenant".into(), v.into())], ..policy() };
    assert!(want("acme").check(parsed.claims.clone(), NOW, &[]).is_ok());
    assert_eq!(want("other").check(parsed.claims.clone(), NOW, &[]).unwrap_err(), Rejection::Claim);
    let plain_text = key.sign(&claims());
    let plain = Token::parse(&plain_text).unwrap();
    assert_eq!(want("acme").check(plain.claims, NOW, &[]).unwrap_err(), Rejection::Claim);
}

#[test]
fn the_token_is_read_bare_or_after_bearer() {
    assert_eq!(super::bearer("Bearer a.b.c"), "a.b.c");
    assert_eq!(super::bearer("bearer   a.b.c "), "a.b.c");
    assert_eq!(super::bearer("a.b.c"), "a.b.c");
    assert_eq!(super::bearer("Basic a.b.c"), "Basic a.b.c", "another scheme stays, and fails to parse");
    assert!(Token::parse(super::bearer("Basic a.b.c")).is_err());
}

#[test]
fn every_algorithm_the_config_offers_is_one_the_verifier_knows() {
    for name in model::JWT_ALGORITHMS {
        assert!(super::Algorithm::from_name(name).is_some(), "{name}");
    }
}
