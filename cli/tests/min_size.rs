//! `--size` through the `portkey` executable, on a copy of `fixtures/hello` of its own. The
//! min-size image of `hello::flatter`, the default, must be smaller than the `--size full` one,
//! and its report must name the mode and the replacements. A panic in a min-size image must
//! still reach the caller as a 500 with its message.
//!
//! The copy lives under cargo's temporary folder in `min-size-hello`, apart from the copy of
//! the end-to-end tests, so the two files never share a backend or a project file. The tests
//! share the copy, so they run one at a time.

mod support;

use support::Fixture;

use std::path::PathBuf;
use std::process::{Command, Output};
use std::sync::OnceLock;

/// Returns the manifest of this file's copy of `fixtures/hello`, whose `target/` is kept between
/// runs.
fn manifest() -> PathBuf {
    static COPY: OnceLock<PathBuf> = OnceLock::new();
    COPY.get_or_init(|| support::fixture_copy("hello", "min-size-hello"))
    .clone()
}

/// Runs `portkey <args> --manifest-path <copy>/Cargo.toml`.
fn portkey(args: &[&str]) -> Output {
    let output = Command::new(env!("CARGO_BIN_EXE_portkey"))
        .args(args)
        .arg("--manifest-path")
        .arg(manifest())
        .output()
        .expect("the portkey executable runs");
    eprintln!(
        "$ portkey {}\n{}",
        args.join(" "),
        String::from_utf8_lossy(&output.stderr)
    );
    output
}

fn stderr(output: &Output) -> String {
    String::from_utf8_lossy(&output.stderr).into_owned()
}

/// Runs `portkey shake --fn hello::flatter --json` with `extra` and returns its JSON.
fn shake_flatter(extra: &[&str]) -> serde_json::Value {
    let mut args = vec!["shake", "--fn", "hello::flatter", "--json"];
    args.extend_from_slice(extra);
    let output = portkey(&args);
    assert!(output.status.success(), "{}", stderr(&output));
    serde_json::from_slice(&output.stdout).expect("JSON on stdout")
}

fn bytes_of(report: &serde_json::Value, field: &str) -> u64 {
    report[field]
        .as_u64()
        .unwrap_or_else(|| panic!("no {field} in {report}"))
}

#[test]
fn min_size_flatter_is_smaller() {
    let _fixture = Fixture::take(manifest());
    let full = shake_flatter(&["--size", "full"]);
    // `min` is the default: no flag.
    let min = shake_flatter(&[]);
    let full_report = &full["report"];
    let min_report = &min["report"];

    assert_eq!(full_report["size_mode"], "full");
    assert_eq!(min_report["size_mode"], "min");
    let replaced = min_report["replaced"].as_array().expect("a replaced list");
    assert!(!replaced.is_empty(), "{min_report}");
    assert!(
        min_report.get("warnings").is_none(),
        "{}",
        min_report["warnings"]
    );

    let (full_binary, min_binary) = (
        bytes_of(full_report, "binary_bytes"),
        bytes_of(min_report, "binary_bytes"),
    );
    let (full_zip, min_zip) = (
        bytes_of(full_report, "zip_bytes"),
        bytes_of(min_report, "zip_bytes"),
    );
    eprintln!("hello::flatter binary: full {full_binary} B, min {min_binary} B");
    eprintln!("hello::flatter zip:    full {full_zip} B, min {min_zip} B");
    assert!(
        min_binary < full_binary,
        "min {min_binary} B, full {full_binary} B"
    );
    assert!(min_zip < full_zip, "min {min_zip} B, full {full_zip} B");
    assert_ne!(full["code_sha256"], min["code_sha256"]);

    // Switching back relinks in the full mode instead of reusing the min-size executable.
    let again = shake_flatter(&["--size", "full"]);
    assert_eq!(again["report"]["size_mode"], "full");
    assert_eq!(again["code_sha256"], full["code_sha256"]);
}

#[test]
fn min_size_panic_gives_500_with_message() {
    let _fixture = Fixture::take(manifest());
    let output = portkey(&[
        "mount",
        "hello::explode",
        "/explode?message={message}",
        "--size",
        "min",
    ]);
    assert!(output.status.success(), "mount failed: {}", stderr(&output));
    let printed = String::from_utf8_lossy(&output.stdout).into_owned();
    let url = printed
        .lines()
        .find_map(|line| line.strip_prefix("url: "))
        .unwrap_or_else(|| panic!("no `url:` line in {printed:?}"));
    assert!(url.starts_with("http://127.0.0.1:"), "{url}");

    let reply = Command::new("curl")
        .args(["-sS", "--max-time", "60", "-o", "-", "-w", "\n%{http_code}"])
        .arg(url.replace("{message}", "kaboom-min"))
        .output()
        .expect("curl runs");
    assert!(reply.status.success(), "curl: {}", stderr(&reply));
    let text = String::from_utf8_lossy(&reply.stdout).into_owned();
    let (body, status) = text
        .rsplit_once('\n')
        .expect("curl printed the status line");
    assert_eq!(status, "500", "{body}");
    assert!(body.contains("kaboom-min"), "{body}");
}

#[test]
fn size_rejects_unknown_mode() {
    let output = Command::new(env!("CARGO_BIN_EXE_portkey"))
        .args(["shake", "--fn", "hello::flatter", "--size", "tiny"])
        .output()
        .expect("the portkey executable runs");
    assert!(!output.status.success());
    let message = stderr(&output);
    assert!(message.contains("tiny"), "{message}");
    assert!(message.contains("min"), "{message}");
    assert!(message.contains("full"), "{message}");
}
