//! Replication on plain data: `replicate_to` validated (destinations, cycles, ECR's limits, a
//! function's region), each function routed to the repository in its region, and every
//! replica's policy derived from the functions that pull from it.

#[path = "support/plain.rs"]
mod plain;

use ferry::declarations::parse_sources;
use plain::sources;

const REPLICATED: &str = include_str!("fixtures/replication.toml");

fn errors(text: &str) -> String {
    match parse_sources(&sources(&[("ferry.toml", text)]), &|_| None) {
        Ok(_) => panic!("expected diagnostics"),
        Err(d) => d.render(false),
    }
}

#[test]
fn a_replica_is_a_repository_of_its_own_in_the_destination_registry() {
    let d = plain::desired(REPLICATED);
    let source = &d.repositories["hello"];
    assert_eq!(source.replicate_to, vec!["eu-prod".to_string()]);
    let replica = &d.repositories["hello@eu-prod"];
    assert_eq!(replica.name, "hello");
    assert_eq!(replica.replica_of.as_deref(), Some("hello"));
    assert_eq!(replica.target.account_id, "222222222222");
    assert_eq!(replica.target.region, "eu-west-1");
    assert_eq!(replica.tag_mutability, source.tag_mutability);
    assert!(replica.replicate_to.is_empty());
    use ferry::model::Address;
    let at = &d.declared_at;
    assert_eq!(
        at[&Address::Repository("hello@eu-prod".into())],
        at[&Address::Repository("hello".into())]
    );
}

#[test]
fn a_function_in_a_region_no_copy_covers_is_refused_naming_replicate_to() {
    let text = REPLICATED.replace(
        "region = \"eu-west-1\"\nimage",
        "region = \"ap-south-1\"\nimage",
    );
    let e = errors(&text);
    assert!(
        e.contains("function `eu-own` is in ap-south-1 but its image is in registry `central`"),
        "{e}"
    );
    assert!(e.contains("replicate_to"), "{e}");
    assert!(e.contains("ferry.toml:"), "{e}");
}

#[test]
fn without_replicate_to_the_region_rule_is_unchanged() {
    let text = REPLICATED.replace("replicate_to = [\"eu-prod\"]\n", "");
    let e = errors(&text);
    assert!(e.contains("function `eu-own` is in eu-west-1"), "{e}");
    assert!(e.contains("function `eu-third` is in eu-west-1"), "{e}");
}

#[test]
fn a_destination_must_be_another_declared_registry_listed_once() {
    let own = errors(&REPLICATED.replace("[\"eu-prod\"]", "[\"central\"]"));
    assert!(
        own.contains("repository `hello` replicates to its own registry `central`"),
        "{own}"
    );
    let unknown = errors(&REPLICATED.replace("[\"eu-prod\"]", "[\"eu-nowhere\"]"));
    assert!(
        unknown.contains("registry `eu-nowhere` is not declared"),
        "{unknown}"
    );
    let twice = errors(&REPLICATED.replace("[\"eu-prod\"]", "[\"eu-prod\", \"eu-prod\"]"));
    assert!(
        twice.contains("registry `eu-prod` is listed twice"),
        "{twice}"
    );
}

#[test]
fn replicating_back_is_a_cycle_and_onto_a_declared_repository_a_clash() {
    let back = format!(
        "{REPLICATED}\n[repositories.hello-eu]\nregistry = \"eu-prod\"\nname = \"hello\"\nreplicate_to = [\"central\"]\n"
    );
    let e = errors(&back);
    assert!(e.contains("replicate_to forms a cycle"), "{e}");
    let clash = format!(
        "{REPLICATED}\n[repositories.hello-eu]\nregistry = \"eu-prod\"\nname = \"hello\"\n"
    );
    let e = errors(&clash);
    assert!(
        e.contains("repository `hello` would be replicated onto repository `hello-eu`"),
        "{e}"
    );
}

#[test]
fn a_prefix_filter_that_would_copy_another_repository_is_refused() {
    let text = format!("{REPLICATED}\n[repositories.hello-world]\nregistry = \"central\"\n");
    let e = errors(&text);
    assert!(
        e.contains("the replication filter `hello` (ECR matches it as a prefix)"),
        "{e}"
    );
    // With the same destinations both are in one rule, which is what ECR does anyway.
    let same = format!(
        "{REPLICATED}\n[repositories.hello-world]\nregistry = \"central\"\nreplicate_to = [\"eu-prod\"]\n"
    );
    plain::desired(&same);
}

#[test]
fn more_than_ten_rules_in_one_registry_is_over_ecrs_limit() {
    let mut text = REPLICATED.replace("replicate_to = [\"eu-prod\"]\n", "");
    let regions = [
        "eu-west-1",
        "eu-west-2",
        "eu-west-3",
        "eu-central-1",
        "eu-north-1",
        "us-west-1",
        "us-west-2",
        "us-east-2",
        "ap-south-1",
        "ap-northeast-1",
        "ca-central-1",
    ];
    for (i, region) in regions.iter().enumerate() {
        text.push_str(&format!(
            "\n[registries.r{i}]\naccount = \"registry\"\nregion = \"{region}\"\n\
             \n[repositories.repo{i}x]\nregistry = \"central\"\nreplicate_to = [\"r{i}\"]\n"
        ));
    }
    let text = text
        .replace("region = \"eu-west-1\"\nimage", "image")
        .replace(
            "[registries.eu-prod]\naccount = \"prod\"\nregion = \"eu-west-1\"\n",
            "",
        );
    let e = errors(&text);
    assert!(
        e.contains("registry `central` would need 11 replication rules"),
        "{e}"
    );
}
