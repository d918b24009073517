//! Reading a request's signature: the `Authorization` header or the presigned query.

use http::HeaderMap;

use super::encode::query_decode;
use super::error::MissingPart;
use super::time::{http_date_to_amz, parse_amz_date};
use super::{Carrier, Request, Scope, SigV4Error, Signature, ALGORITHM, MAX_PRESIGN_EXPIRES};

/// Finds and parses the signature of a request. [`SigV4Error::Missing`] when it carries none.
pub fn parse(req: &Request<'_>) -> Result<Signature, SigV4Error> {
    let header = req.headers.get(http::header::AUTHORIZATION);
    let query = req.query.filter(|q| q.split('&').any(|p| param_name_is(p, "X-Amz-Algorithm")));
    match (header, query) {
        (Some(_), Some(_)) => Err(SigV4Error::BothCarriers),
        (Some(h), None) => from_header(h.as_bytes(), req.headers),
        (None, Some(q)) => from_query(q),
        (None, None) => Err(SigV4Error::Missing),
    }
}

/// The `x-amz-content-sha256` header as a digest, if present. Anything but 64 hex digits is
/// refused, `UNSIGNED-PAYLOAD` included: here the body is always signed.
pub fn declared_payload_hash(headers: &HeaderMap) -> Result<Option<String>, SigV4Error> {
    let Some(v) = headers.get("x-amz-content-sha256") else { return Ok(None) };
    let text = String::from_utf8_lossy(v.as_bytes());
    let ok =
        text.len() == 64 && text.bytes().all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b.to_ascii_lowercase()));
    if ok {
        Ok(Some(text.to_ascii_lowercase()))
    } else {
        Err(SigV4Error::ContentSha256(text.chars().take(64).collect()))
    }
}

fn param_name_is(pair: &str, name: &str) -> bool {
    pair.split('=').next().is_some_and(|k| k.eq_ignore_ascii_case(name))
}

fn from_header(raw: &[u8], headers: &HeaderMap) -> Result<Signature, SigV4Error> {
    let raw = std::str::from_utf8(raw).map_err(|_| SigV4Error::NotKeyValue)?.trim();
    let (algorithm, rest) = raw.split_once(' ').unwrap_or((raw, ""));
    let (mut credential, mut signed, mut signature) = (None, None, None);
    for part in rest.split(',').map(str::trim).filter(|p| !p.is_empty()) {
        let (k, v) = part.split_once('=').ok_or(SigV4Error::NotKeyValue)?;
        let (slot, name) = match k.trim() {
            "Credential" => (&mut credential, "Credential"),
            "SignedHeaders" => (&mut signed, "SignedHeaders"),
            "Signature" => (&mut signature, "Signature"),
            _ => continue,
        };
        if slot.replace(v.trim()).is_some() {
            return Err(SigV4Error::DuplicateParameter(name));
        }
    }
    if algorithm != ALGORITHM {
        return Err(SigV4Error::Algorithm(algorithm_for_echo(algorithm)));
    }
    let amz_date = match headers.get("x-amz-date") {
        Some(v) => Some(v.to_str().map_err(|_| SigV4Error::DateFormat("<not text>".into()))?.to_owned()),
        None => headers.get(http::header::DATE).map(|v| http_date_to_amz(v.to_str().unwrap_or(""))).transpose()?,
    };
    let missing: Vec<MissingPart> = [
        (credential.is_none(), MissingPart::Credential),
        (signature.is_none(), MissingPart::Signature),
        (signed.is_none(), MissingPart::SignedHeaders),
        (amz_date.is_none(), MissingPart::Date),
    ]
    .into_iter()
    .filter_map(|(absent, part)| absent.then_some(part))
    .collect();
    let (Some(credential), Some(signed), Some(signature), Some(amz_date)) = (credential, signed, signature, amz_date)
    else {
        return Err(SigV4Error::MissingParameters(missing));
    };
    let token = headers.get("x-amz-security-token").map(|v| String::from_utf8_lossy(v.as_bytes()).into_owned());
    build(Carrier::Header, credential, signed, signature, amz_date, None, token)
}

fn from_query(query: &str) -> Result<Signature, SigV4Error> {
    let mut found: [Option<String>; 7] = Default::default();
    const NAMES: [&str; 7] = [
        "X-Amz-Algorithm",
        "X-Amz-Credential",
        "X-Amz-Date",
        "X-Amz-Expires",
        "X-Amz-SignedHeaders",
        "X-Amz-Signature",
        "X-Amz-Security-Token",
    ];
    for pair in query.split('&') {
        let (k, v) = pair.split_once('=').unwrap_or((pair, ""));
        let k = String::from_utf8_lossy(&query_decode(k)).into_owned();
        if let Some(i) = NAMES.iter().position(|n| *n == k) {
            if found[i].replace(String::from_utf8_lossy(&query_decode(v)).into_owned()).is_some() {
                return Err(SigV4Error::DuplicateParameter(NAMES[i]));
            }
        }
    }
    let [Some(alg), Some(cred), Some(date), Some(exp), Some(signed), Some(sig), token] = found else {
        return Err(SigV4Error::MissingQueryParameters);
    };
    if alg != ALGORITHM {
        return Err(SigV4Error::Algorithm(algorithm_for_echo(&alg)));
    }
    let expires = exp.parse::<u32>().ok().filter(|e| (1..=MAX_PRESIGN_EXPIRES).contains(e));
    let Some(expires) = expires else { return Err(SigV4Error::Expires(exp.chars().take(32).collect())) };
    build(Carrier::Query, &cred, &signed, &sig, date, Some(expires), token)
}

/// An algorithm name is echoed in the error only when it looks like one: a header without a
/// space may be a bare token, which must not travel back or into logs.
fn algorithm_for_echo(algorithm: &str) -> String {
    let looks_like_name = (1..=32).contains(&algorithm.len())
        && algorithm.bytes().all(|b| b.is_ascii_uppercase() || b.is_ascii_digit() || b == b'-');
    if looks_like_name {
        algorithm.to_owned()
    } else {
        "<redacted>".to_owned()
    }
}

fn build(
    carrier: Carrier,
    credential: &str,
    signed: &str,
    signature: &str,
    amz_date: String,
    expires: Option<u32>,
    security_token: Option<String>,
) -> Result<Signature, SigV4Error> {
    let parts: Vec<&str> = credential.split('/').collect();
    let [akid, date, region, service, terminator] = parts[..] else {
        return Err(SigV4Error::CredentialShape(credential.chars().take(128).collect()));
    };
    if terminator != "aws4_request" {
        return Err(SigV4Error::Terminator(terminator.chars().take(32).collect()));
    }
    let timestamp = parse_amz_date(&amz_date)?;
    if !amz_date.starts_with(date) || date.len() != 8 {
        return Err(SigV4Error::ScopeDate { scope: date.to_owned(), date: amz_date[..8].to_owned(), amz_date });
    }
    let signed_headers = signed_header_list(signed)?;
    let mut sig = [0u8; 32];
    if signature.len() != 64 || hex::decode_to_slice(signature, &mut sig).is_err() {
        return Err(SigV4Error::SignatureShape);
    }
    Ok(Signature {
        carrier,
        access_key_id: akid.to_owned(),
        scope: Scope { date: date.to_owned(), region: region.to_owned(), service: service.to_owned() },
        signed_headers,
        amz_date,
        timestamp,
        expires,
        security_token,
        signature: sig,
    })
}

fn signed_header_list(signed: &str) -> Result<Vec<String>, SigV4Error> {
    let names: Vec<String> = signed.split(';').map(str::to_owned).collect();
    let valid = |n: &String| {
        !n.is_empty()
            && n.bytes().all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b"-_.!#$%&'*+^`|~".contains(&b))
    };
    if names.iter().all(valid) {
        Ok(names)
    } else {
        Err(SigV4Error::SignedHeadersShape(signed.chars().take(256).collect()))
    }
}
