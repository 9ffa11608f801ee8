//! Failures of `build_image` and of the toolchain check, each with the message a user acts on.

use std::path::{Path, PathBuf};

use portkey_builder::{
    ARM64_TRIPLE, ActiveToolchain, BuildError, BuildOptions, RecordedToolchain, TargetChoice,
    ToolchainError, add_target_with, build_image, check_toolchain_in, compare_toolchains,
    recorded_toolchain, resolve_target, rust_lld,
};

#[test]
fn active_toolchain_matches_recorded() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR"));
    let active = check_toolchain_in(dir).unwrap_or_else(|error| panic!("{error}"));
    assert_eq!(active.rustc_release, recorded_toolchain().rustc_release);
    assert!(recorded_toolchain().libllvm.is_file());
}

fn recorded(libllvm: PathBuf) -> RecordedToolchain {
    RecordedToolchain {
        rustc_release: "1.95.0".to_string(),
        rustc_commit: "59807616e1fa2540724bfbac14d7976d7e4a3860".to_string(),
        llvm_version: "22.1.2".to_string(),
        libllvm,
    }
}

fn active(release: &str, commit: &str, llvm: &str) -> ActiveToolchain {
    ActiveToolchain {
        rustc_release: release.to_string(),
        rustc_commit: commit.to_string(),
        llvm_version: llvm.to_string(),
    }
}

#[test]
fn toolchain_mismatch_says_what_to_run() {
    let existing = tempfile::NamedTempFile::new().expect("temp file");
    let recorded = recorded(existing.path().to_path_buf());
    let commit = recorded.rustc_commit.clone();
    let cases = [
        active("1.96.0", &commit, "22.1.2"),
        active(
            "1.95.0",
            "0000000000000000000000000000000000000000",
            "22.1.2",
        ),
        active("1.95.0", &commit, "22.1.5"),
    ];
    for case in cases {
        let error = compare_toolchains(&recorded, &case).expect_err("mismatch");
        let text = error.to_string();
        assert!(matches!(error, ToolchainError::Mismatch { .. }), "{text}");
        assert!(text.contains("cargo install --path"), "{text}");
        assert!(text.contains(&case.rustc_release), "{text}");
    }
    compare_toolchains(&recorded, &active("1.95.0", &commit, "22.1.2")).expect("same toolchain");
}

#[test]
fn removed_library_says_what_to_run() {
    let recorded = recorded(PathBuf::from(
        "/nonexistent/libLLVM.so.22.1-rust-1.95.0-stable",
    ));
    let error = compare_toolchains(
        &recorded,
        &active("1.95.0", &recorded.rustc_commit, "22.1.2"),
    )
    .expect_err("library missing");
    let text = error.to_string();
    assert!(
        matches!(error, ToolchainError::LibraryMissing { .. }),
        "{text}"
    );
    assert!(text.contains("/nonexistent/libLLVM.so"), "{text}");
    assert!(text.contains("cargo install --path"), "{text}");
}

#[test]
fn missing_target_std_says_what_to_add() {
    let empty_sysroot = tempfile::tempdir().expect("temp dir");
    let error = resolve_target(TargetChoice::Musl, empty_sysroot.path()).expect_err("no musl std");
    let text = error.to_string();
    assert!(
        text.contains("rustup target add x86_64-unknown-linux-musl"),
        "{text}"
    );
    let error =
        resolve_target(TargetChoice::Auto, empty_sysroot.path()).expect_err("no std at all");
    assert!(
        error.to_string().contains("x86_64-unknown-linux-gnu"),
        "{error}"
    );
}

#[test]
fn failed_target_add_names_the_target_and_the_command() {
    let dir = tempfile::tempdir().expect("temp dir");
    for rustup in ["false", "/nonexistent/rustup"] {
        let error = add_target_with(rustup, ARM64_TRIPLE, dir.path()).expect_err("cannot add");
        let text = error.to_string();
        assert!(text.contains(rustup), "{text}");
        assert!(
            text.contains("rustup target add aarch64-unknown-linux-musl"),
            "{text}"
        );
    }
}

#[test]
fn missing_rust_lld_is_explained() {
    let empty_sysroot = tempfile::tempdir().expect("temp dir");
    let error = rust_lld(empty_sysroot.path()).expect_err("no rust-lld");
    let text = error.to_string();
    assert!(text.contains("rust-lld"), "{text}");
    assert!(text.contains("machine's own architecture"), "{text}");
    let error = resolve_target(TargetChoice::Arm64, empty_sysroot.path()).expect_err("no std");
    assert!(
        error
            .to_string()
            .contains("rustup target add aarch64-unknown-linux-musl"),
        "{error}"
    );
}

#[test]
fn missing_linker_is_reported_before_cargo_runs() {
    let dir = tempfile::tempdir().expect("temp dir");
    let manifest = dir.path().join("Cargo.toml");
    std::fs::write(&manifest, "[package]\nname = \"x\"\nversion = \"0.1.0\"\n")
        .expect("write manifest");
    let options = BuildOptions::new(
        &manifest,
        "x",
        dir.path().join("target"),
        dir.path().join("no-ld"),
    );
    let error = build_image(&options).expect_err("linker missing");
    assert!(matches!(error, BuildError::LinkerMissing { .. }), "{error}");
    assert!(error.to_string().contains("no-ld"), "{error}");
}

#[test]
fn compile_error_carries_compiler_text() {
    let dir = tempfile::tempdir().expect("temp dir");
    let manifest = dir.path().join("Cargo.toml");
    std::fs::write(
        &manifest,
        "[package]\nname = \"broken\"\nversion = \"0.1.0\"\nedition = \"2024\"\n\n[workspace]\n",
    )
    .expect("write manifest");
    std::fs::create_dir_all(dir.path().join("src")).expect("create src");
    std::fs::write(
        dir.path().join("src/main.rs"),
        "fn main() { let x: u32 = \"text\"; }\n",
    )
    .expect("write source");
    // Any existing file passes the linker check; compilation fails before any link.
    let options = BuildOptions::new(&manifest, "broken", dir.path().join("target"), &manifest);
    let error = build_image(&options).expect_err("type error");
    let BuildError::Cargo {
        compiler_errors, ..
    } = &error
    else {
        panic!("expected a cargo error, got {error}");
    };
    assert!(
        compiler_errors.contains("error[E0308]"),
        "{compiler_errors}"
    );
    assert!(error.to_string().contains("broken"), "{error}");
}

#[test]
fn build_hint_names_the_missing_trait() {
    let cases = [
        (
            "no method named `portkey_respond` found for reference",
            "serde::Serialize",
        ),
        ("the method `portkey_fail` exists for reference", "`Debug`"),
        (
            "the trait bound `Opaque: DeserializeOwned` is not satisfied",
            "#[derive(serde::Deserialize)]",
        ),
        (
            "the trait `Deserialize<'de>` is not implemented for `Opaque`",
            "#[derive(serde::Deserialize)]",
        ),
        (
            "the trait bound `Opaque: FromStr` is not satisfied",
            "FromStr",
        ),
    ];
    for (stderr, expected) in cases {
        let hint =
            portkey_builder::build_hint(stderr).unwrap_or_else(|| panic!("no hint for {stderr}"));
        assert!(hint.contains(expected), "{stderr}: {hint}");
    }
    assert_eq!(
        portkey_builder::build_hint("error[E0425]: cannot find value `x`"),
        None
    );
}

#[test]
fn build_hint_names_musl_tools() {
    let stderr = "error occurred in cc-rs: failed to find tool \"x86_64-linux-musl-gcc\": No such file or directory";
    let hint = portkey_builder::build_hint(stderr).expect("a hint for a missing musl compiler");
    assert!(hint.contains("musl-tools"), "{hint}");
}
