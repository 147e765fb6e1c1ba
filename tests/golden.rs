//! Golden tests: what a user sees for bad declarations and for plans, byte for byte.
//! Update with `INSTA_UPDATE=always cargo test --test golden` and review the diff.

#[path = "support/plain.rs"]
mod plain;

use ferry::apply;
use ferry::cloud::fake::FakeCloud;
use ferry::declarations::parse_sources;
use ferry::model::Target;
use ferry::planner;
use ferry::refresh;
use ferry::render::{self, Painter};
use ferry::state::{MemoryState, Snapshot, StateStore};
use plain::{Quiet, sources};

fn errors(files: &[(&str, &str)]) -> String {
    match parse_sources(&sources(files), &|_| None) {
        Ok(_) => panic!("expected diagnostics"),
        Err(d) => d.render(false),
    }
}

use plain::GOOD;

#[test]
fn unknown_key() {
    insta::assert_snapshot!(errors(&[(
        "ferry.toml",
        &GOOD.replace("memory_mb = 128", "memroy_mb = 128")
    )]));
}

#[test]
fn account_id_not_twelve_digits() {
    insta::assert_snapshot!(errors(&[(
        "ferry.toml",
        &GOOD.replace("\"222222222222\"\n", "\"22222222222\"\n")
    )]));
}

#[test]
fn dangling_references() {
    insta::assert_snapshot!(errors(&[(
        "ferry.toml",
        &GOOD
            .replace("repository = \"hello\"", "repository = \"helo\"")
            .replace("account = \"prod\"", "account = \"production\"")
    )]));
}

#[test]
fn tag_and_digest_together_and_a_bad_digest() {
    insta::assert_snapshot!(errors(&[(
        "ferry.toml",
        &GOOD.replace("tag = \"01\"", "tag = \"01\"\ndigest = \"sha256:abc\"")
    )]));
}

#[test]
fn out_of_range_memory_timeout_and_architectures() {
    insta::assert_snapshot!(errors(&[(
        "ferry.toml",
        &GOOD.replace(
            "memory_mb = 128",
            "memory_mb = 64\ntimeout_s = 901\narchitectures = [\"x86_64\", \"arm64\"]"
        )
    )]));
}

#[test]
fn function_region_differs_from_the_registry() {
    insta::assert_snapshot!(errors(&[(
        "ferry.toml",
        &GOOD.replace("memory_mb = 128", "region = \"eu-west-1\"")
    )]));
}

#[test]
fn execution_role_in_another_account() {
    insta::assert_snapshot!(errors(&[(
        "ferry.toml",
        &GOOD.replace(
            "arn:aws:iam::222222222222:role/LambdaRole",
            "arn:aws:iam::111111111111:role/LambdaRole"
        )
    )]));
}

#[test]
fn missing_required_key() {
    insta::assert_snapshot!(errors(&[(
        "ferry.toml",
        &GOOD.replace("role = \"arn:aws:iam::222222222222:role/LambdaRole\"\n", "")
    )]));
}

#[test]
fn a_key_defined_in_two_files() {
    let second = "[repositories.hello]\nregistry = \"central\"\nscan_on_push = true\n";
    insta::assert_snapshot!(errors(&[("decl/a.toml", GOOD), ("decl/b.toml", second)]));
}

#[test]
fn extra_statement_sid_clash() {
    let text = GOOD.replace(
        "[repositories.hello]\nregistry = \"central\"\n",
        "[repositories.hello]\nregistry = \"central\"\nextra_statements = '''[{\"Sid\": \"CrossAccountPermission\", \"Effect\": \"Allow\"}]'''\n",
    );
    insta::assert_snapshot!(errors(&[("ferry.toml", &text)]));
}

const NO_REGION: &str = "[project]\nname = \"p\"\n\n[accounts.a]\nid = \"111111111111\"\n\n[registries.central]\naccount = \"a\"\n";

#[test]
fn a_registry_without_any_region() {
    insta::assert_snapshot!(errors(&[("ferry.toml", NO_REGION)]));
}

#[test]
fn aws_region_is_the_last_default_for_a_registry() {
    let env = |k: &str| (k == "AWS_REGION").then(|| "eu-west-1".to_string());
    let d = parse_sources(&sources(&[("ferry.toml", NO_REGION)]), &env).unwrap();
    assert_eq!(d.registries["central"].region, "eu-west-1");
    let with_default = NO_REGION.replace(
        "name = \"p\"",
        "name = \"p\"\ndefault_region = \"us-east-2\"",
    );
    let d = parse_sources(&sources(&[("ferry.toml", &with_default)]), &env).unwrap();
    assert_eq!(
        d.registries["central"].region, "us-east-2",
        "the declarations win over the environment"
    );
}

#[test]
fn two_keys_for_the_same_registry() {
    let text = GOOD.replace(
        "[registries.central]\naccount = \"registry\"\n",
        "[registries.central]\naccount = \"registry\"\n\n[registries.main]\naccount = \"registry\"\nregion = \"us-east-1\"\n",
    );
    assert_ne!(text, GOOD);
    insta::assert_snapshot!(errors(&[("ferry.toml", &text)]));
}

#[test]
fn a_deployer_role_in_another_account() {
    let text = GOOD
        .replace(
            "[accounts.prod]\nid = \"222222222222\"\n",
            "[accounts.prod]\nid = \"222222222222\"\nrole_arn = \"arn:aws:iam::111111111111:role/FerryDeployer\"\n",
        )
        .replace(
            "default_region = \"us-east-1\"\n",
            "default_region = \"us-east-1\"\nassume_role = \"arn:aws:iam::333333333333:role/FerryDeployer\"\n",
        );
    insta::assert_snapshot!(errors(&[("ferry.toml", &text)]));
}

#[test]
fn invalid_toml() {
    insta::assert_snapshot!(errors(&[(
        "ferry.toml",
        &GOOD.replace("memory_mb = 128", "memory_mb = = 128")
    )]));
}

#[tokio::test]
async fn rendered_plans_create_then_update() {
    let d0 = parse_sources(&sources(&[("ferry.toml", GOOD)]), &|_| None).unwrap();
    let cloud = FakeCloud::new();
    let state = MemoryState::new(Snapshot {
        lineage: "l".into(),
        ..Snapshot::default()
    });
    let registry = Target {
        account: "registry".into(),
        account_id: "111111111111".into(),
        region: "us-east-1".into(),
    };
    // The repository exists (ferry's, from an earlier apply) and holds the image.
    let only_repo = GOOD.split("[images.hello]").next().unwrap();
    let d_repo = parse_sources(&sources(&[("ferry.toml", only_repo)]), &|_| None).unwrap();
    let snap = state.snapshot().unwrap();
    let p = planner::plan(
        &d_repo,
        &snap,
        &refresh::refresh(&cloud, &d_repo, &snap).await.unwrap(),
    );
    apply::execute(&p, &cloud, &state, &apply::Options::default(), &Quiet).await;
    cloud.push_image(
        &registry,
        "hello",
        "01",
        "sha256:aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa",
    );
    let snap = state.snapshot().unwrap();
    let create = planner::plan(
        &d0,
        &snap,
        &refresh::refresh(&cloud, &d0, &snap).await.unwrap(),
    );
    insta::assert_snapshot!(
        "plan_create",
        render::plan_text(&create, Painter { color: false })
    );
    apply::execute(&create, &cloud, &state, &apply::Options::default(), &Quiet).await;

    // Another account starts consuming, memory and environment change, the tag moves.
    let d1_text = GOOD.replace(
        "memory_mb = 128",
        "memory_mb = 256\nenvironment = { LOG_LEVEL = \"debug\" }",
    ) + "\n[accounts.staging]\nid = \"333333333333\"\n\n[functions.hello-staging]\naccount = \"staging\"\nimage = \"hello\"\nrole = \"arn:aws:iam::333333333333:role/LambdaRole\"\n";
    let d1 = parse_sources(&sources(&[("ferry.toml", &d1_text)]), &|_| None).unwrap();
    cloud.push_image(
        &registry,
        "hello",
        "01",
        "sha256:bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb",
    );
    let snap = state.snapshot().unwrap();
    let update = planner::plan(
        &d1,
        &snap,
        &refresh::refresh(&cloud, &d1, &snap).await.unwrap(),
    );
    insta::assert_snapshot!(
        "plan_update",
        render::plan_text(&update, Painter { color: false })
    );
    insta::assert_snapshot!("plan_update_markdown", render::plan_markdown(&update));
    apply::execute(&update, &cloud, &state, &apply::Options::default(), &Quiet).await;

    // Someone raises the memory in the console and deletes the staging function.
    {
        let mut world = cloud.world.lock().unwrap();
        for (key, f) in world.functions.iter_mut() {
            if key.2 == "hello-world" {
                f.memory_mb = 512;
            }
        }
        world.functions.retain(|key, _| key.2 != "hello-staging");
    }
    let snap = state.snapshot().unwrap();
    let drift = planner::plan(
        &d1,
        &snap,
        &refresh::refresh(&cloud, &d1, &snap).await.unwrap(),
    );
    insta::assert_snapshot!(
        "plan_drift",
        render::plan_text(&drift, Painter { color: false })
    );
}

/// GOOD with `hello-world` renamed to `greeter` (same Lambda name), and `blocks` appended.
fn renamed(blocks: &str) -> String {
    GOOD.replace(
        "[functions.hello-world]\n",
        "[functions.greeter]\nname = \"hello-world\"\n",
    ) + blocks
}

#[test]
fn moved_from_an_address_still_declared_to_one_not_declared() {
    let text =
        format!("{GOOD}\n[[moved]]\nfrom = \"function.hello-world\"\nto = \"function.greeter\"\n");
    insta::assert_snapshot!(errors(&[("ferry.toml", &text)]));
}

#[test]
fn moved_in_a_chain_and_in_a_cycle() {
    let text = renamed(
        "\n[[moved]]\nfrom = \"function.old\"\nto = \"function.hello-world\"\n\
         \n[[moved]]\nfrom = \"function.hello-world\"\nto = \"function.greeter\"\n\
         \n[[moved]]\nfrom = \"repository.a\"\nto = \"repository.b\"\n\
         \n[[moved]]\nfrom = \"repository.b\"\nto = \"repository.a\"\n",
    );
    insta::assert_snapshot!(errors(&[("ferry.toml", &text)]));
}

#[test]
fn moved_to_another_kind_or_not_an_address() {
    let text = renamed(
        "\n[[moved]]\nfrom = \"function.hello-world\"\nto = \"repository.hello\"\n\
         \n[[moved]]\nfrom = \"image.hello\"\nto = \"image.other\"\n\
         \n[[moved]]\nfrom = \"worker\"\nto = \"function.greeter\"\n",
    );
    insta::assert_snapshot!(errors(&[("ferry.toml", &text)]));
}

#[test]
fn moved_blocks_reject_unknown_keys_and_merge_across_files() {
    let typo = "[[moved]]\nfrom = \"function.hello-world\"\ntoo = \"function.greeter\"\n";
    insta::assert_snapshot!(errors(&[("ferry.toml", GOOD), ("moves.toml", typo)]));
    // A valid block in a second file reaches the model.
    let moves = "[[moved]]\nfrom = \"function.hello-world\"\nto = \"function.greeter\"\n";
    let d = parse_sources(
        &sources(&[("ferry.toml", &renamed("")), ("moves.toml", moves)]),
        &|_| None,
    )
    .unwrap_or_else(|d| panic!("{}", d.render(false)));
    assert_eq!(d.moves.len(), 1);
    assert_eq!(d.moves[0].from.to_string(), "function.hello-world");
    assert_eq!(d.moves[0].to.to_string(), "function.greeter");
    assert_eq!(d.moves[0].declared_at, "moves.toml:1:1");
}

#[tokio::test]
async fn rendered_plan_of_a_move() {
    let cloud = FakeCloud::new();
    let state = MemoryState::new(Snapshot {
        lineage: "l".into(),
        ..Snapshot::default()
    });
    let registry = Target {
        account: "registry".into(),
        account_id: "111111111111".into(),
        region: "us-east-1".into(),
    };
    let apply = async |text: &str| {
        let d = parse_sources(&sources(&[("ferry.toml", text)]), &|_| None).unwrap();
        let snap = state.snapshot().unwrap();
        let p = planner::plan(
            &d,
            &snap,
            &refresh::refresh(&cloud, &d, &snap).await.unwrap(),
        );
        assert!(p.errors.is_empty(), "{:?}", p.errors);
        apply::execute(&p, &cloud, &state, &apply::Options::default(), &Quiet).await;
        p
    };
    apply(GOOD.split("[images.hello]").next().unwrap()).await;
    cloud.push_image(
        &registry,
        "hello",
        "01",
        "sha256:aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa",
    );
    apply(GOOD).await;
    let moved = apply(&renamed(
        "\n[[moved]]\nfrom = \"function.hello-world\"\nto = \"function.greeter\"\n",
    ))
    .await;
    insta::assert_snapshot!(
        "plan_move",
        render::plan_text(&moved, Painter { color: false })
    );
    insta::assert_snapshot!("plan_move_markdown", render::plan_markdown(&moved));
}

#[test]
fn empty_and_blank_table_keys() {
    let text = GOOD
        .replace(
            "[repositories.hello]",
            "[repositories.\"\"]\nname = \"hello\"",
        )
        .replace("repository = \"hello\"", "repository = \"\"")
        .replace(
            "[functions.hello-world]",
            "[functions.\"  \"]\nname = \"hello-world\"",
        );
    insta::assert_snapshot!(errors(&[("ferry.toml", &text)]));
}

#[test]
fn repository_names_ecr_refuses() {
    let text = GOOD.replace(
        "[repositories.hello]\nregistry = \"central\"",
        "[repositories.hello]\nregistry = \"central\"\nname = \"team--hello\"\n\n[repositories.dots]\nregistry = \"central\"\nname = \"a._b\"",
    );
    insta::assert_snapshot!(errors(&[("ferry.toml", &text)]));
}

#[test]
fn a_file_that_is_not_utf8() {
    let mut bytes = GOOD
        .replace("role = \"arn", "description = \"caf\u{1}\"\nrole = \"arn")
        .into_bytes();
    let at = bytes.iter().position(|&b| b == 1).unwrap();
    bytes[at] = 0xe9; // é in Latin-1
    let d = ferry::declarations::source_from_bytes("ferry.toml".into(), bytes).unwrap_err();
    insta::assert_snapshot!(d.render(false));
}

#[test]
fn an_error_past_column_65535_is_shown_cut_around_it() {
    // One line of 70,000 characters with the error at its end: miette alone would panic.
    let long = format!("description = \"{}\"", "x".repeat(70_000));
    let text = GOOD.replace(
        "memory_mb = 128",
        &format!("memory_mb = 128\n{long} memroy_mb = 1"),
    );
    let shown = errors(&[("ferry.toml", &text)]);
    assert!(
        shown.len() < 4_000,
        "the long line is cut: {} bytes",
        shown.len()
    );
    insta::assert_snapshot!(shown);
}

const MANY: &str = "[project]\nname = \"p\"\ndefault_region = \"us-east-1\"\n\n[accounts.a]\nid = \"111111111111\"\n\n[accounts.b]\nid = \"222222222222\"\n\n[account_groups.both]\naccounts = [\"a\", \"b\"]\n\n[account_groups.org]\norganizational_unit = \"ou-ab12-11111111\"\norganization_account = \"a\"\n\n[registries.central]\naccount = \"a\"\n\n[repositories.hello]\nregistry = \"central\"\n\n[images.hello]\nrepository = \"hello\"\ntag = \"01\"\n\n[functions.api]\naccounts = [\"both\", \"nope\", \"org\"]\nimage = \"hello\"\n";

#[test]
fn many_accounts_errors_point_at_the_defaults_line_that_set_the_value() {
    let defaults = "[defaults.functions]\nrole = \"arn:aws:iam::111111111111:role/LambdaRole\"\nmemory_mb = 64\n";
    insta::assert_snapshot!(errors(&[
        ("decl/defaults.toml", defaults),
        ("decl/ferry.toml", MANY),
    ]));
}
