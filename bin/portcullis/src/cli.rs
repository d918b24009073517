//! `portcullis iam|sts|kms|admin|keys|plans|usage`: the command line as a client of the admin
//! API. Each subcommand is one HTTPS request, signed with SigV4 like an AWS SDK would sign it,
//! with credentials found the way the AWS CLI finds them. The JSON answer goes to stdout (or,
//! for `usage --format csv`, the CSV as it came; `usage --output FILE` writes it to a file); an
//! error goes to stderr as `portcullis: <status> <x-amzn-ErrorType>: <message>` with exit code 1.

mod commands;
mod credentials;
mod logs;
mod sign;

use std::io::Write as _;
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

use reqwest::Url;
use serde_json::Value;

pub(crate) use commands::{
    apply, status, AdminCommand, AlarmsCommand, AuditCommand, Call, CertsCommand, IamCommand, KeysCommand, KmsCommand,
    MetricsQueryArgs, PlansCommand, StsCommand, UsageArgs,
};
use commands::{Shows, Target};
pub(crate) use logs::LogsCommand;

/// How to reach the admin API. Accepted before or after the subcommand.
#[derive(Debug, clap::Args)]
#[command(next_help_heading = "Connection")]
pub(crate) struct Connection {
    /// The admin API's base URL (HTTPS only).
    #[arg(
        long,
        global = true,
        env = "PORTCULLIS_ADMIN_URL",
        default_value = "https://127.0.0.1:9443",
        value_name = "URL"
    )]
    endpoint: String,
    /// The region requests are signed for: the gateway's `iam.region` [default: AWS_REGION,
    /// else AWS_DEFAULT_REGION, else us-east-1].
    #[arg(long, global = true, value_name = "REGION")]
    region: Option<String>,
    /// The profile of the shared credentials file to use. Named here it wins over
    /// AWS_ACCESS_KEY_ID; otherwise AWS_PROFILE, else `default`, after the environment keys.
    #[arg(long, global = true, value_name = "NAME")]
    profile: Option<String>,
    /// PEM certificates to trust instead of the built-in web roots, such as the development
    /// certificate `data/dev-cert.pem`.
    #[arg(long, global = true, env = "PORTCULLIS_CA_FILE", value_name = "FILE")]
    ca_file: Option<PathBuf>,
}

/// The service name admin requests are signed for.
const SERVICE: &str = "portcullis";

/// Runs one client subcommand and returns the process's exit code.
pub(crate) fn main(conn: &Connection, call: Result<Call, String>) -> ExitCode {
    let result = call.and_then(|call| {
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .map_err(|e| format!("cannot start the runtime: {e}"))?;
        rt.block_on(execute(conn, call))
    });
    match result {
        Ok(code) => code,
        Err(message) => {
            eprintln!("portcullis: {message}");
            ExitCode::FAILURE
        }
    }
}

fn env(name: &str) -> Option<String> {
    std::env::var(name).ok().filter(|v| !v.is_empty())
}

/// A signed connection to the admin API: the client, the credentials and the region.
pub(crate) struct Session {
    client: reqwest::Client,
    creds: credentials::Credentials,
    region: String,
    base: Url,
}

/// An answer from the admin API.
pub(crate) struct Answer {
    pub(crate) status: reqwest::StatusCode,
    pub(crate) error_type: Option<String>,
    pub(crate) text: String,
}

impl Answer {
    /// The JSON body, if it is JSON.
    pub(crate) fn json(&self) -> Option<Value> {
        serde_json::from_str(&self.text).ok()
    }

    /// `<status> <x-amzn-ErrorType>: <message>`, for a failed call.
    pub(crate) fn error(&self) -> String {
        let json = self.json();
        // A refused config answers with every error found, one per line.
        let errors: Option<Vec<&str>> =
            json.as_ref().and_then(|v| v["errors"].as_array()).map(|a| a.iter().filter_map(Value::as_str).collect());
        let joined = errors.filter(|e| !e.is_empty()).map(|e| format!("\n{}", e.join("\n")));
        let message =
            joined.as_deref().or_else(|| json.as_ref().and_then(|v| v["message"].as_str())).unwrap_or(self.text.trim());
        let kind =
            self.error_type.clone().unwrap_or_else(|| self.status.canonical_reason().unwrap_or("Error").to_owned());
        format!("{} {kind}: {message}", self.status.as_u16())
    }
}

impl Session {
    /// Finds the credentials and checks the endpoint.
    pub(crate) fn open(conn: &Connection) -> Result<Self, String> {
        let creds = credentials::load(conn.profile.as_deref(), &env)?;
        let region = conn
            .region
            .clone()
            .or_else(|| env("AWS_REGION"))
            .or_else(|| env("AWS_DEFAULT_REGION"))
            .unwrap_or_else(|| "us-east-1".into());
        let base = Url::parse(&conn.endpoint).map_err(|e| format!("--endpoint `{}`: {e}", conn.endpoint))?;
        // Answers carry secrets (new access keys, session credentials): never over plain HTTP.
        if base.scheme() != "https" {
            return Err(format!("--endpoint must be an https:// URL, got `{}`", conn.endpoint));
        }
        Ok(Self { client: client(conn.ca_file.as_deref())?, creds, region, base })
    }

    /// Sends one signed call.
    pub(crate) async fn send(&self, call: &Call) -> Result<Answer, String> {
        let url = url_of(&self.base, &call.target)?;
        let mut request = self.client.request(call.method.clone(), url.clone());
        if let Some(body) = &call.body {
            request = request.header(reqwest::header::CONTENT_TYPE, "application/json").body(body.to_string());
        }
        let mut request = request.build().map_err(|e| format!("cannot build the request: {e}"))?;
        sign::sign_request(&mut request, &self.creds, &self.region, SERVICE)?;
        let response = self.client.execute(request).await.map_err(|e| format!("cannot reach {url}: {}", chain(&e)))?;
        let status = response.status();
        let error_type = response.headers().get("x-amzn-errortype").and_then(|v| v.to_str().ok()).map(str::to_owned);
        let text = response.text().await.map_err(|e| format!("cannot read the answer from {url}: {}", chain(&e)))?;
        Ok(Answer { status, error_type, text })
    }
}

async fn execute(conn: &Connection, call: Call) -> Result<ExitCode, String> {
    let answer = Session::open(conn)?.send(&call).await?;
    if !answer.status.is_success() {
        eprintln!("portcullis: {}", answer.error());
        return Ok(ExitCode::FAILURE);
    }
    let json = answer.json();
    let text = answer.text;
    let shown = match &json {
        Some(v) if call.shows != Shows::Text => {
            format!("{}\n{}", serde_json::to_string_pretty(v).unwrap_or_default(), exports(call.shows, v))
        }
        _ => text,
    };
    if let Some(path) = &call.output {
        std::fs::write(path, &shown).map_err(|e| format!("cannot write {}: {e}", path.display()))?;
        return Ok(ExitCode::SUCCESS);
    }
    let mut out = std::io::stdout().lock();
    // A closed stdout (`| head`) is not worth a panic; the request is done either way.
    let _ = out.write_all(shown.as_bytes()).and_then(|()| out.flush());
    drop(out);
    if json.is_some() {
        match call.shows {
            Shows::AccessKey => eprintln!("portcullis: the secret access key is shown only this once; keep it safe"),
            Shows::ApiKey => eprintln!("portcullis: the API key value is shown only this once; keep it safe"),
            Shows::Json | Shows::Session | Shows::Text | Shows::Verification => {}
        }
    }
    if call.shows == Shows::Verification && json.as_ref().is_some_and(|v| v["intact"] == false) {
        eprintln!("portcullis: the audit trail is broken (see `findings`)");
        return Ok(ExitCode::FAILURE);
    }
    Ok(ExitCode::SUCCESS)
}

/// `export` lines for the credentials in an answer, for pasting into a shell.
fn exports(shows: Shows, v: &Value) -> String {
    let names: &[(&str, &str)] = match shows {
        Shows::Json | Shows::ApiKey | Shows::Text | Shows::Verification => return String::new(),
        Shows::AccessKey => &[("AWS_ACCESS_KEY_ID", "access_key_id"), ("AWS_SECRET_ACCESS_KEY", "secret_access_key")],
        Shows::Session => &[
            ("AWS_ACCESS_KEY_ID", "access_key_id"),
            ("AWS_SECRET_ACCESS_KEY", "secret_access_key"),
            ("AWS_SESSION_TOKEN", "session_token"),
        ],
    };
    let mut out = String::from("\n");
    for (var, field) in names {
        if let Some(value) = v[field].as_str() {
            // The values' alphabets (base32, base64) hold no quote, so single quotes are safe.
            out.push_str(&format!("export {var}='{value}'\n"));
        }
    }
    out
}

/// The URL of a call under the endpoint.
fn url_of(base: &Url, target: &Target) -> Result<Url, String> {
    match target {
        Target::Raw(path) => base.join(path).map_err(|e| format!("bad path `{path}`: {e}")),
        Target::Segments(segments, query) => {
            let mut url = base.clone();
            {
                let mut path = url.path_segments_mut().map_err(|()| "the endpoint cannot have a path".to_owned())?;
                path.pop_if_empty();
                for s in segments {
                    // The URL library drops `.` and `..` segments, which would change the route.
                    if s.is_empty() || s == "." || s == ".." {
                        return Err(format!("`{s}` is not a valid name"));
                    }
                    path.push(s);
                }
            }
            if !query.is_empty() {
                url.query_pairs_mut().extend_pairs(query.iter().map(|(k, v)| (*k, v.as_str())));
            }
            Ok(url)
        }
    }
}

/// An HTTPS client trusting either the given PEM file or the built-in web roots. It does not
/// follow redirects: a signed request goes where it was signed for or nowhere.
fn client(ca_file: Option<&std::path::Path>) -> Result<reqwest::Client, String> {
    let mut builder = reqwest::Client::builder()
        .user_agent(concat!("portcullis-cli/", env!("CARGO_PKG_VERSION")))
        .https_only(true)
        .redirect(reqwest::redirect::Policy::none())
        .connect_timeout(Duration::from_secs(10))
        .timeout(Duration::from_secs(60));
    if let Some(path) = ca_file {
        let pem = std::fs::read(path).map_err(|e| format!("--ca-file {}: {e}", path.display()))?;
        let certs =
            reqwest::Certificate::from_pem_bundle(&pem).map_err(|e| format!("--ca-file {}: {e}", path.display()))?;
        if certs.is_empty() {
            return Err(format!("--ca-file {}: no PEM certificate in it", path.display()));
        }
        builder = builder.tls_built_in_root_certs(false);
        for c in certs {
            builder = builder.add_root_certificate(c);
        }
    }
    builder.build().map_err(|e| format!("cannot set up TLS: {}", chain(&e)))
}

/// An error with its causes: reqwest's own message alone rarely says what went wrong.
fn chain(e: &dyn std::error::Error) -> String {
    let mut out = e.to_string();
    let mut cause = e.source();
    while let Some(c) = cause {
        out.push_str(": ");
        out.push_str(&c.to_string());
        cause = c.source();
    }
    out
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, reason = "tests fail loudly")]

    use super::*;

    #[test]
    fn urls_encode_names_and_queries() {
        let base = Url::parse("https://127.0.0.1:9443").unwrap();
        let target = Target::Segments(
            vec!["iam".into(), "users".into(), "a b".into(), "attached-policies".into()],
            vec![("policy_arn", "arn:aws:iam::aws:policy/ReadOnlyAccess".into())],
        );
        assert_eq!(
            url_of(&base, &target).unwrap().as_str(),
            "https://127.0.0.1:9443/iam/users/a%20b/attached-policies?policy_arn=arn%3Aaws%3Aiam%3A%3Aaws%3Apolicy%2FReadOnlyAccess"
        );
        assert!(url_of(&base, &Target::Segments(vec!["iam".into(), "..".into()], vec![])).is_err());
        let raw = url_of(&base, &Target::Raw("/audit?after=0&limit=2".into())).unwrap();
        assert_eq!(raw.as_str(), "https://127.0.0.1:9443/audit?after=0&limit=2");
    }

    #[test]
    fn export_lines_only_for_credentials() {
        let v = serde_json::json!({ "access_key_id": "AKIAX", "secret_access_key": "s", "session_token": "t" });
        assert_eq!(exports(Shows::Json, &v), "");
        assert_eq!(exports(Shows::ApiKey, &serde_json::json!({ "value": "k" })), "");
        assert_eq!(
            exports(Shows::AccessKey, &v),
            "\nexport AWS_ACCESS_KEY_ID='AKIAX'\nexport AWS_SECRET_ACCESS_KEY='s'\n"
        );
        assert!(exports(Shows::Session, &v).ends_with("export AWS_SESSION_TOKEN='t'\n"));
    }
}
