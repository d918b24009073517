#![allow(clippy::unwrap_used, clippy::expect_used, reason = "benchmark harness")]
#![allow(missing_docs, reason = "criterion_group! generates undocumented functions")]
//! The work of an `auth: jwt` request, apart from the rest of the pipeline:
//!
//! - `jwt_verify_es256_uncached` and `jwt_verify_rs256_uncached`: a provider's access token
//!   (ES256 with a P-256 key; RS256 with a 2048-bit key made by the openssl CLI) parsed,
//!   verified against the provider's JWKS and its claims checked — what the first request with
//!   a token costs.
//! - `jwt_cached`: what every later request with the same token costs — SHA-256 of the
//!   authorizer's fingerprint and the token, a cache lookup, and the route's scopes.

use std::hint::black_box;
use std::sync::Arc;

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine as _;
use criterion::{criterion_group, criterion_main, Criterion};
use identity::jwt::{KeySet, Policy, Token, Verified, VerifiedTokens};
use portcullis_bench::jwt_issuer::Issuer;
use ring::signature::RsaKeyPair;
use serde_json::json;

const ISS: &str = "https://idp.example.com/realms/bench";
const NOW: u64 = 1_800_000_000;

fn policy() -> Policy {
    Policy {
        issuers: vec![ISS.into()],
        audiences: vec!["bench".into()],
        token_use: None,
        clock_skew_s: 30,
        required: vec![],
    }
}

fn verify(keys: &KeySet, policy: &Policy, text: &str) -> Verified {
    let token = Token::parse(text).unwrap();
    keys.verify(&token).unwrap();
    let kid = token.kid.clone();
    Verified { claims: policy.check(token.claims, NOW, &[]).unwrap(), issuer: 0, kid }
}

/// A 2048-bit RSA key from the openssl CLI (ring cannot generate RSA keys), its JWKS and a
/// token signed with it.
fn rsa_case() -> (KeySet, String) {
    let dir = tempfile::tempdir().unwrap();
    let (pem, der) = (dir.path().join("k.pem"), dir.path().join("k.der"));
    let run = |args: &[&str]| {
        let ok = std::process::Command::new("openssl").args(args).status().unwrap().success();
        assert!(ok, "openssl {args:?}");
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
    let pair = RsaKeyPair::from_pkcs8(&std::fs::read(&der).unwrap()).unwrap();
    let public: ring::signature::RsaPublicKeyComponents<Vec<u8>> = pair.public().into();
    let (n, e) = (URL_SAFE_NO_PAD.encode(&public.n), URL_SAFE_NO_PAD.encode(&public.e));
    let jwks = json!({"keys": [{"kty": "RSA", "kid": "rsa", "use": "sig", "n": n, "e": e}]});
    let header = json!({"alg": "RS256", "kid": "rsa", "typ": "JWT"});
    let claims = json!({"iss": ISS, "sub": "u", "aud": "bench", "client_id": "bench-client", "scope": "bench/read",
                        "iat": NOW, "exp": NOW + 3600});
    let input =
        format!("{}.{}", URL_SAFE_NO_PAD.encode(header.to_string()), URL_SAFE_NO_PAD.encode(claims.to_string()));
    let mut sig = vec![0; pair.public().modulus_len()];
    pair.sign(&ring::signature::RSA_PKCS1_SHA256, &ring::rand::SystemRandom::new(), input.as_bytes(), &mut sig)
        .unwrap();
    let token = format!("{input}.{}", URL_SAFE_NO_PAD.encode(&sig));
    (KeySet::parse(jwks.to_string().as_bytes()).unwrap(), token)
}

fn bench(c: &mut Criterion) {
    let issuer = Issuer::new("es").unwrap();
    let es_keys = KeySet::parse(issuer.jwks().as_bytes()).unwrap();
    let es_token = issuer.access_token(ISS, "bench", "bench/read", NOW).unwrap();
    let policy = policy();
    c.bench_function("jwt_verify_es256_uncached", |b| b.iter(|| verify(&es_keys, &policy, black_box(&es_token))));
    let (rsa_keys, rsa_token) = rsa_case();
    c.bench_function("jwt_verify_rs256_uncached", |b| b.iter(|| verify(&rsa_keys, &policy, black_box(&rsa_token))));

    let cache = VerifiedTokens::default();
    let fingerprint = [7u8; 32];
    let key = VerifiedTokens::key(&fingerprint, &rsa_token);
    cache.insert(key, Arc::new(verify(&rsa_keys, &policy, &rsa_token)), NOW + 3600, NOW);
    let scopes = vec!["bench/read".to_owned()];
    c.bench_function("jwt_cached", |b| {
        b.iter(|| {
            let key = VerifiedTokens::key(&fingerprint, black_box(&rsa_token));
            let hit = cache.get(&key, NOW).unwrap();
            hit.claims.check_scopes(&scopes).unwrap();
            hit
        });
    });
}

criterion_group!(benches, bench);
criterion_main!(benches);
