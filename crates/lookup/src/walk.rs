//! Walking a requested path from its crate root to the function, checking at each segment
//! that another crate can reach it, and turning every failure into a `LookupError` that names
//! what to change.

use std::path::PathBuf;

use crate::error::LookupError;
use crate::resolve::{Binding, Def, ModRef, Ns, Origin, Resolver};
use crate::signature::read_signature;
use crate::suggest::near_matches;
use crate::tree::{Function, TypeKind, Vis};
use crate::types::FoundFunction;
use crate::workspace::{PackageIndex, Workspace};

/// A syntactically valid function path, split into segments.
pub(crate) struct RequestedPath {
    /// The path with the crate name's dashes read as underscores.
    text: String,
    segments: Vec<String>,
}

impl RequestedPath {
    pub(crate) fn parse(raw: &str) -> Result<RequestedPath, LookupError> {
        let invalid = |reason: String| LookupError::InvalidPath {
            path: raw.to_string(),
            reason,
        };
        let trimmed = raw.trim();
        let trimmed = trimmed.strip_prefix("::").unwrap_or(trimmed);
        if trimmed.is_empty() {
            return Err(invalid("the path is empty".to_string()));
        }

        let mut segments: Vec<String> = trimmed
            .split("::")
            .map(|segment| segment.trim().to_string())
            .collect();
        segments[0] = segments[0].replace('-', "_");

        if segments.len() < 2 {
            return Err(invalid("it names only a crate".to_string()));
        }
        if let Some(keyword) = segments
            .iter()
            .find(|segment| matches!(segment.as_str(), "crate" | "self" | "super"))
        {
            return Err(invalid(format!(
                "`{keyword}` cannot appear in it; start with the library name"
            )));
        }
        if let Some(bad) = segments.iter().find(|segment| !is_identifier(segment)) {
            return Err(invalid(format!("`{bad}` is not a Rust identifier")));
        }

        let segments: Vec<String> = segments
            .into_iter()
            // NOTE: the shim calls the path without `r#`, so a function named by a raw
            // identifier (`r#match`) is not found and cannot be mounted.
            .map(|segment| {
                segment
                    .strip_prefix("r#")
                    .map(str::to_string)
                    .unwrap_or(segment)
            })
            .collect();
        Ok(RequestedPath {
            text: segments.join("::"),
            segments,
        })
    }

    /// Joins the first `count` segments, such as `hello::words`.
    fn prefix(&self, count: usize) -> String {
        self.segments[..count].join("::")
    }
}

fn is_identifier(segment: &str) -> bool {
    let name = segment.strip_prefix("r#").unwrap_or(segment);
    let mut chars = name.chars();
    let Some(first) = chars.next() else {
        return false;
    };
    (first == '_' || first.is_alphabetic())
        && name != "_"
        && chars.all(|c| c == '_' || c.is_alphanumeric())
}

/// The item the path has reached so far.
enum Scope {
    Module(ModRef),
    Type(ModRef, usize),
}

struct Walk<'r, 'w> {
    resolver: &'r mut Resolver<'w>,
    path: &'r RequestedPath,
    /// The package whose crate the path starts in.
    package: PackageIndex,
    workspace_root: PathBuf,
}

/// Finds the function that `path` names among the crates of `workspace`.
pub(crate) fn find(
    workspace: &Workspace,
    path: &RequestedPath,
) -> Result<FoundFunction, LookupError> {
    let crate_name = &path.segments[0];
    let Some(package) = workspace.package_for_crate(crate_name) else {
        let known = workspace.crate_names();
        return Err(LookupError::CrateNotFound {
            path: path.text.clone(),
            crate_name: crate_name.clone(),
            workspace: workspace.workspace_root(),
            near: nearest_names(crate_name, &known),
        });
    };
    tracing::debug!(crate_name = %crate_name, package = %workspace.package_label(package), "found the crate");
    let mut resolver = Resolver::new(workspace);
    let root = resolver
        .crate_root(package)
        .ok_or_else(|| LookupError::CrateNotFound {
            path: path.text.clone(),
            crate_name: crate_name.clone(),
            workspace: workspace.workspace_root(),
            near: Vec::new(),
        })?;
    let mut walk = Walk {
        resolver: &mut resolver,
        path,
        package,
        workspace_root: workspace.workspace_root(),
    };
    let (at, function, impl_generics) = walk.run(root)?;

    let source_file = walk.module_file(at);
    let signature = read_signature(&path.text, &function.signature, impl_generics.as_ref())?;
    let workspace_root = workspace.workspace_root();
    Ok(FoundFunction {
        requested_path: path.text.clone(),
        call_path: path.text.clone(),
        package: workspace.found_package(package),
        lock_file: workspace_root.join("Cargo.lock"),
        workspace_root,
        target_dir: workspace.target_dir(),
        source_file,
        line: function.line,
        doc: first_doc_line(&function.attrs),
        signature,
    })
}

/// Returns the known crate names nearest to `name`, at most five.
fn nearest_names(name: &str, known: &[String]) -> Vec<String> {
    let mut scored: Vec<(usize, &String)> = known
        .iter()
        .map(|candidate| (strsim::levenshtein(name, candidate), candidate))
        .collect();
    scored.sort();
    scored
        .into_iter()
        .take(5)
        .map(|(_, candidate)| candidate.clone())
        .collect()
}

fn first_doc_line(attrs: &[syn::Attribute]) -> Option<String> {
    attrs
        .iter()
        .filter(|attr| attr.path().is_ident("doc"))
        .filter_map(|attr| {
            let syn::Meta::NameValue(pair) = &attr.meta else {
                return None;
            };
            let syn::Expr::Lit(syn::ExprLit {
                lit: syn::Lit::Str(text),
                ..
            }) = &pair.value
            else {
                return None;
            };
            Some(text.value())
        })
        .flat_map(|text| {
            text.lines()
                .map(|line| line.trim().to_string())
                .collect::<Vec<_>>()
        })
        .find(|line| !line.is_empty())
}

impl Walk<'_, '_> {
    /// Walks to the function; returns the module holding its item, the item, and the generics
    /// of its impl block for an associated function.
    fn run(
        &mut self,
        root: ModRef,
    ) -> Result<(ModRef, Function, Option<syn::Generics>), LookupError> {
        let mut scope = Scope::Module(root);
        let count = self.path.segments.len();
        for position in 1..count {
            let segment = self.path.segments[position].clone();
            let last = position + 1 == count;
            match scope {
                Scope::Module(module) => {
                    self.ensure_readable(module)?;
                    if last {
                        return self.function_in_module(module, &segment, position);
                    }
                    scope = self.step_into(module, &segment, position)?;
                }
                Scope::Type(at, index) => {
                    if !last {
                        return Err(self.not_found_in_type(&segment, position));
                    }
                    return self.associated_function(at, index, &segment, position);
                }
            }
        }
        Err(LookupError::InvalidPath {
            path: self.path.text.clone(),
            reason: "it names only a crate".to_string(),
        })
    }

    fn module_file(&mut self, at: ModRef) -> PathBuf {
        self.resolver
            .tree(at.package)
            .and_then(|tree| {
                tree.modules
                    .get(at.module)
                    .map(|module| module.file.clone())
            })
            .unwrap_or_default()
    }

    fn location(&mut self, at: ModRef, line: usize) -> String {
        let file = self.module_file(at);
        let shown = file.strip_prefix(&self.workspace_root).unwrap_or(&file);
        format!("{}:{line}", shown.display())
    }

    fn ensure_readable(&mut self, module: ModRef) -> Result<(), LookupError> {
        let Err(reason) = self.resolver.with_items(module, |_| ()) else {
            return Ok(());
        };
        Err(LookupError::ModuleUnreadable {
            path: self.path.text.clone(),
            module: self.resolver.module_path(module),
            file: self.module_file(module),
            reason,
        })
    }

    /// Resolves a module or type segment and checks that it is public.
    fn step_into(
        &mut self,
        module: ModRef,
        segment: &str,
        position: usize,
    ) -> Result<Scope, LookupError> {
        let Some(binding) = self.resolver.lookup(module, segment, Ns::Type) else {
            return Err(self.not_found(module, segment, position));
        };
        self.check_binding_public(segment, &binding, position)?;
        match binding.def {
            Def::Module(next) => Ok(Scope::Module(next)),
            Def::Type { at, index } => Ok(Scope::Type(at, index)),
            Def::Function { .. } | Def::Value { .. } => {
                Err(self.not_found(module, segment, position))
            }
        }
    }

    fn function_in_module(
        &mut self,
        module: ModRef,
        name: &str,
        position: usize,
    ) -> Result<(ModRef, Function, Option<syn::Generics>), LookupError> {
        let binding = match self.resolver.lookup(module, name, Ns::Value) {
            Some(binding) => binding,
            None => return Err(self.not_a_function_or_missing(module, name, position)),
        };
        let (at, index) = match binding.def {
            Def::Function { at, index } => (at, index),
            Def::Value { at, index } => {
                let kind = self
                    .resolver
                    .with_items(at, |items| items.values[index].kind)
                    .unwrap_or("a value");
                return Err(LookupError::NotAFunction {
                    path: self.path.text.clone(),
                    kind: kind.to_string(),
                });
            }
            Def::Module(_) | Def::Type { .. } => return Err(self.not_found(module, name, position)),
        };
        self.check_binding_public(name, &binding, position)?;
        let function = self
            .resolver
            .with_items(at, |items| items.functions[index].clone())
            .map_err(|reason| self.unreadable(at, reason))?;
        if !function.vis.is_public() {
            let location = self.location(at, function.line);
            return Err(self.not_public(
                "function",
                name,
                location,
                &function.vis,
                format!("declare it `pub fn {name}`"),
            ));
        }
        Ok((at, function, None))
    }

    fn unreadable(&mut self, at: ModRef, reason: String) -> LookupError {
        LookupError::ModuleUnreadable {
            path: self.path.text.clone(),
            module: self.resolver.module_path(at),
            file: self.module_file(at),
            reason,
        }
    }

    /// The error for a last segment that is not a function: a module or type of that name, or
    /// nothing at all.
    fn not_a_function_or_missing(
        &mut self,
        module: ModRef,
        name: &str,
        position: usize,
    ) -> LookupError {
        let Some(binding) = self.resolver.lookup(module, name, Ns::Type) else {
            return self.not_found(module, name, position);
        };
        let kind = match binding.def {
            Def::Module(_) => "a module".to_string(),
            Def::Type { at, index } => self
                .resolver
                .with_items(at, |items| items.types[index].kind.describe().to_string())
                .unwrap_or_else(|_| "a type".to_string()),
            Def::Function { .. } | Def::Value { .. } => {
                return self.not_found(module, name, position);
            }
        };
        LookupError::NotAFunction {
            path: self.path.text.clone(),
            kind,
        }
    }

    fn check_binding_public(
        &mut self,
        name: &str,
        binding: &Binding,
        position: usize,
    ) -> Result<(), LookupError> {
        if binding.vis.is_public() {
            return Ok(());
        }
        let item_path = self.path.prefix(position + 1);
        match binding.origin {
            Origin::Item { line } => {
                let location = self.location(binding.holder, line);
                let (kind, fix) = match binding.def {
                    Def::Module(_) => (
                        "module",
                        format!(
                            "declare it `pub mod {name}`, or re-export the function with `pub use` from a public module"
                        ),
                    ),
                    Def::Type { .. } => ("type", format!("declare `{name}` as `pub`")),
                    Def::Function { .. } | Def::Value { .. } => {
                        ("function", format!("declare it `pub fn {name}`"))
                    }
                };
                Err(self.not_public(kind, &item_path, location, &binding.vis, fix))
            }
            Origin::Import { line } | Origin::Glob { line } => {
                let location = self.location(binding.holder, line);
                let fix = "make it `pub use`".to_string();
                Err(self.not_public(
                    "the `use` that brings in",
                    &item_path,
                    location,
                    &binding.vis,
                    fix,
                ))
            }
        }
    }

    fn not_public(
        &self,
        kind: &str,
        item: &str,
        location: String,
        vis: &Vis,
        fix: String,
    ) -> LookupError {
        LookupError::NotPublic {
            path: self.path.text.clone(),
            item: format!("{kind} `{item}` at {location}"),
            visibility: vis.describe(),
            fix,
        }
    }

    fn associated_function(
        &mut self,
        at: ModRef,
        index: usize,
        name: &str,
        position: usize,
    ) -> Result<(ModRef, Function, Option<syn::Generics>), LookupError> {
        let (type_at, type_index) = self.resolver.canonical_type(at, index);
        let kind = self
            .resolver
            .with_items(type_at, |items| items.types[type_index].kind)
            .unwrap_or(TypeKind::Struct);
        if kind == TypeKind::Trait {
            return Err(LookupError::TraitItem {
                path: self.path.text.clone(),
                trait_name: self.path.prefix(position),
            });
        }

        let candidates = self.resolver.impl_functions(at, index, name);
        let mut trait_impl = None;
        for candidate in &candidates {
            let Some((trait_name, self_ty, generics)) =
                self.resolver.with_impl(candidate, |block| {
                    (
                        block.trait_name.clone(),
                        block.self_ty.clone(),
                        block.generics.clone(),
                    )
                })
            else {
                continue;
            };
            if let Some(trait_name) = trait_name {
                trait_impl.get_or_insert((trait_name, self_ty));
                continue;
            }
            let function = self
                .resolver
                .with_items(candidate.at, |items| {
                    items.impls[candidate.impl_index].functions[candidate.function_index].clone()
                })
                .map_err(|reason| self.unreadable(candidate.at, reason))?;
            if !function.vis.is_public() {
                let location = self.location(candidate.at, function.line);
                let fix = format!("declare it `pub fn {name}`");
                return Err(self.not_public(
                    "associated function",
                    &self.path.text.clone(),
                    location,
                    &function.vis,
                    fix,
                ));
            }
            return Ok((candidate.at, function, Some(generics)));
        }
        if let Some((trait_name, self_ty)) = trait_impl {
            let self_ty = crate::signature::type_text(&quote::ToTokens::to_token_stream(&self_ty));
            return Err(LookupError::TraitFunction {
                path: self.path.text.clone(),
                trait_name,
                self_ty,
            });
        }
        Err(self.not_found_in_type(name, position))
    }

    fn not_found_in_type(&mut self, name: &str, position: usize) -> LookupError {
        LookupError::ItemNotFound {
            path: self.path.text.clone(),
            scope: format!("type `{}`", self.path.prefix(position)),
            name: name.to_string(),
            near: near_matches(self.resolver, self.package, &self.path.text).into(),
            notes: Box::default(),
        }
    }

    fn not_found(&mut self, module: ModRef, name: &str, position: usize) -> LookupError {
        let scope = if position == 1 {
            format!("crate `{}`", self.path.segments[0])
        } else {
            format!("module `{}`", self.path.prefix(position))
        };
        let mut notes = Vec::new();
        let (macros, disabled) = self
            .resolver
            .with_items(module, |items| {
                let disabled: Vec<String> = items
                    .disabled
                    .iter()
                    .filter(|(item, _)| item == name)
                    .map(|(_, cfg)| cfg.clone())
                    .collect();
                (items.macro_calls.clone(), disabled)
            })
            .unwrap_or_default();
        for cfg in &disabled {
            notes.push(format!(
                "an item named `{name}` exists, but `{cfg}` leaves it out of the build portkey makes \
                 (`test` is off, cargo features are those cargo resolved, the target is Linux); \
                 move it out from under the `cfg` or enable the feature it needs"
            ));
        }
        if !macros.is_empty() && disabled.is_empty() {
            let mut names: Vec<String> = macros.iter().map(|name| format!("`{name}!`")).collect();
            names.dedup();
            notes.push(format!(
                "{scope} invokes macros ({}) and portkey cannot see the items macros generate; if `{name}` \
                 comes from one, call it from a plain `pub fn`",
                names.join(", ")
            ));
        }
        LookupError::ItemNotFound {
            path: self.path.text.clone(),
            scope,
            name: name.to_string(),
            near: near_matches(self.resolver, self.package, &self.path.text).into(),
            notes: notes.into(),
        }
    }
}
