//! The frozen call graph and its two queries: the set of symbols reachable from the roots, and
//! the shortest chain of references that explains why one symbol is kept.

use std::collections::{HashMap, VecDeque};

use petgraph::Direction;
use petgraph::graph::{DiGraph, NodeIndex};
use petgraph::visit::EdgeRef;

use crate::methods::MethodShaking;
use crate::symbol::{EdgeKind, RootReason, Symbol, SymbolId};

/// Immutable call graph with symbols in name order and one synthetic root.
#[derive(Debug, Clone)]
pub struct CallGraph {
    symbols: Vec<Symbol>,
    by_name: HashMap<String, SymbolId>,
    /// Node 0 is the synthetic root and symbol `i` is node `i + 1`.
    graph: DiGraph<(), EdgeKind, u32>,
    roots: Vec<(SymbolId, RootReason)>,
    /// Trapped slots and removed symbols, when the producer added method slots. A graph read
    /// back from a file has none.
    method_shaking: Option<MethodShaking>,
}

/// One link of an explanation: the symbol reached and the kind of edge that reached it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PathStep {
    pub symbol: String,
    pub via: EdgeKind,
}

/// Symbols reachable from the synthetic root.
#[derive(Debug, Clone)]
pub struct Reachability {
    kept: Vec<bool>,
    kept_count: usize,
}

/// Breadth-first tree from the synthetic root: for every reachable symbol, the edge that first
/// reached it, so the path back to the root is a shortest one.
#[derive(Debug, Clone)]
pub struct PathTree {
    /// Indexed by node; `None` for the root and for unreachable nodes.
    parent: Vec<Option<(u32, EdgeKind)>>,
    reached: Vec<bool>,
}

fn node_of(id: SymbolId) -> NodeIndex<u32> {
    NodeIndex::new(id.index() + 1)
}

impl CallGraph {
    pub(crate) fn from_parts(
        symbols: Vec<Symbol>,
        by_name: HashMap<String, SymbolId>,
        graph: DiGraph<(), EdgeKind, u32>,
        roots: Vec<(SymbolId, RootReason)>,
        method_shaking: Option<MethodShaking>,
    ) -> Self {
        CallGraph {
            symbols,
            by_name,
            graph,
            roots,
            method_shaking,
        }
    }

    /// What method-level shaking decided, when the producer added method slots.
    pub fn method_shaking(&self) -> Option<&MethodShaking> {
        self.method_shaking.as_ref()
    }

    /// All symbols, sorted by name; `SymbolId::index` is the position in this slice.
    pub fn symbols(&self) -> &[Symbol] {
        &self.symbols
    }

    /// Symbols with their ids, in name order.
    pub fn iter(&self) -> impl Iterator<Item = (SymbolId, &Symbol)> {
        self.symbols
            .iter()
            .enumerate()
            .map(|(index, symbol)| (SymbolId(index as u32), symbol))
    }

    /// Number of symbols, the synthetic root not included.
    pub fn len(&self) -> usize {
        self.symbols.len()
    }

    /// True when the graph has no symbol.
    pub fn is_empty(&self) -> bool {
        self.symbols.is_empty()
    }

    /// Looks up a symbol by name.
    pub fn symbol_id(&self, name: &str) -> Option<SymbolId> {
        self.by_name.get(name).copied()
    }

    /// Returns the symbol with the given id. Ids come from this graph, so the index is in range.
    pub fn symbol(&self, id: SymbolId) -> &Symbol {
        &self.symbols[id.index()]
    }

    /// Root symbols with their reasons, sorted.
    pub fn roots(&self) -> &[(SymbolId, RootReason)] {
        &self.roots
    }

    /// Symbols that `id` refers to, sorted by target then edge kind.
    pub fn references(&self, id: SymbolId) -> Vec<(SymbolId, EdgeKind)> {
        let mut targets: Vec<(SymbolId, EdgeKind)> = self
            .graph
            .edges_directed(node_of(id), Direction::Outgoing)
            .map(|edge| (SymbolId(edge.target().index() as u32 - 1), *edge.weight()))
            .collect();
        targets.sort();
        targets
    }

    /// Number of reference edges between symbols, root edges not included.
    pub fn edge_count(&self) -> usize {
        self.graph.edge_count() - self.graph.edges(NodeIndex::new(0)).count()
    }

    /// Computes the symbols reachable from the roots: the fixpoint of following every edge.
    pub fn reachable(&self) -> Reachability {
        let tree = self.shortest_paths();
        let kept: Vec<bool> = tree.reached[1..].to_vec();
        let kept_count = kept.iter().filter(|reached| **reached).count();
        Reachability { kept, kept_count }
    }

    /// Runs one breadth-first search from the synthetic root and returns the resulting tree.
    pub fn shortest_paths(&self) -> PathTree {
        let node_count = self.graph.node_count();
        let mut parent: Vec<Option<(u32, EdgeKind)>> = vec![None; node_count];
        let mut reached = vec![false; node_count];
        let mut queue = VecDeque::new();
        reached[0] = true;
        queue.push_back(NodeIndex::<u32>::new(0));

        while let Some(node) = queue.pop_front() {
            // Visit neighbours in a fixed order so the chosen path never depends on the
            // order in which edges were added.
            let mut next: Vec<(usize, EdgeKind)> = self
                .graph
                .edges_directed(node, Direction::Outgoing)
                .map(|edge| (edge.target().index(), *edge.weight()))
                .collect();
            next.sort();
            for (target, kind) in next {
                if reached[target] {
                    continue;
                }
                reached[target] = true;
                parent[target] = Some((node.index() as u32, kind));
                queue.push_back(NodeIndex::new(target));
            }
        }
        PathTree { parent, reached }
    }

    /// Explains why `name` is kept: the shortest chain from a root to it, or `None` when the
    /// symbol is unknown or unreachable.
    pub fn why_kept(&self, name: &str) -> Option<Vec<PathStep>> {
        let id = self.symbol_id(name)?;
        self.shortest_paths().path_to(self, id)
    }
}

impl PathTree {
    /// Returns the chain from a root symbol to `id`, root first, or `None` when `id` is
    /// unreachable. The first step's edge kind carries the root reason.
    pub fn path_to(&self, graph: &CallGraph, id: SymbolId) -> Option<Vec<PathStep>> {
        let mut node = id.index() + 1;
        if !self.reached.get(node).copied().unwrap_or(false) {
            return None;
        }
        let mut steps = Vec::new();
        while let Some((from, kind)) = self.parent[node] {
            steps.push(PathStep {
                symbol: graph.symbols[node - 1].name.clone(),
                via: kind,
            });
            node = from as usize;
        }
        steps.reverse();
        Some(steps)
    }
}

impl Reachability {
    /// True when the symbol is reachable from a root.
    pub fn contains(&self, id: SymbolId) -> bool {
        self.kept.get(id.index()).copied().unwrap_or(false)
    }

    /// Reachable symbols in name order.
    pub fn kept(&self) -> impl Iterator<Item = SymbolId> + '_ {
        self.kept
            .iter()
            .enumerate()
            .filter(|(_, kept)| **kept)
            .map(|(index, _)| SymbolId(index as u32))
    }

    /// Unreachable symbols in name order.
    pub fn removed(&self) -> impl Iterator<Item = SymbolId> + '_ {
        self.kept
            .iter()
            .enumerate()
            .filter(|(_, kept)| !**kept)
            .map(|(index, _)| SymbolId(index as u32))
    }

    /// Number of reachable symbols.
    pub fn kept_count(&self) -> usize {
        self.kept_count
    }

    /// Number of unreachable symbols.
    pub fn removed_count(&self) -> usize {
        self.kept.len() - self.kept_count
    }
}
