//! Where the CLI finds its access key, as the AWS CLI does: an explicit `--profile` first,
//! then `AWS_ACCESS_KEY_ID`/`AWS_SECRET_ACCESS_KEY`(/`AWS_SESSION_TOKEN`), then the profile
//! `AWS_PROFILE` (default `default`) of the shared credentials file
//! (`AWS_SHARED_CREDENTIALS_FILE`, default `~/.aws/credentials`).

use std::path::PathBuf;

use zeroize::Zeroizing;

/// An access key. `Debug` shows the key id only: the secret and token never reach a log.
pub(crate) struct Credentials {
    pub(crate) access_key_id: String,
    pub(crate) secret_access_key: Zeroizing<String>,
    pub(crate) session_token: Option<Zeroizing<String>>,
}

impl std::fmt::Debug for Credentials {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Credentials").field("access_key_id", &self.access_key_id).finish_non_exhaustive()
    }
}

/// Finds the credentials. `env` reads an environment variable (empty counts as unset).
/// Errors name what is missing and where it was looked for, never a secret.
pub(crate) fn load(profile_flag: Option<&str>, env: &dyn Fn(&str) -> Option<String>) -> Result<Credentials, String> {
    // An explicit `--profile` wins over keys in the environment, as in the AWS CLI.
    if profile_flag.is_none() {
        match (env("AWS_ACCESS_KEY_ID"), env("AWS_SECRET_ACCESS_KEY")) {
            (Some(id), Some(secret)) => {
                return Ok(Credentials {
                    access_key_id: id,
                    secret_access_key: Zeroizing::new(secret),
                    session_token: env("AWS_SESSION_TOKEN").map(Zeroizing::new),
                })
            }
            (Some(_), None) => return Err("AWS_ACCESS_KEY_ID is set but AWS_SECRET_ACCESS_KEY is not".into()),
            (None, Some(_)) => return Err("AWS_SECRET_ACCESS_KEY is set but AWS_ACCESS_KEY_ID is not".into()),
            (None, None) => {}
        }
    }
    let profile = profile_flag.map(str::to_owned).or_else(|| env("AWS_PROFILE")).unwrap_or_else(|| "default".into());
    let path =
        match env("AWS_SHARED_CREDENTIALS_FILE") {
            Some(p) => PathBuf::from(p),
            None => match env("HOME") {
                Some(home) => PathBuf::from(home).join(".aws").join("credentials"),
                None => return Err(
                    "no credentials: AWS_ACCESS_KEY_ID is not set, and there is no HOME to find ~/.aws/credentials in"
                        .into(),
                ),
            },
        };
    let text = std::fs::read_to_string(&path).map_err(|e| {
        format!(
            "no credentials: AWS_ACCESS_KEY_ID is not set, and the credentials file {} cannot be read: {e}",
            path.display()
        )
    })?;
    from_profile(&text, &profile).map_err(|why| format!("{}: profile `{profile}`: {why}", path.display()))
}

/// Reads one profile of a credentials file: `[name]` sections of `key = value` lines, `#` and
/// `;` starting comment lines. No inline comments: `#` may be part of a value.
fn from_profile(text: &str, profile: &str) -> Result<Credentials, String> {
    let (mut found, mut inside) = (false, false);
    let (mut id, mut secret, mut token) = (None, None, None);
    for line in text.lines().map(str::trim) {
        if line.is_empty() || line.starts_with('#') || line.starts_with(';') {
            continue;
        }
        if let Some(section) = line.strip_prefix('[').and_then(|l| l.strip_suffix(']')) {
            inside = section.trim() == profile;
            found |= inside;
            continue;
        }
        let Some((key, value)) = line.split_once('=') else { continue };
        if !inside {
            continue;
        }
        let value = Zeroizing::new(value.trim().to_owned());
        match key.trim().to_ascii_lowercase().as_str() {
            "aws_access_key_id" => id = Some(value),
            "aws_secret_access_key" => secret = Some(value),
            "aws_session_token" => token = Some(value),
            _ => {}
        }
    }
    if !found {
        return Err("no such profile".into());
    }
    let id = id.filter(|v| !v.is_empty()).ok_or("no aws_access_key_id")?;
    let secret = secret.filter(|v| !v.is_empty()).ok_or("no aws_secret_access_key")?;
    Ok(Credentials {
        access_key_id: id.to_string(),
        secret_access_key: secret,
        session_token: token.filter(|v| !v.is_empty()),
    })
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, reason = "tests fail loudly")]

    use super::*;

    const FILE: &str = "# comment\n[default]\naws_access_key_id = AKIADEFAULT\naws_secret_access_key = s3cr3t/+#x\n\n\
                        [ops]\n; another\nAWS_ACCESS_KEY_ID=ASIAOPS\naws_secret_access_key=opsecret\naws_session_token = tok==\n\
                        [empty]\nregion = us-east-1\n";

    fn env_of(pairs: &'static [(&'static str, &'static str)]) -> impl Fn(&str) -> Option<String> {
        move |k| pairs.iter().find(|(n, _)| *n == k).map(|(_, v)| (*v).to_owned())
    }

    #[test]
    fn profiles_are_read_by_name() {
        let d = from_profile(FILE, "default").unwrap();
        assert_eq!((d.access_key_id.as_str(), d.secret_access_key.as_str()), ("AKIADEFAULT", "s3cr3t/+#x"));
        assert!(d.session_token.is_none());
        let o = from_profile(FILE, "ops").unwrap();
        assert_eq!(
            (o.access_key_id.as_str(), o.session_token.as_deref().map(String::as_str)),
            ("ASIAOPS", Some("tok=="))
        );
        assert_eq!(from_profile(FILE, "nope").unwrap_err(), "no such profile");
        assert_eq!(from_profile(FILE, "empty").unwrap_err(), "no aws_access_key_id");
    }

    #[test]
    fn environment_keys_come_before_the_file_unless_a_profile_is_named() {
        let env = env_of(&[("AWS_ACCESS_KEY_ID", "AKIAENV"), ("AWS_SECRET_ACCESS_KEY", "x"), ("HOME", "/nonexistent")]);
        assert_eq!(load(None, &env).unwrap().access_key_id, "AKIAENV");
        let err = load(Some("ops"), &env).unwrap_err();
        assert!(err.contains("/nonexistent/.aws/credentials"), "{err}");
        let half = env_of(&[("AWS_ACCESS_KEY_ID", "AKIAENV")]);
        assert!(load(None, &half).unwrap_err().contains("AWS_SECRET_ACCESS_KEY is not"));
    }

    #[test]
    fn debug_never_shows_the_secret() {
        let d = from_profile(FILE, "ops").unwrap();
        let text = format!("{d:?}");
        assert!(text.contains("ASIAOPS") && !text.contains("opsecret") && !text.contains("tok=="), "{text}");
    }
}
