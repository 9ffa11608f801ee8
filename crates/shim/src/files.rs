//! File writes that leave a file alone when its content is already right (so cargo's mtime
//! checks see no change), and that replace it atomically otherwise.

use std::io::ErrorKind;
use std::path::Path;

use sha2::{Digest, Sha256};

use crate::error::ShimError;

/// Writes `contents` to `path` unless the file already contains exactly that; returns whether it
/// wrote. The new content goes to a temporary file in the same directory and is renamed over
/// `path`, so a concurrent reader sees the old or the new file, never a partial one.
pub(crate) fn write_if_changed(path: &Path, contents: &[u8]) -> Result<bool, ShimError> {
    if read_if_exists(path)?.as_deref() == Some(contents) {
        return Ok(false);
    }
    let write_error = |error| ShimError::Write {
        path: path.to_path_buf(),
        error,
    };
    if let Some(parent) = path.parent() {
        std::fs::create_dir_all(parent).map_err(write_error)?;
    }
    let file_name = path
        .file_name()
        .map(|name| name.to_string_lossy().into_owned())
        .unwrap_or_default();
    let temporary = path.with_file_name(format!(".{file_name}.{}.tmp", std::process::id()));
    std::fs::write(&temporary, contents).map_err(write_error)?;
    if let Err(error) = std::fs::rename(&temporary, path) {
        let _ = std::fs::remove_file(&temporary);
        return Err(write_error(error));
    }
    Ok(true)
}

/// Reads a file, or returns `None` when it does not exist.
pub(crate) fn read_if_exists(path: &Path) -> Result<Option<Vec<u8>>, ShimError> {
    match std::fs::read(path) {
        Ok(contents) => Ok(Some(contents)),
        Err(error) if error.kind() == ErrorKind::NotFound => Ok(None),
        Err(error) => Err(ShimError::Read {
            path: path.to_path_buf(),
            error,
        }),
    }
}

/// Returns the SHA-256 of `data` as lowercase hex.
pub(crate) fn sha256_hex(data: &[u8]) -> String {
    Sha256::digest(data)
        .iter()
        .map(|byte| format!("{byte:02x}"))
        .collect()
}
