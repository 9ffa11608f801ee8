//! Reading and writing `portkey.json`: parsing with positioned errors, atomic replacement
//! (temporary file in the same folder, fsync, rename), and the exclusive lock on the workspace
//! folder that serialises load-modify-save cycles of concurrent portkey commands.

use std::collections::BTreeSet;
use std::fs::{self, File, OpenOptions};
use std::io::{ErrorKind, Write};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};

use crate::{CURRENT_VERSION, MountRecord, ProjectError, ProjectFile};

/// Distinguishes the temporary files of concurrent saves within one process.
static TEMP_COUNTER: AtomicU64 = AtomicU64::new(0);

/// Reads and parses the project file at `path`; a missing file is an empty project.
pub(crate) fn load_file(path: &Path) -> Result<ProjectFile, ProjectError> {
    let text = match fs::read_to_string(path) {
        Ok(text) => text,
        Err(error) if error.kind() == ErrorKind::NotFound => return Ok(ProjectFile::default()),
        Err(source) => {
            return Err(ProjectError::Read {
                path: path.to_path_buf(),
                source,
            });
        }
    };
    parse(&text, path)
}

/// Parses project file text and checks its version and that each function is mounted once.
pub(crate) fn parse(text: &str, path: &Path) -> Result<ProjectFile, ProjectError> {
    let project: ProjectFile =
        serde_json::from_str(text).map_err(|error| ProjectError::Corrupt {
            path: path.to_path_buf(),
            line: error.line(),
            column: error.column(),
            message: strip_position(&error.to_string()),
        })?;
    if project.version != CURRENT_VERSION {
        return Err(ProjectError::UnsupportedVersion {
            path: path.to_path_buf(),
            found: project.version,
            supported: CURRENT_VERSION,
        });
    }
    let mut seen = BTreeSet::new();
    for mount in &project.mounts {
        if !seen.insert(mount.function.as_str()) {
            return Err(ProjectError::DuplicateMount {
                path: path.to_path_buf(),
                function: mount.function.clone(),
            });
        }
    }
    Ok(project)
}

/// Removes serde_json's " at line L column C" suffix, which the error states separately.
fn strip_position(message: &str) -> String {
    match message.rfind(" at line ") {
        Some(index) => message[..index].to_string(),
        None => message.to_string(),
    }
}

/// An exclusive lock on the project file of one workspace, held until the value is dropped.
///
/// The lock is an advisory `flock` on the workspace folder itself, never on `portkey.json`,
/// because saving replaces `portkey.json` with a new file and a lock on the old one would
/// protect nothing. Locking the folder leaves no extra file in the user's project.
#[derive(Debug)]
pub struct ProjectLock {
    root: PathBuf,
    // Keeps the locked file open; the operating system releases the lock when it is closed.
    _file: File,
}

impl ProjectLock {
    /// Takes the lock of the workspace at `root`, waiting while another process holds it.
    pub fn acquire(root: &Path) -> Result<ProjectLock, ProjectError> {
        let lock_error = |source| ProjectError::Lock {
            path: root.to_path_buf(),
            source,
        };
        let file = File::open(root).map_err(lock_error)?;
        file.lock().map_err(lock_error)?;
        Ok(ProjectLock {
            root: root.to_path_buf(),
            _file: file,
        })
    }

    /// Loads the project file while holding the lock.
    pub fn load(&self) -> Result<ProjectFile, ProjectError> {
        ProjectFile::load(&self.root)
    }

    /// Saves `project` atomically: readers see either the old file or the new one, never a mix.
    pub fn save(&self, project: &ProjectFile) -> Result<(), ProjectError> {
        write_atomically(&ProjectFile::path(&self.root), project.to_json().as_bytes())
    }
}

/// Writes `contents` to a temporary file beside `path`, flushes it to disk, and renames it over
/// `path`, so a crash leaves either the old or the new file.
fn write_atomically(path: &Path, contents: &[u8]) -> Result<(), ProjectError> {
    let folder = path.parent().unwrap_or(Path::new("."));
    let file_name = path
        .file_name()
        .map(|name| name.to_string_lossy().into_owned())
        .unwrap_or_default();
    let temp_path = folder.join(format!(
        ".{file_name}.{}.{}.tmp",
        std::process::id(),
        TEMP_COUNTER.fetch_add(1, Ordering::Relaxed)
    ));
    let write_error = |source| ProjectError::Write {
        path: path.to_path_buf(),
        source,
    };

    let written = write_and_sync(&temp_path, contents).and_then(|()| fs::rename(&temp_path, path));
    if let Err(source) = written {
        // The temporary file is garbage either way; a failure to remove it changes nothing.
        let _ = fs::remove_file(&temp_path);
        return Err(write_error(source));
    }

    // Syncing the folder makes the rename itself durable. Some file systems reject fsync on a
    // directory; the file is already in place then, so that failure is not reported.
    if let Ok(directory) = File::open(folder) {
        let _ = directory.sync_all();
    }
    Ok(())
}

fn write_and_sync(path: &Path, contents: &[u8]) -> std::io::Result<()> {
    let mut file = OpenOptions::new().write(true).create_new(true).open(path)?;
    file.write_all(contents)?;
    file.sync_all()
}

/// Loads the project file of the workspace at `root`, applies `change`, and saves the result,
/// all under the project lock, so concurrent `update` calls never lose each other's changes.
/// Returns what `change` returned.
pub fn update<R>(
    root: &Path,
    change: impl FnOnce(&mut ProjectFile) -> R,
) -> Result<R, ProjectError> {
    let lock = ProjectLock::acquire(root)?;
    let mut project = lock.load()?;
    let result = change(&mut project);
    lock.save(&project)?;
    Ok(result)
}

/// Adds `record`, or replaces the mount of the same function. Returns the replaced record.
pub fn upsert_mount(root: &Path, record: MountRecord) -> Result<Option<MountRecord>, ProjectError> {
    update(root, |project| {
        let previous = project
            .mounts
            .iter()
            .position(|mount| mount.function == record.function)
            .map(|index| project.mounts.remove(index));
        project.mounts.push(record);
        project.sort_mounts();
        previous
    })
}

/// Removes the mount of `function`. Returns the removed record, or `None` when it was not
/// mounted, in which case the file is left as it was.
pub fn remove_mount(root: &Path, function: &str) -> Result<Option<MountRecord>, ProjectError> {
    let lock = ProjectLock::acquire(root)?;
    let mut project = lock.load()?;
    let Some(index) = project
        .mounts
        .iter()
        .position(|mount| mount.function == function)
    else {
        return Ok(None);
    };
    let removed = project.mounts.remove(index);
    lock.save(&project)?;
    Ok(Some(removed))
}
