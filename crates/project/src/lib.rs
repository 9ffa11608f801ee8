//! The project file `portkey.json`, kept at the root of the user's cargo workspace: which
//! functions are mounted, at which URL template, from which shaken executable and zip, and with
//! which Lambda settings. This crate owns its format, loading it, saving it atomically under an
//! exclusive lock, and the load-modify-save helpers the commands use.

mod error;
mod store;
mod timestamp;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

pub use error::ProjectError;
pub use store::{ProjectLock, remove_mount, update, upsert_mount};
pub use timestamp::{format_rfc3339, now_rfc3339};

/// The file name of the project file inside the workspace root.
pub const FILE_NAME: &str = "portkey.json";

/// The format version this crate reads and writes.
pub const CURRENT_VERSION: u32 = 1;

/// Lambda's default function timeout in seconds.
pub const DEFAULT_TIMEOUT_SECS: u32 = 30;

/// Lambda's default memory size in MB.
pub const DEFAULT_MEMORY_MB: u32 = 128;

/// The contents of `portkey.json`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ProjectFile {
    /// The format version, `CURRENT_VERSION` for files this crate writes.
    pub version: u32,
    #[serde(default)]
    pub local: LocalSettings,
    /// The mounts, sorted by `function` when saved so that diffs stay readable.
    #[serde(default)]
    pub mounts: Vec<MountRecord>,
    /// What is deployed to AWS, by region, as AWS last reported it. AWS is the source of truth:
    /// every `--target aws` command reads it back and rewrites this part, so a lost or stale
    /// copy is repaired by the next command.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub aws: BTreeMap<String, AwsRegionState>,
}

/// The mounts deployed to AWS in one region.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AwsRegionState {
    /// The project name used in AWS resource names (`portkey-<project>-...`).
    pub project: String,
    /// The deployed mounts, sorted by function.
    #[serde(default)]
    pub mounts: Vec<AwsMountRecord>,
    /// When AWS was last read, RFC 3339 in UTC.
    pub checked_at: String,
}

/// One mount deployed to AWS.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AwsMountRecord {
    /// The function's Rust path, for example `hello::flatter`.
    pub function: String,
    pub method: String,
    pub template: String,
    /// The Lambda function's name.
    pub function_name: String,
    /// How it is reached: `api`, `function-url`, or `none` (a remount repairs it).
    pub access: String,
    /// The public URL with the template, when it is reachable.
    #[serde(default)]
    pub url: Option<String>,
    /// The callers it accepts: `none` (anyone) or `iam` (signed requests only).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub auth: Option<String>,
    /// The base64 SHA-256 of the deployed zip.
    pub code_sha256: String,
    /// The deployed zip's size in bytes.
    pub code_size: i64,
    /// When Lambda last changed the function.
    pub last_modified: String,
}

/// Settings of the local backend.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LocalSettings {
    /// The gateway port of the last local server, reused when it is free so URLs stay the same.
    #[serde(default)]
    pub port: Option<u16>,
}

/// One mounted function.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct MountRecord {
    /// The function's path, for example `hello::flatter`; it identifies the mount.
    pub function: String,
    /// The HTTP method, for example `GET`, or `ANY`.
    pub method: String,
    /// The URL template, for example `/hello?name={name}`.
    pub template: String,
    /// The shaken `bootstrap` executable, absolute or relative to the project root.
    pub bootstrap: PathBuf,
    /// The Lambda zip holding `bootstrap`, absolute or relative to the project root.
    pub zip: PathBuf,
    /// The base64 SHA-256 of the zip, as Lambda reports it in `CodeSha256`.
    pub code_sha256: String,
    /// The function timeout in seconds.
    #[serde(default = "default_timeout_secs")]
    pub timeout_secs: u32,
    /// The memory size in MB.
    #[serde(default = "default_memory_mb")]
    pub memory_mb: u32,
    /// Environment variables set for the function.
    #[serde(default)]
    pub env: BTreeMap<String, String>,
    /// When the mount was last written, RFC 3339 in UTC.
    pub updated_at: String,
    /// How the image was built, so that a rebuild (`portkey dev`, `portkey up`) builds it the
    /// same way.
    #[serde(default, skip_serializing_if = "BuildSettings::is_default")]
    pub build: BuildSettings,
}

/// The build options of a mount's image.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct BuildSettings {
    /// The size mode, `full`; `None` for the default mode, `min`. Files written before `min`
    /// became the default may hold `min`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub size: Option<String>,
    /// Whether method-level shaking was turned off.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub no_method_shaking: bool,
    /// The image's architecture, `arm64`; `None` for x86_64.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub arch: Option<String>,
}

impl BuildSettings {
    /// Tells whether these are the default settings, which the project file leaves out.
    pub fn is_default(&self) -> bool {
        self == &BuildSettings::default()
    }
}

fn default_timeout_secs() -> u32 {
    DEFAULT_TIMEOUT_SECS
}

fn default_memory_mb() -> u32 {
    DEFAULT_MEMORY_MB
}

impl Default for ProjectFile {
    fn default() -> Self {
        ProjectFile {
            version: CURRENT_VERSION,
            local: LocalSettings::default(),
            mounts: Vec::new(),
            aws: BTreeMap::new(),
        }
    }
}

impl ProjectFile {
    /// Returns the path of the project file of the workspace at `root`.
    pub fn path(root: &Path) -> PathBuf {
        root.join(FILE_NAME)
    }

    /// Loads the project file of the workspace at `root`; a missing file is an empty project.
    pub fn load(root: &Path) -> Result<ProjectFile, ProjectError> {
        store::load_file(&ProjectFile::path(root))
    }

    /// Parses project file text; `path` only names the file in errors.
    pub fn from_json(text: &str, path: &Path) -> Result<ProjectFile, ProjectError> {
        store::parse(text, path)
    }

    /// Saves the project file of the workspace at `root` atomically, holding the project lock.
    /// A concurrent `update` that loaded before this call is overwritten; use `update` to change
    /// part of the file.
    pub fn save(&self, root: &Path) -> Result<(), ProjectError> {
        let lock = ProjectLock::acquire(root)?;
        lock.save(self)
    }

    /// Serialises the file as saved: pretty JSON, mounts sorted by function, a final newline.
    pub fn to_json(&self) -> String {
        let mut sorted = self.clone();
        sorted.sort_mounts();
        let mut text = serde_json::to_string_pretty(&sorted)
            .unwrap_or_else(|error| unreachable!("a ProjectFile always serialises: {error}"));
        text.push('\n');
        text
    }

    /// Returns the mount of `function`, if any.
    pub fn mount(&self, function: &str) -> Option<&MountRecord> {
        self.mounts.iter().find(|mount| mount.function == function)
    }

    /// Sorts the mounts by function, the order in which they are saved.
    pub fn sort_mounts(&mut self) {
        self.mounts
            .sort_by(|left, right| left.function.cmp(&right.function));
    }
}

impl MountRecord {
    /// Creates a record with Lambda's default timeout and memory size, no environment variables,
    /// and `updated_at` set to now.
    pub fn new(
        function: impl Into<String>,
        method: impl Into<String>,
        template: impl Into<String>,
        bootstrap: impl Into<PathBuf>,
        zip: impl Into<PathBuf>,
        code_sha256: impl Into<String>,
    ) -> MountRecord {
        MountRecord {
            function: function.into(),
            method: method.into(),
            template: template.into(),
            bootstrap: bootstrap.into(),
            zip: zip.into(),
            code_sha256: code_sha256.into(),
            timeout_secs: DEFAULT_TIMEOUT_SECS,
            memory_mb: DEFAULT_MEMORY_MB,
            env: BTreeMap::new(),
            updated_at: now_rfc3339(),
            build: BuildSettings::default(),
        }
    }

    /// Returns the bootstrap path, resolved against `root` when it is relative.
    pub fn bootstrap_path(&self, root: &Path) -> PathBuf {
        root.join(&self.bootstrap)
    }

    /// Returns the zip path, resolved against `root` when it is relative.
    pub fn zip_path(&self, root: &Path) -> PathBuf {
        root.join(&self.zip)
    }
}
