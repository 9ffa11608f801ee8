//! Near matches for a path that was not found: every function reachable from outside a crate
//! (through public modules, public re-exports and inherent `impl` blocks of public types),
//! ranked by edit distance to the requested path.

use std::collections::{BTreeSet, HashMap, HashSet, VecDeque};

use crate::resolve::{Def, ModRef, Ns, PathContext, Resolver, type_path_segments};
use crate::tree::ImportKind;
use crate::workspace::PackageIndex;

/// Enumeration stops after this many functions, so a huge crate stays fast to search.
const MAX_FUNCTIONS: usize = 20_000;

/// Paths deeper than this many segments are not enumerated; deeper re-export chains are rare
/// and may be cycles.
const MAX_SEGMENTS: usize = 8;

/// At most this many near matches are reported.
const MAX_MATCHES: usize = 3;

/// Returns up to three public function paths of the package's crate nearest to `requested`.
pub(crate) fn near_matches(
    resolver: &mut Resolver<'_>,
    package: PackageIndex,
    requested: &str,
) -> Vec<String> {
    let candidates = public_functions(resolver, package);
    rank(requested, &candidates)
}

/// Ranks candidates by edit distance, over the whole path or over the last segment (plus one),
/// whichever is smaller, and keeps those close enough to be a plausible typo. A last segment
/// that contains the requested one, or the reverse, scores 2 (`through` finds `through_path`).
pub(crate) fn rank(requested: &str, candidates: &BTreeSet<String>) -> Vec<String> {
    let requested_last = last_segment(requested);
    let threshold = (requested_last.chars().count() / 3).max(2);
    let mut scored: Vec<(usize, &String)> = candidates
        .iter()
        .map(|candidate| {
            let candidate_last = last_segment(candidate);
            let whole = strsim::levenshtein(requested, candidate);
            let last = strsim::levenshtein(requested_last, candidate_last) + 1;
            let contained = requested_last.len() >= 3
                && (candidate_last.contains(requested_last)
                    || requested_last.contains(candidate_last));
            let partial = if contained { 2 } else { usize::MAX };
            (whole.min(last).min(partial), candidate)
        })
        .filter(|(score, _)| *score <= threshold)
        .collect();
    scored.sort();
    scored
        .into_iter()
        .take(MAX_MATCHES)
        .map(|(_, candidate)| candidate.clone())
        .collect()
}

fn last_segment(path: &str) -> &str {
    path.rsplit("::").next().unwrap_or(path)
}

/// A public item of a module, as the enumeration needs it.
enum Entry {
    Function(String),
    Module(String, ModRef),
    Type(String, ModRef, usize),
    Import(String, Vec<String>),
    Glob(Vec<String>),
}

/// Every path by which another crate can call a function of the package's crate.
pub(crate) fn public_functions(
    resolver: &mut Resolver<'_>,
    package: PackageIndex,
) -> BTreeSet<String> {
    let mut found = BTreeSet::new();
    let Some(root) = resolver.crate_root(package) else {
        return found;
    };
    let Some(lib_name) = resolver.workspace.lib_name(package) else {
        return found;
    };
    let mut inherent = InherentIndex::default();
    let mut queue = VecDeque::from([(root, lib_name)]);
    let mut visited = HashSet::new();
    while let Some((module, prefix)) = queue.pop_front() {
        if found.len() >= MAX_FUNCTIONS || prefix.split("::").count() > MAX_SEGMENTS {
            continue;
        }
        if !visited.insert((module, prefix.clone())) {
            continue;
        }
        let Ok(entries) = resolver.with_items(module, |items| public_entries(items, module)) else {
            continue;
        };
        for entry in entries {
            match entry {
                Entry::Function(name) => {
                    found.insert(format!("{prefix}::{name}"));
                }
                Entry::Module(name, child) => queue.push_back((child, format!("{prefix}::{name}"))),
                Entry::Type(name, at, index) => {
                    for function in inherent.functions(resolver, at, index) {
                        found.insert(format!("{prefix}::{name}::{function}"));
                    }
                }
                Entry::Import(alias, path) => {
                    if let Some(Def::Function { at, index }) =
                        resolver.resolve_path(module, &path, Ns::Value, PathContext::Use)
                        && resolver.with_items(at, |items| items.functions[index].vis.is_public())
                            == Ok(true)
                    {
                        found.insert(format!("{prefix}::{alias}"));
                    }
                    match resolver.resolve_path(module, &path, Ns::Type, PathContext::Use) {
                        Some(Def::Module(target)) => {
                            queue.push_back((target, format!("{prefix}::{alias}")))
                        }
                        Some(Def::Type { at, index }) => {
                            for function in inherent.functions(resolver, at, index) {
                                found.insert(format!("{prefix}::{alias}::{function}"));
                            }
                        }
                        _ => {}
                    }
                }
                Entry::Glob(path) => {
                    if let Some(Def::Module(target)) =
                        resolver.resolve_path(module, &path, Ns::Type, PathContext::Use)
                    {
                        queue.push_back((target, prefix.clone()));
                    }
                }
            }
        }
    }
    found
}

fn public_entries(items: &crate::tree::Items, module: ModRef) -> Vec<Entry> {
    let mut entries = Vec::new();
    for function in items
        .functions
        .iter()
        .filter(|function| function.vis.is_public())
    {
        entries.push(Entry::Function(function.name.clone()));
    }
    for child in items.modules.iter().filter(|child| child.vis.is_public()) {
        let target = ModRef {
            package: module.package,
            module: child.id,
        };
        entries.push(Entry::Module(child.name.clone(), target));
    }
    for (index, item) in items
        .types
        .iter()
        .enumerate()
        .filter(|(_, item)| item.vis.is_public())
    {
        entries.push(Entry::Type(item.name.clone(), module, index));
    }
    for import in items.imports.iter().filter(|import| import.vis.is_public()) {
        match &import.kind {
            ImportKind::Named { alias } => {
                entries.push(Entry::Import(alias.clone(), import.path.clone()))
            }
            ImportKind::Glob => entries.push(Entry::Glob(import.path.clone())),
        }
    }
    entries
}

/// The public inherent associated functions of each type, computed once per crate.
#[derive(Default)]
struct InherentIndex {
    by_package: HashMap<PackageIndex, HashMap<(ModRef, usize), Vec<String>>>,
}

impl InherentIndex {
    fn functions(&mut self, resolver: &mut Resolver<'_>, at: ModRef, index: usize) -> Vec<String> {
        let target = resolver.canonical_type(at, index);
        let package = target.0.package;
        let index = self
            .by_package
            .entry(package)
            .or_insert_with(|| build_index(resolver, package));
        index.get(&target).cloned().unwrap_or_default()
    }
}

fn build_index(
    resolver: &mut Resolver<'_>,
    package: PackageIndex,
) -> HashMap<(ModRef, usize), Vec<String>> {
    let mut index: HashMap<(ModRef, usize), Vec<String>> = HashMap::new();
    let Some(tree) = resolver.tree(package) else {
        return index;
    };
    for module in 0..tree.modules.len() {
        let holder = ModRef { package, module };
        let Ok(blocks) = resolver.with_items(holder, |items| {
            items
                .impls
                .iter()
                .filter(|block| block.trait_name.is_none())
                .filter_map(|block| {
                    let path = type_path_segments(&block.self_ty)?;
                    let names: Vec<String> = block
                        .functions
                        .iter()
                        .filter(|function| function.vis.is_public())
                        .map(|function| function.name.clone())
                        .collect();
                    Some((path, names))
                })
                .collect::<Vec<_>>()
        }) else {
            continue;
        };
        for (path, names) in blocks {
            if let Some(Def::Type {
                at,
                index: type_index,
            }) = resolver.resolve_path(holder, &path, Ns::Type, PathContext::Type)
            {
                let key = resolver.canonical_type(at, type_index);
                index.entry(key).or_default().extend(names);
            }
        }
    }
    index
}
