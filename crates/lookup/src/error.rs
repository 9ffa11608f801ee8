//! The errors of the lookup. Each message names the requested path, the item that failed and
//! what to change so the lookup succeeds.

use std::path::PathBuf;

/// An error that prevents finding a function or calling it from a shim.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum LookupError {
    #[error("invalid function path `{path}`: {reason}; write it as `crate_name::module::function`")]
    InvalidPath { path: String, reason: String },

    #[error(
        "`cargo metadata` failed for {manifest}: {detail}; check that the manifest exists and \
         that `cargo metadata` succeeds there"
    )]
    Metadata { manifest: String, detail: String },

    #[error(
        "crate `{crate_name}` of `{path}` is not a library of the cargo project at {}, its \
         workspace members or their dependencies; the nearest known crate names are {}",
        workspace.display(),
        quote_list(.near)
    )]
    CrateNotFound {
        path: String,
        crate_name: String,
        workspace: PathBuf,
        near: Vec<String>,
    },

    #[error(
        "cannot load module `{module}` for `{path}` from {}: {reason}; check that the file \
         exists and that it compiles",
        file.display()
    )]
    ModuleUnreadable {
        path: String,
        module: String,
        file: PathBuf,
        reason: String,
    },

    #[error("`{path}` not found: {scope} has no item named `{name}`{}{}", near_matches(.near), render_notes(.notes))]
    ItemNotFound {
        path: String,
        scope: String,
        name: String,
        near: Box<[String]>,
        notes: Box<[String]>,
    },

    #[error("`{path}` is not public: {item} is {visibility}; {fix}")]
    NotPublic {
        path: String,
        /// The item that is not public, with its kind and location, such as
        /// "module `hello::words` at src/lib.rs:8".
        item: String,
        visibility: String,
        fix: String,
    },

    #[error("`{path}` is {kind}, not a function; give the path of a `pub fn`")]
    NotAFunction { path: String, kind: String },

    #[error(
        "`{path}` is generic over {params}; portkey calls one concrete function, so add a \
         `pub fn` without type or const parameters that calls it with concrete types"
    )]
    Generic { path: String, params: String },

    #[error(
        "`{path}` takes `{receiver}`, so it can only be called on a value; add an associated \
         function or a free `pub fn` that creates the value and calls the method"
    )]
    TakesSelf { path: String, receiver: String },

    #[error(
        "`{path}` is an `unsafe fn`, which portkey does not call; add a safe `pub fn` that \
         upholds its safety contract and calls it"
    )]
    Unsafe { path: String },

    #[error(
        "`{path}` is variadic (`...`), which portkey cannot call; add a `pub fn` with a fixed \
         parameter list"
    )]
    Variadic { path: String },

    #[error(
        "`{path}`: parameter {position} is the pattern `{pattern}`, but portkey binds request \
         values by parameter name; give it a plain name such as `value: {ty}`"
    )]
    ParamPattern {
        path: String,
        position: usize,
        pattern: String,
        ty: String,
    },

    #[error("`{path}`: parameter `{param}` has type `{ty}`, which portkey cannot bind: {reason}")]
    UnsupportedParam {
        path: String,
        param: String,
        ty: String,
        reason: String,
    },

    #[error(
        "`{path}` is declared in `impl {trait_name} for {self_ty}`, and calling it needs the \
         trait in scope, which portkey does not import; add a `pub fn` in `impl {self_ty}` or a \
         free `pub fn` that calls it"
    )]
    TraitFunction {
        path: String,
        trait_name: String,
        self_ty: String,
    },

    #[error(
        "`{path}` names an item of trait `{trait_name}`; portkey calls free functions and \
         inherent associated functions only, so add a free `pub fn` that calls it for a concrete \
         type"
    )]
    TraitItem { path: String, trait_name: String },
}

fn quote_list(names: &[String]) -> String {
    if names.is_empty() {
        return "(none)".to_string();
    }
    names
        .iter()
        .map(|name| format!("`{name}`"))
        .collect::<Vec<_>>()
        .join(", ")
}

fn near_matches(near: &[String]) -> String {
    if near.is_empty() {
        return String::new();
    }
    format!("; did you mean {}?", quote_list(near))
}

fn render_notes(notes: &[String]) -> String {
    notes.iter().map(|note| format!("; note: {note}")).collect()
}
