//! Hand-written cases, from ModSecurity's sources and AWS's descriptions, for what the
//! ModSecurity vectors (`tests/transform_vectors.rs`) do not cover.

use std::borrow::Cow;

use super::{apply_all, Transformation as T};

fn run(t: T, input: &[u8]) -> Vec<u8> {
    t.apply(input).into_owned()
}

#[track_caller]
fn check(t: T, cases: &[(&[u8], &[u8])]) {
    for &(input, expected) in cases {
        let got = run(t, input);
        assert_eq!(
            got,
            expected,
            "{t} on {:?}: got {:?}",
            input.escape_ascii().to_string(),
            got.escape_ascii().to_string()
        );
    }
}

#[test]
fn names_round_trip_and_cover_the_aws_list() {
    for t in T::ALL {
        assert_eq!(T::parse(t.as_str()), Some(t));
        assert_eq!(t.to_string(), t.as_str());
    }
    let mut names: Vec<_> = T::ALL.iter().map(|t| t.as_str()).collect();
    names.extend(T::UNSUPPORTED_AWS_NAMES);
    names.sort_unstable();
    names.dedup();
    assert_eq!(names.len(), 31, "AWS lists 31 transformation types");
    for name in T::UNSUPPORTED_AWS_NAMES {
        assert_eq!(T::parse(name), None);
    }
    assert_eq!(T::parse("url_decode"), None);
    assert_eq!(T::parse("URL_DECODE "), None);
    assert_eq!(T::parse(""), None);
}

#[test]
fn case() {
    check(T::Lowercase, &[(b"AbC\xc4Z09", b"abc\xc4z09")]);
    check(T::Uppercase, &[(b"aBc\xe4z09", b"ABC\xe4Z09")]);
}

#[test]
fn white_space() {
    check(T::CompressWhiteSpace, &[(b"a\xa0\xa0b \t\x0b\x0c c", b"a b c"), (b"\r\nx", b" x")]);
    check(T::RemoveWhitespace, &[(b" a\tb\xa0c\n\x0b\x0cd\r", b"abcd")]);
    check(T::TrimLeft, &[(b" \t\x0b x y \r\n", b"x y \r\n"), (b"\xa0x", b"\xa0x"), (b"  ", b"")]);
    check(T::TrimRight, &[(b" \t\x0b x y \r\n", b" \t\x0b x y"), (b"x\xa0", b"x\xa0"), (b"  ", b"")]);
    check(T::Trim, &[(b" \t\x0b x y \r\n", b"x y"), (b"\x0c", b"")]);
}

#[test]
fn cmd_line() {
    check(
        T::CmdLine,
        &[
            (b"c\"at^ /etc/pa'ss\\wd", b"cat/etc/passwd"),
            (b"a,b;c", b"a b c"),
            (b"Cat  (x)", b"cat(x)"),
            (b"A\t\r\n,;B", b"a b"),
            (b"x ,\"/y", b"x/y"),
            (b" LEADING", b" leading"),
            (b"\xc4", b"\xc4"),
        ],
    );
}

#[test]
fn comments() {
    check(T::RemoveCommentsChar, &[(b"a/*b*/c<!--d-->e--f#g", b"abcdefg"), (b"<!-x", b"<!-x"), (b"---", b"-")]);
    check(T::ReplaceComments, &[(b"a/*x*/*/b", b"a */b"), (b"/**/", b" "), (b"/*", b" "), (b"/", b"/")]);
}

#[test]
fn nulls() {
    check(T::RemoveNulls, &[(b"\0a\0\0b\0", b"ab")]);
    check(T::ReplaceNulls, &[(b"\0a\0\0b\0", b" a  b ")]);
}

#[test]
fn hashes() {
    let sha256_abc = b"\xba\x78\x16\xbf\x8f\x01\xcf\xea\x41\x41\x40\xde\x5d\xae\x22\x23\
                       \xb0\x03\x61\xa3\x96\x17\x7a\x9c\xb4\x10\xff\x61\xf2\x00\x15\xad";
    check(T::Sha256, &[(b"abc", sha256_abc)]);
    check(T::Md5, &[(b"abc", b"\x90\x01\x50\x98\x3c\xd2\x4f\xb0\xd6\x96\x3f\x7d\x28\xe1\x7f\x72")]);
}

#[test]
fn utf8_to_unicode() {
    check(
        T::Utf8ToUnicode,
        &[
            ("é€😀".as_bytes(), b"%u00e9%u20ac%u1f600"),
            // Overlong `/` and a surrogate: the code point, then the raw lead byte.
            (b"\xc0\xaf", b"%u002f\xc0"),
            (b"\xed\xa0\x80", b"%ud800\xed"),
            (b"\xf0\x80\x80\xaf", b"%u002f\xf0"),
            // Lead bytes without their continuation bytes are dropped.
            (b"\xc3", b""),
            (b"\xc3A\xe2\x82", b"A\x82"),
            // Stray continuation bytes and 0xF8 and above stay.
            (b"\x80\xbf\xf8\xff", b"\x80\xbf\xf8\xff"),
            // 0xF5 and above: the raw lead byte, then whatever the sequence decodes to.
            (b"\xf5\x80\x80\x80", b"\xf5%u140000"),
            (b"a\0\xc3\xa9", b"a\0%u00e9"),
        ],
    );
}

#[test]
fn html_entities() {
    check(
        T::HtmlEntityDecode,
        &[
            (b"javascript&colon;alert(1)&apos;&LT;", b"javascript:alert(1)'<"),
            (b"&ltest;&lt1", b"&ltest;&lt1"),
            (b"&#65;&#x41&#X4a;&#x6A", b"AAJj"),
            (b"&#99999999999999999999999;&#256;&#x141", b"\xff\x00\x41"),
            (b"&", b"&"),
            (b"&#", b"&#"),
            (b"&#x", b"&#x"),
            (b"&&amp;", b"&&"),
        ],
    );
}

#[test]
fn base64_strict() {
    check(
        T::Base64Decode,
        &[
            (b"QUJD", b"ABC"),
            (b"QUJD\nREVG", b"ABCDEF"),
            (b"QUJD  \r\nREVG  ", b"ABCDEF"),
            (b"QQ==", b"A"),
            (b"QUI=", b"AB"),
            // A trailing group without its padding is dropped, as Mbed TLS does.
            (b"QUJDRA", b"ABC"),
            (b"QQ=", b""),
            // Errors give an empty value.
            (b"QU JD", b""),
            (b"QUJD!", b""),
            (b"QQ==QQ==", b""),
            (b"QQ===", b""),
            (b"QUJD\rREVG", b""),
            (b"Q-_D", b""),
            // The input ends at the first NUL.
            (b"QUJD\0!!", b"ABC"),
        ],
    );
}

#[test]
fn base64_forgiving() {
    check(
        T::Base64DecodeExt,
        &[
            (b"Q!U@J#D", b"ABC"),
            (b"QUJD\0REVG", b"ABCDEF"),
            (b"QUJDRA", b"ABCD"),
            // A lone `=` after one digit of a group empties the output.
            (b"QUJDQ=x", b""),
            (b"QUJDQ==x", b""),
            (b"QUJDQQ==", b"ABCA"),
        ],
    );
    assert_eq!(run(T::Base64DecodeExt, b"ab+/"), run(T::Base64DecodeExt, b"ab-_"));
}

#[test]
fn hex() {
    check(T::HexDecode, &[(b"4a4B", b"JK"), (b"414", b"A")]);
    check(T::SqlHexDecode, &[(b"SELECT 0X41424", b"SELECT AB4"), (b"0x", b"0x"), (b"0x4", b"0x4"), (b"x0x41", b"xA")]);
}

#[test]
fn escapes() {
    check(T::UrlDecodeUni, &[(b"%U0041%uFF21%uff7f%u00", b"A\x41\x7f%u00")]);
    check(T::JsDecode, &[(b"\\u0041\\x42\\103\\q\\400", b"ABCq 0"), (b"\\U0041\\X41", b"U0041X41")]);
    check(T::EscapeSeqDecode, &[(b"\\X41\\777\\q\\400", b"A\xffq\x00")]);
    check(T::CssDecode, &[(b"ja\\vascript", b"javascript"), (b"\\41 B\\42\tC", b"ABBC"), (b"\\\n", b"")]);
}

#[test]
fn paths() {
    check(T::NormalizePath, &[(b"/a/b/../c/./d//e", b"/a/c/d/e"), (b"/../../x", b"/x"), (b"/a/..", b"")]);
    check(T::NormalizePathWin, &[(b"C:\\a\\..\\b", b"C:/b"), (b"\\a\\\\b\\", b"/a/b/")]);
}

#[test]
fn unchanged_input_stays_borrowed() {
    let cases: &[(T, &[u8])] = &[
        (T::UrlDecode, b"%zz%"),
        (T::UrlDecodeUni, b"%uzzzz"),
        (T::HtmlEntityDecode, b"&foo;"),
        (T::JsDecode, b"\\"),
        (T::CssDecode, b"plain"),
        (T::Base64Decode, b""),
        (T::Base64DecodeExt, b""),
        (T::HexDecode, b""),
        (T::SqlHexDecode, b"0xzz"),
        (T::EscapeSeqDecode, b"\\"),
        (T::Utf8ToUnicode, b"\x80"),
        (T::None, b"AnyThing"),
        (T::Lowercase, b"lower"),
        (T::Uppercase, b"UPPER"),
        (T::CompressWhiteSpace, b"a b c"),
        (T::RemoveWhitespace, b"abc"),
        (T::Trim, b"a b"),
        (T::TrimLeft, b"a "),
        (T::TrimRight, b" a"),
        (T::CmdLine, b"cat/x"),
        (T::NormalizePath, b"/a/b"),
        (T::NormalizePathWin, b"/a/b"),
        (T::RemoveNulls, b"abc"),
        (T::ReplaceNulls, b"abc"),
        (T::ReplaceComments, b"a */"),
        (T::RemoveCommentsChar, b"a-b"),
    ];
    for &(t, input) in cases {
        assert!(matches!(t.apply(input), Cow::Borrowed(b) if b == input), "{t} should borrow {input:?}");
    }
    assert!(matches!(T::Trim.apply(b"  ab "), Cow::Borrowed(b"ab")));
}

#[test]
fn apply_all_runs_in_order() {
    assert_eq!(&*apply_all(&[T::UrlDecode, T::Lowercase], b"%41B"), b"ab");
    assert_eq!(&*apply_all(&[T::Lowercase, T::UrlDecode], b"%4A"), b"J");
    assert_eq!(&*apply_all(&[T::UrlDecode, T::Trim, T::Uppercase], b"%20a%20"), b"A");
    assert_eq!(&*apply_all(&[T::UrlDecode, T::TrimLeft, T::TrimRight], b"+%09x+"), b"x");
    assert_eq!(&*apply_all(&[], b"x"), b"x");
    assert!(matches!(apply_all(&[T::Lowercase, T::Trim, T::None], b"abc"), Cow::Borrowed(b"abc")));
    assert!(matches!(apply_all(&[T::TrimLeft], b" abc"), Cow::Borrowed(b"abc")));
}

#[test]
fn base64_ext_head_is_the_start_of_the_whole_decoding() {
    let digits = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/-_ ";
    let mut seed = 7u32;
    for len in 0..40 {
        for _ in 0..50 {
            let input: Vec<u8> = (0..len)
                .map(|_| {
                    seed = seed.wrapping_mul(1_103_515_245).wrapping_add(12_345);
                    digits[(seed >> 16) as usize % digits.len()]
                })
                .collect();
            let spaced: Vec<u8> = input.iter().map(|&b| if b == b' ' { b'+' } else { b }).collect();
            let whole = T::Base64DecodeExt.apply(&spaced);
            let (head, n) = super::base64_ext_head(&input);
            assert_eq!(n, (len.min(16) / 4) * 3, "{}", input.escape_ascii());
            assert_eq!(&head[..n], &whole[..n], "{}", input.escape_ascii());
        }
    }
}
