//! `async fn` through the `portkey` executable. `hello::greet_later` needs no reactor: the image
//! runs its future with the runtime crate's own `block_on`, and no tokio code is linked.
//! `tokio_app::nap` sleeps on tokio's timer and spawns a task, and its package depends on
//! tokio, so the image runs it on a current-thread tokio runtime. Each shake report names the
//! executor it chose.
//!
//! The copies live under cargo's temporary folder in `async-hello` and `async-tokio`. The tests
//! of this file run one at a time.

mod support;

use support::{Fixture, curl_get, stderr_of as stderr, url_of};

use std::path::PathBuf;
use std::process::Output;
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
    support::portkey_in(manifest, args)
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
    curl_get(&url_of(&mounted).replace(&format!("{{{placeholder}}}"), value))
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
