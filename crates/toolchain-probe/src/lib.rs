//! Reads the active Rust toolchain for portkey's build scripts: the `rustc -vV` release, commit
//! and LLVM version, and the libLLVM shared library in the sysroot. The shaker's build script
//! links that library, and the builder's records its path; both call this crate so they always
//! make the same choice.

use std::path::{Path, PathBuf};
use std::process::Command;

/// The active toolchain, as `rustc` reports it.
#[derive(Debug, Clone)]
pub struct Toolchain {
    pub release: String,
    pub commit: String,
    pub llvm_version: String,
    /// `$(rustc --print sysroot)/lib`.
    pub lib_dir: PathBuf,
    /// The libLLVM shared library in `lib_dir`, when there is one.
    pub libllvm: Option<PathBuf>,
}

/// Runs `rustc -vV` and `rustc --print sysroot` and looks for libLLVM.
pub fn probe(rustc: &str) -> Result<Toolchain, String> {
    let version = run(rustc, &["-vV"])?;
    let field = |key: &str| {
        version
            .lines()
            .find_map(|line| line.strip_prefix(key))
            .map(|value| value.trim().to_string())
            .ok_or_else(|| format!("`{rustc} -vV` printed no `{key}` line:\n{version}"))
    };
    let sysroot = run(rustc, &["--print", "sysroot"])?;
    let lib_dir = PathBuf::from(sysroot.trim()).join("lib");
    Ok(Toolchain {
        release: field("release:")?,
        commit: field("commit-hash:")?,
        llvm_version: field("LLVM version:")?,
        libllvm: find_libllvm(&lib_dir),
        lib_dir,
    })
}

/// Picks the real shared library: `libLLVM.so.<version>` first, then `libLLVM-<version>.so`
/// when it is an ELF file (some toolchains ship the latter as a linker script), then the name
/// order, so the choice is stable.
pub fn find_libllvm(lib_dir: &Path) -> Option<PathBuf> {
    let mut candidates: Vec<PathBuf> = std::fs::read_dir(lib_dir)
        .ok()?
        .filter_map(|entry| entry.ok().map(|entry| entry.path()))
        .filter(|path| {
            let name = file_name(path);
            (name.starts_with("libLLVM.so.") || (name.starts_with("libLLVM-") && name.ends_with(".so")))
                && is_elf(path)
        })
        .collect();
    candidates.sort_by_key(|path| {
        let name = file_name(path);
        (!name.starts_with("libLLVM.so."), name)
    });
    candidates.into_iter().next()
}

fn file_name(path: &Path) -> String {
    path.file_name()
        .and_then(|name| name.to_str())
        .unwrap_or("")
        .to_string()
}

fn is_elf(path: &Path) -> bool {
    use std::io::Read;
    let mut magic = [0u8; 4];
    std::fs::File::open(path)
        .and_then(|mut file| file.read_exact(&mut magic))
        .map(|_| magic == *b"\x7fELF")
        .unwrap_or(false)
}

fn run(program: &str, args: &[&str]) -> Result<String, String> {
    let command = format!("{program} {}", args.join(" "));
    let output = Command::new(program)
        .args(args)
        .output()
        .map_err(|error| format!("failed to run `{command}`: {error}"))?;
    if !output.status.success() {
        return Err(format!(
            "`{command}` failed with {}: {}",
            output.status,
            String::from_utf8_lossy(&output.stderr)
        ));
    }
    String::from_utf8(output.stdout).map_err(|_| format!("`{command}` printed non-UTF-8 output"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn probe_reads_active_toolchain() {
        let toolchain = probe("rustc").expect("rustc runs");
        assert!(!toolchain.release.is_empty());
        assert!(!toolchain.llvm_version.is_empty());
        assert!(toolchain.lib_dir.ends_with("lib"));
    }

    #[test]
    fn find_libllvm_prefers_versioned_name() {
        let dir = std::env::temp_dir().join(format!("portkey-probe-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        std::fs::write(dir.join("libLLVM-22.so"), b"\x7fELFdash").unwrap();
        std::fs::write(dir.join("libLLVM.so.22.1"), b"\x7fELFdot").unwrap();
        std::fs::write(dir.join("libLLVM.so.21.0"), b"INPUT(linker script)").unwrap();

        let found = find_libllvm(&dir);
        let _ = std::fs::remove_dir_all(&dir);
        assert_eq!(found.map(|path| file_name(&path)), Some("libLLVM.so.22.1".to_string()));
    }

    #[test]
    fn find_libllvm_missing_folder() {
        assert_eq!(find_libllvm(Path::new("/nonexistent/portkey-probe")), None);
    }
}
