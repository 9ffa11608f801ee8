//! The runtime crate embedded at compile time (see `build.rs`), and its copy on disk at
//! `<root>/<hash of its files>/`, which shims depend on by path. A changed runtime gets a new
//! directory, so shims built against an older copy are not disturbed.

use std::path::{Path, PathBuf};

use crate::error::ShimError;
use crate::files::{sha256_hex, write_if_changed};

include!(concat!(env!("OUT_DIR"), "/runtime_files.rs"));

/// The embedded runtime files: path relative to the crate root (`Cargo.toml`, `src/lib.rs`,
/// ...) and contents.
pub fn embedded_runtime_files() -> &'static [(&'static str, &'static str)] {
    RUNTIME_FILES
}

/// A runtime copy on disk.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WrittenRuntime {
    /// The crate directory, holding `Cargo.toml` and `src/`.
    pub dir: PathBuf,
    /// Whether any file was written; `false` means the copy was already complete.
    pub changed: bool,
}

/// Writes the embedded runtime crate under `root`, in a directory named after the SHA-256 of
/// its file names and contents (first 16 hex digits).
pub fn write_runtime(root: &Path) -> Result<WrittenRuntime, ShimError> {
    let dir = root.join(content_hash());
    let mut changed = false;
    for (relative, contents) in RUNTIME_FILES {
        let mut path = dir.clone();
        path.extend(relative.split('/'));
        changed |= write_if_changed(&path, contents.as_bytes())?;
    }
    Ok(WrittenRuntime { dir, changed })
}

fn content_hash() -> String {
    let mut listing = Vec::new();
    for (relative, contents) in RUNTIME_FILES {
        // Lengths delimit the fields, so no two different file sets hash the same bytes.
        listing.extend_from_slice(&(relative.len() as u64).to_le_bytes());
        listing.extend_from_slice(relative.as_bytes());
        listing.extend_from_slice(&(contents.len() as u64).to_le_bytes());
        listing.extend_from_slice(contents.as_bytes());
    }
    sha256_hex(&listing)[..16].to_string()
}
