//! A user pool's parsers of untrusted input: an imported signing key (PEM or DER PKCS#8; one
//! that loads must sign and verify), the redirect back to an app (every value survives the
//! round trip through its query), and the hosted page's escaping (no markup survives).
#![no_main]

use identity::pool::fuzzing;

libfuzzer_sys::fuzz_target!(|input: (&[u8], &str, Vec<(String, String)>, &str)| {
    let (key, uri, pairs, text) = input;
    fuzzing::private_key(key);
    fuzzing::redirect(uri, &pairs);
    fuzzing::escaped(text);
});
