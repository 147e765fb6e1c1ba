//! The `[project]` table.

use super::grammar::is_role_arn;
use super::values::check_region;
use super::{Checker, raw};
use crate::model::Project;

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
    Project {
        name: name.clone(),
        default_region: p.default_region.as_ref().map(|r| r.get_ref().clone()),
    }
}
