//! Reads the file operands of the link line and sorts what they hold into LLVM bitcode to shake
//! and native code to hand to the final link.
//!
//! Raw bitcode objects (what rustc writes under `-C linker-plugin-lto`), rlib members that are
//! bitcode, and ELF members carrying an `.llvmbc` section (the sysroot's std, core and alloc) are
//! consumed. `lib.rmeta` members and rustc's `symbols.o` are skipped: the latter only lists
//! symbols for the native linker to keep, and those are decided here now. `compiler_builtins`
//! always stays native, as rustc links it. Native members of an archive that also contains bitcode
//! are written to a temporary folder and forwarded as plain objects.

use std::path::{Path, PathBuf};

use object::read::archive::ArchiveFile;
use object::{Object, ObjectSection};
use rayon::prelude::*;

use crate::args::{LinkItem, LinkLine};
use crate::error::ShakeError;

const BITCODE_MAGIC: &[u8] = b"BC\xC0\xDE";
const BITCODE_WRAPPER_MAGIC: &[u8] = &[0xDE, 0xC0, 0x17, 0x0B];
const ARCHIVE_MAGIC: &[u8] = b"!<arch>\n";
const ELF_MAGIC: &[u8] = b"\x7fELF";

/// One bitcode module and where it came from.
#[derive(Debug)]
pub struct BitcodeBlob {
    /// `path` or `path(member)`, used in messages.
    pub origin: String,
    /// Crate that produced the module, read from the file or member name.
    pub crate_name: String,
    pub bytes: Vec<u8>,
}

/// Result of reading every input.
#[derive(Debug)]
pub struct Gathered {
    /// Bitcode modules in link-line order.
    pub bitcode: Vec<BitcodeBlob>,
    /// Positions in `LinkLine::items` whose input was consumed or skipped, so the final link
    /// leaves them out.
    pub consumed: Vec<usize>,
    /// Native members extracted from archives that also held bitcode.
    pub extracted: Vec<PathBuf>,
    /// Native inputs that stay on the line unchanged, with `compiler_builtins`.
    pub native_inputs: Vec<PathBuf>,
    /// Folder holding the extracted members; removed when dropped.
    pub temp_dir: tempfile::TempDir,
}

impl Gathered {
    /// Total size of the bitcode modules, in bytes.
    pub fn bitcode_bytes(&self) -> u64 {
        self.bitcode
            .iter()
            .map(|blob| blob.bytes.len() as u64)
            .sum()
    }
}

enum Classified {
    /// The whole input is replaced by the shaken object.
    Consumed {
        bitcode: Vec<BitcodeBlob>,
        natives: Vec<(String, Vec<u8>)>,
    },
    /// rustc's `symbols.o`: dropped from the final link.
    Skipped,
    Native,
}

/// Reads all file operands in parallel and classifies them.
pub fn gather(line: &LinkLine) -> Result<Gathered, ShakeError> {
    let inputs: Vec<(usize, &Path)> = line
        .items
        .iter()
        .enumerate()
        .filter_map(|(index, item)| match item {
            LinkItem::Input(path) => Some((index, path.as_path())),
            _ => None,
        })
        .collect();

    let classified: Vec<Result<Classified, ShakeError>> = inputs
        .par_iter()
        .map(|(_, path)| classify_input(path))
        .collect();

    let temp_dir = tempfile::Builder::new()
        .prefix("portkey-ld-")
        .tempdir()
        .map_err(ShakeError::TempDir)?;
    let mut gathered = Gathered {
        bitcode: Vec::new(),
        consumed: Vec::new(),
        extracted: Vec::new(),
        native_inputs: Vec::new(),
        temp_dir,
    };
    for ((item_index, path), result) in inputs.iter().zip(classified) {
        match result? {
            Classified::Consumed { bitcode, natives } => {
                gathered.consumed.push(*item_index);
                gathered.bitcode.extend(bitcode);
                for (member_index, (name, bytes)) in natives.into_iter().enumerate() {
                    let file_name = format!("{item_index}-{member_index}-{}", sanitize(&name));
                    let target = gathered.temp_dir.path().join(file_name);
                    std::fs::write(&target, bytes).map_err(|source| ShakeError::Write {
                        path: target.clone(),
                        source,
                    })?;
                    gathered.extracted.push(target);
                }
            }
            Classified::Skipped => gathered.consumed.push(*item_index),
            Classified::Native => gathered.native_inputs.push(path.to_path_buf()),
        }
    }
    Ok(gathered)
}

fn classify_input(path: &Path) -> Result<Classified, ShakeError> {
    let file_name = path.file_name().and_then(|n| n.to_str()).unwrap_or("");
    if file_name == "symbols.o" {
        return Ok(Classified::Skipped);
    }
    if is_compiler_builtins(file_name) {
        return Ok(Classified::Native);
    }
    let bytes = std::fs::read(path).map_err(|source| ShakeError::Read {
        path: path.to_path_buf(),
        source,
    })?;
    let origin = path.display().to_string();

    if is_bitcode(&bytes) {
        let crate_name = crate_from_object_name(file_name);
        let blob = BitcodeBlob {
            origin,
            crate_name,
            bytes,
        };
        return Ok(Classified::Consumed {
            bitcode: vec![blob],
            natives: Vec::new(),
        });
    }
    if bytes.starts_with(ARCHIVE_MAGIC) {
        return classify_archive(path, file_name, &bytes);
    }
    if bytes.starts_with(ELF_MAGIC)
        && let Some(section) = embedded_bitcode(&bytes, &origin)?
    {
        let blob = BitcodeBlob {
            origin,
            crate_name: crate_from_object_name(file_name),
            bytes: section,
        };
        return Ok(Classified::Consumed {
            bitcode: vec![blob],
            natives: Vec::new(),
        });
    }
    Ok(Classified::Native)
}

fn classify_archive(path: &Path, file_name: &str, bytes: &[u8]) -> Result<Classified, ShakeError> {
    let archive_error = |message: String| ShakeError::Object {
        origin: path.display().to_string(),
        message,
    };
    let archive = ArchiveFile::parse(bytes).map_err(|error| archive_error(error.to_string()))?;
    if archive.is_thin() {
        return Ok(Classified::Native);
    }
    let crate_name = crate_from_archive_name(file_name);
    let mut bitcode = Vec::new();
    let mut natives = Vec::new();
    for member in archive.members() {
        let member = member.map_err(|error| archive_error(error.to_string()))?;
        let name = String::from_utf8_lossy(member.name()).into_owned();
        let origin = format!("{}({name})", path.display());
        let data = member.data(bytes).map_err(|error| ShakeError::Object {
            origin: origin.clone(),
            message: error.to_string(),
        })?;
        if name.starts_with("lib.rmeta") || name == "symbols.o" {
            continue;
        }
        if is_bitcode(data) {
            bitcode.push(BitcodeBlob {
                origin,
                crate_name: crate_name.clone(),
                bytes: data.to_vec(),
            });
            continue;
        }
        if data.starts_with(ELF_MAGIC)
            && let Some(section) = embedded_bitcode(data, &origin)?
        {
            bitcode.push(BitcodeBlob {
                origin,
                crate_name: crate_name.clone(),
                bytes: section,
            });
            continue;
        }
        natives.push((name, data.to_vec()));
    }
    if bitcode.is_empty() {
        return Ok(Classified::Native);
    }
    Ok(Classified::Consumed { bitcode, natives })
}

fn is_bitcode(bytes: &[u8]) -> bool {
    bytes.starts_with(BITCODE_MAGIC) || bytes.starts_with(BITCODE_WRAPPER_MAGIC)
}

/// Returns the contents of a non-empty `.llvmbc` section, the bitcode rustc embeds with
/// `-C embed-bitcode=yes`.
fn embedded_bitcode(bytes: &[u8], origin: &str) -> Result<Option<Vec<u8>>, ShakeError> {
    let file = object::File::parse(bytes).map_err(|error| ShakeError::Object {
        origin: origin.to_string(),
        message: error.to_string(),
    })?;
    let Some(section) = file.section_by_name(".llvmbc") else {
        return Ok(None);
    };
    let data = section.data().map_err(|error| ShakeError::Object {
        origin: origin.to_string(),
        message: format!("unreadable .llvmbc section: {error}"),
    })?;
    if data.is_empty() || !is_bitcode(data) {
        return Ok(None);
    }
    Ok(Some(data.to_vec()))
}

fn is_compiler_builtins(file_name: &str) -> bool {
    file_name.starts_with("libcompiler_builtins-") && file_name.ends_with(".rlib")
}

/// `libstd-286e4795762d614b.rlib` names crate `std`.
fn crate_from_archive_name(file_name: &str) -> String {
    let stem = file_name.strip_prefix("lib").unwrap_or(file_name);
    crate_from_object_name(stem)
}

/// `hello-4ca3136adeef19fc.hello.98f2c00e-cgu.0.rcgu.o` names crate `hello`.
fn crate_from_object_name(file_name: &str) -> String {
    let end = file_name.find(['-', '.']).unwrap_or(file_name.len());
    file_name[..end].to_string()
}

/// Keeps a member name usable as a file name.
fn sanitize(name: &str) -> String {
    name.chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || c == '.' || c == '_' || c == '-' {
                c
            } else {
                '_'
            }
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn crate_names_come_from_file_names() {
        let cases = [
            ("libstd-286e4795762d614b.rlib", "std"),
            ("libserde_json-0123.rlib", "serde_json"),
            ("liblibc-40c2333b0a6f4be1.rlib", "libc"),
        ];
        for (file, expected) in cases {
            assert_eq!(crate_from_archive_name(file), expected, "file {file}");
        }
        let objects = [
            (
                "hello-4ca3136adeef19fc.hello.98f2c00e6631fe18-cgu.0.rcgu.o",
                "hello",
            ),
            (
                "hello-4ca3136adeef19fc.6vhly86kplca3uvuv11v4z6ym.rcgu.o",
                "hello",
            ),
            ("plain.o", "plain"),
        ];
        for (file, expected) in objects {
            assert_eq!(crate_from_object_name(file), expected, "file {file}");
        }
    }

    #[test]
    fn compiler_builtins_is_recognised() {
        assert!(is_compiler_builtins(
            "libcompiler_builtins-c7b5ab71edecfbc3.rlib"
        ));
        assert!(!is_compiler_builtins("libcore-a0f9e4120c43638d.rlib"));
    }

    #[test]
    fn member_names_are_sanitised() {
        assert_eq!(sanitize("foo/bar baz.o"), "foo_bar_baz.o");
    }
}
