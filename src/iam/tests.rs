//! The seeds' own policies, verbatim, with the verdicts AWS gives for Lambda's pull; and AWS's
//! documented evaluation rules.

use super::lint::{LintKind, lint};
use super::*;
use serde_json::{Value, json};

const PULL: [&str; 2] = ["ecr:BatchGetImage", "ecr:GetDownloadUrlForLayer"];

/// Lambda pulling for function `f` in `consumer`/`region` from `repo` in `registry`.
fn lambda_pull(action: &str, consumer: &str, region: &str, registry: &str, repo: &str) -> Request {
    Request {
        principal: Principal::Service("lambda.amazonaws.com".into()),
        action: action.into(),
        resource: format!("arn:aws:ecr:{region}:{registry}:repository/{repo}"),
        context: Context::new()
            .with(
                "aws:SourceArn",
                &format!("arn:aws:lambda:{region}:{consumer}:function:f"),
            )
            .with("aws:SourceAccount", consumer),
    }
}

/// The consumer account's principal (who calls CreateFunction).
fn account_pull(action: &str, consumer: &str, region: &str, registry: &str, repo: &str) -> Request {
    Request {
        principal: Principal::Aws(format!("arn:aws:iam::{consumer}:root")),
        action: action.into(),
        resource: format!("arn:aws:ecr:{region}:{registry}:repository/{repo}"),
        context: Context::new().with("aws:PrincipalAccount", consumer),
    }
}

fn allowed(policy: &Value, r: &Request) -> bool {
    evaluate(policy, r).expect("valid policy").allowed()
}

/// Seed 000/001: the AWS blog's cross-account pair (CloudFormation YAML, as JSON).
fn blog_pair() -> Value {
    json!({
        "Version": "2012-10-17",
        "Statement": [
            { "Sid": "CrossAccountPermission", "Effect": "Allow",
              "Action": ["ecr:BatchGetImage", "ecr:GetDownloadUrlForLayer"],
              "Principal": { "AWS": ["arn:aws:iam::222222222222:root"] } },
            { "Sid": "LambdaECRImageCrossAccountRetrievalPolicy", "Effect": "Allow",
              "Action": ["ecr:BatchGetImage", "ecr:GetDownloadUrlForLayer"],
              "Principal": { "Service": "lambda.amazonaws.com" },
              "Condition": { "StringLike": { "aws:sourceArn": ["arn:aws:lambda:us-east-1:222222222222:function:*"] } } }
        ]
    })
}

#[test]
fn the_blog_pair_lets_the_consumer_account_and_its_lambda_pull() {
    let p = blog_pair();
    for action in PULL {
        let r = lambda_pull(
            action,
            "222222222222",
            "us-east-1",
            "111111111111",
            "cross-account-function",
        );
        let v = evaluate(&p, &r).unwrap();
        assert!(v.allowed(), "{v}");
        assert_eq!(
            v.deciding[0].sid.as_deref(),
            Some("LambdaECRImageCrossAccountRetrievalPolicy")
        );
        assert!(allowed(
            &p,
            &account_pull(
                action,
                "222222222222",
                "us-east-1",
                "111111111111",
                "cross-account-function"
            )
        ));
    }
}

#[test]
fn the_blog_pair_denies_another_account_and_says_which_key_differed() {
    let p = blog_pair();
    let r = lambda_pull(
        "ecr:BatchGetImage",
        "333333333333",
        "us-east-1",
        "111111111111",
        "x",
    );
    let v = evaluate(&p, &r).unwrap();
    assert_eq!(v.decision, Decision::ImplicitDeny);
    let text = v.to_string();
    assert!(
        text.contains("LambdaECRImageCrossAccountRetrievalPolicy"),
        "{text}"
    );
    assert!(text.contains("aws:sourceArn"), "{text}");
    assert!(
        text.contains("arn:aws:lambda:us-east-1:333333333333:function:f"),
        "{text}"
    );
    assert!(text.contains("CrossAccountPermission"), "{text}");
    let v = evaluate(
        &p,
        &account_pull(
            "ecr:BatchGetImage",
            "333333333333",
            "us-east-1",
            "111111111111",
            "x",
        ),
    )
    .unwrap();
    assert!(
        matches!(&v.misses[0].reason, MissReason::Principal { expected } if expected == &["arn:aws:iam::222222222222:root"])
    );
}

#[test]
fn the_blog_pair_without_the_lambda_statement_denies_lambda_s_own_pull() {
    // Why the second statement exists: without it Lambda cannot pull again after the function
    // went inactive, even though the account may.
    let mut p = blog_pair();
    p["Statement"].as_array_mut().unwrap().truncate(1);
    let r = lambda_pull(
        "ecr:BatchGetImage",
        "222222222222",
        "us-east-1",
        "111111111111",
        "x",
    );
    let v = evaluate(&p, &r).unwrap();
    assert!(!v.allowed());
    assert!(
        v.to_string()
            .contains("principal is not one of arn:aws:iam::222222222222:root"),
        "{v}"
    );
}

#[test]
fn a_function_in_another_region_is_not_covered_by_the_blog_condition() {
    let r = lambda_pull(
        "ecr:BatchGetImage",
        "222222222222",
        "eu-west-1",
        "111111111111",
        "x",
    );
    assert!(!allowed(&blog_pair(), &r));
}

/// Seed 002: the statement Lambda added to the same-account repository, verbatim.
#[test]
fn the_same_account_statement_lambda_wrote_itself() {
    let p: Value = serde_json::from_str(
        r#"{
  "Statement": [
    {
      "Condition": {
        "StringLike": {
          "aws:sourceArn": "arn:aws:lambda:eu-central-1:813835382529:function:*"
        }
      },
      "Action": [
        "ecr:BatchGetImage",
        "ecr:DeleteRepositoryPolicy",
        "ecr:GetDownloadUrlForLayer",
        "ecr:GetRepositoryPolicy",
        "ecr:SetRepositoryPolicy"
      ],
      "Principal": {
        "Service": [
          "lambda.amazonaws.com"
        ]
      },
      "Effect": "Allow",
      "Sid": "LambdaECRImageRetrievalPolicy"
    }
  ],
  "Version": "2008-10-17"
}"#,
    )
    .unwrap();
    for action in PULL {
        assert!(allowed(
            &p,
            &lambda_pull(
                action,
                "813835382529",
                "eu-central-1",
                "813835382529",
                "lambda-same-account"
            )
        ));
    }
    assert!(!allowed(
        &p,
        &lambda_pull(
            "ecr:BatchGetImage",
            "592444418872",
            "eu-central-1",
            "813835382529",
            "r"
        )
    ));
    // It also lets Lambda rewrite the policy: the lint says so.
    let lints = lint(&p, "813835382529").unwrap();
    assert!(
        lints
            .iter()
            .any(|l| l.kind == LintKind::WriteAccess
                && l.message.contains("ecr:SetRepositoryPolicy")),
        "{lints:?}"
    );
}

/// Seed 002 and 003: the same-account statement without a condition.
#[test]
fn the_statement_without_a_condition_allows_lambda_for_anyone_and_is_linted() {
    let p = json!({"Version": "2012-10-17", "Statement": [{
       "Sid":"LambdaECRImageRetrievalPolicy",
       "Effect":"Allow",
       "Principal":{
          "Service":"lambda.amazonaws.com"
       },
       "Action":[
          "ecr:BatchGetImage",
          "ecr:GetDownloadUrlForLayer"
       ]
    }]});
    assert!(allowed(
        &p,
        &lambda_pull(
            "ecr:BatchGetImage",
            "813835382529",
            "eu-central-1",
            "813835382529",
            "r"
        )
    ));
    assert!(allowed(
        &p,
        &lambda_pull(
            "ecr:BatchGetImage",
            "999999999999",
            "eu-central-1",
            "813835382529",
            "r"
        )
    ));
    let lints = lint(&p, "813835382529").unwrap();
    assert_eq!(
        lints.iter().map(|l| l.kind).collect::<Vec<_>>(),
        vec![LintKind::ConfusedDeputy]
    );
}

/// Seed 002: the other-account policy, verbatim (note `aws:sourceARN` and the `*` region).
#[test]
fn the_other_account_policy_with_a_region_wildcard() {
    let p: Value = serde_json::from_str(
        r#"{
  "Version": "2012-10-17",
  "Statement": [
    {
      "Sid": "CrossAccountPermission",
      "Effect": "Allow",
      "Action": [
        "ecr:BatchGetImage",
        "ecr:GetDownloadUrlForLayer"
      ],
      "Principal": {
        "AWS": "arn:aws:iam::592444418872:root"
      }
    },
    {
      "Sid": "LambdaECRImageCrossAccountRetrievalPolicy",
      "Effect": "Allow",
      "Action": [
        "ecr:BatchGetImage",
        "ecr:GetDownloadUrlForLayer"
      ],
      "Principal": {
        "Service": "lambda.amazonaws.com"
      },
      "Condition": {
        "StringLike": {
          "aws:sourceARN": "arn:aws:lambda:*:592444418872:function:*"
        }
      }
    }
  ]
}"#,
    )
    .unwrap();
    // The condition key's case does not matter.
    assert!(allowed(
        &p,
        &lambda_pull(
            "ecr:GetDownloadUrlForLayer",
            "592444418872",
            "eu-central-1",
            "813835382529",
            "lambda-another-account"
        )
    ));
    assert!(allowed(
        &p,
        &account_pull(
            "ecr:BatchGetImage",
            "592444418872",
            "eu-central-1",
            "813835382529",
            "lambda-another-account"
        )
    ));
    // A role of that account is covered by its root.
    let role = Request {
        principal: Principal::Aws("arn:aws:iam::592444418872:role/deployer".into()),
        ..account_pull(
            "ecr:BatchGetImage",
            "592444418872",
            "eu-central-1",
            "813835382529",
            "r",
        )
    };
    assert!(allowed(&p, &role));
    assert!(!allowed(
        &p,
        &lambda_pull(
            "ecr:BatchGetImage",
            "111111111111",
            "eu-central-1",
            "813835382529",
            "r"
        )
    ));
}

fn org_policy(org: &str) -> Value {
    // Seed 002's Organization policy, verbatim but for the placeholder.
    serde_json::from_str(
        &r#"{
  "Version": "2012-10-17",
  "Statement": [
    {
      "Condition": {
        "StringEquals": {
          "aws:PrincipalOrgId": "<YOUR_ORG_ID>"
        }
      },
      "Action": [
        "ecr:BatchGetImage",
        "ecr:GetDownloadUrlForLayer"
      ],
      "Principal": {
        "AWS": [
          "*"
        ]
      },
      "Effect": "Allow",
      "Sid": "CrossAccountPermission"
    },
    {
      "Condition": {
        "StringEquals": {
          "aws:SourceOrgId": "<YOUR_ORG_ID>"
        }
      },
      "Action": [
        "ecr:BatchGetImage",
        "ecr:GetDownloadUrlForLayer"
      ],
      "Principal": {
        "Service": [
          "lambda.amazonaws.com"
        ]
      },
      "Effect": "Allow",
      "Sid": "LambdaECRImageCrossAccountRetrievalPolicy"
    }
  ]
}"#
        .replace("<YOUR_ORG_ID>", org),
    )
    .unwrap()
}

#[test]
fn the_organization_policy_allows_members_and_denies_others() {
    let p = org_policy("o-a1b2c3d4e5");
    let member = |org: &str| Request {
        context: Context::new()
            .with(
                "aws:SourceArn",
                "arn:aws:lambda:eu-central-1:222222222222:function:f",
            )
            .with("aws:SourceAccount", "222222222222")
            .with("aws:SourceOrgID", org),
        ..lambda_pull(
            "ecr:BatchGetImage",
            "222222222222",
            "eu-central-1",
            "813835382529",
            "r",
        )
    };
    assert!(allowed(&p, &member("o-a1b2c3d4e5")));
    let v = evaluate(&p, &member("o-zzzzzzzzzz")).unwrap();
    assert!(!v.allowed());
    assert!(
        v.to_string()
            .contains("aws:SourceOrgId expects o-a1b2c3d4e5 but the request has o-zzzzzzzzzz"),
        "{v}"
    );
    // An account outside any organization has no aws:SourceOrgID at all.
    let v = evaluate(
        &p,
        &lambda_pull(
            "ecr:BatchGetImage",
            "222222222222",
            "eu-central-1",
            "813835382529",
            "r",
        ),
    )
    .unwrap();
    assert!(
        matches!(&v.misses[1].reason, MissReason::ConditionKeyMissing { key, .. } if key == "aws:SourceOrgId"),
        "{v}"
    );
    let principal = Request {
        context: Context::new().with("aws:PrincipalOrgID", "o-a1b2c3d4e5"),
        ..account_pull(
            "ecr:BatchGetImage",
            "222222222222",
            "eu-central-1",
            "813835382529",
            "r",
        )
    };
    assert!(allowed(&p, &principal));
    // The Organization condition restricts the `*`: no lint for it.
    assert!(lint(&p, "813835382529").unwrap().is_empty());
}

#[test]
fn a_condition_on_the_wrong_key_denies() {
    // Seed 002's mistake: aws:PrincipalOrgID on the Lambda statement; Lambda's pull carries
    // aws:SourceOrgID, not aws:PrincipalOrgID.
    let mut p = org_policy("o-a1b2c3d4e5");
    p["Statement"][1]["Condition"] =
        json!({ "StringEquals": { "aws:PrincipalOrgID": "o-a1b2c3d4e5" } });
    let r = Request {
        context: Context::new()
            .with(
                "aws:SourceArn",
                "arn:aws:lambda:eu-central-1:222222222222:function:f",
            )
            .with("aws:SourceOrgID", "o-a1b2c3d4e5"),
        ..lambda_pull(
            "ecr:BatchGetImage",
            "222222222222",
            "eu-central-1",
            "813835382529",
            "r",
        )
    };
    let v = evaluate(&p, &r).unwrap();
    assert!(!v.allowed());
    assert!(
        v.to_string()
            .contains("needs aws:PrincipalOrgID, which the request does not have"),
        "{v}"
    );
}

#[test]
fn the_org_paths_policy_uses_for_any_value() {
    let p: Value = serde_json::from_str(
        r#"{
  "Version": "2012-10-17",
  "Statement": [
    {
      "Condition": {
        "ForAnyValue:StringLike": {
          "aws:PrincipalOrgPaths": ["o-a1b2c3d4e5/r-ab12/ou-ab12-11111111/*"]
        }
      },
      "Action": ["ecr:BatchGetImage", "ecr:GetDownloadUrlForLayer"],
      "Principal": { "AWS": ["*"] },
      "Effect": "Allow",
      "Sid": "CrossAccountPermission"
    },
    {
      "Condition": {
        "ForAnyValue:StringLike": {
          "aws:SourceOrgPaths": ["o-a1b2c3d4e5/r-ab12/ou-ab12-11111111/*"]
        }
      },
      "Action": ["ecr:BatchGetImage", "ecr:GetDownloadUrlForLayer"],
      "Principal": { "Service": ["lambda.amazonaws.com"] },
      "Effect": "Allow",
      "Sid": "LambdaECRImageCrossAccountRetrievalPolicy"
    }
  ]
}"#,
    )
    .unwrap();
    let with_paths = |paths: Vec<&str>| Request {
        context: Context::new()
            .with(
                "aws:SourceArn",
                "arn:aws:lambda:eu-central-1:222222222222:function:f",
            )
            .with_multi(
                "aws:SourceOrgPaths",
                paths.into_iter().map(String::from).collect(),
            ),
        ..lambda_pull(
            "ecr:BatchGetImage",
            "222222222222",
            "eu-central-1",
            "813835382529",
            "r",
        )
    };
    assert!(allowed(
        &p,
        &with_paths(vec![
            "o-a1b2c3d4e5/r-ab12/ou-ab12-11111111/ou-ab12-22222222/"
        ])
    ));
    assert!(!allowed(
        &p,
        &with_paths(vec!["o-a1b2c3d4e5/r-ab12/ou-ab12-99999999/"])
    ));
    // ForAnyValue on an empty set does not match.
    assert!(!allowed(&p, &with_paths(vec![])));
}

/// Seed 003 (re:Post): the cross-account pair for 111111111111 pulling from 222222222222.
#[test]
fn the_repost_cross_account_example() {
    let p = json!({
        "Version": "2012-10-17",
        "Statement": [
            { "Sid": "CrossAccountPermission", "Effect": "Allow",
              "Principal": { "AWS": "arn:aws:iam::111111111111:root" },
              "Action": ["ecr:BatchGetImage", "ecr:GetDownloadUrlForLayer"] },
            { "Sid": "LambdaECRImageCrossAccountRetrievalPolicy", "Effect": "Allow",
              "Principal": { "Service": "lambda.amazonaws.com" },
              "Action": ["ecr:BatchGetImage", "ecr:GetDownloadUrlForLayer"],
              "Condition": { "StringLike": { "aws:sourceARN": "arn:aws:lambda:us-east-1:111111111111:function:*" } } }
        ]
    });
    assert!(allowed(
        &p,
        &lambda_pull(
            "ecr:BatchGetImage",
            "111111111111",
            "us-east-1",
            "222222222222",
            "hello-repository"
        )
    ));
    assert!(allowed(
        &p,
        &account_pull(
            "ecr:GetDownloadUrlForLayer",
            "111111111111",
            "us-east-1",
            "222222222222",
            "hello-repository"
        )
    ));
    assert!(!allowed(
        &p,
        &lambda_pull(
            "ecr:PutImage",
            "111111111111",
            "us-east-1",
            "222222222222",
            "hello-repository"
        )
    ));
}

/// Seed 004: the root-account example and the ECS task-role example.
#[test]
fn seed_004_root_and_ecs_role_policies() {
    let root = json!({"Version": "2012-10-17", "Statement": [{ "Sid": "AllowPull", "Effect": "Allow",
        "Principal": { "AWS": "arn:aws:iam::222222222222:root" },
        "Action": ["ecr:BatchGetImage", "ecr:GetDownloadUrlForLayer", "ecr:BatchCheckLayerAvailability"] }]});
    // The account may pull, but Lambda's own (service) pull is not allowed: functions break once
    // they go inactive.
    assert!(allowed(
        &root,
        &account_pull(
            "ecr:BatchGetImage",
            "222222222222",
            "us-east-1",
            "111111111111",
            "my-ecr-repository"
        )
    ));
    assert!(!allowed(
        &root,
        &lambda_pull(
            "ecr:BatchGetImage",
            "222222222222",
            "us-east-1",
            "111111111111",
            "my-ecr-repository"
        )
    ));
    let ecs = json!({"Version": "2012-10-17", "Statement": [{ "Sid": "AllowPull", "Effect": "Allow",
        "Principal": { "AWS": "arn:aws:iam::222222222222:role/ecs-task-role" },
        "Action": ["ecr:BatchGetImage", "ecr:GetDownloadUrlForLayer", "ecr:BatchCheckLayerAvailability"] }]});
    // A role principal matches only that role, not the account.
    assert!(!allowed(
        &ecs,
        &account_pull(
            "ecr:BatchGetImage",
            "222222222222",
            "us-east-1",
            "111111111111",
            "r"
        )
    ));
    let task = Request {
        principal: Principal::Aws("arn:aws:iam::222222222222:role/ecs-task-role".into()),
        ..account_pull(
            "ecr:BatchGetImage",
            "222222222222",
            "us-east-1",
            "111111111111",
            "r",
        )
    };
    assert!(allowed(&ecs, &task));
    // Seed 004's Lambda policy grants SetRepositoryPolicy to Lambda with no condition: flagged.
    let lambda = json!({"Version": "2012-10-17", "Statement": [{ "Sid": "AllowPull", "Effect": "Allow",
        "Principal": { "Service": "lambda.amazonaws.com" },
        "Action": ["ecr:BatchGetImage", "ecr:GetDownloadUrlForLayer", "ecr:BatchCheckLayerAvailability",
                   "ecr:GetRepositoryPolicy", "ecr:SetRepositoryPolicy"] }]});
    let kinds: Vec<LintKind> = lint(&lambda, "111111111111")
        .unwrap()
        .iter()
        .map(|l| l.kind)
        .collect();
    assert_eq!(kinds, vec![LintKind::ConfusedDeputy, LintKind::WriteAccess]);
}

// AWS documentation's evaluation rules.

#[test]
fn an_explicit_deny_beats_an_allow() {
    let p = json!({"Statement": [
        {"Sid": "A", "Effect": "Allow", "Principal": "*", "Action": "ecr:*"},
        {"Sid": "D", "Effect": "Deny", "Principal": {"AWS": "arn:aws:iam::333333333333:root"}, "Action": "ecr:BatchGetImage"}
    ]});
    let v = evaluate(
        &p,
        &account_pull("ecr:BatchGetImage", "333333333333", "us-east-1", "1", "r"),
    )
    .unwrap();
    assert_eq!(v.decision, Decision::ExplicitDeny);
    assert_eq!(v.deciding[0].sid.as_deref(), Some("D"));
    assert!(allowed(
        &p,
        &account_pull(
            "ecr:GetDownloadUrlForLayer",
            "333333333333",
            "us-east-1",
            "1",
            "r"
        )
    ));
    let kinds: Vec<LintKind> = lint(&p, "111111111111")
        .unwrap()
        .iter()
        .map(|l| l.kind)
        .collect();
    assert_eq!(kinds, vec![LintKind::OpenToEveryone, LintKind::AllActions]);
}

#[test]
fn not_principal_and_not_action() {
    let p = json!({"Statement": [
        {"Effect": "Deny", "NotPrincipal": {"AWS": "arn:aws:iam::222222222222:root"}, "Action": "ecr:*"},
        {"Effect": "Allow", "Principal": "*", "NotAction": "ecr:Delete*"}
    ]});
    assert!(allowed(
        &p,
        &account_pull("ecr:BatchGetImage", "222222222222", "r", "1", "x")
    ));
    assert!(!allowed(
        &p,
        &account_pull("ecr:DeleteRepository", "222222222222", "r", "1", "x")
    ));
    let v = evaluate(
        &p,
        &account_pull("ecr:BatchGetImage", "444444444444", "r", "1", "x"),
    )
    .unwrap();
    assert_eq!(v.decision, Decision::ExplicitDeny);
    // The explanations name what NotAction and NotPrincipal excluded.
    let v = evaluate(
        &p,
        &account_pull("ecr:DeleteRepository", "222222222222", "r", "1", "x"),
    )
    .unwrap();
    assert_eq!(v.decision, Decision::ImplicitDeny);
    assert!(
        v.to_string().contains(
            "statement #2 does not apply: the action is excluded by NotAction ecr:Delete*"
        ),
        "{v}"
    );
    let allow_all_but = json!({"Statement": [
        {"Effect": "Allow", "NotPrincipal": {"AWS": "222222222222"}, "Action": "ecr:*"}
    ]});
    let v = evaluate(
        &allow_all_but,
        &account_pull("ecr:BatchGetImage", "222222222222", "r", "1", "x"),
    )
    .unwrap();
    assert!(
        v.to_string()
            .contains("the principal is excluded by NotPrincipal arn:aws:iam::222222222222:root"),
        "{v}"
    );
}

#[test]
fn if_exists_matches_an_absent_key_but_checks_a_present_one() {
    let p = json!({"Statement": [{"Effect": "Allow", "Principal": "*", "Action": "ecr:BatchGetImage",
        "Condition": {"StringEqualsIfExists": {"aws:SourceAccount": "222222222222"}}}]});
    let absent = Request {
        context: Context::new(),
        ..account_pull("ecr:BatchGetImage", "9", "r", "1", "x")
    };
    assert!(allowed(&p, &absent));
    assert!(allowed(
        &p,
        &lambda_pull("ecr:BatchGetImage", "222222222222", "r", "1", "x")
    ));
    assert!(!allowed(
        &p,
        &lambda_pull("ecr:BatchGetImage", "333333333333", "r", "1", "x")
    ));
}

#[test]
fn for_all_values_on_an_empty_set_matches() {
    let p = json!({"Statement": [{"Effect": "Allow", "Principal": "*", "Action": "ecr:BatchGetImage",
        "Condition": {"ForAllValues:StringEquals": {"aws:TagKeys": ["team", "env"]}}}]});
    let with = |keys: Vec<&str>| Request {
        context: Context::new()
            .with_multi("aws:TagKeys", keys.into_iter().map(String::from).collect()),
        ..account_pull("ecr:BatchGetImage", "2", "r", "1", "x")
    };
    assert!(allowed(&p, &with(vec![])));
    assert!(allowed(&p, &with(vec!["team"])));
    assert!(!allowed(&p, &with(vec!["team", "owner"])));
    let absent = Request {
        context: Context::new(),
        ..account_pull("ecr:BatchGetImage", "2", "r", "1", "x")
    };
    assert!(allowed(&p, &absent));
}

#[test]
fn numeric_date_bool_null_and_negated_operators() {
    let ctx = Context::new()
        .with("ecr:count", "5")
        .with("aws:CurrentTime", "2026-11-25T12:00:00Z")
        .with("aws:SecureTransport", "true")
        .with("aws:SourceAccount", "222222222222");
    let request = Request {
        context: ctx,
        ..account_pull("ecr:BatchGetImage", "2", "r", "1", "x")
    };
    let with = |cond: Value| json!({"Statement": [{"Effect": "Allow", "Principal": "*", "Action": "ecr:*", "Condition": cond}]});
    assert!(allowed(
        &with(json!({"NumericLessThanEquals": {"ecr:count": "5"}})),
        &request
    ));
    assert!(!allowed(
        &with(json!({"NumericGreaterThan": {"ecr:count": 5}})),
        &request
    ));
    assert!(allowed(
        &with(json!({"DateLessThan": {"aws:CurrentTime": "2027-01-01T00:00:00Z"}})),
        &request
    ));
    assert!(!allowed(
        &with(json!({"DateGreaterThan": {"aws:CurrentTime": "2027-01-01"}})),
        &request
    ));
    // 13:00 at UTC+2 is 11:00 UTC, before the request's 12:00 UTC.
    assert!(allowed(
        &with(json!({"DateGreaterThan": {"aws:CurrentTime": "2026-11-25T13:00:00+02:00"}})),
        &request
    ));
    assert!(!allowed(
        &with(json!({"DateLessThan": {"aws:CurrentTime": "2026-11-25T13:00:00+02:00"}})),
        &request
    ));
    assert!(allowed(
        &with(json!({"Bool": {"aws:SecureTransport": true}})),
        &request
    ));
    assert!(allowed(
        &with(json!({"Null": {"aws:PrincipalOrgID": "true"}})),
        &request
    ));
    assert!(!allowed(
        &with(json!({"Null": {"aws:SourceAccount": "true"}})),
        &request
    ));
    assert!(allowed(
        &with(json!({"StringNotEquals": {"aws:SourceAccount": ["333333333333", "444444444444"]}})),
        &request
    ));
    assert!(!allowed(
        &with(json!({"StringNotEquals": {"aws:SourceAccount": ["222222222222", "444444444444"]}})),
        &request
    ));
    assert!(allowed(
        &with(json!({"StringEqualsIgnoreCase": {"AWS:SOURCEACCOUNT": "222222222222"}})),
        &request
    ));
    assert!(allowed(
        &with(json!({"ArnLike": {"aws:SourceArn": "arn:aws:lambda:*:*:function:*"}})),
        &lambda_pull("ecr:BatchGetImage", "2", "r", "1", "x")
    ));
}

#[test]
fn string_and_one_element_list_and_account_id_principals_are_the_same() {
    let a = json!({"Statement": {"Effect": "Allow", "Principal": {"AWS": "222222222222"}, "Action": "ecr:BatchGetImage"}});
    let b = json!({"Statement": [{"Effect": "Allow", "Principal": {"AWS": ["arn:aws:iam::222222222222:root"]}, "Action": ["ecr:BatchGetImage"]}]});
    for p in [a, b] {
        assert!(allowed(
            &p,
            &account_pull("ecr:BatchGetImage", "222222222222", "r", "1", "x")
        ));
        assert!(
            allowed(
                &p,
                &account_pull("ECR:batchgetimage", "222222222222", "r", "1", "x")
            ),
            "actions are case-insensitive"
        );
    }
}

#[test]
fn malformed_policies_and_variables_are_errors_not_guesses() {
    assert!(
        evaluate(
            &json!({"Version": "2012-10-17"}),
            &account_pull("a", "2", "r", "1", "x")
        )
        .is_err()
    );
    let bad_effect = json!({"Statement": [{"Effect": "Permit", "Principal": "*", "Action": "*"}]});
    assert!(
        evaluate(&bad_effect, &account_pull("a", "2", "r", "1", "x"))
            .unwrap_err()
            .to_string()
            .contains("Effect")
    );
    let var = json!({"Statement": [{"Effect": "Allow", "Principal": "*", "Action": "*",
        "Condition": {"StringEquals": {"aws:username": "${aws:username}"}}}]});
    assert!(
        evaluate(&var, &account_pull("a", "2", "r", "1", "x"))
            .unwrap_err()
            .to_string()
            .contains("policy variable")
    );
    let op = json!({"Statement": [{"Effect": "Allow", "Principal": "*", "Action": "*",
        "Condition": {"StringSometimes": {"a": "b"}}}]});
    assert!(
        evaluate(&op, &account_pull("a", "2", "r", "1", "x"))
            .unwrap_err()
            .to_string()
            .contains("unknown condition operator")
    );
}

#[test]
fn wildcards() {
    assert!(wildcard("ecr:Batch*", "ecr:BatchGetImage", true));
    assert!(wildcard("a?c", "abc", false));
    assert!(!wildcard("a?c", "abbc", false));
    assert!(wildcard(
        "*:function:*",
        "arn:aws:lambda:r:1:function:f",
        false
    ));
    assert!(!wildcard(
        "arn:aws:lambda:us-east-1:*",
        "arn:aws:lambda:eu-west-1:1",
        false
    ));
}

#[test]
fn a_deny_on_string_not_equals_org_id_denies_lambda_s_pull() {
    // The common organization guard: deny everyone outside the organization. Lambda's own pull
    // is made by a service principal and carries no aws:PrincipalOrgID, and a negated operator
    // is true of an absent key, so the guard denies Lambda too (AWS's documented behaviour).
    let mut p = blog_pair();
    p["Statement"].as_array_mut().unwrap().push(json!({
        "Sid": "DenyOutsideOrg", "Effect": "Deny", "Principal": "*",
        "Action": "ecr:*",
        "Condition": { "StringNotEquals": { "aws:PrincipalOrgID": "o-xxx" } }
    }));
    let r = lambda_pull(
        "ecr:BatchGetImage",
        "222222222222",
        "us-east-1",
        "111111111111",
        "x",
    );
    let v = evaluate(&p, &r).unwrap();
    assert_eq!(v.decision, Decision::ExplicitDeny, "{v}");
    assert_eq!(v.deciding[0].sid.as_deref(), Some("DenyOutsideOrg"));
    assert!(
        v.to_string()
            .contains("explicitly denied by statement \"DenyOutsideOrg\""),
        "{v}"
    );
    // A member of the organization passes the guard.
    let member = Request {
        context: Context::new().with("aws:PrincipalOrgID", "o-xxx"),
        ..account_pull(
            "ecr:BatchGetImage",
            "222222222222",
            "us-east-1",
            "111111111111",
            "x",
        )
    };
    assert!(allowed(&p, &member));
    // An account outside any organization has no aws:PrincipalOrgID either: denied.
    let v = evaluate(
        &p,
        &account_pull(
            "ecr:BatchGetImage",
            "222222222222",
            "us-east-1",
            "111111111111",
            "x",
        ),
    )
    .unwrap();
    assert_eq!(v.decision, Decision::ExplicitDeny, "{v}");
}

#[test]
fn negated_operators_on_an_absent_key() {
    let with = |cond: Value| json!({"Statement": [{"Effect": "Allow", "Principal": "*", "Action": "ecr:*", "Condition": cond}]});
    let absent = Request {
        context: Context::new(),
        ..account_pull("ecr:BatchGetImage", "2", "r", "1", "x")
    };
    for cond in [
        json!({"StringNotEquals": {"aws:PrincipalOrgID": "o-xxx"}}),
        json!({"StringNotEqualsIgnoreCase": {"aws:PrincipalOrgID": "o-xxx"}}),
        json!({"StringNotLike": {"aws:PrincipalOrgID": "o-*"}}),
        json!({"ArnNotEquals": {"aws:SourceArn": "arn:aws:lambda:r:1:function:f"}}),
        json!({"ArnNotLike": {"aws:SourceArn": "arn:aws:lambda:*:*:function:*"}}),
        json!({"NumericNotEquals": {"ecr:count": "5"}}),
        json!({"DateNotEquals": {"aws:CurrentTime": "2026-01-01"}}),
        // Without a set prefix, and with ForAllValues (true of an empty set).
        json!({"ForAllValues:StringNotEquals": {"aws:PrincipalOrgPaths": "o-xxx/"}}),
        json!({"StringNotEqualsIfExists": {"aws:PrincipalOrgID": "o-xxx"}}),
    ] {
        let v = evaluate(&with(cond.clone()), &absent).unwrap();
        assert!(v.allowed(), "{cond}: {v}");
    }
    // ForAnyValue on an absent key stays false, negated or not.
    let v = evaluate(
        &with(json!({"ForAnyValue:StringNotEquals": {"aws:PrincipalOrgPaths": "o-xxx/"}})),
        &absent,
    )
    .unwrap();
    assert!(!v.allowed(), "{v}");
    // A positive operator on an absent key is still false.
    assert!(!allowed(
        &with(json!({"StringEquals": {"aws:PrincipalOrgID": "o-xxx"}})),
        &absent
    ));
}

/// Seed 003's identity-policy statement (for the user or role creating the function), pasted
/// into a repository policy by mistake: it has no Principal.
#[test]
fn a_statement_without_a_principal_matches_no_one_and_is_linted() {
    let p = json!({
        "Version": "2012-10-17",
        "Statement": [
            { "Sid": "ECR Repository Access Permissions", "Effect": "Allow",
              "Action": ["ecr:GetDownloadUrlForLayer", "ecr:BatchGetImage"],
              "Resource": "arn:aws:ecr:us-east-1:222222222222:repository/hello-repository" },
            { "Sid": "DenyAll", "Effect": "Deny", "Action": "ecr:*" }
        ]
    });
    let r = account_pull(
        "ecr:BatchGetImage",
        "111111111111",
        "us-east-1",
        "222222222222",
        "hello-repository",
    );
    let v = evaluate(&p, &r).unwrap();
    // Neither the Allow nor the Deny applies: an implicit deny, saying why.
    assert_eq!(v.decision, Decision::ImplicitDeny, "{v}");
    assert_eq!(v.misses[0].reason, MissReason::NoPrincipal);
    assert!(
        v.to_string().contains(
            "statement \"ECR Repository Access Permissions\" does not apply: it has neither \
             Principal nor NotPrincipal"
        ),
        "{v}"
    );
    let lambda = lambda_pull(
        "ecr:BatchGetImage",
        "111111111111",
        "us-east-1",
        "222222222222",
        "hello-repository",
    );
    assert!(!allowed(&p, &lambda));
    let lints = lint(&p, "222222222222").unwrap();
    assert_eq!(
        lints.iter().map(|l| l.kind).collect::<Vec<_>>(),
        vec![LintKind::NoPrincipal, LintKind::NoPrincipal]
    );
    assert!(
        lints[0]
            .message
            .contains("statement has no Principal; it is not valid in a repository policy"),
        "{lints:?}"
    );
}

#[test]
fn ip_address_and_binary_operators_are_evaluated() {
    let with = |cond: Value| json!({"Statement": [{"Sid": "S", "Effect": "Allow", "Principal": "*", "Action": "ecr:*", "Condition": cond}]});
    let from = |ip: &str| Request {
        context: Context::new()
            .with("aws:SourceIp", ip)
            .with("ecr:blob", "QmluYXJ5VmFsdWU="),
        ..account_pull("ecr:BatchGetImage", "2", "r", "1", "x")
    };
    let absent = Request {
        context: Context::new(),
        ..account_pull("ecr:BatchGetImage", "2", "r", "1", "x")
    };
    let v4 = with(json!({"IpAddress": {"aws:SourceIp": ["203.0.113.0/24", "198.51.100.7"]}}));
    assert!(allowed(&v4, &from("203.0.113.200")));
    assert!(allowed(&v4, &from("198.51.100.7")));
    assert!(!allowed(&v4, &from("198.51.100.8")));
    assert!(!allowed(&v4, &from("203.0.114.1")));
    assert!(!allowed(&v4, &from("2001:db8::1")));
    assert!(!allowed(&v4, &absent));
    let v6 = with(json!({"IpAddress": {"aws:SourceIp": "2001:DB8:1234::/48"}}));
    assert!(allowed(&v6, &from("2001:db8:1234:ffff::1")));
    assert!(!allowed(&v6, &from("2001:db8:1235::1")));
    assert!(!allowed(&v6, &from("203.0.113.1")));
    let not = with(json!({"NotIpAddress": {"aws:SourceIp": "203.0.113.0/24"}}));
    assert!(!allowed(&not, &from("203.0.113.9")));
    assert!(allowed(&not, &from("192.0.2.1")));
    assert!(allowed(&not, &absent), "negated: true of an absent key");
    let if_exists = with(json!({"IpAddressIfExists": {"aws:SourceIp": "203.0.113.0/24"}}));
    assert!(allowed(&if_exists, &absent));
    assert!(!allowed(&if_exists, &from("192.0.2.1")));
    let v = evaluate(&v4, &from("192.0.2.1")).unwrap();
    assert!(
        v.to_string()
            .contains("condition IpAddress aws:SourceIp expects 203.0.113.0/24 or 198.51.100.7 but the request has 192.0.2.1"),
        "{v}"
    );
    let binary = with(json!({"BinaryEquals": {"ecr:blob": "QmluYXJ5VmFsdWU="}}));
    assert!(allowed(&binary, &from("192.0.2.1")));
    assert!(!allowed(
        &with(json!({"BinaryEquals": {"ecr:blob": "cXVpdGUgZGlmZmVyZW50"}})),
        &from("192.0.2.1")
    ));
    assert!(!allowed(&binary, &absent));
    assert!(allowed(
        &with(json!({"BinaryEqualsIfExists": {"ecr:blob": "cXVpdGUgZGlmZmVyZW50"}})),
        &absent
    ));
    // A range AWS would reject is an error, not a guess.
    let bad = with(json!({"IpAddress": {"aws:SourceIp": "203.0.113.0/33"}}));
    assert!(
        evaluate(&bad, &absent)
            .unwrap_err()
            .to_string()
            .contains("not an IP address or a CIDR range"),
    );
}

#[test]
fn only_positive_specific_conditions_restrict_an_open_statement() {
    let open = |cond: Value| {
        json!({"Statement": [{"Sid": "S", "Effect": "Allow", "Principal": "*",
            "Action": ["ecr:BatchGetImage", "ecr:GetDownloadUrlForLayer"], "Condition": cond}]})
    };
    let kinds = |p: &Value| {
        lint(p, "111111111111")
            .unwrap()
            .iter()
            .map(|l| l.kind)
            .collect::<Vec<_>>()
    };
    // Each of these is met by a request from anyone (outside the organization, or without the
    // key at all): the statement is still open to everyone.
    for cond in [
        json!({"StringNotEquals": {"aws:PrincipalOrgID": "o-xxx"}}),
        json!({"StringEqualsIfExists": {"aws:PrincipalOrgID": "o-xxx"}}),
        json!({"StringLike": {"aws:PrincipalOrgID": "*"}}),
        json!({"ArnNotLike": {"aws:PrincipalArn": "arn:aws:iam::222222222222:*"}}),
        json!({"ForAllValues:StringEquals": {"aws:PrincipalOrgID": "o-xxx"}}),
        json!({"Null": {"aws:PrincipalOrgID": "false"}}),
    ] {
        assert_eq!(
            kinds(&open(cond.clone())),
            vec![LintKind::OpenToEveryone],
            "{cond}"
        );
    }
    for cond in [
        json!({"StringEquals": {"aws:PrincipalOrgID": "o-xxx"}}),
        json!({"StringLike": {"aws:PrincipalOrgID": ["o-xxx", "*"]}}),
        json!({"ForAnyValue:StringLike": {"aws:PrincipalOrgPaths": "o-xxx/r-ab12/*"}}),
    ] {
        assert_eq!(kinds(&open(cond.clone())), vec![], "{cond}");
    }
    // A service statement whose aws:SourceArn condition only applies if present is still a
    // confused deputy.
    let lambda = json!({"Statement": [{"Sid": "L", "Effect": "Allow",
        "Principal": {"Service": "lambda.amazonaws.com"},
        "Action": ["ecr:BatchGetImage", "ecr:GetDownloadUrlForLayer"],
        "Condition": {"StringLikeIfExists": {"aws:SourceArn": "arn:aws:lambda:*:222222222222:function:*"}}}]});
    assert_eq!(kinds(&lambda), vec![LintKind::ConfusedDeputy]);
}

#[test]
fn allow_with_not_principal_is_open_to_everyone() {
    let p = json!({"Statement": [{"Sid": "AllButOne", "Effect": "Allow",
        "NotPrincipal": {"AWS": "arn:aws:iam::333333333333:root"},
        "Action": ["ecr:BatchGetImage", "ecr:PutImage"]}]});
    let lints = lint(&p, "111111111111").unwrap();
    assert_eq!(
        lints.iter().map(|l| l.kind).collect::<Vec<_>>(),
        vec![LintKind::OpenToEveryone, LintKind::WriteAccess],
        "{lints:?}"
    );
    assert!(lints[0].message.contains("NotPrincipal"), "{lints:?}");
    // And it does allow a stranger's pull.
    assert!(allowed(
        &p,
        &account_pull("ecr:BatchGetImage", "999999999999", "r", "1", "x")
    ));
}

#[test]
fn not_principal_with_an_account_root_exempts_only_the_account() {
    // AWS's NotPrincipal documentation: the account root ARN exempts the account; a role of that
    // account is exempt only if its own ARN is listed too.
    let p = json!({"Statement": [
        {"Sid": "AllowPull", "Effect": "Allow", "Principal": {"AWS": "222222222222"}, "Action": "ecr:BatchGetImage"},
        {"Sid": "DenyOthers", "Effect": "Deny", "NotPrincipal": {"AWS": "arn:aws:iam::222222222222:root"}, "Action": "ecr:*"}
    ]});
    let root = account_pull("ecr:BatchGetImage", "222222222222", "r", "1", "x");
    assert!(allowed(&p, &root));
    let role = Request {
        principal: Principal::Aws("arn:aws:iam::222222222222:role/deployer".into()),
        ..root.clone()
    };
    let v = evaluate(&p, &role).unwrap();
    assert_eq!(v.decision, Decision::ExplicitDeny, "{v}");
    assert_eq!(v.deciding[0].sid.as_deref(), Some("DenyOthers"));
    // With the role listed as well (AWS's recommended form), the role is exempt.
    let mut listed = p.clone();
    listed["Statement"][1]["NotPrincipal"]["AWS"] = json!([
        "arn:aws:iam::222222222222:role/deployer",
        "arn:aws:iam::222222222222:root"
    ]);
    assert!(allowed(&listed, &role));
    // A 12-digit account id in NotPrincipal is the account root too.
    let mut by_id = p.clone();
    by_id["Statement"][1]["NotPrincipal"]["AWS"] = json!("222222222222");
    assert!(allowed(&by_id, &root));
    assert!(!allowed(&by_id, &role));
}
