//! The command line as an admin API client: `portcullis iam|sts|kms|admin|keys|plans|usage`
//! run as a process against a running gateway, with credentials from the environment and from
//! a shared credentials file.

use std::io::Write as _;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::time::{Duration, Instant, SystemTime};

use serde_json::Value;

use crate::harness::{Creds, Gw};

/// The CLI pointed at one gateway, in an environment of its own: nothing of the developer's
/// `AWS_*` variables or `~/.aws` leaks in.
pub struct Cli {
    endpoint: String,
    ca: PathBuf,
    home: tempfile::TempDir,
}

impl Cli {
    pub fn new(gw: &Gw) -> Self {
        let home = tempfile::tempdir().unwrap();
        let ca = home.path().join("ca.pem");
        std::fs::write(&ca, &gw.ca_pem).unwrap();
        Self { endpoint: format!("https://127.0.0.1:{}", gw.admin.unwrap().port()), ca, home }
    }

    pub fn command(&self, env: &[(&str, &str)], args: &[&str]) -> Command {
        let mut cmd = Command::new(env!("CARGO_BIN_EXE_portcullis"));
        cmd.args(args).env_clear();
        cmd.env("PORTCULLIS_ADMIN_URL", &self.endpoint)
            .env("PORTCULLIS_CA_FILE", &self.ca)
            .env("HOME", self.home.path());
        for (k, v) in env {
            cmd.env(k, v);
        }
        cmd
    }

    pub fn run(&self, env: &[(&str, &str)], args: &[&str]) -> Output {
        self.command(env, args).output().unwrap()
    }

    /// Runs a command with `input` on its standard input.
    fn run_with_stdin(&self, env: &[(&str, &str)], args: &[&str], input: &str) -> Output {
        let mut cmd = self.command(env, args);
        cmd.stdin(Stdio::piped()).stdout(Stdio::piped()).stderr(Stdio::piped());
        let mut child = cmd.spawn().unwrap();
        child.stdin.take().unwrap().write_all(input.as_bytes()).unwrap();
        child.wait_with_output().unwrap()
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

pub fn texts(out: &Output) -> (String, String) {
    (String::from_utf8_lossy(&out.stdout).into_owned(), String::from_utf8_lossy(&out.stderr).into_owned())
}

pub fn env_of(c: &Creds) -> Vec<(&str, &str)> {
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

/// An API whose one route needs an API key, a plan holding its stage, and usage written to the
/// store every second.
const KEYED: &str = r#"
usage:
  flush_interval: 1s
usage_plans:
  - id: basic
    quota: {limit: 3, period: DAY}
    api_stages: [{api: pets, stage: $default}]
apis:
  - name: pets
    routes:
      - route: GET /pets
        api_key_required: true
        integration: {type: mock, body: pets}
"#;

/// Today's date in UTC, `YYYY-MM-DD` (days since the epoch to the civil calendar).
fn utc_today() -> String {
    let days =
        i64::try_from(SystemTime::now().duration_since(SystemTime::UNIX_EPOCH).unwrap().as_secs() / 86_400).unwrap();
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + i64::from(month <= 2);
    format!("{year:04}-{month:02}-{day:02}")
}

/// The requests a key made, summed over the lines of a usage CSV.
fn csv_count(csv: &str, key: &str) -> i64 {
    csv.lines()
        .skip(1)
        .map(|l| l.split(',').collect::<Vec<_>>())
        .filter(|cells| cells.get(1) == Some(&key))
        .map(|cells| cells[7].parse::<i64>().unwrap())
        .sum()
}

#[tokio::test]
async fn the_cli_manages_api_keys_plans_and_usage() {
    let gw = Gw::start(KEYED);
    let cli = Cli::new(&gw);
    let as_admin = env_of(gw.admin_key.as_ref().unwrap());
    let http = gw.client();
    let call = |value: String| {
        let req = http.get(gw.url("/pets")).header("x-api-key", value);
        async move {
            let r = req.send().await.unwrap();
            let status = r.status().as_u16();
            (status, r.text().await.unwrap())
        }
    };
    let start = utc_today();

    // A generated key: its value in the answer, once, with a reminder on stderr.
    let out = cli.run(&as_admin, &["keys", "create", "--name", "shop"]);
    let (stdout, stderr) = texts(&out);
    assert!(out.status.success(), "{stderr}\n{stdout}");
    let key: Value = serde_json::from_str(&stdout).unwrap();
    let (id, value) = (key["id"].as_str().unwrap().to_owned(), key["value"].as_str().unwrap().to_owned());
    assert_eq!((key["name"].as_str(), key["enabled"].as_bool()), (Some("shop"), Some(true)), "{key}");
    assert!(stderr.contains("shown only this once") && !stderr.contains(&value), "{stderr}");
    assert_eq!(stderr.lines().count(), 1, "{stderr}");

    // In no plan yet: refused as API Gateway refuses it.
    let forbidden = (403, r#"{"message":"Forbidden"}"#.to_owned());
    assert_eq!(call(value.clone()).await, forbidden);
    let (attached, _) = cli.ok(&as_admin, &["keys", "attach", &id, "--plan", "basic"]);
    assert_eq!((attached["usage_plan"].as_str(), attached["id"].as_str()), (Some("basic"), Some(id.as_str())));
    let mut allowed = 0;
    assert_eq!(call(value.clone()).await.0, 200);
    allowed += 1;

    let (disabled, _) = cli.ok(&as_admin, &["keys", "disable", &id]);
    assert_eq!(disabled["enabled"], false, "{disabled}");
    assert_eq!(call(value.clone()).await, forbidden);
    let (enabled, _) = cli.ok(&as_admin, &["keys", "enable", &id]);
    assert_eq!(enabled["enabled"], true, "{enabled}");
    assert_eq!(call(value.clone()).await.0, 200);
    allowed += 1;

    // Listed and shown without the value.
    let (list, stdout) = cli.ok(&as_admin, &["keys", "list"]);
    let items = list["items"].as_array().unwrap();
    let listed = items.iter().find(|k| k["id"] == id.as_str()).unwrap_or_else(|| panic!("{list}"));
    assert!(listed.get("value").is_none() && !stdout.contains(&value), "{stdout}");
    let (shown, stdout) = cli.ok(&as_admin, &["keys", "get", &id]);
    assert_eq!(shown["usage_plans"], serde_json::json!(["basic"]), "{shown}");
    assert!(shown.get("value").is_none() && !stdout.contains(&value), "{stdout}");
    let (plans, _) = cli.ok(&as_admin, &["plans", "list"]);
    let basic = plans["items"].as_array().unwrap().iter().find(|p| p["id"] == "basic");
    assert_eq!(basic.map(|p| p["quota"]["limit"].clone()), Some(serde_json::json!(3)), "{plans}");
    let (members, _) = cli.ok(&as_admin, &["plans", "keys", "basic"]);
    assert_eq!(members["items"][0]["id"], id.as_str(), "{members}");

    // An imported value, from standard input: it works on the data plane as it was given.
    let imported = "imported-value_0123456789";
    let out = cli.run_with_stdin(
        &as_admin,
        &["keys", "create", "--name", "own", "--customer-id", "acme", "--value-stdin"],
        &format!("{imported}\n"),
    );
    let (stdout, stderr) = texts(&out);
    assert!(out.status.success(), "{stderr}\n{stdout}");
    let own: Value = serde_json::from_str(&stdout).unwrap();
    assert_eq!((own["value"].as_str(), own["imported"].as_bool()), (Some(imported), Some(true)), "{own}");
    let own_id = own["id"].as_str().unwrap().to_owned();
    cli.ok(&as_admin, &["keys", "attach", &own_id, "--plan", "basic"]);
    assert_eq!(call(imported.to_owned()).await.0, 200);
    // Too short: refused by the API; the value is nowhere in what the CLI prints.
    let short = "short-value-9";
    let out = cli.run_with_stdin(&as_admin, &["keys", "create", "--name", "bad", "--value-stdin"], short);
    let (stdout, stderr) = texts(&out);
    assert_eq!(out.status.code(), Some(1), "{stdout}{stderr}");
    assert!(stdout.is_empty(), "{stdout}");
    assert!(stderr.starts_with("portcullis: 400 ") && !stderr.contains(short), "{stderr}");
    let out = cli.run_with_stdin(&as_admin, &["keys", "create", "--name", "bad", "--value-stdin"], "\n");
    assert_eq!(out.status.code(), Some(1));
    assert!(texts(&out).1.contains("standard input holds no value"), "{}", texts(&out).1);

    // Deleted: refused at once.
    let (deleted, _) = cli.ok(&as_admin, &["keys", "delete", &id]);
    assert_eq!(deleted["id"], id.as_str());
    assert_eq!(call(value.clone()).await, forbidden);

    // The usage, written within a second or so, stays after the key is gone.
    let end = utc_today();
    let usage = ["usage", "--plan", "basic", "--start", &start, "--end", &end, "--format", "csv"];
    let deadline = Instant::now() + Duration::from_secs(10);
    let csv = loop {
        let out = cli.run(&as_admin, &usage);
        let (stdout, stderr) = texts(&out);
        assert!(out.status.success(), "{stderr}\n{stdout}");
        if csv_count(&stdout, &id) >= allowed && csv_count(&stdout, &own_id) >= 1 || Instant::now() > deadline {
            break stdout;
        }
        tokio::time::sleep(Duration::from_millis(250)).await;
    };
    assert_eq!(csv.lines().next(), Some("usage_plan_id,key_id,customer_id,day,api,stage,route,count"), "{csv}");
    assert_eq!((csv_count(&csv, &id), csv_count(&csv, &own_id)), (allowed, 1), "{csv}");
    let own_line = csv.lines().find(|l| l.contains(&own_id)).unwrap();
    assert!(own_line.starts_with(&format!("basic,{own_id},acme,{end},")), "{csv}");

    // To a file, and as JSON for one key (a signed, percent-encoded query).
    let file = cli.home.path().join("usage.csv");
    let mut to_file = usage.to_vec();
    to_file.extend(["--output", file.to_str().unwrap()]);
    let (stdout, _) = texts(&cli.run(&as_admin, &to_file));
    assert!(stdout.is_empty(), "{stdout}");
    assert_eq!(std::fs::read_to_string(&file).unwrap(), csv);
    let (report, _) = cli.ok(&as_admin, &["usage", "--plan", "basic", "--start", &end, "--end", &end, "--key", &id]);
    assert_eq!(report["values"][&id][0][0], allowed, "{report}");
    let odd = "no such/key?&=+%";
    let (report, _) = cli.ok(&as_admin, &["usage", "--plan", "basic", "--start", &end, "--end", &end, "--key", odd]);
    assert_eq!(report["values"][odd], serde_json::json!([[0, 3]]), "{report}");
    let out = cli.run(&as_admin, &["usage", "--plan", "gold", "--start", &end, "--end", &end]);
    assert_eq!(out.status.code(), Some(1));
    assert!(texts(&out).1.starts_with("portcullis: 404 NotFoundException: "), "{}", texts(&out).1);
}
