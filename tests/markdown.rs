//! `plan --markdown` as a pull-request comment: identical changes folded, entries grouped by
//! account and region, resolved images shown, and never more than GitHub's 65,536 characters.
//! Plans are real planner output over the in-memory fake cloud.

use ferry::apply;
use ferry::cloud::fake::FakeCloud;
use ferry::model::{Desired, Target};
use ferry::planner::{self, Plan};
use ferry::render::{COMMENT_LIMIT, plan_markdown, plan_markdown_within};
use ferry::state::{MemoryState, Snapshot, StateStore};

const ACCOUNTS: usize = 100;
const DIGEST_1: &str = "sha256:1111111111111111111111111111111111111111111111111111111111111111";
const DIGEST_2: &str = "sha256:2222222222222222222222222222222222222222222222222222222222222222";

/// 100 consumer accounts, two functions in each: 200 instances from two declarations.
fn declarations() -> String {
    let mut d = String::from(
        "[project]\nname = \"fleet\"\ndefault_region = \"us-east-1\"\n\
         assume_role = \"arn:aws:iam::{account_id}:role/Deployer\"\n\n\
         [accounts.registry]\nid = \"111111111111\"\n",
    );
    let mut keys = Vec::new();
    for i in 0..ACCOUNTS {
        d.push_str(&format!(
            "\n[accounts.c{i}]\nid = \"{:012}\"\n",
            200_000_000_000u64 + i as u64
        ));
        keys.push(format!("\"c{i}\""));
    }
    d.push_str(&format!(
        "\n[account_groups.all]\naccounts = [{}]\n\n[registries.central]\naccount = \"registry\"\n\n\
         [repositories.hello]\nregistry = \"central\"\n\n[images.hello]\nrepository = \"hello\"\ntag = \"01\"\n",
        keys.join(", ")
    ));
    for f in ["api", "worker"] {
        d.push_str(&format!(
            "\n[functions.{f}]\naccounts = [\"all\"]\nimage = \"hello\"\nname = \"{f}-{{account}}\"\n\
             role = \"arn:aws:iam::{{account_id}}:role/LambdaRole\"\n"
        ));
    }
    d
}

fn parse(text: &str) -> Desired {
    let source = ferry::declarations::source_from_bytes("ferry.toml".into(), text.into()).unwrap();
    ferry::declarations::parse_sources(&[source], &|_| None).expect("valid declarations")
}

fn desired() -> Desired {
    parse(&declarations())
}

/// The repository applied (the declarations before their image), and the image pushed.
async fn with_repository(state: &dyn StateStore) -> FakeCloud {
    let cloud = FakeCloud::new();
    let full = declarations();
    let (head, _) = full.split_once("\n[images.hello]").unwrap();
    let first = plan(&cloud, &parse(head), state).await;
    let outcome = apply::execute(&first, &cloud, state, &apply::Options::default(), &Quiet).await;
    assert!(outcome.succeeded(), "{outcome:?}");
    cloud.push_image(&registry(), "hello", "01", DIGEST_1);
    cloud
}

fn registry() -> Target {
    Target {
        account: "registry".into(),
        account_id: "111111111111".into(),
        region: "us-east-1".into(),
    }
}

async fn plan(cloud: &FakeCloud, d: &Desired, state: &dyn StateStore) -> Plan {
    let snap = state.snapshot().unwrap();
    let observed = ferry::refresh::refresh(cloud, d, &snap).await.unwrap();
    planner::plan(d, &snap, &observed)
}

struct Quiet;
impl apply::Observer for Quiet {
    fn started(&self, _: &ferry::planner::Step) {}
    fn finished(&self, _: &ferry::planner::Step, _: &Result<(), String>, _: std::time::Duration) {}
}

fn state() -> MemoryState {
    MemoryState::new(Snapshot {
        lineage: "markdown-lineage".into(),
        secret_key: b"a test key".to_vec(),
        ..Snapshot::default()
    })
}

#[tokio::test]
async fn two_hundred_creates_fit_one_comment_and_say_what_was_left_out() {
    let state = state();
    let cloud = with_repository(&state).await;
    let d = desired();
    let p = plan(&cloud, &d, &state).await;
    assert!(p.errors.is_empty(), "{:?}", p.errors);
    assert!(p.steps.len() > 200, "{}", p.steps.len());
    let md = plan_markdown(&p);
    assert!(
        md.chars().count() <= COMMENT_LIMIT,
        "{} characters",
        md.chars().count()
    );
    // Every function is still in the table, in its own account's section.
    for f in d.functions.values() {
        assert!(md.contains(&format!("`function.{}`", f.key)), "{}", f.key);
    }
    assert!(
        md.contains("#### account 200000000042, us-east-1\n"),
        "{md}"
    );
    assert!(
        md.contains("> **Cut to fit a GitHub comment** (65536 characters): the change details of"),
        "{md}"
    );
    assert!(md.contains("`image.hello`: tag `01` of "), "{md}");
    assert!(md.contains(DIGEST_1), "the resolved digest is shown: {md}");
    // Without the limit the same plan would not fit: the cut is real.
    let whole = plan_markdown_within(&p, usize::MAX);
    assert!(
        whole.chars().count() > COMMENT_LIMIT,
        "{}",
        whole.chars().count()
    );
    assert!(!whole.contains("Cut to fit"));
}

#[tokio::test]
async fn the_same_image_update_in_two_hundred_functions_is_one_entry() {
    let d = desired();
    let state = state();
    let cloud = with_repository(&state).await;
    let first = plan(&cloud, &d, &state).await;
    assert!(first.errors.is_empty(), "{:?}", first.errors);
    let outcome = apply::execute(&first, &cloud, &state, &apply::Options::default(), &Quiet).await;
    assert!(outcome.succeeded(), "{outcome:?}");
    cloud.push_image(&registry(), "hello", "01", DIGEST_2);
    let p = plan(&cloud, &d, &state).await;
    assert_eq!(
        p.steps.len(),
        200,
        "{:?}",
        p.steps.iter().map(|s| &s.address).collect::<Vec<_>>()
    );
    let md = plan_markdown(&p);
    assert!(!md.contains("Cut to fit"), "{md}");
    let folded: Vec<&str> = md
        .lines()
        .filter(|l| l.contains(" 200 functions: "))
        .collect();
    assert_eq!(folded.len(), 1, "{md}");
    assert!(
        folded[0].contains("image sha256:111111111111… → sha256:222222222222…"),
        "{}",
        folded[0]
    );
    assert!(
        md.contains("#### The same change in several accounts or regions"),
        "{md}"
    );
    assert_eq!(
        md.matches("<details>").count(),
        1,
        "one entry, one details block: {md}"
    );
    assert!(md.contains("<code>~ 200 functions</code>"), "{md}");
}

#[tokio::test]
async fn a_small_limit_cuts_rows_too_and_still_says_so() {
    let state = state();
    let cloud = with_repository(&state).await;
    let p = plan(&cloud, &desired(), &state).await;
    let md = plan_markdown_within(&p, 4_000);
    assert!(md.chars().count() <= 4_000, "{}", md.chars().count());
    assert!(md.contains("**Plan: "), "{md}");
    assert!(md.contains("and the table rows of "), "{md}");
}
