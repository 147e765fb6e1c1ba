//! Declaration texts and helpers the end-to-end tests share, so that each test file writes
//! only what is its own: the two functions most of them deploy, and the state listing.

use super::{PROD, STAGING, World, function};

/// `[functions.api-prod]`: `hello`'s image in prod, with the execution role LambdaRole.
pub fn api_prod() -> String {
    function("api-prod", "prod", PROD, "hello", "LambdaRole")
}

/// `[functions.api-staging]`: the same in staging.
pub fn api_staging() -> String {
    function("api-staging", "staging", STAGING, "hello", "LambdaRole")
}

/// The addresses `ferry state list` prints, one per line.
pub fn state_list(w: &World) -> Vec<String> {
    w.ferry(&["state", "list"])
        .expect(0)
        .stdout
        .lines()
        .map(str::to_string)
        .collect()
}
