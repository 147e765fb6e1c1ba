//! Declared images and the digests they resolve to.

use super::Planner;
use super::plan::*;
use crate::cloud::ImageLookup;
use crate::model::{Address, Image, ImageRef};

/// What the planner decided for one declared image.
#[derive(Debug, PartialEq)]
pub(super) enum ImageDecision {
    /// Its tag or digest was found: functions deploy this digest.
    Resolved(String),
    /// It cannot be deployed, with the error that says why (not pushed, not servable, no
    /// repository yet).
    Refused(PlanError),
    /// Its repository is not declared (validation reports it): nothing to resolve.
    Skipped,
}

impl Planner<'_> {
    /// Decides what a declared image resolves to; builds nothing.
    pub(super) fn decide_image(&self, image: &Image) -> ImageDecision {
        let Some(repo) = self.desired.repositories.get(&image.repository) else {
            return ImageDecision::Skipped;
        };
        let lookup = self
            .observed
            .images
            .get(&image.key)
            .cloned()
            .unwrap_or(ImageLookup::RepositoryNotFound);
        let error = match lookup {
                ImageLookup::Found { digest } => return ImageDecision::Resolved(digest),
                ImageLookup::NotFound => {
                    PlanError {
                        declared_at: None,
                        address: Address::Image(image.key.clone()),
                        message: format!(
                            "image `{}`: {} not found in repository `{}` of account {} ({})",
                            image.key,
                            image.reference,
                            repo.name,
                            repo.target.account_id,
                            repo.target.region
                        ),
                        hint: format!(
                            "push it first (ferry never builds or pushes images), e.g. docker push {}{}, \
                             or fix the reference",
                            repo.uri(),
                            match &image.reference {
                                ImageRef::Tag(t) => format!(":{t}"),
                                ImageRef::Digest(d) => format!("@{d}"),
                            }
                        ),
                    }
                }
                ImageLookup::Failed { code, reason } => {
                    PlanError {
                        declared_at: None,
                        address: Address::Image(image.key.clone()),
                        message: format!(
                            "image `{}`: ECR cannot serve {} from repository `{}` of account {} ({}): {code}: {reason}",
                            image.key,
                            image.reference,
                            repo.name,
                            repo.target.account_id,
                            repo.target.region
                        ),
                        hint: match code.as_str() {
                            "KmsError" => "ECR could not decrypt the image with the repository's KMS key: \
                                           check that the key is enabled and its policy lets ECR use it",
                            c if c.starts_with("Upstream") || c == "ImageInaccessible" => {
                                "ECR cannot read the image right now (a pull-through cache upstream or \
                                 access to it); try again, or check the upstream registry"
                            }
                            _ => "Lambda deploys a single-platform Docker v2 or OCI image manifest; push \
                                  such an image (for a multi-platform build, reference the platform's \
                                  digest) or fix the reference",
                        }
                        .to_string(),
                    }
                }
                ImageLookup::RepositoryNotFound => {
                    PlanError {
                        declared_at: None,
                        address: Address::Image(image.key.clone()),
                        message: format!(
                            "image `{}`: repository `{}` does not exist yet in account {} ({}), so {} cannot be resolved",
                            image.key,
                            repo.name,
                            repo.target.account_id,
                            repo.target.region,
                            image.reference
                        ),
                        hint: "apply the repository first (declare it without images and functions), push \
                               the image, then declare the image and its functions"
                            .to_string(),
                    }
                }
            };
        ImageDecision::Refused(error)
    }
}
