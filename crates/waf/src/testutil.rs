//! Fixtures shared by the unit tests.

use std::net::IpAddr;

use crate::RequestView;

/// A `GET /` from 127.0.0.1 with this query and these headers, and no body.
pub(crate) fn view(query: &'static [u8], headers: &[(&'static str, &'static [u8])]) -> RequestView<'static> {
    RequestView {
        method: "GET",
        path: b"/",
        query,
        headers: headers.to_vec(),
        client_ip: IpAddr::from([127, 0, 0, 1]),
        body: None,
        body_truncated: false,
        content_type: None,
        route: None,
        now_s: 1_700_000_000,
        challenge_token_issued_s: None,
        bot_verified: None,
    }
}

/// [`view`] with this body, cut at the limit or not.
pub(crate) fn with_body(body: &'static [u8], truncated: bool) -> RequestView<'static> {
    RequestView { body: Some(body), body_truncated: truncated, ..view(b"", &[]) }
}
