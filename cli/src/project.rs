//! The user's cargo project as portkey sees it: its workspace root (where `portkey.json` lives)
//! and its target directory (where shims, images and the local backend's state go).

use std::path::{Path, PathBuf};

use anyhow::{Context, Result};

/// Where a project's files are.
#[derive(Debug, Clone)]
pub struct ProjectDirs {
    pub root: PathBuf,
    pub target: PathBuf,
}

impl ProjectDirs {
    /// Finds the project of `manifest_path`, or of the current folder when it is `None`.
    pub fn find(manifest_path: Option<&Path>) -> Result<ProjectDirs> {
        let mut command = cargo_metadata::MetadataCommand::new();
        command.no_deps();
        if let Some(path) = manifest_path {
            command.manifest_path(path);
        }
        let metadata = command.exec().with_context(|| match manifest_path {
            Some(path) => format!(
                "cannot read the cargo project at {}; check that the path names a Cargo.toml",
                path.display()
            ),
            None => "cannot find a cargo project in the current folder or its parents; run \
                     portkey inside one or pass --manifest-path"
                .to_string(),
        })?;
        Ok(ProjectDirs {
            root: metadata.workspace_root.into_std_path_buf(),
            target: metadata.target_directory.into_std_path_buf(),
        })
    }

    /// The root of portkey's own files inside the target directory.
    pub fn portkey_dir(&self) -> PathBuf {
        self.target.join("portkey")
    }

    /// Where the local backend keeps `server.json` and its log.
    pub fn local_state_dir(&self) -> PathBuf {
        self.portkey_dir().join("local")
    }

    /// The project file.
    pub fn project_file(&self) -> PathBuf {
        self.root.join("portkey.json")
    }
}
