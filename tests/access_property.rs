//! Least privilege, as a property: for random declarations (accounts, organizations, shares,
//! functions) and random requests, the policy ferry synthesizes allows Lambda's pull (and the
//! consumer account's) if and only if the declarations make that account a consumer. The oracle
//! below is written from the contract's rules, independently of the synthesizer.

#[path = "support/plain.rs"]
mod plain;

use ferry::iam::{self, Context, Principal, Request};
use ferry::policy;
use proptest::prelude::*;
use std::collections::BTreeSet;

const REGISTRY: &str = "100000000000";
const OTHERS: [&str; 4] = [
    "200000000001",
    "200000000002",
    "200000000003",
    "200000000004",
];
const OUTSIDER: &str = "999999999999";
const ORGS: [&str; 2] = ["o-aaaaaaaaaa", "o-bbbbbbbbbb"];
/// Organizational units of ORGS[0]; the third is nested in the first.
const PATHS: [&str; 3] = [
    "o-aaaaaaaaaa/r-ab12/ou-ab12-11111111/",
    "o-aaaaaaaaaa/r-ab12/ou-ab12-22222222/",
    "o-aaaaaaaaaa/r-ab12/ou-ab12-11111111/ou-ab12-33333333/",
];

#[derive(Debug, Clone)]
struct Scenario {
    /// Declared organization of the registry account and of each other account.
    orgs: Vec<Option<usize>>,
    shares: BTreeSet<usize>,
    share_org: Option<usize>,
    /// Accounts with a function (0 = registry, 1..=4 = others).
    functions: BTreeSet<usize>,
    /// Who asks: 0..=4 declared, 5 = an undeclared outsider.
    asker: usize,
    outsider_org: Option<usize>,
    /// Declared org path of each account (0..=4) and of the outsider (5); an account with a
    /// path is in ORGS[0].
    paths: Vec<Option<usize>>,
    /// `share_with_org_paths = ["<PATHS[i]>*"]`.
    share_path: Option<usize>,
}

fn account(i: usize) -> &'static str {
    match i {
        0 => REGISTRY,
        5 => OUTSIDER,
        n => OTHERS[n - 1],
    }
}

fn scenario() -> impl Strategy<Value = Scenario> {
    (
        proptest::collection::vec(proptest::option::of(0..2usize), 5),
        proptest::collection::btree_set(1..5usize, 0..4),
        proptest::option::of(0..2usize),
        proptest::collection::btree_set(0..5usize, 0..5),
        0..6usize,
        proptest::option::of(0..2usize),
        proptest::collection::vec(proptest::option::of(0..3usize), 6),
        proptest::option::of(0..2usize),
    )
        .prop_map(
            |(
                mut orgs,
                shares,
                share_org,
                functions,
                asker,
                mut outsider_org,
                paths,
                share_path,
            )| {
                for (i, p) in paths.iter().enumerate() {
                    if p.is_some() {
                        if i < 5 {
                            orgs[i] = Some(0);
                        } else {
                            outsider_org = Some(0);
                        }
                    }
                }
                Scenario {
                    orgs,
                    shares,
                    share_org,
                    functions,
                    asker,
                    outsider_org,
                    paths,
                    share_path,
                }
            },
        )
}

fn declarations(s: &Scenario) -> String {
    let mut t = String::from("[project]\nname = \"p\"\ndefault_region = \"us-east-1\"\n");
    for i in 0..5 {
        t.push_str(&format!("\n[accounts.a{i}]\nid = \"{}\"\n", account(i)));
        if let Some(o) = s.orgs[i] {
            t.push_str(&format!("organization_id = \"{}\"\n", ORGS[o]));
        }
        if let Some(p) = s.paths[i] {
            t.push_str(&format!("org_path = \"{}\"\n", PATHS[p]));
        }
    }
    t.push_str(
        "\n[registries.central]\naccount = \"a0\"\n\n[repositories.repo]\nregistry = \"central\"\n",
    );
    let shares: Vec<String> = s
        .shares
        .iter()
        .map(|i| format!("\"{}\"", account(*i)))
        .collect();
    t.push_str(&format!("share_with_accounts = [{}]\n", shares.join(", ")));
    if let Some(o) = s.share_org {
        t.push_str(&format!("share_with_organization = \"{}\"\n", ORGS[o]));
    }
    if let Some(p) = s.share_path {
        t.push_str(&format!("share_with_org_paths = [\"{}*\"]\n", PATHS[p]));
    }
    t.push_str("\n[images.img]\nrepository = \"repo\"\ntag = \"1\"\n");
    for i in &s.functions {
        t.push_str(&format!(
            "\n[functions.f{i}]\naccount = \"a{i}\"\nimage = \"img\"\nrole = \"arn:aws:iam::{}:role/R\"\n",
            account(*i)
        ));
    }
    t
}

/// The contract's rules, stated directly.
fn oracle(s: &Scenario) -> (bool, bool) {
    let asker_org = if s.asker == 5 {
        s.outsider_org
    } else {
        s.orgs[s.asker]
    };
    // An organizational unit shares with everything beneath it.
    let by_path = s
        .share_path
        .is_some_and(|sp| s.paths[s.asker].is_some_and(|ap| PATHS[ap].starts_with(PATHS[sp])));
    let by_org = (s.share_org.is_some() && asker_org == s.share_org) || by_path;
    let lambda = if s.asker == 0 {
        s.functions.contains(&0) || by_org
    } else {
        s.functions.contains(&s.asker) || s.shares.contains(&s.asker) || by_org
    };
    // The consumer account's principal (only asked for other accounts).
    let principal =
        s.asker != 0 && (s.functions.contains(&s.asker) || s.shares.contains(&s.asker) || by_org);
    (lambda, principal)
}

fn evaluate(policy: Option<&serde_json::Value>, request: &Request) -> bool {
    policy.is_some_and(|p| iam::evaluate(p, request).expect("valid policy").allowed())
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(400))]

    #[test]
    fn the_synthesized_policy_allows_exactly_the_consumers(s in scenario()) {
        let desired = plain::desired(&declarations(&s));
        let repo = &desired.repositories["repo"];
        let policy = policy::synthesize(&desired, repo).expect("within the size limit");
        let asker = account(s.asker);
        let org = if s.asker == 5 { s.outsider_org } else { s.orgs[s.asker] };
        let mut lambda_ctx = Context::new()
            .with("aws:SourceArn", &format!("arn:aws:lambda:us-east-1:{asker}:function:anything"))
            .with("aws:SourceAccount", asker);
        let mut principal_ctx = Context::new().with("aws:PrincipalAccount", asker);
        if let Some(o) = org {
            lambda_ctx = lambda_ctx.with("aws:SourceOrgID", ORGS[o]);
            principal_ctx = principal_ctx.with("aws:PrincipalOrgID", ORGS[o]);
        }
        if let Some(p) = s.paths[s.asker] {
            lambda_ctx = lambda_ctx.with("aws:SourceOrgPaths", PATHS[p]);
            principal_ctx = principal_ctx.with("aws:PrincipalOrgPaths", PATHS[p]);
        }
        let (want_lambda, want_principal) = oracle(&s);
        for action in ["ecr:BatchGetImage", "ecr:GetDownloadUrlForLayer"] {
            let lambda = Request {
                principal: Principal::Service("lambda.amazonaws.com".into()),
                action: action.into(),
                resource: repo.arn(),
                context: lambda_ctx.clone(),
            };
            prop_assert_eq!(evaluate(policy.as_ref(), &lambda), want_lambda, "Lambda for {} with {:?}", asker, policy);
            if s.asker != 0 {
                let principal = Request {
                    principal: Principal::Aws(format!("arn:aws:iam::{asker}:role/deployer")),
                    action: action.into(),
                    resource: repo.arn(),
                    context: principal_ctx.clone(),
                };
                prop_assert_eq!(evaluate(policy.as_ref(), &principal), want_principal, "account {} with {:?}", asker, policy);
            }
            // Nothing but pulling, for anyone.
            let push = Request { action: "ecr:PutImage".into(), ..lambda.clone() };
            prop_assert!(!evaluate(policy.as_ref(), &push));
        }
        // And a function in another region is never served by this registry's statements.
        let elsewhere = Request {
            principal: Principal::Service("lambda.amazonaws.com".into()),
            action: "ecr:BatchGetImage".into(),
            resource: repo.arn(),
            context: Context::new()
                .with("aws:SourceArn", &format!("arn:aws:lambda:eu-west-1:{asker}:function:f"))
                .with("aws:SourceAccount", asker),
        };
        let org_wide = (s.share_org.is_some() && org == s.share_org)
            || s.share_path.is_some_and(|sp| s.paths[s.asker].is_some_and(|ap| PATHS[ap].starts_with(PATHS[sp])));
        if !org_wide {
            prop_assert!(!evaluate(policy.as_ref(), &elsewhere));
        }
    }
}
