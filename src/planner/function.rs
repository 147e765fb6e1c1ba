//! The decider for declared Lambda functions.

use super::Planner;
use super::attrs::*;
use super::ownership::*;
use super::plan::*;
use crate::cloud::{FunctionConfig, LiveFunction};
use crate::model::Place;
use crate::model::{Address, Function, ImageRef};
use crate::state::Record;
use std::collections::BTreeMap;

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

    pub(super) fn function(&mut self, f: &Function, digests: &BTreeMap<String, String>) {
        let address = Address::Function(f.key.clone());
        if let Some(old) = self.renames.get(&address) {
            let what = format!(
                "function `{}` in account {} ({})",
                f.name, f.target.account_id, f.target.region
            );
            self.errors.push(self.rename_error(&address, old, &what));
            return;
        }
        let Some(repo) = self.desired.function_repository(f) else {
            return;
        };
        // Without a resolved digest there is nothing to deploy; the image error says why.
        let Some(digest) = digests.get(&f.image) else {
            return;
        };
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
        let place = Place::new(&f.target, &f.name);
        let live = self.observed.functions.get(&place).cloned().flatten();
        let prior = self.state.resources.get(&address);
        let sensitive = &sensitive_keys(self.desired, self.state, &address);
        // Refuse to create or repoint a function Lambda would not be allowed to pull for.
        let repoints = live
            .as_ref()
            .is_none_or(|l| l.config.image_uri != config.image_uri);
        if repoints {
            let live_policy = self
                .observed
                .policies
                .get(&Place::new(&repo.target, &repo.name))
                .cloned()
                .flatten();
            let (policy, source) =
                crate::check::policy_in_effect(self.desired, repo, live_policy.as_deref());
            let access =
                crate::check::function_access(self.desired, f, repo, policy.as_ref(), source);
            if !access.allowed {
                let why: Vec<String> = access
                    .checks
                    .iter()
                    .filter(|c| !c.allowed)
                    .map(|c| format!("{}: {}", c.requester, c.explanation))
                    .collect();
                self.errors.push(PlanError {
                    declared_at: None,
                    address,
                    message: format!(
                        "Lambda would not be allowed to pull the image of function `{}` from repository `{}` \
                         ({}), so CreateFunction would fail with AccessDeniedException: {}",
                        f.name,
                        repo.name,
                        match source {
                            crate::check::PolicySource::Live => "its live policy, which ferry does not manage",
                            crate::check::PolicySource::AfterPlan => "the policy this plan writes",
                            crate::check::PolicySource::None => "it has no policy",
                        },
                        why.join("; ")
                    ),
                    hint: access.hint.unwrap_or_default(),
                });
                return;
            }
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
            let changes = diff(
                &function_attrs(Some(old), None, sensitive),
                &function_attrs(Some(&config), Some(old), sensitive),
            );
            let create = Box::new(Operation::CreateFunction { config });
            let operation = match old_live {
                Some(LiveFunction { config: before, .. }) => Operation::Replace {
                    old_target: old_target.clone(),
                    delete: Box::new(Operation::DeleteFunction {
                        name: old.name.clone(),
                        before,
                    }),
                    create,
                },
                None => *create,
            };
            self.push(step(
                address,
                Action::Replace,
                "its name, account or region changed".to_string(),
                f.target.clone(),
                changes,
                operation,
                Some(record),
            ));
            return;
        }
        match live {
            None => {
                let reason = if prior.is_some() {
                    "it was deleted outside ferry; it will be created again"
                } else {
                    "it is declared and does not exist"
                };
                let changes = diff(&[], &function_attrs(Some(&config), None, sensitive));
                self.push(step(
                    address,
                    Action::Create,
                    reason.to_string(),
                    f.target.clone(),
                    changes,
                    Operation::CreateFunction { config },
                    Some(record),
                ));
            }
            Some(live) => {
                if prior.is_none() && !self.owned(&live.config.tags, &address) {
                    self.errors.push(self.unrecorded(
                        &address,
                        &format!(
                            "function `{}` already exists in {}",
                            f.name,
                            place.describe_location()
                        ),
                        &f.name,
                        &live.config.tags,
                    ));
                    return;
                }
                let before = function_attrs(Some(&live.config), None, sensitive);
                let want = function_attrs(Some(&config), Some(&live.config), sensitive);
                // Compare real values (sensitive ones included), display redacted ones.
                let differs = live.config != config;
                let (before, want) = if differs || prior.is_none() {
                    (before, want)
                } else {
                    (want.clone(), want)
                };
                let cause = match prior {
                    Some(Record::Function { config: old, .. }) => {
                        self.function_cause(&address, f, old, &live.config, &config, digest)
                    }
                    _ => None,
                };
                self.update_or_keep(
                    address,
                    f.target.clone(),
                    &before,
                    &want,
                    prior.is_none(),
                    Operation::UpdateFunction {
                        before: live.config,
                        after: config,
                    },
                    record,
                    cause,
                );
            }
        }
    }
}
