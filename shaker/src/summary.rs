//! Builds the [`ShakeReport`] from the call graph and the emitted object: kept and removed
//! counts, machine-code size per kept function, bytes per crate and the largest functions with
//! the chain of references that kept each one.

use std::collections::{BTreeMap, HashMap};

use object::{Object, ObjectSymbol, SymbolKind as ObjectSymbolKind};
use portkey_callgraph::{CallGraph, PathTree, Reachability, SymbolIndex, SymbolKind};
use portkey_report::{
    CrateBytes, Explanation, FunctionEntry, InputSummary, KeptRemoved, NON_RUST_BUCKET,
    PhaseTimings, ShakeReport, Verdict, chain_links,
};

use crate::llvm::strip::StripCounts;
use portkey_report::SizeMode;

/// Number of functions listed in `largest_functions`.
const MAX_LARGEST_FUNCTIONS: usize = 50;

/// A sized symbol of the emitted object.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ObjectSymbolSize {
    pub name: String,
    pub size: u64,
    pub is_function: bool,
}

/// Reads the defined, sized code and data symbols of an object file, local ones included.
pub fn object_symbols(object: &[u8]) -> Result<Vec<ObjectSymbolSize>, String> {
    let file = object::File::parse(object).map_err(|error| error.to_string())?;
    let mut symbols = Vec::new();
    for symbol in file.symbols() {
        if symbol.is_undefined() || symbol.size() == 0 {
            continue;
        }
        let is_function = match symbol.kind() {
            ObjectSymbolKind::Text => true,
            ObjectSymbolKind::Data | ObjectSymbolKind::Tls => false,
            _ => continue,
        };
        let Ok(name) = symbol.name() else { continue };
        symbols.push(ObjectSymbolSize {
            name: name.to_string(),
            size: symbol.size(),
            is_function,
        });
    }
    Ok(symbols)
}

pub use portkey_callgraph::names::{crate_of_path, demangle};

/// Values measured by the shaker that the report needs besides the graph.
pub struct ReportInputs<'a> {
    pub target_triple: String,
    pub entry: String,
    pub inputs: InputSummary,
    pub counts: StripCounts,
    pub graph: &'a CallGraph,
    pub reachable: &'a Reachability,
    pub object_symbols: &'a [ObjectSymbolSize],
    pub object_bytes: u64,
    pub binary_bytes: u64,
    pub timings: PhaseTimings,
    /// Symbols to explain: mangled, demangled with or without the hash, or part of a name.
    pub explain: &'a [String],
}

/// Assembles the report.
pub fn build_report(inputs: ReportInputs<'_>) -> ShakeReport {
    let graph = inputs.graph;
    let sizes: HashMap<&str, u64> = inputs
        .object_symbols
        .iter()
        .filter(|symbol| symbol.is_function)
        .map(|symbol| (symbol.name.as_str(), symbol.size))
        .collect();
    let defining_crate = |name: &str| -> Option<String> {
        graph
            .symbol_id(name)
            .and_then(|id| graph.symbol(id).module.clone())
    };

    let mut kept_functions: Vec<FunctionEntry> = inputs
        .reachable
        .kept()
        .map(|id| graph.symbol(id))
        .filter(|symbol| symbol.kind == SymbolKind::Function && symbol.defined)
        .map(|symbol| {
            let demangled = demangle(&symbol.name);
            FunctionEntry {
                crate_name: demangled
                    .as_deref()
                    .and_then(crate_of_path)
                    .or_else(|| symbol.module.clone()),
                name: demangled.unwrap_or_else(|| symbol.name.clone()),
                mangled: symbol.name.clone(),
                size_bytes: sizes.get(symbol.name.as_str()).copied(),
                ir_hash: None,
                kept_because: Vec::new(),
            }
        })
        .collect();
    kept_functions.sort_by(|a, b| a.mangled.cmp(&b.mangled));

    let mut by_crate: BTreeMap<String, (u64, u64)> = BTreeMap::new();
    for symbol in inputs.object_symbols {
        let crate_name = demangle(&symbol.name)
            .as_deref()
            .and_then(crate_of_path)
            .or_else(|| defining_crate(&symbol.name))
            .unwrap_or_else(|| NON_RUST_BUCKET.to_string());
        let entry = by_crate.entry(crate_name).or_default();
        entry.0 += symbol.size;
        entry.1 += 1;
    }
    let mut bytes_by_crate: Vec<CrateBytes> = by_crate
        .into_iter()
        .map(|(crate_name, (bytes, symbols))| CrateBytes {
            crate_name,
            bytes,
            symbols,
        })
        .collect();
    bytes_by_crate.sort_by(|a, b| {
        b.bytes
            .cmp(&a.bytes)
            .then_with(|| a.crate_name.cmp(&b.crate_name))
    });

    let tree = graph.shortest_paths();
    let largest_functions = largest_functions(graph, &tree, inputs.object_symbols, &defining_crate);
    let explanations = if inputs.explain.is_empty() {
        Vec::new()
    } else {
        let index = SymbolIndex::new(graph);
        inputs
            .explain
            .iter()
            .map(|query| {
                let mut explanation = portkey_report::explain(&index, &tree, query);
                add_machine_code_size(&mut explanation, graph, &sizes);
                explanation
            })
            .collect()
    };

    ShakeReport {
        target_triple: inputs.target_triple,
        entry: inputs.entry,
        inputs: inputs.inputs,
        functions: KeptRemoved {
            kept: inputs.counts.functions_kept,
            removed: inputs.counts.functions_removed,
        },
        globals: KeptRemoved {
            kept: inputs.counts.globals_kept,
            removed: inputs.counts.globals_removed,
        },
        kept_functions,
        largest_functions,
        bytes_by_crate,
        object_bytes: inputs.object_bytes,
        codegen_parts: 0,
        binary_bytes: inputs.binary_bytes,
        zip_bytes: None,
        timings_ms: inputs.timings,
        cache_hit: false,
        explanations,
        size_mode: SizeMode::default(),
        replaced: Vec::new(),
        warnings: Vec::new(),
        fingerprint: String::new(),
        method_shaking: None,
        executor: None,
        layout: None,
        linker_stamp: String::new(),
    }
}

/// Demangled names (without the hash) of the functions that method shaking removed, sorted and
/// without repeats. Empty when the graph has no method slots.
pub fn removed_by_method_shaking(graph: &CallGraph) -> Vec<String> {
    let Some(shaking) = graph.method_shaking() else {
        return Vec::new();
    };
    let mut names: Vec<String> = shaking
        .removed
        .iter()
        .map(|id| graph.symbol(*id))
        .filter(|symbol| symbol.kind == SymbolKind::Function && symbol.defined)
        .map(|symbol| demangle(&symbol.name).unwrap_or_else(|| symbol.name.clone()))
        .collect();
    names.sort();
    names.dedup();
    names
}

/// Records the machine-code size of an explained function that was kept, or that the
/// optimiser inlined it when the emitted object has no symbol of that name.
pub fn add_machine_code_size(
    explanation: &mut Explanation,
    graph: &CallGraph,
    sizes: &HashMap<&str, u64>,
) {
    if explanation.verdict != Verdict::Kept {
        return;
    }
    let Some(name) = explanation.symbol.as_deref() else {
        return;
    };
    let is_defined_function = graph
        .symbol_id(name)
        .map(|id| graph.symbol(id))
        .is_some_and(|symbol| symbol.kind == SymbolKind::Function && symbol.defined);
    if !is_defined_function {
        return;
    }
    match sizes.get(name) {
        Some(size) => explanation.size_bytes = Some(*size),
        None => explanation.inlined = true,
    }
}

fn largest_functions(
    graph: &CallGraph,
    tree: &PathTree,
    object_symbols: &[ObjectSymbolSize],
    defining_crate: &dyn Fn(&str) -> Option<String>,
) -> Vec<FunctionEntry> {
    let mut functions: Vec<&ObjectSymbolSize> =
        object_symbols.iter().filter(|s| s.is_function).collect();
    functions.sort_by(|a, b| b.size.cmp(&a.size).then_with(|| a.name.cmp(&b.name)));
    functions.truncate(MAX_LARGEST_FUNCTIONS);

    functions
        .into_iter()
        .map(|symbol| {
            let demangled = demangle(&symbol.name);
            let kept_because = graph
                .symbol_id(&symbol.name)
                .and_then(|id| tree.path_to(graph, id))
                .map(|chain| chain_links(&chain))
                .unwrap_or_default();
            FunctionEntry {
                crate_name: demangled
                    .as_deref()
                    .and_then(crate_of_path)
                    .or_else(|| defining_crate(&symbol.name)),
                name: demangled.unwrap_or_else(|| symbol.name.clone()),
                mangled: symbol.name.clone(),
                size_bytes: Some(symbol.size),
                ir_hash: None,
                kept_because,
            }
        })
        .collect()
}
