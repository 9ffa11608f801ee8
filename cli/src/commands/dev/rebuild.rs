//! One image rebuild for `portkey dev`: `portkey shake --json` for a mount, run as a child
//! process in its own process group, so that a newer change can stop the whole build (cargo,
//! rustc and the shaker) at once and start over.

use std::io::Read;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use anyhow::{Context, Result};
use portkey_project::MountRecord;
use serde::Deserialize;

/// The JSON `portkey shake --json` prints. The report is kept as JSON: `dev` reads only a few of
/// its fields, and reports written by other portkey versions may lack some.
#[derive(Debug, Deserialize)]
pub struct ShakeOutput {
    pub bootstrap: PathBuf,
    pub zip: PathBuf,
    pub code_sha256: String,
    pub report: serde_json::Value,
}

/// The end of a rebuild.
pub enum Rebuild {
    Built {
        output: Box<ShakeOutput>,
        elapsed: Duration,
    },
    /// The build failed; the text is what the build printed, for the user.
    Failed(String),
    /// A newer change arrived and the build was stopped.
    Stopped,
}

/// Rebuilds the image of `mount`, polling `interrupted` while it runs; when it returns true the
/// build is stopped.
pub fn rebuild(manifest: &Path, mount: &MountRecord, mut interrupted: impl FnMut() -> bool) -> Result<Rebuild> {
    let exe = std::env::current_exe().context("cannot find the path of the running portkey")?;
    let mut command = Command::new(exe);
    command
        .args(["shake", "--json", "--fn", &mount.function, "--manifest-path"])
        .arg(manifest);
    if let Some(size) = &mount.build.size {
        command.args(["--size", size]);
    }
    if mount.build.no_method_shaking {
        command.arg("--no-method-shaking");
    }
    if let Some(arch) = &mount.build.arch {
        command.args(["--arch", arch]);
    }
    command.stdin(Stdio::null()).stdout(Stdio::piped()).stderr(Stdio::piped());
    std::os::unix::process::CommandExt::process_group(&mut command, 0);

    let started = Instant::now();
    let mut child = command.spawn().context("cannot start `portkey shake` for the rebuild")?;
    let stdout = read_in_background(child.stdout.take());
    let stderr = read_in_background(child.stderr.take());
    let status = loop {
        if let Some(status) = child.try_wait().context("cannot wait for the rebuild")? {
            break status;
        }
        if interrupted() {
            stop_group(&mut child);
            return Ok(Rebuild::Stopped);
        }
        std::thread::sleep(Duration::from_millis(50));
    };
    let stdout = stdout.join().unwrap_or_default();
    let stderr = stderr.join().unwrap_or_default();
    if !status.success() {
        return Ok(Rebuild::Failed(build_error(&stderr)));
    }
    let output: ShakeOutput = serde_json::from_str(&stdout)
        .with_context(|| format!("`portkey shake --json` printed something that is not its report: {stdout:.200}"))?;
    Ok(Rebuild::Built {
        output: Box::new(output),
        elapsed: started.elapsed(),
    })
}

fn read_in_background(pipe: Option<impl Read + Send + 'static>) -> std::thread::JoinHandle<String> {
    std::thread::spawn(move || {
        let mut text = String::new();
        if let Some(mut pipe) = pipe {
            let _ = pipe.read_to_string(&mut text);
        }
        text
    })
}

/// Stops the build and everything it started: cargo, rustc, the shaker.
fn stop_group(child: &mut Child) {
    if let Ok(pid) = i32::try_from(child.id()) {
        // SAFETY: kill(2) with a negative pid signals the process group that `process_group(0)`
        // created for this child; it touches no memory.
        unsafe {
            libc::kill(-pid, libc::SIGTERM);
        }
    }
    let deadline = Instant::now() + Duration::from_secs(5);
    while Instant::now() < deadline {
        if let Ok(Some(_)) = child.try_wait() {
            return;
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    if let Ok(pid) = i32::try_from(child.id()) {
        // SAFETY: as above, with SIGKILL for a group that ignored SIGTERM.
        unsafe {
            libc::kill(-pid, libc::SIGKILL);
        }
    }
    let _ = child.wait();
}

/// Keeps the part of a failed build's output a user needs: the compiler's messages and
/// portkey's error, without the status lines of the steps that worked.
fn build_error(stderr: &str) -> String {
    let lines: Vec<&str> = stderr
        .lines()
        .filter(|line| {
            let trimmed = line.trim_start();
            !(trimmed.starts_with("Generating ") || trimmed.starts_with("Building ") || trimmed.starts_with("Compiling "))
        })
        .collect();
    let text = lines.join("\n");
    if text.trim().is_empty() { stderr.trim().to_string() } else { text.trim().to_string() }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn build_error_keeps_compiler_messages() {
        let stderr = "  Generating shim for a::b\n    Building a::b through the shaker\n   Compiling a v0.1.0\nerror: expected `;`\n --> src/lib.rs:3:5\nerror: cargo failed";
        let kept = build_error(stderr);
        assert!(kept.starts_with("error: expected `;`"), "{kept}");
        assert!(kept.contains("src/lib.rs:3:5"), "{kept}");
        assert!(!kept.contains("Generating"), "{kept}");
    }
}
