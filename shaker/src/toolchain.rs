//! The rustc release and LLVM version this shaker was built against, and the libLLVM file it
//! loads at run time. A different toolchain writes bitcode this LLVM may not read, and a removed
//! toolchain takes the library with it.

/// `release:` line of `rustc -vV` at build time, for example `1.95.0`.
pub const RUSTC_RELEASE: &str = env!("PORTKEY_RUSTC_RELEASE");
/// `commit-hash:` line of `rustc -vV` at build time.
pub const RUSTC_COMMIT: &str = env!("PORTKEY_RUSTC_COMMIT");
/// `LLVM version:` line of `rustc -vV` at build time, for example `22.1.2`.
pub const LLVM_VERSION: &str = env!("PORTKEY_LLVM_VERSION");
/// Absolute path of the libLLVM shared library the shaker is linked against.
pub const LIBLLVM_PATH: &str = env!("PORTKEY_LIBLLVM_PATH");
