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

// ---- routing and policy derivation, on plain data ----

use ferry::model::replication::{RouteWhy, choose, route};
use ferry::model::{Address, Target};
use ferry::policy;
use serde_json::json;

const DIGEST: &str = "sha256:1111111111111111111111111111111111111111111111111111111111111111";

fn target(account: &str, id: &str, region: &str) -> Target {
    Target {
        account: account.into(),
        account_id: id.into(),
        region: region.into(),
    }
}

#[test]
fn each_function_pulls_from_the_copy_in_its_region_its_own_account_first() {
    let d = plain::desired(REPLICATED);
    let routed = |f: &str| {
        let r = route(&d, &d.functions[f]).unwrap();
        (r.repository.key.clone(), r.why)
    };
    assert_eq!(routed("home"), ("hello".into(), RouteWhy::Source));
    assert_eq!(
        routed("eu-own"),
        ("hello@eu-prod".into(), RouteWhy::ReplicaOwnAccount)
    );
    assert_eq!(
        routed("eu-third"),
        ("hello@eu-prod".into(), RouteWhy::ReplicaInRegion)
    );
    let why = route(&d, &d.functions["eu-own"]).unwrap().describe();
    assert!(why.contains("replica `hello@eu-prod`"), "{why}");
    assert!(why.contains("its own account and region"), "{why}");
}

#[test]
fn choosing_among_copies_as_a_table() {
    let d = plain::desired(REPLICATED);
    let mut source = d.repositories["hello"].clone();
    let mut own = d.repositories["hello@eu-prod"].clone();
    let mut other = own.clone();
    other.key = "hello@eu-other".into();
    other.target = target("x", "444444444444", "eu-west-1");
    // (source region, replica regions, function account, function region, chosen, why)
    own.target.region = "us-east-1".into();
    let c = choose(&source, [&own, &other], "222222222222", "us-east-1").unwrap();
    assert_eq!(
        (c.repository.key.as_str(), c.why),
        ("hello@eu-prod", RouteWhy::ReplicaOwnAccount)
    );
    let c = choose(&source, [&own, &other], "333333333333", "us-east-1").unwrap();
    assert_eq!(
        (c.repository.key.as_str(), c.why),
        ("hello", RouteWhy::SourceInRegion)
    );
    let c = choose(&source, [&own, &other], "111111111111", "us-east-1").unwrap();
    assert_eq!(
        (c.repository.key.as_str(), c.why),
        ("hello", RouteWhy::SourceOwnAccount)
    );
    let c = choose(&source, [&own, &other], "333333333333", "eu-west-1").unwrap();
    assert_eq!(
        (c.repository.key.as_str(), c.why),
        ("hello@eu-other", RouteWhy::ReplicaInRegion)
    );
    let c = choose(&source, [&own, &other], "444444444444", "eu-west-1").unwrap();
    assert_eq!(
        (c.repository.key.as_str(), c.why),
        ("hello@eu-other", RouteWhy::ReplicaOwnAccount)
    );
    source.target.region = "ap-south-1".into();
    assert!(choose(&source, [&own, &other], "111111111111", "sa-east-1").is_none());
}

#[test]
fn each_replica_policy_is_derived_from_the_functions_that_pull_from_it() {
    let d = plain::desired(REPLICATED);
    let source = policy::synthesize(&d, &d.repositories["hello"])
        .unwrap()
        .unwrap();
    let text = source.to_string();
    // The source grants only its own region's consumer (home, in prod).
    assert!(
        text.contains("arn:aws:lambda:us-east-1:222222222222:function:*"),
        "{text}"
    );
    assert!(!text.contains("333333333333"), "{text}");
    assert!(!text.contains("eu-west-1"), "{text}");
    let replica = policy::synthesize(&d, &d.repositories["hello@eu-prod"])
        .unwrap()
        .unwrap();
    let expected = json!({
        "Version": "2012-10-17",
        "Statement": [
            {
                "Sid": "LambdaECRImageRetrievalPolicy",
                "Effect": "Allow",
                "Principal": { "Service": "lambda.amazonaws.com" },
                "Action": ["ecr:BatchGetImage", "ecr:GetDownloadUrlForLayer"],
                "Condition": { "StringLike": { "aws:sourceArn": "arn:aws:lambda:eu-west-1:222222222222:function:*" } }
            },
            {
                "Sid": "CrossAccountPermission",
                "Effect": "Allow",
                "Principal": { "AWS": ["arn:aws:iam::333333333333:root"] },
                "Action": ["ecr:BatchGetImage", "ecr:GetDownloadUrlForLayer"]
            },
            {
                "Sid": "LambdaECRImageCrossAccountRetrievalPolicy",
                "Effect": "Allow",
                "Principal": { "Service": "lambda.amazonaws.com" },
                "Action": ["ecr:BatchGetImage", "ecr:GetDownloadUrlForLayer"],
                "Condition": { "StringLike": { "aws:sourceArn": ["arn:aws:lambda:eu-west-1:333333333333:function:*"] } }
            }
        ]
    });
    assert!(
        policy::equivalent(&replica, &expected),
        "{}",
        policy::pretty(&replica)
    );
}

#[test]
fn the_replication_configuration_and_the_destination_registry_policy_are_derived() {
    let d = plain::desired(&format!(
        "{REPLICATED}\n[repositories.other]\nregistry = \"central\"\nreplicate_to = [\"eu-prod\"]\n\
         \n[registries.us-west]\naccount = \"registry\"\nregion = \"us-west-2\"\n\
         \n[repositories.solo]\nregistry = \"central\"\nreplicate_to = [\"us-west\", \"eu-prod\"]\n"
    ));
    let configs = ferry::replication::configurations(&d);
    assert_eq!(configs.len(), 1);
    let central = &configs["central"];
    assert_eq!(central.target.account_id, "111111111111");
    let expected = json!({ "rules": [
        { "destinations": [{ "region": "eu-west-1", "registryId": "222222222222" }],
          "repositoryFilters": [
            { "filter": "hello", "filterType": "PREFIX_MATCH" },
            { "filter": "other", "filterType": "PREFIX_MATCH" } ] },
        { "destinations": [
            { "region": "eu-west-1", "registryId": "222222222222" },
            { "region": "us-west-2", "registryId": "111111111111" } ],
          "repositoryFilters": [{ "filter": "solo", "filterType": "PREFIX_MATCH" }] }
    ]});
    assert_eq!(central.value, ferry::replication::normalize(&expected));
    let policies = ferry::replication::registry_policies(&d);
    // Only the destination in another account needs a registry policy.
    assert_eq!(policies.keys().collect::<Vec<_>>(), vec!["eu-prod"]);
    let expected = json!({ "Version": "2012-10-17", "Statement": [{
        "Sid": "FerryReplicationFrom111111111111",
        "Effect": "Allow",
        "Principal": { "AWS": "arn:aws:iam::111111111111:root" },
        "Action": ["ecr:CreateRepository", "ecr:ReplicateImage"],
        "Resource": [
            "arn:aws:ecr:eu-west-1:222222222222:repository/hello",
            "arn:aws:ecr:eu-west-1:222222222222:repository/other",
            "arn:aws:ecr:eu-west-1:222222222222:repository/solo"
        ]
    }]});
    assert_eq!(policies["eu-prod"].value, expected);
    // Semantic comparison: order does not matter.
    let shuffled = json!({ "rules": [
        { "repositoryFilters": [{ "filterType": "PREFIX_MATCH", "filter": "solo" }],
          "destinations": [
            { "registryId": "111111111111", "region": "us-west-2" },
            { "region": "eu-west-1", "registryId": "222222222222" } ] },
        { "destinations": [{ "region": "eu-west-1", "registryId": "222222222222" }],
          "repositoryFilters": [
            { "filter": "other", "filterType": "PREFIX_MATCH" },
            { "filter": "hello", "filterType": "PREFIX_MATCH" } ] }
    ]});
    assert!(ferry::replication::same_configuration(
        &central.value.to_string(),
        &shuffled.to_string()
    ));
}

/// State before anything replicated: the source repository, recorded.
fn source_recorded() -> ferry::state::Snapshot {
    let d = plain::desired(REPLICATED);
    let source = &d.repositories["hello"];
    plain::snapshot([(
        Address::Repository("hello".into()),
        ferry::state::Record::Repository {
            target: source.target.clone(),
            config: ferry::cloud::RepositoryConfig {
                name: "hello".into(),
                tag_mutability: source.tag_mutability,
                scan_on_push: false,
                tags: d.ownership_tags(&Address::Repository("hello".into()), &source.tags),
            },
            force_delete: false,
        },
    )])
}

/// What is live before anything replicated: the source repository holding the image.
fn live_source() -> plain::Live {
    let d = plain::desired(REPLICATED);
    let source = &d.repositories["hello"];
    let config = ferry::cloud::RepositoryConfig {
        name: "hello".into(),
        tag_mutability: source.tag_mutability,
        scan_on_push: false,
        tags: d.ownership_tags(&Address::Repository("hello".into()), &source.tags),
    };
    let replica = &d.repositories["hello@eu-prod"];
    let mut live = plain::Live::default()
        .repository(&source.target, config.clone(), true)
        .no_repository(&replica.target, "hello")
        .image(
            "hello",
            ferry::cloud::ImageLookup::Found {
                digest: DIGEST.into(),
            },
        );
    for f in d.functions.values() {
        live = live.function(&f.target, &f.name, None);
    }
    live
}

#[test]
fn the_plan_creates_the_replica_its_policies_and_the_rule_in_order() {
    let d = plain::desired(REPLICATED);
    let p = ferry::planner::plan(&d, &source_recorded(), &live_source().build());
    assert!(p.errors.is_empty(), "{:?}", p.errors);
    let by: std::collections::BTreeMap<String, &ferry::planner::Step> =
        p.steps.iter().map(|s| (s.address.to_string(), s)).collect();
    let addresses: Vec<&str> = by.keys().map(String::as_str).collect();
    assert_eq!(
        addresses,
        vec![
            "function.eu-own",
            "function.eu-third",
            "function.home",
            "registry_policy.eu-prod",
            "replication.central",
            "repository.hello@eu-prod",
            "repository_policy.hello",
            "repository_policy.hello@eu-prod",
        ]
    );
    let id = |a: &str| by[a].id;
    let rule = by["replication.central"];
    assert!(rule.depends_on.contains(&id("repository.hello@eu-prod")));
    assert!(rule.depends_on.contains(&id("registry_policy.eu-prod")));
    assert_eq!(rule.target.account_id, "111111111111");
    assert_eq!(
        by["registry_policy.eu-prod"].target.account_id,
        "222222222222"
    );
    for f in ["function.eu-own", "function.eu-third"] {
        let s = by[f];
        assert!(
            s.depends_on
                .contains(&id("repository_policy.hello@eu-prod")),
            "{f}"
        );
        assert!(s.depends_on.contains(&id("replication.central")), "{f}");
        let ferry::planner::Operation::CreateFunction { config } = &s.operation else {
            panic!("{f}: {:?}", s.operation)
        };
        assert_eq!(
            config.image_uri,
            format!("222222222222.dkr.ecr.eu-west-1.amazonaws.com/hello@{DIGEST}")
        );
        assert!(
            s.reason.contains("pulls from replica `hello@eu-prod`"),
            "{}",
            s.reason
        );
    }
    let ferry::planner::Operation::CreateFunction { config } = &by["function.home"].operation
    else {
        panic!()
    };
    assert!(
        config
            .image_uri
            .starts_with("111111111111.dkr.ecr.us-east-1.amazonaws.com/hello@")
    );
    let ferry::planner::Operation::CreateRepository { config } =
        &by["repository.hello@eu-prod"].operation
    else {
        panic!()
    };
    assert_eq!(config.name, "hello");
    assert_eq!(
        config.tags.get("ferry:address").map(String::as_str),
        Some("repository.hello@eu-prod")
    );
}

#[test]
fn a_replication_configuration_ferry_did_not_write_is_refused_with_an_import_hint() {
    let d = plain::desired(REPLICATED);
    let mut live = live_source().build();
    let central = target("registry", "111111111111", "us-east-1");
    let foreign = json!({ "rules": [{ "destinations": [{ "region": "us-west-2", "registryId": "111111111111" }] }] });
    live.replication
        .insert(central.clone(), Some(foreign.to_string()));
    let p = ferry::planner::plan(&d, &source_recorded(), &live);
    let e = p
        .errors
        .iter()
        .find(|e| e.address == Address::Replication("central".into()))
        .expect("refused");
    assert!(e.message.contains("did not write"), "{}", e.message);
    assert!(
        e.hint
            .contains("ferry import replication.central 111111111111"),
        "{}",
        e.hint
    );
    // Equal to what ferry would write: adopted.
    let ours = ferry::replication::configurations(&d)["central"]
        .value
        .to_string();
    live.replication.insert(central, Some(ours));
    let p = ferry::planner::plan(&d, &source_recorded(), &live);
    let rule = p
        .steps
        .iter()
        .find(|s| s.address == Address::Replication("central".into()))
        .unwrap();
    assert_eq!(rule.action, ferry::planner::Action::Adopt);
}

#[test]
fn check_judges_each_function_against_the_repository_it_pulls_from() {
    // ferry reads the policies only: the source's lets everyone pull, the replica has none.
    let d = plain::desired(&REPLICATED.replace(
        "replicate_to = [\"eu-prod\"]",
        "replicate_to = [\"eu-prod\"]\nmanage_policy = false",
    ));
    let open = json!({ "Version": "2012-10-17", "Statement": [
        { "Sid": "All", "Effect": "Allow", "Principal": { "AWS": "*" }, "Action": ["ecr:BatchGetImage", "ecr:GetDownloadUrlForLayer"] },
        { "Sid": "Lambda", "Effect": "Allow", "Principal": { "Service": "lambda.amazonaws.com" }, "Action": ["ecr:BatchGetImage", "ecr:GetDownloadUrlForLayer"] }
    ]});
    let live = [
        ("hello".to_string(), Some(open.to_string())),
        ("hello@eu-prod".to_string(), None),
    ]
    .into();
    let verdicts = ferry::check::check_all(&d, &live);
    let by: std::collections::BTreeMap<String, (String, bool)> = verdicts
        .iter()
        .map(|v| {
            (
                v.function.to_string(),
                (v.repository.to_string(), v.allowed),
            )
        })
        .collect();
    assert_eq!(by["function.home"], ("repository.hello".into(), true));
    assert_eq!(
        by["function.eu-own"],
        ("repository.hello@eu-prod".into(), false)
    );
    assert_eq!(
        by["function.eu-third"],
        ("repository.hello@eu-prod".into(), false)
    );
}

#[test]
fn the_replication_plan_as_a_user_reads_it() {
    let d = plain::desired(REPLICATED);
    let p = ferry::planner::plan(&d, &source_recorded(), &live_source().build());
    insta::assert_snapshot!(ferry::render::plan_text(
        &p,
        ferry::render::Painter { color: false }
    ));
}
