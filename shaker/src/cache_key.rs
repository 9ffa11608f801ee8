//! The content key of a link: everything that can change what `portkey-ld` produces, written
//! as a small text manifest and hashed with BLAKE3. Two links with the same key produce the
//! same executable, report and call graph, so the second can copy the first's results.
//!
//! The manifest lists, in order: the format version and the identity of this `portkey-ld`. The
//! identity includes the size and modification time of its executable, so a rebuilt linker does
//! not reuse an older one's results. Then come the rustc commit, LLVM version and libLLVM path
//! it was built against, the linker driver and the environment settings that change the
//! result, and every item of the link line in order. File operands appear as their file name and the hash of their contents,
//! never as their folder, and `-l` libraries add the hash of the static archive they resolve to.
//! The output path becomes `<output>` and rustc's temporary folder (the folder of its
//! `symbols.o`, named `rustc` and six random characters) becomes `<rustc-temp>`, so a relink of
//! identical inputs into another file still matches.

use std::ffi::OsString;
use std::fmt::Write as _;
use std::path::{Path, PathBuf};

use rayon::prelude::*;

use crate::args::{LinkItem, LinkLine};
use crate::error::ShakeError;
use crate::link::Driver;
use crate::natives::resolve_library;
use crate::toolchain;
use portkey_report::{MethodShaking, SizeMode};

/// First line of every key manifest. Bump the number when the manifest or the stored entry
/// changes meaning.
pub const MANIFEST_VERSION: &str = "portkey-ld-cache 1";

/// Environment variables of the linker driver that change which files it links.
const DRIVER_ENVIRONMENT: &[&str] = &["LIBRARY_PATH", "COMPILER_PATH", "GCC_EXEC_PREFIX"];

/// The key of one link and the manifest it was computed from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LinkKey {
    /// BLAKE3 hash of the manifest, as 64 lower-case hex digits.
    pub hex: String,
    /// The manifest text, stored beside a cache entry so two entries can be compared.
    pub manifest: String,
}

/// Settings besides the link line that change the result of a link.
#[derive(Debug, Clone)]
pub struct KeySettings<'a> {
    /// The program of the final link (`cc`, `PORTKEY_LD_CC` or `PORTKEY_LD_LLD`).
    pub driver: Driver<'a>,
    /// The symbols the report explains.
    pub explain: &'a [String],
    /// Min-size mode replaces function bodies, so it changes the executable.
    pub size_mode: SizeMode,
    /// Method shaking traps vtable slots, so it changes the executable.
    pub method_shaking: MethodShaking,
    /// The number of code generation parts changes the layout of the executable.
    pub codegen_parts: usize,
}

/// Computes the key of `line`. File contents are hashed in parallel.
pub fn link_key(line: &LinkLine, settings: &KeySettings<'_>) -> Result<LinkKey, ShakeError> {
    // The file behind each item, in line order: the operand itself, or the static archive a
    // `-l` option resolves to.
    let files: Vec<Option<PathBuf>> = line
        .items
        .iter()
        .map(|item| match item {
            LinkItem::Input(path) => Some(path.clone()),
            LinkItem::Library { name, mode, .. } => {
                resolve_library(name, *mode, &line.search_dirs, settings.driver)
            }
            LinkItem::Verbatim(_) => None,
        })
        .collect();
    let hashes: Vec<Option<String>> = files
        .par_iter()
        .map(|file| file.as_deref().map(hash_file).transpose())
        .collect::<Result<_, _>>()?;

    let mut manifest = String::with_capacity(16 * 1024);
    write_identity(&mut manifest, settings);
    let temp_dir = rustc_temp_dir(line);
    let normalise = |token: &OsString| normalise_token(token, &line.output, temp_dir.as_deref());
    for (item, hash) in line.items.iter().zip(&hashes) {
        let hash = hash.as_deref().unwrap_or("not-static");
        // `fmt::Write for String` never fails.
        match item {
            LinkItem::Input(path) => {
                let name = path
                    .file_name()
                    .map(|name| name.to_string_lossy().into_owned())
                    .unwrap_or_default();
                let _ = writeln!(manifest, "input {name} {hash}");
            }
            LinkItem::Library { tokens, name, mode } => {
                let tokens: Vec<String> = tokens.iter().map(normalise).collect();
                let _ = writeln!(
                    manifest,
                    "library {} {name} {mode:?} {hash}",
                    tokens.join(" ")
                );
            }
            LinkItem::Verbatim(tokens) => {
                let tokens: Vec<String> = tokens.iter().map(normalise).collect();
                let _ = writeln!(manifest, "arg {}", tokens.join(" "));
            }
        }
    }
    Ok(LinkKey {
        hex: blake3::hash(manifest.as_bytes()).to_hex().to_string(),
        manifest,
    })
}

/// Writes the lines that identify this linker, its toolchain and its settings.
fn write_identity(manifest: &mut String, settings: &KeySettings<'_>) {
    let _ = writeln!(manifest, "{MANIFEST_VERSION}");
    let _ = writeln!(
        manifest,
        "portkey-ld {} {}",
        env!("CARGO_PKG_VERSION"),
        own_executable_stamp()
    );
    let _ = writeln!(
        manifest,
        "toolchain rustc {} {} llvm {} {}",
        toolchain::RUSTC_RELEASE,
        toolchain::RUSTC_COMMIT,
        toolchain::LLVM_VERSION,
        toolchain::LIBLLVM_PATH
    );
    let driver = find_program(&settings.driver.program())
        .map(|path| path.display().to_string())
        .unwrap_or_else(|| "not-found".to_string());
    // NOTE: only the driver's path is part of the key, not the crt objects, libgcc or `ld` it
    // adds by itself, so a system toolchain upgrade needs the cache folder cleared.
    let _ = writeln!(manifest, "driver {} {driver}", settings.driver);
    let _ = writeln!(manifest, "explain {}", settings.explain.join(","));
    let _ = writeln!(manifest, "size {}", settings.size_mode.as_str());
    let _ = writeln!(manifest, "methods {}", settings.method_shaking.as_str());
    let _ = writeln!(manifest, "codegen-parts {}", settings.codegen_parts);
    for name in DRIVER_ENVIRONMENT {
        let value = std::env::var_os(name)
            .map(|value| value.to_string_lossy().into_owned())
            .unwrap_or_default();
        let _ = writeln!(manifest, "env {name}={value}");
    }
}

/// Returns the size and modification time (nanoseconds since the epoch) of the running
/// executable, or zeros when they cannot be read.
fn own_executable_stamp() -> String {
    let stamp = std::env::current_exe()
        .map(|exe| portkey_report::executable_stamp(&exe))
        .unwrap_or_default();
    if stamp.is_empty() {
        return "0 0".to_string();
    }
    stamp
}

/// Finds `program` the way the operating system would: a name with a `/` is a path, any other
/// name is looked up in the folders of `PATH`.
fn find_program(program: &str) -> Option<PathBuf> {
    if program.contains('/') {
        return Some(PathBuf::from(program));
    }
    let path = std::env::var_os("PATH")?;
    std::env::split_paths(&path)
        .map(|dir| dir.join(program))
        .find(|candidate| candidate.is_file())
}

/// Returns the folder rustc created for this link, recognised as the folder of an input named
/// `symbols.o` whose own name starts with `rustc`.
fn rustc_temp_dir(line: &LinkLine) -> Option<String> {
    line.inputs()
        .filter(|path| path.file_name().is_some_and(|name| name == "symbols.o"))
        .filter_map(Path::parent)
        .find(|dir| {
            dir.file_name()
                .and_then(|name| name.to_str())
                .is_some_and(|name| name.starts_with("rustc"))
        })
        .map(|dir| dir.display().to_string())
}

fn normalise_token(token: &OsString, output: &Path, temp_dir: Option<&str>) -> String {
    let text = token.to_string_lossy();
    if Path::new(&*text) == output {
        return "<output>".to_string();
    }
    match temp_dir {
        Some(dir) if text.contains(dir) => text.replace(dir, "<rustc-temp>"),
        _ => text.into_owned(),
    }
}

/// BLAKE3 hash of a file's contents, as hex.
pub fn hash_file(path: &Path) -> Result<String, ShakeError> {
    let read_error = |source| ShakeError::Read {
        path: path.to_path_buf(),
        source,
    };
    let file = std::fs::File::open(path).map_err(read_error)?;
    let mut hasher = blake3::Hasher::new();
    hasher.update_reader(file).map_err(read_error)?;
    Ok(hasher.finalize().to_hex().to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn os(args: &[&str]) -> Vec<OsString> {
        args.iter().map(OsString::from).collect()
    }

    /// Writes `files` (name, contents) into `dir` and returns a parsed line that links them into
    /// `output`, with `extra` arguments in front.
    fn line_of(dir: &Path, files: &[(&str, &[u8])], extra: &[&str], output: &Path) -> LinkLine {
        let mut args = os(extra);
        for (name, contents) in files {
            let path = dir.join(name);
            if let Some(parent) = path.parent() {
                std::fs::create_dir_all(parent).expect("create input folder");
            }
            std::fs::write(&path, contents).expect("write input");
            args.push(path.into_os_string());
        }
        args.push(OsString::from("-o"));
        args.push(output.as_os_str().to_os_string());
        LinkLine::parse(&args).expect("valid line")
    }

    fn key(line: &LinkLine) -> LinkKey {
        let settings = KeySettings {
            driver: Driver::Cc("cc"),
            explain: &[],
            size_mode: SizeMode::Full,
            method_shaking: MethodShaking::On,
            codegen_parts: 2,
        };
        link_key(line, &settings).expect("inputs readable")
    }

    #[test]
    fn key_ignores_output_and_input_folders() {
        let first = tempfile::tempdir().expect("temp dir");
        let second = tempfile::tempdir().expect("temp dir");
        let files: &[(&str, &[u8])] = &[("main.o", b"main"), ("rustcAbC123/symbols.o", b"syms")];
        let raw_dylibs = |dir: &Path| format!("-L{}/rustcAbC123/raw-dylibs", dir.display());
        let extra_a = raw_dylibs(first.path());
        let extra_b = raw_dylibs(second.path());
        let a = line_of(
            first.path(),
            files,
            &[&extra_a],
            &first.path().join("out-a"),
        );
        let b = line_of(
            second.path(),
            files,
            &[&extra_b],
            &second.path().join("out-b"),
        );
        let manifest = key(&a).manifest;
        assert_eq!(key(&a).hex, key(&b).hex, "{manifest}");
        assert!(manifest.contains("arg -o <output>"), "{manifest}");
        assert!(
            manifest.contains("arg -L<rustc-temp>/raw-dylibs"),
            "{manifest}"
        );
    }

    #[test]
    fn key_changes_with_one_input_byte() {
        let dir = tempfile::tempdir().expect("temp dir");
        let output = dir.path().join("out");
        let before = key(&line_of(dir.path(), &[("main.o", b"main-0")], &[], &output));
        let after = key(&line_of(dir.path(), &[("main.o", b"main-1")], &[], &output));
        assert_ne!(before.hex, after.hex);
    }

    #[test]
    fn key_changes_with_arguments_and_their_order() {
        let dir = tempfile::tempdir().expect("temp dir");
        let output = dir.path().join("out");
        let files: &[(&str, &[u8])] = &[("a.o", b"a"), ("b.o", b"b")];
        let plain = key(&line_of(dir.path(), files, &[], &output));
        let flagged = key(&line_of(dir.path(), files, &["-no-pie"], &output));
        assert_ne!(plain.hex, flagged.hex);
        let reversed: &[(&str, &[u8])] = &[("b.o", b"b"), ("a.o", b"a")];
        let swapped = key(&line_of(dir.path(), reversed, &[], &output));
        assert_ne!(plain.hex, swapped.hex);
    }

    #[test]
    fn key_changes_with_settings() {
        let dir = tempfile::tempdir().expect("temp dir");
        let line = line_of(
            dir.path(),
            &[("main.o", b"main")],
            &[],
            &dir.path().join("out"),
        );
        let base = key(&line);
        let explain = ["main".to_string()];
        let explained = link_key(
            &line,
            &KeySettings {
                driver: Driver::Cc("cc"),
                explain: &explain,
                size_mode: SizeMode::Full,
                method_shaking: MethodShaking::On,
                codegen_parts: 2,
            },
        )
        .expect("inputs readable");
        assert_ne!(base.hex, explained.hex);
        let other_driver = link_key(
            &line,
            &KeySettings {
                driver: Driver::Cc("/usr/bin/false"),
                explain: &[],
                size_mode: SizeMode::Full,
                method_shaking: MethodShaking::On,
                codegen_parts: 2,
            },
        )
        .expect("inputs readable");
        assert_ne!(base.hex, other_driver.hex);
        let min_size = link_key(
            &line,
            &KeySettings {
                driver: Driver::Cc("cc"),
                explain: &[],
                size_mode: SizeMode::Min,
                method_shaking: MethodShaking::On,
                codegen_parts: 2,
            },
        )
        .expect("inputs readable");
        assert_ne!(base.hex, min_size.hex);
        let without_methods = link_key(
            &line,
            &KeySettings {
                driver: Driver::Cc("cc"),
                explain: &[],
                size_mode: SizeMode::Full,
                method_shaking: MethodShaking::Off,
                codegen_parts: 2,
            },
        )
        .expect("inputs readable");
        assert_ne!(base.hex, without_methods.hex);
    }

    #[test]
    fn key_hashes_resolved_static_libraries() {
        let dir = tempfile::tempdir().expect("temp dir");
        let lib_dir = dir.path().join("lib");
        std::fs::create_dir_all(&lib_dir).expect("create lib folder");
        let archive = lib_dir.join("libdemo.a");
        let extra = [
            "-L",
            lib_dir.to_str().expect("UTF-8 path"),
            "-Wl,-Bstatic",
            "-ldemo",
        ];
        let output = dir.path().join("out");

        std::fs::write(&archive, b"!<arch>\nfirst").expect("write archive");
        let first = key(&line_of(
            dir.path(),
            &[("main.o", b"main")],
            &extra,
            &output,
        ));
        std::fs::write(&archive, b"!<arch>\nsecond").expect("rewrite archive");
        let second = key(&line_of(
            dir.path(),
            &[("main.o", b"main")],
            &extra,
            &output,
        ));
        assert_ne!(first.hex, second.hex, "{}", second.manifest);
        assert!(
            first.manifest.contains("library -ldemo demo Static"),
            "{}",
            first.manifest
        );
    }

    #[test]
    fn missing_input_names_the_file() {
        let dir = tempfile::tempdir().expect("temp dir");
        let line = LinkLine::parse(&os(&[
            dir.path().join("absent.o").to_str().expect("UTF-8 path"),
            "-o",
            "out",
        ]))
        .expect("valid line");
        let error = link_key(
            &line,
            &KeySettings {
                driver: Driver::Cc("cc"),
                explain: &[],
                size_mode: SizeMode::Full,
                method_shaking: MethodShaking::On,
                codegen_parts: 2,
            },
        )
        .expect_err("input is missing");
        assert!(error.to_string().contains("absent.o"), "{error}");
    }
}
