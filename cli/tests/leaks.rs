//! Credential leaks: every `portkey` command runs with recognisable fake AWS credentials, debug
//! verbosity (`-vv`) and `PORTKEY_LOG=trace`, and the test searches everything the commands leave
//! behind for those credentials and for signed-request fragments. It covers the AWS commands
//! against moto's server on 127.0.0.1 (mount, ls, invoke, unmount, policy) and the local ones
//! (shake, mount, a request through the local gateway, why, down, up). Searched are stdout and
//! stderr of each command, the project file, the AWS call log, and every file under the fixture's
//! `target/portkey/` except cargo's build folder: images, shake reports, shims and the local
//! backend's `server.log`.

mod support;
#[path = "support/moto.rs"]
mod moto;

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use moto::Moto;

/// Fake credentials that cannot occur by chance in any output. The secret and the token contain
/// `/` and `+`, so their percent-encoded forms are searched too.
const ACCESS_KEY_ID: &str = "AKIAPKLEAKCANARY7Q3Z";
const SECRET_ACCESS_KEY: &str = "pkLeakCanarySecret/9f4e2b7c1d8a3e6f+0b5c9d2a7e4f1";
const SESSION_TOKEN: &str = "pkLeakCanarySessionToken/3c8e1f7a9b2d+6e4f0a5c9b7d2e8f1a";

/// Fragments of SigV4-signed requests and presigned URLs: none may reach an output either. The
/// SDK's trace log prints canonical requests with the `x-amz-security-token` header's value
/// redacted, so the header name alone is no leak; its value is searched for as `SESSION_TOKEN`.
const SIGNED_FRAGMENTS: &[&str] = &[
    "X-Amz-Signature=",
    "X-Amz-Credential=",
    "X-Amz-Security-Token=",
    "Signature=",
    "Credential=",
];

/// Every string whose presence in an output is a leak.
fn forbidden() -> Vec<String> {
    let mut strings = Vec::new();
    for secret in [ACCESS_KEY_ID, SECRET_ACCESS_KEY, SESSION_TOKEN] {
        strings.push(secret.to_string());
        strings.push(secret.replace('/', "%2F").replace('+', "%2B"));
        // A distinctive part alone, in case an output cuts or wraps the value.
        strings.push(secret[..20].to_string());
    }
    strings.extend(SIGNED_FRAGMENTS.iter().map(|fragment| fragment.to_string()));
    strings
}

/// One searched text: where it came from, and its bytes.
struct Artifact {
    origin: String,
    bytes: Vec<u8>,
}

struct Session<'a> {
    moto: &'a Moto,
    manifest: PathBuf,
    fixture_target: PathBuf,
    call_log: PathBuf,
    artifacts: Vec<Artifact>,
}

impl Session<'_> {
    /// Runs `portkey -vv <args> --manifest-path <fixture>` with the fake credentials and keeps its
    /// output for the search.
    fn portkey(&mut self, args: &[&str]) -> Output {
        let mut command = Command::new(env!("CARGO_BIN_EXE_portkey"));
        command.arg("-vv").args(args);
        // `policy` reads no project, so it takes no manifest.
        if args.first() != Some(&"policy") {
            command.arg("--manifest-path").arg(&self.manifest);
        }
        for (key, value) in self.moto.env() {
            command.env(key, value);
        }
        command
            .env("AWS_ACCESS_KEY_ID", ACCESS_KEY_ID)
            .env("AWS_SECRET_ACCESS_KEY", SECRET_ACCESS_KEY)
            .env("AWS_SESSION_TOKEN", SESSION_TOKEN)
            .env("PORTKEY_LOG", "trace")
            .env("PORTKEY_AWS_CALL_LOG", &self.call_log)
            .env("CARGO_TARGET_DIR", &self.fixture_target);
        let output = command.output().expect("the portkey executable runs");
        let label = format!("portkey {}", args.join(" "));
        self.artifacts.push(Artifact {
            origin: format!("stdout of `{label}`"),
            bytes: output.stdout.clone(),
        });
        self.artifacts.push(Artifact {
            origin: format!("stderr of `{label}`"),
            bytes: output.stderr.clone(),
        });
        output
    }

    fn portkey_ok(&mut self, args: &[&str]) -> Output {
        let output = self.portkey(args);
        assert!(
            output.status.success(),
            "portkey {args:?} failed:\n{}\n{}",
            String::from_utf8_lossy(&output.stdout),
            String::from_utf8_lossy(&output.stderr)
        );
        output
    }

    /// Adds every file under `folder` to the search, skipping the folders named in `skip`.
    fn collect_files(&mut self, folder: &Path, skip: &[&str]) {
        let Ok(entries) = std::fs::read_dir(folder) else { return };
        for entry in entries.flatten() {
            let path = entry.path();
            let name = entry.file_name().to_string_lossy().into_owned();
            let Ok(kind) = entry.file_type() else { continue };
            if kind.is_dir() {
                if !skip.contains(&name.as_str()) {
                    self.collect_files(&path, skip);
                }
                continue;
            }
            if let Ok(bytes) = std::fs::read(&path) {
                self.artifacts.push(Artifact {
                    origin: path.display().to_string(),
                    bytes,
                });
            }
        }
    }
}

fn url_line(output: &Output) -> String {
    let stdout = String::from_utf8_lossy(&output.stdout);
    stdout
        .lines()
        .find_map(|line| line.strip_prefix("url: "))
        .map(str::to_string)
        .unwrap_or_else(|| panic!("no url line in:\n{stdout}\n{}", String::from_utf8_lossy(&output.stderr)))
}

/// Stops the local backend when the test ends, pass or fail.
struct LocalBackend<'a> {
    manifest: &'a Path,
    fixture_target: &'a Path,
}

impl Drop for LocalBackend<'_> {
    fn drop(&mut self) {
        let _ = Command::new(env!("CARGO_BIN_EXE_portkey"))
            .arg("down")
            .arg("--manifest-path")
            .arg(self.manifest)
            .env("CARGO_TARGET_DIR", self.fixture_target)
            .output();
    }
}

#[test]
fn no_command_leaks_credentials() {
    let moto = Moto::start();
    let manifest = support::fixture_copy("hello", "leaks-hello");
    let root = manifest.parent().unwrap().to_path_buf();
    let _ = std::fs::remove_file(root.join("portkey.json"));
    let fixture_target = root.join("target");
    let call_log = root.join("calls.log");
    let _ = std::fs::remove_file(&call_log);
    // Files left by an earlier run would be searched as if this run had written them.
    let portkey_dir = fixture_target.join("portkey");
    for stale in ["local", "images"] {
        let _ = std::fs::remove_dir_all(portkey_dir.join(stale));
    }
    let _backend = LocalBackend {
        manifest: &manifest,
        fixture_target: &fixture_target,
    };
    let mut session = Session {
        moto: &moto,
        manifest: manifest.clone(),
        fixture_target: fixture_target.clone(),
        call_log: call_log.clone(),
        artifacts: Vec::new(),
    };

    // AWS: deploy, list, invoke, remove. moto cannot run a `provided.al2023` function without
    // Docker, so `invoke` may fail; it must still have made the call, with the credentials.
    let mounted = session.portkey_ok(&["mount", "hello::flatter", "/hello?name={name}", "--target", "aws"]);
    assert!(url_line(&mounted).contains("execute-api"), "{}", url_line(&mounted));
    session.portkey_ok(&["mount", "hello::shout", "/shout?text={text}", "--target", "aws", "--function-url"]);
    session.portkey_ok(&["ls", "--target", "aws"]);
    session.portkey_ok(&["ls", "--target", "aws", "--json"]);
    session.portkey(&["invoke", "/hello?name=Ada", "--target", "aws"]);
    session.portkey_ok(&["unmount", "hello::flatter", "--target", "aws"]);
    session.portkey_ok(&["unmount", "hello::shout", "--target", "aws"]);
    session.portkey_ok(&["policy"]);
    // A failing AWS command prints an error: it must not quote the credentials either.
    session.portkey(&["unmount", "hello::nope", "--target", "aws"]);

    let calls = std::fs::read_to_string(&call_log).expect("the AWS call log was written");
    for expected in ["Lambda:CreateFunction", "Lambda:Invoke", "Lambda:DeleteFunction", "S3:PutObject"] {
        assert!(calls.lines().any(|line| line == expected), "{expected} missing from the call log:\n{calls}");
    }

    // Local: shake, mount, one request through the gateway, why, down, up, down.
    session.portkey_ok(&["shake", "--fn", "hello::flatter", "--json"]);
    session.portkey_ok(&["shake", "--fn", "hello::flatter"]);
    let local = session.portkey_ok(&["mount", "hello::flatter", "/hello?name={name}"]);
    let url = url_line(&local).replace("{name}", "Ada");
    let answer = Command::new("curl").args(["-sS", "--max-time", "30", &url]).output().expect("curl runs");
    assert_eq!(String::from_utf8_lossy(&answer.stdout), "Ada is a delight to work with");
    session.portkey_ok(&["ls"]);
    session.portkey_ok(&["why", "hello::flatter", "--fn", "hello::flatter"]);
    session.portkey_ok(&["down"]);
    session.portkey_ok(&["up"]);
    session.portkey_ok(&["down"]);

    session.collect_files(&root, &["target", "src"]);
    session.collect_files(&portkey_dir, &["build"]);
    let server_log = portkey_dir.join("local").join("server.log");
    assert!(
        session.artifacts.iter().any(|artifact| Path::new(&artifact.origin) == server_log),
        "the local backend's log {} was not found",
        server_log.display()
    );
    assert!(
        session.artifacts.iter().any(|artifact| artifact.origin.ends_with("portkey.json")),
        "the project file was not found"
    );
    assert!(session.artifacts.len() > 30, "too few outputs searched: {}", session.artifacts.len());

    // The search must find the credentials where they are: a self-check of the matcher.
    let canary = Artifact {
        origin: "canary".into(),
        bytes: format!("x-amz-security-token:{}", SESSION_TOKEN.replace('/', "%2F")).into_bytes(),
    };
    assert!(!leaks_in(&canary).is_empty(), "the leak search misses an encoded token");

    let mut leaks = Vec::new();
    for artifact in &session.artifacts {
        leaks.extend(leaks_in(artifact));
    }
    assert!(leaks.is_empty(), "credentials or signed-request fragments leaked:\n{}", leaks.join("\n"));
}

/// Returns one line per forbidden string found in `artifact`, with the text around it.
fn leaks_in(artifact: &Artifact) -> Vec<String> {
    let mut found = Vec::new();
    for needle in forbidden() {
        let needle_bytes = needle.as_bytes();
        let Some(at) = artifact.bytes.windows(needle_bytes.len()).position(|window| window == needle_bytes) else {
            continue;
        };
        let start = at.saturating_sub(80);
        let end = (at + needle_bytes.len() + 80).min(artifact.bytes.len());
        let context = String::from_utf8_lossy(&artifact.bytes[start..end]).replace('\n', "\\n");
        found.push(format!("{needle:?} in {}: ...{context}...", artifact.origin));
    }
    found
}
