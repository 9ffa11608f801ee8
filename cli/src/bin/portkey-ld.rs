//! `portkey-ld`: the linker rustc calls for portkey builds (`-C linker=portkey-ld` with
//! `-C linker-plugin-lto`). The work lives in the `portkey-shaker` crate.

fn main() -> std::process::ExitCode {
    portkey_shaker::linker_main()
}
