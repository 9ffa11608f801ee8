//! Generates the shim: a small binary crate that calls one user function from the in-image
//! runtime (`portkey-runtime`).
//!
//! The crate is written under `<user target dir>/portkey/shims/<path with :: as ->/`, never in
//! the user's sources. It depends on the package that contains the function, with the features
//! cargo resolved in the user's build, so the same code is compiled. It also depends on a copy of
//! the runtime crate embedded in this library. It starts from a copy of the user's `Cargo.lock`,
//! so cargo keeps the user's dependency versions. Files are rewritten only when their content
//! changes, so cargo does not rebuild needlessly. Building the crate is left to the builder.

mod error;
mod files;
mod handler;
mod manifest;
mod naming;
mod runtime_copy;

use std::path::{Path, PathBuf};

use portkey_lookup::FoundFunction;

pub use error::ShimError;
pub use handler::{Executor, executor, main_rs};
pub use runtime_copy::{WrittenRuntime, embedded_runtime_files, write_runtime};

/// Settings for `generate`; the defaults suit a normal build.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ShimOptions {
    /// The directory for shims and the runtime copy, in place of `<user target dir>/portkey`.
    pub output_root: Option<PathBuf>,
    /// A `portkey-runtime` crate directory to depend on instead of the embedded copy.
    pub runtime_dir: Option<PathBuf>,
}

/// A generated shim crate.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ShimProject {
    /// The directory of the shim crate.
    pub dir: PathBuf,
    /// Its `Cargo.toml`.
    pub manifest_path: PathBuf,
    /// The package name, `portkey-shim-<name>`.
    pub package_name: String,
    /// The name of its binary target, derived from the function path.
    pub bin_name: String,
    /// The runtime crate directory the shim depends on.
    pub runtime_dir: PathBuf,
    /// Whether this call wrote any file; `false` means the shim was already up to date.
    pub changed: bool,
}

/// Writes (or refreshes) the shim crate for `found` and returns where it is.
pub fn generate(found: &FoundFunction, options: &ShimOptions) -> Result<ShimProject, ShimError> {
    let root = options
        .output_root
        .clone()
        .unwrap_or_else(|| found.target_dir.join("portkey"));
    let mut changed = false;

    let runtime_dir = match &options.runtime_dir {
        Some(dir) => dir.clone(),
        None => {
            let written = write_runtime(&root.join("runtime"))?;
            changed |= written.changed;
            written.dir
        }
    };

    let names = naming::ShimNames::for_path(&found.call_path);
    let dir = root.join("shims").join(&names.dir_name);
    let manifest_path = dir.join("Cargo.toml");
    let manifest = manifest::cargo_toml(found, &names, &runtime_dir);
    changed |= files::write_if_changed(&manifest_path, manifest.as_bytes())?;
    let main = main_rs(found)?;
    changed |= files::write_if_changed(&dir.join("src").join("main.rs"), main.as_bytes())?;
    changed |= copy_lock_file(&found.lock_file, &dir)?;

    tracing::debug!(path = %found.call_path, dir = %dir.display(), changed, "generated shim crate");
    Ok(ShimProject {
        dir,
        manifest_path,
        package_name: names.package_name,
        bin_name: names.bin_name,
        runtime_dir,
        changed,
    })
}

/// The file in the shim directory that records the SHA-256 of the user's lock file last copied.
const LOCK_SOURCE_FILE: &str = "portkey-lock-source.sha256";

/// Copies the user's `Cargo.lock` into the shim when it changed since the last copy. Cargo adds
/// the shim and the runtime to the copy. Copying on every call would discard those entries and
/// make cargo resolve again, so an unchanged user lock leaves the shim's lock alone.
fn copy_lock_file(user_lock: &Path, shim_dir: &Path) -> Result<bool, ShimError> {
    let Some(contents) = files::read_if_exists(user_lock)? else {
        return Ok(false);
    };
    let digest = files::sha256_hex(&contents);
    let marker = shim_dir.join(LOCK_SOURCE_FILE);
    let shim_lock = shim_dir.join("Cargo.lock");
    let recorded = files::read_if_exists(&marker)?;
    if recorded.as_deref() == Some(digest.as_bytes()) && shim_lock.is_file() {
        return Ok(false);
    }
    files::write_if_changed(&shim_lock, &contents)?;
    files::write_if_changed(&marker, digest.as_bytes())?;
    Ok(true)
}
