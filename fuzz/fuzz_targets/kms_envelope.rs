//! KMS envelopes from untrusted storage: `open`, `rewrap`, `unwrap_data_key` and the text form
//! on arbitrary bytes never panic, and nothing forged opens.
#![no_main]

use kms::{EncryptionContext, Keyring};

/// A fixed test master key (32 bytes, standard base64); never a real one.
const KEY: &str = "AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8=";

libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    let Ok(keyring) = Keyring::from_env_value(KEY) else { return };
    let ctx = EncryptionContext::new().with("purpose", "fuzz").with("id", "1");
    // With random nonces and GCM tags, arbitrary bytes must never authenticate.
    assert!(keyring.open(&ctx, data).is_err());
    assert!(keyring.rewrap(&ctx, data).is_err());
    assert!(keyring.unwrap_data_key(&ctx, data).is_err());
    let _ = kms::envelope_version(data);
    if let Ok(text) = std::str::from_utf8(data) {
        if let Ok(blob) = kms::from_text(text) {
            assert!(keyring.open(&ctx, &blob).is_err());
        }
    }
    // A real envelope with fuzz-chosen bytes flipped does not open either.
    if let Ok(mut sealed) = keyring.seal(&ctx, data) {
        assert_eq!(keyring.open(&ctx, &sealed).map(|p| p.to_vec()).ok().as_deref(), Some(data));
        if let Some((&first, rest)) = data.split_first() {
            let at = usize::from(first) % sealed.len();
            let mask = rest.first().copied().filter(|m| *m != 0).unwrap_or(1);
            sealed[at] ^= mask;
            assert!(keyring.open(&ctx, &sealed).is_err(), "a flipped byte at {at} still opens");
        }
    }
});
