//! Embeds the in-image runtime crate (`crates/runtime/Cargo.toml` and every file under
//! `crates/runtime/src/`) into this crate as an `include_str!` table, so an installed `portkey`
//! can write the runtime next to each shim without a source checkout.

use std::path::{Path, PathBuf};

fn main() {
    let manifest_dir =
        PathBuf::from(std::env::var("CARGO_MANIFEST_DIR").expect("cargo sets CARGO_MANIFEST_DIR"));
    let runtime = manifest_dir.join("..").join("runtime");
    let runtime = runtime.canonicalize().unwrap_or_else(|error| {
        panic!(
            "the runtime crate must be at {}: {error}",
            runtime.display()
        )
    });
    println!(
        "cargo:rerun-if-changed={}",
        runtime.join("Cargo.toml").display()
    );
    println!("cargo:rerun-if-changed={}", runtime.join("src").display());

    let mut files = vec![("Cargo.toml".to_string(), runtime.join("Cargo.toml"))];
    collect(&runtime.join("src"), "src", &mut files);
    files.sort();

    let mut table = String::from(
        "/// The runtime crate's files: path relative to the crate root, and contents.\n\
         pub(crate) static RUNTIME_FILES: &[(&str, &str)] = &[\n",
    );
    for (relative, absolute) in &files {
        let absolute = absolute.to_str().expect("runtime file paths are UTF-8");
        table.push_str(&format!(
            "    ({relative:?}, include_str!({absolute:?})),\n"
        ));
    }
    table.push_str("];\n");

    let out_dir = PathBuf::from(std::env::var("OUT_DIR").expect("cargo sets OUT_DIR"));
    std::fs::write(out_dir.join("runtime_files.rs"), table).expect("OUT_DIR is writable");
}

/// Adds every file under `dir`, with paths relative to the runtime crate root using `/`.
fn collect(dir: &Path, relative: &str, files: &mut Vec<(String, PathBuf)>) {
    let entries = std::fs::read_dir(dir)
        .unwrap_or_else(|error| panic!("cannot list {}: {error}", dir.display()));
    for entry in entries {
        let entry = entry.unwrap_or_else(|error| panic!("cannot list {}: {error}", dir.display()));
        let path = entry.path();
        let name = entry.file_name().to_string_lossy().into_owned();
        let child = format!("{relative}/{name}");
        if path.is_dir() {
            collect(&path, &child, files);
        } else {
            files.push((child, path));
        }
    }
}
