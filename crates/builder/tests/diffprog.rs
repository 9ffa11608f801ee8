//! End-to-end builds of the diff fixture (`fixtures/diffprog`), once with plain cargo and once
//! through `portkey-ld` with `build_image`. Both executables then run side by side and must
//! print the same stdout and stderr, write the same files and exit with the same code.
//!
//! `portkey-ld` comes from `PORTKEY_LD` when set, otherwise `support` builds it.

mod support;

use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::sync::OnceLock;

use portkey_builder::{
    BuildOptions, BuiltImage, TargetChoice, build_image, resolve_target, sysroot,
};
use portkey_report::Verdict;

use support::{normal_build, portkey_ld, scratch_dir, workspace_root};

struct Builds {
    normal: PathBuf,
    shaken: BuiltImage,
}

/// Builds the fixture both ways once for all tests of this binary.
fn builds() -> &'static Builds {
    static BUILDS: OnceLock<Builds> = OnceLock::new();
    BUILDS.get_or_init(|| {
        let manifest = workspace_root().join("fixtures/diffprog/Cargo.toml");
        let scratch = scratch_dir();
        let target = resolve_target(
            TargetChoice::Auto,
            &sysroot(&workspace_root()).expect("sysroot"),
        )
        .expect("musl or glibc std installed");

        let mut options = BuildOptions::new(
            &manifest,
            "diffprog",
            scratch.join("diffprog-shaken"),
            portkey_ld(),
        );
        options.output_dir = scratch.join("diffprog-image");
        options.explain = vec![
            "diffprog_never_called".to_string(),
            "diffprog::render_shapes".to_string(),
            "<diffprog::Circle as diffprog::Shape>::area".to_string(),
        ];
        let shaken =
            build_image(&options).unwrap_or_else(|error| panic!("shaken build failed: {error}"));
        assert_eq!(shaken.target, target);

        let normal = normal_build(
            &manifest,
            "diffprog",
            &scratch.join("diffprog-normal"),
            target,
        );
        Builds { normal, shaken }
    })
}

/// Runs a build of the fixture in a fresh folder and returns its output and the files it wrote.
fn run_fixture(program: &Path) -> (Output, Vec<(String, Vec<u8>)>) {
    let dir = tempfile::tempdir().expect("temp dir");
    let output = Command::new(program)
        .env("DIFFPROG_NAME", "portkey")
        .env("DIFFPROG_DIR", dir.path())
        .env_remove("RUST_BACKTRACE")
        .env_remove("RUST_LIB_BACKTRACE")
        .output()
        .expect("run diffprog");
    let mut files: Vec<(String, Vec<u8>)> = std::fs::read_dir(dir.path())
        .expect("list output folder")
        .map(|entry| {
            let entry = entry.expect("folder entry");
            let bytes = std::fs::read(entry.path()).expect("read written file");
            (entry.file_name().to_string_lossy().into_owned(), bytes)
        })
        .collect();
    files.sort();
    (output, files)
}

#[test]
fn shaken_diffprog_matches_normal_build() {
    let builds = builds();
    let (normal, normal_files) = run_fixture(&builds.normal);
    let (shaken, shaken_files) = run_fixture(&builds.shaken.bootstrap);

    assert_eq!(normal.status.code(), Some(3), "normal build exit status");
    assert_eq!(shaken.status.code(), normal.status.code());
    assert_eq!(
        String::from_utf8_lossy(&shaken.stdout),
        String::from_utf8_lossy(&normal.stdout)
    );
    assert_eq!(
        String::from_utf8_lossy(&shaken.stderr),
        String::from_utf8_lossy(&normal.stderr)
    );
    assert_eq!(shaken_files, normal_files);
    assert!(
        String::from_utf8_lossy(&normal.stdout).contains("thread panic joined: true"),
        "fixture output is incomplete"
    );
}

#[test]
fn shaken_image_keeps_reachable_code() {
    let report = &builds().shaken.report;
    assert_eq!(report.entry, "main");
    assert!(report.kept_function("main").is_some());
    assert!(report.kept_function("diffprog::render_shapes").is_some());

    let render = report
        .explanation("diffprog::render_shapes")
        .expect("explained");
    assert_eq!(render.verdict, Verdict::Kept);
    let chain: Vec<&str> = render
        .kept_because
        .iter()
        .map(|link| link.symbol.as_str())
        .collect();
    assert_eq!(chain.first(), Some(&"main"), "chain {chain:?}");
    assert_eq!(
        chain.last(),
        Some(&"diffprog::render_shapes"),
        "chain {chain:?}"
    );

    let area = report
        .explanation("<diffprog::Circle as diffprog::Shape>::area")
        .expect("explained");
    assert_eq!(
        area.verdict,
        Verdict::Kept,
        "vtable slots keep trait methods"
    );
}

#[test]
fn shaken_image_removes_uncalled_function() {
    let report = &builds().shaken.report;
    let unused = report
        .explanation("diffprog_never_called")
        .expect("explained");
    // Removed, not absent: the function was in the bitcode and the shaker deleted it.
    assert_eq!(unused.verdict, Verdict::Removed);
    assert!(report.kept_function("diffprog_never_called").is_none());
    assert!(
        report.functions.removed > report.functions.kept,
        "{:?}",
        report.functions
    );
}

#[test]
fn built_image_is_a_stripped_executable() {
    use std::os::unix::fs::PermissionsExt;
    let builds = builds();
    let bootstrap = &builds.shaken.bootstrap;
    assert_eq!(
        bootstrap.file_name().and_then(|n| n.to_str()),
        Some("bootstrap")
    );
    let mode = std::fs::metadata(bootstrap)
        .expect("bootstrap exists")
        .permissions()
        .mode();
    assert_eq!(mode & 0o777, 0o755);
    let bytes = std::fs::read(bootstrap).expect("read bootstrap");
    assert_eq!(bytes.len() as u64, builds.shaken.report.binary_bytes);
    use object::Object;
    let file = object::File::parse(&*bytes).expect("ELF executable");
    assert!(
        file.symbol_table().is_none(),
        "bootstrap still has a .symtab"
    );
    assert_eq!(
        builds.shaken.report.target_triple,
        builds.shaken.target.triple()
    );
}

#[test]
fn new_linker_relinks_unchanged_program() {
    let first = &builds().shaken;
    let scratch = scratch_dir();
    // A copy is a different linker to the build: same bytes, new modification time.
    let copy = scratch.join("portkey-ld-copy");
    std::fs::copy(portkey_ld(), &copy).expect("copy portkey-ld");

    let manifest = workspace_root().join("fixtures/diffprog/Cargo.toml");
    let mut options = BuildOptions::new(
        &manifest,
        "diffprog",
        scratch.join("diffprog-shaken"),
        copy.clone(),
    );
    options.output_dir = scratch.join("diffprog-image-relinked");
    let again = build_image(&options).unwrap_or_else(|error| panic!("rebuild failed: {error}"));

    let stamp = portkey_report::executable_stamp(&copy);
    assert!(!stamp.is_empty());
    assert_eq!(again.report.linker_stamp, stamp);
    assert_ne!(first.report.linker_stamp, stamp);
    assert_eq!(again.report.fingerprint, first.report.fingerprint);
}
