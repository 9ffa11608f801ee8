//! The final native link: the original command line with every consumed bitcode input replaced
//! by the one shaken object (plus native members extracted from rlibs), plugin options removed
//! and `--strip-all` added, run through the original linker driver.

use std::ffi::OsString;
use std::path::{Path, PathBuf};
use std::process::Command;

use crate::args::{LinkItem, LinkLine, escape_response_arg};
use crate::error::ShakeError;

/// Above this many bytes of arguments the driver gets a response file instead, well below the
/// usual 2 MiB limit of Linux on a command line.
const RESPONSE_FILE_THRESHOLD: usize = 64 * 1024;

/// Linker option that removes every symbol and all debug info from the executable.
pub const STRIP_ALL: &str = "-Wl,--strip-all";

/// Builds the driver's arguments. The object and the extracted natives take the place of the
/// first consumed input, so they keep that input's position relative to the libraries after it.
pub fn final_arguments(
    line: &LinkLine,
    consumed: &[usize],
    object: &Path,
    extracted: &[PathBuf],
) -> Vec<OsString> {
    let mut args = Vec::with_capacity(line.items.len() + extracted.len() + 2);
    let mut object_placed = false;
    for (index, item) in line.items.iter().enumerate() {
        if consumed.contains(&index) {
            if !object_placed {
                args.push(object.as_os_str().to_os_string());
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
        args.push(object.as_os_str().to_os_string());
        args.extend(extracted.iter().map(|path| path.as_os_str().to_os_string()));
    }
    // The executable is stripped: a Lambda image never symbolises a backtrace. The linker option
    // goes last because GNU ld lets the last of `--strip-debug` (which rustc passes) and
    // `--strip-all` win, and the driver's own `-s` lands before the `-Wl,` options.
    args.push(OsString::from(STRIP_ALL));
    args
}

/// Runs the linker driver with `args`, through a response file in `scratch` when the line is
/// long. The driver's own messages go straight to stderr, where rustc shows them.
pub fn run_driver(cc: &str, args: &[OsString], scratch: &Path) -> Result<(), ShakeError> {
    let total: usize = args.iter().map(|arg| arg.len() + 1).sum();
    let mut command = Command::new(cc);
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
            Path::new("/tmp/shaken.o"),
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
        run_driver(script.to_str().expect("utf-8 path"), &args, dir.path()).expect("driver runs");
        let written = std::fs::read_to_string(&output).expect("response file copied");
        let parsed = crate::args::split_response_text(&written);
        assert_eq!(parsed.len(), 401);
        assert_eq!(parsed[400], "with space.o");
    }

    #[test]
    fn failing_driver_is_reported() {
        let dir = tempfile::tempdir().expect("temp dir");
        let error = run_driver("false", &os(&["a.o"]), dir.path()).expect_err("false fails");
        assert!(matches!(error, ShakeError::NativeLink { .. }), "{error}");
        let missing =
            run_driver("/nonexistent/cc", &os(&["a.o"]), dir.path()).expect_err("no such driver");
        assert!(missing.to_string().contains("/nonexistent/cc"), "{missing}");
    }
}
