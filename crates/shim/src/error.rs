//! The errors of shim generation.

use std::path::PathBuf;

/// An error that prevents generating a shim crate.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ShimError {
    #[error("cannot read {}: {error}; check the file's permissions", path.display())]
    Read {
        path: PathBuf,
        error: std::io::Error,
    },

    #[error("cannot write {}: {error}; check that the directory is writable and the disk is not full", path.display())]
    Write {
        path: PathBuf,
        error: std::io::Error,
    },

    #[error(
        "cannot bind parameter `{param}` of `{path}` (type `{ty}`, shape {shape}): {reason}; \
         change the parameter to a supported type"
    )]
    UnsupportedParam {
        path: String,
        param: String,
        ty: String,
        shape: String,
        reason: String,
    },

    #[error("cannot serve the router that `{path}` returns: {reason}")]
    Router { path: String, reason: String },
}
