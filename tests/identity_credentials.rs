//! The real AWS client against moto, in process: credentials are verified per account id and
//! region actually called, never once per account key. A call to a target recorded as
//! 592444418872 with the credentials of a key now declared as 777777777777 is refused by the
//! GetCallerIdentity check, after a call to 777777777777 with the same key succeeded.
//!
//! The only test of its binary: it sets the process's AWS environment for the SDK.

mod support;

use ferry::cloud::aws::AwsCloud;
use ferry::cloud::{Cloud, CloudError};
use ferry::model::{Account, Target};

#[test]
fn a_key_s_credentials_are_checked_against_every_account_id_they_are_used_for() {
    let moto = support::Moto::start();
    let dir = tempfile::tempdir().unwrap();
    let empty = dir.path().join("empty");
    std::fs::write(&empty, "").unwrap();
    // SAFETY: set before any other thread of this process exists (the runtime starts below),
    // and no other test runs in this binary.
    unsafe {
        std::env::set_var("AWS_ENDPOINT_URL", moto.url());
        std::env::set_var("AWS_ACCESS_KEY_ID", "testing");
        std::env::set_var("AWS_SECRET_ACCESS_KEY", "testing");
        std::env::set_var("AWS_REGION", "us-east-1");
        std::env::set_var("AWS_CONFIG_FILE", &empty);
        std::env::set_var("AWS_SHARED_CREDENTIALS_FILE", &empty);
        std::env::set_var("AWS_EC2_METADATA_DISABLED", "true");
        std::env::remove_var("AWS_PROFILE");
        std::env::remove_var("AWS_SESSION_TOKEN");
    }
    let declared = "777777777777";
    let recorded = "592444418872";
    let consumer = Account {
        key: "consumer".into(),
        id: declared.into(),
        profile: None,
        role_arn: Some(format!("arn:aws:iam::{declared}:role/FerryDeployer")),
        external_id: None,
        organization_id: None,
        org_path: None,
    };
    let cloud = AwsCloud::new([("consumer".to_string(), consumer)].into());
    let now = Target {
        account: "consumer".into(),
        account_id: declared.into(),
        region: "us-east-1".into(),
    };
    let before = Target {
        account_id: recorded.into(),
        ..now.clone()
    };
    let runtime = tokio::runtime::Runtime::new().unwrap();
    runtime.block_on(async {
        // The key's credentials are 777777777777's: calls there are verified and go through.
        cloud.read_function(&now, "svc-api").await.unwrap();
        // The same key, called for the account it was recorded in: refused, read or write.
        let read = cloud.read_function(&before, "svc-api").await.unwrap_err();
        let delete = cloud.delete_function(&before, "svc-api").await.unwrap_err();
        for e in [read, delete] {
            assert!(
                matches!(&e, CloudError::WrongAccount { expected, actual, .. }
                    if expected == recorded && actual == declared),
                "{e}"
            );
        }
        // And another region of the right account is verified in its own right.
        let west = Target {
            region: "us-west-2".into(),
            ..now.clone()
        };
        cloud.read_function(&west, "svc-api").await.unwrap();
    });
}
