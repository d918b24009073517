//! JSON Web Tokens and JWKS documents: parsing any text as a token and any bytes as a key set
//! never panics, nor does verifying the one with the other and checking the claims; and a
//! token that verifies still verifies when parsed again.
#![no_main]

use identity::jwt::{KeySet, Policy, Token};

libfuzzer_sys::fuzz_target!(|input: (&str, &[u8], u64)| {
    let (text, jwks, now_s) = input;
    let keys = KeySet::parse(jwks);
    let Ok(token) = Token::parse(text) else { return };
    if let Ok(keys) = &keys {
        if keys.verify(&token).is_ok() {
            let again = Token::parse(text).map(|t| keys.verify(&t));
            assert_eq!(again, Ok(Ok(())));
        }
    }
    let policy = Policy {
        issuers: vec!["https://idp.example".into()],
        audiences: vec!["a".into()],
        token_use: Some("access".into()),
        clock_skew_s: 60,
        required: vec![("tenant".into(), "t".into())],
    };
    let _ = policy.check(token.claims, now_s, &["s".to_owned()]);
});
