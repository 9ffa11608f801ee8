//! Turns the call graph's verdict for one symbol ([`portkey_callgraph::Fate`]) into the
//! report's serde form, with demangled names and named edges.

use portkey_callgraph::{Fate, PathStep, PathTree, SymbolIndex, names};

use crate::{ChainLink, Explanation, SymbolName, Verdict};

/// Explains whether the symbol `query` names was kept. Machine-code sizes stay empty, because
/// only a caller with the emitted object or the report has them.
pub fn explain(index: &SymbolIndex<'_>, tree: &PathTree, query: &str) -> Explanation {
    let mut explanation = Explanation::new(query, Verdict::NotFound);
    let graph = index.graph();
    let found = match index.explain(tree, query) {
        Fate::Kept { symbol, chain } => {
            explanation.verdict = Verdict::Kept;
            explanation.kept_because = chain_links(&chain);
            symbol
        }
        Fate::Removed { symbol } => {
            explanation.verdict = Verdict::Removed;
            symbol
        }
        Fate::Ambiguous { candidates, total } => {
            explanation.verdict = Verdict::Ambiguous;
            explanation.match_count = total as u64;
            explanation.candidates = candidates
                .into_iter()
                .map(|id| SymbolName {
                    name: index.plain_name(id).to_string(),
                    mangled: graph.symbol(id).name.clone(),
                })
                .collect();
            return explanation;
        }
        Fate::NotFound { near } => {
            explanation.near_matches = near
                .into_iter()
                .map(|id| index.plain_name(id).to_string())
                .collect();
            return explanation;
        }
    };
    let symbol = graph.symbol(found);
    explanation.symbol = Some(symbol.name.clone());
    explanation.name = Some(index.plain_name(found).to_string());
    explanation.declaration_only = !symbol.defined;
    explanation
}

/// Converts a chain of the call graph into report links with demangled names.
pub fn chain_links(chain: &[PathStep]) -> Vec<ChainLink> {
    chain
        .iter()
        .map(|step| ChainLink {
            symbol: names::display_name(&step.symbol),
            mangled: step.symbol.clone(),
            edge: step.via.to_string(),
        })
        .collect()
}
