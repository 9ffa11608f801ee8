//! The reachability fingerprint of an image: one BLAKE3 hash over the canonical kept IR
//! ([`crate::llvm::fingerprint`]), everything the final link adds natively, the target triple,
//! the size mode and the method-shaking setting. Two links with the same fingerprint keep the
//! same code; editing a function the entry cannot reach leaves it unchanged.
//!
//! Native code is covered by content. The inputs are every object and archive that stays on the
//! line (the `compiler_builtins` rlib among them), every native member extracted from an rlib,
//! and the static archive each `-l` library resolves to. Each counts in line order, as its file
//! name and the hash of its contents.
//! NOTE: an archive counts as a whole, so a change to a member the linker does not pull in also
//! changes the fingerprint. `-l` libraries without a static archive count by name only.

use std::fmt::Write as _;
use std::path::{Path, PathBuf};

use portkey_report::{MethodShaking, SizeMode};

use crate::args::{LinkItem, LinkLine};
use crate::cache_key::hash_file;
use crate::error::ShakeError;
use crate::link::Driver;
use crate::natives::resolve_library;

/// First line of the fingerprinted text. Bump the number when its meaning changes.
pub const FINGERPRINT_VERSION: &str = "portkey-fingerprint 1";

/// Everything besides the kept IR that the fingerprint covers.
#[derive(Debug, Clone)]
pub struct FingerprintInputs<'a> {
    /// Hash of the canonical kept IR.
    pub ir_hex: &'a str,
    pub target_triple: &'a str,
    pub size_mode: SizeMode,
    pub method_shaking: MethodShaking,
    /// Native objects and archives of the final link: those left on the line and those
    /// extracted from rlibs.
    pub native_files: &'a [PathBuf],
    pub line: &'a LinkLine,
    /// The program of the final link; a `cc` driver is asked where `-l` libraries live.
    pub driver: Driver<'a>,
}

/// Computes the fingerprint as 64 lower-case hex digits.
pub fn fingerprint(inputs: &FingerprintInputs<'_>) -> Result<String, ShakeError> {
    let mut text = String::new();
    // `fmt::Write for String` never fails.
    let _ = writeln!(text, "{FINGERPRINT_VERSION}");
    let _ = writeln!(text, "target {}", inputs.target_triple);
    let _ = writeln!(text, "size {}", inputs.size_mode.as_str());
    let _ = writeln!(text, "methods {}", inputs.method_shaking.as_str());
    let _ = writeln!(text, "ir {}", inputs.ir_hex);
    for file in inputs.native_files {
        let _ = writeln!(text, "native {} {}", file_name(file), hash_file(file)?);
    }
    for item in &inputs.line.items {
        let LinkItem::Library { name, mode, .. } = item else {
            continue;
        };
        match resolve_library(name, *mode, &inputs.line.search_dirs, inputs.driver) {
            Some(archive) => {
                let _ = writeln!(text, "library {name} {}", hash_file(&archive)?);
            }
            None => {
                let _ = writeln!(text, "library {name} shared");
            }
        }
    }
    Ok(blake3::hash(text.as_bytes()).to_hex().to_string())
}

fn file_name(path: &Path) -> String {
    path.file_name()
        .map(|name| name.to_string_lossy().into_owned())
        .unwrap_or_default()
}
