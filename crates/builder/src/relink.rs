//! Making cargo run the linker again without touching any source. Cargo links a binary into
//! `<profile>/deps/<crate>-<hash>` and hard-links it to `<profile>/<bin>`. It relinks only when
//! the file in `deps/` is missing; a missing `<profile>/<bin>` is just linked again from there.

use std::os::unix::fs::MetadataExt;
use std::path::Path;

use crate::BuildError;

/// Removes the executable cargo built at `built` and the file in `deps/` it is a hard link of,
/// so the next `cargo build` compiles the binary crate and calls the linker again.
pub fn remove_linked_executable(built: &Path) -> Result<(), BuildError> {
    let remove_error = |path: &Path, source| BuildError::ForceRelink {
        path: path.to_path_buf(),
        source,
    };
    let metadata = std::fs::metadata(built).map_err(|source| remove_error(built, source))?;
    let deps = built
        .parent()
        .map(|profile| profile.join("deps"))
        .unwrap_or_else(|| Path::new("deps").to_path_buf());
    // NOTE: where hard links fail, cargo copies instead. No `deps/` file matches then, cargo
    // does not relink, and the build ends with the missing report or call graph error.
    if let Ok(listing) = std::fs::read_dir(&deps) {
        for entry in listing.flatten() {
            let Ok(candidate) = entry.metadata() else {
                continue;
            };
            if candidate.ino() == metadata.ino() && candidate.dev() == metadata.dev() {
                let path = entry.path();
                std::fs::remove_file(&path).map_err(|source| remove_error(&path, source))?;
            }
        }
    }
    std::fs::remove_file(built).map_err(|source| remove_error(built, source))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn removes_the_hard_linked_deps_file_only() {
        let dir = tempfile::tempdir().expect("temp dir");
        let deps = dir.path().join("deps");
        std::fs::create_dir_all(&deps).expect("create deps");
        let linked = deps.join("hello_flatter-0123456789abcdef");
        std::fs::write(&linked, b"executable").expect("write executable");
        let other = deps.join("other-0123456789abcdef");
        std::fs::write(&other, b"executable").expect("write other executable");
        let built = dir.path().join("hello-flatter");
        std::fs::hard_link(&linked, &built).expect("hard link");

        remove_linked_executable(&built).expect("removed");
        assert!(!built.exists());
        assert!(!linked.exists());
        assert!(
            other.exists(),
            "an unrelated file with equal contents stays"
        );
    }

    #[test]
    fn missing_executable_names_the_path() {
        let dir = tempfile::tempdir().expect("temp dir");
        let error = remove_linked_executable(&dir.path().join("absent")).expect_err("missing");
        assert!(error.to_string().contains("absent"), "{error}");
    }
}
