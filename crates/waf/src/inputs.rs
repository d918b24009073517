//! Every value of a request that managed rules inspect, named by where it came from, with the
//! views an attacker's encoding may hide it behind.
//!
//! Managed rules look everywhere: the path, every query argument, the body as its content type
//! says (form, multipart, JSON, anything else as text), every cookie and every header. Each
//! value is first decoded the way the application will read it (URL decoding for the path,
//! query and form fields; JSON unescaping), then two more views are added when they exist:
//! what is left after further URL decoding (double encoding), and what a value that is plainly
//! Base64 decodes to, when that is readable text. Attack payloads hidden either way were missed
//! by every OWASP CRS configuration measured for this project.

use std::borrow::Cow;
use std::fmt::Write as _;

use serde::de::{self, DeserializeSeed, Deserializer, MapAccess, SeqAccess, Visitor};
use smallvec::SmallVec;

use crate::request::split_once;
use crate::{RequestView, Transformation};

/// Where an input comes from.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Part {
    /// The URI path.
    Path,
    /// A query argument's name or value.
    Query,
    /// A header's value.
    Header,
    /// A cookie's name or value.
    Cookie,
    /// A body field's name or value, or the whole body.
    Body,
}

/// One value of the request and its views.
#[derive(Clone, Debug)]
pub(crate) struct Input<'v> {
    /// Where it comes from.
    pub(crate) part: Part,
    /// The name within the part (query argument, header, cookie, form field, JSON Pointer); empty
    /// for the path and a whole body.
    pub(crate) name: Cow<'v, str>,
    /// The value as the application reads it, then the further decodings that differ from it
    /// (most values have none, and need no allocation for the list).
    pub(crate) views: SmallVec<[Cow<'v, [u8]>; 1]>,
}

/// Every input of `view`, in the order path, query, headers, cookies, body.
#[cfg(test)]
pub(crate) fn collect<'v>(view: &RequestView<'v>) -> Vec<Input<'v>> {
    collect_except(view, |_| false)
}

/// [`collect`], leaving out the header values `skip` names.
pub(crate) fn collect_except<'v>(view: &RequestView<'v>, skip: impl Fn(&[u8]) -> bool) -> Vec<Input<'v>> {
    // Room for the usual request without growing: a few query arguments, the headers, and a
    // body field for every few dozen bytes.
    let mut out = Vec::with_capacity(8 + view.headers.len() + view.body.map_or(0, |b| b.len() / 24));
    push(&mut out, Part::Path, Cow::Borrowed(""), url(view.path));
    for (name, value) in view.query_args() {
        let name = text(name);
        push_name(&mut out, Part::Query, name.clone());
        push(&mut out, Part::Query, name, url(value));
    }
    for &(name, value) in &view.headers {
        if name != "cookie" && !skip(value) {
            push(&mut out, Part::Header, Cow::Borrowed(name), Cow::Borrowed(value));
        }
    }
    for (name, value) in view.cookies() {
        let name = text(Cow::Borrowed(name));
        push_name(&mut out, Part::Cookie, name.clone());
        push(&mut out, Part::Cookie, name, url(value));
    }
    if let Some(body) = view.body.filter(|b| !b.is_empty()) {
        body_inputs(&mut out, body, view.content_type.unwrap_or(""));
    }
    out
}

/// The inputs of a body, by its content type.
fn body_inputs<'v>(out: &mut Vec<Input<'v>>, body: &'v [u8], content_type: &str) {
    let media = content_type.split(';').next().unwrap_or("").trim().to_ascii_lowercase();
    match media.as_str() {
        "application/x-www-form-urlencoded" => {
            for pair in body.split(|&b| b == b'&').filter(|p| !p.is_empty()) {
                let (name, value) = split_once(pair, b'=');
                let name = text(Transformation::UrlDecode.apply(name));
                push_name(out, Part::Body, name.clone());
                push(out, Part::Body, name, url(value));
            }
        }
        "multipart/form-data" => match boundary(content_type) {
            Some(b) => multipart(out, body, b.as_bytes()),
            None => push(out, Part::Body, Cow::Borrowed(""), Cow::Borrowed(body)),
        },
        m if m == "application/json" || m.ends_with("+json") => {
            let start = out.len();
            let mut de = serde_json::Deserializer::from_slice(body);
            let parsed = JsonInputs { out: &mut *out, pointer: &mut String::with_capacity(POINTER_CAPACITY) }
                .deserialize(&mut de);
            if parsed.and_then(|()| de.end()).is_err() {
                // Not JSON after all: the body as one text.
                out.truncate(start);
                push(out, Part::Body, Cow::Borrowed(""), Cow::Borrowed(body));
            }
        }
        _ => push(out, Part::Body, Cow::Borrowed(""), Cow::Borrowed(body)),
    }
}

/// The fields of a multipart body: each part's name (as its field name), file name and content.
fn multipart<'v>(out: &mut Vec<Input<'v>>, body: &'v [u8], boundary: &[u8]) {
    let delimiter = [b"--".as_slice(), boundary].concat();
    for part in split_all(body, &delimiter).skip(1) {
        if part.starts_with(b"--") {
            break;
        }
        let part = part.strip_prefix(b"\r\n").unwrap_or(part);
        let (head, content) = match find(part, b"\r\n\r\n") {
            Some(i) => (&part[..i], &part[i + 4..]),
            None => (part, &[][..]),
        };
        let content = content.strip_suffix(b"\r\n").unwrap_or(content);
        let name = disposition_param(head, b"name").map(|n| text(Cow::Borrowed(n))).unwrap_or_default();
        if let Some(file) = disposition_param(head, b"filename") {
            push(out, Part::Body, name.clone(), Cow::Borrowed(file));
        }
        push(out, Part::Body, name, Cow::Borrowed(content));
    }
}

/// Every key and string of a JSON document, named by JSON Pointer, pushed while the document
/// is parsed: no tree is built, and strings without escapes stay borrowed from the body.
struct JsonInputs<'o, 'v> {
    out: &'o mut Vec<Input<'v>>,
    /// The pointer of the value being parsed.
    pointer: &'o mut String,
}

impl<'de, 'o> DeserializeSeed<'de> for JsonInputs<'o, 'de> {
    type Value = ();

    fn deserialize<D: Deserializer<'de>>(self, deserializer: D) -> Result<(), D::Error> {
        deserializer.deserialize_any(self)
    }
}

impl<'de, 'o> Visitor<'de> for JsonInputs<'o, 'de> {
    type Value = ();

    fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("JSON")
    }

    fn visit_borrowed_str<E: de::Error>(self, v: &'de str) -> Result<(), E> {
        push(self.out, Part::Body, Cow::Owned(self.pointer.clone()), Cow::Borrowed(v.as_bytes()));
        Ok(())
    }

    fn visit_str<E: de::Error>(self, v: &str) -> Result<(), E> {
        push(self.out, Part::Body, Cow::Owned(self.pointer.clone()), Cow::Owned(v.as_bytes().to_vec()));
        Ok(())
    }

    // Numbers, booleans and null carry no payload.
    fn visit_bool<E: de::Error>(self, _: bool) -> Result<(), E> {
        Ok(())
    }

    fn visit_i64<E: de::Error>(self, _: i64) -> Result<(), E> {
        Ok(())
    }

    fn visit_u64<E: de::Error>(self, _: u64) -> Result<(), E> {
        Ok(())
    }

    fn visit_f64<E: de::Error>(self, _: f64) -> Result<(), E> {
        Ok(())
    }

    fn visit_unit<E: de::Error>(self) -> Result<(), E> {
        Ok(())
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<(), A::Error> {
        let len = self.pointer.len();
        let mut i = 0usize;
        loop {
            self.pointer.truncate(len);
            self.pointer.push('/');
            // Writing to a String cannot fail.
            let _ = write!(self.pointer, "{i}");
            if seq.next_element_seed(JsonInputs { out: &mut *self.out, pointer: &mut *self.pointer })?.is_none() {
                break;
            }
            i += 1;
        }
        self.pointer.truncate(len);
        Ok(())
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<(), A::Error> {
        let len = self.pointer.len();
        while let Some(key) = map.next_key_seed(Key)? {
            self.pointer.truncate(len);
            self.pointer.push('/');
            if key.contains(['~', '/']) {
                self.pointer.push_str(&key.replace('~', "~0").replace('/', "~1"));
            } else {
                self.pointer.push_str(&key);
            }
            if !key.bytes().all(|b| b.is_ascii_alphanumeric() || matches!(b, b'_' | b'-')) {
                let key = match key {
                    Cow::Borrowed(k) => Cow::Borrowed(k.as_bytes()),
                    Cow::Owned(k) => Cow::Owned(k.into_bytes()),
                };
                push(self.out, Part::Body, Cow::Owned(self.pointer.clone()), key);
            }
            map.next_value_seed(JsonInputs { out: &mut *self.out, pointer: &mut *self.pointer })?;
        }
        self.pointer.truncate(len);
        Ok(())
    }
}

/// A JSON key, borrowed from the body when it has no escapes (serde's own `Cow<str>` always
/// copies).
struct Key;

impl<'de> DeserializeSeed<'de> for Key {
    type Value = Cow<'de, str>;

    fn deserialize<D: Deserializer<'de>>(self, deserializer: D) -> Result<Self::Value, D::Error> {
        deserializer.deserialize_str(self)
    }
}

impl<'de> Visitor<'de> for Key {
    type Value = Cow<'de, str>;

    fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("a JSON key")
    }

    fn visit_borrowed_str<E: de::Error>(self, v: &'de str) -> Result<Self::Value, E> {
        Ok(Cow::Borrowed(v))
    }

    fn visit_str<E: de::Error>(self, v: &str) -> Result<Self::Value, E> {
        Ok(Cow::Owned(v.to_owned()))
    }
}

/// Adds a name (of a query argument, cookie, form field or JSON key) as an input, unless it is
/// a plain identifier (letters, digits, `_`, `-`): such a name carries nothing any rule looks
/// for, and most names are one. (A dotted name can: `class.module.classLoader`.)
fn push_name<'v>(out: &mut Vec<Input<'v>>, part: Part, name: Cow<'v, str>) {
    if name.bytes().all(|b| b.is_ascii_alphanumeric() || matches!(b, b'_' | b'-')) {
        return;
    }
    let bytes = match &name {
        Cow::Borrowed(n) => Cow::Borrowed(n.as_bytes()),
        Cow::Owned(n) => Cow::Owned(n.as_bytes().to_vec()),
    };
    push(out, part, name, bytes);
}

/// Adds one input with its views, unless the value is empty.
fn push<'v>(out: &mut Vec<Input<'v>>, part: Part, name: Cow<'v, str>, value: Cow<'v, [u8]>) {
    if value.is_empty() {
        return;
    }
    let mut views: SmallVec<[Cow<'v, [u8]>; 1]> = smallvec::smallvec![value];
    // Double (or triple) URL encoding: decode while escapes remain.
    for _ in 0..MAX_EXTRA_DECODES {
        let Some(last) = views.last() else { break };
        if !has_escape(last) {
            break;
        }
        let decoded = url(last).into_owned();
        views.push(Cow::Owned(decoded));
    }
    if let Some(decoded) = views.first().and_then(|v| base64_text(v)) {
        views.push(Cow::Owned(decoded));
    }
    out.push(Input { part, name, views });
}

/// The value URL-decoded as applications and lenient servers read the path, query and forms:
/// `%HH` is the byte, `+` a space, and IIS's `%uHHHH` the character in UTF-8 (full-width
/// ASCII as ASCII). Unlike `URL_DECODE_UNI`, which keeps the low byte, this lets the rules see
/// look-alikes such as `%u2215` (a slash).
fn url(raw: &[u8]) -> Cow<'_, [u8]> {
    if memchr::memchr2(b'%', b'+', raw).is_none() {
        return Cow::Borrowed(raw);
    }
    let hex = |i: usize| raw.get(i).and_then(|b| (*b as char).to_digit(16));
    let mut out = Vec::with_capacity(raw.len());
    let mut i = 0;
    while let Some(&b) = raw.get(i) {
        match b {
            b'+' => out.push(b' '),
            b'%' if matches!(raw.get(i + 1), Some(b'u' | b'U')) => {
                let code = (2..6).try_fold(0u32, |acc, k| hex(i + k).map(|d| acc * 16 + d));
                match code {
                    Some(c @ 0xff01..=0xff5e) => out.push(u8::try_from(c - 0xfee0).unwrap_or(b'?')),
                    Some(c) => {
                        let ch = char::from_u32(c).unwrap_or(char::REPLACEMENT_CHARACTER);
                        out.extend_from_slice(ch.encode_utf8(&mut [0; 4]).as_bytes());
                    }
                    None => {
                        out.push(b'%');
                        i += 1;
                        continue;
                    }
                }
                i += 6;
                continue;
            }
            b'%' => match (hex(i + 1), hex(i + 2)) {
                (Some(h), Some(l)) => {
                    out.push(u8::try_from(h * 16 + l).unwrap_or(0));
                    i += 3;
                    continue;
                }
                _ => out.push(b'%'),
            },
            other => out.push(other),
        }
        i += 1;
    }
    Cow::Owned(out)
}

/// A name as text, replacing bytes that are not UTF-8.
fn text(bytes: Cow<'_, [u8]>) -> Cow<'_, str> {
    match bytes {
        Cow::Borrowed(b) => String::from_utf8_lossy(b),
        Cow::Owned(b) => Cow::Owned(String::from_utf8_lossy(&b).into_owned()),
    }
}

/// Whether `value` holds a `%HH` or `%uHHHH` escape.
fn has_escape(value: &[u8]) -> bool {
    memchr::memchr_iter(b'%', value).any(|i| match (value.get(i + 1), value.get(i + 2)) {
        (Some(h), Some(l)) => h.is_ascii_hexdigit() && l.is_ascii_hexdigit() || h | 0x20 == b'u',
        _ => false,
    })
}

/// What `value` decodes to when it is plainly Base64 (standard or URL alphabet, padding
/// optional, at least [`MIN_BASE64`] characters, both letters and digits or symbols) and the
/// result is readable text. Random tokens that happen to use the alphabet decode to bytes that
/// are not, and are left alone.
fn base64_text(value: &[u8]) -> Option<Vec<u8>> {
    // A `+` of the alphabet reads as a space once a form or query is decoded.
    let digit = |b: &u8| b.is_ascii_alphanumeric() || matches!(b, b'+' | b'/' | b'-' | b'_' | b' ');
    let body = value.strip_suffix(b"==").or_else(|| value.strip_suffix(b"=")).unwrap_or(value);
    if body.len() < MIN_BASE64 || !body.iter().all(digit) {
        return None;
    }
    // A word or a number alone is not Base64 worth decoding.
    if body.iter().all(u8::is_ascii_lowercase) || body.iter().all(u8::is_ascii_digit) {
        return None;
    }
    // Tokens that merely use the alphabet decode to random bytes, which stop being UTF-8
    // within the first few: a look at those first, without allocating.
    let (head, len) = crate::transform::base64_ext_head(body);
    if std::str::from_utf8(head.get(..len).unwrap_or_default()).is_err_and(|e| e.error_len().is_some()) {
        return None;
    }
    let decoded = if value.contains(&b' ') {
        let spaced: Vec<u8> = value.iter().map(|&b| if b == b' ' { b'+' } else { b }).collect();
        Transformation::Base64DecodeExt.apply(&spaced).into_owned()
    } else {
        Transformation::Base64DecodeExt.apply(value).into_owned()
    };
    let readable = std::str::from_utf8(&decoded).ok()?;
    let printable = readable.chars().filter(|c| !c.is_control() || c.is_whitespace()).count();
    (decoded.len() >= MIN_DECODED && printable * 100 >= readable.chars().count() * 95).then_some(decoded)
}

/// The boundary parameter of a multipart content type.
pub(crate) fn boundary(content_type: &str) -> Option<&str> {
    content_type.split(';').skip(1).find_map(|p| {
        let (k, v) = p.trim().split_once('=')?;
        k.trim().eq_ignore_ascii_case("boundary").then(|| v.trim().trim_matches('"')).filter(|b| !b.is_empty())
    })
}

/// A parameter (`name="…"`) of a part's Content-Disposition header.
fn disposition_param<'a>(head: &'a [u8], key: &[u8]) -> Option<&'a [u8]> {
    let mut needle = Vec::with_capacity(key.len() + 2);
    needle.extend_from_slice(key);
    needle.extend_from_slice(b"=\"");
    let mut from = 0;
    while let Some(at) = find(&head[from..], &needle).map(|i| i + from) {
        // `name=` must not be the tail of `filename=`.
        let preceded = at.checked_sub(1).and_then(|i| head.get(i)).is_some_and(|b| b.is_ascii_alphanumeric());
        let start = at + needle.len();
        if !preceded {
            let len = head[start..].iter().position(|&b| b == b'"')?;
            return Some(&head[start..start + len]);
        }
        from = start;
    }
    None
}

/// `hay` split on every `sep`.
fn split_all<'a, 's>(hay: &'a [u8], sep: &'s [u8]) -> impl Iterator<Item = &'a [u8]> + use<'a, 's> {
    let mut rest = Some(hay);
    std::iter::from_fn(move || {
        let current = rest?;
        match find(current, sep) {
            Some(i) => {
                rest = Some(&current[i + sep.len()..]);
                Some(&current[..i])
            }
            None => {
                rest = None;
                Some(current)
            }
        }
    })
}

/// Where `needle` first occurs in `hay`.
fn find(hay: &[u8], needle: &[u8]) -> Option<usize> {
    crate::statement::find_from(hay, needle, 0)
}

/// Room for the usual JSON Pointer without growing.
const POINTER_CAPACITY: usize = 128;
/// URL decoding is repeated at most this many times beyond the first.
const MAX_EXTRA_DECODES: usize = 2;
/// Shorter values are not taken for Base64.
const MIN_BASE64: usize = 8;
/// Decoded Base64 shorter than this is not worth inspecting.
const MIN_DECODED: usize = 5;

#[cfg(test)]
mod tests;
