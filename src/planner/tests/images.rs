//! The image decider.

use super::{GOOD, desired, first_words, planner, refused};
use crate::cloud::ImageLookup;
use crate::planner::images::ImageDecision;
use crate::refresh::Observed;
use crate::state::Snapshot;

const DIGEST: &str = "sha256:1111111111111111111111111111111111111111111111111111111111111111";

/// The decision for image `hello` when the registry answers `lookup` (`None`: no answer, as
/// for a repository that does not exist yet).
fn decide(lookup: Option<ImageLookup>) -> String {
    let d = desired(GOOD);
    let state = Snapshot::default();
    let mut observed = Observed::default();
    observed
        .images
        .extend(lookup.map(|l| ("hello".to_string(), l)));
    match planner(&d, &state, &observed).decide_image(&d.images["hello"]) {
        ImageDecision::Resolved(digest) => format!("resolved {digest}"),
        ImageDecision::Refused(e) => format!("{} / {}", refused(&e, 9), first_words(&e.hint, 4)),
        ImageDecision::Skipped => "skipped".into(),
    }
}

#[test]
fn decisions_as_a_table() {
    let failed = |code: &str| ImageLookup::Failed {
        code: code.into(),
        reason: "no".into(),
    };
    let table = [
        (
            Some(ImageLookup::Found {
                digest: DIGEST.into(),
            }),
            format!("resolved {DIGEST}"),
        ),
        (
            Some(ImageLookup::NotFound),
            "refused: image `hello`: tag `01` not found in repository `hello` / push it first (ferry"
                .into(),
        ),
        (
            Some(failed("KmsError")),
            "refused: image `hello`: ECR cannot serve tag `01` from repository / ECR could not decrypt"
                .into(),
        ),
        (
            Some(failed("UnsupportedImageType")),
            "refused: image `hello`: ECR cannot serve tag `01` from repository / Lambda deploys a single-platform"
                .into(),
        ),
        (
            None,
            "refused: image `hello`: repository `hello` does not exist yet in / apply the repository first"
                .into(),
        ),
    ];
    for (lookup, want) in table {
        assert_eq!(decide(lookup.clone()), want, "{lookup:?}");
    }
}
