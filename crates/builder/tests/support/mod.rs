//! Helpers shared by the differential tests: where the workspace and the test scratch folder
//! are, how `portkey-ld` is obtained, and how a fixture is built with plain cargo for the same
//! target as a shaken image.
//!
//! `portkey-ld` comes from `PORTKEY_LD` when set, otherwise it is built once per test binary
//! with `cargo build -p portkey-cli --bin portkey-ld` into a separate target folder (the outer
//! `cargo test` holds the lock of its own).

// Each test binary compiles this module and uses a different part of it.
#![allow(dead_code)]

use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::OnceLock;

use portkey_builder::ImageTarget;

/// Root of the cargo workspace.
pub fn workspace_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../..")
        .canonicalize()
        .expect("workspace root exists")
}

/// Scratch space next to this test binary: `<target>/portkey-tests`.
pub fn scratch_dir() -> PathBuf {
    let exe = std::env::current_exe().expect("test binary path");
    // <target>/debug/deps/<test binary>
    let target = exe
        .parent()
        .and_then(Path::parent)
        .and_then(Path::parent)
        .expect("test binary lives in <target>/<profile>/deps");
    target.join("portkey-tests")
}

/// Returns the cargo that runs these tests, or `cargo` from `PATH`.
pub fn cargo() -> String {
    std::env::var("CARGO").unwrap_or_else(|_| "cargo".to_string())
}

/// Returns the `portkey-ld` executable, building it on the first call of this test binary.
pub fn portkey_ld() -> PathBuf {
    static PORTKEY_LD: OnceLock<PathBuf> = OnceLock::new();
    PORTKEY_LD.get_or_init(build_portkey_ld).clone()
}

fn build_portkey_ld() -> PathBuf {
    if let Some(path) = std::env::var_os("PORTKEY_LD") {
        return PathBuf::from(path);
    }
    let target_dir = scratch_dir().join("portkey-ld-build");
    let status = Command::new(cargo())
        .args([
            "build",
            "--quiet",
            "-p",
            "portkey-cli",
            "--bin",
            "portkey-ld",
            "--manifest-path",
        ])
        .arg(workspace_root().join("Cargo.toml"))
        .env("CARGO_TARGET_DIR", &target_dir)
        .status()
        .expect("run cargo build for portkey-ld");
    assert!(status.success(), "building portkey-ld failed");
    target_dir.join("debug").join("portkey-ld")
}

/// Builds binary `bin` of `manifest` with plain cargo (release, no rustc flags but the ones the
/// target needs to link statically like the shaken image) and returns the executable's path.
/// The manifest's own `[profile.release]` applies, so a fixture chooses its panic strategy there.
pub fn normal_build(manifest: &Path, bin: &str, target_dir: &Path, target: ImageTarget) -> PathBuf {
    let mut command = Command::new(cargo());
    command
        .args([
            "build",
            "--quiet",
            "--release",
            "--target",
            target.triple(),
            "--bin",
            bin,
            "--manifest-path",
        ])
        .arg(manifest)
        .env("CARGO_TARGET_DIR", target_dir)
        .env_remove("RUSTFLAGS")
        .env_remove("CARGO_BUILD_RUSTFLAGS");
    if target == ImageTarget::GnuStatic {
        command.env("CARGO_ENCODED_RUSTFLAGS", "-Ctarget-feature=+crt-static");
    } else {
        command.env_remove("CARGO_ENCODED_RUSTFLAGS");
    }
    let status = command.status().expect("run cargo build");
    assert!(
        status.success(),
        "normal build of {bin} ({}) failed",
        manifest.display()
    );
    target_dir.join(target.triple()).join("release").join(bin)
}
