//! Replays the fuzz corpus and the crash regressions of every fuzz target through the same
//! checks the fuzzer runs (`tests/support/fuzz_checks.rs`), without the fuzzer: the inputs in
//! `fuzz/corpus/<target>/` and `fuzz/regressions/<target>/` at the repository root. When this
//! crate is copied next to a shim, neither folder exists and the test checks nothing.

#[path = "support/fuzz_checks.rs"]
mod fuzz_checks;

use std::path::{Path, PathBuf};

fn fuzz_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../fuzz")
}

/// Returns the files of `folder`, sorted, or none when it does not exist.
fn inputs(folder: &Path) -> Vec<PathBuf> {
    let Ok(entries) = std::fs::read_dir(folder) else { return Vec::new() };
    let mut files: Vec<PathBuf> = entries.flatten().map(|entry| entry.path()).filter(|path| path.is_file()).collect();
    files.sort();
    files
}

fn replay(kind: &str) -> usize {
    let mut replayed = 0;
    for target in fuzz_checks::TARGETS {
        for input in inputs(&fuzz_root().join(kind).join(target)) {
            let data = std::fs::read(&input).unwrap();
            let outcome = std::panic::catch_unwind(|| fuzz_checks::check(target, &data));
            assert!(outcome.is_ok(), "the {target} check failed on {}", input.display());
            replayed += 1;
        }
    }
    replayed
}

#[test]
fn corpus_replays_cleanly() {
    let replayed = replay("corpus");
    // The corpus ships with the repository; a checkout without it would test nothing.
    if fuzz_root().join("corpus").is_dir() {
        assert!(replayed >= fuzz_checks::TARGETS.len(), "only {replayed} corpus inputs");
    }
}

#[test]
fn crash_regressions_replay_cleanly() {
    replay("regressions");
}

#[test]
fn real_events_bind_or_reject() {
    // The sample events the corpus was seeded with, each through every check.
    let events = fuzz_root().join("corpus").join("event");
    for input in inputs(&events) {
        let data = std::fs::read(&input).unwrap();
        for target in fuzz_checks::TARGETS {
            fuzz_checks::check(target, &data);
        }
    }
}
