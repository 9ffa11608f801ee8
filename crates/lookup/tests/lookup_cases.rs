//! Data-driven lookups over the `fixtures/lookup-cases` crate: every supported path form must
//! resolve to the right definition, and every error kind must name the path and the fix.

use std::path::{Path, PathBuf};

use portkey_lookup::{
    FoundFunction, LookupError, LookupRequest, ParamShape, ReturnShape, Scalar, find_function,
};

fn fixture_manifest() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../fixtures/lookup-cases/Cargo.toml")
}

fn find(path: &str) -> Result<FoundFunction, LookupError> {
    find_function(&LookupRequest {
        manifest_path: Some(fixture_manifest()),
        path: path.to_string(),
    })
}

fn scalar(scalar: Scalar) -> ParamShape {
    ParamShape::Scalar(scalar)
}

fn reference(shape: ParamShape) -> ParamShape {
    ParamShape::Ref(Box::new(shape))
}

struct Found {
    path: &'static str,
    file: &'static str,
    doc: Option<&'static str>,
    params: Vec<(&'static str, ParamShape)>,
    output: ReturnShape,
}

#[test]
fn supported_paths_resolve() {
    let cases = vec![
        Found {
            path: "lookup_cases::plain",
            file: "src/lib.rs",
            doc: Some("A plain public function."),
            params: vec![("name", scalar(Scalar::String))],
            output: ReturnShape::Text,
        },
        Found {
            path: "lookup-cases::with_lifetime",
            file: "src/lib.rs",
            doc: Some("A function whose only generic parameter is a lifetime, which is supported."),
            params: vec![("text", reference(scalar(Scalar::Str)))],
            output: ReturnShape::Text,
        },
        Found {
            path: "lookup_cases::c_abi",
            file: "src/lib.rs",
            doc: Some("A function with the C ABI but no variadic arguments, which is supported."),
            params: vec![("value", scalar(Scalar::I32))],
            output: ReturnShape::Text,
        },
        Found {
            path: "lookup_cases::Counter::new",
            file: "src/lib.rs",
            doc: Some("Creates a counter at zero."),
            params: vec![],
            output: ReturnShape::Auto,
        },
        Found {
            path: "lookup_cases::Alias::new",
            file: "src/lib.rs",
            doc: Some("Creates a counter at zero."),
            params: vec![],
            output: ReturnShape::Auto,
        },
        Found {
            path: "lookup_cases::Mode::parse",
            file: "src/lib.rs",
            doc: Some("Parses \"fast\" or anything else as slow."),
            params: vec![("text", reference(scalar(Scalar::Str)))],
            output: ReturnShape::Auto,
        },
        Found {
            path: "lookup_cases::renamed",
            file: "src/lib.rs",
            doc: Some("Reached through `pub use self::inline::inner::renamed_target as renamed`."),
            params: vec![],
            output: ReturnShape::Text,
        },
        Found {
            path: "lookup_cases::from_glob",
            file: "src/lib.rs",
            doc: Some("Reached through `pub use globbed::*`."),
            params: vec![("count", scalar(Scalar::U64))],
            output: ReturnShape::Text,
        },
        Found {
            path: "lookup_cases::leaf_fn",
            file: "src/nested/leaf.rs",
            doc: Some("Re-exported at the crate root."),
            params: vec![("count", scalar(Scalar::U32))],
            output: ReturnShape::Text,
        },
        Found {
            path: "lookup_cases::other_leaf",
            file: "src/nested/leaf.rs",
            doc: Some("Re-exported at the crate root as `other_leaf`."),
            params: vec![],
            output: ReturnShape::Text,
        },
        Found {
            path: "lookup_cases::nested::leaf::leaf_fn",
            file: "src/nested/leaf.rs",
            doc: Some("Re-exported at the crate root."),
            params: vec![("count", scalar(Scalar::U32))],
            output: ReturnShape::Text,
        },
        Found {
            path: "lookup_cases::nested::leaf::deeper::deepest",
            file: "src/nested/leaf/deeper.rs",
            doc: Some("Found at `lookup_cases::nested::leaf::deeper::deepest`."),
            params: vec![("flag", scalar(Scalar::Bool))],
            output: ReturnShape::Text,
        },
        Found {
            path: "lookup_cases::pathed::through_path",
            file: "src/custom/odd_name.rs",
            doc: Some("Found at `lookup_cases::pathed::through_path`."),
            params: vec![],
            output: ReturnShape::Text,
        },
        Found {
            path: "lookup_cases::pathed::sibling::next_to_path",
            file: "src/custom/sibling.rs",
            doc: Some("Found at `lookup_cases::pathed::sibling::next_to_path`."),
            params: vec![],
            output: ReturnShape::Text,
        },
        Found {
            path: "lookup_cases::cycle_a::in_b",
            file: "src/lib.rs",
            doc: None,
            params: vec![],
            output: ReturnShape::Unit,
        },
        Found {
            path: "lookup_cases::cycle_b::in_a",
            file: "src/lib.rs",
            doc: None,
            params: vec![],
            output: ReturnShape::Unit,
        },
        Found {
            path: "lookup_cases::shout",
            file: "extra/src/lib.rs",
            doc: Some("Upper-cases `text`."),
            params: vec![("text", reference(scalar(Scalar::Str)))],
            output: ReturnShape::Text,
        },
    ];
    let fixture_dir = fixture_manifest()
        .parent()
        .expect("manifest has a parent")
        .canonicalize()
        .expect("fixture exists");
    for case in cases {
        let found = find(case.path).unwrap_or_else(|error| panic!("{}: {error}", case.path));
        let expected_path = case.path.replace('-', "_");
        assert_eq!(found.requested_path, expected_path, "{}", case.path);
        assert_eq!(found.call_path, expected_path, "{}", case.path);
        assert_eq!(
            found.package.name, "lookup-cases",
            "{}: the shim depends on the crate the path starts in",
            case.path
        );
        let file = found
            .source_file
            .canonicalize()
            .expect("source file exists");
        assert_eq!(file, fixture_dir.join(case.file), "{}", case.path);
        assert_eq!(found.doc.as_deref(), case.doc, "{}", case.path);
        let params: Vec<(&str, ParamShape)> = found
            .signature
            .params
            .iter()
            .map(|param| (param.name.as_str(), param.shape.clone()))
            .collect();
        assert_eq!(params, case.params, "{}", case.path);
        assert_eq!(found.signature.output, case.output, "{}", case.path);
    }
}

#[test]
fn found_function_location_and_package() {
    let found = find("lookup_cases::plain").expect("plain is found");
    let text = std::fs::read_to_string(&found.source_file).expect("source is readable");
    let line = text.lines().nth(found.line - 1).expect("line exists");
    assert!(
        line.contains("pub fn plain("),
        "line {} is {line:?}",
        found.line
    );

    let fixture_dir = fixture_manifest()
        .parent()
        .expect("manifest has a parent")
        .canonicalize()
        .expect("fixture exists");
    assert_eq!(found.package.version, "0.1.0");
    assert_eq!(found.package.lib_name, "lookup_cases");
    assert_eq!(found.package.features, vec!["default".to_string()]);
    assert_eq!(
        found
            .package
            .manifest_path
            .canonicalize()
            .expect("manifest exists"),
        fixture_dir.join("Cargo.toml")
    );
    assert_eq!(
        found.package.source,
        portkey_lookup::PackageSource::Path(
            found
                .package
                .manifest_path
                .parent()
                .expect("dir")
                .to_path_buf()
        )
    );
    assert_eq!(
        found.workspace_root.canonicalize().expect("root exists"),
        fixture_dir
    );
    assert_eq!(found.lock_file, found.workspace_root.join("Cargo.lock"));
    assert!(
        found.lock_file.is_file(),
        "the fixture commits its Cargo.lock"
    );
    assert!(!found.target_dir.as_os_str().is_empty());
}

#[test]
fn async_fn_is_found_and_marked() {
    let found = find("lookup_cases::later").expect("an async fn is found");
    assert!(found.signature.is_async);
    assert_eq!(found.signature.output_type.as_deref(), Some("u32"));
    assert_eq!(found.package.tokio, None, "lookup-cases does not depend on tokio");
    let sync = find("lookup_cases::plain").expect("found");
    assert!(!sync.signature.is_async);
}

#[test]
fn required_is_false_only_for_option() {
    let found = find_function(&LookupRequest {
        manifest_path: Some(
            Path::new(env!("CARGO_MANIFEST_DIR")).join("../../fixtures/hello/Cargo.toml"),
        ),
        path: "hello::Greeter::greet".to_string(),
    })
    .expect("greet is found");
    let required: Vec<(&str, bool)> = found
        .signature
        .params
        .iter()
        .map(|param| (param.name.as_str(), found.required(param)))
        .collect();
    assert_eq!(required, vec![("name", true), ("excited", false)]);
}

/// An expected error: the variant, and text the message must contain.
struct Failure {
    path: &'static str,
    variant: fn(&LookupError) -> bool,
    contains: &'static [&'static str],
}

#[test]
fn errors_name_the_path_and_the_fix() {
    let cases = [
        Failure {
            path: "lookup_cases::private_fn",
            variant: |error| matches!(error, LookupError::NotPublic { .. }),
            contains: &[
                "function `lookup_cases::private_fn`",
                "is private",
                "src/lib.rs:",
                "declare it `pub fn private_fn`",
            ],
        },
        Failure {
            path: "lookup_cases::crate_only",
            variant: |error| matches!(error, LookupError::NotPublic { .. }),
            contains: &["only `pub(crate)`", "declare it `pub fn crate_only`"],
        },
        Failure {
            path: "lookup_cases::nested::helper",
            variant: |error| matches!(error, LookupError::NotPublic { .. }),
            contains: &["src/nested/mod.rs:", "only `pub(crate)`", "`pub fn helper`"],
        },
        Failure {
            path: "lookup_cases::private_mod::hidden",
            variant: |error| matches!(error, LookupError::NotPublic { .. }),
            contains: &[
                "module `lookup_cases::private_mod`",
                "is private",
                "`pub mod private_mod`",
                "`pub use`",
            ],
        },
        Failure {
            path: "lookup_cases::inline::inner::renamed_target",
            variant: |error| matches!(error, LookupError::NotPublic { .. }),
            contains: &["module `lookup_cases::inline`", "`pub mod inline`"],
        },
        Failure {
            path: "lookup_cases::hidden",
            variant: |error| matches!(error, LookupError::NotPublic { .. }),
            contains: &[
                "the `use` that brings in `lookup_cases::hidden`",
                "is private",
                "make it `pub use`",
            ],
        },
        Failure {
            path: "lookup_cases::Counter::hidden_assoc",
            variant: |error| matches!(error, LookupError::NotPublic { .. }),
            contains: &["associated function", "is private", "`pub fn hidden_assoc`"],
        },
        Failure {
            path: "lookup_cases::generic",
            variant: |error| matches!(error, LookupError::Generic { .. }),
            contains: &["generic over type `T`", "without type or const parameters"],
        },
        Failure {
            path: "lookup_cases::const_generic",
            variant: |error| matches!(error, LookupError::Generic { .. }),
            contains: &["const `N`"],
        },
        Failure {
            path: "lookup_cases::Wrapper::make",
            variant: |error| matches!(error, LookupError::Generic { .. }),
            contains: &["type `T` (of its impl block)"],
        },
        Failure {
            path: "lookup_cases::Counter::bump",
            variant: |error| matches!(error, LookupError::TakesSelf { .. }),
            contains: &[
                "takes `&self`",
                "add an associated function or a free `pub fn`",
            ],
        },
        Failure {
            path: "lookup_cases::danger",
            variant: |error| matches!(error, LookupError::Unsafe { .. }),
            contains: &["`unsafe fn`", "add a safe `pub fn`"],
        },
        Failure {
            path: "lookup_cases::mutate",
            variant: |error| matches!(error, LookupError::UnsupportedParam { .. }),
            contains: &[
                "parameter `values`",
                "`&mut Vec<u32>`",
                "take the value by `&` or by value",
            ],
        },
        Failure {
            path: "lookup_cases::shown",
            variant: |error| matches!(error, LookupError::UnsupportedParam { .. }),
            contains: &["parameter `value`", "`impl Display`", "concrete type"],
        },
        Failure {
            path: "lookup_cases::dynamic",
            variant: |error| matches!(error, LookupError::UnsupportedParam { .. }),
            contains: &["`Box<dyn Display>`", "`dyn Trait`"],
        },
        Failure {
            path: "lookup_cases::raw",
            variant: |error| matches!(error, LookupError::UnsupportedParam { .. }),
            contains: &["`*const u8`", "raw pointers"],
        },
        Failure {
            path: "lookup_cases::callback",
            variant: |error| matches!(error, LookupError::UnsupportedParam { .. }),
            contains: &["`fn(u32) -> u32`", "function pointers"],
        },
        Failure {
            path: "lookup_cases::ignored",
            variant: |error| matches!(error, LookupError::ParamPattern { .. }),
            contains: &[
                "parameter 1 is the pattern `_`",
                "plain name such as `value: u32`",
            ],
        },
        Failure {
            path: "lookup_cases::destructured",
            variant: |error| matches!(error, LookupError::ParamPattern { .. }),
            contains: &["`(left, right)`", "plain name"],
        },
        Failure {
            path: "lookup_cases::Counter::speak",
            variant: |error| matches!(error, LookupError::TraitFunction { .. }),
            contains: &["`impl Speak for Counter`", "`pub fn` in `impl Counter`"],
        },
        Failure {
            path: "lookup_cases::Counter::default",
            variant: |error| matches!(error, LookupError::TraitFunction { .. }),
            contains: &["`impl Default for Counter`"],
        },
        Failure {
            path: "lookup_cases::Speak::speak",
            variant: |error| matches!(error, LookupError::TraitItem { .. }),
            contains: &["trait `lookup_cases::Speak`", "free `pub fn`"],
        },
        Failure {
            path: "lookup_cases::nested",
            variant: |error| matches!(error, LookupError::NotAFunction { .. }),
            contains: &["is a module, not a function"],
        },
        Failure {
            path: "lookup_cases::Counter",
            variant: |error| matches!(error, LookupError::NotAFunction { .. }),
            contains: &["is a struct, not a function"],
        },
        Failure {
            path: "lookup_cases::test_only",
            variant: |error| matches!(error, LookupError::ItemNotFound { .. }),
            contains: &["no item named `test_only`", "`#[cfg(test)]` leaves it out"],
        },
        Failure {
            path: "lookup_cases::featured",
            variant: |error| matches!(error, LookupError::ItemNotFound { .. }),
            contains: &[
                "`#[cfg(feature = \"extra-items\")]` leaves it out",
                "enable the feature",
            ],
        },
        Failure {
            path: "lookup_cases::generated",
            variant: |error| matches!(error, LookupError::ItemNotFound { .. }),
            contains: &[
                "invokes macros (`make_fn!`)",
                "cannot see the items macros generate",
            ],
        },
        Failure {
            path: "lookup_cases::not_globbed",
            variant: |error| matches!(error, LookupError::ItemNotFound { .. }),
            contains: &["crate `lookup_cases` has no item named `not_globbed`"],
        },
        Failure {
            path: "lookup_cases::cycle_a::nothing",
            variant: |error| matches!(error, LookupError::ItemNotFound { .. }),
            contains: &["module `lookup_cases::cycle_a` has no item named `nothing`"],
        },
        Failure {
            path: "lookup_cases::Counter::nothing",
            variant: |error| matches!(error, LookupError::ItemNotFound { .. }),
            contains: &["type `lookup_cases::Counter` has no item named `nothing`"],
        },
        Failure {
            path: "lookup_case::plain",
            variant: |error| matches!(error, LookupError::CrateNotFound { .. }),
            contains: &[
                "crate `lookup_case`",
                "`lookup_cases`",
                "`lookup_cases_extra`",
            ],
        },
        Failure {
            path: "shouting::shout",
            variant: |error| matches!(error, LookupError::CrateNotFound { .. }),
            contains: &["crate `shouting`"],
        },
        Failure {
            path: "lookup_cases",
            variant: |error| matches!(error, LookupError::InvalidPath { .. }),
            contains: &["names only a crate", "crate_name::module::function"],
        },
        Failure {
            path: "lookup_cases::Wrapper<u8>::make",
            variant: |error| matches!(error, LookupError::InvalidPath { .. }),
            contains: &["`Wrapper<u8>` is not a Rust identifier"],
        },
        Failure {
            path: "crate::plain",
            variant: |error| matches!(error, LookupError::InvalidPath { .. }),
            contains: &["`crate` cannot appear"],
        },
        Failure {
            path: "",
            variant: |error| matches!(error, LookupError::InvalidPath { .. }),
            contains: &["the path is empty"],
        },
    ];
    for case in cases {
        let error = match find(case.path) {
            Ok(found) => panic!(
                "{}: expected an error, found {}:{}",
                case.path,
                found.source_file.display(),
                found.line
            ),
            Err(error) => error,
        };
        let message = error.to_string();
        assert!(
            (case.variant)(&error),
            "{}: unexpected variant {error:?}",
            case.path
        );
        let shown_path = case.path.replace('-', "_");
        assert!(
            message.contains(&format!("`{shown_path}`")),
            "{}: message does not name the path: {message}",
            case.path
        );
        for expected in case.contains {
            assert!(
                message.contains(expected),
                "{}: message lacks {expected:?}: {message}",
                case.path
            );
        }
    }
}

#[test]
fn near_matches_for_typos() {
    let cases: &[(&str, &[&str])] = &[
        ("lookup_cases::plan", &["lookup_cases::plain"]),
        (
            "lookup_cases::deepest",
            &["lookup_cases::nested::leaf::deeper::deepest"],
        ),
        (
            "lookup_cases::Counter::nw",
            &["lookup_cases::Counter::new", "lookup_cases::Alias::new"],
        ),
        ("lookup_cases::from_glb", &["lookup_cases::from_glob"]),
        (
            "lookup_cases::pathed::through",
            &["lookup_cases::pathed::through_path"],
        ),
    ];
    for (path, expected) in cases {
        let error = find(path).expect_err("the path has a typo");
        let LookupError::ItemNotFound { near, .. } = &error else {
            panic!("{path}: expected ItemNotFound, got {error:?}");
        };
        for wanted in *expected {
            assert!(
                near.iter().any(|candidate| candidate == wanted),
                "{path}: {near:?} lacks {wanted}"
            );
            assert!(
                error.to_string().contains(&format!("`{wanted}`")),
                "{path}: {error}"
            );
        }
        assert!(
            near.len() <= 3,
            "{path}: at most three near matches, got {near:?}"
        );
    }
}

#[test]
fn near_matches_skip_private_functions() {
    let error = find("lookup_cases::private_fm").expect_err("no such function");
    let LookupError::ItemNotFound { near, .. } = &error else {
        panic!("expected ItemNotFound, got {error:?}");
    };
    assert!(
        !near
            .iter()
            .any(|candidate| candidate.ends_with("private_fn")),
        "{near:?}"
    );
}

#[test]
fn missing_manifest_is_a_metadata_error() {
    let error = find_function(&LookupRequest {
        manifest_path: Some(PathBuf::from("/nonexistent/portkey-test/Cargo.toml")),
        path: "hello::flatter".to_string(),
    })
    .expect_err("the manifest does not exist");
    assert!(matches!(error, LookupError::Metadata { .. }), "{error:?}");
    assert!(
        error
            .to_string()
            .contains("/nonexistent/portkey-test/Cargo.toml"),
        "{error}"
    );
}

#[test]
fn current_directory_project_is_used_without_manifest() {
    // `cargo test` runs tests in the package directory, so this finds the lookup crate itself.
    let found = find_function(&LookupRequest {
        manifest_path: None,
        path: "portkey_lookup::find_function".to_string(),
    })
    .expect("the lookup crate is in the current project");
    assert_eq!(found.package.name, "portkey-lookup");
    assert_eq!(found.signature.params.len(), 1);
    assert_eq!(found.signature.params[0].name, "request");
    assert_eq!(found.signature.params[0].ty, "&LookupRequest");
    assert_eq!(
        found.signature.output,
        ReturnShape::Result(Box::new(ReturnShape::Auto))
    );
}
