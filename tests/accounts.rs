//! One declaration for many accounts, end to end against moto: `accounts = [...]` with an
//! account group, `{account_id}` roles, `[defaults.functions]`, and `--target` patterns,
//! checked with an independent boto3 client.

mod support;

use support::{REGISTRY, World};

const IDS: [&str; 6] = [
    "200000000001",
    "200000000002",
    "200000000003",
    "200000000004",
    "200000000005",
    "200000000006",
];

fn declarations() -> String {
    let mut d = format!(
        "[project]\nname = \"fleet\"\ndefault_region = \"us-east-1\"\n\
         assume_role = \"arn:aws:iam::{{account_id}}:role/FerryDeployer\"\n\n\
         [accounts.registry]\nid = \"{REGISTRY}\"\n"
    );
    for (i, id) in IDS.iter().enumerate() {
        d.push_str(&format!("\n[accounts.c{i}]\nid = \"{id}\"\n"));
    }
    d.push_str(
        "\n[account_groups.tail]\naccounts = [\"c3\", \"c4\", \"c5\"]\n\
         \n[defaults.functions]\nrole = \"arn:aws:iam::{account_id}:role/LambdaRole\"\nmemory_mb = 256\n\
         environment = { WHERE = \"{account}-{region}\" }\n\
         \n[registries.central]\naccount = \"registry\"\n\
         \n[repositories.hello]\nregistry = \"central\"\n\
         \n[images.hello]\nrepository = \"hello\"\ntag = \"01\"\n",
    );
    for f in ["api", "worker", "cron"] {
        d.push_str(&format!(
            "\n[functions.{f}]\naccounts = [\"c0\", \"c1\", \"c2\", \"tail\"]\nimage = \"hello\"\n\
             name = \"{f}-{{account_id}}\"\n"
        ));
    }
    d
}

#[test]
fn six_accounts_by_three_functions_from_one_declaration_each() {
    let w = World::new();
    for id in IDS {
        w.admin("role", id, &["LambdaRole"]);
    }
    let full = declarations();
    let (head, _) = full.split_once("\n[images.hello]").unwrap();
    w.write("ferry.toml", head);
    w.ferry(&["apply", "--auto-approve"]).expect(0);
    w.admin("push", REGISTRY, &["hello", "01", "v1"]);
    w.write("ferry.toml", &full);

    // A pattern and an account select instances of the declarations.
    let one = w
        .ferry(&[
            "plan",
            "--target",
            "function.api[\"c4\"]",
            "--target",
            "function.*[c0]",
        ])
        .expect(0);
    for shown in [
        "function.api[c4]",
        "function.api[c0]",
        "function.worker[c0]",
        "function.cron[c0]",
    ] {
        assert!(
            one.stdout.contains(&format!("{shown} will be created")),
            "{}",
            one.stdout
        );
    }
    assert!(
        !one.stdout.contains("function.worker[c4]"),
        "{}",
        one.stdout
    );
    let by_account = w.ferry(&["plan", "--target", "account:c5"]).expect(0);
    assert!(
        by_account.stdout.contains("Plan: 4 to add"),
        "three functions and the policy: {}",
        by_account.stdout
    );
    w.ferry(&["plan", "--target", "function.nothing[*]"])
        .expect(1);

    let plan = w.ferry(&["plan"]).expect(0);
    assert!(plan.stdout.contains("Plan: 19 to add"), "{}", plan.stdout);
    w.ferry(&["apply", "--auto-approve"]).expect(0);

    for (i, id) in IDS.iter().enumerate() {
        let functions = w.admin("functions", id, &[]);
        let functions = functions.as_object().unwrap();
        assert_eq!(functions.len(), 3, "{id}: {functions:#?}");
        for f in ["api", "worker", "cron"] {
            let live = &functions[&format!("{f}-{id}")];
            assert_eq!(live["Role"], format!("arn:aws:iam::{id}:role/LambdaRole"));
            assert_eq!(live["MemorySize"], 256);
            assert_eq!(live["Environment"]["WHERE"], format!("c{i}-us-east-1"));
            assert_eq!(live["Tags"]["ferry:address"], format!("function.{f}[c{i}]"));
        }
    }
    let again = w.ferry(&["plan", "--detailed-exitcode"]).expect(0);
    assert!(again.stdout.contains("No changes"), "{}", again.stdout);
}
