//! Explanations computed after the build from the call graph `portkey-ld` stores beside its
//! report. They reflect the current request even when cargo did not relink, unlike the
//! linker's own `PORTKEY_LD_EXPLAIN`, which only runs when cargo calls the linker.

use std::path::Path;

use portkey_callgraph::{CallGraph, PathTree, SymbolIndex};
use portkey_report::{Explanation, ShakeReport, Verdict};

use crate::BuildError;

/// Loads the call graph written by `portkey-ld`.
pub fn load_graph(path: &Path) -> Result<CallGraph, BuildError> {
    CallGraph::load(path).map_err(BuildError::Graph)
}

/// A call graph prepared for many questions: demangled names and the shortest-path tree.
pub struct Explainer<'g> {
    index: SymbolIndex<'g>,
    tree: PathTree,
}

impl<'g> Explainer<'g> {
    /// Demangles every symbol and computes the shortest paths from the roots once.
    pub fn new(graph: &'g CallGraph) -> Self {
        Explainer {
            index: SymbolIndex::new(graph),
            tree: graph.shortest_paths(),
        }
    }

    /// Explains whether `query` was kept, with the machine-code size the report records for a
    /// kept function.
    pub fn explain(&self, report: &ShakeReport, query: &str) -> Explanation {
        let mut explanation = portkey_report::explain(&self.index, &self.tree, query);
        if explanation.verdict != Verdict::Kept {
            return explanation;
        }
        let function = explanation
            .symbol
            .as_deref()
            .and_then(|mangled| report.kept_function(mangled));
        if let Some(function) = function {
            match function.size_bytes {
                Some(size) => explanation.size_bytes = Some(size),
                None => explanation.inlined = true,
            }
        }
        explanation
    }
}

#[cfg(test)]
mod tests {
    use portkey_callgraph::{CallGraphBuilder, EdgeKind, RootReason, Symbol, SymbolKind};
    use portkey_report::{FunctionEntry, ShakeReport};

    use super::*;

    const SIZED: &str = "_ZN4demo5sized17h0000000000000001E";
    const INLINED: &str = "_ZN4demo7inlined17h0000000000000002E";
    const REMOVED: &str = "_ZN4demo7removed17h0000000000000003E";

    fn graph() -> CallGraph {
        let mut builder = CallGraphBuilder::new();
        let mut add = |name: &str| {
            builder
                .add_symbol(Symbol::new(name, SymbolKind::Function))
                .expect("unique test names")
        };
        let main = add("main");
        let sized = add(SIZED);
        let inlined = add(INLINED);
        add(REMOVED);
        builder.add_edge(main, sized, EdgeKind::Call);
        builder.add_edge(sized, inlined, EdgeKind::Call);
        builder.add_root(main, RootReason::Entry);
        builder.build().expect("valid test graph")
    }

    fn entry(mangled: &str, size_bytes: Option<u64>) -> FunctionEntry {
        FunctionEntry {
            name: portkey_callgraph::names::display_name(mangled),
            mangled: mangled.to_string(),
            crate_name: Some("demo".to_string()),
            size_bytes,
            ir_hash: None,
            kept_because: Vec::new(),
        }
    }

    fn report() -> ShakeReport {
        let json = serde_json::json!({
            "target_triple": "x86_64-unknown-linux-musl",
            "entry": "main",
            "inputs": { "bitcode_modules": 1, "bitcode_bytes": 1, "native_inputs": 0 },
            "functions": { "kept": 3, "removed": 1 },
            "globals": { "kept": 0, "removed": 0 },
            "kept_functions": [],
            "largest_functions": [],
            "bytes_by_crate": [],
            "object_bytes": 1,
            "binary_bytes": 1,
            "zip_bytes": null,
            "timings_ms": { "gather": 0, "graph": 0, "strip": 0, "optimise": 0, "codegen": 0, "link": 0 }
        });
        let mut report: ShakeReport = serde_json::from_value(json).expect("valid report");
        report.kept_functions = vec![entry(SIZED, Some(96)), entry(INLINED, None)];
        report
    }

    #[test]
    fn kept_functions_get_their_machine_code_size() {
        let graph = graph();
        let explainer = Explainer::new(&graph);
        let report = report();

        let sized = explainer.explain(&report, "demo::sized");
        assert_eq!(sized.verdict, Verdict::Kept);
        assert_eq!(sized.size_bytes, Some(96));
        assert!(!sized.inlined);
        let chain: Vec<&str> = sized
            .kept_because
            .iter()
            .map(|link| link.symbol.as_str())
            .collect();
        assert_eq!(chain, ["main", "demo::sized"]);

        let inlined = explainer.explain(&report, "demo::inlined");
        assert_eq!(inlined.size_bytes, None);
        assert!(inlined.inlined);

        let removed = explainer.explain(&report, "demo::removed");
        assert_eq!(removed.verdict, Verdict::Removed);
        assert_eq!(removed.size_bytes, None);
        assert!(!removed.inlined);
    }
}
