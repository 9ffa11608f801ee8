//! The linker command line as rustc passes it to a gcc-flavoured linker: response-file
//! expansion, the roles of the arguments (inputs, `-l` libraries, `-o`, plugin options) and the
//! rewriting of that line for the final native link.

use std::ffi::{OsStr, OsString};
use std::path::{Path, PathBuf};

use crate::error::ShakeError;

/// Maximum nesting of `@file` arguments, as a guard against a file that includes itself.
const MAX_RESPONSE_DEPTH: usize = 8;

/// Flags whose value is the next argument when it is not attached.
const FLAGS_WITH_VALUE: &[&str] = &["-o", "-L", "-l", "-z", "-Xlinker", "-T", "-u", "-e", "-B"];

/// One argument (or flag with its value) of the link line, in order.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum LinkItem {
    /// A file operand: an object, an archive, an rlib or a linker script.
    Input(PathBuf),
    /// A `-l` library with the `-Bstatic`/`-Bdynamic` mode in force where it appears.
    Library {
        tokens: Vec<OsString>,
        name: String,
        mode: LibraryMode,
    },
    /// Anything else, passed on unchanged.
    Verbatim(Vec<OsString>),
}

/// Library file kinds that `-lNAME` may resolve to at its position on the line.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LibraryMode {
    Static,
    Dynamic,
}

/// Position independence of the executable the line requests.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ExecutableKind {
    /// `-pie` or `-static-pie`, or no flag (the usual default of distribution compilers).
    PositionIndependent,
    /// `-no-pie` or a plain `-static`.
    Fixed,
}

/// The parsed link line.
#[derive(Debug, Clone)]
pub struct LinkLine {
    pub items: Vec<LinkItem>,
    pub output: PathBuf,
    pub search_dirs: Vec<PathBuf>,
    /// CPU named by `-plugin-opt=mcpu=...`, which rustc passes for linker-plugin LTO.
    pub cpu: Option<String>,
    pub executable: ExecutableKind,
}

/// Expands `@file` arguments in place, the way gcc reads response files.
pub fn expand_response_files(args: &[OsString]) -> Result<Vec<OsString>, ShakeError> {
    let mut expanded = Vec::with_capacity(args.len());
    expand_into(args, 0, &mut expanded)?;
    Ok(expanded)
}

fn expand_into(args: &[OsString], depth: usize, out: &mut Vec<OsString>) -> Result<(), ShakeError> {
    for arg in args {
        let Some(path) = arg.to_str().and_then(|text| text.strip_prefix('@')) else {
            out.push(arg.clone());
            continue;
        };
        let path = PathBuf::from(path);
        if depth >= MAX_RESPONSE_DEPTH {
            return Err(ShakeError::ResponseFileDepth {
                path,
                max: MAX_RESPONSE_DEPTH,
            });
        }
        let text = std::fs::read_to_string(&path).map_err(|source| ShakeError::ResponseFile {
            path: path.clone(),
            source,
        })?;
        let inner: Vec<OsString> = split_response_text(&text)
            .into_iter()
            .map(OsString::from)
            .collect();
        expand_into(&inner, depth + 1, out)?;
    }
    Ok(())
}

/// Splits response-file text into arguments: whitespace separates, single and double quotes
/// group, and a backslash takes the next character literally (libiberty's `buildargv` rules).
pub fn split_response_text(text: &str) -> Vec<String> {
    let mut args = Vec::new();
    let mut current = String::new();
    let mut in_arg = false;
    let mut quote: Option<char> = None;
    let mut chars = text.chars();
    while let Some(c) = chars.next() {
        if c == '\\' {
            if let Some(next) = chars.next() {
                current.push(next);
            }
            in_arg = true;
            continue;
        }
        if let Some(open) = quote {
            if c == open {
                quote = None;
            } else {
                current.push(c);
            }
            continue;
        }
        match c {
            '\'' | '"' => {
                quote = Some(c);
                in_arg = true;
            }
            c if c.is_whitespace() => {
                if in_arg {
                    args.push(std::mem::take(&mut current));
                    in_arg = false;
                }
            }
            c => {
                current.push(c);
                in_arg = true;
            }
        }
    }
    if in_arg {
        args.push(current);
    }
    args
}

/// Escapes one argument for a response file read by gcc.
pub fn escape_response_arg(arg: &str) -> String {
    let mut escaped = String::with_capacity(arg.len());
    for c in arg.chars() {
        if c == '\\' || c == '\'' || c == '"' || c.is_whitespace() {
            escaped.push('\\');
        }
        escaped.push(c);
    }
    escaped
}

fn utf8(arg: &OsStr) -> Result<&str, ShakeError> {
    arg.to_str().ok_or_else(|| ShakeError::NonUtf8Argument {
        argument: arg.to_os_string(),
    })
}

impl LinkLine {
    /// Parses an already expanded argument list.
    pub fn parse(args: &[OsString]) -> Result<LinkLine, ShakeError> {
        let mut items = Vec::new();
        let mut output = None;
        let mut search_dirs = Vec::new();
        let mut cpu = None;
        let mut executable = ExecutableKind::PositionIndependent;
        let mut mode = LibraryMode::Dynamic;

        let mut index = 0;
        while index < args.len() {
            let arg = &args[index];
            index += 1;
            let text = utf8(arg)?;

            if !text.starts_with('-') || text == "-" {
                items.push(LinkItem::Input(PathBuf::from(arg)));
                continue;
            }

            // A flag with a detached value takes the next argument with it.
            let mut tokens = vec![arg.clone()];
            let value: Option<String> = if FLAGS_WITH_VALUE.contains(&text) {
                let Some(next) = args.get(index) else {
                    return Err(ShakeError::MissingValue {
                        flag: text.to_string(),
                    });
                };
                index += 1;
                tokens.push(next.clone());
                Some(utf8(next)?.to_string())
            } else {
                None
            };

            if text.starts_with("-plugin-opt=") || text == "--eh-frame-hdr" || text == "--as-needed"
            {
                return Err(ShakeError::LdFlavor {
                    argument: text.to_string(),
                });
            }
            match text {
                "-o" => output = value.map(PathBuf::from),
                "-L" => search_dirs.extend(value.map(PathBuf::from)),
                "-l" => {
                    let name = value.unwrap_or_default();
                    items.push(LinkItem::Library { tokens, name, mode });
                    continue;
                }
                "-static-pie" | "-pie" => executable = ExecutableKind::PositionIndependent,
                "-no-pie" | "-static" => {
                    executable = ExecutableKind::Fixed;
                    if text == "-static" {
                        mode = LibraryMode::Static;
                    }
                }
                "-shared" | "-r" => {
                    return Err(ShakeError::UnsupportedOutput {
                        flag: text.to_string(),
                    });
                }
                _ => {}
            }
            if let Some(dir) = text.strip_prefix("-L").filter(|dir| !dir.is_empty()) {
                search_dirs.push(PathBuf::from(dir));
            }
            if let Some(name) = text.strip_prefix("-l").filter(|name| !name.is_empty()) {
                items.push(LinkItem::Library {
                    tokens,
                    name: name.to_string(),
                    mode,
                });
                continue;
            }
            if let Some(list) = text.strip_prefix("-Wl,") {
                let kept = scan_linker_options(list, &mut mode, &mut cpu);
                if !kept.is_empty() {
                    items.push(LinkItem::Verbatim(vec![OsString::from(format!(
                        "-Wl,{}",
                        kept.join(",")
                    ))]));
                }
                continue;
            }
            items.push(LinkItem::Verbatim(tokens));
        }

        let output = output.ok_or(ShakeError::MissingOutput)?;
        Ok(LinkLine {
            items,
            output,
            search_dirs,
            cpu,
            executable,
        })
    }

    /// File operands in order.
    pub fn inputs(&self) -> impl Iterator<Item = &Path> {
        self.items.iter().filter_map(|item| match item {
            LinkItem::Input(path) => Some(path.as_path()),
            _ => None,
        })
    }
}

/// Reads the comma-separated options of one `-Wl,` argument: tracks `-Bstatic`/`-Bdynamic`,
/// takes the CPU from `-plugin-opt=mcpu=`, and returns the options that remain once every
/// `-plugin-opt` is removed (there is no LLVM plugin in the final native link).
fn scan_linker_options(
    list: &str,
    mode: &mut LibraryMode,
    cpu: &mut Option<String>,
) -> Vec<String> {
    let mut kept = Vec::new();
    for option in list.split(',') {
        if let Some(plugin_option) = option.strip_prefix("-plugin-opt=") {
            if let Some(name) = plugin_option.strip_prefix("mcpu=") {
                *cpu = Some(name.to_string());
            }
            continue;
        }
        match option {
            "-Bstatic" | "-static" | "-dn" | "-non_shared" => *mode = LibraryMode::Static,
            "-Bdynamic" | "-dy" | "-call_shared" => *mode = LibraryMode::Dynamic,
            _ => {}
        }
        kept.push(option.to_string());
    }
    kept
}

#[cfg(test)]
mod tests {
    use super::*;

    fn os(args: &[&str]) -> Vec<OsString> {
        args.iter().map(OsString::from).collect()
    }

    #[test]
    fn response_text_splits_like_gcc() {
        let cases: &[(&str, &[&str])] = &[
            ("a b\tc\n", &["a", "b", "c"]),
            ("/with\\ space/x.o\n-lc", &["/with space/x.o", "-lc"]),
            (
                "'single quoted' \"double quoted\"",
                &["single quoted", "double quoted"],
            ),
            ("back\\\\slash", &["back\\slash"]),
            ("''", &[""]),
            ("   ", &[]),
        ];
        for (text, expected) in cases {
            assert_eq!(split_response_text(text), *expected, "text {text:?}");
        }
    }

    #[test]
    fn escaped_args_round_trip() {
        let args = [
            "plain",
            "with space",
            "quote'\"s",
            "back\\slash",
            "tab\there",
            "",
        ];
        let text: Vec<String> = args.iter().map(|arg| escape_response_arg(arg)).collect();
        let joined = text.join("\n");
        let back = split_response_text(&joined);
        // The empty argument escapes to nothing and disappears, as with gcc.
        assert_eq!(back, args[..5]);
    }

    #[test]
    fn parse_classifies_arguments() {
        let line = LinkLine::parse(&os(&[
            "-m64",
            "/crt/rcrt1.o",
            "main.rcgu.o",
            "-Wl,--as-needed",
            "-Wl,-Bstatic",
            "libstd.rlib",
            "-lunwind",
            "-Wl,-Bdynamic",
            "-l",
            "dl",
            "-L",
            "/sysroot/lib",
            "-L/other",
            "-Wl,-plugin-opt=O3,-plugin-opt=mcpu=x86-64",
            "-o",
            "/out/hello",
            "-static-pie",
        ]))
        .expect("valid line");

        assert_eq!(line.output, PathBuf::from("/out/hello"));
        assert_eq!(
            line.search_dirs,
            [PathBuf::from("/sysroot/lib"), PathBuf::from("/other")]
        );
        assert_eq!(line.cpu.as_deref(), Some("x86-64"));
        assert_eq!(line.executable, ExecutableKind::PositionIndependent);
        let inputs: Vec<&Path> = line.inputs().collect();
        assert_eq!(
            inputs,
            [
                Path::new("/crt/rcrt1.o"),
                Path::new("main.rcgu.o"),
                Path::new("libstd.rlib")
            ]
        );
        let libraries: Vec<(&str, LibraryMode)> = line
            .items
            .iter()
            .filter_map(|item| match item {
                LinkItem::Library { name, mode, .. } => Some((name.as_str(), *mode)),
                _ => None,
            })
            .collect();
        assert_eq!(
            libraries,
            [
                ("unwind", LibraryMode::Static),
                ("dl", LibraryMode::Dynamic)
            ]
        );
        let plugin_left = line.items.iter().any(|item| match item {
            LinkItem::Verbatim(tokens) => tokens
                .iter()
                .any(|token| token.to_string_lossy().contains("plugin-opt")),
            _ => false,
        });
        assert!(
            !plugin_left,
            "plugin options must be dropped: {:?}",
            line.items
        );
    }

    #[test]
    fn parse_keeps_other_linker_options_beside_plugin_options() {
        let line = LinkLine::parse(&os(&["-Wl,-plugin-opt=O2,--gc-sections", "-o", "x"]))
            .expect("valid line");
        assert_eq!(
            line.items,
            [
                LinkItem::Verbatim(os(&["-Wl,--gc-sections"])),
                LinkItem::Verbatim(os(&["-o", "x"]))
            ]
        );
    }

    #[test]
    fn parse_reads_executable_kind() {
        let cases = [
            (&["-pie"][..], ExecutableKind::PositionIndependent),
            (&["-static-pie"][..], ExecutableKind::PositionIndependent),
            (&["-no-pie"][..], ExecutableKind::Fixed),
            (&["-static"][..], ExecutableKind::Fixed),
            (&[][..], ExecutableKind::PositionIndependent),
        ];
        for (flags, expected) in cases {
            let mut args = os(flags);
            args.extend(os(&["-o", "out"]));
            let line = LinkLine::parse(&args).expect("valid line");
            assert_eq!(line.executable, expected, "flags {flags:?}");
        }
    }

    #[test]
    fn parse_rejects_ld_flavour_arguments() {
        let error = LinkLine::parse(&os(&["a.o", "--as-needed", "-o", "x"])).expect_err("rejected");
        assert!(
            error.to_string().contains("-C linker-flavor=gcc"),
            "{error}"
        );
    }

    #[test]
    fn parse_rejects_shared_and_missing_values() {
        let shared = LinkLine::parse(&os(&["-shared", "-o", "x.so"])).expect_err("rejected");
        assert!(shared.to_string().contains("-shared"), "{shared}");
        let dangling = LinkLine::parse(&os(&["a.o", "-o"])).expect_err("rejected");
        assert!(dangling.to_string().contains("`-o`"), "{dangling}");
        let no_output = LinkLine::parse(&os(&["a.o"])).expect_err("rejected");
        assert!(matches!(no_output, ShakeError::MissingOutput));
    }

    #[test]
    fn response_files_expand_recursively() {
        let dir = tempfile::tempdir().expect("temp dir");
        let inner = dir.path().join("inner.rsp");
        std::fs::write(&inner, "-lc\n").expect("write inner");
        let outer = dir.path().join("outer.rsp");
        std::fs::write(&outer, format!("a.o /x\\ y.o @{}\n", inner.display()))
            .expect("write outer");
        let args = os(&["-m64", &format!("@{}", outer.display()), "-o", "out"]);
        let expanded = expand_response_files(&args).expect("expands");
        assert_eq!(expanded, os(&["-m64", "a.o", "/x y.o", "-lc", "-o", "out"]));
    }

    #[test]
    fn self_including_response_file_is_rejected() {
        let dir = tempfile::tempdir().expect("temp dir");
        let file = dir.path().join("loop.rsp");
        std::fs::write(&file, format!("@{}", file.display())).expect("write");
        let error = expand_response_files(&os(&[&format!("@{}", file.display())]))
            .expect_err("loop rejected");
        assert!(
            matches!(error, ShakeError::ResponseFileDepth { .. }),
            "{error}"
        );
    }

    #[test]
    fn missing_response_file_names_path() {
        let error =
            expand_response_files(&os(&["@/nonexistent/portkey.rsp"])).expect_err("missing");
        assert!(
            error.to_string().contains("/nonexistent/portkey.rsp"),
            "{error}"
        );
    }
}
