//! `<state_dir>/server.json`, the record from which clients learn that a server runs and at which
//! URL. The server writes it atomically once it listens and removes it when it stops cleanly.

use std::fs;
use std::path::{Path, PathBuf};

use crate::{LocalError, ServerInfo};

/// The file name of the running server's record inside the state folder.
pub const SERVER_FILE_NAME: &str = "server.json";

/// Returns the path of `server.json` in `state_dir`.
pub fn server_file_path(state_dir: &Path) -> PathBuf {
    state_dir.join(SERVER_FILE_NAME)
}

/// Reads `server.json`; a missing or unreadable file means no record.
pub(crate) fn read(state_dir: &Path) -> Option<ServerInfo> {
    let text = fs::read_to_string(server_file_path(state_dir)).ok()?;
    serde_json::from_str(&text).ok()
}

/// Writes `server.json` through a temporary file and a rename, so readers never see half of it.
pub(crate) fn write(state_dir: &Path, info: &ServerInfo) -> Result<(), LocalError> {
    let path = server_file_path(state_dir);
    let temp_path = state_dir.join(format!(".{SERVER_FILE_NAME}.{}.tmp", std::process::id()));
    let text = serde_json::to_string_pretty(info)
        .unwrap_or_else(|error| unreachable!("ServerInfo always serialises: {error}"));
    let state_error = |source| LocalError::StateFile {
        path: path.clone(),
        source,
    };
    fs::write(&temp_path, text).map_err(state_error)?;
    fs::rename(&temp_path, &path).map_err(state_error)
}

/// Removes `server.json` when it still records the server with `pid`, so a server never
/// deletes the record of a newer one.
pub(crate) fn remove_own(state_dir: &Path, pid: u32) -> Result<(), LocalError> {
    let path = server_file_path(state_dir);
    match read(state_dir) {
        Some(info) if info.pid == pid => {
            fs::remove_file(&path).map_err(|source| LocalError::StateFile { path, source })
        }
        _ => Ok(()),
    }
}

/// Removes `server.json` without checking whose it is, for a record already found stale.
pub(crate) fn remove_stale(state_dir: &Path) {
    // A record that is already gone is what this wants.
    let _ = fs::remove_file(server_file_path(state_dir));
}
