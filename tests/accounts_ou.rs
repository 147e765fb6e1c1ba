//! An account group discovered from an organizational unit, end to end against moto: the
//! organization, its OUs (one nested) and its accounts are made with boto3; ferry finds every
//! ACTIVE account beneath the OU, deploys one instance per account, plans a joining account as
//! exactly its instances, and one that left as their removal.

mod support;

use support::{REGISTRY, World};

/// The management account, whose credentials read AWS Organizations.
const MGMT: &str = "300000000000";

fn declarations(ou: &str) -> String {
    format!(
        "[project]\nname = \"org-fleet\"\ndefault_region = \"us-east-1\"\n\
         assume_role = \"arn:aws:iam::{{account_id}}:role/FerryDeployer\"\n\n\
         [accounts.registry]\nid = \"{REGISTRY}\"\n\n\
         [accounts.mgmt]\nid = \"{MGMT}\"\n\n\
         [account_groups.fleet]\norganizational_unit = \"{ou}\"\norganization_account = \"mgmt\"\n\n\
         [registries.central]\naccount = \"registry\"\n\n\
         [repositories.hello]\nregistry = \"central\"\n\n\
         [images.hello]\nrepository = \"hello\"\ntag = \"01\"\n\n\
         [functions.api]\naccounts = [\"fleet\"]\nimage = \"hello\"\n\
         name = \"api-{{account_id}}\"\nrole = \"arn:aws:iam::{{account_id}}:role/LambdaRole\"\n"
    )
}

fn id(v: serde_json::Value) -> String {
    v.as_str().expect("an id").to_string()
}

/// The functions a plan creates: `function.api[ID] will be created`.
fn created(plan: &str) -> Vec<&str> {
    plan.lines()
        .filter(|l| l.contains(" will be created"))
        .filter_map(|l| l.find("function.").map(|at| &l[at..]))
        .collect()
}

#[test]
fn accounts_beneath_an_ou_are_discovered_joined_and_left() {
    let w = World::new();
    let root = id(w.admin("org-create", MGMT, &[]));
    let ou = id(w.admin("org-ou", MGMT, &[&root, "fleet"]));
    let nested = id(w.admin("org-ou", MGMT, &[&ou, "nested"]));
    let outside = id(w.admin("org-account", MGMT, &[&root, "outside"]));
    let mut members = vec![
        id(w.admin("org-account", MGMT, &[&ou, "one"])),
        id(w.admin("org-account", MGMT, &[&nested, "two"])),
    ];
    members.sort();
    for m in &members {
        w.admin("role", m, &["LambdaRole"]);
    }
    w.admin("create-repo", REGISTRY, &["hello"]);
    w.admin("push", REGISTRY, &["hello", "01", "v1"]);
    let decl = declarations(&ou);
    // The repository exists unmanaged: import it, so the plan is about functions and policy.
    w.write("ferry.toml", &decl);
    w.ferry(&["import", "repository.hello", "hello"]).expect(0);

    // Offline validation never asks AWS and still checks the function's values.
    w.ferry_with_env(&["validate"], &[("AWS_ENDPOINT_URL", "http://127.0.0.1:9")])
        .expect(0);

    let plan = w.ferry(&["plan"]).expect(0);
    let line = format!(
        "account group `fleet` ({ou}): 2 accounts discovered: {}; new since the last apply: {}",
        members.join(", "),
        members.join(", ")
    );
    assert!(plan.stderr.contains(&line), "{}", plan.stderr);
    let mut expected: Vec<String> = members
        .iter()
        .map(|m| format!("function.api[{m}] will be created"))
        .collect();
    expected.sort();
    let mut shown: Vec<String> = created(&plan.stdout)
        .iter()
        .map(|s| s.to_string())
        .collect();
    shown.sort();
    assert_eq!(shown, expected, "{}", plan.stdout);
    assert!(!plan.stdout.contains(&outside), "{}", plan.stdout);

    w.ferry(&["apply", "--auto-approve"]).expect(0);
    for m in &members {
        let live = w.admin("functions", m, &[]);
        let f = &live[&format!("api-{m}")];
        assert_eq!(f["Role"], format!("arn:aws:iam::{m}:role/LambdaRole"));
        assert_eq!(f["Tags"]["ferry:address"], format!("function.api[{m}]"));
    }
    let policy = w.admin("policy", REGISTRY, &["hello"]).to_string();
    for m in &members {
        assert!(policy.contains(m.as_str()), "{policy}");
    }
    let again = w.ferry(&["plan", "--detailed-exitcode"]).expect(0);
    assert!(again.stdout.contains("No changes"), "{}", again.stdout);
    assert!(!again.stderr.contains("new since"), "{}", again.stderr);

    // A new account in the nested OU is planned as exactly its instance (and the policy).
    let joined = id(w.admin("org-account", MGMT, &[&nested, "three"]));
    w.admin("role", &joined, &["LambdaRole"]);
    let plan = w.ferry(&["plan"]).expect(0);
    assert!(
        plan.stderr.contains("3 accounts discovered: "),
        "{}",
        plan.stderr
    );
    assert!(
        plan.stderr
            .contains(&format!("new since the last apply: {joined}\n")),
        "{}",
        plan.stderr
    );
    assert_eq!(
        created(&plan.stdout),
        vec![format!("function.api[{joined}] will be created")],
        "{}",
        plan.stdout
    );
    assert!(
        plan.stdout
            .contains("Plan: 1 to add, 1 to change, 0 to destroy"),
        "{}",
        plan.stdout
    );
    w.ferry(&["apply", "--auto-approve"]).expect(0);
    assert!(w.admin("functions", &joined, &[])[&format!("api-{joined}")].is_object());

    // An account moved out of the OU: its instance is removed, the others stay.
    let left = members[0].clone();
    let from = if id(w.admin("org-parent", MGMT, &[&left])) == ou {
        ou.clone()
    } else {
        nested.clone()
    };
    w.admin("org-move", MGMT, &[&left, &from, &root]);
    let plan = w.ferry(&["plan"]).expect(0);
    assert!(
        plan.stdout
            .contains(&format!("function.api[{left}] will be destroyed")),
        "{}",
        plan.stdout
    );
    assert!(created(&plan.stdout).is_empty(), "{}", plan.stdout);
    w.ferry(&["apply", "--auto-approve"]).expect(0);
    let live = w.admin("functions", &left, &[]);
    assert!(live.as_object().unwrap().is_empty(), "{live:#?}");
    let policy = w.admin("policy", REGISTRY, &["hello"]).to_string();
    assert!(!policy.contains(left.as_str()), "{policy}");
    let again = w.ferry(&["plan", "--detailed-exitcode"]).expect(0);
    assert!(again.stdout.contains("No changes"), "{}", again.stdout);
}
