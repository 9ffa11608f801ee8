//! Links the shaker against the active toolchain's own libLLVM, so the bitcode reader always
//! matches the compiler that wrote the bitcode, and records which rustc and LLVM that was.
//!
//! The library is found by globbing `libLLVM.so.*` or `libLLVM-*.so` in `$(rustc --print
//! sysroot)/lib`, linked by exact file name, and its folder is put in the rpath of this crate's
//! own tests. Binaries in other packages (portkey-ld) read the folder from
//! `DEP_PORTKEY_LIBLLVM_LIBDIR` and set their own rpath.

use std::env;
use std::path::{Path, PathBuf};
use std::process::Command;

fn main() {
    println!("cargo:rerun-if-env-changed=RUSTC");
    println!("cargo:rerun-if-env-changed=RUSTUP_TOOLCHAIN");

    let rustc = env::var("RUSTC").unwrap_or_else(|_| "rustc".to_string());
    let sysroot = run(&rustc, &["--print", "sysroot"]);
    let lib_dir = PathBuf::from(sysroot.trim()).join("lib");
    let library = find_libllvm(&lib_dir);
    let file_name = library
        .file_name()
        .and_then(|name| name.to_str())
        .unwrap_or_else(|| panic!("libLLVM path {} has no UTF-8 file name", library.display()));

    println!("cargo:rerun-if-changed={}", library.display());
    println!("cargo:rustc-link-search=native={}", lib_dir.display());
    println!("cargo:rustc-link-lib=dylib:+verbatim={file_name}");
    println!("cargo:rustc-link-arg=-Wl,-rpath,{}", lib_dir.display());
    println!("cargo:libdir={}", lib_dir.display());

    let version = run(&rustc, &["-vV"]);
    let field = |key: &str| {
        version
            .lines()
            .find_map(|line| line.strip_prefix(key))
            .map(|value| value.trim().to_string())
            .unwrap_or_else(|| panic!("`{rustc} -vV` printed no `{key}` line:\n{version}"))
    };
    println!(
        "cargo:rustc-env=PORTKEY_RUSTC_RELEASE={}",
        field("release:")
    );
    println!(
        "cargo:rustc-env=PORTKEY_RUSTC_COMMIT={}",
        field("commit-hash:")
    );
    println!(
        "cargo:rustc-env=PORTKEY_LLVM_VERSION={}",
        field("LLVM version:")
    );
    println!("cargo:rustc-env=PORTKEY_LIBLLVM_PATH={}", library.display());
}

fn run(program: &str, args: &[&str]) -> String {
    let output = Command::new(program)
        .args(args)
        .output()
        .unwrap_or_else(|error| panic!("failed to run `{program} {}`: {error}", args.join(" ")));
    if !output.status.success() {
        panic!(
            "`{program} {}` failed with {}: {}",
            args.join(" "),
            output.status,
            String::from_utf8_lossy(&output.stderr)
        );
    }
    String::from_utf8(output.stdout)
        .unwrap_or_else(|_| panic!("`{program} {}` printed non-UTF-8 output", args.join(" ")))
}

/// Picks the real shared library: `libLLVM.so.<version>` first, then `libLLVM-<version>.so`
/// when it is an ELF file (some toolchains ship the latter as a linker script).
fn find_libllvm(lib_dir: &Path) -> PathBuf {
    let entries = std::fs::read_dir(lib_dir)
        .unwrap_or_else(|error| panic!("cannot list {}: {error}", lib_dir.display()));
    let mut candidates: Vec<PathBuf> = entries
        .filter_map(|entry| entry.ok().map(|entry| entry.path()))
        .filter(|path| {
            let name = path.file_name().and_then(|n| n.to_str()).unwrap_or("");
            (name.starts_with("libLLVM.so.")
                || (name.starts_with("libLLVM-") && name.ends_with(".so")))
                && is_elf(path)
        })
        .collect();
    // Prefer the `libLLVM.so.*` spelling, then the name order, so the choice is stable.
    candidates.sort_by_key(|path| {
        let name = path
            .file_name()
            .and_then(|n| n.to_str())
            .unwrap_or("")
            .to_string();
        (!name.starts_with("libLLVM.so."), name)
    });
    candidates.into_iter().next().unwrap_or_else(|| {
        panic!(
            "no libLLVM shared library in {}; install the toolchain's LLVM with \
             `rustup component add rustc` or reinstall the toolchain",
            lib_dir.display()
        )
    })
}

fn is_elf(path: &Path) -> bool {
    use std::io::Read;
    let mut magic = [0u8; 4];
    std::fs::File::open(path)
        .and_then(|mut file| file.read_exact(&mut magic))
        .map(|_| magic == *b"\x7fELF")
        .unwrap_or(false)
}
