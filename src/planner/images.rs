//! Declared images and the digests they resolve to.

use super::Planner;
use super::plan::*;
use crate::cloud::ImageLookup;
use crate::model::{Address, ImageRef};

impl Planner<'_> {
    pub(super) fn images(&mut self) -> Vec<ResolvedImage> {
        let mut out = Vec::new();
        for image in self.desired.images.values() {
            let Some(repo) = self.desired.repositories.get(&image.repository) else {
                continue;
            };
            let lookup = self
                .observed
                .images
                .get(&image.key)
                .cloned()
                .unwrap_or(ImageLookup::RepositoryNotFound);
            let digest = match lookup {
                ImageLookup::Found { digest } => Some(digest),
                ImageLookup::NotFound => {
                    self.errors.push(PlanError {
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
                    });
                    None
                }
                ImageLookup::Failed { code, reason } => {
                    self.errors.push(PlanError {
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
                    });
                    None
                }
                ImageLookup::RepositoryNotFound => {
                    self.errors.push(PlanError {
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
                    });
                    None
                }
            };
            out.push(ResolvedImage {
                key: image.key.clone(),
                repository_uri: repo.uri(),
                reference: image.reference.clone(),
                digest,
            });
        }
        out
    }
}
