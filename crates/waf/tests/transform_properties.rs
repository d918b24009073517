//! A small deterministic fuzz of every transformation: 10 000 random inputs of up to 200 bytes
//! each. Checks that `apply` does not panic, that outputs stay within their length bounds, and
//! that an unchanged value is borrowed.

use std::borrow::Cow;

use portcullis_waf::{apply_all, Transformation as T};

const INPUTS: usize = 10_000;
const MAX_LEN: usize = 200;

/// Bytes the decoders react to, so that random inputs reach their branches often.
const INTERESTING: &[u8] =
    b"%+u&#;xX\\0123456789abcdefABCDEFgz=/.*-<!>\"'^, \t\r\n\x0b\x0c\0\xa0\xc0\xc3\xe2\xed\xf0\xf5\x80\xbf";

/// xorshift64*: deterministic, so a failure can be replayed.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }

    fn below(&mut self, n: usize) -> usize {
        (self.next() % n as u64) as usize
    }

    /// Half of the bytes come from [`INTERESTING`], half are uniform.
    fn input(&mut self) -> Vec<u8> {
        let len = self.below(MAX_LEN + 1);
        (0..len)
            .map(|_| if self.next() & 1 == 0 { INTERESTING[self.below(INTERESTING.len())] } else { self.next() as u8 })
            .collect()
    }
}

/// The most `t` may write for an input of `len` bytes.
fn max_len(t: T, len: usize) -> usize {
    match t {
        T::Md5 => 16,
        T::Sha256 => 32,
        // The one decoder that grows: seven bytes for a two-byte overlong sequence.
        T::Utf8ToUnicode => len * 7 / 2,
        // Every other decoder and normaliser shrinks or keeps the length.
        _ => len,
    }
}

#[test]
fn every_transformation_is_total_and_bounded() {
    let mut rng = Rng(0x9e37_79b9_7f4a_7c15);
    for t in T::ALL {
        for case in 0..INPUTS {
            let input = rng.input();
            let output = t.apply(&input);
            let limit = max_len(t, input.len());
            assert!(
                output.len() <= limit,
                "{t} case {case}: {} bytes from {} (limit {limit}) for {:?}",
                output.len(),
                input.len(),
                input.escape_ascii().to_string()
            );
            if matches!(t, T::Md5 | T::Sha256) {
                assert_eq!(output.len(), limit, "{t} case {case}: digest length");
                continue;
            }
            match &output {
                Cow::Borrowed(same) => {
                    // The input or, for the trims, a part of it.
                    let within = input.as_ptr_range();
                    assert!(same.is_empty() || within.contains(&same.as_ptr()), "{t} case {case}: foreign borrow");
                }
                Cow::Owned(changed) => assert_ne!(changed, &input, "{t} case {case}: unchanged but copied"),
            }
        }
    }
}

#[test]
fn apply_all_matches_applying_one_by_one() {
    let mut rng = Rng(0x2545_f491_4f6c_dd1d);
    for case in 0..INPUTS {
        let input = rng.input();
        let list: Vec<T> = (0..rng.below(5)).map(|_| T::ALL[rng.below(T::ALL.len())]).collect();
        let mut expected = input.clone();
        for t in &list {
            expected = t.apply(&expected).into_owned();
        }
        assert_eq!(*apply_all(&list, &input), *expected, "case {case}: {list:?}");
    }
}

/// Repetitive inputs that would expose quadratic behaviour (a path that keeps going back up,
/// an endless entity, a run of escapes): 256 KiB each through every transformation.
#[test]
fn large_adversarial_inputs_finish() {
    const PATTERNS: [&[u8]; 14] = [
        b"../", b"a/../", b"/./", b"//", b"&#x", b"&amp", b"\\u00", b"%u00", b"/*", b"0x41", b"\xc3", b"\\", b" ",
        b"=Q",
    ];
    let started = std::time::Instant::now();
    for pattern in PATTERNS {
        let input: Vec<u8> = pattern.iter().copied().cycle().take(256 * 1024).collect();
        for t in T::ALL {
            assert!(t.apply(&input).len() <= max_len(t, input.len()).max(32));
        }
    }
    // Linear code does all of this in well under a second even unoptimised; quadratic code
    // would take minutes.
    assert!(started.elapsed().as_secs() < 60, "took {:?}", started.elapsed());
}
