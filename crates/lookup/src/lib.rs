//! Finds a named Rust function in a cargo project and reads its signature.
//!
//! A path such as `hello::flatter` or `hello::Greeter::greet` starts with the library name of a
//! package in the project's `cargo metadata`: the project itself, a workspace member or any
//! dependency. The library's sources are parsed with syn, following `mod` files, `#[path]`,
//! inline modules and `pub use` re-exports (globs and renames included, also into other
//! packages), and skipping items whose `cfg` is off (`test` always is). Every segment of the path
//! must be public, because a generated shim crate calls it from outside. The signature is
//! checked (no type or const generics, no `self`, not `unsafe`, `async` or variadic) and its
//! parameter and result types are classified into the shapes the shim binds. Two rules look at
//! names and at the whole signature (module `body`): a byte buffer named `body` receives the raw
//! request body, and a lone serde parameter may bind from the whole JSON body.
//!
//! Items produced by macros are invisible to the lookup, so a "not found" error for a module
//! that invokes macros adds a note about it.

mod body;
mod cfg;
mod error;
mod resolve;
mod signature;
mod suggest;
mod tree;
mod types;
mod walk;
mod workspace;

pub use body::{RAW_BODY_NAME, classify_named_param, mark_whole_body};
pub use error::LookupError;
pub use signature::{classify_param, classify_return};
pub use types::{
    FoundFunction, FoundPackage, LookupRequest, PackageSource, Param, ParamShape, RequestBody,
    ReturnShape, Scalar, Signature,
};

/// Finds the function that `request.path` names and reads its signature.
pub fn find_function(request: &LookupRequest) -> Result<FoundFunction, LookupError> {
    let path = walk::RequestedPath::parse(&request.path)?;
    let workspace = workspace::Workspace::load(request.manifest_path.as_deref())?;
    walk::find(&workspace, &path)
}

/// Finds several functions of the project at `manifest_path` (the current folder's project when
/// `None`), reading `cargo metadata` once. Each path gets its own result; the outer error is
/// the one of loading the project.
pub fn find_functions(
    manifest_path: Option<&std::path::Path>,
    paths: &[&str],
) -> Result<Vec<Result<FoundFunction, LookupError>>, LookupError> {
    let workspace = workspace::Workspace::load(manifest_path)?;
    Ok(paths
        .iter()
        .map(|path| walk::find(&workspace, &walk::RequestedPath::parse(path)?))
        .collect())
}
