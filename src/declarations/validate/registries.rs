//! The `[registries.*]` tables: an account and a region each.

use super::values::{check_region, reference};
use super::{Checker, Entry, Merged};
use crate::model::{Account, Project, Registry};
use std::collections::BTreeMap;

pub(super) fn check_registries(
    c: &mut Checker,
    merged: &Merged,
    accounts: &BTreeMap<String, Account>,
    project: &Project,
    env_region: Option<&str>,
) -> BTreeMap<String, Registry> {
    let mut out = BTreeMap::new();
    for (key, Entry { file, value, .. }) in &merged.registries {
        let r = value.get_ref();
        let account = reference(c, *file, &r.account, accounts, "account", "accounts");
        let region = match &r.region {
            Some(region) => {
                check_region(c, *file, region);
                Some(region.get_ref().clone())
            }
            None => {
                let region = project
                    .default_region
                    .clone()
                    .or_else(|| env_region.map(str::to_string));
                if region.is_none() {
                    c.err(
                        *file,
                        value.span(),
                        format!("registry `{key}` has no region"),
                        "no region here, no default_region in [project], and AWS_REGION is not set",
                        "add region = \"us-east-1\" (the region of the ECR registry) here, or \
                         default_region to [project]",
                    );
                }
                region
            }
        };
        if let (Some(account), Some(region)) = (account, region) {
            // An account has one ECR registry per region: two keys for it would let the same
            // repository name be declared twice, and its policy be written by two declarations.
            if let Some(first) = out
                .values()
                .find(|g: &&Registry| g.account == account.key && g.region == region)
            {
                let (first_file, first_span) = merged
                    .registries
                    .get(&first.key)
                    .map(|e| (e.file, e.value.span()))
                    .expect("declared");
                let place = c.location(first_file, first_span.start);
                c.err(
                    *file,
                    r.account.span(),
                    format!(
                        "registries `{}` and `{key}` are the same ECR registry (account {}, region {region})",
                        first.key, account.id
                    ),
                    "the same account and region as another registry",
                    format!("declare the registry once (the other is at {place}) and refer to it by key"),
                );
            }
            out.insert(
                key.clone(),
                Registry {
                    key: key.clone(),
                    account: account.key.clone(),
                    account_id: account.id.clone(),
                    region,
                },
            );
        }
    }
    out
}
