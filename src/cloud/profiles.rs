//! The AWS profiles this machine defines, read with aws-config's own parser from the files it
//! reads itself (`AWS_CONFIG_FILE` or `~/.aws/config`, `AWS_SHARED_CREDENTIALS_FILE` or
//! `~/.aws/credentials`). No AWS call: `ferry validate` uses it to check every named profile,
//! and the cloud refuses a profile that is not there instead of falling back to other
//! credentials.

use std::collections::BTreeMap;

/// The profiles defined in the AWS config files.
#[derive(Clone, Debug, Default)]
pub struct Profiles {
    /// Profile name → whether it signs in through IAM Identity Center (SSO).
    profiles: BTreeMap<String, bool>,
    /// The files looked in, as the user would name them.
    pub files: String,
}

impl Profiles {
    /// Reads the files. A file that does not exist defines nothing; one that cannot be parsed
    /// is an error with aws-config's own message.
    pub async fn load() -> Result<Profiles, String> {
        let env = aws_types::os_shim_internal::Env::real();
        let fs = aws_types::os_shim_internal::Fs::real();
        let set = aws_config::profile::load(
            &fs,
            &env,
            &aws_runtime::env_config::file::EnvConfigFiles::default(),
            None,
        )
        .await
        .map_err(|e| format!("cannot read the AWS config files ({}): {e}", files()))?;
        let profiles = set
            .profiles()
            .map(|name| {
                let sso = set.get_profile(name).is_some_and(|p| {
                    p.get("sso_session").is_some() || p.get("sso_start_url").is_some()
                });
                (name.to_string(), sso)
            })
            .collect();
        Ok(Profiles {
            profiles,
            files: files(),
        })
    }

    pub fn contains(&self, name: &str) -> bool {
        self.profiles.contains_key(name)
    }

    /// Whether the profile signs in through SSO (`sso_session` or `sso_start_url`).
    pub fn is_sso(&self, name: &str) -> bool {
        self.profiles.get(name).copied().unwrap_or(false)
    }

    pub fn names(&self) -> Vec<String> {
        self.profiles.keys().cloned().collect()
    }
}

/// The two files aws-config reads, named as the user set them.
fn files() -> String {
    let name = |var: &str, default: &str| match std::env::var(var) {
        Ok(v) if !v.is_empty() => format!("{v} ({var})"),
        _ => default.to_string(),
    };
    format!(
        "{} and {}",
        name("AWS_CONFIG_FILE", "~/.aws/config"),
        name("AWS_SHARED_CREDENTIALS_FILE", "~/.aws/credentials")
    )
}
