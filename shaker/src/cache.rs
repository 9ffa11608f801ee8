//! The link cache: the results of earlier links stored by their [`LinkKey`], so an identical
//! link copies them instead of running LLVM again.
//!
//! An entry is a folder `<cache>/<key>/` holding the executable (`output`), the report
//! (`report.json`), the call graph (`graph.callgraph`) and the key manifest (`key.txt`). Entries
//! are written under a temporary name and renamed into place, so a reader sees complete entries
//! only. The modification time of `key.txt` records the last use, and the least recently used
//! entries beyond [`MAX_ENTRIES`] are deleted after each store. A failure to read or write the
//! cache does not fail the link: it is printed as a warning on stderr and the link runs in full.

use std::ffi::OsString;
use std::path::{Path, PathBuf};
use std::time::{Duration, SystemTime};

use portkey_callgraph::CallGraph;
use portkey_report::{PhaseTimings, ShakeReport};

use crate::cache_key::LinkKey;

/// Maximum number of entries kept in one cache folder. The entry of `hello::flatter` (the
/// fixture) takes 1.6 MB: a 0.5 MB executable, a 0.5 MB report and a 0.6 MB call graph.
pub const MAX_ENTRIES: usize = 24;

/// Name of the cache folder inside a cargo target folder.
pub const CACHE_FOLDER_NAME: &str = "portkey-ld-cache";

/// Temporary entry folders older than this are left over from an interrupted link.
const STALE_TEMPORARY: Duration = Duration::from_secs(24 * 60 * 60);

const OUTPUT_FILE: &str = "output";
const REPORT_FILE: &str = "report.json";
const GRAPH_FILE: &str = "graph.callgraph";
const KEY_FILE: &str = "key.txt";

/// Location of the link cache, read from `PORTKEY_LD_CACHE`.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub enum CacheSetting {
    /// Unset or empty: `portkey-ld-cache` in the cargo target folder that contains the output,
    /// recognised by the `CACHEDIR.TAG` file cargo writes there. No cache outside one.
    #[default]
    Auto,
    /// `off`: every link runs in full.
    Off,
    /// Any other value: that folder.
    Folder(PathBuf),
}

impl CacheSetting {
    /// Reads the value of `PORTKEY_LD_CACHE`.
    pub fn from_env_value(value: Option<OsString>) -> Self {
        match value {
            None => CacheSetting::Auto,
            Some(value) if value.is_empty() => CacheSetting::Auto,
            Some(value) if value == "off" => CacheSetting::Off,
            Some(value) => CacheSetting::Folder(PathBuf::from(value)),
        }
    }

    /// Returns the cache folder for a link writing `output`, or `None` when caching is off.
    pub fn folder_for(&self, output: &Path) -> Option<PathBuf> {
        match self {
            CacheSetting::Off => None,
            CacheSetting::Folder(folder) => Some(folder.clone()),
            CacheSetting::Auto => output
                .ancestors()
                .skip(1)
                .find(|dir| dir.join("CACHEDIR.TAG").is_file())
                .map(|target| target.join(CACHE_FOLDER_NAME)),
        }
    }
}

/// Destinations of the results of a restored link.
#[derive(Debug, Clone, Copy)]
pub struct RestoreTargets<'a> {
    pub output: &'a Path,
    pub report: Option<&'a Path>,
    pub graph: Option<&'a Path>,
}

/// Copies the results of the entry for `key` into place and returns its report, marked as a
/// cache hit whose only timing is `hash_ms`. Returns `None` when there is no complete entry.
pub fn restore(
    folder: &Path,
    key: &LinkKey,
    targets: RestoreTargets<'_>,
    hash_ms: u64,
) -> Option<ShakeReport> {
    let entry = folder.join(&key.hex);
    if !is_complete(&entry) {
        return None;
    }
    match restore_entry(&entry, targets, hash_ms) {
        Ok(report) => {
            touch(&entry.join(KEY_FILE));
            Some(report)
        }
        Err(message) => {
            warn(&format!(
                "cannot reuse the cached link {}: {message}; linking in full",
                entry.display()
            ));
            None
        }
    }
}

fn is_complete(entry: &Path) -> bool {
    [OUTPUT_FILE, REPORT_FILE, GRAPH_FILE, KEY_FILE]
        .iter()
        .all(|name| entry.join(name).is_file())
}

fn restore_entry(
    entry: &Path,
    targets: RestoreTargets<'_>,
    hash_ms: u64,
) -> Result<ShakeReport, String> {
    let report_path = entry.join(REPORT_FILE);
    let text = std::fs::read_to_string(&report_path)
        .map_err(|error| format!("cannot read {}: {error}", report_path.display()))?;
    let mut report = ShakeReport::from_json(&text)
        .map_err(|error| format!("{} is not a valid report: {error}", report_path.display()))?;
    report.cache_hit = true;
    report.timings_ms = PhaseTimings {
        hash: hash_ms,
        ..PhaseTimings::default()
    };

    copy_into_place(&entry.join(OUTPUT_FILE), targets.output)?;
    if let Some(path) = targets.graph {
        copy_into_place(&entry.join(GRAPH_FILE), path)?;
    }
    if let Some(path) = targets.report {
        let json = report
            .to_json()
            .map_err(|error| format!("cannot serialise the report: {error}"))?;
        write_into_place(path, json.as_bytes())?;
    }
    Ok(report)
}

/// The results of a full link, to be stored under its key.
pub struct LinkResults<'a> {
    pub output: &'a Path,
    pub report: &'a ShakeReport,
    pub graph: &'a CallGraph,
}

/// Stores the results of a full link under `key`, then deletes the least recently used
/// entries beyond [`MAX_ENTRIES`]. Failures are printed as warnings.
pub fn store(folder: &Path, key: &LinkKey, results: LinkResults<'_>) {
    if let Err(message) = store_entry(folder, key, results) {
        warn(&format!(
            "cannot store the link in the cache {}: {message}",
            folder.display()
        ));
        return;
    }
    prune(folder, MAX_ENTRIES);
}

fn store_entry(folder: &Path, key: &LinkKey, results: LinkResults<'_>) -> Result<(), String> {
    let temporary = folder.join(format!(".tmp-{}-{}", key.hex, std::process::id()));
    let entry = folder.join(&key.hex);
    let written = write_entry(&temporary, key, &results);
    let renamed = written.and_then(|()| {
        if is_complete(&entry) {
            // A concurrent link of the same inputs stored a complete entry first; a reader may
            // be copying from it, so it stays.
            return Ok(());
        }
        if entry.exists() {
            // An incomplete entry: this complete one replaces it.
            let _ = std::fs::remove_dir_all(&entry);
        }
        std::fs::rename(&temporary, &entry)
            .map_err(|error| format!("cannot rename {}: {error}", temporary.display()))
    });
    // Still present when the entry existed already or the rename failed.
    let _ = std::fs::remove_dir_all(&temporary);
    renamed
}

fn write_entry(dir: &Path, key: &LinkKey, results: &LinkResults<'_>) -> Result<(), String> {
    let describe = |path: &Path, error: &dyn std::fmt::Display| {
        format!("cannot write {}: {error}", path.display())
    };
    std::fs::create_dir_all(dir).map_err(|error| describe(dir, &error))?;
    let output = dir.join(OUTPUT_FILE);
    std::fs::copy(results.output, &output).map_err(|error| describe(&output, &error))?;
    let report = dir.join(REPORT_FILE);
    let json = results
        .report
        .to_json()
        .map_err(|error| describe(&report, &error))?;
    std::fs::write(&report, json).map_err(|error| describe(&report, &error))?;
    results
        .graph
        .save(&dir.join(GRAPH_FILE))
        .map_err(|error| error.to_string())?;
    // Written last: an entry with a key file is complete.
    let key_file = dir.join(KEY_FILE);
    std::fs::write(&key_file, &key.manifest).map_err(|error| describe(&key_file, &error))
}

/// Deletes the least recently used entries beyond `keep`, and temporary folders left by
/// interrupted links.
pub fn prune(folder: &Path, keep: usize) {
    let Ok(listing) = std::fs::read_dir(folder) else {
        return;
    };
    let now = SystemTime::now();
    let mut entries: Vec<(SystemTime, PathBuf)> = Vec::new();
    for dir_entry in listing.flatten() {
        let path = dir_entry.path();
        let name = dir_entry.file_name();
        if name.to_string_lossy().starts_with(".tmp-") {
            let age = modified(&path).and_then(|time| now.duration_since(time).ok());
            if age.is_some_and(|age| age > STALE_TEMPORARY) {
                let _ = std::fs::remove_dir_all(&path);
            }
            continue;
        }
        if !path.is_dir() {
            continue;
        }
        let used = modified(&path.join(KEY_FILE)).unwrap_or(SystemTime::UNIX_EPOCH);
        entries.push((used, path));
    }
    if entries.len() <= keep {
        return;
    }
    // Most recently used first.
    entries.sort_by(|a, b| b.0.cmp(&a.0).then_with(|| a.1.cmp(&b.1)));
    for (_, path) in entries.into_iter().skip(keep) {
        let _ = std::fs::remove_dir_all(&path);
    }
}

fn modified(path: &Path) -> Option<SystemTime> {
    std::fs::metadata(path).and_then(|m| m.modified()).ok()
}

/// Marks an entry as used now.
fn touch(path: &Path) {
    let touched = std::fs::File::options()
        .append(true)
        .open(path)
        .and_then(|file| file.set_modified(SystemTime::now()));
    if let Err(error) = touched {
        warn(&format!(
            "cannot update the last use of {}: {error}",
            path.display()
        ));
    }
}

/// Copies `from` to `to` through a temporary file in the same folder, keeping the mode bits.
fn copy_into_place(from: &Path, to: &Path) -> Result<(), String> {
    let temporary = temporary_beside(to);
    ensure_parent(to)?;
    let copied = std::fs::copy(from, &temporary)
        .and_then(|_| std::fs::rename(&temporary, to))
        .map_err(|error| {
            format!(
                "cannot copy {} to {}: {error}",
                from.display(),
                to.display()
            )
        });
    if copied.is_err() {
        let _ = std::fs::remove_file(&temporary);
    }
    copied
}

fn write_into_place(path: &Path, bytes: &[u8]) -> Result<(), String> {
    let temporary = temporary_beside(path);
    ensure_parent(path)?;
    let written = std::fs::write(&temporary, bytes)
        .and_then(|()| std::fs::rename(&temporary, path))
        .map_err(|error| format!("cannot write {}: {error}", path.display()));
    if written.is_err() {
        let _ = std::fs::remove_file(&temporary);
    }
    written
}

fn ensure_parent(path: &Path) -> Result<(), String> {
    match path.parent().filter(|dir| !dir.as_os_str().is_empty()) {
        Some(dir) => std::fs::create_dir_all(dir)
            .map_err(|error| format!("cannot create {}: {error}", dir.display())),
        None => Ok(()),
    }
}

fn temporary_beside(path: &Path) -> PathBuf {
    let mut name = path.as_os_str().to_owned();
    name.push(format!(".portkey-tmp-{}", std::process::id()));
    PathBuf::from(name)
}

fn warn(message: &str) {
    eprintln!("portkey-ld: warning: {message}");
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn setting_reads_environment_values() {
        assert_eq!(CacheSetting::from_env_value(None), CacheSetting::Auto);
        assert_eq!(
            CacheSetting::from_env_value(Some(OsString::new())),
            CacheSetting::Auto
        );
        assert_eq!(
            CacheSetting::from_env_value(Some("off".into())),
            CacheSetting::Off
        );
        assert_eq!(
            CacheSetting::from_env_value(Some("/tmp/cache".into())),
            CacheSetting::Folder(PathBuf::from("/tmp/cache"))
        );
    }

    #[test]
    fn auto_setting_finds_the_cargo_target_folder() {
        let dir = tempfile::tempdir().expect("temp dir");
        let output = dir
            .path()
            .join("target/x86_64-unknown-linux-musl/release/deps/hello-1234");
        assert_eq!(CacheSetting::Auto.folder_for(&output), None);
        std::fs::create_dir_all(dir.path().join("target")).expect("create target");
        std::fs::write(dir.path().join("target/CACHEDIR.TAG"), "Signature").expect("write tag");
        assert_eq!(
            CacheSetting::Auto.folder_for(&output),
            Some(dir.path().join("target").join(CACHE_FOLDER_NAME))
        );
        assert_eq!(CacheSetting::Off.folder_for(&output), None);
    }

    #[test]
    fn prune_keeps_most_recently_used() {
        let dir = tempfile::tempdir().expect("temp dir");
        let base = SystemTime::now() - Duration::from_secs(1000);
        for (index, name) in ["old", "middle", "new"].iter().enumerate() {
            let entry = dir.path().join(name);
            std::fs::create_dir_all(&entry).expect("create entry");
            let key = entry.join(KEY_FILE);
            std::fs::write(&key, name).expect("write key");
            let file = std::fs::File::options()
                .append(true)
                .open(&key)
                .expect("open key");
            file.set_modified(base + Duration::from_secs(index as u64 * 100))
                .expect("set time");
        }
        let stale = dir.path().join(".tmp-abc-1");
        std::fs::create_dir_all(&stale).expect("create temporary");
        std::fs::File::open(&stale)
            .and_then(|file| file.set_modified(base - STALE_TEMPORARY))
            .expect("age temporary");

        prune(dir.path(), 2);
        let mut left: Vec<String> = std::fs::read_dir(dir.path())
            .expect("list")
            .map(|entry| {
                entry
                    .expect("entry")
                    .file_name()
                    .to_string_lossy()
                    .into_owned()
            })
            .collect();
        left.sort();
        assert_eq!(left, ["middle", "new"]);
    }
}
