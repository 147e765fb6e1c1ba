//! The `[accounts.*]` tables: ids, roles, profiles and organizations.

use super::grammar::{is_account_id, is_org_path, is_role_arn, role_account};
use super::values::check_org_id;
use super::{Checker, Entry, Merged, raw};
use crate::model::Account;
use std::collections::BTreeMap;
use std::ops::Range;

pub(super) fn check_accounts(
    c: &mut Checker,
    merged: &Merged,
    project: &raw::Project,
    project_file: usize,
) -> BTreeMap<String, Account> {
    let mut out = BTreeMap::new();
    let mut ids: BTreeMap<String, (usize, Range<usize>, String)> = BTreeMap::new();
    for (key, Entry { file, value, .. }) in &merged.accounts {
        let a = value.get_ref();
        let id = a.id.get_ref();
        if !is_account_id(id) {
            c.at(
                *file,
                &a.id,
                &format!("account id `{id}` is not 12 digits"),
                "not an AWS account id",
                "write the 12-digit account id as a quoted string, for example id = \"111111111111\"",
            );
        } else if let Some((first_file, first_span, first_key)) = ids.get(id) {
            let place = c.location(*first_file, first_span.start);
            c.at(
                *file,
                &a.id,
                &format!("accounts `{first_key}` and `{key}` have the same id {id}"),
                "duplicate account id",
                &format!(
                    "declare each account once (the other is at {place}) and refer to it by key"
                ),
            );
        } else {
            ids.insert(id.clone(), (*file, a.id.span(), key.clone()));
        }
        let role_arn = match (&a.role_arn, &project.assume_role) {
            (Some(r), _) => {
                if !is_role_arn(r.get_ref()) {
                    c.at(
                        *file,
                        r,
                        &format!("`{}` is not an IAM role ARN", r.get_ref()),
                        "not a role ARN",
                        "write arn:aws:iam::<12-digit account>:role/<name>",
                    );
                } else if let Some(other) = role_account(r.get_ref()).filter(|o| *o != id.as_str())
                {
                    c.at(
                        *file,
                        r,
                        &format!(
                            "role_arn is a role of account {other}, but account `{key}` is {id}: its \
                             credentials would act in {other}"
                        ),
                        "a role in another account",
                        &format!("use the deployer role of account {id}: arn:aws:iam::{id}:role/<name>"),
                    );
                }
                Some(r.get_ref().clone())
            }
            (None, Some(t)) => {
                let arn = t.get_ref().replace("{account_id}", id);
                if !is_role_arn(&arn) {
                    c.at(
                        project_file,
                        t,
                        &format!("assume_role gives `{arn}` for account `{key}`, not a role ARN"),
                        "not a role ARN template",
                        "write arn:aws:iam::{account_id}:role/<name>",
                    );
                } else if let Some(other) = role_account(&arn).filter(|o| *o != id.as_str()) {
                    c.at(
                        project_file,
                        t,
                        &format!(
                            "assume_role gives a role of account {other} for account `{key}` ({id}): \
                             its credentials would act in {other}"
                        ),
                        "names one account for every account",
                        "write the account as {account_id}: arn:aws:iam::{account_id}:role/<name>",
                    );
                }
                Some(arn)
            }
            (None, None) => None,
        };
        if let Some(o) = &a.organization_id {
            check_org_id(c, *file, o);
        }
        if let Some(p) = &a.org_path
            && !is_org_path(p.get_ref())
        {
            c.at(
                *file,
                p,
                "org_path must be an Organizations path such as o-a1b2c3d4e5/r-ab12/ou-ab12-11111111/",
                "not an org path",
                "find it in the Organizations console or with `aws organizations list-parents`",
            );
        }
        out.insert(
            key.clone(),
            Account {
                key: key.clone(),
                id: id.clone(),
                profile: a.profile.as_ref().map(|p| p.get_ref().clone()),
                role_arn,
                external_id: a.external_id.as_ref().map(|p| p.get_ref().clone()),
                organization_id: a.organization_id.as_ref().map(|p| p.get_ref().clone()),
                org_path: a.org_path.as_ref().map(|p| p.get_ref().clone()),
            },
        );
    }
    out
}
