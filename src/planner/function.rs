//! The decider for declared Lambda functions.

use super::Planner;
use super::attrs::*;
use super::decision::*;
use super::ownership::*;
use super::plan::*;
use crate::cloud::FunctionConfig;
use crate::model::Place;
use crate::model::{Address, Function, ImageRef, Target};
use crate::state::Record;
use std::collections::{BTreeMap, BTreeSet};

/// Why a declared function is not planned, with no error of its own.
#[derive(Debug, PartialEq)]
pub(super) enum Skip {
    /// Its image names no declared repository (validation reports it).
    NoRepository,
    /// Its image did not resolve to a digest: the image's error says why.
    NoDigest,
}

/// What the planner decided for one declared function, before any step is built.
#[derive(Debug, PartialEq)]
pub(super) enum FunctionDecision {
    /// Not planned, and nothing to say about it here.
    Skipped(Skip),
    /// Not planned, with the error that says why (a renamed key, Lambda would be denied the
    /// image, someone else's function).
    Refused(PlanError),
    /// Its name, account or region changed: delete the old one (when it is live), create anew.
    Replace {
        old_target: Target,
        old: Box<FunctionConfig>,
        old_live: Option<Box<FunctionConfig>>,
    },
    /// It does not exist live; `recreate` when state records it (deleted outside ferry).
    Create { recreate: bool },
    /// It exists live and is ferry's: unchanged, adopted or updated, as `verdict` says.
    Existing {
        live: Box<FunctionConfig>,
        verdict: Verdict,
    },
}

/// A live function's attributes and the declared ones, for display and comparison: the real
/// values decide (sensitive ones included), redacted ones are shown, so a recorded function
/// whose real values all match shows no change even where a redacted value reads "changed".
pub(super) fn existing_function_attrs(
    live: &FunctionConfig,
    config: &FunctionConfig,
    adopting: bool,
    sensitive: &BTreeSet<String>,
) -> (Vec<Attr>, Vec<Attr>) {
    let before = function_attrs(Some(live), None, sensitive);
    let want = function_attrs(Some(config), Some(live), sensitive);
    if live != config || adopting {
        (before, want)
    } else {
        (want.clone(), want)
    }
}

impl Planner<'_> {
    /// Why a recorded function is updated beyond its declaration: just imported (running the
    /// image it was imported with), moved to this address, or its tag resolves to a new digest.
    pub(super) fn function_cause(
        &self,
        address: &Address,
        f: &Function,
        old: &FunctionConfig,
        live: &FunctionConfig,
        config: &FunctionConfig,
        digest: &str,
    ) -> Option<Cause> {
        let tag = self
            .desired
            .images
            .get(&f.image)
            .and_then(|i| match &i.reference {
                ImageRef::Tag(t) => Some(format!("tag `{t}` of image.{}", i.key)),
                ImageRef::Digest(_) => None,
            });
        let repointed = old.image_uri != config.image_uri;
        match self.provenance(address, &old.tags) {
            Some(Cause::Imported { .. }) => Some(Cause::Imported {
                image: repointed.then(|| match &tag {
                    Some(tag) if !old.image_uri.contains("@sha256:") => format!(
                        "it runs `{}` by tag, and ferry deploys by digest ({tag} is {digest})",
                        old.image_uri
                    ),
                    _ => format!("it runs `{}`, not the declared image", old.image_uri),
                }),
            }),
            Some(cause) => Some(cause),
            None if repointed && live.image_uri == old.image_uri => {
                tag.map(|t| Cause::TagMoved(format!("{t} now resolves to a new digest")))
            }
            None => None,
        }
    }

    /// What ferry deploys for a declared function (its image by digest), and the record state
    /// then holds; `None` when its image has no repository or no digest.
    pub(super) fn function_config(
        &self,
        f: &Function,
        digests: &BTreeMap<String, String>,
    ) -> Result<(FunctionConfig, Record), Skip> {
        let address = Address::Function(f.key.clone());
        let repo = self
            .desired
            .function_repository(f)
            .ok_or(Skip::NoRepository)?;
        let digest = digests.get(&f.image).ok_or(Skip::NoDigest)?;
        let config = FunctionConfig {
            name: f.name.clone(),
            image_uri: format!("{}@{}", repo.uri(), digest),
            role: f.role.clone(),
            architecture: f.architecture.clone(),
            memory_mb: f.memory_mb,
            timeout_s: f.timeout_s,
            description: f.description.clone(),
            environment: f.environment.clone(),
            tags: self.desired.ownership_tags(&address, &f.tags),
        };
        let record = Record::Function {
            target: f.target.clone(),
            repository: repo.key.clone(),
            config: config.clone(),
            sensitive: f.sensitive_environment.clone(),
        };
        Ok((config, record))
    }

    /// Decides what happens to a declared function; builds nothing.
    pub(super) fn decide_function(
        &self,
        f: &Function,
        digests: &BTreeMap<String, String>,
    ) -> FunctionDecision {
        let address = Address::Function(f.key.clone());
        if let Some(old) = self.renames.get(&address) {
            let what = format!(
                "function `{}` in account {} ({})",
                f.name, f.target.account_id, f.target.region
            );
            return FunctionDecision::Refused(self.rename_error(&address, old, &what));
        }
        let (config, record) = match self.function_config(f, digests) {
            Ok(c) => c,
            Err(skip) => return FunctionDecision::Skipped(skip),
        };
        let place = Place::new(&f.target, &f.name);
        let live = self.observed.functions.get(&place).cloned().flatten();
        let prior = self.state.resources.get(&address);
        // Refuse to create or repoint a function Lambda would not be allowed to pull for.
        let repoints = live
            .as_ref()
            .is_none_or(|l| l.config.image_uri != config.image_uri);
        if repoints && let Some(error) = self.denied_pull(f) {
            return FunctionDecision::Refused(error);
        }
        if let Some(Record::Function {
            target: old_target,
            config: old,
            ..
        }) = prior
            && (old_target != &f.target || old.name != f.name)
        {
            let old_place = Place::new(old_target, &old.name);
            let old_live = self.observed.functions.get(&old_place).cloned().flatten();
            return FunctionDecision::Replace {
                old_target: old_target.clone(),
                old: Box::new(old.clone()),
                old_live: old_live.map(|l| Box::new(l.config)),
            };
        }
        let Some(live) = live else {
            return FunctionDecision::Create {
                recreate: prior.is_some(),
            };
        };
        if prior.is_none() && !self.owned(&live.config.tags, &address) {
            return FunctionDecision::Refused(self.unrecorded(
                &address,
                &format!(
                    "function `{}` already exists in {}",
                    f.name,
                    place.describe_location()
                ),
                &f.name,
                &live.config.tags,
            ));
        }
        let cause = match (prior, digests.get(&f.image)) {
            (Some(Record::Function { config: old, .. }), Some(digest)) => {
                self.function_cause(&address, f, old, &live.config, &config, digest)
            }
            _ => None,
        };
        let sensitive = sensitive_keys(self.desired, self.state, &address);
        let (before, want) =
            existing_function_attrs(&live.config, &config, prior.is_none(), &sensitive);
        let verdict = self.verdict(&address, &before, &want, prior.is_none(), &record, cause);
        FunctionDecision::Existing {
            live: Box::new(live.config),
            verdict,
        }
    }

    /// The error when Lambda would not be allowed to pull the function's image (checked against
    /// the policy in place after this plan), so CreateFunction would fail.
    fn denied_pull(&self, f: &Function) -> Option<PlanError> {
        let repo = self.desired.function_repository(f)?;
        let live_policy = self
            .observed
            .policies
            .get(&Place::new(&repo.target, &repo.name))
            .cloned()
            .flatten();
        let (policy, source) =
            crate::check::policy_in_effect(&self.policies, repo, live_policy.as_deref());
        let access = crate::check::function_access(self.desired, f, repo, policy.as_ref(), source);
        if access.allowed {
            return None;
        }
        let why: Vec<String> = access
            .checks
            .iter()
            .filter(|c| !c.allowed)
            .map(|c| format!("{}: {}", c.requester, c.explanation))
            .collect();
        Some(PlanError {
            declared_at: None,
            address: Address::Function(f.key.clone()),
            message: format!(
                "Lambda would not be allowed to pull the image of function `{}` from repository `{}` \
                 ({}), so CreateFunction would fail with AccessDeniedException: {}",
                f.name,
                repo.name,
                match source {
                    crate::check::PolicySource::Live =>
                        "its live policy, which ferry does not manage",
                    crate::check::PolicySource::AfterPlan => "the policy this plan writes",
                    crate::check::PolicySource::None => "it has no policy",
                },
                why.join("; ")
            ),
            hint: access.hint.unwrap_or_default(),
        })
    }
}
