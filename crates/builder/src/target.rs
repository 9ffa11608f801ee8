//! Choice of the target triple an image is built for. A static musl executable is preferred; when the
//! musl standard library is not installed, glibc with `+crt-static` is the fallback.

use std::path::{Path, PathBuf};
use std::process::Command;

use crate::BuildError;

/// Triple of the preferred target.
pub const MUSL_TRIPLE: &str = "x86_64-unknown-linux-musl";
/// Triple of the fallback target.
pub const GNU_TRIPLE: &str = "x86_64-unknown-linux-gnu";

/// The caller's wish.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum TargetChoice {
    /// musl when its standard library is installed, else static glibc.
    #[default]
    Auto,
    Musl,
    GnuStatic,
}

/// The target a build used.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ImageTarget {
    /// `x86_64-unknown-linux-musl`, static by default.
    Musl,
    /// `x86_64-unknown-linux-gnu` with `-C target-feature=+crt-static`.
    GnuStatic,
}

impl ImageTarget {
    pub fn triple(self) -> &'static str {
        match self {
            ImageTarget::Musl => MUSL_TRIPLE,
            ImageTarget::GnuStatic => GNU_TRIPLE,
        }
    }

    /// Extra rustc flags the target needs.
    pub fn rustflags(self) -> &'static [&'static str] {
        match self {
            ImageTarget::Musl => &[],
            ImageTarget::GnuStatic => &["-Ctarget-feature=+crt-static"],
        }
    }
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
        TargetChoice::Auto => {
            if std_installed(sysroot, MUSL_TRIPLE) {
                return Ok(ImageTarget::Musl);
            }
            require(ImageTarget::GnuStatic)
        }
    }
}
