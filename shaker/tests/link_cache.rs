//! The link cache on real link lines: rustc compiles a program with `-C linker-plugin-lto`, and
//! `portkey_shaker::link` links the recorded line twice with the real LLVM and `cc`. The second
//! link must be a cache hit with a byte-identical executable; a changed input byte must miss.

mod support;

use std::path::{Path, PathBuf};
use std::process::Command;

use portkey_report::ShakeReport;
use portkey_shaker::{CacheSetting, LinkOutcome, LinkerConfig, link};
use support::{TRAIT_PROGRAM, run, rustc_link_line, with_output};

fn config(report: &Path, cache: &Path) -> LinkerConfig {
    LinkerConfig {
        report_path: Some(report.to_path_buf()),
        cc: "cc".to_string(),
        lld: None,
        explain: Vec::new(),
        cache: CacheSetting::Folder(cache.to_path_buf()),
        size_mode: portkey_report::SizeMode::Full,
        method_shaking: portkey_report::MethodShaking::On,
        codegen_parts: 2,
    }
}

fn shaken(outcome: LinkOutcome) -> ShakeReport {
    match outcome {
        LinkOutcome::Shaken(report) => *report,
        LinkOutcome::PassedThrough => panic!("expected a shaken link"),
    }
}

fn cache_entries(cache: &Path) -> Vec<PathBuf> {
    let mut entries: Vec<PathBuf> = std::fs::read_dir(cache)
        .expect("cache folder exists")
        .map(|entry| entry.expect("entry").path())
        .collect();
    entries.sort();
    entries
}

#[test]
fn identical_link_is_copied_from_cache() {
    let dir = tempfile::tempdir().expect("temp dir");
    let args = rustc_link_line(dir.path(), TRAIT_PROGRAM, &[]);
    let cache = dir.path().join("cache");
    let report_path = dir.path().join("report.json");
    let graph_path = dir.path().join("report.callgraph");
    let program = dir.path().join("program");

    let first = shaken(link(&args, &config(&report_path, &cache)).expect("first link"));
    assert!(!first.cache_hit);
    assert!(
        first.timings_ms.optimise > 0 || first.timings_ms.codegen > 0,
        "{:?}",
        first.timings_ms
    );
    let first_bytes = std::fs::read(&program).expect("executable written");
    let first_graph = std::fs::read(&graph_path).expect("graph written");
    assert_eq!(cache_entries(&cache).len(), 1);

    // The second link writes elsewhere, and the report and graph of the first are gone.
    std::fs::remove_file(&report_path).expect("remove report");
    std::fs::remove_file(&graph_path).expect("remove graph");
    let second_program = dir.path().join("second");
    let second_args = with_output(&args, &second_program);
    let second = shaken(link(&second_args, &config(&report_path, &cache)).expect("second link"));

    assert!(
        second.cache_hit,
        "the second link of identical inputs is a hit"
    );
    let timings = second.timings_ms;
    assert_eq!(
        (
            timings.gather,
            timings.graph,
            timings.strip,
            timings.optimise,
            timings.codegen,
            timings.link
        ),
        (0, 0, 0, 0, 0, 0),
        "a hit counts hashing only: {timings:?}"
    );
    assert_eq!(timings.total(), timings.hash);
    assert_eq!(
        std::fs::read(&second_program).expect("executable restored"),
        first_bytes,
        "the restored executable is byte-identical"
    );
    assert_eq!(
        std::fs::read(&graph_path).expect("graph restored"),
        first_graph
    );
    let written = ShakeReport::from_json(&std::fs::read_to_string(&report_path).expect("report"))
        .expect("report parses");
    assert!(written.cache_hit);
    assert_eq!(written.kept_functions, first.kept_functions);
    assert_eq!(written.binary_bytes, first.binary_bytes);
    assert_eq!(run(&second_program), ("woof\nmeow\nwoof\n".to_string(), 4));
    assert_eq!(cache_entries(&cache).len(), 1);
}

#[test]
fn changed_input_byte_misses() {
    let dir = tempfile::tempdir().expect("temp dir");
    // A native object is an input whose bytes can change without breaking the link: one
    // character of its `.comment` section (the compiler's version string) is altered.
    let c_source = dir.path().join("helper.c");
    std::fs::write(
        &c_source,
        "int portkey_helper(int value) { return value + 1; }\n",
    )
    .expect("write C source");
    let c_object = dir.path().join("helper.o");
    let status = Command::new("cc")
        .args(["-c", "-fPIC", "-O1", "-o"])
        .arg(&c_object)
        .arg(&c_source)
        .status()
        .expect("run cc");
    assert!(status.success(), "cc failed");
    let link_arg = format!("-Clink-arg={}", c_object.display());
    let args = rustc_link_line(dir.path(), TRAIT_PROGRAM, &[&link_arg]);
    let cache = dir.path().join("cache");
    let report_path = dir.path().join("report.json");

    let first = shaken(link(&args, &config(&report_path, &cache)).expect("first link"));
    assert!(!first.cache_hit);

    let mut bytes = std::fs::read(&c_object).expect("read object");
    let comment = bytes
        .windows(4)
        .position(|window| window == b"GCC:")
        .expect("gcc writes a .comment section");
    bytes[comment + 1] = b'X';
    std::fs::write(&c_object, &bytes).expect("write altered object");

    let second = shaken(link(&args, &config(&report_path, &cache)).expect("second link"));
    assert!(!second.cache_hit, "one changed input byte must miss");
    assert!(second.timings_ms.optimise > 0 || second.timings_ms.codegen > 0);
    assert_eq!(cache_entries(&cache).len(), 2);
    assert_eq!(
        run(&dir.path().join("program")),
        ("woof\nmeow\nwoof\n".to_string(), 4)
    );

    let third = shaken(link(&args, &config(&report_path, &cache)).expect("third link"));
    assert!(third.cache_hit, "the altered inputs are cached now");
}

#[test]
fn incomplete_entry_is_linked_again() {
    let dir = tempfile::tempdir().expect("temp dir");
    let args = rustc_link_line(dir.path(), TRAIT_PROGRAM, &[]);
    let cache = dir.path().join("cache");
    let report_path = dir.path().join("report.json");
    shaken(link(&args, &config(&report_path, &cache)).expect("first link"));

    let entries = cache_entries(&cache);
    assert_eq!(entries.len(), 1);
    std::fs::remove_file(entries[0].join("graph.callgraph")).expect("damage the entry");

    let second = shaken(link(&args, &config(&report_path, &cache)).expect("second link"));
    assert!(!second.cache_hit, "an incomplete entry is not used");
    assert!(
        entries[0].join("graph.callgraph").is_file(),
        "the entry is stored again"
    );
    let third = shaken(link(&args, &config(&report_path, &cache)).expect("third link"));
    assert!(third.cache_hit);
}

#[test]
fn cache_off_links_in_full_every_time() {
    let dir = tempfile::tempdir().expect("temp dir");
    let args = rustc_link_line(dir.path(), TRAIT_PROGRAM, &[]);
    let report_path = dir.path().join("report.json");
    let mut settings = config(&report_path, &dir.path().join("cache"));
    settings.cache = CacheSetting::Off;
    for _ in 0..2 {
        let report = shaken(link(&args, &settings).expect("link"));
        assert!(!report.cache_hit);
    }
    assert!(!dir.path().join("cache").exists());
}
