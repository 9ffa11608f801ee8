//! The final native link: the original command line with every consumed bitcode input replaced
//! by the one shaken object (plus native members extracted from rlibs), plugin options removed
//! and `--strip-all` added, run through the original linker driver.
//!
//! A cross link (an aarch64 image built on x86_64) has no C compiler driver for the target. It
//! runs the toolchain's `rust-lld` as GNU ld instead, on the same line translated from driver
//! options to linker options by [`ld_arguments`]. rustc already names every start file, library
//! and folder of a self-contained musl target on the line, so nothing that the driver would add
//! is missing.

use std::ffi::OsString;
use std::fmt;
use std::path::{Path, PathBuf};
use std::process::Command;

use crate::args::{LinkItem, LinkLine, escape_response_arg};
use crate::error::ShakeError;

/// Above this many bytes of arguments the driver gets a response file instead, well below the
/// usual 2 MiB limit of Linux on a command line.
const RESPONSE_FILE_THRESHOLD: usize = 64 * 1024;

/// Linker option that removes every symbol and all debug info from the executable.
pub const STRIP_ALL: &str = "-Wl,--strip-all";

/// The program that performs the final link.
#[derive(Debug, Clone, Copy)]
pub enum Driver<'a> {
    /// A gcc-compatible compiler driver (`cc`), given the line as rustc wrote it.
    Cc(&'a str),
    /// `rust-lld`, run as GNU ld (`-flavor gnu`) on the line translated by [`ld_arguments`].
    Lld(&'a Path),
}

impl Driver<'_> {
    /// Returns the program's name or path.
    pub fn program(&self) -> String {
        match self {
            Driver::Cc(cc) => cc.to_string(),
            Driver::Lld(path) => path.display().to_string(),
        }
    }
}

impl fmt::Display for Driver<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Driver::Cc(cc) => write!(f, "cc {cc}"),
            Driver::Lld(path) => write!(f, "lld {}", path.display()),
        }
    }
}

/// Driver options that only steer the compiler driver itself (what it adds to the link by
/// default), dropped when the line goes to the linker directly.
const DRIVER_ONLY: &[&str] = &[
    "-nostartfiles",
    "-nodefaultlibs",
    "-nostdlib",
    "-no-pie",
    "-m64",
    "-m32",
    "-pthread",
    "-fPIC",
    "-fpic",
    "-fno-pie",
];

/// Translates a gcc-driver link line into GNU ld arguments. `-Wl,` and `-Xlinker` options are
/// unpacked, and `-static-pie` and `-s` become their linker spellings. Options that only steer
/// the driver are dropped. Everything else (inputs, `-L`, `-l`, `-o`, `-z`, `-static`, `-pie`)
/// is passed as it is.
pub fn ld_arguments(args: &[OsString]) -> Vec<OsString> {
    let mut out = Vec::with_capacity(args.len());
    let mut index = 0;
    while index < args.len() {
        let arg = &args[index];
        index += 1;
        let Some(text) = arg.to_str() else {
            out.push(arg.clone());
            continue;
        };
        if let Some(list) = text.strip_prefix("-Wl,") {
            out.extend(
                list.split(',')
                    .filter(|option| !option.is_empty())
                    .map(OsString::from),
            );
            continue;
        }
        match text {
            // A flag whose value is the next argument keeps that value as it is.
            "-o" | "-L" | "-l" | "-z" | "-T" | "-u" | "-e" => {
                out.push(arg.clone());
                if let Some(next) = args.get(index) {
                    out.push(next.clone());
                    index += 1;
                }
            }
            "-Xlinker" => {
                if let Some(next) = args.get(index) {
                    out.push(next.clone());
                    index += 1;
                }
            }
            "-static-pie" => out.extend(
                ["-static", "-pie", "--no-dynamic-linker", "-z", "text"].map(OsString::from),
            ),
            "-s" => out.push(OsString::from("--strip-all")),
            "-B" => index += 1,
            _ if DRIVER_ONLY.contains(&text)
                || text.starts_with("-fuse-ld=")
                || (text.starts_with("-B") && text.len() > 2)
                || text.starts_with("-march=")
                || text.starts_with("-mcpu=") => {}
            _ => out.push(arg.clone()),
        }
    }
    out
}

/// Builds the driver's arguments. The object and the extracted natives take the place of the
/// first consumed input, so they keep that input's position relative to the libraries after it.
pub fn final_arguments(
    line: &LinkLine,
    consumed: &[usize],
    objects: &[PathBuf],
    extracted: &[PathBuf],
) -> Vec<OsString> {
    let mut args = Vec::with_capacity(line.items.len() + extracted.len() + 2);
    let mut object_placed = false;
    for (index, item) in line.items.iter().enumerate() {
        if consumed.contains(&index) {
            if !object_placed {
                args.extend(objects.iter().map(|path| path.as_os_str().to_os_string()));
                args.extend(extracted.iter().map(|path| path.as_os_str().to_os_string()));
                object_placed = true;
            }
            continue;
        }
        match item {
            LinkItem::Input(path) => args.push(path.as_os_str().to_os_string()),
            LinkItem::Library { tokens, .. } | LinkItem::Verbatim(tokens) => {
                args.extend(tokens.iter().cloned())
            }
        }
    }
    if !object_placed {
        args.extend(objects.iter().map(|path| path.as_os_str().to_os_string()));
        args.extend(extracted.iter().map(|path| path.as_os_str().to_os_string()));
    }
    // The executable is stripped: a Lambda image never symbolises a backtrace. The linker option
    // goes last because GNU ld lets the last of `--strip-debug` (which rustc passes) and
    // `--strip-all` win, and the driver's own `-s` lands before the `-Wl,` options.
    args.push(OsString::from(STRIP_ALL));
    args
}

/// Returns the final link's arguments with the executable written to `output` and its symbol
/// table kept: every `-o` value is replaced and the strip options are removed.
pub fn unstripped_arguments(final_args: &[OsString], output: &Path) -> Vec<OsString> {
    let mut args = Vec::with_capacity(final_args.len());
    let mut index = 0;
    while index < final_args.len() {
        let arg = &final_args[index];
        index += 1;
        match arg.to_str() {
            Some("-o") => {
                args.push(arg.clone());
                args.push(output.as_os_str().to_os_string());
                index += 1;
            }
            Some("-s" | "-Wl,-s" | STRIP_ALL) => {}
            _ => args.push(arg.clone()),
        }
    }
    args
}

/// Runs the final link with `args` (driver options, as rustc wrote them), through a response
/// file in `scratch` when the line is long. The linker's own messages go straight to stderr,
/// where rustc shows them.
pub fn run_driver(driver: Driver<'_>, args: &[OsString], scratch: &Path) -> Result<(), ShakeError> {
    run(driver, args, scratch, false)
}

/// Runs a link like [`run_driver`] with the linker's messages discarded, for a second link whose
/// warnings the first one already printed.
pub fn run_driver_quietly(
    driver: Driver<'_>,
    args: &[OsString],
    scratch: &Path,
) -> Result<(), ShakeError> {
    run(driver, args, scratch, true)
}

fn run(
    driver: Driver<'_>,
    args: &[OsString],
    scratch: &Path,
    quiet: bool,
) -> Result<(), ShakeError> {
    let translated;
    let (program, args) = match driver {
        Driver::Cc(cc) => (cc.to_string(), args),
        Driver::Lld(lld) => {
            translated = ld_arguments(args);
            (lld.display().to_string(), translated.as_slice())
        }
    };
    let cc = program.as_str();
    let total: usize = args.iter().map(|arg| arg.len() + 1).sum();
    let mut command = Command::new(cc);
    if let Driver::Lld(_) = driver {
        // lld reads its flavor from the command line only, before any response file.
        command.args(["-flavor", "gnu"]);
    }
    if total > RESPONSE_FILE_THRESHOLD {
        let path = scratch.join("link.rsp");
        let mut text = String::with_capacity(total * 2);
        for arg in args {
            let arg = arg.to_str().ok_or_else(|| ShakeError::NonUtf8Argument {
                argument: arg.clone(),
            })?;
            text.push_str(&escape_response_arg(arg));
            text.push('\n');
        }
        std::fs::write(&path, text).map_err(|source| ShakeError::Write {
            path: path.clone(),
            source,
        })?;
        command.arg(format!("@{}", path.display()));
    } else {
        command.args(args);
    }
    if quiet {
        command
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null());
    }
    let status = command.status().map_err(|source| ShakeError::SpawnLinker {
        program: cc.to_string(),
        source,
    })?;
    if !status.success() {
        return Err(ShakeError::NativeLink {
            program: cc.to_string(),
            status: status.to_string(),
        });
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn unstripped_link_keeps_symbols() {
        let final_args = os(&["-s", "a.o", "-o", "/out/app", "-lc", STRIP_ALL]);
        let args = unstripped_arguments(&final_args, Path::new("/tmp/full"));
        assert_eq!(args, os(&["a.o", "-o", "/tmp/full", "-lc"]));
    }

    fn os(args: &[&str]) -> Vec<OsString> {
        args.iter().map(OsString::from).collect()
    }

    #[test]
    fn consumed_inputs_become_one_object() {
        let line = LinkLine::parse(&os(&[
            "crt1.o",
            "symbols.o",
            "main.rcgu.o",
            "alloc.rcgu.o",
            "libstd.rlib",
            "-lc",
            "libcompiler_builtins.rlib",
            "-Wl,-plugin-opt=O3,--gc-sections",
            "-o",
            "out",
        ]))
        .expect("valid line");
        let consumed = [1, 2, 3, 4];
        let args = final_arguments(
            &line,
            &consumed,
            &[PathBuf::from("/tmp/shaken.o")],
            &[PathBuf::from("/tmp/native-1.o")],
        );
        assert_eq!(
            args,
            os(&[
                "crt1.o",
                "/tmp/shaken.o",
                "/tmp/native-1.o",
                "-lc",
                "libcompiler_builtins.rlib",
                "-Wl,--gc-sections",
                "-o",
                "out",
                STRIP_ALL
            ])
        );
    }

    #[test]
    fn long_lines_go_through_a_response_file() {
        let dir = tempfile::tempdir().expect("temp dir");
        let output = dir.path().join("args.txt");
        // A shell script replaces the driver and copies the response file it receives.
        let script = dir.path().join("driver.sh");
        std::fs::write(
            &script,
            format!("#!/bin/sh\ncat \"${{1#@}}\" > {}\n", output.display()),
        )
        .expect("write script");
        std::fs::set_permissions(&script, std::os::unix::fs::PermissionsExt::from_mode(0o755))
            .expect("chmod");
        let long = "x".repeat(200);
        let mut args: Vec<OsString> = (0..400)
            .map(|i| OsString::from(format!("{long}{i}.o")))
            .collect();
        args.push(OsString::from("with space.o"));
        run_driver(
            Driver::Cc(script.to_str().expect("utf-8 path")),
            &args,
            dir.path(),
        )
        .expect("driver runs");
        let written = std::fs::read_to_string(&output).expect("response file copied");
        let parsed = crate::args::split_response_text(&written);
        assert_eq!(parsed.len(), 401);
        assert_eq!(parsed[400], "with space.o");
    }

    #[test]
    fn failing_driver_is_reported() {
        let dir = tempfile::tempdir().expect("temp dir");
        let error =
            run_driver(Driver::Cc("false"), &os(&["a.o"]), dir.path()).expect_err("false fails");
        assert!(matches!(error, ShakeError::NativeLink { .. }), "{error}");
        let missing = run_driver(Driver::Cc("/nonexistent/cc"), &os(&["a.o"]), dir.path())
            .expect_err("no such driver");
        assert!(missing.to_string().contains("/nonexistent/cc"), "{missing}");
    }

    #[test]
    fn driver_options_become_linker_options() {
        // The shape of rustc's line for aarch64-unknown-linux-musl, shortened.
        let args = os(&[
            "crt1.o",
            "/tmp/shaken.o",
            "-Wl,--as-needed",
            "-Wl,-Bstatic",
            "-lunwind",
            "-lc",
            "-L",
            "/sysroot/self-contained",
            "-Wl,-Bdynamic",
            "-Wl,--eh-frame-hdr",
            "-Wl,-z,noexecstack",
            "-nostartfiles",
            "-o",
            "out",
            "-Wl,--gc-sections",
            "-static",
            "-no-pie",
            "-Wl,-z,relro,-z,now",
            "-nodefaultlibs",
            "-fuse-ld=lld",
            "-Xlinker",
            "--build-id=none",
            "crtn.o",
            STRIP_ALL,
        ]);
        assert_eq!(
            ld_arguments(&args),
            os(&[
                "crt1.o",
                "/tmp/shaken.o",
                "--as-needed",
                "-Bstatic",
                "-lunwind",
                "-lc",
                "-L",
                "/sysroot/self-contained",
                "-Bdynamic",
                "--eh-frame-hdr",
                "-z",
                "noexecstack",
                "-o",
                "out",
                "--gc-sections",
                "-static",
                "-z",
                "relro",
                "-z",
                "now",
                "--build-id=none",
                "crtn.o",
                "--strip-all",
            ])
        );
        assert_eq!(
            ld_arguments(&os(&["-static-pie", "-s", "a.o"])),
            os(&[
                "-static",
                "-pie",
                "--no-dynamic-linker",
                "-z",
                "text",
                "--strip-all",
                "a.o"
            ])
        );
    }

    /// Writes a `rust-lld` stand-in into `dir` that records its arguments, one per line, and
    /// returns its path and the path of the record.
    fn recording_lld(dir: &Path) -> (PathBuf, PathBuf) {
        let output = dir.join("args.txt");
        let script = dir.join("rust-lld");
        std::fs::write(
            &script,
            format!("#!/bin/sh\nprintf '%s\\n' \"$@\" > {}\n", output.display()),
        )
        .expect("write script");
        std::fs::set_permissions(&script, std::os::unix::fs::PermissionsExt::from_mode(0o755))
            .expect("chmod");
        (script, output)
    }

    #[test]
    fn lld_receives_the_gnu_flavor_and_translated_line() {
        let dir = tempfile::tempdir().expect("temp dir");
        let (script, output) = recording_lld(dir.path());
        run_driver(
            Driver::Lld(&script),
            &os(&["a.o", "-nodefaultlibs", "-Wl,-z,now", "-o", "out"]),
            dir.path(),
        )
        .expect("linker runs");
        let written = std::fs::read_to_string(&output).expect("arguments written");
        assert_eq!(
            written.lines().collect::<Vec<_>>(),
            ["-flavor", "gnu", "a.o", "-z", "now", "-o", "out"]
        );
    }

    #[test]
    fn long_lld_lines_keep_the_flavor_outside_the_response_file() {
        let dir = tempfile::tempdir().expect("temp dir");
        let (script, output) = recording_lld(dir.path());
        let long = "x".repeat(200);
        let args: Vec<OsString> = (0..400)
            .map(|i| OsString::from(format!("{long}{i}.o")))
            .collect();
        run_driver(Driver::Lld(&script), &args, dir.path()).expect("linker runs");
        let written = std::fs::read_to_string(&output).expect("arguments written");
        let lines: Vec<&str> = written.lines().collect();
        assert_eq!(lines[..2], ["-flavor", "gnu"]);
        assert_eq!(lines.len(), 3, "{lines:?}");
        assert!(lines[2].starts_with('@'), "{lines:?}");
    }
}
