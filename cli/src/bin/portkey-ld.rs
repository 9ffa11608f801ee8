//! `portkey-ld`: the linker rustc calls for portkey builds (`-C linker=portkey-ld` with
//! `-C linker-plugin-lto`). The work lives in the `portkey-shaker` crate.

/// LLVM allocates and frees millions of small objects during a link. mimalloc serves them
/// faster than glibc's allocator; its `override` feature makes it libLLVM's `malloc` too.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn main() -> std::process::ExitCode {
    portkey_shaker::linker_main()
}
