//! The hosted sign-in page: plain HTML forms, no script, with headers that keep it out of
//! frames and caches and let it post only to itself.

use http::HeaderValue;

use super::api::PoolResponse;
use super::oauth::AuthRequest;

/// The sign-in form, carrying the authorization request along, and a link per identity
/// provider.
/// `base` is the path the pool is served under (`/auth`): the page's links and forms are
/// absolute paths, right whichever of the pool's URLs shows it.
pub(super) fn sign_in(
    pool: &str,
    base: &str,
    r: &AuthRequest,
    providers: &[&str],
    error: Option<&str>,
) -> PoolResponse {
    let links: String = providers
        .iter()
        .map(|p| {
            let query = provider_query(r, p);
            format!(
                r#"<p><a class="idp" href="{}/oauth2/idp?{}">Sign in with {}</a></p>"#,
                escape(base),
                escape(&query),
                escape(p)
            )
        })
        .collect();
    let body = format!(
        r#"<h1>Sign in</h1>{error}{links}<form method="post" action="{base}/login">{hidden}
<label>User name <input name="username" autocomplete="username" required autofocus></label>
<label>Password <input name="password" type="password" autocomplete="current-password" required></label>
<button type="submit">Sign in</button></form>"#,
        error = error_text(error),
        hidden = hidden(r, None),
        base = escape(base),
    );
    page(if error.is_some() { 400 } else { 200 }, pool, &body, Some(&r.redirect_uri))
}

/// The TOTP step.
pub(super) fn mfa(pool: &str, base: &str, r: &AuthRequest, session: &str, error: Option<&str>) -> PoolResponse {
    let body = format!(
        r#"<h1>Enter your code</h1>{error}<form method="post" action="{base}/login/mfa">{hidden}
<label>Code from your authenticator app <input name="code" inputmode="numeric" autocomplete="one-time-code" pattern="[0-9]{{6}}" required autofocus></label>
<button type="submit">Continue</button></form>"#,
        error = error_text(error),
        hidden = hidden(r, Some(session)),
        base = escape(base),
    );
    page(if error.is_some() { 400 } else { 200 }, pool, &body, Some(&r.redirect_uri))
}

/// A request that cannot be sent back to the application.
pub(super) fn refused(pool: &str, why: &str) -> PoolResponse {
    page(400, pool, &format!("<h1>This sign-in cannot go on</h1><p>{}</p>", escape(why)), None)
}

/// A 302 to `location`.
pub(super) fn redirect(location: &str) -> PoolResponse {
    let mut r = PoolResponse { status: 302, content_type: "text/plain", headers: Vec::new(), body: Vec::new() };
    if let Ok(v) = HeaderValue::from_str(location) {
        r.headers.push((http::header::LOCATION, v));
    }
    r.headers.push((http::header::CACHE_CONTROL, HeaderValue::from_static("no-store")));
    r
}

fn error_text(error: Option<&str>) -> String {
    error.map(|e| format!(r#"<p role="alert" class="error">{}</p>"#, escape(e))).unwrap_or_default()
}

/// The query of `/oauth2/idp` for provider `p`: the authorization request again.
fn provider_query(r: &AuthRequest, p: &str) -> String {
    let mut q = form_urlencoded::Serializer::new(String::new());
    q.append_pair("provider", p);
    for (k, v) in request_fields(r) {
        q.append_pair(k, v);
    }
    q.finish()
}

fn request_fields(r: &AuthRequest) -> Vec<(&'static str, &str)> {
    let mut fields = vec![
        ("response_type", "code"),
        ("client_id", r.client_id.as_str()),
        ("redirect_uri", r.redirect_uri.as_str()),
        ("state", r.state.as_str()),
        ("scope", r.scope.as_str()),
        ("nonce", r.nonce.as_str()),
        ("code_challenge", r.code_challenge.as_str()),
    ];
    if !r.code_challenge.is_empty() {
        fields.push(("code_challenge_method", "S256"));
    }
    fields
}

fn hidden(r: &AuthRequest, session: Option<&str>) -> String {
    let mut fields = request_fields(r);
    if let Some(s) = session {
        fields.push(("session", s));
    }
    fields.iter().map(|(k, v)| format!(r#"<input type="hidden" name="{k}" value="{}">"#, escape(v))).collect()
}

/// A page; its forms may post to the pool and be redirected to `redirect_uri`'s origin only
/// (browsers apply `form-action` to where a form's answer redirects, too).
fn page(status: u16, pool: &str, body: &str, redirect_uri: Option<&str>) -> PoolResponse {
    let html = format!(
        r#"<!doctype html><html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width">
<title>Sign in — {pool}</title><style>body{{font-family:system-ui,sans-serif;max-width:24rem;margin:4rem auto;padding:0 1rem}}
label{{display:block;margin:1rem 0}}input{{display:block;width:100%;padding:.5rem;font-size:1rem}}
button{{padding:.6rem 1.2rem;font-size:1rem}}.error{{color:#b00020}}</style></head><body>{body}</body></html>"#,
        pool = escape(pool),
    );
    let origin = redirect_uri
        .and_then(|u| u.parse::<http::Uri>().ok())
        .and_then(|u| Some(format!(" {}://{}", u.scheme_str()?, u.authority()?)));
    let csp = format!(
        "default-src 'none'; style-src 'unsafe-inline'; form-action 'self'{}; frame-ancestors 'none'; base-uri 'none'",
        origin.unwrap_or_default()
    );
    let mut headers: Vec<(http::HeaderName, HeaderValue)> = [
        (http::header::X_FRAME_OPTIONS, "DENY"),
        (http::header::CACHE_CONTROL, "no-store"),
        (http::header::REFERRER_POLICY, "no-referrer"),
    ]
    .into_iter()
    .map(|(k, v)| (k, HeaderValue::from_static(v)))
    .collect();
    if let Ok(v) = HeaderValue::from_str(&csp) {
        headers.push((http::header::CONTENT_SECURITY_POLICY, v));
    }
    PoolResponse { status, content_type: "text/html; charset=utf-8", headers, body: html.into_bytes() }
}

/// [`escape`], for the fuzz target.
#[cfg(fuzzing)]
pub(super) fn escape_for_fuzzing(text: &str) -> String {
    escape(text)
}

/// Text safe in HTML text and attribute values.
fn escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn values_are_escaped_in_the_page() {
        let r = AuthRequest {
            client_id: "web".into(),
            redirect_uri: "https://app.example/cb".into(),
            state: r#""><script>alert(1)</script>"#.into(),
            scope: "openid".into(),
            nonce: String::new(),
            code_challenge: String::new(),
        };
        let p = sign_in("main", "/auth", &r, &["corp"], Some("<b>bad</b>"));
        let html = String::from_utf8(p.body).unwrap_or_default();
        assert!(!html.contains("<script>") && !html.contains("<b>bad"), "{html}");
        assert!(html.contains("&quot;&gt;&lt;script&gt;"));
        assert!(
            html.contains(r#"action="/auth/login""#) && html.contains(r#"href="/auth/oauth2/idp?provider=corp&amp;"#),
            "{html}"
        );
        assert!(p.headers.iter().any(|(k, v)| k == http::header::X_FRAME_OPTIONS && v == "DENY"));
        let csp = p.headers.iter().find(|(k, _)| k == http::header::CONTENT_SECURITY_POLICY).map(|(_, v)| v.clone());
        assert!(
            csp.is_some_and(|v| v.to_str().unwrap_or("").contains("form-action 'self' https://app.example;")),
            "the form's answer may redirect to the app, and nowhere else"
        );
    }
}
