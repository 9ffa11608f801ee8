//! Symbols that native code in the final link needs from the bitcode. Every undefined symbol of
//! a forwarded object, archive member or static `-l` library becomes a root, so C code that
//! calls into Rust (and the C runtime's call to `main`) still links after shaking. So does every
//! weak definition there: a strong Rust definition of the same name overrides it at link time,
//! so that Rust definition must survive and stay visible.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::process::Command;

use object::read::archive::ArchiveFile;
use object::{Object, ObjectSymbol};
use rayon::prelude::*;

use crate::args::{LibraryMode, LinkItem, LinkLine};
use crate::error::ShakeError;
use crate::link::Driver;

/// Collects the undefined symbols of every native input that will take part in the final link:
/// `files` are the native objects and archives of the line, with [`static_libraries`].
pub fn undefined_symbols(files: &[PathBuf]) -> Result<BTreeSet<String>, ShakeError> {
    let per_file: Vec<Result<BTreeSet<String>, ShakeError>> = files
        .par_iter()
        .map(|path| undefined_in_file(path))
        .collect();
    let mut all = BTreeSet::new();
    for symbols in per_file {
        all.extend(symbols?);
    }
    Ok(all)
}

/// Returns the static archive of every `-l` option of the line that names one. A `cc` driver is
/// asked for the location of libraries that no `-L` folder holds.
/// NOTE: shared libraries are not read; a `.so` that calls back into the program by name would
/// need its symbol kept by hand.
pub fn static_libraries(line: &LinkLine, driver: Driver<'_>) -> Vec<PathBuf> {
    let mut files = Vec::new();
    for item in &line.items {
        if let LinkItem::Library { name, mode, .. } = item
            && let Some(path) = resolve_library(name, *mode, &line.search_dirs, driver)
        {
            files.push(path);
        }
    }
    files
}

/// Finds the static archive a `-l` option names. Returns `None` for shared libraries and for
/// libraries the driver cannot find either, which the final link then reports.
pub(crate) fn resolve_library(
    name: &str,
    mode: LibraryMode,
    search_dirs: &[PathBuf],
    driver: Driver<'_>,
) -> Option<PathBuf> {
    let candidates: Vec<String> = match (name.strip_prefix(':'), mode) {
        (Some(exact), _) => vec![exact.to_string()],
        (None, LibraryMode::Static) => vec![format!("lib{name}.a")],
        (None, LibraryMode::Dynamic) => vec![format!("lib{name}.so"), format!("lib{name}.a")],
    };
    for dir in search_dirs {
        for candidate in &candidates {
            let path = dir.join(candidate);
            if path.is_file() {
                return is_static_archive(&path).then_some(path);
            }
        }
    }
    // The driver's own folders (for example the C library's) are not on the line. A cross link
    // through rust-lld has no such folders: rustc names the target's folders with `-L`.
    let Driver::Cc(cc) = driver else {
        return None;
    };
    for candidate in &candidates {
        let output = Command::new(cc)
            .arg(format!("-print-file-name={candidate}"))
            .output()
            .ok()?;
        let printed = String::from_utf8_lossy(&output.stdout).trim().to_string();
        let path = PathBuf::from(&printed);
        // The driver prints the bare name back when it finds nothing.
        if path.is_absolute() && path.is_file() {
            return is_static_archive(&path).then_some(path);
        }
    }
    None
}

fn is_static_archive(path: &Path) -> bool {
    use std::io::Read;
    let mut magic = [0u8; 8];
    std::fs::File::open(path)
        .and_then(|mut file| file.read_exact(&mut magic))
        .map(|_| magic == *b"!<arch>\n")
        .unwrap_or(false)
}

fn undefined_in_file(path: &Path) -> Result<BTreeSet<String>, ShakeError> {
    let bytes = std::fs::read(path).map_err(|source| ShakeError::Read {
        path: path.to_path_buf(),
        source,
    })?;
    let mut symbols = BTreeSet::new();
    if bytes.starts_with(b"!<arch>\n") {
        let archive = ArchiveFile::parse(&*bytes).map_err(|error| ShakeError::Object {
            origin: path.display().to_string(),
            message: error.to_string(),
        })?;
        if archive.is_thin() {
            return Ok(symbols);
        }
        for member in archive.members() {
            let Ok(member) = member else { continue };
            let Ok(data) = member.data(&*bytes) else {
                continue;
            };
            collect_undefined(data, &mut symbols);
        }
        return Ok(symbols);
    }
    collect_undefined(&bytes, &mut symbols);
    Ok(symbols)
}

/// Adds the undefined symbols and weak definitions of one relocatable object; other files (rmeta,
/// linker scripts, shared objects) contribute nothing.
fn collect_undefined(data: &[u8], symbols: &mut BTreeSet<String>) {
    let Ok(file) = object::File::parse(data) else {
        return;
    };
    if file.kind() != object::ObjectKind::Relocatable {
        return;
    }
    for symbol in file.symbols() {
        let overridable = symbol.is_weak() && symbol.is_definition();
        if !symbol.is_undefined() && !overridable {
            continue;
        }
        if let Ok(name) = symbol.name()
            && !name.is_empty()
        {
            symbols.insert(name.to_string());
        }
    }
}
