//! The `[project]` table.

use super::grammar::*;
use super::values::check_region;
use super::{Checker, raw};
use crate::model::Project;
use serde_spanned::Spanned;

pub(super) fn check_project(c: &mut Checker, file: usize, p: &raw::Project) -> Project {
    let name = p.name.get_ref();
    if name.is_empty()
        || name.len() > 64
        || !name
            .chars()
            .all(|ch| ch.is_ascii_alphanumeric() || ch == '-' || ch == '_')
    {
        c.at(
            file,
            &p.name,
            "the project name must be 1 to 64 letters, digits, `-` or `_`",
            "not a valid project name",
            "the name goes into tags and state names; for example name = \"payments\"",
        );
    }
    if let Some(r) = &p.default_region {
        check_region(c, file, r);
    }
    if let Some(t) = &p.assume_role
        && !(t.get_ref().contains("{account_id}") || is_role_arn(t.get_ref()))
    {
        c.at(
            file,
            t,
            "assume_role must be a role ARN template containing {account_id}",
            "no {account_id} placeholder",
            "for example assume_role = \"arn:aws:iam::{account_id}:role/FerryDeployer\"",
        );
    }
    if let Some(r) = &p.required_version {
        check_required_version(c, file, r);
    }
    Project {
        name: name.clone(),
        default_region: p.default_region.as_ref().map(|r| r.get_ref().clone()),
    }
}

/// `required_version`: a requirement this ferry must satisfy, so that declarations written for
/// a newer ferry are refused by an older one rather than half understood.
fn check_required_version(c: &mut Checker, file: usize, r: &Spanned<String>) {
    match crate::version::parse_requirement(r.get_ref()) {
        Err(e) => c.at(
            file,
            r,
            &format!("required_version is not a version requirement: {e}"),
            "not a version requirement",
            "use Cargo's syntax, for example required_version = \">= 0.2\" or \">= 0.2, < 0.4\"",
        ),
        Ok(req) if !crate::version::satisfies(&req) => c.at(
            file,
            r,
            &format!(
                "this project requires ferry {}, and this is ferry {}",
                r.get_ref(),
                crate::version::LINE
            ),
            &format!("not satisfied by {}", crate::version::VERSION),
            "install a ferry that satisfies the requirement (`ferry --version` says which one runs), \
             or change required_version if the project really works with this one",
        ),
        Ok(_) => {}
    }
}
