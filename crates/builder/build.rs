//! Records the toolchain this build of portkey uses: the `rustc -vV` release, commit and LLVM
//! version, and the libLLVM file in the sysroot that `portkey-ld` (built in the same
//! `cargo install`) links against. The builder compares them with the active toolchain before
//! each build, without linking libLLVM itself.

use std::env;
use std::path::PathBuf;

fn main() {
    println!("cargo:rerun-if-env-changed=RUSTC");
    println!("cargo:rerun-if-env-changed=RUSTUP_TOOLCHAIN");

    let rustc = env::var("RUSTC").unwrap_or_else(|_| "rustc".to_string());
    let toolchain = portkey_toolchain_probe::probe(&rustc).unwrap_or_else(|error| panic!("{error}"));
    println!("cargo:rustc-env=PORTKEY_BUILT_RUSTC_RELEASE={}", toolchain.release);
    println!("cargo:rustc-env=PORTKEY_BUILT_RUSTC_COMMIT={}", toolchain.commit);
    println!("cargo:rustc-env=PORTKEY_BUILT_LLVM_VERSION={}", toolchain.llvm_version);
    let library = toolchain
        .libllvm
        .map(|path| path.display().to_string())
        .unwrap_or_default();
    println!("cargo:rustc-env=PORTKEY_BUILT_LIBLLVM={library}");

    let manifest_dir = PathBuf::from(env::var("CARGO_MANIFEST_DIR").unwrap_or_default());
    let cli_dir = manifest_dir.join("../../cli");
    let cli_dir = cli_dir.canonicalize().unwrap_or(cli_dir);
    println!("cargo:rustc-env=PORTKEY_CLI_DIR={}", cli_dir.display());
}
