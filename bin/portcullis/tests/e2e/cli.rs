//! The command line as an admin API client: `portcullis iam|sts|kms|admin` run as a process
//! against a running gateway, with credentials from the environment and from a shared
//! credentials file.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use serde_json::Value;

use crate::harness::{Creds, Gw};

/// The CLI pointed at one gateway, in an environment of its own: nothing of the developer's
/// `AWS_*` variables or `~/.aws` leaks in.
struct Cli {
    endpoint: String,
    ca: PathBuf,
    home: tempfile::TempDir,
}

impl Cli {
    fn new(gw: &Gw) -> Self {
        let home = tempfile::tempdir().unwrap();
        let ca = home.path().join("ca.pem");
        std::fs::write(&ca, &gw.ca_pem).unwrap();
        Self { endpoint: format!("https://127.0.0.1:{}", gw.admin.unwrap().port()), ca, home }
    }

    fn run(&self, env: &[(&str, &str)], args: &[&str]) -> Output {
        let mut cmd = Command::new(env!("CARGO_BIN_EXE_portcullis"));
        cmd.args(args).env_clear();
        cmd.env("PORTCULLIS_ADMIN_URL", &self.endpoint)
            .env("PORTCULLIS_CA_FILE", &self.ca)
            .env("HOME", self.home.path());
        for (k, v) in env {
            cmd.env(k, v);
        }
        cmd.output().unwrap()
    }

    /// Runs a command that must succeed and returns the first JSON value it printed.
    fn ok(&self, env: &[(&str, &str)], args: &[&str]) -> (Value, String) {
        let out = self.run(env, args);
        let (stdout, stderr) = texts(&out);
        assert!(out.status.success(), "{args:?} failed: {stderr}\n{stdout}");
        let first = serde_json::Deserializer::from_str(&stdout).into_iter::<Value>().next().unwrap().unwrap();
        (first, stdout)
    }
}

fn texts(out: &Output) -> (String, String) {
    (String::from_utf8_lossy(&out.stdout).into_owned(), String::from_utf8_lossy(&out.stderr).into_owned())
}

fn env_of(c: &Creds) -> Vec<(&str, &str)> {
    let mut env = vec![("AWS_ACCESS_KEY_ID", c.id.as_str()), ("AWS_SECRET_ACCESS_KEY", c.secret.as_str())];
    if let Some(t) = &c.token {
        env.push(("AWS_SESSION_TOKEN", t.as_str()));
    }
    env
}

fn credentials_file(dir: &Path, profile: &str, c: &Creds) -> PathBuf {
    let path = dir.join("credentials");
    let text = format!(
        "# written by the e2e test\n[default]\naws_access_key_id = AKIANOTUSED000000000\naws_secret_access_key = x\n\n\
         [{profile}]\naws_access_key_id = {}\naws_secret_access_key = {}\n",
        c.id, c.secret
    );
    std::fs::write(&path, text).unwrap();
    path
}

const READ_ONLY: &str = "arn:aws:iam::aws:policy/ReadOnlyAccess";

#[test]
fn the_cli_manages_iam_and_kms_through_the_admin_api() {
    let gw = Gw::start("");
    let cli = Cli::new(&gw);
    let admin = gw.admin_key.clone().unwrap();
    let as_admin = env_of(&admin);

    let (user, _) = cli.ok(&as_admin, &["iam", "create-user", "carol"]);
    assert_eq!(user["arn"], "arn:aws:iam::000000000000:user/carol");
    let out = cli.run(&as_admin, &["iam", "create-access-key", "--user", "carol"]);
    let (stdout, stderr) = texts(&out);
    assert!(out.status.success(), "{stderr}");
    let key: Value = serde_json::Deserializer::from_str(&stdout).into_iter().next().unwrap().unwrap();
    let carol = Creds::new(key["access_key_id"].as_str().unwrap(), key["secret_access_key"].as_str().unwrap());
    assert!(stdout.contains(&format!("export AWS_SECRET_ACCESS_KEY='{}'", carol.secret)), "{stdout}");
    assert!(stderr.contains("shown only this once") && !stderr.contains(&carol.secret), "{stderr}");
    cli.ok(&as_admin, &["iam", "attach-policy", "--user", "carol", "--policy-arn", READ_ONLY]);
    let (_, listed) = cli.ok(&as_admin, &["iam", "list-access-keys", "--user", "carol"]);
    assert!(listed.contains(&carol.id) && !listed.contains(&carol.secret), "{listed}");

    // A profile of a shared credentials file; named with --profile it wins over the
    // environment's keys, as in the AWS CLI.
    let file = credentials_file(cli.home.path(), "carol", &carol);
    let file = file.to_str().unwrap();
    let mut env = as_admin.clone();
    env.push(("AWS_SHARED_CREDENTIALS_FILE", file));
    let (me, _) = cli.ok(&env, &["sts", "whoami", "--profile", "carol"]);
    assert_eq!(me["arn"], "arn:aws:iam::000000000000:user/carol", "{me}");
    let as_carol = [("AWS_SHARED_CREDENTIALS_FILE", file), ("AWS_PROFILE", "carol")];
    let (me, _) = cli.ok(&as_carol, &["sts", "whoami"]);
    assert_eq!(
        (me["arn"].as_str(), me["access_key_id"].as_str()),
        (Some("arn:aws:iam::000000000000:user/carol"), Some(carol.id.as_str()))
    );

    // ReadOnlyAccess reads, and is refused the rest: exit 1 and AWS's error on stderr.
    let (config, _) = cli.ok(&as_carol, &["admin", "get", "/config"]);
    assert!(config["listen"].is_string(), "{config}");
    let out = cli.run(&as_carol, &["kms", "rotate"]);
    let (stdout, stderr) = texts(&out);
    assert_eq!(out.status.code(), Some(1), "{stdout}{stderr}");
    assert!(stdout.is_empty(), "{stdout}");
    assert!(
        stderr.starts_with(
            "portcullis: 403 AccessDeniedException: User: arn:aws:iam::000000000000:user/carol is not authorized to perform: portcullis:RotateKey"
        ),
        "{stderr}"
    );

    let (rotated, _) = cli.ok(&as_admin, &["kms", "rotate"]);
    assert_eq!(rotated["current"], 2, "{rotated}");
    let (keys, _) = cli.ok(&as_admin, &["kms", "keys"]);
    assert_eq!(keys["versions"].as_array().unwrap().len(), 2, "{keys}");
    let (moved, _) = cli.ok(&as_admin, &["kms", "rewrap"]);
    assert!(moved["rewrapped"].as_u64().unwrap() >= 1, "{moved}");

    // Detaching (a signed query string) takes the rights away at once.
    cli.ok(&as_admin, &["iam", "detach-policy", "--user", "carol", "--policy-arn", READ_ONLY]);
    let out = cli.run(&as_carol, &["admin", "get", "/config"]);
    assert_eq!(out.status.code(), Some(1));
    assert!(texts(&out).1.starts_with("portcullis: 403 AccessDeniedException: "), "{}", texts(&out).1);

    // Temporary credentials, with the session token from the environment.
    cli.ok(&as_admin, &["iam", "create-role", "ops", "--max-session-secs", "7200"]);
    let (session, stdout) = cli.ok(&as_admin, &["sts", "assume-role", "--role", "ops", "--session", "cli-test"]);
    assert!(stdout.contains("export AWS_SESSION_TOKEN="), "{stdout}");
    let mut temp =
        Creds::new(session["access_key_id"].as_str().unwrap(), session["secret_access_key"].as_str().unwrap());
    temp.token = Some(session["session_token"].as_str().unwrap().to_owned());
    let (me, _) = cli.ok(&env_of(&temp), &["sts", "whoami"]);
    assert_eq!(me["arn"], "arn:aws:sts::000000000000:assumed-role/ops/cli-test");

    // Errors without an x-amzn-ErrorType, and no credentials at all.
    let out = cli.run(&as_admin, &["admin", "get", "/no-such"]);
    assert_eq!((out.status.code(), texts(&out).1.trim()), (Some(1), "portcullis: 404 Not Found: Not Found"));
    let out = cli.run(&[], &["sts", "whoami"]);
    let stderr = texts(&out).1;
    assert_eq!(out.status.code(), Some(1), "{stderr}");
    assert!(stderr.starts_with("portcullis: no credentials"), "{stderr}");
    let out = cli.run(&as_admin, &["sts", "whoami", "--endpoint", "http://127.0.0.1:1"]);
    assert!(texts(&out).1.contains("must be an https:// URL"), "{}", texts(&out).1);
}
