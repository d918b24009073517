//! Prints the SigV4 headers of a GET without a body, signed now for `execute-api`, one
//! `name: value` line per header, `Host` first, for `wrk -H` (wrk adds its own `Host` unless
//! one is spelt exactly so). A signature stays valid for
//! the gateway's clock window (5 minutes) and the gateway does not refuse replays, so a load
//! generator may send the same signed headers for the whole of a short run.
//!
//! ```text
//! AWS_ACCESS_KEY_ID=AKIA… AWS_SECRET_ACCESS_KEY=… bench-sign https://127.0.0.1:18443/secure/bench
//! ```
//!
//! The key comes from the environment (not the command line, where `ps` would show it);
//! `AWS_SESSION_TOKEN` and `AWS_REGION` (default `us-east-1`) are read too.

use std::process::ExitCode;
use std::time::SystemTime;

fn main() -> ExitCode {
    let mut args = std::env::args().skip(1);
    let (Some(url), None) = (args.next(), args.next()) else {
        eprintln!("usage: AWS_ACCESS_KEY_ID=… AWS_SECRET_ACCESS_KEY=… bench-sign URL");
        return ExitCode::from(2);
    };
    let env = |name: &str| std::env::var(name).ok().filter(|v| !v.is_empty());
    let (Some(id), Some(secret)) = (env("AWS_ACCESS_KEY_ID"), env("AWS_SECRET_ACCESS_KEY")) else {
        eprintln!("bench-sign: set AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY");
        return ExitCode::from(2);
    };
    let token = env("AWS_SESSION_TOKEN");
    let region = env("AWS_REGION").unwrap_or_else(|| "us-east-1".to_owned());
    // The signer signs the URL's authority as `host`; send exactly that.
    let Some(host) = url.split_once("://").map(|(_, rest)| rest.split(['/', '?']).next().unwrap_or(rest)) else {
        eprintln!("bench-sign: `{url}` is not an absolute URL");
        return ExitCode::from(2);
    };
    let key = (id.as_str(), secret.as_str(), token.as_deref());
    match portcullis_bench::sign_headers("GET", &url, key, &region, SystemTime::now()) {
        Ok(headers) => {
            println!("Host: {host}");
            for (name, value) in headers {
                println!("{name}: {value}");
            }
            ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("bench-sign: {e}");
            ExitCode::FAILURE
        }
    }
}
