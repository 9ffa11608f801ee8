//! The module tree of one library crate, read with syn: which files hold which modules
//! (`mod x;` in `x.rs` or `x/mod.rs`, `#[path]`, inline modules), and each module's functions,
//! types, imports, impl blocks and macro invocations. Items whose `cfg` is off are left out.
//! Resolving names across modules and crates is left to `resolve`.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

use quote::ToTokens;
use syn::spanned::Spanned;
use syn::{Attribute, Item, UseTree, Visibility};

use crate::cfg::check_enabled;

/// An index into `CrateTree::modules`; the crate root is `ROOT`.
pub(crate) type ModuleId = usize;

pub(crate) const ROOT: ModuleId = 0;

/// Loading stops past this many modules, a guard against `#[path]` cycles.
const MAX_MODULES: usize = 20_000;

/// The modules of one library crate.
pub(crate) struct CrateTree {
    pub(crate) lib_name: String,
    pub(crate) modules: Vec<Module>,
    /// Whether `use` paths start at the crate root (Rust 2015).
    pub(crate) edition_2015: bool,
}

pub(crate) struct Module {
    pub(crate) parent: Option<ModuleId>,
    /// The path from the crate root, without the crate name.
    pub(crate) segments: Vec<String>,
    /// The file holding the module's items (for an inline module, the enclosing file).
    pub(crate) file: PathBuf,
    pub(crate) content: Result<Items, String>,
}

/// The visibility of an item as seen from another crate.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Vis {
    Public,
    /// `pub(crate)`, `pub(super)`, `pub(in ..)` or `pub(self)`, with its text.
    Restricted(String),
    Private,
}

impl Vis {
    fn of(visibility: &Visibility) -> Vis {
        match visibility {
            Visibility::Public(_) => Vis::Public,
            Visibility::Restricted(restricted) => {
                Vis::Restricted(restricted.to_token_stream().to_string().replace(' ', ""))
            }
            Visibility::Inherited => Vis::Private,
        }
    }

    pub(crate) fn is_public(&self) -> bool {
        *self == Vis::Public
    }

    pub(crate) fn describe(&self) -> String {
        match self {
            Vis::Public => "public".to_string(),
            Vis::Restricted(text) => format!("only `{text}`"),
            Vis::Private => "private".to_string(),
        }
    }
}

/// The items of one module.
#[derive(Default)]
pub(crate) struct Items {
    pub(crate) modules: Vec<ChildModule>,
    pub(crate) functions: Vec<Function>,
    pub(crate) types: Vec<TypeItem>,
    /// Constants and statics, kept to say "is a constant, not a function".
    pub(crate) values: Vec<Named>,
    pub(crate) imports: Vec<Import>,
    pub(crate) impls: Vec<ImplBlock>,
    /// Paths of item-level macro invocations, such as `make_fn`.
    pub(crate) macro_calls: Vec<String>,
    /// Items left out because a `cfg` is off: name and attribute text.
    pub(crate) disabled: Vec<(String, String)>,
}

pub(crate) struct ChildModule {
    pub(crate) name: String,
    pub(crate) vis: Vis,
    pub(crate) id: ModuleId,
    pub(crate) line: usize,
}

pub(crate) struct Named {
    pub(crate) name: String,
    pub(crate) vis: Vis,
    pub(crate) kind: &'static str,
    pub(crate) line: usize,
}

#[derive(Clone)]
pub(crate) struct Function {
    pub(crate) name: String,
    pub(crate) vis: Vis,
    pub(crate) signature: syn::Signature,
    pub(crate) attrs: Vec<Attribute>,
    pub(crate) line: usize,
}

#[derive(Clone, Copy, PartialEq, Eq)]
pub(crate) enum TypeKind {
    Struct,
    Enum,
    Union,
    Alias,
    Trait,
}

impl TypeKind {
    pub(crate) fn describe(self) -> &'static str {
        match self {
            TypeKind::Struct => "a struct",
            TypeKind::Enum => "an enum",
            TypeKind::Union => "a union",
            TypeKind::Alias => "a type alias",
            TypeKind::Trait => "a trait",
        }
    }
}

pub(crate) struct TypeItem {
    pub(crate) name: String,
    pub(crate) vis: Vis,
    pub(crate) kind: TypeKind,
    /// The aliased type of a `type X = ...;`.
    pub(crate) aliased: Option<syn::Type>,
    pub(crate) line: usize,
}

/// One name brought in by `use` or `extern crate`.
pub(crate) struct Import {
    pub(crate) vis: Vis,
    /// The path as written; `::` at the start is kept as a leading empty segment.
    pub(crate) path: Vec<String>,
    pub(crate) kind: ImportKind,
    pub(crate) line: usize,
}

pub(crate) enum ImportKind {
    /// Binds the last segment of the path under `alias`.
    Named { alias: String },
    /// `use path::*`.
    Glob,
}

pub(crate) struct ImplBlock {
    pub(crate) self_ty: syn::Type,
    pub(crate) trait_name: Option<String>,
    pub(crate) generics: syn::Generics,
    pub(crate) functions: Vec<Function>,
}

/// The directories in which `mod x;` finds its file and against which `#[path]` is resolved.
#[derive(Clone)]
struct DirContext {
    children_dir: PathBuf,
    path_attr_dir: PathBuf,
}

struct Loader<'a> {
    tree: CrateTree,
    features: &'a BTreeSet<String>,
}

/// Reads the crate rooted at `root_file`. Unreadable or unparsable files do not fail the load:
/// their modules record the reason, reported only if a lookup needs them.
pub(crate) fn load_crate(
    lib_name: &str,
    root_file: &Path,
    features: &BTreeSet<String>,
    edition_2015: bool,
) -> CrateTree {
    let tree = CrateTree {
        lib_name: lib_name.to_string(),
        modules: Vec::new(),
        edition_2015,
    };
    let mut loader = Loader { tree, features };
    let root = loader.new_module(None, Vec::new(), root_file.to_path_buf());
    let root_dir = parent_dir(root_file);
    let context = DirContext {
        children_dir: root_dir.clone(),
        path_attr_dir: root_dir,
    };
    loader.load_file(root, root_file, &context);
    loader.tree
}

fn parent_dir(file: &Path) -> PathBuf {
    file.parent().map(Path::to_path_buf).unwrap_or_default()
}

/// Returns the 1-based line where a span starts.
pub(crate) fn line_of(spanned: &impl Spanned) -> usize {
    spanned.span().start().line
}

impl Loader<'_> {
    fn new_module(
        &mut self,
        parent: Option<ModuleId>,
        segments: Vec<String>,
        file: PathBuf,
    ) -> ModuleId {
        self.tree.modules.push(Module {
            parent,
            segments,
            file,
            content: Ok(Items::default()),
        });
        self.tree.modules.len() - 1
    }

    fn load_file(&mut self, id: ModuleId, file: &Path, context: &DirContext) {
        let parsed = std::fs::read_to_string(file)
            .map_err(|error| format!("cannot read the file: {error}"))
            .and_then(|text| syn::parse_file(&text).map_err(|error| describe_parse_error(&error)));
        match parsed {
            Ok(syntax) => {
                let items = self.collect(id, &syntax.items, context);
                self.tree.modules[id].content = Ok(items);
            }
            Err(reason) => self.tree.modules[id].content = Err(reason),
        }
    }

    fn collect(&mut self, id: ModuleId, items: &[Item], context: &DirContext) -> Items {
        let mut collected = Items::default();
        for item in items {
            self.collect_item(id, item, context, &mut collected);
        }
        collected
    }

    fn collect_item(&mut self, id: ModuleId, item: &Item, context: &DirContext, out: &mut Items) {
        if let Err(cfg) = check_enabled(item_attrs(item), self.features) {
            if let Some(name) = item_name(item) {
                out.disabled.push((name, cfg));
            }
            return;
        }
        match item {
            Item::Fn(function) => out.functions.push(Function {
                name: function.sig.ident.to_string(),
                vis: Vis::of(&function.vis),
                signature: function.sig.clone(),
                attrs: function.attrs.clone(),
                line: line_of(&function.sig.ident),
            }),
            Item::Mod(module) => self.collect_module(id, module, context, out),
            Item::Struct(item) => {
                out.types
                    .push(type_item(&item.ident, &item.vis, TypeKind::Struct, None))
            }
            Item::Enum(item) => {
                out.types
                    .push(type_item(&item.ident, &item.vis, TypeKind::Enum, None))
            }
            Item::Union(item) => {
                out.types
                    .push(type_item(&item.ident, &item.vis, TypeKind::Union, None))
            }
            Item::Trait(item) => {
                out.types
                    .push(type_item(&item.ident, &item.vis, TypeKind::Trait, None))
            }
            Item::Type(item) => {
                let aliased = Some((*item.ty).clone());
                out.types
                    .push(type_item(&item.ident, &item.vis, TypeKind::Alias, aliased));
            }
            Item::Const(item) => out
                .values
                .push(named_value(&item.ident, &item.vis, "a constant")),
            Item::Static(item) => out
                .values
                .push(named_value(&item.ident, &item.vis, "a static")),
            Item::Use(item) => {
                let mut prefix = Vec::new();
                if item.leading_colon.is_some() {
                    prefix.push(String::new());
                }
                flatten_use(
                    &item.tree,
                    prefix,
                    &Vis::of(&item.vis),
                    line_of(item),
                    &mut out.imports,
                );
            }
            Item::ExternCrate(item) => out.imports.push(extern_crate_import(item)),
            Item::Impl(block) => out.impls.push(self.impl_block(block)),
            Item::Macro(item) if item.ident.is_none() => {
                out.macro_calls.push(path_text(&item.mac.path))
            }
            _ => {}
        }
    }

    fn collect_module(
        &mut self,
        parent: ModuleId,
        module: &syn::ItemMod,
        context: &DirContext,
        out: &mut Items,
    ) {
        if self.tree.modules.len() >= MAX_MODULES {
            return;
        }
        let name = unraw(&module.ident);
        let mut segments = self.tree.modules[parent].segments.clone();
        segments.push(name.clone());
        let path_attr = path_attribute(&module.attrs);
        let parent_file = self.tree.modules[parent].file.clone();

        let id = match &module.content {
            Some((_, items)) => {
                let children_dir = match &path_attr {
                    Some(path) => context.path_attr_dir.join(path),
                    None => context.children_dir.join(&name),
                };
                let inner = DirContext {
                    path_attr_dir: children_dir.clone(),
                    children_dir,
                };
                let id = self.new_module(Some(parent), segments, parent_file);
                let items = self.collect(id, items, &inner);
                self.tree.modules[id].content = Ok(items);
                id
            }
            None => self.load_outline_module(parent, segments, &name, path_attr, context),
        };
        out.modules.push(ChildModule {
            name,
            vis: Vis::of(&module.vis),
            id,
            line: line_of(&module.ident),
        });
    }

    /// Loads `mod name;` from `#[path]`, `name.rs` or `name/mod.rs`.
    fn load_outline_module(
        &mut self,
        parent: ModuleId,
        segments: Vec<String>,
        name: &str,
        path_attr: Option<String>,
        context: &DirContext,
    ) -> ModuleId {
        let from_path_attr = path_attr.is_some();
        let candidates = match path_attr {
            Some(path) => vec![context.path_attr_dir.join(path)],
            None => vec![
                context.children_dir.join(format!("{name}.rs")),
                context.children_dir.join(name).join("mod.rs"),
            ],
        };

        let Some(file) = candidates
            .iter()
            .find(|candidate| candidate.is_file())
            .cloned()
        else {
            let tried = candidates
                .iter()
                .map(|path| path.display().to_string())
                .collect::<Vec<_>>();
            let id = self.new_module(Some(parent), segments, candidates[0].clone());
            self.tree.modules[id].content =
                Err(format!("no module file found (tried {})", tried.join(", ")));
            return id;
        };

        let id = self.new_module(Some(parent), segments, file.clone());
        let file_dir = parent_dir(&file);
        // `x.rs` keeps its children in `x/`; `mod.rs`, the crate root and `#[path]` files keep
        // them next to themselves.
        let is_mod_rs = from_path_attr || file.file_name().is_some_and(|name| name == "mod.rs");
        let children_dir = if is_mod_rs {
            file_dir.clone()
        } else {
            file_dir.join(name)
        };
        let inner = DirContext {
            children_dir,
            path_attr_dir: file_dir,
        };
        self.load_file(id, &file, &inner);
        id
    }

    fn impl_block(&self, block: &syn::ItemImpl) -> ImplBlock {
        let mut functions = Vec::new();
        for item in &block.items {
            let syn::ImplItem::Fn(function) = item else {
                continue;
            };
            if check_enabled(&function.attrs, self.features).is_err() {
                continue;
            }
            functions.push(Function {
                name: function.sig.ident.to_string(),
                vis: Vis::of(&function.vis),
                signature: function.sig.clone(),
                attrs: function.attrs.clone(),
                line: line_of(&function.sig.ident),
            });
        }
        ImplBlock {
            self_ty: (*block.self_ty).clone(),
            trait_name: block.trait_.as_ref().map(|(_, path, _)| path_text(path)),
            generics: block.generics.clone(),
            functions,
        }
    }
}

fn describe_parse_error(error: &syn::Error) -> String {
    let start = error.span().start();
    format!(
        "syn cannot parse it at line {}, column {}: {error}",
        start.line,
        start.column + 1
    )
}

fn named_value(ident: &syn::Ident, vis: &Visibility, kind: &'static str) -> Named {
    Named {
        name: unraw(ident),
        vis: Vis::of(vis),
        kind,
        line: line_of(ident),
    }
}

fn type_item(
    ident: &syn::Ident,
    vis: &Visibility,
    kind: TypeKind,
    aliased: Option<syn::Type>,
) -> TypeItem {
    TypeItem {
        name: unraw(ident),
        vis: Vis::of(vis),
        kind,
        aliased,
        line: line_of(ident),
    }
}

/// Returns an identifier without its `r#` prefix.
pub(crate) fn unraw(ident: &syn::Ident) -> String {
    let text = ident.to_string();
    text.strip_prefix("r#").map(str::to_string).unwrap_or(text)
}

pub(crate) fn path_text(path: &syn::Path) -> String {
    path.to_token_stream().to_string().replace(' ', "")
}

fn path_attribute(attrs: &[Attribute]) -> Option<String> {
    attrs
        .iter()
        .filter(|attr| attr.path().is_ident("path"))
        .find_map(|attr| {
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
}

fn extern_crate_import(item: &syn::ItemExternCrate) -> Import {
    let name = unraw(&item.ident);
    let alias = item
        .rename
        .as_ref()
        .map(|(_, rename)| unraw(rename))
        .unwrap_or_else(|| name.clone());
    // `extern crate self as name;` names the crate itself.
    let path = if name == "self" {
        vec!["crate".to_string()]
    } else {
        vec![String::new(), name]
    };
    Import {
        vis: Vis::of(&item.vis),
        path,
        kind: ImportKind::Named { alias },
        line: line_of(&item.ident),
    }
}

/// Turns a use tree into one `Import` per bound name or glob. `_` imports bind no name and are
/// dropped.
fn flatten_use(tree: &UseTree, prefix: Vec<String>, vis: &Vis, line: usize, out: &mut Vec<Import>) {
    let named = |path: Vec<String>, alias: String| Import {
        vis: vis.clone(),
        path,
        kind: ImportKind::Named { alias },
        line,
    };
    match tree {
        UseTree::Path(path) => {
            let mut prefix = prefix;
            prefix.push(unraw(&path.ident));
            flatten_use(&path.tree, prefix, vis, line, out);
        }
        UseTree::Name(name) => {
            let ident = unraw(&name.ident);
            if ident == "self" {
                if let Some(last) = prefix.last().cloned() {
                    out.push(named(prefix, last));
                }
                return;
            }
            let mut path = prefix;
            path.push(ident.clone());
            out.push(named(path, ident));
        }
        UseTree::Rename(rename) => {
            let alias = unraw(&rename.rename);
            if alias == "_" {
                return;
            }
            let ident = unraw(&rename.ident);
            let mut path = prefix;
            if ident != "self" {
                path.push(ident);
            }
            out.push(named(path, alias));
        }
        UseTree::Glob(_) => out.push(Import {
            vis: vis.clone(),
            path: prefix,
            kind: ImportKind::Glob,
            line,
        }),
        UseTree::Group(group) => {
            for inner in &group.items {
                flatten_use(inner, prefix.clone(), vis, line, out);
            }
        }
    }
}

fn item_attrs(item: &Item) -> &[Attribute] {
    match item {
        Item::Const(item) => &item.attrs,
        Item::Enum(item) => &item.attrs,
        Item::ExternCrate(item) => &item.attrs,
        Item::Fn(item) => &item.attrs,
        Item::ForeignMod(item) => &item.attrs,
        Item::Impl(item) => &item.attrs,
        Item::Macro(item) => &item.attrs,
        Item::Mod(item) => &item.attrs,
        Item::Static(item) => &item.attrs,
        Item::Struct(item) => &item.attrs,
        Item::Trait(item) => &item.attrs,
        Item::TraitAlias(item) => &item.attrs,
        Item::Type(item) => &item.attrs,
        Item::Union(item) => &item.attrs,
        Item::Use(item) => &item.attrs,
        _ => &[],
    }
}

fn item_name(item: &Item) -> Option<String> {
    let ident = match item {
        Item::Const(item) => &item.ident,
        Item::Enum(item) => &item.ident,
        Item::Fn(item) => &item.sig.ident,
        Item::Mod(item) => &item.ident,
        Item::Static(item) => &item.ident,
        Item::Struct(item) => &item.ident,
        Item::Trait(item) => &item.ident,
        Item::Type(item) => &item.ident,
        Item::Union(item) => &item.ident,
        _ => return None,
    };
    Some(unraw(ident))
}
