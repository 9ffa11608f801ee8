//! `async fn` through the `portkey` executable. `hello::greet_later` needs no reactor: the image
//! runs its future with the runtime crate's own `block_on`, and no tokio code is linked.
//! `tokio_app::nap` sleeps on tokio's timer and spawns a task, and its package depends on
//! tokio, so the image runs it on a current-thread tokio runtime. Each shake report names the
//! executor it chose.
//!
//! The copies live under cargo's temporary folder in `async-hello` and `async-tokio`. The tests
//! of this file run one at a time.

mod support;

use support::Fixture;

use std::path::PathBuf;
use std::process::{Command, Output};
use std::sync::OnceLock;

fn hello() -> PathBuf {
    static COPY: OnceLock<PathBuf> = OnceLock::new();
    COPY.get_or_init(|| support::fixture_copy("hello", "async-hello"))
        .clone()
}

fn tokio_app() -> PathBuf {
    static COPY: OnceLock<PathBuf> = OnceLock::new();
    COPY.get_or_init(|| support::fixture_copy("tokio-app", "async-tokio"))
        .clone()
}

fn portkey(manifest: &PathBuf, args: &[&str]) -> Output {
    let output = Command::new(env!("CARGO_BIN_EXE_portkey"))
        .args(args)
        .arg("--manifest-path")
        .arg(manifest)
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

/// Shakes `function` and returns the report of its JSON output.
fn report(manifest: &PathBuf, function: &str) -> serde_json::Value {
    let output = portkey(manifest, &["shake", "--fn", function, "--json"]);
    assert!(output.status.success(), "{}", stderr(&output));
    let json: serde_json::Value = serde_json::from_slice(&output.stdout).expect("JSON on stdout");
    json["report"].clone()
}

fn crates(report: &serde_json::Value) -> Vec<String> {
    report["bytes_by_crate"]
        .as_array()
        .expect("bytes by crate")
        .iter()
        .map(|entry| entry["crate_name"].as_str().unwrap_or_default().to_string())
        .collect()
}

/// Mounts `function` on `template`, then fetches the URL with `{placeholder}` replaced by `value`.
fn mount_and_get(
    manifest: &PathBuf,
    function: &str,
    template: &str,
    placeholder: &str,
    value: &str,
) -> (String, String) {
    let mounted = portkey(manifest, &["mount", function, template]);
    assert!(
        mounted.status.success(),
        "mount failed: {}",
        stderr(&mounted)
    );
    let printed = String::from_utf8_lossy(&mounted.stdout).into_owned();
    let url = printed
        .lines()
        .find_map(|line| line.strip_prefix("url: "))
        .unwrap_or_else(|| panic!("no `url:` line in {printed:?}"));
    let reply = Command::new("curl")
        .args(["-sS", "--max-time", "60", "-o", "-", "-w", "\n%{http_code}"])
        .arg(url.replace(&format!("{{{placeholder}}}"), value))
        .output()
        .expect("curl runs");
    assert!(reply.status.success(), "curl: {}", stderr(&reply));
    let text = String::from_utf8_lossy(&reply.stdout).into_owned();
    let (body, status) = text
        .rsplit_once('\n')
        .expect("curl printed the status line");
    (status.to_string(), body.to_string())
}

#[test]
fn async_fn_without_tokio_links_no_tokio() {
    let _fixture = Fixture::take(hello());
    let report = report(&hello(), "hello::greet_later");
    assert_eq!(
        report["executor"], "portkey block_on",
        "{}",
        report["executor"]
    );
    let crates = crates(&report);
    assert!(
        !crates.iter().any(|name| name.starts_with("tokio")),
        "{crates:?}"
    );

    let (status, body) = mount_and_get(
        &hello(),
        "hello::greet_later",
        "/later?name={name}",
        "name",
        "Ada",
    );
    assert_eq!(status, "200", "{body}");
    assert_eq!(body, "Hello later, Ada!");
}

#[test]
fn async_fn_with_tokio_runs_on_tokio() {
    let _fixture = Fixture::take(tokio_app());
    let report = report(&tokio_app(), "tokio_app::nap");
    assert_eq!(
        report["executor"], "tokio current-thread runtime",
        "{}",
        report["executor"]
    );
    let crates = crates(&report);
    assert!(crates.iter().any(|name| name == "tokio"), "{crates:?}");

    let (status, body) = mount_and_get(&tokio_app(), "tokio_app::nap", "/nap?ms={ms}", "ms", "30");
    assert_eq!(status, "200", "{body}");
    assert_eq!(body, "slept 30 ms and doubled it to 60");
}

#[test]
fn sync_fn_report_names_no_executor() {
    let _fixture = Fixture::take(hello());
    let report = report(&hello(), "hello::flatter");
    assert!(report.get("executor").is_none(), "{}", report["executor"]);
}
