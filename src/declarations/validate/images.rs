//! The `[images.*]` tables: a repository and a tag or a digest.

use super::grammar::{is_digest, is_image_tag};
use super::values::reference;
use super::{Checker, Entry, Merged};
use crate::model::{Image, ImageRef, Repository};
use std::collections::BTreeMap;

pub(super) fn check_images(
    c: &mut Checker,
    merged: &Merged,
    repositories: &BTreeMap<String, Repository>,
) -> BTreeMap<String, Image> {
    let mut out = BTreeMap::new();
    for (key, Entry { file, value, .. }) in &merged.images {
        let file = *file;
        let i = value.get_ref();
        let repo = reference(
            c,
            file,
            &i.repository,
            repositories,
            "repository",
            "repositories",
        );
        let reference = match (&i.tag, &i.digest) {
            (Some(t), None) => {
                if !is_image_tag(t.get_ref()) {
                    c.at(
                        file,
                        t,
                        &format!("`{}` is not a valid image tag", t.get_ref()),
                        "invalid tag",
                        "tags are 1 to 128 letters, digits, _ . - and start with a letter, digit or _",
                    );
                }
                Some(ImageRef::Tag(t.get_ref().clone()))
            }
            (None, Some(d)) => {
                if !is_digest(d.get_ref()) {
                    c.at(
                        file,
                        d,
                        &format!("`{}` is not an image digest", d.get_ref()),
                        "expected sha256:<64 lowercase hex digits>",
                        "copy the digest from `docker push` or `aws ecr describe-images`",
                    );
                }
                Some(ImageRef::Digest(d.get_ref().clone()))
            }
            (Some(_), Some(d)) => {
                c.at(
                    file,
                    d,
                    &format!("image `{key}` sets both tag and digest"),
                    "tag and digest together",
                    "keep exactly one: a tag (resolved to its digest at plan time) or a digest",
                );
                None
            }
            (None, None) => {
                c.err(
                    file,
                    value.span(),
                    format!("image `{key}` sets neither tag nor digest"),
                    "no tag or digest",
                    "add tag = \"...\" or digest = \"sha256:...\"",
                );
                None
            }
        };
        if let (Some(repo), Some(reference)) = (repo, reference) {
            out.insert(
                key.clone(),
                Image {
                    key: key.clone(),
                    repository: repo.key.clone(),
                    reference,
                },
            );
        }
    }
    out
}
