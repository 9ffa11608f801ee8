//! Choice of the target triple an image is built for. A static musl executable is preferred; when the
//! musl standard library is not installed, glibc with `+crt-static` is the fallback. An arm64
//! image is always static musl (`aarch64-unknown-linux-musl`). On a build machine that is not
//! arm64, the toolchain's own `rust-lld` links it, so no cross compiler is needed.

use std::path::{Path, PathBuf};
use std::process::Command;

use crate::BuildError;

/// Triple of the preferred target.
pub const MUSL_TRIPLE: &str = "x86_64-unknown-linux-musl";
/// Triple of the fallback target.
pub const GNU_TRIPLE: &str = "x86_64-unknown-linux-gnu";
/// Triple of arm64 images.
pub const ARM64_TRIPLE: &str = "aarch64-unknown-linux-musl";

/// The caller's wish.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum TargetChoice {
    /// musl when its standard library is installed, else static glibc.
    #[default]
    Auto,
    Musl,
    GnuStatic,
    /// `aarch64-unknown-linux-musl`.
    Arm64,
}

/// The target a build used.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ImageTarget {
    /// `x86_64-unknown-linux-musl`, static by default.
    Musl,
    /// `x86_64-unknown-linux-gnu` with `-C target-feature=+crt-static`.
    GnuStatic,
    /// `aarch64-unknown-linux-musl`, static by default.
    Arm64Musl,
}

impl ImageTarget {
    pub fn triple(self) -> &'static str {
        match self {
            ImageTarget::Musl => MUSL_TRIPLE,
            ImageTarget::GnuStatic => GNU_TRIPLE,
            ImageTarget::Arm64Musl => ARM64_TRIPLE,
        }
    }

    /// Returns the CPU architecture, as `std::env::consts::ARCH` spells it.
    pub fn arch(self) -> &'static str {
        match self {
            ImageTarget::Musl | ImageTarget::GnuStatic => "x86_64",
            ImageTarget::Arm64Musl => "aarch64",
        }
    }

    /// True when the build machine cannot link for this target with its own C compiler.
    pub fn is_cross(self) -> bool {
        self.arch() != std::env::consts::ARCH
    }

    /// Extra rustc flags the target needs.
    pub fn rustflags(self) -> &'static [&'static str] {
        match self {
            ImageTarget::Musl | ImageTarget::Arm64Musl => &[],
            ImageTarget::GnuStatic => &["-Ctarget-feature=+crt-static"],
        }
    }
}

/// Finds the toolchain's `rust-lld` in `sysroot` (`lib/rustlib/<host>/bin/rust-lld`).
pub fn rust_lld(sysroot: &Path) -> Result<PathBuf, BuildError> {
    let rustlib = sysroot.join("lib/rustlib");
    let mut found: Vec<PathBuf> = std::fs::read_dir(&rustlib)
        .map(|entries| {
            entries
                .filter_map(Result::ok)
                .map(|entry| entry.path().join("bin/rust-lld"))
                .filter(|path| path.is_file())
                .collect()
        })
        .unwrap_or_default();
    found.sort();
    // rustup puts `bin/` in the host's folder only. When several folders have one, the one named
    // like the host wins.
    let host = found.iter().position(|path| {
        path.to_string_lossy()
            .contains(&format!("/{}-", std::env::consts::ARCH))
    });
    match host {
        Some(index) => Ok(found.swap_remove(index)),
        None => found
            .into_iter()
            .next()
            .ok_or(BuildError::LldMissing { rustlib }),
    }
}

/// Adds the standard library of `triple` with `rustup target add`, in `dir` so that the
/// project's own toolchain file applies.
pub fn add_target(triple: &str, dir: &Path) -> Result<(), BuildError> {
    add_target_with("rustup", triple, dir)
}

/// [`add_target`] with another `rustup` program.
pub fn add_target_with(rustup: &str, triple: &str, dir: &Path) -> Result<(), BuildError> {
    let output = Command::new(rustup)
        .args(["target", "add", triple])
        .current_dir(dir)
        .output();
    let reason = match output {
        Ok(output) if output.status.success() => return Ok(()),
        Ok(output) => {
            let stderr = String::from_utf8_lossy(&output.stderr);
            let last = stderr
                .lines()
                .rev()
                .find(|line| !line.trim().is_empty())
                .unwrap_or("");
            format!(
                "`{rustup} target add {triple}` failed ({}): {}",
                output.status,
                last.trim()
            )
        }
        Err(source) => format!("cannot run `{rustup}`: {source}"),
    };
    Err(BuildError::TargetAdd {
        triple: triple.to_string(),
        reason,
    })
}

/// Folder of a target's standard library in `sysroot`.
pub fn target_lib_dir(sysroot: &Path, triple: &str) -> PathBuf {
    sysroot.join("lib/rustlib").join(triple).join("lib")
}

/// True when the sysroot contains the standard library for `triple`.
pub fn std_installed(sysroot: &Path, triple: &str) -> bool {
    let dir = target_lib_dir(sysroot, triple);
    let Ok(entries) = std::fs::read_dir(&dir) else {
        return false;
    };
    entries.filter_map(Result::ok).any(|entry| {
        let name = entry.file_name();
        let name = name.to_string_lossy();
        name.starts_with("libstd-") && name.ends_with(".rlib")
    })
}

/// Prints the sysroot of the rustc active in `dir`.
pub fn sysroot(dir: &Path) -> Result<PathBuf, BuildError> {
    let rustc = std::env::var("RUSTC").unwrap_or_else(|_| "rustc".to_string());
    let output = Command::new(&rustc)
        .args(["--print", "sysroot"])
        .current_dir(dir)
        .output()
        .map_err(|source| BuildError::Spawn {
            program: rustc.clone(),
            source,
        })?;
    if !output.status.success() {
        return Err(BuildError::Sysroot {
            rustc,
            stderr: String::from_utf8_lossy(&output.stderr).trim().to_string(),
        });
    }
    Ok(PathBuf::from(
        String::from_utf8_lossy(&output.stdout).trim(),
    ))
}

/// Resolves a choice against the standard libraries installed in `sysroot`.
pub fn resolve_target(choice: TargetChoice, sysroot: &Path) -> Result<ImageTarget, BuildError> {
    let require = |target: ImageTarget| {
        if std_installed(sysroot, target.triple()) {
            Ok(target)
        } else {
            Err(BuildError::TargetMissing {
                triple: target.triple().to_string(),
                dir: target_lib_dir(sysroot, target.triple()),
            })
        }
    };
    match choice {
        TargetChoice::Musl => require(ImageTarget::Musl),
        TargetChoice::GnuStatic => require(ImageTarget::GnuStatic),
        TargetChoice::Arm64 => require(ImageTarget::Arm64Musl),
        TargetChoice::Auto => {
            if std_installed(sysroot, MUSL_TRIPLE) {
                return Ok(ImageTarget::Musl);
            }
            require(ImageTarget::GnuStatic)
        }
    }
}
