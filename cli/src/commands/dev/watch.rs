//! Watching the project for `portkey dev`: every local package (workspace members and path
//! dependencies) recursively, minus build output and version-control folders. Events arrive on a
//! channel as changed paths, split into source changes and project-file changes.

use std::path::{Path, PathBuf};
use std::sync::mpsc::{Receiver, RecvTimeoutError, channel};
use std::time::{Duration, Instant};

use anyhow::{Context, Result};
use notify::{EventKind, RecommendedWatcher, RecursiveMode, Watcher};

/// A batch of changed paths.
#[derive(Debug, Default, Clone)]
pub struct Changes {
    /// Changed files other than the project file, relative to the project root when inside it.
    pub sources: Vec<PathBuf>,
    /// Whether `portkey.json` changed.
    pub project_file: bool,
}

impl Changes {
    pub fn is_empty(&self) -> bool {
        self.sources.is_empty() && !self.project_file
    }

    fn merge(&mut self, other: Changes) {
        for path in other.sources {
            if !self.sources.contains(&path) {
                self.sources.push(path);
            }
        }
        self.project_file |= other.project_file;
    }
}

/// The watcher and the channel of its events. Dropping it stops watching.
pub struct ProjectWatcher {
    _watcher: RecommendedWatcher,
    events: Receiver<notify::Result<notify::Event>>,
    root: PathBuf,
    /// The watched folders; a path is judged by its components below the one holding it.
    watched: Vec<PathBuf>,
    project_file: PathBuf,
}

impl ProjectWatcher {
    /// Watches `roots` (package folders) and the project file under `root`.
    pub fn start(root: &Path, roots: &[PathBuf]) -> Result<ProjectWatcher> {
        let (sender, events) = channel();
        let mut watcher = notify::recommended_watcher(move |event| {
            let _ = sender.send(event);
        })
        .context("cannot start watching files (inotify); check the limit in /proc/sys/fs/inotify/max_user_watches")?;
        let watched = outermost(roots);
        for folder in &watched {
            watcher
                .watch(folder, RecursiveMode::Recursive)
                .with_context(|| format!("cannot watch {}", folder.display()))?;
        }
        Ok(ProjectWatcher {
            _watcher: watcher,
            events,
            root: root.to_path_buf(),
            watched,
            project_file: root.join(portkey_project::FILE_NAME),
        })
    }

    /// Waits for the next change, then collects further changes until `quiet` passes without
    /// one, so that an editor's burst of writes becomes one batch.
    pub fn next_batch(&self, quiet: Duration) -> Changes {
        let mut batch = Changes::default();
        while batch.is_empty() {
            match self.events.recv() {
                Ok(event) => batch.merge(self.classify(event)),
                Err(_) => return batch,
            }
        }
        self.extend(&mut batch, quiet);
        drop_vanished(&mut batch, &self.root);
        batch
    }

    /// Returns the changes that have arrived so far, without waiting for more than `quiet`
    /// after the last one.
    pub fn pending(&self, quiet: Duration) -> Changes {
        let mut batch = Changes::default();
        while let Ok(event) = self.events.try_recv() {
            batch.merge(self.classify(event));
        }
        if !batch.is_empty() {
            self.extend(&mut batch, quiet);
        }
        drop_vanished(&mut batch, &self.root);
        batch
    }

    fn extend(&self, batch: &mut Changes, quiet: Duration) {
        let mut last = Instant::now();
        loop {
            let remaining = quiet.saturating_sub(last.elapsed());
            match self.events.recv_timeout(remaining) {
                Ok(event) => {
                    let changes = self.classify(event);
                    if !changes.is_empty() {
                        last = Instant::now();
                    }
                    batch.merge(changes);
                }
                Err(RecvTimeoutError::Timeout | RecvTimeoutError::Disconnected) => return,
            }
        }
    }

    fn classify(&self, event: notify::Result<notify::Event>) -> Changes {
        let mut changes = Changes::default();
        let Ok(event) = event else {
            return changes;
        };
        if matches!(event.kind, EventKind::Access(_) | EventKind::Other) {
            return changes;
        }
        for path in event.paths {
            if path == self.project_file {
                changes.project_file = true;
            } else if is_source(below(&path, &self.watched)) {
                let shown = path.strip_prefix(&self.root).map(Path::to_path_buf).unwrap_or(path);
                if !changes.sources.contains(&shown) {
                    changes.sources.push(shown);
                }
            }
        }
        changes
    }
}

/// Drops the temporary files that were written and renamed away within the batch (editors and
/// `sed -i` save that way). A deleted Rust source or manifest stays: deleting one is a change.
fn drop_vanished(batch: &mut Changes, root: &Path) {
    batch.sources.retain(|path| {
        let full = root.join(path);
        let kept_kind = matches!(full.extension().and_then(|e| e.to_str()), Some("rs" | "toml"));
        kept_kind || full.exists()
    });
}

/// Returns the part of `path` below the watched folder that contains it. A project may itself
/// lie inside a folder named `target` (a fixture copied into a build folder), so only the
/// components below the watched folder decide whether a path is build output.
fn below<'a>(path: &'a Path, watched: &[PathBuf]) -> &'a Path {
    watched
        .iter()
        .filter_map(|folder| path.strip_prefix(folder).ok())
        .min_by_key(|rest| rest.components().count())
        .unwrap_or(path)
}

/// Whether a changed path, relative to its watched folder, can change a build: not build
/// output, not version control, not an editor's swap or backup file, not portkey's own lock.
fn is_source(path: &Path) -> bool {
    let ignored_folder = path.components().any(|component| {
        let name = component.as_os_str().to_string_lossy();
        name == "target" || name == ".git" || name == ".venv"
    });
    let name = path.file_name().map(|name| name.to_string_lossy()).unwrap_or_default();
    let editor_file = name.ends_with('~') || name.ends_with(".swp") || name.ends_with(".swx") || name.starts_with(".#");
    // The project file's own temporary copies, written by atomic saves.
    let portkey_file = name.trim_start_matches('.').starts_with(portkey_project::FILE_NAME);
    !ignored_folder && !editor_file && !portkey_file
}

/// Drops the folders that lie inside another folder of the list.
fn outermost(roots: &[PathBuf]) -> Vec<PathBuf> {
    let mut sorted: Vec<PathBuf> = roots.to_vec();
    sorted.sort();
    sorted.dedup();
    let mut kept: Vec<PathBuf> = Vec::new();
    for root in sorted {
        if !kept.iter().any(|outer| root.starts_with(outer)) {
            kept.push(root);
        }
    }
    kept
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn build_output_and_editor_files_are_not_sources() {
        assert!(is_source(Path::new("/p/src/lib.rs")));
        assert!(is_source(Path::new("/p/Cargo.toml")));
        assert!(!is_source(Path::new("/p/target/release/x")));
        assert!(!is_source(Path::new("/p/.git/index")));
        assert!(!is_source(Path::new("/p/src/.lib.rs.swp")));
        assert!(!is_source(Path::new("/p/src/lib.rs~")));
        assert!(!is_source(Path::new("/p/portkey.json.tmp123")));
        assert!(!is_source(Path::new("/p/.portkey.json.23518.1.tmp")));
    }

    #[test]
    fn watch_sees_project_inside_target_folder() {
        let watched = vec![PathBuf::from("/work/target/tmp/app")];
        assert!(is_source(below(Path::new("/work/target/tmp/app/src/lib.rs"), &watched)));
        assert!(!is_source(below(Path::new("/work/target/tmp/app/target/debug/app"), &watched)));
    }

    #[test]
    fn nested_roots_are_watched_once() {
        let roots = vec![PathBuf::from("/p/crates/a"), PathBuf::from("/p"), PathBuf::from("/q/b")];
        assert_eq!(outermost(&roots), vec![PathBuf::from("/p"), PathBuf::from("/q/b")]);
    }
}
