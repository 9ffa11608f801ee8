//! Errors of loading, saving and locking the project file.

use std::path::PathBuf;

/// Why the project file could not be read, written or locked.
#[derive(Debug, thiserror::Error)]
pub enum ProjectError {
    #[error("failed to read the project file {}: {source}; check its permissions", path.display())]
    Read {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },

    #[error(
        "the project file {} is invalid at line {line}, column {column}: {message}; repair it, or \
         delete it and run `portkey mount` again for each function (the next `portkey mount` \
         recreates the file)",
        path.display()
    )]
    Corrupt {
        path: PathBuf,
        line: usize,
        column: usize,
        message: String,
    },

    #[error(
        "the project file {} has format version {found}, but this portkey reads version \
         {supported}; upgrade portkey, or delete the file and mount the functions again",
        path.display()
    )]
    UnsupportedVersion {
        path: PathBuf,
        found: u32,
        supported: u32,
    },

    #[error(
        "the project file {} mounts `{function}` more than once; remove all but one of its \
         entries, or delete the file and mount the functions again",
        path.display()
    )]
    DuplicateMount { path: PathBuf, function: String },

    #[error("failed to write the project file {}: {source}; check the folder's permissions and free space", path.display())]
    Write {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },

    #[error(
        "failed to lock {}: {source}; check that the folder is writable and on a file system \
         that supports file locks",
        path.display()
    )]
    Lock {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
}
