//! Policy synthesis on plain data: the contract's table, statement by statement.

#[path = "support/plain.rs"]
mod plain;

use ferry::policy::{self, MAX_POLICY_CHARS};
use plain::desired;
use serde_json::{Value, json};

fn policy_of(text: &str, repo: &str) -> Option<Value> {
    let d = desired(text);
    policy::synthesize(&d, &d.repositories[repo]).unwrap()
}

fn statement<'a>(p: &'a Value, sid: &str) -> &'a Value {
    p["Statement"]
        .as_array()
        .unwrap()
        .iter()
        .find(|s| s["Sid"] == sid)
        .unwrap_or_else(|| panic!("no statement {sid} in {p:#}"))
}

const HEAD: &str = r#"
[project]
name = "p"
[accounts.registry]
id = "111111111111"
[accounts.prod]
id = "222222222222"
[accounts.staging]
id = "333333333333"
[registries.central]
account = "registry"
region = "us-east-1"
[images.hello]
repository = "hello"
tag = "01"
"#;

fn function(key: &str, account: &str, id: &str) -> String {
    format!(
        "[functions.{key}]\naccount = \"{account}\"\nimage = \"hello\"\nrole = \"arn:aws:iam::{id}:role/R\"\n"
    )
}

#[test]
fn same_account_consumers_get_the_lambda_statement_limited_to_the_account() {
    let text = format!(
        "{HEAD}[repositories.hello]\nregistry = \"central\"\n{}",
        function("f", "registry", "111111111111")
    );
    let p = policy_of(&text, "hello").unwrap();
    assert_eq!(p["Statement"].as_array().unwrap().len(), 1);
    assert_eq!(
        statement(&p, "LambdaECRImageRetrievalPolicy"),
        &json!({
            "Sid": "LambdaECRImageRetrievalPolicy",
            "Effect": "Allow",
            "Principal": { "Service": "lambda.amazonaws.com" },
            "Action": ["ecr:BatchGetImage", "ecr:GetDownloadUrlForLayer"],
            "Condition": { "StringLike": { "aws:sourceArn": "arn:aws:lambda:us-east-1:111111111111:function:*" } }
        })
    );
}

#[test]
fn other_accounts_get_both_cross_account_statements_sorted() {
    let text = format!(
        "{HEAD}[repositories.hello]\nregistry = \"central\"\nshare_with_accounts = [\"444444444444\"]\n{}{}",
        function("b", "staging", "333333333333"),
        function("a", "prod", "222222222222"),
    );
    let p = policy_of(&text, "hello").unwrap();
    assert_eq!(
        statement(&p, "CrossAccountPermission")["Principal"],
        json!({ "AWS": [
            "arn:aws:iam::222222222222:root",
            "arn:aws:iam::333333333333:root",
            "arn:aws:iam::444444444444:root"
        ] })
    );
    assert!(
        statement(&p, "CrossAccountPermission")
            .get("Condition")
            .is_none()
    );
    let lambda = statement(&p, "LambdaECRImageCrossAccountRetrievalPolicy");
    assert_eq!(
        lambda["Principal"],
        json!({ "Service": "lambda.amazonaws.com" })
    );
    assert_eq!(
        lambda["Condition"],
        json!({ "StringLike": { "aws:sourceArn": [
            "arn:aws:lambda:us-east-1:222222222222:function:*",
            "arn:aws:lambda:us-east-1:333333333333:function:*",
            "arn:aws:lambda:us-east-1:444444444444:function:*"
        ] } })
    );
    assert_eq!(
        lambda["Action"],
        json!(["ecr:BatchGetImage", "ecr:GetDownloadUrlForLayer"])
    );
}

#[test]
fn an_organization_share_uses_org_conditions_and_covers_member_accounts() {
    let text = format!(
        "{HEAD}[repositories.hello]\nregistry = \"central\"\nshare_with_organization = \"o-a1b2c3d4e5\"\n{}",
        function("a", "prod", "222222222222"),
    )
    .replace("id = \"222222222222\"", "id = \"222222222222\"\norganization_id = \"o-a1b2c3d4e5\"");
    let p = policy_of(&text, "hello").unwrap();
    assert_eq!(p["Statement"].as_array().unwrap().len(), 2, "{p:#}");
    let cross = statement(&p, "CrossAccountPermission");
    assert_eq!(cross["Principal"], json!({ "AWS": "*" }));
    assert_eq!(
        cross["Condition"],
        json!({ "StringEquals": { "aws:PrincipalOrgID": "o-a1b2c3d4e5" } })
    );
    let lambda = statement(&p, "LambdaECRImageCrossAccountRetrievalPolicy");
    assert_eq!(
        lambda["Condition"],
        json!({ "StringEquals": { "aws:SourceOrgID": "o-a1b2c3d4e5" } })
    );
}

#[test]
fn an_account_outside_the_shared_organization_keeps_its_own_statements() {
    let text = format!(
        "{HEAD}[repositories.hello]\nregistry = \"central\"\nshare_with_organization = \"o-a1b2c3d4e5\"\n{}",
        function("a", "prod", "222222222222"),
    );
    let p = policy_of(&text, "hello").unwrap();
    let sids: Vec<&str> = p["Statement"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["Sid"].as_str().unwrap())
        .collect();
    assert_eq!(
        sids,
        vec![
            "CrossAccountPermission",
            "LambdaECRImageCrossAccountRetrievalPolicy",
            "CrossAccountPermissionOrganization",
            "LambdaECRImageOrganizationRetrievalPolicy"
        ]
    );
}

#[test]
fn org_paths_use_for_any_value_string_like() {
    let text = format!(
        "{HEAD}[repositories.hello]\nregistry = \"central\"\nshare_with_org_paths = [\"o-a1b2c3d4e5/r-ab12/ou-ab12-11111111/*\"]\n"
    );
    let p = policy_of(&text, "hello").unwrap();
    assert_eq!(
        statement(&p, "CrossAccountPermission")["Condition"],
        json!({ "ForAnyValue:StringLike": { "aws:PrincipalOrgPaths": ["o-a1b2c3d4e5/r-ab12/ou-ab12-11111111/*"] } })
    );
    assert_eq!(
        statement(&p, "LambdaECRImageCrossAccountRetrievalPolicy")["Condition"],
        json!({ "ForAnyValue:StringLike": { "aws:SourceOrgPaths": ["o-a1b2c3d4e5/r-ab12/ou-ab12-11111111/*"] } })
    );
}

#[test]
fn extra_statements_follow_the_managed_ones_verbatim() {
    let text = format!(
        "{HEAD}[repositories.hello]\nregistry = \"central\"\nextra_statements = '''[{{\"Sid\": \"CiPush\", \"Effect\": \"Allow\", \"Principal\": {{\"AWS\": \"arn:aws:iam::111111111111:role/ci\"}}, \"Action\": \"ecr:PutImage\"}}]'''\n{}",
        function("a", "prod", "222222222222"),
    );
    let p = policy_of(&text, "hello").unwrap();
    let st = p["Statement"].as_array().unwrap();
    assert_eq!(st.len(), 3);
    assert_eq!(st[2]["Sid"], "CiPush");
    assert_eq!(st[2]["Action"], "ecr:PutImage");
}

#[test]
fn a_repository_without_consumers_has_no_policy() {
    let text = format!("{HEAD}[repositories.hello]\nregistry = \"central\"\n");
    assert_eq!(policy_of(&text, "hello"), None);
}

#[test]
fn a_policy_over_ecr_s_limit_is_an_error() {
    let ids: Vec<String> = (0..400)
        .map(|i| format!("\"{:012}\"", 500000000000u64 + i))
        .collect();
    let text = format!(
        "{HEAD}[repositories.hello]\nregistry = \"central\"\nshare_with_accounts = [{}]\n",
        ids.join(", ")
    );
    let d = desired(&text);
    let err = policy::synthesize(&d, &d.repositories["hello"]).unwrap_err();
    assert!(
        err.to_string().contains(&MAX_POLICY_CHARS.to_string()),
        "{err}"
    );
}

#[test]
fn output_is_deterministic_whatever_the_declaration_order() {
    let a = format!(
        "{HEAD}[repositories.hello]\nregistry = \"central\"\n{}{}",
        function("x", "staging", "333333333333"),
        function("y", "prod", "222222222222")
    );
    let b = format!(
        "{HEAD}[repositories.hello]\nregistry = \"central\"\n{}{}",
        function("y", "prod", "222222222222"),
        function("x", "staging", "333333333333")
    );
    assert_eq!(
        policy::to_text(&policy_of(&a, "hello").unwrap()),
        policy::to_text(&policy_of(&b, "hello").unwrap())
    );
}

#[test]
fn equivalence_ignores_form_but_not_meaning() {
    let ours = json!({"Version": "2012-10-17", "Statement": [
        {"Sid": "A", "Effect": "Allow", "Principal": {"AWS": ["arn:aws:iam::222222222222:root"]},
         "Action": ["ecr:BatchGetImage", "ecr:GetDownloadUrlForLayer"],
         "Condition": {"StringLike": {"aws:sourceArn": ["arn:aws:lambda:us-east-1:222222222222:function:*"]}}}]});
    // As AWS may hand it back: other key order, strings for one-element lists, an account id
    // principal, the condition key in another case, actions reordered.
    let live = json!({"Statement": {"Condition": {"StringLike": {"aws:SourceArn": "arn:aws:lambda:us-east-1:222222222222:function:*"}},
        "Action": ["ecr:GetDownloadUrlForLayer", "ecr:BatchGetImage"], "Principal": {"AWS": "222222222222"},
        "Effect": "Allow", "Sid": "A"}, "Version": "2012-10-17"});
    assert!(policy::equivalent(&ours, &live));
    let mut other = live.clone();
    other["Statement"]["Principal"]["AWS"] = json!("333333333333");
    assert!(!policy::equivalent(&ours, &other));
    let mut fewer = live;
    fewer["Statement"]["Action"] = json!("ecr:BatchGetImage");
    assert!(!policy::equivalent(&ours, &fewer));
}
