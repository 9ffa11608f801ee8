//! Shim generation for the `fixtures/hello` functions: the files written, rewriting only on
//! change, and `cargo check` of each generated crate against the embedded runtime crate, which
//! proves the generated code compiles for every parameter and result shape.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::SystemTime;

use portkey_lookup::{FoundFunction, LookupRequest, find_function};
use portkey_shim::{ShimOptions, ShimProject, embedded_runtime_files, generate};

fn hello_manifest() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../fixtures/hello/Cargo.toml")
}

fn find(path: &str) -> FoundFunction {
    find_function(&LookupRequest {
        manifest_path: Some(hello_manifest()),
        path: path.to_string(),
    })
    .unwrap_or_else(|error| panic!("{path}: {error}"))
}

fn options_in(dir: &Path) -> ShimOptions {
    ShimOptions {
        output_root: Some(dir.to_path_buf()),
        runtime_dir: None,
    }
}

fn read(path: &Path) -> String {
    std::fs::read_to_string(path).unwrap_or_else(|error| panic!("{}: {error}", path.display()))
}

fn modified(path: &Path) -> SystemTime {
    std::fs::metadata(path)
        .and_then(|metadata| metadata.modified())
        .expect("file has an mtime")
}

/// Returns the cargo target directory shared by the `cargo check` runs, so dependencies build
/// once.
fn check_target_dir() -> PathBuf {
    let base = std::env::var_os("CARGO_TARGET_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| Path::new(env!("CARGO_MANIFEST_DIR")).join("../../target"));
    base.join("shim-check")
}

fn cargo_check(project: &ShimProject) {
    let output = Command::new(std::env::var("CARGO").unwrap_or_else(|_| "cargo".to_string()))
        .args([
            "check",
            "--quiet",
            "--message-format=short",
            "--manifest-path",
        ])
        .arg(&project.manifest_path)
        .env("CARGO_TARGET_DIR", check_target_dir())
        .env_remove("RUSTFLAGS")
        .env_remove("CARGO_ENCODED_RUSTFLAGS")
        .output()
        .expect("cargo runs");
    assert!(
        output.status.success(),
        "cargo check failed for {}:\n{}\n--- main.rs ---\n{}",
        project.manifest_path.display(),
        String::from_utf8_lossy(&output.stderr),
        read(&project.dir.join("src/main.rs")),
    );
}

/// Every hello function, covering each parameter and result shape, and `markdown::to_html`
/// from the registry.
const CHECKED_FUNCTIONS: &[&str] = &[
    "hello::flatter",
    "hello::shout",
    "hello::add",
    "hello::scale",
    "hello::negate",
    "hello::code_point",
    "hello::checksum",
    "hello::sum",
    "hello::countdown",
    "hello::describe",
    "hello::longest",
    "hello::validate",
    "hello::distance",
    "hello::stats",
    "hello::parse_age",
    "hello::find_user",
    "hello::explode",
    "hello::forget",
    "hello::render",
    "hello::reverse",
    "hello::Greeter::greet",
    "markdown::to_html",
];

/// Every `fixtures/types` function: collections, whole and raw bodies, wide integers, `char`,
/// `Cow<str>`, `serde_json::Value` and binary results.
const TYPES_FUNCTIONS: &[&str] = &[
    "types::sum_ids",
    "types::join_tags",
    "types::shift",
    "types::manhattan",
    "types::byte_count",
    "types::reverse_bytes",
    "types::checksum",
    "types::next_char",
    "types::widen",
    "types::char_count",
    "types::greet",
    "types::json_kind",
    "types::bytes_up_to",
    "types::maybe_bytes",
    "types::label",
    "types::bytes_len",
    "types::bytes_reversed",
    "types::create",
    "types::redirect",
    "types::page",
    "types::app",
    "types::app_bytes",
    "types::motto",
    "types::color",
    "types::forget",
    "types::status_of",
    "types::upload",
];

#[test]
fn a_request_handler_needs_an_http_crate() {
    let manifest = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../fixtures/types/Cargo.toml");
    let mut found = find_function(&LookupRequest {
        manifest_path: Some(manifest),
        path: "types::app".to_string(),
    })
    .expect("types::app is found");
    assert!(found.package.http.is_some(), "the fixture depends on http");
    let output = tempfile::tempdir().expect("temporary directory");
    let project = generate(&found, &options_in(output.path())).expect("generates");
    let cargo_toml = read(&project.dir.join("Cargo.toml"));
    assert!(cargo_toml.contains("http = { version = \"="), "{cargo_toml}");
    found.package.http = None;
    let error = generate(&found, &options_in(output.path())).expect_err("no http crate");
    let message = error.to_string();
    assert!(message.contains("`request`"), "{message}");
    assert!(message.contains("add `http = \"1\"` to its [dependencies]"), "{message}");
}

#[test]
fn types_shims_compile_against_the_runtime() {
    let manifest = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../fixtures/types/Cargo.toml");
    let output = tempfile::tempdir().expect("temporary directory");
    for path in TYPES_FUNCTIONS {
        let found = find_function(&LookupRequest {
            manifest_path: Some(manifest.clone()),
            path: path.to_string(),
        })
        .unwrap_or_else(|error| panic!("{path}: {error}"));
        let project = generate(&found, &options_in(output.path()))
            .unwrap_or_else(|error| panic!("{path}: {error}"));
        cargo_check(&project);
    }
}

#[test]
fn generated_shims_compile_against_the_runtime() {
    let output = tempfile::tempdir().expect("temporary directory");
    for path in CHECKED_FUNCTIONS {
        let project = generate(&find(path), &options_in(output.path()))
            .unwrap_or_else(|error| panic!("{path}: {error}"));
        cargo_check(&project);
    }
}

#[test]
fn flatter_shim_files() {
    let output = tempfile::tempdir().expect("temporary directory");
    let found = find("hello::flatter");
    let project = generate(&found, &options_in(output.path())).expect("shim is generated");

    assert_eq!(
        project.dir,
        output.path().join("shims").join("hello-flatter")
    );
    assert_eq!(project.manifest_path, project.dir.join("Cargo.toml"));
    assert_eq!(project.bin_name, "hello-flatter");
    assert_eq!(project.package_name, "portkey-shim-hello-flatter");
    assert!(project.changed);

    let manifest = read(&project.manifest_path);
    let package_dir = hello_manifest()
        .parent()
        .expect("dir")
        .canonicalize()
        .expect("fixture exists");
    let expected_dependency = format!(
        "hello = {{ package = \"hello\", path = \"{}\", default-features = false, features = [] }}",
        found.package.manifest_path.parent().expect("dir").display()
    );
    assert!(manifest.contains(&expected_dependency), "{manifest}");
    assert!(
        found
            .package
            .manifest_path
            .parent()
            .expect("dir")
            .canonicalize()
            .expect("exists")
            == package_dir
    );
    assert!(
        manifest.contains("name = \"hello-flatter\"\npath = \"src/main.rs\""),
        "{manifest}"
    );
    assert!(
        manifest.contains("[profile.release]\npanic = \"unwind\""),
        "{manifest}"
    );
    assert!(manifest.contains("\n[workspace]\n"), "{manifest}");
    let runtime_line = format!(
        "portkey-runtime = {{ path = \"{}\" }}",
        project.runtime_dir.display()
    );
    assert!(manifest.contains(&runtime_line), "{manifest}");
    assert!(
        project
            .runtime_dir
            .starts_with(output.path().join("runtime"))
    );

    let main = read(&project.dir.join("src/main.rs"));
    assert!(main.contains("portkey_runtime::start(handle)"), "{main}");
    assert!(
        main.contains("fn handle(req: &portkey_runtime::Request) -> portkey_runtime::Response"),
        "{main}"
    );
    assert!(
        main.contains("let a0: String = match req.scalar::<String>(\"name\", \"String\")"),
        "{main}"
    );
    assert!(main.contains("let out = hello::flatter(a0);"), "{main}");
    assert!(
        main.contains("portkey_runtime::Response::display(&out)"),
        "{main}"
    );

    let user_lock = read(&found.lock_file);
    assert_eq!(
        read(&project.dir.join("Cargo.lock")),
        user_lock,
        "the user's lock is copied"
    );
}

#[test]
fn runtime_copy_matches_the_runtime_crate() {
    let output = tempfile::tempdir().expect("temporary directory");
    let project =
        generate(&find("hello::flatter"), &options_in(output.path())).expect("shim is generated");
    let runtime_source = Path::new(env!("CARGO_MANIFEST_DIR")).join("../runtime");

    let embedded = embedded_runtime_files();
    let names: Vec<&str> = embedded.iter().map(|(name, _)| *name).collect();
    assert!(names.contains(&"Cargo.toml"), "{names:?}");
    assert!(names.contains(&"src/lib.rs"), "{names:?}");
    for (relative, contents) in embedded {
        assert_eq!(
            read(&runtime_source.join(relative)),
            *contents,
            "embedded {relative} is current"
        );
        assert_eq!(
            read(&project.runtime_dir.join(relative)),
            *contents,
            "written {relative}"
        );
    }
    let source_files = std::fs::read_dir(runtime_source.join("src"))
        .expect("runtime src")
        .count();
    let embedded_src = names.iter().filter(|name| name.starts_with("src/")).count();
    assert!(
        embedded_src >= source_files,
        "every file of crates/runtime/src is embedded"
    );
}

#[test]
fn shapes_bind_as_expected() {
    let output = tempfile::tempdir().expect("temporary directory");
    let cases: &[(&str, &[&str])] = &[
        (
            "hello::shout",
            &[
                "let a0: String = match req.scalar::<String>(\"text\", \"&str\")",
                "hello::shout(&a0)",
            ],
        ),
        (
            "hello::sum",
            &[
                "let a0: Vec<_> = match req.json_or_body(\"values\", \"&[i64]\")",
                "hello::sum(&a0)",
            ],
        ),
        (
            "hello::countdown",
            &[
                "let a0: Option<u32> = match req.optional_scalar::<u32>(\"from\", \"Option<u32>\")",
                "{ use portkey_runtime::respond::*; (&Ret(out)).portkey_respond() }",
            ],
        ),
        (
            "hello::describe",
            &[
                "req.optional_scalar::<String>(\"tag\", \"Option<&str>\")",
                "hello::describe(a0.as_deref())",
            ],
        ),
        (
            "hello::distance",
            &[
                "let a0 = match req.json_or_body(\"point\", \"Point\")",
                "hello::distance(a0)",
            ],
        ),
        (
            "hello::parse_age",
            &[
                "match out { Ok(v0) => portkey_runtime::Response::display(&v0), Err(e) => { use portkey_runtime::respond::*; (&Fail(e)).portkey_fail() } }",
            ],
        ),
        (
            "hello::find_user",
            &[
                "match out { Some(v0) => { use portkey_runtime::respond::*; (&Ret(v0)).portkey_respond() }, None => portkey_runtime::Response::not_found() }",
            ],
        ),
        (
            "hello::forget",
            &["hello::forget(a0);\n    portkey_runtime::Response::no_content()"],
        ),
        (
            "hello::Greeter::greet",
            &[
                "req.optional_scalar::<bool>(\"excited\", \"Option<bool>\")",
                "hello::Greeter::greet(&a0, a1)",
            ],
        ),
        (
            "hello::longest",
            &[
                "let a0: Option<Vec<_>> = match req.optional_json(\"words\", \"Option<&[String]>\")",
                "hello::longest(a0.as_deref())",
                "match out { Some(v0) => portkey_runtime::Response::display(&v0), None => portkey_runtime::Response::not_found() }",
            ],
        ),
        (
            "hello::validate",
            &[
                "let a0: Option<String> = match req.optional_scalar::<String>(\"name\", \"&Option<String>\")",
                "hello::validate(&a0)",
                "Ok(v0) => { let _ = v0; portkey_runtime::Response::no_content() }",
            ],
        ),
        (
            "hello::checksum",
            &[
                "let a0 = match req.json_or_body(\"data\", \"Vec<u8>\")",
                "req.scalar::<u16>(\"seed\", \"u16\")",
            ],
        ),
    ];
    for (path, snippets) in cases {
        let project = generate(&find(path), &options_in(output.path())).expect("shim is generated");
        let main = read(&project.dir.join("src/main.rs"));
        for snippet in *snippets {
            assert!(
                main.contains(snippet),
                "{path}: main.rs lacks {snippet:?}:\n{main}"
            );
        }
    }
}

#[test]
fn types_shapes_bind_as_expected() {
    let manifest = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../fixtures/types/Cargo.toml");
    let output = tempfile::tempdir().expect("temporary directory");
    let cases: &[(&str, &[&str])] = &[
        (
            "types::byte_count",
            &["let a0: Vec<u8> = match req.raw_body(\"body\", \"Vec<u8>\")"],
        ),
        (
            "types::reverse_bytes",
            &[
                "let a0: Vec<u8> = match req.raw_body(\"body\", \"&[u8]\")",
                "types::reverse_bytes(&a0)",
                "portkey_runtime::Response::bytes(200, \"application/octet-stream\", Vec::<u8>::from(out))",
            ],
        ),
        (
            "types::manhattan",
            &[
                "match req.json_or_body(\"point\", \"&Point\")",
                "types::manhattan(&a0)",
            ],
        ),
        (
            "types::char_count",
            &[
                "let a0: String = match req.scalar::<String>(\"text\", \"Cow<'_, str>\")",
                "types::char_count(std::borrow::Cow::Owned(a0))",
            ],
        ),
        (
            "types::greet",
            &[
                "let a0: Option<String> = match req.optional_scalar::<String>(\"name\"",
                "types::greet(a0.map(std::borrow::Cow::Owned))",
            ],
        ),
        (
            "types::maybe_bytes",
            &[
                "Some(v0) => portkey_runtime::Response::bytes(200, \"application/octet-stream\", Vec::<u8>::from(v0))",
            ],
        ),
        (
            "types::label",
            &["{ use portkey_runtime::respond::*; (&Ret(out)).portkey_respond() }"],
        ),
    ];
    for (path, snippets) in cases {
        let found = find_function(&LookupRequest {
            manifest_path: Some(manifest.clone()),
            path: path.to_string(),
        })
        .unwrap_or_else(|error| panic!("{path}: {error}"));
        let project = generate(&found, &options_in(output.path())).expect("shim is generated");
        let main = read(&project.dir.join("src/main.rs"));
        for snippet in *snippets {
            assert!(
                main.contains(snippet),
                "{path}: main.rs lacks {snippet:?}:\n{main}"
            );
        }
    }
}

#[test]
fn registry_package_is_pinned_to_its_version() {
    let output = tempfile::tempdir().expect("temporary directory");
    let found = find("markdown::to_html");
    let project = generate(&found, &options_in(output.path())).expect("shim is generated");
    let manifest = read(&project.manifest_path);
    let expected = format!(
        "markdown = {{ package = \"markdown\", version = \"={}\", default-features = false, features = [\"default\"] }}",
        found.package.version
    );
    assert!(manifest.contains(&expected), "{manifest}");
}

#[test]
fn unchanged_shim_is_not_rewritten() {
    let output = tempfile::tempdir().expect("temporary directory");
    let found = find("hello::add");
    let first = generate(&found, &options_in(output.path())).expect("shim is generated");
    assert!(first.changed);
    let main_path = first.dir.join("src/main.rs");
    let files = [
        first.manifest_path.clone(),
        main_path.clone(),
        first.dir.join("Cargo.lock"),
        first.runtime_dir.join("src/lib.rs"),
    ];
    let before: Vec<SystemTime> = files.iter().map(|file| modified(file)).collect();
    std::thread::sleep(std::time::Duration::from_millis(20));

    let second = generate(&found, &options_in(output.path())).expect("shim is generated again");
    assert!(!second.changed, "nothing changed, so nothing is written");
    let after: Vec<SystemTime> = files.iter().map(|file| modified(file)).collect();
    assert_eq!(before, after);

    std::fs::write(&main_path, "// edited by hand\n").expect("main.rs is writable");
    let third = generate(&found, &options_in(output.path())).expect("shim is regenerated");
    assert!(third.changed);
    assert!(read(&main_path).contains("hello::add(a0, a1)"));
}

#[test]
fn shim_lock_kept_until_user_lock_changes() {
    let output = tempfile::tempdir().expect("temporary directory");
    let found = find("hello::negate");
    let project = generate(&found, &options_in(output.path())).expect("shim is generated");
    cargo_check(&project);
    let shim_lock = read(&project.dir.join("Cargo.lock"));
    assert!(
        shim_lock.contains("name = \"portkey-shim-hello-negate\""),
        "cargo added the shim to its lock"
    );

    let again = generate(&found, &options_in(output.path())).expect("shim is generated again");
    assert!(
        !again.changed,
        "the user's lock did not change, so the shim's lock is kept"
    );
    assert_eq!(read(&project.dir.join("Cargo.lock")), shim_lock);

    // A different user lock (simulated by pointing at another file) is copied again.
    let other_lock = output.path().join("other.lock");
    std::fs::write(&other_lock, read(&found.lock_file)).expect("writable");
    let mut moved = found.clone();
    moved.lock_file = other_lock;
    std::fs::write(project.dir.join("portkey-lock-source.sha256"), "stale").expect("writable");
    let refreshed = generate(&moved, &options_in(output.path())).expect("shim is generated");
    assert!(refreshed.changed);
    assert_eq!(
        read(&project.dir.join("Cargo.lock")),
        read(&found.lock_file)
    );
}

#[test]
fn default_location_is_the_user_target_dir() {
    let found = find("hello::code_point");
    let project = generate(&found, &ShimOptions::default()).expect("shim is generated");
    assert_eq!(
        project.dir,
        found
            .target_dir
            .join("portkey")
            .join("shims")
            .join("hello-code_point")
    );
    assert!(
        project
            .runtime_dir
            .starts_with(found.target_dir.join("portkey").join("runtime"))
    );
    let package_src = found
        .package
        .manifest_path
        .parent()
        .expect("dir")
        .join("src");
    assert!(
        !project.dir.starts_with(&package_src),
        "never inside the user's sources"
    );
}
