//! Support for end-to-end tests: a moto server per test on 127.0.0.1, the real `ferry` binary,
//! and `scripts/moto_admin.py` (boto3) as the independent client that pushes images, creates
//! roles and reads back what ferry did.
#![allow(dead_code)]

pub mod fixtures;

use std::fs::File;
use std::net::{TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::sync::OnceLock;
use std::time::{Duration, Instant};

pub fn repo_root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// The venv with moto and boto3, created by scripts/setup-env.sh on first use (serialised
/// across test processes with a file lock).
pub fn venv() -> PathBuf {
    static VENV: OnceLock<PathBuf> = OnceLock::new();
    VENV.get_or_init(|| {
        let root = repo_root();
        let lock = File::create(std::env::temp_dir().join("ferry-setup-env.lock"))
            .expect("create the setup lock file");
        lock.lock().expect("lock the setup lock file");
        let status = Command::new("bash")
            .arg(root.join("scripts/setup-env.sh"))
            .status()
            .expect("run scripts/setup-env.sh");
        assert!(
            status.success(),
            "scripts/setup-env.sh failed: cannot install moto"
        );
        root.join(".venv")
    })
    .clone()
}

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("a free port on 127.0.0.1")
}

/// A moto server on loopback, stopped when dropped.
pub struct Moto {
    child: Child,
    pub port: u16,
}

impl Moto {
    pub fn start() -> Moto {
        let venv = venv();
        let port = free_port();
        let log = File::create(std::env::temp_dir().join(format!("ferry-moto-{port}.log")))
            .expect("moto log file");
        let child = Command::new(venv.join("bin/moto_server"))
            .args(["-H", "127.0.0.1", "-p", &port.to_string()])
            .stdout(Stdio::null())
            .stderr(log)
            .spawn()
            .expect("start moto_server");
        let deadline = Instant::now() + Duration::from_secs(60);
        while TcpStream::connect(("127.0.0.1", port)).is_err() {
            assert!(
                Instant::now() < deadline,
                "moto did not start on port {port}"
            );
            std::thread::sleep(Duration::from_millis(100));
        }
        Moto { child, port }
    }

    pub fn url(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }
}

impl Drop for Moto {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// The result of one command.
pub struct Run {
    pub code: i32,
    pub stdout: String,
    pub stderr: String,
}

impl Run {
    fn from(o: Output) -> Run {
        Run {
            code: o.status.code().unwrap_or(-1),
            stdout: String::from_utf8_lossy(&o.stdout).to_string(),
            stderr: String::from_utf8_lossy(&o.stderr).to_string(),
        }
    }

    /// Panics with both streams unless the exit code is `code`. Every error a test provokes
    /// (exit 1) is also checked for Debug dumps in place of words ([`assert_no_debug`]).
    pub fn expect(self, code: i32) -> Run {
        assert_eq!(
            self.code, code,
            "expected exit {code}, got {}\n--- stdout\n{}\n--- stderr\n{}",
            self.code, self.stdout, self.stderr
        );
        if code == 1 {
            assert_no_debug(&self.stderr);
        }
        self
    }
}

/// One test's world: a moto server and a working directory for declarations and state.
pub struct World {
    pub moto: Option<Moto>,
    pub dir: tempfile::TempDir,
    /// Where ferry's requests go (moto, or a fault proxy in front of it).
    endpoint: String,
    /// Where the independent client's requests go (always moto itself).
    admin_endpoint: String,
}

impl World {
    pub fn new() -> World {
        let moto = Moto::start();
        let endpoint = moto.url();
        World {
            moto: Some(moto),
            dir: tempfile::tempdir().expect("temp dir"),
            admin_endpoint: endpoint.clone(),
            endpoint,
        }
    }

    /// Sends ferry's requests through `url` (a fault proxy); the independent client still
    /// talks to moto directly.
    pub fn route_ferry_through(&mut self, url: String) {
        self.endpoint = url;
    }

    /// moto's address, for a proxy to forward to.
    pub fn moto_addr(&self) -> std::net::SocketAddr {
        let port = self.moto.as_ref().expect("a world with moto").port;
        std::net::SocketAddr::from(([127, 0, 0, 1], port))
    }

    /// A world with no emulator: the endpoint is a closed port, so any AWS call fails.
    pub fn offline() -> World {
        let endpoint = format!("http://127.0.0.1:{}", free_port());
        World {
            moto: None,
            dir: tempfile::tempdir().expect("temp dir"),
            admin_endpoint: endpoint.clone(),
            endpoint,
        }
    }

    pub fn path(&self, name: &str) -> PathBuf {
        self.dir.path().join(name)
    }

    pub fn write(&self, name: &str, text: &str) {
        let p = self.path(name);
        if let Some(parent) = p.parent() {
            std::fs::create_dir_all(parent).expect("create dirs");
        }
        std::fs::write(p, text).expect("write declarations");
    }

    fn env(&self, cmd: &mut Command) {
        self.env_to(cmd, &self.endpoint);
    }

    fn env_to(&self, cmd: &mut Command, endpoint: &str) {
        // Empty AWS config files: only the variables below count.
        for f in ["no-aws-config", "no-aws-credentials"] {
            if !self.path(f).exists() {
                std::fs::write(self.path(f), "").expect("write an empty AWS config file");
            }
        }
        cmd.current_dir(self.dir.path())
            .env("AWS_ENDPOINT_URL", endpoint)
            .env("AWS_ACCESS_KEY_ID", "testing")
            .env("AWS_SECRET_ACCESS_KEY", "testing")
            .env("AWS_REGION", "us-east-1")
            .env("AWS_CONFIG_FILE", self.path("no-aws-config"))
            .env(
                "AWS_SHARED_CREDENTIALS_FILE",
                self.path("no-aws-credentials"),
            )
            .env("AWS_EC2_METADATA_DISABLED", "true")
            .env("NO_COLOR", "1")
            .env_remove("AWS_PROFILE")
            .env_remove("AWS_SESSION_TOKEN")
            .env_remove("FERRY_STATE")
            // A pipeline's own CI variable would turn every prompt of the tests into a refusal.
            .env_remove("CI")
            .stdin(Stdio::null());
    }

    /// Runs the real ferry binary in the world's directory.
    pub fn ferry(&self, args: &[&str]) -> Run {
        let mut cmd = Command::new(env!("CARGO_BIN_EXE_ferry"));
        self.env(&mut cmd);
        cmd.args(args);
        Run::from(cmd.output().expect("run ferry"))
    }

    /// Runs ferry with extra environment variables.
    pub fn ferry_with_env(&self, args: &[&str], vars: &[(&str, &str)]) -> Run {
        let mut cmd = Command::new(env!("CARGO_BIN_EXE_ferry"));
        self.env(&mut cmd);
        cmd.args(args);
        for (k, v) in vars {
            cmd.env(k, v);
        }
        Run::from(cmd.output().expect("run ferry"))
    }

    /// Runs ferry on a pseudo-terminal (util-linux `script`); stdout and stderr arrive merged.
    pub fn ferry_in_terminal(&self, args: &[&str]) -> Run {
        self.ferry_in_terminal_typing(args, "")
    }

    /// The same, typing `input` at ferry's prompt.
    pub fn ferry_in_terminal_typing(&self, args: &[&str], input: &str) -> Run {
        self.terminal(args, input, |_| {})
    }

    /// On a pseudo-terminal without the `NO_COLOR` the other runs get: colour is wanted.
    pub fn ferry_in_colour_terminal(&self, args: &[&str]) -> Run {
        self.terminal(args, "", |cmd| {
            cmd.env_remove("NO_COLOR");
        })
    }

    /// On a pseudo-terminal with extra environment variables, typing `input`.
    pub fn ferry_in_terminal_with_env(
        &self,
        args: &[&str],
        input: &str,
        vars: &[(&str, &str)],
    ) -> Run {
        self.terminal(args, input, |cmd| {
            for (k, v) in vars {
                cmd.env(k, v);
            }
        })
    }

    fn terminal(&self, args: &[&str], input: &str, adjust: impl FnOnce(&mut Command)) -> Run {
        let line = std::iter::once(env!("CARGO_BIN_EXE_ferry"))
            .chain(args.iter().copied())
            .map(|a| format!("'{a}'"))
            .collect::<Vec<_>>()
            .join(" ");
        let mut cmd = Command::new("script");
        self.env(&mut cmd);
        adjust(&mut cmd);
        cmd.args(["-q", "-e", "-c", &line, "/dev/null"])
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        let mut child = cmd.spawn().expect("run script");
        if let Some(mut stdin) = child.stdin.take() {
            use std::io::Write;
            // Typed once the prompt is up; the terminal buffers it until ferry reads.
            let _ = stdin.write_all(input.as_bytes());
        }
        Run::from(child.wait_with_output().expect("wait for script"))
    }

    /// Starts ferry in the background; its stderr goes to `stderr_file` in the world's directory.
    pub fn spawn_ferry(&self, args: &[&str], stderr_file: &str) -> Child {
        let mut cmd = Command::new(env!("CARGO_BIN_EXE_ferry"));
        self.env(&mut cmd);
        cmd.args(args)
            .stdout(Stdio::null())
            .stderr(File::create(self.path(stderr_file)).expect("stderr file"));
        cmd.spawn().expect("spawn ferry")
    }

    /// Waits until `file` in the world's directory contains `text` (at most 60 s).
    pub fn wait_for(&self, file: &str, text: &str) {
        let deadline = Instant::now() + Duration::from_secs(60);
        loop {
            if std::fs::read_to_string(self.path(file)).is_ok_and(|s| s.contains(text)) {
                return;
            }
            assert!(
                Instant::now() < deadline,
                "`{text}` never appeared in {file}: {}",
                std::fs::read_to_string(self.path(file)).unwrap_or_default()
            );
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    /// Runs scripts/moto_admin.py (boto3) inside `account`; returns its JSON answer.
    pub fn admin(&self, command: &str, account: &str, args: &[&str]) -> serde_json::Value {
        let mut cmd = Command::new(venv().join("bin/python"));
        self.env_to(&mut cmd, &self.admin_endpoint);
        cmd.arg(repo_root().join("scripts/moto_admin.py"))
            .arg(command)
            .arg(account)
            .args(args);
        let run = Run::from(cmd.output().expect("run moto_admin.py")).expect(0);
        serde_json::from_str(&run.stdout).unwrap_or_else(|e| {
            panic!(
                "moto_admin.py {command} printed no JSON ({e}): {}",
                run.stdout
            )
        })
    }
}

impl World {
    /// Validates a JSON document against a JSON Schema with Python's jsonschema.
    pub fn validate_json(&self, document: &str, schema: &Path) -> Result<(), String> {
        let doc = self.path("document.json");
        std::fs::write(&doc, document).expect("write the document");
        let mut cmd = Command::new(venv().join("bin/python"));
        self.env(&mut cmd);
        cmd.args([
            "-c",
            "import json, sys, jsonschema; jsonschema.validate(json.load(open(sys.argv[1])), json.load(open(sys.argv[2])))",
        ])
        .arg(&doc)
        .arg(schema);
        let run = Run::from(cmd.output().expect("run python"));
        if run.code == 0 {
            Ok(())
        } else {
            Err(run.stderr)
        }
    }

    /// Every file under the world's directory, as bytes (for greps of what ferry wrote).
    pub fn all_files(&self) -> Vec<(PathBuf, Vec<u8>)> {
        fn walk(dir: &Path, out: &mut Vec<(PathBuf, Vec<u8>)>) {
            for e in std::fs::read_dir(dir).into_iter().flatten().flatten() {
                let p = e.path();
                if p.is_dir() {
                    walk(&p, out);
                } else if let Ok(bytes) = std::fs::read(&p) {
                    out.push((p, bytes));
                }
            }
        }
        let mut out = Vec::new();
        walk(self.dir.path(), &mut out);
        out
    }
}

/// The accounts the end-to-end tests use: a registry and two consumers.
pub const REGISTRY: &str = "111111111111";
pub const PROD: &str = "222222222222";
pub const STAGING: &str = "333333333333";

/// `[project]` (assuming FerryDeployer in every account, which moto maps to that account), the
/// three accounts, and the registry `central` in us-east-1.
pub fn declarations_head(project: &str) -> String {
    format!(
        r#"[project]
name = "{project}"
default_region = "us-east-1"
assume_role = "arn:aws:iam::{{account_id}}:role/FerryDeployer"

[accounts.registry]
id = "{REGISTRY}"

[accounts.prod]
id = "{PROD}"

[accounts.staging]
id = "{STAGING}"

[registries.central]
account = "registry"
"#
    )
}

/// A `[functions.KEY]` table.
pub fn function(key: &str, account: &str, id: &str, image: &str, role: &str) -> String {
    format!(
        "\n[functions.{key}]\naccount = \"{account}\"\nimage = \"{image}\"\nrole = \"arn:aws:iam::{id}:role/{role}\"\n"
    )
}

/// `declarations_head(project)` with the repository `hello` and its image `hello:01`.
pub fn hello_declarations(project: &str) -> String {
    format!(
        "{}\n[repositories.hello]\nregistry = \"central\"\n\n[images.hello]\nrepository = \"hello\"\ntag = \"01\"\n",
        declarations_head(project)
    )
}

/// A world where `hello` (holding an image) and the function `api-prod` are applied, in two
/// phases; the execution role LambdaRole exists in each account of `roles`.
pub fn hello_applied(project: &str, roles: &[&str]) -> World {
    let w = World::new();
    for id in roles {
        w.admin("role", id, &["LambdaRole"]);
    }
    let full = hello_declarations(project);
    let repo_only = full.replace("[images.hello]\nrepository = \"hello\"\ntag = \"01\"\n", "");
    w.write("ferry.toml", &repo_only);
    w.ferry(&["apply", "--auto-approve"]).expect(0);
    w.admin("push", REGISTRY, &["hello", "01", "v1"]);
    w.write(
        "ferry.toml",
        &format!(
            "{full}{}",
            function("api-prod", "prod", PROD, "hello", "LambdaRole")
        ),
    );
    w.ferry(&["apply", "--auto-approve"]).expect(0);
    w
}

/// Everything an independent client sees of `hello` and the functions in the three accounts.
pub fn cloud_snapshot(w: &World) -> serde_json::Value {
    serde_json::json!({
        "repos": w.admin("repos", REGISTRY, &[]),
        "policy": w.admin("policy", REGISTRY, &["hello"]),
        "prod": w.admin("functions", PROD, &[]),
        "staging": w.admin("functions", STAGING, &[]),
    })
}

pub fn read(path: &Path) -> String {
    std::fs::read_to_string(path).expect("read file")
}

impl World {
    /// The ferry command as [`World::ferry`] runs it, to wire its streams by hand.
    pub fn ferry_command(&self, args: &[&str]) -> Command {
        let mut cmd = Command::new(env!("CARGO_BIN_EXE_ferry"));
        self.env(&mut cmd);
        cmd.args(args);
        cmd
    }
}

/// Panics if `text` (an error ferry printed) holds a Rust Debug dump or the SDK's internals
/// instead of words: `Name { field: ... }`, `Name(Name {`, `DispatchFailure(`, a raw body.
pub fn assert_no_debug(text: &str) {
    for pattern in [
        "DispatchFailure(",
        "ServiceError {",
        "ConnectorError",
        "Response {",
        "SdkBody",
        "raw: ",
        "panicked",
    ] {
        assert!(
            !text.contains(pattern),
            "the SDK's internals (`{pattern}`) where words belong:\n{text}"
        );
    }
    if let Some(at) = debug_struct(text) {
        panic!("a Debug dump (`{at}`) where words belong:\n{text}");
    }
}

/// The first `Name { field:` (a Debug-printed struct) or `Name(Name` in `text`. A TOML inline
/// table in a diagnostic's snippet (`{ KEY = "v" }`) is not one.
pub fn debug_struct(text: &str) -> Option<String> {
    let ident = |s: &str| {
        let s = s.trim_end_matches(|c: char| c.is_ascii_alphanumeric() || c == '_');
        s.len()
    };
    for (i, _) in text.match_indices("{ ") {
        let before = &text[..i];
        let Some(name) = before.strip_suffix(' ') else {
            continue;
        };
        let start = ident(name);
        let word = &name[start..];
        let after = &text[i + 2..];
        let field_len = after
            .find(|c: char| !(c.is_ascii_alphanumeric() || c == '_'))
            .unwrap_or(after.len());
        if word.starts_with(|c: char| c.is_ascii_uppercase())
            && field_len > 0
            && after[field_len..].starts_with(": ")
        {
            return Some(format!("{word} {{ {}", &after[..field_len + 1]));
        }
    }
    text.match_indices('(').find_map(|(i, _)| {
        let before = &text[..i];
        let word = &before[ident(before)..];
        let after = &text[i + 1..];
        let next = &after[..after
            .find(|c: char| !c.is_ascii_alphanumeric())
            .unwrap_or(after.len())];
        (!word.is_empty()
            && word == next
            && word.starts_with(|c: char| c.is_ascii_uppercase())
            && after[next.len()..].starts_with(" {"))
        .then(|| format!("{word}({next} {{"))
    })
}
