#![allow(clippy::unwrap_used, clippy::expect_used)]

use base64::engine::general_purpose::STANDARD;
use base64::Engine;

use super::HEADER_LEN;
use crate::{envelope_version, from_text, to_text, EncryptionContext, Keyring, KmsError};

fn ring(spec: &[(u32, u8)]) -> Keyring {
    let list: Vec<String> = spec.iter().map(|(v, b)| format!("{v}:{}", STANDARD.encode([*b; 32]))).collect();
    Keyring::from_env_value(&list.join(",")).unwrap()
}

fn ctx() -> EncryptionContext {
    EncryptionContext::new().with("purpose", "iam-access-key").with("id", "AKIAEXAMPLE")
}

#[test]
fn seal_then_open_round_trips() {
    let ring = ring(&[(1, 1)]);
    for plaintext in [&b""[..], b"x", &[0x5A; 10_000]] {
        let envelope = ring.seal(&ctx(), plaintext).unwrap();
        assert_eq!(envelope.len(), HEADER_LEN + 12 + plaintext.len() + 16);
        assert_eq!(&envelope[..4], b"PCE1");
        assert_eq!(&ring.open(&ctx(), &envelope).unwrap()[..], plaintext);
    }
}

#[test]
fn sealing_twice_gives_different_envelopes() {
    let ring = ring(&[(1, 1)]);
    assert_ne!(ring.seal(&ctx(), b"same").unwrap(), ring.seal(&ctx(), b"same").unwrap());
}

#[test]
fn wrong_context_fails_authentication() {
    let ring = ring(&[(1, 1)]);
    let envelope = ring.seal(&ctx(), b"secret").unwrap();
    for other in [
        EncryptionContext::new(),
        EncryptionContext::new().with("purpose", "iam-access-key").with("id", "AKIAOTHER"),
        ctx().with("extra", ""),
    ] {
        assert!(matches!(ring.open(&other, &envelope), Err(KmsError::Authentication)), "{other:?}");
    }
}

#[test]
fn context_encoding_is_injective() {
    let a = EncryptionContext::new().with("a", "bc");
    let b = EncryptionContext::new().with("ab", "c");
    let c = EncryptionContext::new().with("a", "b").with("c", "");
    assert_ne!(a.canonical_bytes(), b.canonical_bytes());
    assert_ne!(a.canonical_bytes(), c.canonical_bytes());
    assert_ne!(EncryptionContext::new().canonical_bytes(), EncryptionContext::new().with("", "").canonical_bytes());
    let ring = ring(&[(1, 1)]);
    assert!(matches!(ring.open(&b, &ring.seal(&a, b"s").unwrap()), Err(KmsError::Authentication)));
}

#[test]
fn every_single_bit_flip_is_rejected_with_the_right_error() {
    let ring = ring(&[(1, 1)]);
    let envelope = ring.seal(&ctx(), b"attack at dawn").unwrap();
    for pos in 0..envelope.len() {
        for mask in [0x01, 0x80] {
            let mut altered = envelope.clone();
            altered[pos] ^= mask;
            let result = ring.open(&ctx(), &altered);
            match pos {
                0..4 => assert!(matches!(result, Err(KmsError::Malformed(_))), "pos {pos}: {result:?}"),
                4..8 => assert!(matches!(result, Err(KmsError::UnknownVersion(v)) if v != 1), "pos {pos}: {result:?}"),
                _ => assert!(matches!(result, Err(KmsError::Authentication)), "pos {pos}: {result:?}"),
            }
        }
    }
}

#[test]
fn every_truncation_is_rejected() {
    let ring = ring(&[(1, 1)]);
    let envelope = ring.seal(&ctx(), b"attack at dawn").unwrap();
    for len in 0..envelope.len() {
        let result = ring.open(&ctx(), &envelope[..len]);
        if len < HEADER_LEN + 12 + 16 {
            assert!(matches!(result, Err(KmsError::Malformed(_))), "len {len}: {result:?}");
        } else {
            assert!(matches!(result, Err(KmsError::Authentication)), "len {len}: {result:?}");
        }
    }
    let mut longer = envelope.clone();
    longer.push(0);
    assert!(matches!(ring.open(&ctx(), &longer), Err(KmsError::Authentication)));
}

#[test]
fn arbitrary_bytes_never_panic() {
    let ring = ring(&[(1, 1)]);
    // xorshift: deterministic noise, with valid magic and version half the time to reach decryption.
    let mut state = 0x9E37_79B9_7F4A_7C15_u64;
    for round in 0..2_000 {
        let len = (round * 7) % 200;
        let mut input: Vec<u8> = (0..len)
            .map(|_| {
                state ^= state << 13;
                state ^= state >> 7;
                state ^= state << 17;
                state.to_le_bytes()[0]
            })
            .collect();
        if round % 2 == 0 && len >= 8 {
            input[..8].copy_from_slice(b"PCE1\0\0\0\x01");
        }
        assert!(ring.open(&ctx(), &input).is_err());
        assert!(ring.rewrap(&ctx(), &input).is_err());
        assert!(ring.unwrap_data_key(&ctx(), &input).is_err());
        let _ = envelope_version(&input);
        let _ = from_text(&String::from_utf8_lossy(&input));
    }
}

#[test]
fn unknown_version_and_wrong_key_are_told_apart() {
    let old = ring(&[(1, 1)]);
    let newer = ring(&[(1, 1), (2, 2)]);
    let envelope = newer.seal(&ctx(), b"secret").unwrap();
    assert_eq!(envelope_version(&envelope).unwrap(), 2);
    let err = old.open(&ctx(), &envelope).unwrap_err();
    assert!(matches!(err, KmsError::UnknownVersion(2)));
    assert!(err.to_string().contains("version 2"));
    let impostor = ring(&[(1, 1), (2, 3)]);
    assert!(matches!(impostor.open(&ctx(), &envelope), Err(KmsError::Authentication)));
}

#[test]
fn rewrap_moves_old_envelopes_to_the_current_version() {
    let old = ring(&[(1, 1)]);
    let new = ring(&[(1, 1), (2, 2)]);
    let envelope = old.seal(&ctx(), b"secret").unwrap();
    assert!(old.rewrap(&ctx(), &envelope).unwrap().is_none());
    assert!(matches!(new.rewrap(&EncryptionContext::new(), &envelope), Err(KmsError::Authentication)));

    let moved = new.rewrap(&ctx(), &envelope).unwrap().unwrap();
    assert_eq!(envelope_version(&moved).unwrap(), 2);
    assert_eq!(moved[HEADER_LEN..], envelope[HEADER_LEN..], "ciphertext must be unchanged");
    assert_ne!(moved[..HEADER_LEN], envelope[..HEADER_LEN]);
    assert_eq!(&new.open(&ctx(), &moved).unwrap()[..], b"secret");
    assert!(new.rewrap(&ctx(), &moved).unwrap().is_none());
    assert!(matches!(old.open(&ctx(), &moved), Err(KmsError::UnknownVersion(2))));
}

#[test]
fn data_keys_round_trip_and_bind_their_context() {
    let old = ring(&[(1, 1)]);
    let (key, wrapped) = old.generate_data_key(&ctx()).unwrap();
    assert_eq!(wrapped.len(), HEADER_LEN);
    assert_eq!(&wrapped[..4], b"PCK1");
    let segment = key.encrypt([0; 12], b"segment 0", b"log line").unwrap();
    assert_eq!(format!("{key:?}"), "DataKey { .. }");

    let again = old.unwrap_data_key(&ctx(), &wrapped).unwrap();
    assert_eq!(&again.decrypt([0; 12], b"segment 0", &segment).unwrap()[..], b"log line");
    assert!(matches!(again.decrypt([1; 12], b"segment 0", &segment), Err(KmsError::Authentication)));
    assert!(matches!(again.decrypt([0; 12], b"segment 1", &segment), Err(KmsError::Authentication)));
    let other_ctx = EncryptionContext::new().with("purpose", "log");
    assert!(matches!(old.unwrap_data_key(&other_ctx, &wrapped), Err(KmsError::Authentication)));

    // A wrapped key is not an envelope and vice versa, even under the same context.
    let envelope = old.seal(&ctx(), b"x").unwrap();
    assert!(matches!(old.unwrap_data_key(&ctx(), &envelope), Err(KmsError::Malformed(_))));
    assert!(matches!(old.open(&ctx(), &wrapped), Err(KmsError::Malformed(_))));
    let mut relabelled = envelope[..HEADER_LEN].to_vec();
    relabelled[..4].copy_from_slice(b"PCK1");
    assert!(matches!(old.unwrap_data_key(&ctx(), &relabelled), Err(KmsError::Authentication)));

    let new = ring(&[(1, 1), (2, 2)]);
    let moved = new.rewrap(&ctx(), &wrapped).unwrap().unwrap();
    assert_eq!(envelope_version(&moved).unwrap(), 2);
    let key2 = new.unwrap_data_key(&ctx(), &moved).unwrap();
    assert_eq!(&key2.decrypt([0; 12], b"segment 0", &segment).unwrap()[..], b"log line");
}

#[test]
fn text_form_round_trips() {
    let ring = ring(&[(1, 1)]);
    let envelope = ring.seal(&ctx(), b"secret").unwrap();
    let text = to_text(&envelope);
    assert!(text.starts_with("pcx1:"));
    assert_eq!(from_text(&text).unwrap(), envelope);
    assert!(matches!(from_text(&text[5..]), Err(KmsError::Malformed(_))));
    assert!(matches!(from_text("pcx1:not base64!"), Err(KmsError::Malformed(_))));
}
