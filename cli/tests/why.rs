//! `portkey why` on a copy of `fixtures/hello`: the chain of references to a kept symbol, the
//! verdict for a removed one, ambiguous and unknown names, and the call graph and link cache
//! that let it explain a cached build without running LLVM.
//!
//! The tests share one copy of the fixture under cargo's temporary folder and run one at a
//! time, because some of them look at the files a build leaves behind.

mod support;

use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::sync::{Mutex, MutexGuard, OnceLock};
use std::time::SystemTime;

static SERIAL: Mutex<()> = Mutex::new(());

fn serial() -> MutexGuard<'static, ()> {
    SERIAL
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner())
}

/// Returns the manifest of this run's copy of `fixtures/hello`. The copy's `target/` is kept between
/// runs, so later runs reuse its builds.
fn manifest() -> PathBuf {
    static COPY: OnceLock<PathBuf> = OnceLock::new();
    COPY.get_or_init(|| support::fixture_copy("hello", "why-hello"))
    .clone()
}

/// Runs `portkey <args> --manifest-path <copy of fixtures/hello>/Cargo.toml`. The copy builds
/// into its own `target/` even when the caller set `CARGO_TARGET_DIR`.
fn portkey(args: &[&str]) -> Output {
    let output = Command::new(env!("CARGO_BIN_EXE_portkey"))
        .args(args)
        .arg("--manifest-path")
        .arg(manifest())
        .env_remove("CARGO_TARGET_DIR")
        .output()
        .expect("the portkey executable runs");
    eprintln!(
        "$ portkey {}\n{}",
        args.join(" "),
        String::from_utf8_lossy(&output.stderr)
    );
    output
}

/// Runs `portkey why <symbol> --fn hello::flatter` with `extra` arguments.
fn why(symbol: &str, extra: &[&str]) -> Output {
    let mut args = vec!["why", symbol, "--fn", "hello::flatter"];
    args.extend_from_slice(extra);
    portkey(&args)
}

fn stdout(output: &Output) -> String {
    String::from_utf8_lossy(&output.stdout).into_owned()
}

fn stderr(output: &Output) -> String {
    String::from_utf8_lossy(&output.stderr).into_owned()
}

/// Returns the report and call graph of the flatter image, in `<copy>/target/portkey/build/
/// portkey-reports/<triple>/`. The triple is musl or glibc, whichever the machine builds for.
fn report_files() -> (PathBuf, PathBuf) {
    let reports = manifest()
        .with_file_name("target")
        .join("portkey/build/portkey-reports");
    let triple = std::fs::read_dir(&reports)
        .unwrap_or_else(|error| panic!("cannot list {}: {error}", reports.display()))
        .map(|entry| entry.expect("folder entry").path())
        .next()
        .expect("one folder per target triple");
    (
        triple.join("hello-flatter.json"),
        triple.join("hello-flatter.callgraph"),
    )
}

fn modified(path: &Path) -> SystemTime {
    std::fs::metadata(path)
        .and_then(|metadata| metadata.modified())
        .unwrap_or_else(|error| panic!("cannot read {}: {error}", path.display()))
}

#[test]
fn why_prints_chain_from_entry() {
    let _serial = serial();
    let output = why("hello::flatter", &[]);
    assert!(output.status.success(), "why failed: {}", stderr(&output));
    let text = stdout(&output);
    let lines: Vec<&str> = text.lines().collect();
    assert!(
        lines[0].starts_with("hello::flatter: kept, "),
        "the first line gives the verdict: {text}"
    );
    let chain: Vec<(&str, &str)> = lines[1..]
        .iter()
        .take_while(|line| line.starts_with("  "))
        .map(|line| {
            let line = line.trim_start();
            let (edge, symbol) = line.split_once("  ").expect("edge, then symbol");
            (edge, symbol.trim())
        })
        .collect();
    assert_eq!(chain.first(), Some(&("root (entry)", "main")), "{text}");
    assert_eq!(
        chain.last().map(|step| step.1),
        Some("hello::flatter"),
        "{text}"
    );
    assert!(
        chain.len() >= 3,
        "main reaches flatter through the shim: {text}"
    );
}

#[test]
fn why_json_is_serde_form() {
    let _serial = serial();
    let output = why(
        "<alloc::string::String as core::fmt::Write>::write_str",
        &["--json"],
    );
    assert!(output.status.success(), "why failed: {}", stderr(&output));
    let value: serde_json::Value =
        serde_json::from_str(&stdout(&output)).expect("stdout is one JSON object");
    assert_eq!(value["verdict"], "kept");
    assert!(
        value["symbol"]
            .as_str()
            .is_some_and(|symbol| symbol.starts_with("_")),
        "{value}"
    );
    let chain = value["kept_because"].as_array().expect("a chain");
    assert_eq!(chain[0]["edge"], "root (entry)");
    assert_eq!(chain[0]["symbol"], "main");
    let last = chain.last().expect("non-empty chain");
    assert_eq!(
        last["symbol"],
        "<alloc::string::String as core::fmt::Write>::write_str"
    );
    // `String` is written to through `dyn fmt::Write`, so a vtable keeps the method.
    assert_eq!(last["edge"], "vtable slot", "{value}");
}

#[test]
fn why_says_removed_for_unreachable_function() {
    let _serial = serial();
    let output = why("hello::render", &[]);
    assert!(output.status.success(), "why failed: {}", stderr(&output));
    assert_eq!(
        stdout(&output),
        "hello::render: removed: nothing reachable from main refers to it\n"
    );
}

#[test]
fn why_lists_matches_of_ambiguous_name() {
    let _serial = serial();
    let output = why("drop_in_place", &[]);
    assert_eq!(output.status.code(), Some(1), "{}", stderr(&output));
    assert_eq!(stdout(&output), "", "nothing is explained on stdout");
    let message = stderr(&output);
    assert!(message.contains("`drop_in_place` matches "), "{message}");
    assert!(message.contains("(first 10 in name order)"), "{message}");
    let listed = message
        .lines()
        .filter(|line| line.starts_with("  core::ptr::drop_in_place"))
        .count();
    assert_eq!(listed, 10, "{message}");
}

#[test]
fn why_suggests_near_matches_for_unknown_symbol() {
    let _serial = serial();
    let output = why("hello::flatterr", &[]);
    assert_eq!(output.status.code(), Some(1), "{}", stderr(&output));
    let message = stderr(&output);
    assert!(
        message.contains("`hello::flatterr`: not found"),
        "{message}"
    );
    assert!(
        message.contains("near matches:\n  hello::flatter\n"),
        "{message}"
    );

    let json = why("hello::flatterr", &["--json"]);
    assert_eq!(json.status.code(), Some(1));
    let value: serde_json::Value =
        serde_json::from_str(&stdout(&json)).expect("stdout is one JSON object");
    assert_eq!(value["verdict"], "not_found");
    assert_eq!(value["near_matches"][0], "hello::flatter");
}

#[test]
fn why_on_cached_build_does_not_relink() {
    let _serial = serial();
    let first = why("core::fmt::write", &[]);
    assert!(first.status.success(), "why failed: {}", stderr(&first));
    let (report, graph) = report_files();
    let linked_at = (modified(&report), modified(&graph));

    // Another question about the same image: cargo has nothing to do, so the linker does not
    // run, and the answer still comes from the stored call graph.
    let second = why("hello::shout", &[]);
    assert!(second.status.success(), "why failed: {}", stderr(&second));
    assert_eq!(
        stdout(&second),
        "hello::shout: removed: nothing reachable from main refers to it\n"
    );
    assert_eq!(
        (modified(&report), modified(&graph)),
        linked_at,
        "the link ran again"
    );
    assert!(
        stdout(&first).starts_with("core::fmt::write: kept, "),
        "{}",
        stdout(&first)
    );
}

#[test]
fn missing_graph_relinks_from_link_cache() {
    let _serial = serial();
    let warm = why("hello::flatter", &[]);
    assert!(warm.status.success(), "why failed: {}", stderr(&warm));
    let (report, graph) = report_files();

    // The builder removes the executable so cargo links again. The first relink puts the link
    // of this portkey-ld into the cache (cargo may have kept an executable an earlier build of
    // portkey-ld linked); the second has identical inputs, so portkey-ld copies it.
    for attempt in ["first", "second"] {
        std::fs::remove_file(&graph).expect("remove the call graph");
        let output = why("hello::flatter", &[]);
        assert!(output.status.success(), "why failed: {}", stderr(&output));
        assert!(
            graph.is_file(),
            "{attempt} relink: the call graph is written again"
        );
        assert!(
            stdout(&output).starts_with("hello::flatter: kept, "),
            "{}",
            stdout(&output)
        );
    }
    let written: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&report).expect("report written"))
            .expect("report is JSON");
    assert_eq!(
        written["cache_hit"], true,
        "the second relink is a cache hit"
    );
    assert_eq!(written["timings_ms"]["optimise"], 0);
}
