//! How ferry talks when something goes wrong, through the real binary: a reader that stops early,
//! usage errors, credentials and profiles, endpoints that refuse or never answer, damaged
//! answers that hold secrets, and a CreateFunction that stays denied. Every provoked error is
//! grepped for Debug dumps ([`support::assert_no_debug`]).

#[path = "support/faults.rs"]
mod faults;
mod support;

use faults::{Fault, Match, Proxy, Rule};
use std::io::{BufRead, BufReader};
use std::process::Stdio;
use support::fixtures::{api_prod, api_staging};
use support::{PROD, REGISTRY, Run, STAGING, World, assert_no_debug};

/// Runs ferry with stdout into a pipe whose reader closes: at once (before ferry writes) when
/// `lines` is 0, else after reading that many lines. Returns the exit code and stderr.
fn into_closed_pipe(w: &World, args: &[&str], lines: usize) -> Run {
    let (reader, writer) = std::io::pipe().expect("a pipe");
    let mut cmd = w.ferry_command(args);
    cmd.stdout(writer).stderr(Stdio::piped());
    let child = if lines == 0 {
        drop(reader);
        // The command holds the write end until it is dropped with `cmd`.
        let child = cmd.spawn().expect("spawn ferry");
        drop(cmd);
        child
    } else {
        let child = cmd.spawn().expect("spawn ferry");
        drop(cmd);
        let mut reader = BufReader::new(reader);
        for _ in 0..lines {
            let mut line = String::new();
            if reader.read_line(&mut line).unwrap_or(0) == 0 {
                break;
            }
        }
        drop(reader);
        child
    };
    let out = child.wait_with_output().expect("wait for ferry");
    Run {
        code: out.status.code().unwrap_or(-1),
        stdout: String::new(),
        stderr: String::from_utf8_lossy(&out.stderr).to_string(),
    }
}

/// hello with its image and api-prod applied, and a second function, so that every command
/// has several lines to print.
fn applied() -> World {
    let w = support::hello_applied("errors", &[PROD, STAGING]);
    let text = format!(
        "{}{}{}",
        support::hello_declarations("errors"),
        api_prod(),
        api_staging()
    );
    w.write("ferry.toml", &text);
    w.ferry(&["apply", "--auto-approve"]).expect(0);
    w
}

#[test]
fn a_reader_that_stops_early_ends_every_command_quietly() {
    let w = applied();
    let commands: [&[&str]; 4] = [
        &["state", "list", "-v"],
        &["policy", "hello"],
        &["plan"],
        &["check"],
    ];
    for args in commands {
        // Each has more than one line to say.
        let full = w.ferry(args).expect(0);
        assert!(full.stdout.lines().count() > 1, "{args:?}: {}", full.stdout);
        for i in 0..20 {
            // The panic was intermittent: a reader gone before the first write, and one that
            // stops after the first line, in turn.
            let run = into_closed_pipe(&w, args, i % 2);
            assert_eq!(
                run.code, 0,
                "{args:?} into a closed pipe (run {i}): exit {}\n{}",
                run.code, run.stderr
            );
            assert_eq!(run.stderr, "", "{args:?} (run {i}) said something");
        }
    }
    // Every other command that prints data, a few times each.
    let others: [&[&str]; 6] = [
        &["validate"],
        &["graph"],
        &["plan", "--json"],
        &["check", "--json"],
        &["state", "show", "function.api-prod"],
        &["plan", "--markdown"],
    ];
    for args in others {
        for i in 0..4 {
            let run = into_closed_pipe(&w, args, i % 2);
            assert_eq!(run.code, 0, "{args:?} (run {i}): {}", run.stderr);
            assert_eq!(run.stderr, "", "{args:?} (run {i}) said something");
        }
    }
    // A plan with errors still reports them, on stderr, and fails.
    let applied = std::fs::read_to_string(w.path("ferry.toml")).expect("declarations");
    w.write(
        "ferry.toml",
        &format!("{applied}\n[images.ghost]\nrepository = \"hello\"\ntag = \"no-such-tag\"\n"),
    );
    let run = into_closed_pipe(&w, &["plan"], 0);
    assert_eq!(run.code, 1, "{}", run.stderr);
    assert!(run.stderr.contains("no-such-tag"), "{}", run.stderr);
    assert_no_debug(&run.stderr);
    // A command that changes something finishes it: the apply goes through, stdout closed.
    w.write(
        "ferry.toml",
        &format!(
            "{}{}{}memory_mb = 256\n",
            support::hello_declarations("errors"),
            api_prod(),
            api_staging()
        ),
    );
    let run = into_closed_pipe(&w, &["apply", "--auto-approve"], 0);
    assert_eq!(run.code, 0, "{}", run.stderr);
    assert_eq!(
        w.admin("functions", STAGING, &[])["api-staging"]["MemorySize"],
        256
    );
    w.ferry(&["plan", "--detailed-exitcode"]).expect(0);
}

#[test]
fn usage_errors_exit_1_and_never_2() {
    let w = World::offline();
    w.write("ferry.toml", &support::declarations_head("usage"));
    for args in [
        &["plan", "--target", "nonsense"][..],
        &["plan", "--detailed-exitcode", "--no-such-flag"],
        &["--no-such-flag", "validate"],
        &["no-such-command"],
        &["apply", "--parallelism", "0"],
        &[],
    ] {
        let run = w.ferry(args);
        assert_eq!(run.code, 1, "{args:?}: {}", run.stderr);
        // Without a command clap shows the help, on stderr.
        assert!(
            run.stderr
                .contains(if args.is_empty() { "Usage:" } else { "error" }),
            "{args:?}: {}",
            run.stderr
        );
    }
    let target = w.ferry(&["plan", "--target", "nonsense"]);
    assert!(
        target.stderr.contains("`nonsense` is not an address"),
        "{}",
        target.stderr
    );
    for args in [&["--help"][..], &["--version"], &["plan", "--help"]] {
        let run = w.ferry(args).expect(0);
        assert!(!run.stdout.is_empty(), "{args:?}");
    }
}

/// An AWS config file in the world's directory; returns its path for AWS_CONFIG_FILE.
fn aws_config(w: &World, text: &str) -> String {
    w.write("aws-config", text);
    w.path("aws-config").display().to_string()
}

fn with_profile(w: &World, profile: &str) -> String {
    let text = support::hello_declarations("profiles")
        .replace("[images.hello]\nrepository = \"hello\"\ntag = \"01\"\n", "")
        .replace(
            &format!("[accounts.registry]\nid = \"{REGISTRY}\"\n"),
            &format!("[accounts.registry]\nid = \"{REGISTRY}\"\nprofile = \"{profile}\"\n"),
        );
    assert!(text.contains("profile ="));
    w.write("ferry.toml", &text);
    text
}

#[test]
fn a_misspelled_profile_is_named_by_validate_and_never_falls_back() {
    let w = World::new();
    let config = aws_config(
        &w,
        "[profile registry-admin]\naws_access_key_id = a\naws_secret_access_key = b\n",
    );
    let text = with_profile(&w, "registry-admni");
    let env = [("AWS_CONFIG_FILE", config.as_str())];
    // validate: no AWS call, and the place of the value.
    let line = text
        .lines()
        .position(|l| l.starts_with("profile ="))
        .expect("the profile line")
        + 1;
    let validate = w.ferry_with_env(&["validate"], &env).expect(1);
    assert!(
        validate.stderr.contains(&format!("ferry.toml:{line}:11")),
        "{}",
        validate.stderr
    );
    assert!(
        validate
            .stderr
            .contains("account `registry` uses the profile `registry-admni`, which is not defined"),
        "{}",
        validate.stderr
    );
    assert!(
        validate.stderr.contains("registry-admin"),
        "the defined profiles are listed: {}",
        validate.stderr
    );
    // plan: the environment's keys (AWS_ACCESS_KEY_ID is set) are not used instead.
    let plan = w.ferry_with_env(&["plan"], &env).expect(1);
    assert!(
        plan.stderr.contains("the profile `registry-admni`"),
        "{}",
        plan.stderr
    );
    assert!(plan.stderr.contains("hint: "), "{}", plan.stderr);
    assert_no_debug(&plan.stderr);
    assert_no_debug(&validate.stderr);
    // Spelled right, it validates.
    with_profile(&w, "registry-admin");
    w.ferry_with_env(&["validate"], &env).expect(0);
}

#[test]
fn a_declared_profile_wins_over_the_environment_s_keys() {
    let w = World::new();
    // A profile whose credentials come from a process that leaves a mark when it runs.
    let mark = w.path("profile-used");
    w.write(
        "credentials.sh",
        &format!(
            "touch '{}'\necho '{{\"Version\": 1, \"AccessKeyId\": \"profile\", \"SecretAccessKey\": \"profile\"}}'\n",
            mark.display()
        ),
    );
    let config = aws_config(
        &w,
        &format!(
            "[profile registry-admin]\ncredential_process = sh {}\n",
            w.path("credentials.sh").display()
        ),
    );
    with_profile(&w, "registry-admin");
    let run = w
        .ferry_with_env(&["plan"], &[("AWS_CONFIG_FILE", config.as_str())])
        .expect(0);
    assert!(run.stdout.contains("repository.hello"), "{}", run.stdout);
    assert!(
        mark.exists(),
        "the account's profile gave the credentials, although AWS_ACCESS_KEY_ID is set"
    );
}

#[test]
fn an_sso_profile_without_a_login_says_to_log_in() {
    let w = World::new();
    let config = aws_config(
        &w,
        "[profile registry-sso]\nsso_session = corp\nsso_account_id = 111111111111\nsso_role_name = Admin\nregion = us-east-1\n\n[sso-session corp]\nsso_start_url = https://d-abc123.awsapps.com/start\nsso_region = us-east-1\n",
    );
    with_profile(&w, "registry-sso");
    // HOME is the world's directory: no SSO token cache there.
    let home = w.dir.path().display().to_string();
    let env = [
        ("AWS_CONFIG_FILE", config.as_str()),
        ("HOME", home.as_str()),
    ];
    w.ferry_with_env(&["validate"], &env).expect(0);
    let run = w.ferry_with_env(&["plan"], &env).expect(1);
    assert!(
        run.stderr
            .contains("the SSO sign-in of profile `registry-sso` is missing or expired"),
        "{}",
        run.stderr
    );
    assert!(
        run.stderr
            .contains("hint: sign in again with `aws sso login --profile registry-sso`"),
        "{}",
        run.stderr
    );
    assert!(run.stderr.contains("error: "), "{}", run.stderr);
    assert!(run.stderr.contains("  Caused by: "), "{}", run.stderr);
    assert_no_debug(&run.stderr);
}

#[test]
fn an_endpoint_that_refuses_is_named_with_what_was_tried() {
    let w = World::offline();
    w.write("ferry.toml", &support::hello_declarations("offline"));
    let run = w
        .ferry_with_env(&["plan"], &[("AWS_MAX_ATTEMPTS", "2")])
        .expect(1);
    let endpoint = run
        .stderr
        .split_whitespace()
        .find(|t| t.starts_with("http://127.0.0.1:"))
        .unwrap_or_else(|| panic!("the endpoint is named: {}", run.stderr));
    assert!(endpoint.len() > "http://127.0.0.1:".len());
    assert!(
        run.stderr
            .contains("the connection was refused; tried up to 2 times"),
        "{}",
        run.stderr
    );
    assert!(run.stderr.contains("hint: "), "{}", run.stderr);
    assert_no_debug(&run.stderr);
}

#[test]
fn an_endpoint_that_never_answers_is_bounded_named_and_said_to_be_retried() {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
    let port = listener.local_addr().expect("address").port();
    // Accepts every connection and never answers.
    std::thread::spawn(move || {
        let mut held = Vec::new();
        for c in listener.incoming() {
            held.push(c);
        }
    });
    let w = World::offline();
    w.write("ferry.toml", &support::hello_declarations("silent"));
    let url = format!("http://127.0.0.1:{port}");
    let run = w
        .ferry_with_env(
            &["plan"],
            &[
                ("AWS_ENDPOINT_URL", url.as_str()),
                ("AWS_MAX_ATTEMPTS", "2"),
                ("FERRY_READ_TIMEOUT", "1"),
            ],
        )
        .expect(1);
    assert!(
        run.stderr.contains(&format!(
            "could not get an answer from {url}: it accepted the connection but sent no answer within 1s"
        )),
        "{}",
        run.stderr
    );
    assert!(
        run.stderr.contains(&format!(
            "no answer from {url} for the credentials of account `registry`"
        )) && run.stderr.contains("the call is being retried"),
        "{}",
        run.stderr
    );
    assert_no_debug(&run.stderr);
}

#[test]
fn a_call_that_goes_unanswered_after_the_first_is_said_to_be_retried_and_bounded() {
    let mut w = support::hello_applied("hang", &[PROD]);
    let proxy = Proxy::start(w.moto_addr());
    w.route_ferry_through(proxy.url());
    proxy.add_rule(Rule::new(
        Match::operation("lambda", "GetFunction").on("api-prod"),
        Fault::Hang,
    ));
    let run = w
        .ferry_with_env(
            &["plan"],
            &[("AWS_MAX_ATTEMPTS", "2"), ("FERRY_READ_TIMEOUT", "1")],
        )
        .expect(1);
    let url = proxy.url();
    assert!(
        run.stderr.contains(&format!(
            "Lambda GetFunction: no answer from {url}/2015-03-31/functions/api-prod (attempt 1 of 2); the call is being retried"
        )),
        "{}",
        run.stderr
    );
    assert!(
        run.stderr.contains(&format!(
            "GetFunction for account {PROD} (us-east-1) could not get an answer from {url}: it accepted the \
             connection but sent no answer within 1s (the read timeout); tried up to 2 times"
        )),
        "{}",
        run.stderr
    );
    assert_eq!(proxy.count("GetFunction"), 2, "one retry, then the bound");
}

#[test]
fn credential_errors_of_get_caller_identity_keep_aws_s_code() {
    let mut w = World::new();
    w.write("ferry.toml", &support::hello_declarations("sts"));
    let proxy = Proxy::start(w.moto_addr());
    w.route_ferry_through(proxy.url());
    for (code, says) in [
        ("ExpiredToken", "the session token has expired"),
        ("Throttling", "STS is throttling"),
    ] {
        proxy.clear_rules();
        proxy.add_rule(Rule::new(
            Match::operation("sts", "GetCallerIdentity"),
            Fault::Aws {
                status: 400,
                code: code.into(),
                message: "The security token included in the request is expired".into(),
            },
        ));
        let run = w
            .ferry_with_env(&["plan"], &[("AWS_MAX_ATTEMPTS", "1")])
            .expect(1);
        assert!(
            run.stderr
                .contains(&format!("GetCallerIdentity failed: {code}: ")),
            "{}",
            run.stderr
        );
        assert!(run.stderr.contains(says), "{}", run.stderr);
        assert_no_debug(&run.stderr);
    }
    // A token that expires after the account was verified says so too.
    proxy.clear_rules();
    proxy.add_rule(Rule::new(
        Match::operation("ecr", "DescribeRepositories"),
        Fault::Aws {
            status: 400,
            code: "ExpiredTokenException".into(),
            message: "The security token included in the request is expired".into(),
        },
    ));
    let run = w.ferry(&["plan"]).expect(1);
    assert!(
        run.stderr.contains(
            "DescribeRepositories in account 111111111111 (us-east-1) failed: ExpiredTokenException: "
        ),
        "{}",
        run.stderr
    );
    assert!(
        run.stderr.contains("hint: the session token has expired"),
        "{}",
        run.stderr
    );
}

const SECRET: &str = "hunter2-never-print-me";

#[test]
fn a_damaged_answer_is_named_in_ferry_s_words_and_never_shows_its_body() {
    let mut w = support::hello_applied("damaged", &[PROD]);
    let text = format!(
        "{}{}environment = {{ DB_PASSWORD = \"{SECRET}\", LOG_LEVEL = \"info\" }}\nsensitive_environment = [\"DB_PASSWORD\"]\n",
        support::hello_declarations("damaged"),
        api_prod(),
    );
    w.write("ferry.toml", &text);
    w.ferry(&["apply", "--auto-approve"]).expect(0);
    let proxy = Proxy::start(w.moto_addr());
    w.route_ferry_through(proxy.url());
    let get_function = || Match::operation("lambda", "GetFunction").on("api-prod");
    let answers = [
        // The real answer (with the secret in its environment), cut short.
        Fault::CutShort(400),
        // An answer that is not the API's, holding the secret.
        Fault::Raw {
            status: 200,
            body: format!(
                "{{\"Configuration\": {{\"Environment\": {{\"Variables\": {{\"DB_PASSWORD\": \"{SECRET}\""
            ),
        },
        // An error page without an error code, holding the secret.
        Fault::Raw {
            status: 502,
            body: format!("<html>bad gateway {SECRET}</html>"),
        },
    ];
    for answer in answers {
        proxy.clear_rules();
        proxy.add_rule(Rule::new(get_function(), answer.clone()));
        let run = w
            .ferry_with_env(&["plan"], &[("AWS_MAX_ATTEMPTS", "1")])
            .expect(1);
        for stream in [&run.stdout, &run.stderr] {
            assert!(
                !stream.contains(SECRET),
                "{answer:?} leaked the secret:\n{stream}"
            );
            assert!(!stream.contains("hunter2"), "{answer:?}:\n{stream}");
        }
        assert!(
            run.stderr.contains(&format!(
                "GetFunction in account {PROD} (us-east-1): the answer was damaged or cut short"
            )),
            "{answer:?}:\n{}",
            run.stderr
        );
        assert_no_debug(&run.stderr);
    }
    assert!(proxy.count("GetFunction") >= 3);
    proxy.clear_rules();
    w.ferry(&["plan", "--detailed-exitcode"]).expect(0);
}

#[test]
fn a_create_function_that_stays_denied_says_how_long_and_what_else_to_check() {
    let mut w = support::hello_applied("denied", &[PROD, STAGING]);
    let proxy = Proxy::start(w.moto_addr());
    w.route_ferry_through(proxy.url());
    proxy.add_rule(Rule::new(
        Match::operation("lambda", "CreateFunction"),
        Fault::lambda_ecr_access_denied(),
    ));
    w.write(
        "ferry.toml",
        &format!(
            "{}{}{}",
            support::hello_declarations("denied"),
            api_prod(),
            api_staging()
        ),
    );
    // ferry check's verdict says what it does not see.
    let check = w.ferry(&["check"]).expect(0);
    assert!(
        check.stdout.contains(
            "allowed by the repository policy; not checked: the consumer account's SCPs and permissions boundaries, \
             the repository's KMS key policy"
        ),
        "{}",
        check.stdout
    );
    assert!(check.stdout.contains("execution role"), "{}", check.stdout);
    let run = w
        .ferry(&["apply", "--auto-approve", "--propagation-timeout", "2"])
        .expect(1);
    assert!(
        run.stderr.contains("apply failed and was rolled back"),
        "{}",
        run.stderr
    );
    assert!(
        run.stderr.contains(" (still refused after retrying for ")
            && run
                .stderr
                .contains(" attempts, while permissions propagate)"),
        "{}",
        run.stderr
    );
    for cause in [
        "service control policies (SCPs) and permissions boundaries",
        "permissions boundaries",
        "KMS key policy",
        "that the image still exists",
        "the function's execution role",
        "`ferry check` judges the repository policy",
    ] {
        assert!(run.stderr.contains(cause), "{cause}:\n{}", run.stderr);
    }
    assert!(run.stderr.contains("\nhint: "), "{}", run.stderr);
    assert_no_debug(&run.stderr);
}

#[test]
fn the_debug_grep_catches_the_dumps_of_the_issue_and_nothing_else() {
    let dump = "Caused by: dispatch failure: DispatchFailure(DispatchFailure { source: ConnectorError { kind: Io, source: hyper::Error(Connect) } })";
    assert!(support::debug_struct(dump).is_some());
    assert!(
        support::debug_struct("ServiceError { source: X, raw: Response { status: 200 } }")
            .is_some()
    );
    assert!(
        support::debug_struct("ProviderError(ProviderError { source: FailedToLoadToken").is_some()
    );
    // A diagnostic's snippet of an inline table, a JSON policy, words with a colon.
    assert!(support::debug_struct("8 │ environment = { LOG_LEVEL = \"info\" }").is_none());
    assert!(support::debug_struct("{ \"Sid\": \"x\" }").is_none());
    assert!(
        support::debug_struct("error: refreshing live state failed\n  Caused by: GetFunction in account 1 (us-east-1): the answer was damaged").is_none()
    );
}
