//! Helpers shared by the linker tests: compiling a program with rustc into a real link line,
//! and running the linked program.

use std::ffi::OsString;
use std::path::{Path, PathBuf};
use std::process::Command;

/// Writes a stand-in linker that records its arguments one per line and succeeds without
/// linking, and returns its path with the path of the record.
fn recording_linker(dir: &Path) -> (PathBuf, PathBuf) {
    let script = dir.join("record-args.sh");
    let args_file = dir.join("link-args.txt");
    std::fs::write(
        &script,
        format!(
            "#!/bin/sh\nfor arg in \"$@\"; do printf '%s\\n' \"$arg\"; done > '{}'\n",
            args_file.display()
        ),
    )
    .expect("write recording linker");
    std::fs::set_permissions(&script, std::os::unix::fs::PermissionsExt::from_mode(0o755))
        .expect("make recording linker executable");
    (script, args_file)
}

/// Compiles `source` for the host with bitcode objects, returning the recorded link line.
pub fn rustc_link_line(dir: &Path, source: &str, extra: &[&str]) -> Vec<OsString> {
    let (linker, args_file) = recording_linker(dir);
    let source_path = dir.join("main.rs");
    std::fs::write(&source_path, source).expect("write source");
    let output = Command::new(std::env::var("RUSTC").unwrap_or_else(|_| "rustc".to_string()))
        .current_dir(dir)
        .args(["--edition", "2024", "-Copt-level=s", "-Ccodegen-units=1"])
        .arg("-Clinker-plugin-lto")
        .arg(format!("-Clinker={}", linker.display()))
        .arg("-Clinker-flavor=gcc")
        // Keeps the bitcode objects, which rustc deletes once its linker returns.
        .arg("-Csave-temps")
        .args(extra)
        .arg("-o")
        .arg(dir.join("program"))
        .arg(&source_path)
        .output()
        .expect("run rustc");
    assert!(
        output.status.success(),
        "rustc failed: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    std::fs::read_to_string(&args_file)
        .expect("linker arguments recorded")
        .lines()
        .map(OsString::from)
        .collect()
}

/// Runs a linked program and returns its stdout and exit code.
pub fn run(program: &Path) -> (String, i32) {
    let output = Command::new(program).output().expect("run linked program");
    (
        String::from_utf8_lossy(&output.stdout).into_owned(),
        output.status.code().unwrap_or(-1),
    )
}

/// A program with two trait-object vtables, an exported function nothing calls and exit code 4.
pub const TRAIT_PROGRAM: &str = r#"
trait Speak { fn speak(&self) -> String; }
struct Dog;
struct Cat;
impl Speak for Dog { fn speak(&self) -> String { "woof".to_string() } }
impl Speak for Cat { fn speak(&self) -> String { "meow".to_string() } }

#[unsafe(no_mangle)]
pub extern "C" fn portkey_test_unused(x: u64) -> u64 { x.rotate_left(7) ^ 0x5a5a }

#[inline(never)]
fn pick(index: usize) -> Box<dyn Speak> {
    if index % 2 == 0 { Box::new(Dog) } else { Box::new(Cat) }
}

fn main() {
    let animals: Vec<Box<dyn Speak>> = (0..std::hint::black_box(3)).map(pick).collect();
    for animal in &animals { println!("{}", animal.speak()); }
    std::process::exit(4);
}
"#;

/// Returns the same link arguments with the value of `-o` replaced by `output`, so one link line
/// can be linked into several executables.
pub fn with_output(args: &[OsString], output: &Path) -> Vec<OsString> {
    let mut changed = args.to_vec();
    let position = changed
        .iter()
        .position(|arg| arg == "-o")
        .expect("rustc passes -o");
    changed[position + 1] = output.as_os_str().to_os_string();
    changed
}
