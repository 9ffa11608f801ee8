//! Name resolution over the module trees of the project's crates: a name in a module's scope
//! (its items, then `use` imports, then glob imports), `use` paths with `crate::`, `self::`,
//! `super::` and extern crates (renamed dependencies included), type aliases, and the inherent
//! `impl` blocks of a type. Crates are parsed on first use. Walking a requested path and
//! reporting errors is left to `walk`.

use std::collections::{HashMap, HashSet};
use std::rc::Rc;

use crate::tree::{
    CrateTree, ImplBlock, ImportKind, Items, ModuleId, ROOT, TypeKind, Vis, load_crate,
};
use crate::workspace::{PackageIndex, Workspace};

/// Alias chains and nested lookups stop at this depth, a guard against cycles the active-set
/// check does not catch.
const MAX_DEPTH: usize = 64;

/// A module of one of the project's crates.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub(crate) struct ModRef {
    pub(crate) package: PackageIndex,
    pub(crate) module: ModuleId,
}

/// The type namespace holds modules, types and crates; the value namespace holds functions,
/// constants and statics.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub(crate) enum Ns {
    Type,
    Value,
}

/// What a name resolves to. Indexes point into the `Items` of the module `at`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub(crate) enum Def {
    Module(ModRef),
    Function { at: ModRef, index: usize },
    Type { at: ModRef, index: usize },
    Value { at: ModRef, index: usize },
}

/// How a name came into a module's scope.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Origin {
    /// Declared in the module, at this line.
    Item { line: usize },
    /// Brought in by a `use` or `extern crate` at this line.
    Import { line: usize },
    /// Brought in by a glob `use` at this line.
    Glob { line: usize },
}

/// A name in a module's scope.
#[derive(Debug, Clone)]
pub(crate) struct Binding {
    pub(crate) def: Def,
    /// The module whose source holds the item or the import, for locations in messages.
    pub(crate) holder: ModRef,
    /// The visibility of the binding itself: of the item, or of the import that brought it in.
    pub(crate) vis: Vis,
    pub(crate) origin: Origin,
}

/// Whether a path is a `use` path, which Rust 2015 reads from the crate root, or a path in a
/// type or expression, read from the current module.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum PathContext {
    Use,
    Type,
}

/// A function found in an `impl` block.
pub(crate) struct ImplFunction {
    pub(crate) at: ModRef,
    pub(crate) impl_index: usize,
    pub(crate) function_index: usize,
}

pub(crate) struct Resolver<'w> {
    pub(crate) workspace: &'w Workspace,
    trees: HashMap<PackageIndex, Rc<CrateTree>>,
    active: HashSet<(ModRef, String, Ns)>,
    depth: usize,
}

impl<'w> Resolver<'w> {
    pub(crate) fn new(workspace: &'w Workspace) -> Resolver<'w> {
        Resolver {
            workspace,
            trees: HashMap::new(),
            active: HashSet::new(),
            depth: 0,
        }
    }

    /// The parsed crate of a package, or `None` when it has no library target.
    pub(crate) fn tree(&mut self, package: PackageIndex) -> Option<Rc<CrateTree>> {
        if let Some(tree) = self.trees.get(&package) {
            return Some(Rc::clone(tree));
        }
        let lib_name = self.workspace.lib_name(package)?;
        let root = self.workspace.lib_root(package)?;
        let features = self.workspace.features(package);
        let edition_2015 = self.workspace.is_edition_2015(package);
        tracing::debug!(crate_name = %lib_name, root = %root.display(), "parsing crate");
        let tree = Rc::new(load_crate(&lib_name, &root, &features, edition_2015));
        self.trees.insert(package, Rc::clone(&tree));
        Some(tree)
    }

    /// The items of a module, or the reason they could not be read.
    pub(crate) fn with_items<T>(
        &mut self,
        at: ModRef,
        read: impl FnOnce(&Items) -> T,
    ) -> Result<T, String> {
        let tree = self
            .tree(at.package)
            .ok_or_else(|| "the package has no library target".to_string())?;
        let module = tree
            .modules
            .get(at.module)
            .ok_or_else(|| "unknown module".to_string())?;
        match &module.content {
            Ok(items) => Ok(read(items)),
            Err(reason) => Err(reason.clone()),
        }
    }

    pub(crate) fn crate_root(&mut self, package: PackageIndex) -> Option<ModRef> {
        self.tree(package).map(|_| ModRef {
            package,
            module: ROOT,
        })
    }

    /// The module's path from its crate root, such as `hello::words`.
    pub(crate) fn module_path(&mut self, at: ModRef) -> String {
        let Some(tree) = self.tree(at.package) else {
            return String::new();
        };
        let mut path = vec![tree.lib_name.clone()];
        if let Some(module) = tree.modules.get(at.module) {
            path.extend(module.segments.iter().cloned());
        }
        path.join("::")
    }

    fn parent(&mut self, at: ModRef) -> Option<ModRef> {
        let tree = self.tree(at.package)?;
        let parent = tree.modules.get(at.module)?.parent?;
        Some(ModRef {
            package: at.package,
            module: parent,
        })
    }

    /// Whether `inner` is `outer` or one of its descendants.
    fn is_within(&mut self, inner: ModRef, outer: ModRef) -> bool {
        let mut current = Some(inner);
        while let Some(module) = current {
            if module == outer {
                return true;
            }
            current = self.parent(module);
        }
        false
    }

    /// Looks `name` up in the scope of module `at`: declared items first, then named imports,
    /// then glob imports, as rustc does. Returns `None` on a cycle of imports.
    pub(crate) fn lookup(&mut self, at: ModRef, name: &str, ns: Ns) -> Option<Binding> {
        let key = (at, name.to_string(), ns);
        if self.depth >= MAX_DEPTH || !self.active.insert(key.clone()) {
            return None;
        }
        self.depth += 1;
        let found = self.lookup_uncached(at, name, ns);
        self.depth -= 1;
        self.active.remove(&key);
        found
    }

    fn lookup_uncached(&mut self, at: ModRef, name: &str, ns: Ns) -> Option<Binding> {
        let declared = self
            .with_items(at, |items| declared_binding(items, at, name, ns))
            .ok()?;
        if declared.is_some() {
            return declared;
        }

        let imports = self
            .with_items(at, |items| {
                items
                    .imports
                    .iter()
                    .map(|import| {
                        (
                            import.path.clone(),
                            import.vis.clone(),
                            import.line,
                            import_alias(&import.kind),
                        )
                    })
                    .collect::<Vec<_>>()
            })
            .ok()?;

        for (path, vis, line, alias) in imports.iter() {
            if alias.as_deref() != Some(name) {
                continue;
            }
            if let Some(def) = self.resolve_path(at, path, ns, PathContext::Use) {
                return Some(Binding {
                    def,
                    holder: at,
                    vis: vis.clone(),
                    origin: Origin::Import { line: *line },
                });
            }
        }

        for (path, vis, line, alias) in imports {
            if alias.is_some() {
                continue;
            }
            let Some(Def::Module(target)) =
                self.resolve_path(at, &path, Ns::Type, PathContext::Use)
            else {
                continue;
            };
            let Some(binding) = self.lookup(target, name, ns) else {
                continue;
            };
            // A glob imports what the importing module can see: private items only into the
            // module itself or its descendants.
            if binding.vis == Vis::Private && !self.is_within(at, binding.holder) {
                continue;
            }
            // Through a `pub use`, a restricted item keeps its own visibility, and messages
            // point at the item rather than at the glob.
            if vis.is_public() && !binding.vis.is_public() {
                return Some(binding);
            }
            return Some(Binding {
                def: binding.def,
                holder: at,
                vis,
                origin: Origin::Glob { line },
            });
        }
        None
    }

    /// Resolves a path as written in module `from`. The last segment is looked up in `ns`,
    /// the others in the type namespace.
    pub(crate) fn resolve_path(
        &mut self,
        from: ModRef,
        path: &[String],
        ns: Ns,
        context: PathContext,
    ) -> Option<Def> {
        let (first, rest) = path.split_first()?;
        let mut current = match first.as_str() {
            "" => {
                let (name, rest) = rest.split_first()?;
                let root = self.extern_crate(from.package, name)?;
                return self.resolve_segments(root, rest, ns);
            }
            "crate" => ModRef {
                package: from.package,
                module: ROOT,
            },
            "self" => from,
            "super" => self.parent(from)?,
            name => {
                let scope = self.first_segment_scope(from, context);
                let segment_ns = if rest.is_empty() { ns } else { Ns::Type };
                let def = match self.lookup(scope, name, segment_ns) {
                    Some(binding) => binding.def,
                    None if segment_ns == Ns::Type => {
                        Def::Module(self.extern_crate(from.package, name)?)
                    }
                    None => return None,
                };
                if rest.is_empty() {
                    return Some(def);
                }
                let Def::Module(module) = def else {
                    return None;
                };
                module
            }
        };
        if rest.is_empty() {
            return Some(Def::Module(current));
        }
        // `super::super::x` climbs once per `super`.
        let mut remaining = rest;
        while let Some((segment, tail)) = remaining.split_first() {
            if segment != "super" {
                break;
            }
            current = self.parent(current)?;
            remaining = tail;
        }
        self.resolve_segments(current, remaining, ns)
    }

    fn first_segment_scope(&mut self, from: ModRef, context: PathContext) -> ModRef {
        let edition_2015 = self
            .tree(from.package)
            .is_some_and(|tree| tree.edition_2015);
        if edition_2015 && context == PathContext::Use {
            return ModRef {
                package: from.package,
                module: ROOT,
            };
        }
        from
    }

    fn resolve_segments(&mut self, start: ModRef, segments: &[String], ns: Ns) -> Option<Def> {
        let mut current = start;
        for (position, segment) in segments.iter().enumerate() {
            let last = position + 1 == segments.len();
            if segment == "self" && !last {
                continue;
            }
            let segment_ns = if last { ns } else { Ns::Type };
            let binding = self.lookup(current, segment, segment_ns)?;
            if last {
                return Some(binding.def);
            }
            let Def::Module(next) = binding.def else {
                return None;
            };
            current = next;
        }
        Some(Def::Module(current))
    }

    /// The root module of the crate that `package` calls `name`; `std`, `core` and other
    /// sysroot crates are not part of the project and give `None`.
    fn extern_crate(&mut self, package: PackageIndex, name: &str) -> Option<ModRef> {
        let dependency = self.workspace.dependency(package, name)?;
        self.crate_root(dependency)
    }

    /// Follows type aliases to the type they name.
    pub(crate) fn canonical_type(&mut self, at: ModRef, index: usize) -> (ModRef, usize) {
        let mut current = (at, index);
        for _ in 0..MAX_DEPTH {
            let aliased = self
                .with_items(current.0, |items| {
                    let item = &items.types[current.1];
                    if item.kind != TypeKind::Alias {
                        return None;
                    }
                    item.aliased.as_ref().and_then(type_path_segments)
                })
                .ok()
                .flatten();
            let Some(path) = aliased else {
                break;
            };
            match self.resolve_path(current.0, &path, Ns::Type, PathContext::Type) {
                Some(Def::Type { at, index }) => current = (at, index),
                _ => break,
            }
        }
        current
    }

    /// The functions of every `impl` block in the type's crate whose self type is this type,
    /// trait impls included. The self type is resolved from the block's module; a path that
    /// cannot be resolved matches by its last segment.
    pub(crate) fn impl_functions(
        &mut self,
        at: ModRef,
        index: usize,
        name: &str,
    ) -> Vec<ImplFunction> {
        let target = self.canonical_type(at, index);
        let Ok(type_name) = self.with_items(target.0, |items| items.types[target.1].name.clone())
        else {
            return Vec::new();
        };
        let Some(tree) = self.tree(at.package) else {
            return Vec::new();
        };
        let mut found = Vec::new();
        for module in 0..tree.modules.len() {
            let holder = ModRef {
                package: at.package,
                module,
            };
            let Ok(candidates) = self.with_items(holder, |items| impl_candidates(items, name))
            else {
                continue;
            };
            for (impl_index, function_index, path) in candidates {
                let Some(path) = path else {
                    continue;
                };
                let matches = match self.resolve_path(holder, &path, Ns::Type, PathContext::Type) {
                    Some(Def::Type { at, index }) => self.canonical_type(at, index) == target,
                    Some(_) => false,
                    None => path.last() == Some(&type_name),
                };
                if matches {
                    found.push(ImplFunction {
                        at: holder,
                        impl_index,
                        function_index,
                    });
                }
            }
        }
        found
    }

    /// Runs `read` on one impl block.
    pub(crate) fn with_impl<T>(
        &mut self,
        function: &ImplFunction,
        read: impl FnOnce(&ImplBlock) -> T,
    ) -> Option<T> {
        self.with_items(function.at, |items| read(&items.impls[function.impl_index]))
            .ok()
    }
}

fn import_alias(kind: &ImportKind) -> Option<String> {
    match kind {
        ImportKind::Named { alias } => Some(alias.clone()),
        ImportKind::Glob => None,
    }
}

fn declared_binding(items: &Items, at: ModRef, name: &str, ns: Ns) -> Option<Binding> {
    match ns {
        Ns::Type => {
            if let Some(child) = items.modules.iter().find(|child| child.name == name) {
                let def = Def::Module(ModRef {
                    package: at.package,
                    module: child.id,
                });
                return Some(Binding {
                    def,
                    holder: at,
                    vis: child.vis.clone(),
                    origin: Origin::Item { line: child.line },
                });
            }
            let index = items.types.iter().position(|item| item.name == name)?;
            let item = &items.types[index];
            let origin = Origin::Item { line: item.line };
            Some(Binding {
                def: Def::Type { at, index },
                holder: at,
                vis: item.vis.clone(),
                origin,
            })
        }
        Ns::Value => {
            if let Some(index) = items
                .functions
                .iter()
                .position(|function| function.name == name)
            {
                let function = &items.functions[index];
                let origin = Origin::Item {
                    line: function.line,
                };
                return Some(Binding {
                    def: Def::Function { at, index },
                    holder: at,
                    vis: function.vis.clone(),
                    origin,
                });
            }
            let index = items.values.iter().position(|value| value.name == name)?;
            let value = &items.values[index];
            Some(Binding {
                def: Def::Value { at, index },
                holder: at,
                vis: value.vis.clone(),
                origin: Origin::Item { line: value.line },
            })
        }
    }
}

/// For every function named `name` in an impl block of the module: the block index, the
/// function index and the self type's path (`None` when the self type is not a path).
fn impl_candidates(items: &Items, name: &str) -> Vec<(usize, usize, Option<Vec<String>>)> {
    let mut candidates = Vec::new();
    for (impl_index, block) in items.impls.iter().enumerate() {
        for (function_index, function) in block.functions.iter().enumerate() {
            if function.name == name {
                candidates.push((
                    impl_index,
                    function_index,
                    type_path_segments(&block.self_ty),
                ));
            }
        }
    }
    candidates
}

/// The segments of a plain type path (`crate::m::Type<T>` gives `crate`, `m`, `Type`).
pub(crate) fn type_path_segments(ty: &syn::Type) -> Option<Vec<String>> {
    match ty {
        syn::Type::Path(path) if path.qself.is_none() => {
            let mut segments = Vec::new();
            if path.path.leading_colon.is_some() {
                segments.push(String::new());
            }
            segments.extend(
                path.path
                    .segments
                    .iter()
                    .map(|segment| crate::tree::unraw(&segment.ident)),
            );
            Some(segments)
        }
        syn::Type::Paren(inner) => type_path_segments(&inner.elem),
        syn::Type::Group(inner) => type_path_segments(&inner.elem),
        _ => None,
    }
}
