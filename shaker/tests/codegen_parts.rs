//! Code generation cut into parts on a real program: one rustc link line is shaken with one
//! part and with three. Both executables must print the same, and the reports must name the
//! number of parts.
//!
//! The program crosses the cut in the ways the split handles. Functions call local functions of
//! other parts, and vtables (global data, in part 0) point at methods of other parts. It has
//! thread-local and interior-mutable statics, string constants, a constructor in `.init_array`
//! kept by `#[used]`, and panics caught in another function than the one that panics.

// The helpers serve several test files; this one uses only `rustc_link_line` and `with_output`.
#[allow(dead_code)]
mod support;

use std::ffi::OsString;
use std::path::Path;
use std::process::Command;

use portkey_report::{ShakeReport, SizeMode};
use portkey_shaker::{CacheSetting, LinkOutcome, LinkerConfig, link};
use support::{rustc_link_line, with_output};

const PROGRAM: &str = r#"
use std::cell::Cell;
use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Mutex, OnceLock};

trait Shape {
    fn area(&self) -> f64;
    fn name(&self) -> String;
}
struct Square(f64);
struct Circle(f64);
impl Shape for Square {
    fn area(&self) -> f64 { self.0 * self.0 }
    fn name(&self) -> String { format!("square {}", self.0) }
}
impl Shape for Circle {
    fn area(&self) -> f64 { 3.14159 * self.0 * self.0 }
    fn name(&self) -> String { format!("circle {}", self.0) }
}

static COUNTER: AtomicUsize = AtomicUsize::new(0);
static TABLE: OnceLock<Mutex<BTreeMap<String, u64>>> = OnceLock::new();
thread_local! { static DEPTH: Cell<u32> = const { Cell::new(0) }; }

extern "C" fn before_main() { COUNTER.fetch_add(100, Ordering::SeqCst); }
#[used]
#[unsafe(link_section = ".init_array")]
static BEFORE_MAIN: extern "C" fn() = before_main;

#[inline(never)]
fn record(key: &str, value: u64) {
    let table = TABLE.get_or_init(|| Mutex::new(BTreeMap::new()));
    *table.lock().unwrap().entry(key.to_string()).or_default() += value;
    COUNTER.fetch_add(1, Ordering::SeqCst);
}

#[inline(never)]
fn nested(level: u32) -> u32 {
    DEPTH.with(|depth| depth.set(depth.get().max(level)));
    if level == 0 { 0 } else { level + nested(level - 1) }
}

#[inline(never)]
fn risky(divisor: u64) -> u64 {
    if divisor == 0 { panic!("divisor {divisor} is zero"); }
    1000 / divisor
}

fn main() {
    let shapes: Vec<Box<dyn Shape>> = vec![Box::new(Square(2.0)), Box::new(Circle(1.5))];
    let mut out = String::new();
    for shape in &shapes {
        writeln!(out, "{}: {:.3}", shape.name(), shape.area()).unwrap();
        record(&shape.name(), shape.area() as u64);
    }
    let handles: Vec<_> = (0..4u32)
        .map(|index| std::thread::spawn(move || { record("thread", index as u64); nested(index * 3) }))
        .collect();
    let sums: Vec<u32> = handles.into_iter().map(|handle| handle.join().unwrap()).collect();
    writeln!(out, "sums {sums:?} depth {}", DEPTH.with(Cell::get)).unwrap();
    for divisor in [4u64, 0, 7] {
        match std::panic::catch_unwind(|| risky(divisor)) {
            Ok(value) => writeln!(out, "1000 / {divisor} = {value}").unwrap(),
            Err(payload) => writeln!(out, "caught: {}", payload.downcast_ref::<String>().unwrap()).unwrap(),
        }
    }
    let table = TABLE.get().unwrap().lock().unwrap();
    writeln!(out, "table {table:?} counter {}", COUNTER.load(Ordering::SeqCst)).unwrap();
    writeln!(out, "floats {:?} {:e} {:>10.4}", [0.1f64, -2.5, f64::MAX], 6.02e23f64, 1.0f32 / 3.0).unwrap();
    print!("{out}");
}
"#;

fn shake(args: &[OsString], output: &Path, report: &Path, parts: usize) -> ShakeReport {
    let config = LinkerConfig {
        report_path: Some(report.to_path_buf()),
        cc: "cc".to_string(),
        lld: None,
        explain: Vec::new(),
        cache: CacheSetting::Off,
        // The full mode keeps std's backtrace printer, so the program is over the size below
        // which code generation is not cut.
        size_mode: SizeMode::Full,
        method_shaking: portkey_report::MethodShaking::On,
        codegen_parts: parts,
    };
    match link(&with_output(args, output), &config).unwrap_or_else(|error| panic!("{parts} parts: {error}")) {
        LinkOutcome::Shaken(report) => *report,
        LinkOutcome::PassedThrough => panic!("expected a shaken link"),
    }
}

fn run(program: &Path) -> (String, String, Option<i32>) {
    let output = Command::new(program)
        .env_clear()
        .output()
        .expect("run linked program");
    let stderr = String::from_utf8_lossy(&output.stderr)
        .lines()
        // std's panic line names the thread id, which differs between runs.
        .filter(|line| !line.starts_with("thread '"))
        .collect::<Vec<_>>()
        .join("\n");
    (
        String::from_utf8_lossy(&output.stdout).into_owned(),
        stderr,
        output.status.code(),
    )
}

#[test]
fn three_parts_print_what_one_part_prints() {
    let dir = tempfile::tempdir().expect("temp dir");
    let args = rustc_link_line(dir.path(), PROGRAM, &["-Cpanic=unwind"]);
    let whole = dir.path().join("program-whole");
    let cut = dir.path().join("program-cut");
    let whole_report = shake(&args, &whole, &dir.path().join("whole.json"), 1);
    let cut_report = shake(&args, &cut, &dir.path().join("cut.json"), 3);

    assert_eq!(whole_report.codegen_parts, 1);
    assert!(
        cut_report.codegen_parts >= 2,
        "the program was not cut: {} parts",
        cut_report.codegen_parts
    );
    assert_eq!(whole_report.fingerprint, cut_report.fingerprint);
    // The report maps the names the cut gave to local symbols back to their own.
    for function in &cut_report.largest_functions {
        assert!(
            !function.mangled.starts_with("__portkey_part_local"),
            "{}",
            function.mangled
        );
    }

    let expected = run(&whole);
    assert_eq!(expected.2, Some(0), "stderr:\n{}", expected.1);
    assert!(expected.0.contains("caught: divisor 0 is zero"), "{}", expected.0);
    assert!(expected.0.contains("counter 106"), "{}", expected.0);
    assert_eq!(run(&cut), expected);
}
