//! Builds a shim crate through the shaker into a static `bootstrap` executable.
//!
//! [`build_image`] runs `cargo build --release --target <triple>` with rustc flags that hand
//! every object to `portkey-ld` as LLVM bitcode (`-C linker-plugin-lto`, `-C linker`,
//! `-C linker-flavor=gcc`), size-oriented profile settings through `CARGO_PROFILE_RELEASE_*`,
//! `PORTKEY_LD_REPORT` so the shaker writes its report and call graph, and `PORTKEY_LD_CACHE`
//! so identical links are copied from `<target>/portkey-ld-cache/`, `PORTKEY_LD_SIZE` with
//! the requested [`SizeMode`] and `PORTKEY_LD_METHOD_SHAKING` with the requested
//! [`MethodShaking`]. Cargo's output stays hidden
//! unless the build fails. Explanations of single symbols are computed afterwards from the call
//! graph ([`Explainer`]), so they follow the request even when cargo did not relink.
//! [`check_toolchain`] verifies first that the active toolchain is the one `portkey-ld` was
//! built for.

mod explain;
mod relink;
mod target;
mod toolchain;

use std::ffi::OsString;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

use portkey_report::{MethodShaking, ShakeReport, SizeMode};

pub use explain::{Explainer, load_graph};
pub use target::{
    ARM64_TRIPLE, GNU_TRIPLE, ImageTarget, MUSL_TRIPLE, TargetChoice, add_target, add_target_with,
    resolve_target,
    rust_lld, std_installed, sysroot,
};
pub use toolchain::{
    ActiveToolchain, RecordedToolchain, ToolchainError, active_toolchain, check_toolchain,
    check_toolchain_in, compare_toolchains, parse_version_output, recorded_toolchain,
    reinstall_command,
};

/// Separator of `CARGO_ENCODED_RUSTFLAGS`.
const FLAG_SEPARATOR: &str = "\u{1f}";

/// Maximum number of compiler error lines copied into [`BuildError::Cargo`].
const MAX_ERROR_LINES: usize = 40;

/// Optimisation level of the cargo build. The shaker runs `lto<Oz>` over the whole program
/// afterwards whatever rustc did, so this only shapes the per-crate bitcode it starts from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum OptLevel {
    /// `opt-level = "s"`.
    Size,
    /// `opt-level = "z"`, which gave the smaller image in measurements of the diff fixture.
    #[default]
    MinSize,
}

impl OptLevel {
    fn cargo_value(self) -> &'static str {
        match self {
            OptLevel::Size => "s",
            OptLevel::MinSize => "z",
        }
    }
}

/// Build request: the shim project, the linker and the output locations.
#[derive(Debug, Clone)]
pub struct BuildOptions {
    /// `Cargo.toml` of the shim project.
    pub manifest_path: PathBuf,
    /// Name of the binary target to build.
    pub bin_name: String,
    /// Cargo target folder (`CARGO_TARGET_DIR`).
    pub target_dir: PathBuf,
    /// The `portkey-ld` executable.
    pub portkey_ld: PathBuf,
    pub target: TargetChoice,
    pub opt_level: OptLevel,
    /// Folder that receives the `bootstrap` executable.
    pub output_dir: PathBuf,
    /// Symbols whose fate the report explains: mangled, demangled with or without the hash, or
    /// a unique part of the demangled name. [`build_image`] explains them from the call graph
    /// after the build.
    pub explain: Vec<String>,
    /// Path prefixes rewritten in the image (`--remap-path-prefix FROM=TO`), so panic messages
    /// and other embedded paths do not reveal the build machine's folders.
    pub remap_path_prefixes: Vec<(PathBuf, String)>,
    /// Whether the shaker replaces std's backtrace printer to save bytes.
    pub size_mode: SizeMode,
    /// Whether the shaker traps vtable slots that no reachable dynamic call can use.
    pub method_shaking: MethodShaking,
}

impl BuildOptions {
    /// Options with the default target choice and opt-level, writing `bootstrap` to
    /// `<target_dir>/portkey-image/<bin_name>/`.
    pub fn new(
        manifest_path: impl AsRef<Path>,
        bin_name: &str,
        target_dir: impl AsRef<Path>,
        portkey_ld: impl AsRef<Path>,
    ) -> Self {
        let target_dir = target_dir.as_ref().to_path_buf();
        BuildOptions {
            manifest_path: manifest_path.as_ref().to_path_buf(),
            bin_name: bin_name.to_string(),
            output_dir: target_dir.join("portkey-image").join(bin_name),
            target_dir,
            portkey_ld: portkey_ld.as_ref().to_path_buf(),
            target: TargetChoice::default(),
            opt_level: OptLevel::default(),
            explain: Vec::new(),
            remap_path_prefixes: Vec::new(),
            size_mode: SizeMode::Min,
            method_shaking: MethodShaking::On,
        }
    }

    /// Path of the shake report the build writes for `target`.
    pub fn report_path(&self, target: ImageTarget) -> PathBuf {
        self.target_dir
            .join("portkey-reports")
            .join(target.triple())
            .join(format!("{}.json", self.bin_name))
    }

    /// Path of the call graph the build writes for `target`, beside the report.
    pub fn graph_path(&self, target: ImageTarget) -> PathBuf {
        portkey_callgraph::graph_path_beside(&self.report_path(target))
    }

    /// Folder of the link cache of `portkey-ld`.
    pub fn link_cache_dir(&self) -> PathBuf {
        self.target_dir.join("portkey-ld-cache")
    }

    /// Path of the executable cargo links for `target`.
    pub fn cargo_output(&self, target: ImageTarget) -> PathBuf {
        self.target_dir
            .join(target.triple())
            .join("release")
            .join(&self.bin_name)
    }
}

/// A built image.
#[derive(Debug, Clone)]
pub struct BuiltImage {
    /// The stripped static executable, named `bootstrap`.
    pub bootstrap: PathBuf,
    pub report: ShakeReport,
    /// The call graph of the link that produced the executable, in the format of
    /// [`portkey_callgraph::file`].
    pub graph: PathBuf,
    pub target: ImageTarget,
    pub build_time: Duration,
}

/// Build failure.
#[derive(Debug, thiserror::Error)]
pub enum BuildError {
    #[error("cannot run `{program}`: {source}")]
    Spawn {
        program: String,
        source: std::io::Error,
    },
    #[error("`{rustc} --print sysroot` failed: {stderr}")]
    Sysroot { rustc: String, stderr: String },
    #[error(
        "the Rust standard library for {triple} is not installed (no {dir}); run `rustup target add {triple}`"
    )]
    TargetMissing { triple: String, dir: PathBuf },
    #[error(
        "the Rust standard library for {triple} is not installed and could not be added: {reason}; \
         add it with `rustup target add {triple}` and build again"
    )]
    TargetAdd { triple: String, reason: String },
    #[error(
        "the toolchain has no rust-lld (looked in {rustlib}/<host>/bin), which links images for \
         another architecture; install a rustup toolchain that ships it (the stable ones do), or \
         build for the machine's own architecture"
    )]
    LldMissing { rustlib: PathBuf },
    #[error(
        "the shaker {path} does not exist; build it with `cargo build -p portkey-cli --bin portkey-ld`"
    )]
    LinkerMissing { path: PathBuf },
    #[error("the shim manifest {path} does not exist")]
    ManifestMissing { path: PathBuf },
    #[error("`cargo build` of `{bin}` for {triple} failed ({status}):\n{compiler_errors}{hint}")]
    Cargo {
        bin: String,
        triple: String,
        status: String,
        /// The `error` lines of the compiler and linker output.
        compiler_errors: String,
        /// A hint for an error with a known cause; empty otherwise.
        hint: String,
    },
    #[error(
        "cargo reported success but wrote no executable at {path}; check that `{bin}` is a binary target"
    )]
    OutputMissing { path: PathBuf, bin: String },
    #[error(
        "portkey-ld wrote no report at {path}; the executable was linked without the shaker, so \
         delete {target_dir} and build again"
    )]
    ReportMissing { path: PathBuf, target_dir: PathBuf },
    #[error("the shake report {path} is not valid: {source}")]
    ReportInvalid {
        path: PathBuf,
        source: serde_json::Error,
    },
    #[error(
        "portkey-ld wrote no call graph at {path}, even after a forced relink; check that \
         {linker} is the portkey-ld of this portkey"
    )]
    GraphMissing { path: PathBuf, linker: PathBuf },
    #[error(transparent)]
    Graph(portkey_callgraph::GraphFileError),
    #[error("cannot remove {path} to make cargo link again: {source}")]
    ForceRelink {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("cannot copy {from} to {to}: {source}")]
    Copy {
        from: PathBuf,
        to: PathBuf,
        source: std::io::Error,
    },
}

/// Builds the shim through the shaker and copies the executable to `output_dir/bootstrap`.
pub fn build_image(options: &BuildOptions) -> Result<BuiltImage, BuildError> {
    let started = Instant::now();
    if !options.manifest_path.is_file() {
        return Err(BuildError::ManifestMissing {
            path: options.manifest_path.clone(),
        });
    }
    if !options.portkey_ld.is_file() {
        return Err(BuildError::LinkerMissing {
            path: options.portkey_ld.clone(),
        });
    }
    let project_dir = options
        .manifest_path
        .parent()
        .filter(|dir| !dir.as_os_str().is_empty())
        .unwrap_or(Path::new("."));
    let sysroot = sysroot(project_dir)?;
    if options.target == TargetChoice::Arm64 && !std_installed(&sysroot, ARM64_TRIPLE) {
        add_target(ARM64_TRIPLE, project_dir)?;
    }
    let target = resolve_target(options.target, &sysroot)?;
    let lld = if target.is_cross() {
        Some(rust_lld(&sysroot)?)
    } else {
        None
    };

    let report_path = options.report_path(target);
    let graph_path = options.graph_path(target);
    run_cargo(options, target, lld.as_deref(), &report_path)?;
    let built = options.cargo_output(target);
    if !built.is_file() {
        return Err(BuildError::OutputMissing {
            path: built,
            bin: options.bin_name.clone(),
        });
    }
    let expected = ReportSettings {
        size_mode: options.size_mode,
        method_shaking: options.method_shaking,
        linker_stamp: portkey_report::executable_stamp(&options.portkey_ld),
    };
    if !report_path.is_file()
        || !graph_path.is_file()
        || report_settings(&report_path).as_ref() != Some(&expected)
    {
        // Cargo reused an executable that another portkey-ld (or another linker) produced, so
        // the report or the call graph is missing or out of date. Or it was linked with another
        // size mode or method-shaking setting: cargo does not see the linker's environment.
        // Removing the executable makes cargo link it again, which costs a compile of the
        // binary crate but no change to any source.
        relink::remove_linked_executable(&built)?;
        run_cargo(options, target, lld.as_deref(), &report_path)?;
    }
    if !graph_path.is_file() && report_path.is_file() {
        return Err(BuildError::GraphMissing {
            path: graph_path,
            linker: options.portkey_ld.clone(),
        });
    }
    let mut report = read_report(&report_path, &options.target_dir)?;
    if !options.explain.is_empty() {
        let graph = load_graph(&graph_path)?;
        let explainer = Explainer::new(&graph);
        report.explanations = options
            .explain
            .iter()
            .map(|query| explainer.explain(&report, query))
            .collect();
    }
    let bootstrap = options.output_dir.join("bootstrap");
    copy_executable(&built, &bootstrap)?;

    Ok(BuiltImage {
        bootstrap,
        report,
        graph: graph_path,
        target,
        build_time: started.elapsed(),
    })
}

/// Runs `cargo build` for `target` and turns a failure into [`BuildError::Cargo`] with the
/// compiler's error lines.
fn run_cargo(
    options: &BuildOptions,
    target: ImageTarget,
    lld: Option<&Path>,
    report_path: &Path,
) -> Result<(), BuildError> {
    let mut command = cargo_command(options, target, report_path);
    if let Some(lld) = lld {
        command.env("PORTKEY_LD_LLD", lld);
    }
    let output = command.output().map_err(|source| BuildError::Spawn {
        program: "cargo".to_string(),
        source,
    })?;
    if output.status.success() {
        return Ok(());
    }
    let stderr = String::from_utf8_lossy(&output.stderr);
    // The caller sees cargo's full output only when something went wrong.
    eprint!("{stderr}");
    Err(BuildError::Cargo {
        bin: options.bin_name.clone(),
        triple: target.triple().to_string(),
        status: output.status.to_string(),
        compiler_errors: compiler_errors(&stderr),
        hint: build_hint(&stderr)
            .map(|hint| format!("\nhint: {hint}"))
            .unwrap_or_default(),
    })
}

/// Returns the rustc flags of a shaken build for `target`, in order.
pub fn rustflags(portkey_ld: &Path, target: ImageTarget) -> Vec<String> {
    let mut flags = vec![
        "-Clinker-plugin-lto".to_string(),
        format!("-Clinker={}", portkey_ld.display()),
        // rustc infers the flavour from the file name and would take `portkey-ld` for `ld`.
        "-Clinker-flavor=gcc".to_string(),
    ];
    flags.extend(target.rustflags().iter().map(|flag| flag.to_string()));
    flags
}

/// Creates the `cargo build` command for `target`, with its environment.
pub fn cargo_command(options: &BuildOptions, target: ImageTarget, report_path: &Path) -> Command {
    let cargo = std::env::var_os("CARGO").unwrap_or_else(|| OsString::from("cargo"));
    let mut command = Command::new(cargo);
    command
        .arg("build")
        .arg("--release")
        .arg("--target")
        .arg(target.triple())
        .arg("--manifest-path")
        .arg(&options.manifest_path)
        .arg("--bin")
        .arg(&options.bin_name)
        .env("CARGO_TARGET_DIR", &options.target_dir)
        .env(
            "CARGO_ENCODED_RUSTFLAGS",
            rustflags(&options.portkey_ld, target)
                .into_iter()
                .chain(
                    options
                        .remap_path_prefixes
                        .iter()
                        .map(|(from, to)| format!("--remap-path-prefix={}={to}", from.display())),
                )
                .collect::<Vec<_>>()
                .join(FLAG_SEPARATOR),
        )
        .env(linker_env_var(target.triple()), &options.portkey_ld)
        .env("PORTKEY_LD_REPORT", report_path)
        .env("PORTKEY_LD_CACHE", options.link_cache_dir())
        // Explanations come from the call graph after the build; a value from the caller's
        // environment would only change the link's cache key.
        .env_remove("PORTKEY_LD_EXPLAIN")
        .env("PORTKEY_LD_SIZE", options.size_mode.as_str())
        .env("PORTKEY_LD_METHOD_SHAKING", options.method_shaking.as_str())
        // Set by `build_image` for a cross link only.
        .env_remove("PORTKEY_LD_LLD")
        .env(
            "CARGO_PROFILE_RELEASE_OPT_LEVEL",
            options.opt_level.cargo_value(),
        )
        .env("CARGO_PROFILE_RELEASE_CODEGEN_UNITS", "1")
        .env("CARGO_PROFILE_RELEASE_DEBUG", "false")
        // The in-image runtime catches panics of the handler, so unwinding must stay.
        .env("CARGO_PROFILE_RELEASE_PANIC", "unwind")
        // NOTE: these variables override the project's own `[profile.release]` too, so its
        // `overflow-checks` or `debug-assertions` settings do not reach the image.
        // The shaker does the whole-program step itself, so rustc's own LTO stays off.
        .env("CARGO_PROFILE_RELEASE_LTO", "false")
        .env("CARGO_PROFILE_RELEASE_INCREMENTAL", "false")
        // portkey-ld strips the executable itself.
        .env("CARGO_PROFILE_RELEASE_STRIP", "none")
        .env_remove("RUSTFLAGS")
        .env_remove("CARGO_BUILD_RUSTFLAGS");
    if let Some((variable, compiler)) = musl_c_compiler(target) {
        command.env(variable, compiler);
    }
    command
}

/// For a musl target, the `cc` crate looks for a cross compiler named `x86_64-linux-musl-gcc`,
/// which Debian does not ship. Debian's `musl-tools` provides `musl-gcc` instead; it is used for
/// C code of dependencies when the cross compiler is missing and the caller set no `CC_<target>`.
/// `musl-gcc` compiles for the build machine only, so a cross target gets nothing here.
fn musl_c_compiler(target: ImageTarget) -> Option<(String, &'static str)> {
    let triple = target.triple();
    if !triple.ends_with("-linux-musl") || target.is_cross() {
        return None;
    }
    let variable = format!("CC_{}", triple.replace('-', "_"));
    if std::env::var_os(&variable).is_some() {
        return None;
    }
    let architecture = triple.split('-').next()?;
    if on_path(&format!("{architecture}-linux-musl-gcc")) || !on_path("musl-gcc") {
        return None;
    }
    Some((variable, "musl-gcc"))
}

fn on_path(program: &str) -> bool {
    std::env::var_os("PATH")
        .is_some_and(|paths| std::env::split_paths(&paths).any(|dir| dir.join(program).is_file()))
}

/// `CARGO_TARGET_<TRIPLE>_LINKER`, set too so a linker configured for the target in a
/// `.cargo/config.toml` cannot take over.
fn linker_env_var(triple: &str) -> String {
    let upper: String = triple
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() {
                c.to_ascii_uppercase()
            } else {
                '_'
            }
        })
        .collect();
    format!("CARGO_TARGET_{upper}_LINKER")
}

/// Extracts the compiler's and linker's error lines from cargo's stderr.
pub fn compiler_errors(stderr: &str) -> String {
    let mut lines: Vec<&str> = stderr
        .lines()
        .filter(|line| {
            let trimmed = line.trim_start();
            trimmed.starts_with("error") || trimmed.contains("portkey-ld: error")
        })
        .collect();
    if lines.is_empty() {
        // Nothing looked like a diagnostic: keep the end of the output instead.
        let all: Vec<&str> = stderr.lines().collect();
        let start = all.len().saturating_sub(MAX_ERROR_LINES);
        lines = all[start..].to_vec();
    }
    lines.truncate(MAX_ERROR_LINES);
    lines.join("\n")
}

/// Recognises build failures with a known cause (a function signature the generated shim cannot
/// bind, a missing musl C compiler) and returns what to change, since the compiler's errors point at
/// generated code or at a dependency's build script.
pub fn build_hint(stderr: &str) -> Option<&'static str> {
    if stderr.contains("portkey_respond") {
        return Some(
            "the function's return type must implement `serde::Serialize` (answered as JSON) or \
             `std::fmt::Display` (answered as text): derive `Serialize` or implement `Display` for it",
        );
    }
    if stderr.contains("portkey_fail") {
        return Some(
            "the error type of the returned `Result` must implement `std::fmt::Display` or `Debug`",
        );
    }
    if stderr.contains("DeserializeOwned") || stderr.contains("Deserialize<'de>") {
        return Some(
            "every parameter that is not a string, number, `bool` or `char` must implement \
             `serde::Deserialize`: add `#[derive(serde::Deserialize)]` to its type",
        );
    }
    if stderr.contains("failed to find tool") && stderr.contains("musl") {
        return Some(
            "a dependency compiles C code and no C compiler for musl was found: install Debian's \
             `musl-tools` (it provides `musl-gcc`, which portkey then uses) or set \
             `CC_x86_64_unknown_linux_musl`",
        );
    }
    if stderr.contains("FromStr") {
        return Some("a text parameter's type must implement `std::str::FromStr`");
    }
    None
}

/// Returns the size mode and method-shaking setting a report records, or `None` when it cannot
/// be read or predates method shaking.
/// The settings a stored report must match for a build to reuse the executable it describes.
#[derive(Debug, PartialEq, Eq)]
struct ReportSettings {
    size_mode: SizeMode,
    method_shaking: MethodShaking,
    linker_stamp: String,
}

fn report_settings(path: &Path) -> Option<ReportSettings> {
    let text = std::fs::read_to_string(path).ok()?;
    let report = ShakeReport::from_json(&text).ok()?;
    Some(ReportSettings {
        size_mode: report.size_mode,
        method_shaking: report.method_shaking?.mode,
        linker_stamp: report.linker_stamp,
    })
}

fn read_report(path: &Path, target_dir: &Path) -> Result<ShakeReport, BuildError> {
    let text = std::fs::read_to_string(path).map_err(|_| BuildError::ReportMissing {
        path: path.to_path_buf(),
        target_dir: target_dir.to_path_buf(),
    })?;
    ShakeReport::from_json(&text).map_err(|source| BuildError::ReportInvalid {
        path: path.to_path_buf(),
        source,
    })
}

fn copy_executable(from: &Path, to: &Path) -> Result<(), BuildError> {
    use std::os::unix::fs::PermissionsExt;
    let copy_error = |source: std::io::Error| BuildError::Copy {
        from: from.to_path_buf(),
        to: to.to_path_buf(),
        source,
    };
    if let Some(parent) = to.parent() {
        std::fs::create_dir_all(parent).map_err(copy_error)?;
    }
    // Copy under a temporary name and rename, so a running copy of the old image is never
    // overwritten in place.
    let temporary = to.with_extension("new");
    std::fs::copy(from, &temporary).map_err(copy_error)?;
    std::fs::set_permissions(&temporary, std::fs::Permissions::from_mode(0o755))
        .map_err(copy_error)?;
    std::fs::rename(&temporary, to).map_err(copy_error)?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn linker_env_var_uses_upper_case_triple() {
        assert_eq!(
            linker_env_var("x86_64-unknown-linux-musl"),
            "CARGO_TARGET_X86_64_UNKNOWN_LINUX_MUSL_LINKER"
        );
    }

    #[test]
    fn rustflags_add_crt_static_for_gnu_only() {
        let ld = Path::new("/bin/portkey-ld");
        let musl = rustflags(ld, ImageTarget::Musl);
        assert_eq!(
            musl,
            [
                "-Clinker-plugin-lto",
                "-Clinker=/bin/portkey-ld",
                "-Clinker-flavor=gcc"
            ]
        );
        let gnu = rustflags(ld, ImageTarget::GnuStatic);
        assert_eq!(
            gnu.last().map(String::as_str),
            Some("-Ctarget-feature=+crt-static")
        );
    }

    #[test]
    fn compiler_errors_keep_error_lines() {
        let stderr = "   Compiling demo v0.1.0\nerror[E0425]: cannot find value `x`\n  --> src/main.rs:2:5\nwarning: unused\nerror: could not compile `demo`\n";
        assert_eq!(
            compiler_errors(stderr),
            "error[E0425]: cannot find value `x`\nerror: could not compile `demo`"
        );
    }

    #[test]
    fn compiler_errors_fall_back_to_tail() {
        let stderr = "line one\nline two\n";
        assert_eq!(compiler_errors(stderr), "line one\nline two");
    }
}
