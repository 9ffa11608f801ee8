//! Lookups through the `fixtures/hello` project's dependency tree, which reaches `markdown`, a
//! crates.io package that `hello::render` uses.

use std::path::{Path, PathBuf};

use portkey_lookup::{
    LookupError, LookupRequest, PackageSource, ParamShape, ReturnShape, Scalar, find_function,
};

fn hello_manifest() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../fixtures/hello/Cargo.toml")
}

fn request(path: &str) -> LookupRequest {
    LookupRequest {
        manifest_path: Some(hello_manifest()),
        path: path.to_string(),
    }
}

/// The version of `name` that the fixture's committed `Cargo.lock` pins.
fn locked_version(name: &str) -> String {
    let lock = std::fs::read_to_string(hello_manifest().with_file_name("Cargo.lock"))
        .expect("hello has a Cargo.lock");
    let entry = lock
        .split("[[package]]")
        .find(|entry| entry.contains(&format!("name = \"{name}\"\n")))
        .expect("locked");
    let version_line = entry
        .lines()
        .find(|line| line.starts_with("version = "))
        .expect("version line");
    version_line
        .trim_start_matches("version = ")
        .trim_matches('"')
        .to_string()
}

#[test]
fn markdown_to_html_is_a_registry_function() {
    let found = find_function(&request("markdown::to_html")).expect("markdown::to_html is found");
    let version = locked_version("markdown");
    assert_eq!(found.package.name, "markdown");
    assert_eq!(found.package.version, version);
    assert_eq!(found.package.lib_name, "markdown");
    assert_eq!(
        found.package.source,
        PackageSource::Registry {
            version: version.clone()
        }
    );
    assert!(
        found.package.features.contains(&"default".to_string()),
        "{:?}",
        found.package.features
    );
    assert!(
        found.source_file.ends_with("src/lib.rs"),
        "{}",
        found.source_file.display()
    );
    assert!(
        found
            .source_file
            .to_string_lossy()
            .contains(&format!("markdown-{version}")),
        "{}",
        found.source_file.display()
    );
    assert_eq!(found.call_path, "markdown::to_html");
    assert_eq!(found.signature.params.len(), 1);
    assert_eq!(
        found.signature.params[0].shape,
        ParamShape::Ref(Box::new(ParamShape::Scalar(Scalar::Str)))
    );
    assert_eq!(found.signature.output, ReturnShape::Text);
    // The user's project is still hello: its lock file and target directory are the ones used.
    assert_eq!(
        found.lock_file,
        hello_manifest()
            .parent()
            .expect("dir")
            .canonicalize()
            .expect("exists")
            .join("Cargo.lock")
    );
}

#[test]
fn markdown_typo_suggests_the_real_function() {
    let error = find_function(&request("markdown::to_htm")).expect_err("typo");
    let LookupError::ItemNotFound { near, .. } = &error else {
        panic!("expected ItemNotFound, got {error:?}");
    };
    assert!(near.contains(&"markdown::to_html".to_string()), "{near:?}");
}

#[test]
fn hello_functions_and_reexports() {
    let found = find_function(&request("hello::reverse")).expect("the re-export is found");
    assert!(
        found.source_file.ends_with("src/words.rs"),
        "{}",
        found.source_file.display()
    );
    assert_eq!(found.package.name, "hello");
    assert!(matches!(found.package.source, PackageSource::Path(_)));

    let error =
        find_function(&request("hello::words::reverse")).expect_err("the module is private");
    assert!(matches!(error, LookupError::NotPublic { .. }), "{error:?}");

    let found = find_function(&request("hello::render")).expect("render is found");
    assert_eq!(
        found.doc.as_deref(),
        Some("Renders Markdown to HTML with the `markdown` crate, which `flatter` does not use.")
    );
}
