//! The reachability fingerprint through the `portkey` executable, on copies of
//! `fixtures/fingerprint`. Editing functions that `fingerprint::greet` cannot reach (one line
//! changed in place above the kept functions, one function appended at the end of the file)
//! leaves the fingerprint unchanged, while editing `third`, three calls below `greet`, changes
//! it. Two builds of the same source in different folders give the same fingerprint.
//!
//! Every edit keeps the line numbers of the kept functions, because panic locations are part of
//! the kept code. The copies live under cargo's temporary folder and keep their `target/`
//! between runs; every test writes the sources it needs before it builds.

mod support;

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

/// The original source of the fixture's library.
const ORIGINAL: &str = include_str!("../../fixtures/fingerprint/src/lib.rs");

/// A line of an unkept function that the unkept edit replaces, in place, with a line that
/// creates two more trait objects, so the constants and vtables that follow are numbered anew.
const UNKEPT_LINE: &str = "    let shown: &dyn Display = &count;";
const UNKEPT_LINE_EDITED: &str =
    "    let shown: &dyn Display = &\"unkept\"; let _debug: &dyn std::fmt::Debug = &count;";

/// The line of `third`, three calls below the entry, that the kept edit changes.
const KEPT_LINE: &str = "    let factor = std::hint::black_box(7u64);";
const KEPT_LINE_EDITED: &str = "    let factor = std::hint::black_box(9u64);";

/// Appended at the end of the file by the unkept edit. It uses no generic code that the kept
/// functions also instantiate: rustc optimises each crate before the shaker sees it, and another
/// caller of a shared generic function can change whether rustc inlines it into kept code,
/// which is a real change of the kept code.
const APPENDED: &str = r#"
/// Never called from `greet`: added after the kept functions.
pub fn unkept_appended(values: &[u64]) -> u64 {
    static WEIGHTS: [u64; 4] = [3, 5, 7, 11];
    values.iter().zip(WEIGHTS.iter().cycle()).map(|(value, weight)| value * weight).sum()
}
"#;

/// Writes `source` as the library of the copy at `manifest`, unless it already holds it.
fn write_source(manifest: &Path, source: &str) {
    let path = manifest.with_file_name("src").join("lib.rs");
    if std::fs::read_to_string(&path).ok().as_deref() == Some(source) {
        return;
    }
    std::fs::write(&path, source).expect("write the fixture source");
}

fn replaced(source: &str, line: &str, with: &str) -> String {
    assert_eq!(source.matches(line).count(), 1, "{line:?} must occur once");
    source.replacen(line, with, 1)
}

/// Runs `portkey shake --fn fingerprint::greet` with `extra` and returns its output.
fn shake(manifest: &Path, extra: &[&str]) -> Output {
    // Each copy builds in its own `target/`: with a shared target folder the copies would share
    // one shim and one runtime folder, whose absolute path is not remapped.
    let output = Command::new(env!("CARGO_BIN_EXE_portkey"))
        .env_remove("CARGO_TARGET_DIR")
        .args(["shake", "--fn", "fingerprint::greet"])
        .args(extra)
        .arg("--manifest-path")
        .arg(manifest)
        .output()
        .expect("the portkey executable runs");
    assert!(
        output.status.success(),
        "portkey shake failed:\n{}",
        String::from_utf8_lossy(&output.stderr)
    );
    output
}

/// Shakes the copy at `manifest` and returns the fingerprint of its report.
fn fingerprint(manifest: &Path) -> String {
    let output = shake(manifest, &["--json"]);
    let value: serde_json::Value = serde_json::from_slice(&output.stdout).expect("JSON on stdout");
    let fingerprint = value["report"]["fingerprint"]
        .as_str()
        .unwrap_or_else(|| panic!("no fingerprint in {value}"))
        .to_string();
    assert_eq!(fingerprint.len(), 64, "{fingerprint}");
    assert!(
        fingerprint.chars().all(|c| c.is_ascii_hexdigit()),
        "{fingerprint}"
    );
    fingerprint
}

fn copy(name: &str) -> PathBuf {
    support::fixture_copy("fingerprint", name)
}

#[test]
fn fingerprint_follows_only_kept_code() {
    let manifest = copy("fingerprint-edits");
    write_source(&manifest, ORIGINAL);
    let original = fingerprint(&manifest);

    let unkept = replaced(ORIGINAL, UNKEPT_LINE, UNKEPT_LINE_EDITED) + APPENDED;
    write_source(&manifest, &unkept);
    let after_unkept_edit = fingerprint(&manifest);

    let kept = replaced(ORIGINAL, KEPT_LINE, KEPT_LINE_EDITED);
    write_source(&manifest, &kept);
    let after_kept_edit = fingerprint(&manifest);
    write_source(&manifest, ORIGINAL);

    assert_eq!(
        after_unkept_edit, original,
        "editing functions the entry cannot reach changed the fingerprint"
    );
    assert_ne!(
        after_kept_edit, original,
        "editing `third`, three calls below the entry, left the fingerprint unchanged"
    );
}

#[test]
fn fingerprint_is_reproducible_and_shown() {
    let first = copy("fingerprint-first");
    let second = copy("fingerprint-second");
    write_source(&first, ORIGINAL);
    write_source(&second, ORIGINAL);
    let first_fingerprint = fingerprint(&first);
    assert_eq!(
        fingerprint(&second),
        first_fingerprint,
        "two builds of the same source in different folders differ"
    );

    let text = String::from_utf8_lossy(&shake(&first, &[]).stdout).into_owned();
    assert!(
        text.contains(&format!("fingerprint {first_fingerprint}")),
        "{text}"
    );

    let without_methods = shake(&first, &["--json", "--no-method-shaking"]);
    let value: serde_json::Value =
        serde_json::from_slice(&without_methods.stdout).expect("JSON on stdout");
    assert_eq!(value["report"]["method_shaking"]["mode"], "off");
    assert_ne!(
        value["report"]["fingerprint"].as_str(),
        Some(first_fingerprint.as_str()),
        "the method-shaking setting is not part of the fingerprint"
    );
}
