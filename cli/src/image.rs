//! From a function path to a packaged image: lookup, shim generation, the build through the
//! shaker, and packaging. Every command that needs an image goes through `build_function_image`.
//!
//! Images are stored by content under `<target>/portkey/images/<function>/<hash>/`, so a running
//! local instance never has its executable replaced under it, and an unchanged function maps to
//! the same folder.

use std::path::{Path, PathBuf};
use std::time::Instant;

use anyhow::{Context, Result, bail};
use portkey_builder::TargetChoice;
use portkey_lookup::{FoundFunction, LookupRequest};
use portkey_packager::{Compression, Package};
use portkey_report::{MethodShaking, ShakeReport, SizeMode};

use crate::progress::status;
use crate::project::ProjectDirs;

/// A built, shaken and packaged function.
pub struct FunctionImage {
    pub found: FoundFunction,
    /// The generated shim crate's manifest.
    pub shim_manifest: PathBuf,
    pub bootstrap: PathBuf,
    pub package: Package,
    pub report: ShakeReport,
    /// The call graph of the link, which `portkey why` reads.
    pub graph: PathBuf,
}

/// Looks the function up in the project of `manifest_path`.
pub fn find(manifest_path: Option<&Path>, path: &str) -> Result<FoundFunction> {
    let request = LookupRequest {
        manifest_path: manifest_path.map(Path::to_path_buf),
        path: path.to_string(),
    };
    Ok(portkey_lookup::find_function(&request)?)
}

/// What an image is built with besides the function.
#[derive(Debug, Clone, Copy)]
pub struct ImageSettings {
    pub size_mode: SizeMode,
    pub method_shaking: MethodShaking,
    pub target: TargetChoice,
}

impl Default for ImageSettings {
    fn default() -> Self {
        ImageSettings {
            size_mode: SizeMode::Min,
            method_shaking: MethodShaking::On,
            target: TargetChoice::Auto,
        }
    }
}

/// Generates the shim for `found`, builds it through the shaker with the default settings and
/// packages the result.
pub fn build_function_image(dirs: &ProjectDirs, found: FoundFunction) -> Result<FunctionImage> {
    build_function_image_with(dirs, found, &ImageSettings::default())
}

/// Generates the shim for `found`, builds it through the shaker with `settings` and packages the
/// result.
pub fn build_function_image_with(
    dirs: &ProjectDirs,
    found: FoundFunction,
    settings: &ImageSettings,
) -> Result<FunctionImage> {
    let started = Instant::now();
    let linker = portkey_ld_path()?;

    status("Generating", &format!("shim for {}", found.requested_path));
    let shim = portkey_shim::generate(&found, &portkey_shim::ShimOptions::default())?;
    // The shim is built in its own folder, where a `rust-toolchain.toml` of the project applies.
    portkey_builder::check_toolchain_in(&shim.dir).context("the shaker cannot run with the active toolchain")?;

    status("Building", &format!("{} through the shaker", found.requested_path));
    let build_dir = dirs.portkey_dir().join("build");
    let mut options = portkey_builder::BuildOptions::new(&shim.manifest_path, &shim.bin_name, &build_dir, &linker);
    options.remap_path_prefixes = remapped_prefixes(dirs);
    options.size_mode = settings.size_mode;
    options.method_shaking = settings.method_shaking;
    options.target = settings.target;
    let built = portkey_builder::build_image(&options)?;

    let staging = dirs.portkey_dir().join("images").join(image_dir_name(&found.requested_path));
    std::fs::create_dir_all(&staging)
        .with_context(|| format!("cannot create the image folder {}", staging.display()))?;
    // Concurrent builds of the same function each stage under their own name.
    let staged_zip = staging.join(format!("function.zip.{}.new", std::process::id()));
    let package = portkey_packager::package(&built.bootstrap, &staged_zip, Compression::Deflate)?;

    let final_dir = staging.join(hash_dir_name(&package.code_sha256));
    std::fs::create_dir_all(&final_dir)
        .with_context(|| format!("cannot create the image folder {}", final_dir.display()))?;
    let bootstrap = final_dir.join("bootstrap");
    let zip = final_dir.join("function.zip");
    // Always copied: a bootstrap left half-written by an interrupted run must not survive, and
    // the rename in `copy_executable` replaces it in one step.
    copy_executable(&built.bootstrap, &bootstrap)?;
    std::fs::rename(&staged_zip, &zip)
        .with_context(|| format!("cannot move the zip into {}", zip.display()))?;
    let package = Package { zip, ..package };

    let mut report = built.report;
    report.zip_bytes = Some(package.zip_bytes);
    report.executor = portkey_shim::executor(&found).map(|executor| executor.name().to_string());
    status(
        "Finished",
        &format!(
            "{} in {:.1} s: {} bootstrap, {} zipped",
            found.requested_path,
            started.elapsed().as_secs_f64(),
            human_bytes(package.bootstrap_bytes),
            human_bytes(package.zip_bytes)
        ),
    );
    Ok(FunctionImage {
        found,
        shim_manifest: shim.manifest_path,
        bootstrap,
        package,
        report,
        graph: built.graph,
    })
}

/// Lists the build machine's folders that would otherwise appear in panic locations inside the
/// image: the project (shown relative) and cargo's home (where registry and git sources live).
fn remapped_prefixes(dirs: &ProjectDirs) -> Vec<(PathBuf, String)> {
    let mut prefixes = Vec::new();
    let cargo_home = std::env::var_os("CARGO_HOME")
        .map(PathBuf::from)
        .or_else(|| std::env::var_os("HOME").map(|home| PathBuf::from(home).join(".cargo")));
    if let Some(cargo_home) = cargo_home {
        prefixes.push((cargo_home, "/cargo".to_string()));
    }
    // Listed last so it wins for a cargo home inside the project.
    prefixes.push((dirs.root.clone(), ".".to_string()));
    prefixes
}

/// `portkey-ld` is installed beside the `portkey` executable.
fn portkey_ld_path() -> Result<PathBuf> {
    let exe = std::env::current_exe().context("cannot find the path of the running portkey")?;
    let linker = exe.with_file_name("portkey-ld");
    if !linker.is_file() {
        bail!(
            "the shaker `portkey-ld` is missing: expected it at {}; reinstall portkey with \
             `cargo install --path cli --force` from the portkey repository",
            linker.display()
        );
    }
    Ok(linker)
}

fn copy_executable(from: &Path, to: &Path) -> Result<()> {
    use std::os::unix::fs::PermissionsExt;
    let temporary = to.with_extension(format!("{}.tmp", std::process::id()));
    std::fs::copy(from, &temporary)
        .with_context(|| format!("cannot copy {} to {}", from.display(), temporary.display()))?;
    std::fs::set_permissions(&temporary, std::fs::Permissions::from_mode(0o755))?;
    std::fs::rename(&temporary, to).with_context(|| format!("cannot write {}", to.display()))?;
    Ok(())
}

/// A folder name for a function path: `hello::Greeter::greet` gives `hello--Greeter--greet`.
pub fn image_dir_name(function: &str) -> String {
    function
        .split("::")
        .map(|segment| segment.chars().filter(|c| c.is_alphanumeric() || *c == '_').collect::<String>())
        .collect::<Vec<_>>()
        .join("--")
}

/// Makes a folder name from a base64 hash: its first 16 characters, made safe for paths.
fn hash_dir_name(code_sha256: &str) -> String {
    code_sha256
        .chars()
        .take(16)
        .map(|c| match c {
            '/' => '_',
            '+' => '-',
            other => other,
        })
        .collect()
}

/// Formats a byte count with binary units, as `412.3 KiB`.
pub fn human_bytes(bytes: u64) -> String {
    const UNITS: [&str; 4] = ["B", "KiB", "MiB", "GiB"];
    let mut value = bytes as f64;
    let mut unit = 0;
    while value >= 1024.0 && unit + 1 < UNITS.len() {
        value /= 1024.0;
        unit += 1;
    }
    if unit == 0 {
        format!("{bytes} B")
    } else {
        format!("{value:.1} {}", UNITS[unit])
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn image_dir_name_is_path_safe() {
        assert_eq!(image_dir_name("hello::flatter"), "hello--flatter");
        assert_eq!(image_dir_name("hello::Greeter::greet"), "hello--Greeter--greet");
    }

    #[test]
    fn hash_dir_name_has_no_separators() {
        assert_eq!(hash_dir_name("ab/c+d=efghijklmnopqrstuvwxyz"), "ab_c-d=efghijklm");
    }

    #[test]
    fn human_bytes_units() {
        assert_eq!(human_bytes(512), "512 B");
        assert_eq!(human_bytes(2048), "2.0 KiB");
        assert_eq!(human_bytes(3 * 1024 * 1024 + 1024 * 512), "3.5 MiB");
    }
}
