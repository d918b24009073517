//! Time-based one-time passwords (RFC 6238 over RFC 4226's HOTP, HMAC-SHA-1, 30-second steps,
//! six digits): what authenticator apps compute, for a user pool's multi-factor sign-in.
//! Enrolment hands the user a fresh secret as an `otpauth://` URI; sign-in checks a code
//! against the step before, the current one and the one after, and reports the step it
//! matched so that the pool can refuse the same code twice.

use ring::hmac;
use ring::rand::{SecureRandom, SystemRandom};
use subtle::ConstantTimeEq;

/// Seconds per step.
pub const STEP_S: u64 = 30;
/// Digits per code.
pub const DIGITS: u32 = 6;
/// Bytes of a new secret (160 bits, RFC 4226's recommendation).
const SECRET_LEN: usize = 20;

/// A new random secret.
pub fn new_secret() -> Result<Vec<u8>, ring::error::Unspecified> {
    let mut secret = vec![0; SECRET_LEN];
    SystemRandom::new().fill(&mut secret)?;
    Ok(secret)
}

/// The code of `secret` for time step `step`, with `digits` digits (RFC 4226 §5.3).
pub fn code_at_step(secret: &[u8], step: u64, digits: u32) -> u32 {
    let key = hmac::Key::new(hmac::HMAC_SHA1_FOR_LEGACY_USE_ONLY, secret);
    let mac = hmac::sign(&key, &step.to_be_bytes());
    let mac = mac.as_ref();
    let offset = usize::from(mac.last().copied().unwrap_or(0) & 0x0f);
    let word = mac.get(offset..offset + 4).map_or(0, |w| u32::from_be_bytes([w[0], w[1], w[2], w[3]]));
    (word & 0x7fff_ffff) % 10u32.pow(digits)
}

/// The time step of `unix_s`.
pub fn step_of(unix_s: u64) -> u64 {
    unix_s / STEP_S
}

/// The step whose six-digit code `code` is, among the step of `now_s` and the one on either
/// side (clock drift between the phone and the server); `None` when it is none of them or not
/// six digits. Codes are compared in constant time.
pub fn verify(secret: &[u8], code: &str, now_s: u64) -> Option<u64> {
    if code.len() != DIGITS as usize || !code.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    let now = step_of(now_s);
    let mut found = None;
    // Every candidate is computed and compared, whichever matches, so the time taken does not
    // tell which step matched.
    for step in [now.saturating_sub(1), now, now + 1] {
        let expected = format!("{:0width$}", code_at_step(secret, step, DIGITS), width = DIGITS as usize);
        if bool::from(expected.as_bytes().ct_eq(code.as_bytes())) && found.is_none() {
            found = Some(step);
        }
    }
    found
}

/// The enrolment URI authenticator apps read (usually from a QR code):
/// `otpauth://totp/ISSUER:ACCOUNT?secret=BASE32&issuer=ISSUER&algorithm=SHA1&digits=6&period=30`.
pub fn otpauth_uri(issuer: &str, account: &str, secret: &[u8]) -> String {
    let enc = |s: &str| form_urlencoded::byte_serialize(s.as_bytes()).collect::<String>().replace('+', "%20");
    format!(
        "otpauth://totp/{}:{}?secret={}&issuer={}&algorithm=SHA1&digits={DIGITS}&period={STEP_S}",
        enc(issuer),
        enc(account),
        base32(secret),
        enc(issuer)
    )
}

/// RFC 4648 base32 without padding, as authenticator apps take secrets.
pub fn base32(bytes: &[u8]) -> String {
    const ALPHABET: &[u8; 32] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZ234567";
    let mut out = String::with_capacity(bytes.len().div_ceil(5) * 8);
    for chunk in bytes.chunks(5) {
        let mut buf = [0u8; 5];
        buf[..chunk.len()].copy_from_slice(chunk);
        let bits = buf.iter().fold(0u64, |acc, &b| acc << 8 | u64::from(b));
        let symbols = (chunk.len() * 8).div_ceil(5);
        for i in 0..symbols {
            let index = (bits >> (35 - i * 5)) & 0x1f;
            out.push(char::from(ALPHABET[index as usize]));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use super::*;

    /// RFC 6238 Appendix B, the SHA-1 rows (eight digits).
    #[test]
    fn rfc_6238_vectors() {
        let secret = b"12345678901234567890";
        for (time, code) in [
            (59u64, 94_287_082u32),
            (1_111_111_109, 7_081_804),
            (1_111_111_111, 14_050_471),
            (1_234_567_890, 89_005_924),
            (2_000_000_000, 69_279_037),
            (20_000_000_000, 65_353_130),
        ] {
            assert_eq!(code_at_step(secret, step_of(time), 8), code, "T = {time}");
        }
    }

    #[test]
    fn codes_pass_within_one_step_and_report_it() {
        let secret = new_secret().unwrap();
        let now = 1_800_000_000;
        let code = |t: u64| format!("{:06}", code_at_step(&secret, step_of(t), DIGITS));
        assert_eq!(verify(&secret, &code(now), now), Some(step_of(now)));
        assert_eq!(verify(&secret, &code(now - 30), now), Some(step_of(now) - 1));
        assert_eq!(verify(&secret, &code(now + 30), now), Some(step_of(now) + 1));
        assert_eq!(verify(&secret, &code(now - 90), now), None);
        assert_eq!(verify(&secret, "12345", now), None);
        assert_eq!(verify(&secret, "12345a", now), None);
        assert_ne!(new_secret().unwrap(), secret);
    }

    #[test]
    fn base32_and_the_enrolment_uri() {
        // RFC 4648 §10, without the padding.
        for (text, encoded) in [
            ("", ""),
            ("f", "MY"),
            ("fo", "MZXQ"),
            ("foo", "MZXW6"),
            ("foob", "MZXW6YQ"),
            ("fooba", "MZXW6YTB"),
            ("foobar", "MZXW6YTBOI"),
        ] {
            assert_eq!(base32(text.as_bytes()), encoded);
        }
        assert_eq!(
            otpauth_uri("Pet Shop", "ann@example.com", b"foobar"),
            "otpauth://totp/Pet%20Shop:ann%40example.com?secret=MZXW6YTBOI&issuer=Pet%20Shop&algorithm=SHA1&digits=6&period=30"
        );
    }
}
