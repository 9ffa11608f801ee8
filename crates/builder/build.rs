//! Records the toolchain this build of portkey uses: the `rustc -vV` release, commit and LLVM
//! version, and the libLLVM file in the sysroot that `portkey-ld` (built in the same
//! `cargo install`) links against. The builder compares them with the active toolchain before
//! each build, without linking libLLVM itself.

use std::env;
use std::path::{Path, PathBuf};
use std::process::Command;

fn main() {
    println!("cargo:rerun-if-env-changed=RUSTC");
    println!("cargo:rerun-if-env-changed=RUSTUP_TOOLCHAIN");

    let rustc = env::var("RUSTC").unwrap_or_else(|_| "rustc".to_string());
    let version = run(&rustc, &["-vV"]);
    let field = |key: &str| {
        version
            .lines()
            .find_map(|line| line.strip_prefix(key))
            .map(|value| value.trim().to_string())
            .unwrap_or_else(|| panic!("`{rustc} -vV` printed no `{key}` line:\n{version}"))
    };
    println!(
        "cargo:rustc-env=PORTKEY_BUILT_RUSTC_RELEASE={}",
        field("release:")
    );
    println!(
        "cargo:rustc-env=PORTKEY_BUILT_RUSTC_COMMIT={}",
        field("commit-hash:")
    );
    println!(
        "cargo:rustc-env=PORTKEY_BUILT_LLVM_VERSION={}",
        field("LLVM version:")
    );

    let sysroot = run(&rustc, &["--print", "sysroot"]);
    let lib_dir = PathBuf::from(sysroot.trim()).join("lib");
    let library = find_libllvm(&lib_dir)
        .map(|path| path.display().to_string())
        .unwrap_or_default();
    println!("cargo:rustc-env=PORTKEY_BUILT_LIBLLVM={library}");

    let manifest_dir = PathBuf::from(env::var("CARGO_MANIFEST_DIR").unwrap_or_default());
    let cli_dir = manifest_dir.join("../../cli");
    let cli_dir = cli_dir.canonicalize().unwrap_or(cli_dir);
    println!("cargo:rustc-env=PORTKEY_CLI_DIR={}", cli_dir.display());
}

fn run(program: &str, args: &[&str]) -> String {
    let output = Command::new(program)
        .args(args)
        .output()
        .unwrap_or_else(|error| panic!("failed to run `{program} {}`: {error}", args.join(" ")));
    if !output.status.success() {
        panic!(
            "`{program} {}` failed with {}",
            args.join(" "),
            output.status
        );
    }
    String::from_utf8_lossy(&output.stdout).into_owned()
}

/// Same choice as the shaker's build script: `libLLVM.so.*` first, then `libLLVM-*.so`, ELF
/// files only.
fn find_libllvm(lib_dir: &Path) -> Option<PathBuf> {
    let mut candidates: Vec<PathBuf> = std::fs::read_dir(lib_dir)
        .ok()?
        .filter_map(|entry| entry.ok().map(|entry| entry.path()))
        .filter(|path| {
            let name = path.file_name().and_then(|n| n.to_str()).unwrap_or("");
            (name.starts_with("libLLVM.so.")
                || (name.starts_with("libLLVM-") && name.ends_with(".so")))
                && is_elf(path)
        })
        .collect();
    candidates.sort_by_key(|path| {
        let name = path
            .file_name()
            .and_then(|n| n.to_str())
            .unwrap_or("")
            .to_string();
        (!name.starts_with("libLLVM.so."), name)
    });
    candidates.into_iter().next()
}

fn is_elf(path: &Path) -> bool {
    use std::io::Read;
    let mut magic = [0u8; 4];
    std::fs::File::open(path)
        .and_then(|mut file| file.read_exact(&mut magic))
        .map(|_| magic == *b"\x7fELF")
        .unwrap_or(false)
}
