//! The function decider.

use super::{GOOD, desired, planner, refused};
use crate::cloud::{FunctionConfig, LiveFunction};
use crate::model::{Address, Place};
use crate::planner::function::FunctionDecision;
use crate::refresh::Observed;
use crate::state::{Record, Snapshot};
use std::collections::BTreeMap;

const DIGEST_1: &str = "sha256:1111111111111111111111111111111111111111111111111111111111111111";
const DIGEST_2: &str = "sha256:2222222222222222222222222222222222222222222222222222222222222222";

/// What state records, or what is live, for `hello-world`: as `GOOD` applies it with
/// `DIGEST_1`, without ownership tags (imported), with another memory size, under another name
/// (and, for state, under another address).
#[derive(Clone, Copy, Debug)]
enum As {
    Nothing,
    Applied,
    Untagged,
    Memory(i32),
    Named(&'static str),
    Under(&'static str),
}

fn digests(digest: Option<&str>) -> BTreeMap<String, String> {
    digest
        .map(|d| ("hello".to_string(), d.to_string()))
        .into_iter()
        .collect()
}

/// `GOOD`'s function as applied, shaped as `what` says; `None` for `Nothing`.
fn shaped(what: As) -> Option<(Address, Record)> {
    let d = desired(GOOD);
    let (state, observed) = (Snapshot::default(), Observed::default());
    let (mut config, record) = planner(&d, &state, &observed)
        .function_config(&d.functions["hello-world"], &digests(Some(DIGEST_1)))
        .expect("GOOD's function has a repository and a digest");
    let mut address = Address::Function("hello-world".into());
    match what {
        As::Nothing => return None,
        As::Applied => {}
        As::Untagged => config.tags.clear(),
        As::Memory(m) => config.memory_mb = m,
        As::Named(name) => config.name = name.into(),
        As::Under(key) => address = Address::Function(key.into()),
    }
    let Record::Function {
        target,
        repository,
        sensitive,
        ..
    } = record
    else {
        unreachable!("a function's record")
    };
    let record = Record::Function {
        target,
        repository,
        config,
        sensitive,
    };
    Some((address, record))
}

fn live(config: FunctionConfig) -> Option<LiveFunction> {
    Some(LiveFunction {
        config,
        arn: String::new(),
    })
}

/// The decision for `hello-world` declared by `text`, its image resolving to `digest`.
fn decide(
    text: &str,
    digest: Option<&str>,
    recorded: As,
    live_as: As,
    interrupted: bool,
) -> String {
    let d = desired(text);
    let f = &d.functions["hello-world"];
    let mut state = Snapshot::default();
    state.resources.extend(shaped(recorded));
    if interrupted {
        state.interrupted.insert(Address::Function(f.key.clone()));
    }
    let mut observed = Observed::default();
    match shaped(live_as) {
        Some((_, Record::Function { config, .. })) => {
            let place = Place::new(&f.target, &config.name);
            observed.functions.insert(place, live(config));
        }
        _ => {
            observed
                .functions
                .insert(Place::new(&f.target, &f.name), None);
        }
    }
    match planner(&d, &state, &observed).decide_function(f, &digests(digest)) {
        FunctionDecision::Skipped(why) => format!("skipped ({why:?})"),
        FunctionDecision::Refused(e) => refused(&e, 7),
        FunctionDecision::Replace { old, old_live, .. } => {
            format!("replace {} (old live: {})", old.name, old_live.is_some())
        }
        FunctionDecision::Create { recreate } => format!("create (recreate: {recreate})"),
        FunctionDecision::Existing { verdict, .. } => format!("{verdict:?}"),
    }
}

/// (declarations, digest of the image, recorded, live, interrupted apply, decision)
type Row<'a> = (&'a str, Option<&'a str>, As, As, bool, &'a str);

#[test]
fn decisions_as_a_table() {
    let unmanaged_policy = GOOD.replace(
        "[repositories.hello]\nregistry = \"central\"\n",
        "[repositories.hello]\nregistry = \"central\"\nmanage_policy = false\n",
    );
    let more_memory = GOOD.replace("memory_mb = 128", "memory_mb = 256");
    let d1 = Some(DIGEST_1);
    let table: &[Row] = &[
        (
            GOOD,
            None,
            As::Nothing,
            As::Nothing,
            false,
            "skipped (NoDigest)",
        ),
        (
            GOOD,
            d1,
            As::Nothing,
            As::Nothing,
            false,
            "create (recreate: false)",
        ),
        (
            GOOD,
            d1,
            As::Applied,
            As::Nothing,
            false,
            "create (recreate: true)",
        ),
        (GOOD, d1, As::Applied, As::Applied, false, "Unchanged"),
        (GOOD, d1, As::Nothing, As::Applied, true, "Adopt"),
        (
            GOOD,
            d1,
            As::Applied,
            As::Memory(256),
            false,
            "Update(ChangedOutside)",
        ),
        (
            &more_memory,
            d1,
            As::Applied,
            As::Applied,
            false,
            "Update(DeclarationChanged)",
        ),
        (
            GOOD,
            Some(DIGEST_2),
            As::Applied,
            As::Applied,
            false,
            "Update(Cause(TagMoved(\"tag `01` of image.hello now resolves to a new digest\")))",
        ),
        (
            GOOD,
            d1,
            As::Untagged,
            As::Untagged,
            false,
            "Update(Cause(Imported { image: None }))",
        ),
        (
            GOOD,
            d1,
            As::Named("old"),
            As::Named("old"),
            false,
            "replace old (old live: true)",
        ),
        (
            GOOD,
            d1,
            As::Named("old"),
            As::Nothing,
            false,
            "replace old (old live: false)",
        ),
        (
            GOOD,
            d1,
            As::Nothing,
            As::Untagged,
            false,
            "refused: function `hello-world` already exists in account 222222222222",
        ),
        (
            GOOD,
            d1,
            As::Under("old"),
            As::Applied,
            false,
            "refused: function `hello-world` in account 222222222222 (us-east-1) is",
        ),
        (
            &unmanaged_policy,
            d1,
            As::Nothing,
            As::Nothing,
            false,
            "refused: Lambda would not be allowed to pull",
        ),
    ];
    for (text, digest, recorded, live, interrupted, want) in table {
        let got = decide(text, *digest, *recorded, *live, *interrupted);
        assert_eq!(
            &got, want,
            "digest {digest:?}, recorded {recorded:?}, live {live:?}, interrupted {interrupted}"
        );
    }
}
