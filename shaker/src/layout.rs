//! Attribution of the executable's bytes. The sections are read from the stripped executable
//! that ships. The symbols are read from a second link of the same line without `--strip-all`,
//! and each is attributed to the shaken object or to the native input that defines its name.
//! Bytes that no symbol covers (unwind tables, relocations, string literals, padding) stay with
//! their section, so the sections and the headers add up to the file's size.

use std::collections::{BTreeMap, HashMap, HashSet};
use std::path::{Path, PathBuf};

use object::read::archive::ArchiveFile;
use object::{Object, ObjectSection, ObjectSymbol, SymbolKind};
use portkey_report::{
    ImageLayout, OriginBytes, SHAKEN_OBJECT_ORIGIN, SectionBytes, UNKNOWN_ORIGIN,
};
use rayon::prelude::*;

/// A native input of the final link and the name the report gives it.
#[derive(Debug, Clone)]
pub struct NativeInput {
    pub path: PathBuf,
    pub label: String,
}

impl NativeInput {
    /// Names a native input by its file name. The hash cargo puts into an rlib's name is
    /// dropped (`libcompiler_builtins-0a1b2c.rlib` becomes `libcompiler_builtins.rlib`).
    pub fn new(path: PathBuf) -> Self {
        let file_name = path
            .file_name()
            .map(|name| name.to_string_lossy().into_owned())
            .unwrap_or_else(|| path.display().to_string());
        let label = match file_name.strip_suffix(".rlib") {
            Some(stem) => match stem.rsplit_once('-') {
                Some((name, _hash)) => format!("{name}.rlib"),
                None => file_name.clone(),
            },
            None => file_name,
        };
        NativeInput { path, label }
    }

    /// Names a member that the shaker extracted from an rlib into a file called
    /// `<input>-<member>-<name>`, by `<name>` without the hash prefix that the `cc` crate puts
    /// before the names of the objects it compiles (`722728aa2236e4a5-bridge.o` becomes
    /// `bridge.o`).
    pub fn extracted(path: PathBuf) -> Self {
        let file_name = path
            .file_name()
            .map(|name| name.to_string_lossy().into_owned())
            .unwrap_or_default();
        let member = file_name.splitn(3, '-').nth(2).unwrap_or(&file_name);
        let label = match member.split_once('-') {
            Some((prefix, name))
                if prefix.len() == 16 && prefix.bytes().all(|byte| byte.is_ascii_hexdigit()) =>
            {
                name.to_string()
            }
            _ => member.to_string(),
        };
        NativeInput { path, label }
    }
}

/// Reads the section table of `stripped` and attributes the symbols of `unstripped` (the same
/// link with its symbol table kept) to `shaken_symbols` or to the native input that defines
/// each name. Fails with a message when either file cannot be read or parsed.
pub fn image_layout(
    stripped: &Path,
    unstripped: &Path,
    shaken_symbols: &HashSet<String>,
    natives: &[NativeInput],
) -> Result<ImageLayout, String> {
    let stripped_bytes = read(stripped)?;
    let unstripped_bytes = read(unstripped)?;
    let stripped_file = object::File::parse(&*stripped_bytes)
        .map_err(|error| format!("{}: {error}", stripped.display()))?;
    let unstripped_file = object::File::parse(&*unstripped_bytes)
        .map_err(|error| format!("{}: {error}", unstripped.display()))?;
    let native_names = native_definitions(natives);

    let attributed = attribute_symbols(&unstripped_file, shaken_symbols, &native_names);

    let mut sections = Vec::new();
    let mut in_sections = 0u64;
    for section in stripped_file.sections() {
        let Ok(name) = section.name() else { continue };
        if name.is_empty() {
            continue;
        }
        let file_bytes = section.file_range().map(|(_, size)| size).unwrap_or(0);
        in_sections += file_bytes;
        let memory_bytes = if is_loaded(&section) {
            section.size()
        } else {
            0
        };
        let symbols = attributed.by_section.get(name).copied().unwrap_or_default();
        let covered = symbols.shaken + symbols.native;
        sections.push(SectionBytes {
            name: name.to_string(),
            file_bytes,
            memory_bytes,
            shaken_bytes: symbols.shaken,
            native_bytes: symbols.native,
            unnamed_bytes: section.size().saturating_sub(covered),
        });
    }

    let mut origins: Vec<OriginBytes> = attributed
        .by_origin
        .into_iter()
        .map(|(origin, totals)| OriginBytes {
            origin,
            bytes: totals.file_bytes,
            memory_only_bytes: totals.memory_only_bytes,
            symbols: totals.symbols,
        })
        .collect();
    origins.sort_by(|a, b| b.bytes.cmp(&a.bytes).then_with(|| a.origin.cmp(&b.origin)));

    Ok(ImageLayout {
        sections,
        headers_and_padding: (stripped_bytes.len() as u64).saturating_sub(in_sections),
        origins,
    })
}

fn read(path: &Path) -> Result<Vec<u8>, String> {
    std::fs::read(path).map_err(|error| format!("{}: {error}", path.display()))
}

fn is_loaded(section: &object::Section<'_, '_>) -> bool {
    const SHF_ALLOC: u64 = 0x2;
    match section.flags() {
        object::SectionFlags::Elf { sh_flags } => sh_flags & SHF_ALLOC != 0,
        _ => true,
    }
}

/// Symbol bytes of one section, split by who supplied them.
#[derive(Debug, Clone, Copy, Default)]
struct SectionSymbols {
    shaken: u64,
    native: u64,
}

/// Symbol bytes of one input.
#[derive(Debug, Clone, Copy, Default)]
struct OriginTotals {
    /// Bytes of symbols in sections with contents in the file.
    file_bytes: u64,
    /// Bytes of symbols in sections that only take memory (`.bss`, `.tbss`).
    memory_only_bytes: u64,
    symbols: u64,
}

struct Attributed {
    by_section: HashMap<String, SectionSymbols>,
    by_origin: BTreeMap<String, OriginTotals>,
}

/// Counts each sized code and data symbol once per address, so aliases (a weak and a strong
/// name for one function, as in musl) do not count twice. An address takes the origin of the
/// first of its names that the shaken object or a native input defines.
fn attribute_symbols(
    file: &object::File<'_>,
    shaken_symbols: &HashSet<String>,
    native_names: &HashMap<String, String>,
) -> Attributed {
    // (section index, address) to (size, origin).
    let mut places: BTreeMap<(usize, u64), (u64, Option<String>)> = BTreeMap::new();
    for symbol in file.symbols() {
        if symbol.is_undefined() || symbol.size() == 0 {
            continue;
        }
        if !matches!(
            symbol.kind(),
            SymbolKind::Text | SymbolKind::Data | SymbolKind::Tls
        ) {
            continue;
        }
        let Some(section) = symbol.section_index() else {
            continue;
        };
        let Ok(name) = symbol.name() else { continue };
        let origin = if shaken_symbols.contains(name) {
            Some(SHAKEN_OBJECT_ORIGIN.to_string())
        } else {
            native_names.get(name).cloned()
        };
        let place = places
            .entry((section.0, symbol.address()))
            .or_insert((0, None));
        place.0 = place.0.max(symbol.size());
        if place.1.is_none() {
            place.1 = origin;
        }
    }

    let mut by_section: HashMap<String, SectionSymbols> = HashMap::new();
    let mut by_origin: BTreeMap<String, OriginTotals> = BTreeMap::new();
    for ((section_index, _), (size, origin)) in places {
        let Ok(section) = file.section_by_index(object::SectionIndex(section_index)) else {
            continue;
        };
        let Ok(section_name) = section.name() else {
            continue;
        };
        // NOTE: a name no input on the line defines (the linker's own symbols, or start files
        // that the `cc` driver adds by itself) counts as unknown, in the section's native column.
        let origin = origin.unwrap_or_else(|| UNKNOWN_ORIGIN.to_string());
        let counts = by_section.entry(section_name.to_string()).or_default();
        if origin == SHAKEN_OBJECT_ORIGIN {
            counts.shaken += size;
        } else {
            counts.native += size;
        }
        let totals = by_origin.entry(origin).or_default();
        if section.file_range().is_some() {
            totals.file_bytes += size;
        } else {
            totals.memory_only_bytes += size;
        }
        totals.symbols += 1;
    }
    Attributed {
        by_section,
        by_origin,
    }
}

/// Maps every code and data symbol that a native input defines to that input's label. A name
/// defined by several inputs keeps the first input's label, in link-line order, as the linker
/// would pick it.
fn native_definitions(natives: &[NativeInput]) -> HashMap<String, String> {
    let per_file: Vec<Vec<String>> = natives
        .par_iter()
        .map(|input| defined_names(&input.path))
        .collect();
    let mut names = HashMap::new();
    for (input, defined) in natives.iter().zip(per_file) {
        for name in defined {
            names.entry(name).or_insert_with(|| input.label.clone());
        }
    }
    names
}

/// Returns the defined code and data symbols of an object file or of each member of an archive.
/// A file that cannot be read or parsed defines nothing, so its symbols count as unknown.
fn defined_names(path: &Path) -> Vec<String> {
    let Ok(bytes) = std::fs::read(path) else {
        return Vec::new();
    };
    let mut names = Vec::new();
    if bytes.starts_with(b"!<arch>\n") {
        let Ok(archive) = ArchiveFile::parse(&*bytes) else {
            return names;
        };
        for member in archive.members().flatten() {
            if let Ok(data) = member.data(&*bytes) {
                collect_defined(data, &mut names);
            }
        }
    } else {
        collect_defined(&bytes, &mut names);
    }
    names
}

fn collect_defined(data: &[u8], names: &mut Vec<String>) {
    let Ok(file) = object::File::parse(data) else {
        return;
    };
    for symbol in file.symbols() {
        if symbol.is_undefined() {
            continue;
        }
        if !matches!(
            symbol.kind(),
            SymbolKind::Text | SymbolKind::Data | SymbolKind::Tls
        ) {
            continue;
        }
        if let Ok(name) = symbol.name()
            && !name.is_empty()
        {
            names.push(name.to_string());
        }
    }
}

#[cfg(test)]
mod tests {
    use super::NativeInput;
    use std::path::PathBuf;

    #[test]
    fn native_labels_drop_rlib_hashes() {
        let cases = [
            (
                "/x/libcompiler_builtins-0a1b2c3d.rlib",
                "libcompiler_builtins.rlib",
            ),
            ("/sysroot/self-contained/libc.a", "libc.a"),
            ("/sysroot/self-contained/crt1.o", "crt1.o"),
        ];
        for (path, label) in cases {
            assert_eq!(
                NativeInput::new(PathBuf::from(path)).label,
                label,
                "path {path}"
            );
        }
    }

    #[test]
    fn extracted_labels_keep_member_name() {
        let cases = [
            ("/tmp/x/12-0-hello-c.o", "hello-c.o"),
            ("/tmp/x/3-1-722728aa2236e4a5-bridge.o", "bridge.o"),
            ("/tmp/x/3-2-notahexprefix00-x.o", "notahexprefix00-x.o"),
        ];
        for (path, label) in cases {
            assert_eq!(NativeInput::extracted(PathBuf::from(path)).label, label, "path {path}");
        }
    }
}
