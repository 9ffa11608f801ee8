//! The linker step run in-process on real link lines: rustc compiles a program with
//! `-C linker-plugin-lto` and a stand-in linker that records its arguments, then
//! `portkey_shaker::link` shakes and links those exact arguments with the real LLVM and `cc`.

// The helpers serve several test files; this one does not use `with_output`.
#[allow(dead_code)]
mod support;

use std::ffi::OsString;
use std::path::{Path, PathBuf};
use std::process::Command;

use portkey_report::{SHAKEN_OBJECT_ORIGIN, Verdict};
use portkey_shaker::{CacheSetting, LinkOutcome, LinkerConfig, ShakeError, link};
use support::{TRAIT_PROGRAM, run, rustc_link_line};

fn config(report: Option<PathBuf>, explain: &[&str]) -> LinkerConfig {
    LinkerConfig {
        report_path: report,
        cc: "cc".to_string(),
        lld: None,
        explain: explain.iter().map(|name| name.to_string()).collect(),
        cache: CacheSetting::Off,
        size_mode: portkey_report::SizeMode::Full,
        method_shaking: portkey_report::MethodShaking::On,
        codegen_parts: 2,
    }
}

#[test]
fn shaken_program_runs_like_rustc_built() {
    let dir = tempfile::tempdir().expect("temp dir");
    let args = rustc_link_line(dir.path(), TRAIT_PROGRAM, &[]);
    let report_path = dir.path().join("report.json");
    let outcome = link(
        &args,
        &config(
            Some(report_path.clone()),
            &["portkey_test_unused", "main::pick"],
        ),
    )
    .expect("shaker links the program");
    let LinkOutcome::Shaken(report) = outcome else {
        panic!("expected a shaken link, got {outcome:?}");
    };

    let (stdout, code) = run(&dir.path().join("program"));
    assert_eq!(stdout, "woof\nmeow\nwoof\n");
    assert_eq!(code, 4);

    assert!(report.functions.removed > 0, "{:?}", report.functions);
    assert!(report.functions.kept > 0, "{:?}", report.functions);
    assert!(report.binary_bytes > 0);
    assert!(report.object_bytes > 0);
    let unused = report
        .explanation("portkey_test_unused")
        .expect("explained");
    assert_eq!(unused.verdict, Verdict::Removed);
    let pick = report.explanation("main::pick").expect("explained");
    assert_eq!(pick.verdict, Verdict::Kept);
    assert_eq!(
        pick.kept_because.first().map(|link| link.symbol.as_str()),
        Some("main")
    );
    assert!(report.kept_function("portkey_test_unused").is_none());

    let written = std::fs::read_to_string(&report_path).expect("report written");
    let parsed = portkey_report::ShakeReport::from_json(&written).expect("report parses");
    assert_eq!(parsed, *report);
}

#[test]
fn shaken_program_is_stripped() {
    let dir = tempfile::tempdir().expect("temp dir");
    let args = rustc_link_line(dir.path(), TRAIT_PROGRAM, &[]);
    link(&args, &config(None, &[])).expect("shaker links the program");
    let bytes = std::fs::read(dir.path().join("program")).expect("program written");
    let file = object::File::parse(&*bytes).expect("ELF executable");
    use object::Object;
    assert!(
        file.symbol_table().is_none(),
        "the executable still has a .symtab"
    );
}

const C_CALLS_RUST: &str = r#"
unsafe extern "C" { fn c_entry(value: i32) -> i32; }

/// Called only from C, so only the native object's undefined symbol keeps it.
#[unsafe(no_mangle)]
pub extern "C" fn rust_callback(value: i32) -> i32 { value * 3 + 1 }

fn main() {
    let result = unsafe { c_entry(std::hint::black_box(5)) };
    println!("c_entry(5) = {result}");
}
"#;

/// Compiles `entry.o` in `dir`: a C function `c_entry` that calls `rust_callback`.
fn compile_c_entry(dir: &Path) -> PathBuf {
    let c_source = dir.join("entry.c");
    std::fs::write(
        &c_source,
        "int rust_callback(int);\nint c_entry(int value) { return rust_callback(value) + 100; }\n",
    )
    .expect("write C source");
    let c_object = dir.join("entry.o");
    let status = Command::new("cc")
        .args(["-c", "-fPIC", "-O1", "-o"])
        .arg(&c_object)
        .arg(&c_source)
        .status()
        .expect("run cc");
    assert!(status.success(), "cc failed");
    c_object
}

#[test]
fn symbols_called_from_native_code_are_kept() {
    let dir = tempfile::tempdir().expect("temp dir");
    let link_arg = format!("-Clink-arg={}", compile_c_entry(dir.path()).display());
    let args = rustc_link_line(dir.path(), C_CALLS_RUST, &[&link_arg]);
    let outcome = link(&args, &config(None, &["rust_callback"])).expect("shaker links the program");
    let LinkOutcome::Shaken(report) = outcome else {
        panic!("expected a shaken link, got {outcome:?}");
    };
    let callback = report.explanation("rust_callback").expect("explained");
    assert_eq!(callback.verdict, Verdict::Kept);
    assert_eq!(
        callback.kept_because.first().map(|link| link.edge.as_str()),
        Some("root (native reference)")
    );
    let (stdout, code) = run(&dir.path().join("program"));
    assert_eq!(stdout, "c_entry(5) = 116\n");
    assert_eq!(code, 0);
}

#[test]
fn layout_accounts_for_every_byte() {
    let dir = tempfile::tempdir().expect("temp dir");
    let link_arg = format!("-Clink-arg={}", compile_c_entry(dir.path()).display());
    let args = rustc_link_line(dir.path(), C_CALLS_RUST, &[&link_arg]);
    let outcome = link(&args, &config(None, &[])).expect("shaker links the program");
    let LinkOutcome::Shaken(report) = outcome else {
        panic!("expected a shaken link, got {outcome:?}");
    };
    assert!(report.warnings.is_empty(), "{:?}", report.warnings);
    let layout = report.layout.as_ref().expect("layout measured");

    let file_bytes = std::fs::metadata(dir.path().join("program"))
        .expect("program written")
        .len();
    let in_sections: u64 = layout
        .sections
        .iter()
        .map(|section| section.file_bytes)
        .sum();
    assert_eq!(in_sections + layout.headers_and_padding, file_bytes);
    assert_eq!(report.binary_bytes, file_bytes);

    let text = layout
        .sections
        .iter()
        .find(|section| section.name == ".text")
        .expect(".text listed");
    assert!(text.shaken_bytes > 0, "{text:?}");
    assert!(text.native_bytes > 0, "{text:?}");

    // Symbol bytes in the file and the bytes no symbol covers make up the file too.
    let symbol_bytes: u64 = layout.origins.iter().map(|origin| origin.bytes).sum();
    let unnamed_in_file: u64 = layout
        .sections
        .iter()
        .filter(|section| section.file_bytes > 0)
        .map(|section| section.unnamed_bytes)
        .sum();
    assert_eq!(symbol_bytes + unnamed_in_file + layout.headers_and_padding, file_bytes);

    let origin = |name: &str| layout.origins.iter().find(|origin| origin.origin == name);
    let shaken = origin(SHAKEN_OBJECT_ORIGIN).expect("shaken object listed");
    assert!(shaken.bytes > 0, "{shaken:?}");
    let entry = origin("entry.o").expect("the C object listed");
    assert_eq!(entry.symbols, 1, "{entry:?}");
}

#[test]
fn native_only_link_passes_through() {
    let dir = tempfile::tempdir().expect("temp dir");
    let c_source = dir.path().join("hello.c");
    std::fs::write(
        &c_source,
        "#include <stdio.h>\nint main(void) { puts(\"native\"); return 2; }\n",
    )
    .expect("write C source");
    let object = dir.path().join("hello.o");
    let status = Command::new("cc")
        .args(["-c", "-o"])
        .arg(&object)
        .arg(&c_source)
        .status()
        .expect("run cc");
    assert!(status.success(), "cc failed");
    let program = dir.path().join("hello");
    let args: Vec<OsString> = vec![object.clone().into(), "-o".into(), program.clone().into()];

    let outcome = link(&args, &config(None, &[])).expect("transparent link");
    assert!(matches!(outcome, LinkOutcome::PassedThrough), "{outcome:?}");
    assert_eq!(run(&program), ("native\n".to_string(), 2));

    let report = dir.path().join("report.json");
    let error = link(&args, &config(Some(report.clone()), &[])).expect_err("no bitcode");
    assert!(matches!(error, ShakeError::NoBitcode), "{error}");
    assert!(
        error.to_string().contains("-C linker-plugin-lto"),
        "{error}"
    );
    assert!(!report.exists());
}

#[test]
fn corrupt_bitcode_names_the_file() {
    let dir = tempfile::tempdir().expect("temp dir");
    let broken = dir.path().join("broken.rcgu.o");
    let mut bytes = b"BC\xC0\xDE".to_vec();
    bytes.extend(std::iter::repeat_n(0x55u8, 64));
    std::fs::write(&broken, bytes).expect("write broken bitcode");
    let args: Vec<OsString> = vec![
        broken.clone().into(),
        "-o".into(),
        dir.path().join("out").into(),
    ];
    let error = link(&args, &config(None, &[])).expect_err("bitcode is corrupt");
    assert!(matches!(error, ShakeError::ParseBitcode { .. }), "{error}");
    assert!(error.to_string().contains("broken.rcgu.o"), "{error}");
}

#[test]
fn missing_input_names_the_file() {
    let dir = tempfile::tempdir().expect("temp dir");
    let args: Vec<OsString> = vec![
        dir.path().join("absent.o").into(),
        "-o".into(),
        dir.path().join("out").into(),
    ];
    let error =
        link(&args, &config(Some(dir.path().join("r.json")), &[])).expect_err("input missing");
    assert!(error.to_string().contains("absent.o"), "{error}");
}

#[test]
fn call_graph_is_written_beside_report() {
    let dir = tempfile::tempdir().expect("temp dir");
    let args = rustc_link_line(dir.path(), TRAIT_PROGRAM, &[]);
    let report_path = dir.path().join("reports").join("program.json");
    link(&args, &config(Some(report_path.clone()), &[])).expect("shaker links the program");

    let graph_path = dir.path().join("reports").join("program.callgraph");
    let graph = portkey_callgraph::CallGraph::load(&graph_path).expect("call graph written");
    let index = portkey_callgraph::SymbolIndex::new(&graph);
    let tree = graph.shortest_paths();
    let speak = portkey_report::explain(&index, &tree, "<main::Dog as main::Speak>::speak");
    assert_eq!(speak.verdict, Verdict::Kept);
    let edges: Vec<&str> = speak
        .kept_because
        .iter()
        .map(|link| link.edge.as_str())
        .collect();
    assert_eq!(edges.first(), Some(&"root (entry)"), "{edges:?}");
    assert_eq!(
        edges.last(),
        Some(&"vtable slot"),
        "a trait method is kept by its vtable: {:?}",
        speak.kept_because
    );
    let unused = portkey_report::explain(&index, &tree, "portkey_test_unused");
    assert_eq!(unused.verdict, Verdict::Removed);
}
