//! Helpers shared by the CLI's integration tests.

// Each test binary compiles its own copy of this module and uses only part of it.
#![allow(dead_code)]

use std::path::{Path, PathBuf};
use std::process::{Command, Output};
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

impl Fixture {
    /// The manifest of the fixture copy.
    pub fn manifest(&self) -> &Path {
        &self.manifest
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

/// Runs `portkey <args> --manifest-path <manifest>` and echoes its stderr for the test log.
pub fn portkey_in(manifest: &Path, args: &[&str]) -> Output {
    let output = Command::new(env!("CARGO_BIN_EXE_portkey"))
        .args(args)
        .arg("--manifest-path")
        .arg(manifest)
        .output()
        .expect("the portkey executable runs");
    eprintln!("$ portkey {}\n{}", args.join(" "), stderr_of(&output));
    output
}

/// Returns a command's stderr as text.
pub fn stderr_of(output: &Output) -> String {
    String::from_utf8_lossy(&output.stderr).into_owned()
}

/// Returns the URL of the `url: ` line that `portkey mount` prints.
pub fn url_of(output: &Output) -> String {
    let printed = String::from_utf8_lossy(&output.stdout).into_owned();
    printed
        .lines()
        .find_map(|line| line.strip_prefix("url: "))
        .unwrap_or_else(|| panic!("no `url:` line in {printed:?}"))
        .to_string()
}

/// Fetches `url` with curl and returns the status code and the body.
pub fn curl_get(url: &str) -> (String, String) {
    let reply = Command::new("curl")
        .args(["-sS", "--max-time", "120", "-o", "-", "-w", "\n%{http_code}"])
        .arg(url)
        .output()
        .expect("curl runs");
    assert!(reply.status.success(), "curl {url}: {}", stderr_of(&reply));
    let text = String::from_utf8_lossy(&reply.stdout).into_owned();
    let (body, status) = text.rsplit_once('\n').expect("curl printed the status line");
    (status.to_string(), body.to_string())
}
