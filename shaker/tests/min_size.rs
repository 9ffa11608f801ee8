//! Min-size mode of the shaker on a real program: the same rustc link line is shaken in the
//! default mode and with std's backtrace printer replaced. Both programs must print the same
//! output, panic messages included, and differ only in the backtrace. The min-size program must
//! be smaller, and its report must name the mode and the replacement.

// The helpers serve several test files; this one uses only `rustc_link_line` and `with_output`.
#[allow(dead_code)]
mod support;

use std::ffi::OsString;
use std::path::{Path, PathBuf};
use std::process::Command;

use portkey_report::{ShakeReport, SizeMode};
use portkey_shaker::{CacheSetting, LinkOutcome, LinkerConfig, link};
use support::{rustc_link_line, with_output};

/// Prints, catches one panic and reports its message, then panics in `main` (exit code 101).
const PANICKING_PROGRAM: &str = r#"
use std::panic;

fn checked_div(a: u32, b: u32) -> u32 {
    if b == 0 {
        panic!("division of {a} by zero");
    }
    a / b
}

fn main() {
    let args: Vec<String> = std::env::args().collect();
    println!("quotient: {}", checked_div(84, 2));
    let caught = panic::catch_unwind(|| checked_div(7, args.len() as u32 - 1));
    match caught {
        Ok(value) => println!("no panic: {value}"),
        Err(payload) => match payload.downcast_ref::<String>() {
            Some(message) => println!("caught: {message}"),
            None => println!("caught a panic without a message"),
        },
    }
    let values = [1.5f64, -0.25, 1e300];
    println!("formatted: {values:?} {:>8.3} {:#x}", values[0], 255u32);
    let missing: Option<&str> = None;
    missing.expect("the value must be present");
}
"#;

fn config(report: &Path, size_mode: SizeMode) -> LinkerConfig {
    LinkerConfig {
        report_path: Some(report.to_path_buf()),
        cc: "cc".to_string(),
        lld: None,
        explain: Vec::new(),
        cache: CacheSetting::Off,
        size_mode,
        method_shaking: portkey_report::MethodShaking::On,
        codegen_parts: 2,
    }
}

fn shake(args: &[OsString], output: &Path, report: &Path, size_mode: SizeMode) -> ShakeReport {
    let outcome = link(&with_output(args, output), &config(report, size_mode))
        .unwrap_or_else(|error| panic!("shaker failed in {size_mode:?} mode: {error}"));
    match outcome {
        LinkOutcome::Shaken(report) => *report,
        LinkOutcome::PassedThrough => panic!("expected a shaken link"),
    }
}

/// Replaces the thread id in std's panic line (`thread 'main' (12345) panicked`), which
/// differs between any two runs.
fn replace_thread_ids(text: &str) -> String {
    text.lines()
        .map(|line| {
            let Some(rest) = line.strip_prefix("thread '") else {
                return line.to_string();
            };
            let Some((name, after)) = rest.split_once("' (") else {
                return line.to_string();
            };
            let Some((_, tail)) = after.split_once(')') else {
                return line.to_string();
            };
            format!("thread '{name}' (<id>){tail}")
        })
        .map(|line| line + "\n")
        .collect()
}

/// Removes every backtrace std printed: from `stack backtrace:` through the note that ends it.
fn remove_backtraces(text: &str) -> String {
    let mut kept = String::new();
    let mut inside = false;
    for line in text.lines() {
        if line == "stack backtrace:" {
            inside = true;
            continue;
        }
        if inside {
            inside = !line.starts_with("note: Some details are omitted");
            continue;
        }
        kept.push_str(line);
        kept.push('\n');
    }
    kept
}

struct Run {
    stdout: String,
    stderr: String,
    code: Option<i32>,
}

/// Runs `program` with an empty environment plus `environment`.
fn run(program: &Path, environment: &[(&str, &str)]) -> Run {
    let output = Command::new(program)
        .env_clear()
        .envs(environment.iter().copied())
        .output()
        .expect("run linked program");
    Run {
        stdout: String::from_utf8_lossy(&output.stdout).into_owned(),
        stderr: replace_thread_ids(&String::from_utf8_lossy(&output.stderr)),
        code: output.status.code(),
    }
}

/// Both programs, linked from one rustc link line.
struct Pair {
    default: PathBuf,
    default_report: ShakeReport,
    min: PathBuf,
    min_report: ShakeReport,
    _dir: tempfile::TempDir,
}

fn link_both_modes() -> Pair {
    let dir = tempfile::tempdir().expect("temp dir");
    let args = rustc_link_line(dir.path(), PANICKING_PROGRAM, &["-Cpanic=unwind"]);
    let default = dir.path().join("program-default");
    let min = dir.path().join("program-min");
    let default_report = shake(
        &args,
        &default,
        &dir.path().join("default.json"),
        SizeMode::Full,
    );
    let min_report = shake(&args, &min, &dir.path().join("min.json"), SizeMode::Min);
    Pair {
        default,
        default_report,
        min,
        min_report,
        _dir: dir,
    }
}

#[test]
fn min_mode_output_matches_default() {
    let pair = link_both_modes();
    let default_run = run(&pair.default, &[]);
    let min_run = run(&pair.min, &[]);

    assert_eq!(
        default_run.code,
        Some(101),
        "stderr:\n{}",
        default_run.stderr
    );
    assert!(
        default_run.stdout.contains("caught: division of 7 by zero"),
        "{}",
        default_run.stdout
    );
    assert!(
        default_run.stderr.contains("the value must be present"),
        "{}",
        default_run.stderr
    );
    assert_eq!(min_run.stdout, default_run.stdout);
    assert_eq!(min_run.stderr, default_run.stderr);
    assert_eq!(min_run.code, default_run.code);
}

#[test]
fn min_mode_drops_only_the_backtrace() {
    let pair = link_both_modes();
    let requested = [("RUST_BACKTRACE", "1")];
    let default_run = run(&pair.default, &requested);
    let min_run = run(&pair.min, &requested);

    assert!(
        default_run.stderr.contains("stack backtrace:"),
        "the default program printed no backtrace:\n{}",
        default_run.stderr
    );
    assert!(
        !min_run.stderr.contains("stack backtrace:"),
        "the min-size program printed a backtrace:\n{}",
        min_run.stderr
    );
    assert_eq!(min_run.stderr, remove_backtraces(&default_run.stderr));
    assert_eq!(min_run.stdout, default_run.stdout);
    assert_eq!(min_run.code, default_run.code);
}

#[test]
fn min_mode_report_names_replacements() {
    let pair = link_both_modes();
    assert_eq!(pair.default_report.size_mode, SizeMode::Full);
    assert!(pair.default_report.replaced.is_empty());
    assert_eq!(pair.min_report.size_mode, SizeMode::Min);
    assert!(
        !pair.min_report.replaced.is_empty(),
        "nothing replaced; warnings: {:?}",
        pair.min_report.warnings
    );
    assert!(
        pair.min_report.warnings.is_empty(),
        "{:?}",
        pair.min_report.warnings
    );
    assert!(
        pair.min_report.binary_bytes < pair.default_report.binary_bytes,
        "min {} B is not smaller than default {} B",
        pair.min_report.binary_bytes,
        pair.default_report.binary_bytes
    );
    let crates = |report: &ShakeReport| -> Vec<String> {
        report
            .bytes_by_crate
            .iter()
            .map(|entry| entry.crate_name.clone())
            .collect()
    };
    assert!(crates(&pair.default_report).contains(&"gimli".to_string()));
    for symbolisation in ["gimli", "addr2line", "rustc_demangle", "miniz_oxide"] {
        assert!(
            !crates(&pair.min_report).contains(&symbolisation.to_string()),
            "{symbolisation} still in the min-size program: {:?}",
            crates(&pair.min_report)
        );
    }
}
