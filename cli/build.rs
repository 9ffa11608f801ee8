//! Gives the `portkey-ld` binary an rpath to the toolchain's libLLVM folder, which the shaker's
//! build script found and passes on as `DEP_PORTKEY_LIBLLVM_LIBDIR`. Link arguments of a
//! dependency's build script apply only to that package's own targets, so this binary needs its
//! own. The `portkey` binary gets no rpath and does not link libLLVM.

fn main() {
    println!("cargo:rerun-if-env-changed=DEP_PORTKEY_LIBLLVM_LIBDIR");
    let Ok(lib_dir) = std::env::var("DEP_PORTKEY_LIBLLVM_LIBDIR") else {
        panic!(
            "portkey-shaker did not report its libLLVM folder (DEP_PORTKEY_LIBLLVM_LIBDIR is unset)"
        );
    };
    println!("cargo:rustc-link-arg-bin=portkey-ld=-Wl,-rpath,{lib_dir}");
}
