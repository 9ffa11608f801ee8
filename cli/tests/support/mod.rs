//! Helpers shared by the CLI's integration tests.

// Each test binary compiles its own copy of this module and uses only part of it.
#![allow(dead_code)]

use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::{Mutex, MutexGuard};

/// Copies `fixtures/<fixture>` to `<CARGO_TARGET_TMPDIR>/<name>` and returns the copy's manifest.
/// The copy's `target/` is kept between runs, so later runs reuse its builds. The copy's
/// manifest gets an empty `[workspace]` table: it lives inside portkey's own target folder, and
/// without the table cargo would take it for a stray member of portkey's workspace.
pub fn fixture_copy(fixture: &str, name: &str) -> PathBuf {
    let source = Path::new(env!("CARGO_MANIFEST_DIR")).join("../fixtures").join(fixture);
    let copy = Path::new(env!("CARGO_TARGET_TMPDIR")).join(name);
    copy_tree(&source, &copy);
    copy.join("Cargo.toml")
}

/// Copies the sources of a cargo project, leaving out `target/` and portkey's own files.
fn copy_tree(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).unwrap();
    for entry in std::fs::read_dir(from).unwrap() {
        let entry = entry.unwrap();
        let name = entry.file_name();
        let name = name.to_string_lossy();
        if name == "target" || name.starts_with("portkey.json") {
            continue;
        }
        let destination = to.join(&*name);
        if entry.file_type().unwrap().is_dir() {
            copy_tree(&entry.path(), &destination);
            continue;
        }
        let mut content = std::fs::read(entry.path()).unwrap();
        let is_root_manifest = name == "Cargo.toml" && from.join("src").is_dir();
        if is_root_manifest && !content.windows(11).any(|window| window == b"[workspace]") {
            content.extend_from_slice(b"\n[workspace]\n");
        }
        // Rewriting an unchanged file would make cargo rebuild it.
        if std::fs::read(&destination).ok().as_deref() != Some(content.as_slice()) {
            std::fs::write(&destination, content).unwrap();
        }
    }
}

static SERIAL: Mutex<()> = Mutex::new(());

/// One test's hold on a fixture copy: tests of a binary share the copy and its local backend, so
/// they run one at a time. The backend is stopped and the project file removed when the test
/// ends, pass or fail.
pub struct Fixture {
    manifest: PathBuf,
    _serial: MutexGuard<'static, ()>,
}

impl Fixture {
    /// Waits for the fixture at `manifest`, then starts the test from an empty project file.
    pub fn take(manifest: PathBuf) -> Fixture {
        let serial = SERIAL.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
        let _ = std::fs::remove_file(manifest.with_file_name("portkey.json"));
        Fixture {
            manifest,
            _serial: serial,
        }
    }
}

impl Drop for Fixture {
    fn drop(&mut self) {
        let _ = Command::new(env!("CARGO_BIN_EXE_portkey"))
            .arg("down")
            .arg("--manifest-path")
            .arg(&self.manifest)
            .output();
        let _ = std::fs::remove_file(self.manifest.with_file_name("portkey.json"));
    }
}
