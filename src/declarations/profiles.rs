//! The one check of the declarations against this machine rather than the files alone: every
//! account's `profile` must be defined in the AWS config files, or ferry would refuse it at the
//! first call (it never falls back to other credentials). Still no AWS call.

use super::{Diagnostic, Diagnostics, Source, raw};
use crate::cloud::profiles::Profiles;

/// A diagnostic for every `profile = "..."` that `profiles` does not define, pointing at the
/// value. The sources are already valid declarations.
pub fn check_profiles(sources: &[Source], profiles: &Profiles) -> Result<(), Diagnostics> {
    let mut items = Vec::new();
    for (file, source) in sources.iter().enumerate() {
        let Ok(parsed) = toml::from_str::<raw::File>(&source.text) else {
            continue;
        };
        for (key, account) in &parsed.accounts {
            let Some(profile) = &account.get_ref().profile else {
                continue;
            };
            let name = profile.get_ref();
            if profiles.contains(name) {
                continue;
            }
            let known = profiles.names();
            items.push(Diagnostic {
                file,
                span: profile.span(),
                message: format!(
                    "account `{}` uses the profile `{name}`, which is not defined in {}",
                    key.get_ref(),
                    profiles.files
                ),
                label: "no such profile".into(),
                hint: format!(
                    "fix the spelling{}, or add [profile {name}] to the AWS config file \
                     (`aws configure --profile {name}` writes one)",
                    if known.is_empty() {
                        " (those files define no profile at all)".to_string()
                    } else {
                        format!(" (defined: {})", known.join(", "))
                    }
                ),
            });
        }
    }
    if items.is_empty() {
        return Ok(());
    }
    Err(Diagnostics {
        sources: sources.to_vec(),
        items,
    })
}
