//! `portkey dev` end to end: two functions of the `devloop` fixture are mounted, `portkey dev`
//! runs in the background with `--json`, and the test edits sources and reads one JSON line per
//! rebuild. Editing what only the first function reaches redeploys the first only. Editing what
//! neither reaches redeploys nothing, and editing the shared helper redeploys both. A syntax
//! error leaves the previous version serving and shows the error. A mount made while `dev` runs
//! joins it.

mod support;
#[path = "support/moto.rs"]
mod moto;

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, ChildStdout, Command, Stdio};
use std::sync::mpsc::{Receiver, channel};
use std::time::Duration;

use serde_json::Value;

fn portkey(manifest: &Path, args: &[&str]) -> String {
    let output = Command::new(env!("CARGO_BIN_EXE_portkey"))
        .args(args)
        .arg("--manifest-path")
        .arg(manifest)
        .output()
        .expect("portkey runs");
    assert!(output.status.success(), "portkey {args:?}: {}", String::from_utf8_lossy(&output.stderr));
    String::from_utf8_lossy(&output.stdout).into_owned()
}

fn get(url: &str) -> (u16, String) {
    let output = Command::new("curl").args(["-sS", "-w", "\n%{http_code}", url]).output().expect("curl runs");
    let text = String::from_utf8_lossy(&output.stdout).into_owned();
    let (body, status) = text.rsplit_once('\n').expect("a status line");
    (status.trim().parse().unwrap_or(0), body.to_string())
}

struct Dev {
    child: Child,
    lines: Receiver<String>,
}

impl Dev {
    fn start(manifest: &Path) -> Dev {
        Dev::start_with(manifest, &[], &[])
    }

    fn start_with(manifest: &Path, args: &[&str], env: &[(&'static str, String)]) -> Dev {
        let mut child = Command::new(env!("CARGO_BIN_EXE_portkey"))
            .args(["dev", "--json", "--manifest-path"])
            .arg(manifest)
            .args(args)
            .envs(env.iter().map(|(key, value)| (*key, value.as_str())))
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .expect("portkey dev starts");
        let stdout: ChildStdout = child.stdout.take().unwrap();
        let (sender, lines) = channel();
        std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines().map_while(Result::ok) {
                if sender.send(line).is_err() {
                    return;
                }
            }
        });
        Dev { child, lines }
    }

    /// Waits for the next rebuild's report.
    fn next_cycle(&self) -> Value {
        let line = self
            .lines
            .recv_timeout(Duration::from_secs(600))
            .expect("portkey dev reports a rebuild within 10 minutes");
        serde_json::from_str(&line).unwrap_or_else(|error| panic!("not JSON ({error}): {line}"))
    }
}

impl Drop for Dev {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn names(cycle: &Value, field: &str) -> Vec<String> {
    let mut names: Vec<String> = cycle[field]
        .as_array()
        .unwrap_or(&Vec::new())
        .iter()
        .map(|entry| entry.as_str().map(str::to_string).unwrap_or_else(|| entry["function"].as_str().unwrap_or_default().to_string()))
        .collect();
    names.sort();
    names
}

fn edit(file: &PathBuf, from: &str, to: &str) {
    let text = std::fs::read_to_string(file).unwrap();
    assert!(text.contains(from), "`{from}` is not in {}", file.display());
    std::fs::write(file, text.replace(from, to)).unwrap();
}

#[test]
fn dev_redeploys_exactly_the_mounts_whose_kept_code_changed() {
    let manifest = support::fixture_copy("devloop", "dev-devloop");
    let _fixture = support::Fixture::take(manifest.clone());
    let lib = manifest.with_file_name("src").join("lib.rs");

    let first_url = portkey(&manifest, &["mount", "devloop::first", "/first?name={name}"])
        .trim()
        .trim_start_matches("url: ")
        .replace("{name}", "Ada");
    let second_url = portkey(&manifest, &["mount", "devloop::second", "/second?name={name}"])
        .trim()
        .trim_start_matches("url: ")
        .replace("{name}", "Ada");
    assert_eq!(get(&first_url), (200, "first-v1 [shared-v1 Ada]".to_string()));

    let dev = Dev::start(&manifest);
    let initial = dev.next_cycle();
    assert_eq!(names(&initial, "redeployed"), Vec::<String>::new(), "{initial}");
    assert_eq!(names(&initial, "unchanged"), ["devloop::first", "devloop::second"], "{initial}");

    // Only the first function reaches `only_first`.
    edit(&lib, "first-v1", "first-v2");
    let cycle = dev.next_cycle();
    assert_eq!(names(&cycle, "redeployed"), ["devloop::first"], "{cycle}");
    assert_eq!(names(&cycle, "unchanged"), ["devloop::second"], "{cycle}");
    // The edit keeps the function's size, so only its IR hash shows that it changed.
    let differ = &cycle["redeployed"][0]["functions_differ"];
    assert!(differ.as_array().unwrap().iter().any(|name| name == "devloop::only_first"), "{cycle}");
    assert_eq!(get(&first_url), (200, "first-v2 [shared-v1 Ada]".to_string()));

    // Neither reaches `unused`.
    edit(&lib, "unused-v1", "unused-v2");
    let cycle = dev.next_cycle();
    assert_eq!(names(&cycle, "redeployed"), Vec::<String>::new(), "{cycle}");
    assert_eq!(names(&cycle, "unchanged"), ["devloop::first", "devloop::second"], "{cycle}");

    // Both reach `shared`.
    edit(&lib, "shared-v1", "shared-v2");
    let cycle = dev.next_cycle();
    assert_eq!(names(&cycle, "redeployed"), ["devloop::first", "devloop::second"], "{cycle}");
    assert_eq!(get(&second_url), (200, "second [shared-v2 Ada]".to_string()));

    // Two saves in quick succession: the second arrives during the first's build, which
    // restarts, so one rebuild serves the final text.
    edit(&lib, "first-v2", "first-v3");
    std::thread::sleep(Duration::from_millis(1500));
    edit(&lib, "first-v3", "first-v4");
    let cycle = dev.next_cycle();
    assert_eq!(names(&cycle, "redeployed"), ["devloop::first"], "{cycle}");
    assert_eq!(get(&first_url), (200, "first-v4 [shared-v2 Ada]".to_string()));

    // A mount made while `portkey dev` runs joins it: dev builds it alone, finds the code the
    // mount command deployed, and from then on redeploys it when what it reaches changes.
    let unused_url = portkey(&manifest, &["mount", "devloop::unused", "/unused"]).trim().trim_start_matches("url: ").to_string();
    let cycle = dev.next_cycle();
    assert_eq!(names(&cycle, "unchanged"), ["devloop::unused"], "{cycle}");
    assert_eq!(names(&cycle, "redeployed"), Vec::<String>::new(), "{cycle}");
    edit(&lib, "unused-v2", "unused-v3");
    let cycle = dev.next_cycle();
    assert_eq!(names(&cycle, "redeployed"), ["devloop::unused"], "{cycle}");
    assert_eq!(names(&cycle, "unchanged"), ["devloop::first", "devloop::second"], "{cycle}");
    assert_eq!(get(&unused_url), (200, "unused-v3".to_string()));

    // A syntax error: the compiler's message is reported and the previous version keeps serving.
    edit(&lib, "fn unused() -> String {", "fn unused() -> String { let broken = ;");
    let cycle = dev.next_cycle();
    assert_eq!(names(&cycle, "failed"), ["devloop::first", "devloop::second", "devloop::unused"], "{cycle}");
    let error = cycle["failed"][0]["error"].as_str().unwrap();
    assert!(error.contains("expected an expression") || error.contains("expected expression"), "{error}");
    assert!(error.contains("src/lib.rs"), "{error}");
    assert_eq!(get(&first_url), (200, "first-v4 [shared-v2 Ada]".to_string()));
}

#[test]
fn dev_with_aws_target_updates_the_deployed_code() {
    let moto = moto::Moto::start();
    let env = moto.env();
    let manifest = support::fixture_copy("devloop", "dev-devloop-aws");
    let _fixture = support::Fixture::take(manifest.clone());
    let lib = manifest.with_file_name("src").join("lib.rs");
    let run = |args: &[&str]| {
        let output = Command::new(env!("CARGO_BIN_EXE_portkey"))
            .args(args)
            .arg("--manifest-path")
            .arg(&manifest)
            .envs(env.iter().map(|(key, value)| (*key, value.as_str())))
            .output()
            .expect("portkey runs");
        assert!(output.status.success(), "portkey {args:?}: {}", String::from_utf8_lossy(&output.stderr));
    };
    run(&["mount", "devloop::first", "/first?name={name}"]);
    run(&["mount", "devloop::first", "/first?name={name}", "--target", "aws"]);
    let deployed_sha = || {
        let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
        runtime.block_on(async {
            let lambda = aws_sdk_lambda::Client::new(&moto.sdk_config().await);
            let function = lambda.get_function().function_name("portkey-dev-devloop-aws-devloop-first").send().await.unwrap();
            function.configuration().unwrap().code_sha256().unwrap().to_string()
        })
    };
    let before = deployed_sha();

    let dev = Dev::start_with(&manifest, &["--target", "aws"], &env);
    let initial = dev.next_cycle();
    assert_eq!(names(&initial, "unchanged"), ["devloop::first"], "{initial}");

    edit(&lib, "first-v1", "first-v2");
    let cycle = dev.next_cycle();
    assert_eq!(names(&cycle, "redeployed"), ["devloop::first"], "{cycle}");
    assert_eq!(names(&cycle, "aws_updated"), ["devloop::first"], "{cycle}");
    let after = deployed_sha();
    assert_ne!(before, after, "the AWS function still runs the old code");
    let project: Value = serde_json::from_str(&std::fs::read_to_string(manifest.with_file_name("portkey.json")).unwrap()).unwrap();
    assert_eq!(project["mounts"][0]["code_sha256"].as_str(), Some(after.as_str()), "AWS and local run different code");
}
