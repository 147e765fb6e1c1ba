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

/// A fleet: the registry `central` holding `hello:01`'s repository, accounts `c0`, `c1`, … with
/// the ids `ids`, `[defaults.functions]` with the `{account_id}` LambdaRole, and one declaration
/// per key of `functions` deployed to every account (`accounts = [...]`), named `KEY-{account_id}`.
/// `extra` goes into `[project]`.
pub fn fleet_declarations(
    project: &str,
    extra: &str,
    ids: &[&str],
    functions: &[String],
) -> String {
    let mut d = format!(
        "[project]\nname = \"{project}\"\ndefault_region = \"us-east-1\"\n\
         assume_role = \"arn:aws:iam::{{account_id}}:role/FerryDeployer\"\n{extra}\n\
         [accounts.registry]\nid = \"{}\"\n",
        super::REGISTRY
    );
    let keys: Vec<String> = (0..ids.len()).map(|i| format!("\"c{i}\"")).collect();
    for (i, id) in ids.iter().enumerate() {
        d.push_str(&format!("\n[accounts.c{i}]\nid = \"{id}\"\n"));
    }
    d.push_str(
        "\n[defaults.functions]\nrole = \"arn:aws:iam::{account_id}:role/LambdaRole\"\n\
         \n[registries.central]\naccount = \"registry\"\n\
         \n[repositories.hello]\nregistry = \"central\"\n\
         \n[images.hello]\nrepository = \"hello\"\ntag = \"01\"\n",
    );
    for f in functions {
        d.push_str(&format!(
            "\n[functions.{f}]\naccounts = [{}]\nimage = \"hello\"\nname = \"{f}-{{account_id}}\"\n",
            keys.join(", ")
        ));
    }
    d
}

/// A world where LambdaRole exists in each of `ids`, the part of `full` before its image is
/// applied, `hello:01` pushed, and `full` written (to be planned or applied next).
pub fn fleet_ready(full: &str, ids: &[&str]) -> World {
    let w = World::new();
    for id in ids {
        w.admin("role", id, &["LambdaRole"]);
    }
    let (head, _) = full.split_once("\n[images.hello]").expect("an image");
    w.write("ferry.toml", head);
    w.ferry(&["apply", "--auto-approve"]).expect(0);
    w.admin("push", super::REGISTRY, &["hello", "01", "v1"]);
    w.write("ferry.toml", full);
    w
}
