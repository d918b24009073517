//! Runs ModSecurity's transformation vectors (`tests/vectors/`, see its README) against every
//! transformation they cover and reports all mismatches at once.

use std::fmt::Write as _;
use std::path::Path;

use portcullis_waf::Transformation as T;

/// Each vector file, with the ModSecurity name its vectors carry and the transformation it tests.
const FILES: [(&str, T); 20] = [
    ("base64Decode", T::Base64Decode),
    ("base64DecodeExt", T::Base64DecodeExt),
    ("compressWhitespace", T::CompressWhiteSpace),
    ("cssDecode", T::CssDecode),
    ("escapeSeqDecode", T::EscapeSeqDecode),
    ("hexDecode", T::HexDecode),
    ("htmlEntityDecode", T::HtmlEntityDecode),
    ("jsDecode", T::JsDecode),
    ("md5", T::Md5),
    ("normalisePath", T::NormalizePath),
    ("normalisePathWin", T::NormalizePathWin),
    ("removeNulls", T::RemoveNulls),
    ("replaceComments", T::ReplaceComments),
    ("replaceNulls", T::ReplaceNulls),
    ("sqlHexDecode", T::SqlHexDecode),
    ("trim", T::Trim),
    ("trimRight", T::TrimRight),
    ("urlDecode", T::UrlDecode),
    ("urlDecodeUni", T::UrlDecodeUni),
    ("utf8toUnicode", T::Utf8ToUnicode),
];

/// Vectors known not to pass: (file, index in the file, reason). The test fails if one of
/// these starts passing, so the list cannot go stale. None of them disagrees with AWS: each
/// is an encoding slip in the vector itself.
const EXCEPTIONS: &[(&str, usize, &str)] = &[
    ("removeNulls", 3, NUL_AS_TEXT),
    ("removeNulls", 4, NUL_AS_TEXT),
    ("removeNulls", 5, NUL_AS_TEXT),
    ("removeNulls", 6, NUL_AS_TEXT),
    ("removeNulls", 7, NUL_AS_TEXT),
    (
        "md5",
        3,
        "the input ends in a literal `\\b` (backslash, b) that no harness turns into a byte; the \
         expected digest is MD5 of bytes 0x00..=0x07 followed by a backspace (0x08)",
    ),
];

const NUL_AS_TEXT: &str = "the Perl original (ModSecurity tests/tfn/removeNulls.t) has a NUL byte where the JSON \
                           has the two characters `\\0`, which no harness turns into a NUL";

#[test]
fn modsecurity_vectors() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/vectors");
    let (mut total, mut passed, mut excepted) = (0, 0, 0);
    let mut report = String::new();
    for (name, transformation) in FILES {
        let path = dir.join(format!("{name}.json"));
        let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
        let vectors: Vec<serde_json::Value> =
            serde_json::from_str(&text).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
        for (index, vector) in vectors.iter().enumerate() {
            total += 1;
            let field = |key: &str| vector[key].as_str().unwrap_or_else(|| panic!("{name}[{index}]: no {key}"));
            assert_eq!(field("name"), name, "{name}[{index}] names another transformation");
            let input = to_bytes(field("input"));
            let expected = to_bytes(field("output"));
            let got = transformation.apply(&input);
            let exception = EXCEPTIONS.iter().find(|(file, i, _)| *file == name && *i == index);
            match (*got == *expected, exception) {
                (true, None) => passed += 1,
                (false, Some(_)) => excepted += 1,
                (true, Some((_, _, reason))) => {
                    let _ = writeln!(report, "{name}[{index}] passes but is listed as an exception ({reason})");
                }
                (false, None) => {
                    let _ = writeln!(
                        report,
                        "{name}[{index}] {transformation}\n    input:    {}\n    expected: {}\n    got:      {}",
                        show(&input),
                        show(&expected),
                        show(&got),
                    );
                }
            }
        }
    }
    println!("{total} vectors: {passed} pass, {excepted} known exceptions");
    assert!(report.is_empty(), "{} vectors of {total} disagree:\n{report}", total - passed - excepted);
}

/// The bytes a vector string stands for (see `tests/vectors/README.md`): one byte per
/// character when every character is at most U+00FF, UTF-8 otherwise; then each literal
/// `\xHH` and `\u00HH` becomes that byte.
fn to_bytes(text: &str) -> Vec<u8> {
    let raw: Vec<u8> = match text.chars().map(|c| u8::try_from(u32::from(c)).ok()).collect::<Option<Vec<u8>>>() {
        Some(latin1) => latin1,
        None => text.as_bytes().to_vec(),
    };
    let mut out = Vec::with_capacity(raw.len());
    let mut rest = raw.as_slice();
    while let Some((&first, tail)) = rest.split_first() {
        let escape = match rest {
            [b'\\', b'x', h, l, ..] => hex_byte(*h, *l).map(|b| (b, 4)),
            [b'\\', b'u', b'0', b'0', h, l, ..] => hex_byte(*h, *l).map(|b| (b, 6)),
            _ => None,
        };
        match escape {
            Some((byte, len)) => {
                out.push(byte);
                rest = &rest[len..];
            }
            None => {
                out.push(first);
                rest = tail;
            }
        }
    }
    out
}

fn hex_byte(high: u8, low: u8) -> Option<u8> {
    let digit = |c: u8| char::from(c).to_digit(16);
    Some(u8::try_from(digit(high)? * 16 + digit(low)?).unwrap_or_default())
}

fn show(bytes: &[u8]) -> String {
    format!("\"{}\"", bytes.escape_ascii())
}
