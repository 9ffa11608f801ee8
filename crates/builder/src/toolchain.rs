//! Checks that the active Rust toolchain is the one portkey was built with. `portkey-ld` links
//! the sysroot's libLLVM by path and reads the bitcode of the active rustc; after a
//! `rustup update` the library may be gone (the dynamic loader would stop portkey-ld before it
//! could report why) or the bitcode may be newer than the reader. This check runs first and says
//! what to run instead.

use std::path::{Path, PathBuf};
use std::process::Command;

/// Toolchain values recorded when portkey was built.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RecordedToolchain {
    pub rustc_release: String,
    pub rustc_commit: String,
    pub llvm_version: String,
    /// libLLVM file that `portkey-ld` loads; empty when none was found at build time.
    pub libllvm: PathBuf,
}

/// Returns the values this build of portkey recorded.
pub fn recorded_toolchain() -> RecordedToolchain {
    RecordedToolchain {
        rustc_release: env!("PORTKEY_BUILT_RUSTC_RELEASE").to_string(),
        rustc_commit: env!("PORTKEY_BUILT_RUSTC_COMMIT").to_string(),
        llvm_version: env!("PORTKEY_BUILT_LLVM_VERSION").to_string(),
        libllvm: PathBuf::from(env!("PORTKEY_BUILT_LIBLLVM")),
    }
}

/// Returns the command that rebuilds portkey for the active toolchain.
pub fn reinstall_command() -> String {
    format!("cargo install --path {} --force", env!("PORTKEY_CLI_DIR"))
}

/// The active toolchain as `rustc -vV` reports it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ActiveToolchain {
    pub rustc_release: String,
    pub rustc_commit: String,
    pub llvm_version: String,
}

/// Reason portkey cannot build with the active toolchain.
#[derive(Debug, thiserror::Error)]
pub enum ToolchainError {
    #[error("cannot run `{rustc} -vV` in {dir}: {source}; install Rust with rustup")]
    Spawn {
        rustc: String,
        dir: PathBuf,
        source: std::io::Error,
    },
    #[error("`{rustc} -vV` failed in {dir}: {stderr}")]
    Failed {
        rustc: String,
        dir: PathBuf,
        stderr: String,
    },
    #[error("`{rustc} -vV` printed no `{field}` line; is `{rustc}` a Rust compiler?")]
    MissingField { rustc: String, field: String },
    #[error(
        "portkey was built with rustc {built_release} (LLVM {built_llvm}) but the active toolchain \
         is rustc {active_release} (LLVM {active_llvm}); its bitcode cannot be shaken by this \
         build, so rebuild portkey with `{fix}`"
    )]
    Mismatch {
        built_release: String,
        built_llvm: String,
        active_release: String,
        active_llvm: String,
        fix: String,
    },
    #[error(
        "the LLVM library portkey-ld was linked against, {path}, no longer exists (was the \
         toolchain updated or removed?); rebuild portkey with `{fix}`"
    )]
    LibraryMissing { path: PathBuf, fix: String },
}

/// Reads `rustc -vV` in `dir`, so a `rust-toolchain.toml` there takes effect. `RUSTC` overrides
/// the compiler as it does for cargo.
pub fn active_toolchain(dir: &Path) -> Result<ActiveToolchain, ToolchainError> {
    let rustc = std::env::var("RUSTC").unwrap_or_else(|_| "rustc".to_string());
    let output = Command::new(&rustc)
        .arg("-vV")
        .current_dir(dir)
        .output()
        .map_err(|source| ToolchainError::Spawn {
            rustc: rustc.clone(),
            dir: dir.to_path_buf(),
            source,
        })?;
    if !output.status.success() {
        return Err(ToolchainError::Failed {
            rustc,
            dir: dir.to_path_buf(),
            stderr: String::from_utf8_lossy(&output.stderr).trim().to_string(),
        });
    }
    parse_version_output(&rustc, &String::from_utf8_lossy(&output.stdout))
}

/// Parses the `key: value` lines of `rustc -vV`.
pub fn parse_version_output(rustc: &str, text: &str) -> Result<ActiveToolchain, ToolchainError> {
    let field = |key: &str| {
        text.lines()
            .find_map(|line| {
                line.strip_prefix(key)
                    .and_then(|rest| rest.strip_prefix(':'))
            })
            .map(|value| value.trim().to_string())
            .ok_or_else(|| ToolchainError::MissingField {
                rustc: rustc.to_string(),
                field: key.to_string(),
            })
    };
    Ok(ActiveToolchain {
        rustc_release: field("release")?,
        rustc_commit: field("commit-hash")?,
        llvm_version: field("LLVM version")?,
    })
}

/// Compares an active toolchain with recorded values: same release, commit and LLVM version,
/// and the recorded library still on disk.
pub fn compare_toolchains(
    recorded: &RecordedToolchain,
    active: &ActiveToolchain,
) -> Result<(), ToolchainError> {
    let same = recorded.rustc_release == active.rustc_release
        && recorded.rustc_commit == active.rustc_commit
        && recorded.llvm_version == active.llvm_version;
    if !same {
        return Err(ToolchainError::Mismatch {
            built_release: recorded.rustc_release.clone(),
            built_llvm: recorded.llvm_version.clone(),
            active_release: active.rustc_release.clone(),
            active_llvm: active.llvm_version.clone(),
            fix: reinstall_command(),
        });
    }
    if recorded.libllvm.as_os_str().is_empty() || !recorded.libllvm.is_file() {
        return Err(ToolchainError::LibraryMissing {
            path: recorded.libllvm.clone(),
            fix: reinstall_command(),
        });
    }
    Ok(())
}

/// Checks the toolchain active in `dir` against the one portkey was built with.
pub fn check_toolchain_in(dir: &Path) -> Result<ActiveToolchain, ToolchainError> {
    let active = active_toolchain(dir)?;
    compare_toolchains(&recorded_toolchain(), &active)?;
    Ok(active)
}

/// Checks the toolchain active in the current folder.
pub fn check_toolchain() -> Result<ActiveToolchain, ToolchainError> {
    check_toolchain_in(Path::new("."))
}
