//! The choice of how a bootstrap starts: directly when it is built for this machine's
//! architecture, or under qemu-user when it is not, so an arm64 image runs on an x86_64 machine
//! (and the other way round). The architecture comes from the ELF header, not from the mount
//! record, because the executable is what runs.

use std::path::{Path, PathBuf};

/// `e_machine` of x86-64 executables.
const EM_X86_64: u16 = 62;
/// `e_machine` of AArch64 executables.
const EM_AARCH64: u16 = 183;

/// The program that starts a bootstrap.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Launcher {
    /// The bootstrap runs directly.
    Native,
    /// The bootstrap runs as an argument of this qemu-user emulator.
    Emulator(PathBuf),
}

/// Reads the architecture of the executable at `bootstrap`, as `std::env::consts::ARCH` spells
/// it. Returns `None` when the file is not a 64-bit little-endian ELF file of a known machine.
pub(crate) fn elf_arch(bootstrap: &Path) -> std::io::Result<Option<&'static str>> {
    use std::io::Read;
    let mut header = [0u8; 20];
    let mut file = std::fs::File::open(bootstrap)?;
    if file.read_exact(&mut header).is_err() {
        return Ok(None);
    }
    Ok(arch_of_header(&header))
}

fn arch_of_header(header: &[u8; 20]) -> Option<&'static str> {
    // Magic, ELFCLASS64 and ELFDATA2LSB.
    if header[..4] != *b"\x7fELF" || header[4] != 2 || header[5] != 1 {
        return None;
    }
    match u16::from_le_bytes([header[18], header[19]]) {
        EM_X86_64 => Some("x86_64"),
        EM_AARCH64 => Some("aarch64"),
        _ => None,
    }
}

/// Decides how to start `bootstrap`, looking for qemu-user on `path` (the server's `PATH`)
/// when the executable's architecture is not this machine's. The error names the file, both
/// architectures and the package to install.
pub(crate) fn launcher_for(
    bootstrap: &Path,
    path: Option<&std::ffi::OsStr>,
) -> Result<Launcher, String> {
    let arch = match elf_arch(bootstrap) {
        Ok(Some(arch)) => arch,
        // Not an ELF file this module knows, or not readable: starting it directly reports the
        // real problem when an instance starts.
        Ok(None) | Err(_) => return Ok(Launcher::Native),
    };
    let host = std::env::consts::ARCH;
    if arch == host {
        return Ok(Launcher::Native);
    }
    let candidates = [format!("qemu-{arch}-static"), format!("qemu-{arch}")];
    let found = path.and_then(|path| {
        std::env::split_paths(path).find_map(|dir| {
            candidates
                .iter()
                .map(|name| dir.join(name))
                .find(|candidate| is_executable(candidate))
        })
    });
    found.map(Launcher::Emulator).ok_or_else(|| {
        format!(
            "the bootstrap {} is an {arch} executable and this machine is {host}, so it runs \
             under qemu-user, but neither {} nor {} is on PATH; install Debian's \
             qemu-user-static (`apt-get install qemu-user-static`) and mount again, or build \
             for {host}",
            bootstrap.display(),
            candidates[0],
            candidates[1]
        )
    })
}

fn is_executable(path: &Path) -> bool {
    use std::os::unix::fs::PermissionsExt;
    std::fs::metadata(path)
        .is_ok_and(|metadata| metadata.is_file() && metadata.permissions().mode() & 0o111 != 0)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn header(machine: u16) -> [u8; 20] {
        let mut header = [0u8; 20];
        header[..4].copy_from_slice(b"\x7fELF");
        header[4] = 2;
        header[5] = 1;
        header[18..20].copy_from_slice(&machine.to_le_bytes());
        header
    }

    #[test]
    fn reads_the_machine_of_64_bit_little_endian_elf_files() {
        assert_eq!(arch_of_header(&header(EM_X86_64)), Some("x86_64"));
        assert_eq!(arch_of_header(&header(EM_AARCH64)), Some("aarch64"));
        assert_eq!(
            arch_of_header(&header(40)),
            None,
            "32-bit ARM is not a Lambda architecture"
        );
        let mut script = [0u8; 20];
        script[..9].copy_from_slice(b"#!/bin/sh");
        assert_eq!(arch_of_header(&script), None);
    }

    #[test]
    fn a_foreign_executable_needs_qemu_on_path() {
        let dir = tempfile::tempdir().expect("temp dir");
        let foreign = if std::env::consts::ARCH == "x86_64" {
            EM_AARCH64
        } else {
            EM_X86_64
        };
        let foreign_arch = arch_of_header(&header(foreign)).expect("known machine");
        let bootstrap = dir.path().join("bootstrap");
        std::fs::write(&bootstrap, header(foreign)).expect("write header");

        let empty = dir.path().join("empty");
        std::fs::create_dir(&empty).expect("folder");
        let error = launcher_for(&bootstrap, Some(empty.as_os_str())).expect_err("no qemu");
        assert!(
            error.contains(&format!("qemu-{foreign_arch}-static")),
            "{error}"
        );
        assert!(
            error.contains("apt-get install qemu-user-static"),
            "{error}"
        );

        let tools = dir.path().join("tools");
        std::fs::create_dir(&tools).expect("folder");
        let qemu = tools.join(format!("qemu-{foreign_arch}"));
        std::fs::write(&qemu, "").expect("write qemu");
        let not_executable = launcher_for(&bootstrap, Some(tools.as_os_str()));
        assert!(
            not_executable.is_err(),
            "a file without the execute bit is not a launcher"
        );
        std::fs::set_permissions(&qemu, std::os::unix::fs::PermissionsExt::from_mode(0o755))
            .expect("chmod");
        let search = std::env::join_paths([empty.as_path(), tools.as_path()]).expect("path");
        assert_eq!(
            launcher_for(&bootstrap, Some(&search)),
            Ok(Launcher::Emulator(qemu))
        );
    }

    #[test]
    fn a_native_executable_starts_directly() {
        let dir = tempfile::tempdir().expect("temp dir");
        let bootstrap = dir.path().join("bootstrap");
        let own = if std::env::consts::ARCH == "x86_64" {
            EM_X86_64
        } else {
            EM_AARCH64
        };
        std::fs::write(&bootstrap, header(own)).expect("write header");
        assert_eq!(launcher_for(&bootstrap, None), Ok(Launcher::Native));
        std::fs::write(&bootstrap, "#!/bin/sh\necho\n").expect("write script");
        assert_eq!(launcher_for(&bootstrap, None), Ok(Launcher::Native));
    }
}
