//! Links the shaker against the active toolchain's own libLLVM, so the bitcode reader always
//! matches the compiler that wrote the bitcode, and records which rustc and LLVM that was.
//!
//! The library is found by globbing `libLLVM.so.*` or `libLLVM-*.so` in `$(rustc --print
//! sysroot)/lib`, linked by exact file name, and its folder is put in the rpath of this crate's
//! own tests. Binaries in other packages (portkey-ld) read the folder from
//! `DEP_PORTKEY_LIBLLVM_LIBDIR` and set their own rpath.

use std::env;

fn main() {
    println!("cargo:rerun-if-env-changed=RUSTC");
    println!("cargo:rerun-if-env-changed=RUSTUP_TOOLCHAIN");

    let rustc = env::var("RUSTC").unwrap_or_else(|_| "rustc".to_string());
    let toolchain = portkey_toolchain_probe::probe(&rustc).unwrap_or_else(|error| panic!("{error}"));
    let lib_dir = &toolchain.lib_dir;
    let library = toolchain.libllvm.clone().unwrap_or_else(|| {
        panic!(
            "no libLLVM shared library in {}; install the toolchain's LLVM with \
             `rustup component add rustc` or reinstall the toolchain",
            lib_dir.display()
        )
    });
    let file_name = library
        .file_name()
        .and_then(|name| name.to_str())
        .unwrap_or_else(|| panic!("libLLVM path {} has no UTF-8 file name", library.display()));

    println!("cargo:rerun-if-changed={}", library.display());
    println!("cargo:rustc-link-search=native={}", lib_dir.display());
    println!("cargo:rustc-link-lib=dylib:+verbatim={file_name}");
    println!("cargo:rustc-link-arg=-Wl,-rpath,{}", lib_dir.display());
    println!("cargo:libdir={}", lib_dir.display());

    println!("cargo:rustc-env=PORTKEY_RUSTC_RELEASE={}", toolchain.release);
    println!("cargo:rustc-env=PORTKEY_RUSTC_COMMIT={}", toolchain.commit);
    println!("cargo:rustc-env=PORTKEY_LLVM_VERSION={}", toolchain.llvm_version);
    println!("cargo:rustc-env=PORTKEY_LIBLLVM_PATH={}", library.display());
}
