//! Collects symbols, references and roots in any order and freezes them into a [`CallGraph`]
//! whose symbol order depends only on the names, never on insertion order.

use std::collections::HashMap;

use petgraph::graph::{DiGraph, NodeIndex};

use crate::graph::CallGraph;
use crate::symbol::{EdgeKind, RootReason, Symbol, SymbolId};

/// Errors raised while assembling a call graph.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum CallGraphError {
    #[error("symbol `{name}` was added twice; give every symbol a unique name before adding it")]
    DuplicateSymbol { name: String },
    #[error(
        "symbol id {id} is not from this builder, which holds {count} symbols; use the id returned by add_symbol"
    )]
    UnknownSymbolId { id: usize, count: usize },
    #[error("the graph holds {count} symbols, more than the supported maximum of {max}")]
    TooManySymbols { count: usize, max: usize },
}

/// Mutable collection of symbols and edges; [`CallGraphBuilder::build`] freezes it.
#[derive(Debug, Default)]
pub struct CallGraphBuilder {
    symbols: Vec<Symbol>,
    by_name: HashMap<String, SymbolId>,
    edges: Vec<(SymbolId, SymbolId, EdgeKind)>,
    roots: Vec<(SymbolId, RootReason)>,
}

impl CallGraphBuilder {
    /// Creates an empty builder.
    pub fn new() -> Self {
        Self::default()
    }

    /// Adds a symbol and returns the id to use in edges and roots.
    pub fn add_symbol(&mut self, symbol: Symbol) -> Result<SymbolId, CallGraphError> {
        if self.by_name.contains_key(&symbol.name) {
            return Err(CallGraphError::DuplicateSymbol { name: symbol.name });
        }
        let max = u32::MAX as usize - 1;
        if self.symbols.len() >= max {
            return Err(CallGraphError::TooManySymbols {
                count: self.symbols.len() + 1,
                max,
            });
        }
        let id = SymbolId(self.symbols.len() as u32);
        self.by_name.insert(symbol.name.clone(), id);
        self.symbols.push(symbol);
        Ok(id)
    }

    /// Looks up the id of a symbol added earlier.
    pub fn symbol_id(&self, name: &str) -> Option<SymbolId> {
        self.by_name.get(name).copied()
    }

    /// Returns the symbol added under `id`.
    pub fn symbol(&self, id: SymbolId) -> Option<&Symbol> {
        self.symbols.get(id.index())
    }

    /// Sets the size hint of a symbol added earlier, for sizes known only after its edges were
    /// read. Unknown ids are ignored, as `build` would reject their edges anyway.
    pub fn set_size_hint(&mut self, id: SymbolId, size: u64) {
        if let Some(symbol) = self.symbols.get_mut(id.index()) {
            symbol.size_hint = Some(size);
        }
    }

    /// Symbols added so far, in insertion order.
    pub fn iter(&self) -> impl Iterator<Item = (SymbolId, &Symbol)> {
        self.symbols
            .iter()
            .enumerate()
            .map(|(index, symbol)| (SymbolId(index as u32), symbol))
    }

    /// Records that `from` refers to `to`. Repeated edges collapse into one when frozen.
    pub fn add_edge(&mut self, from: SymbolId, to: SymbolId, kind: EdgeKind) {
        self.edges.push((from, to, kind));
    }

    /// Marks `symbol` as a root, kept whatever refers to it.
    pub fn add_root(&mut self, symbol: SymbolId, reason: RootReason) {
        self.roots.push((symbol, reason));
    }

    /// Number of symbols added so far.
    pub fn len(&self) -> usize {
        self.symbols.len()
    }

    /// True when no symbol was added.
    pub fn is_empty(&self) -> bool {
        self.symbols.is_empty()
    }

    /// Freezes the graph: symbols sorted by name, duplicate edges removed, one synthetic root
    /// linked to every root symbol.
    pub fn build(self) -> Result<CallGraph, CallGraphError> {
        let count = self.symbols.len();
        let check = |id: SymbolId| {
            if id.index() < count {
                Ok(())
            } else {
                Err(CallGraphError::UnknownSymbolId {
                    id: id.index(),
                    count,
                })
            }
        };
        for (from, to, _) in &self.edges {
            check(*from)?;
            check(*to)?;
        }
        for (symbol, _) in &self.roots {
            check(*symbol)?;
        }

        // Sort by name and remember where each insertion index went.
        let mut order: Vec<usize> = (0..count).collect();
        order.sort_by(|a, b| self.symbols[*a].name.cmp(&self.symbols[*b].name));
        let mut new_index = vec![0u32; count];
        for (sorted_position, old) in order.iter().enumerate() {
            new_index[*old] = sorted_position as u32;
        }
        let mut slots: Vec<Option<Symbol>> = self.symbols.into_iter().map(Some).collect();
        let symbols: Vec<Symbol> = order.iter().filter_map(|old| slots[*old].take()).collect();

        let remap = |id: SymbolId| SymbolId(new_index[id.index()]);
        let mut edges: Vec<(SymbolId, SymbolId, EdgeKind)> = self
            .edges
            .iter()
            .map(|(from, to, kind)| (remap(*from), remap(*to), *kind))
            .collect();
        edges.sort();
        edges.dedup();
        let mut roots: Vec<(SymbolId, RootReason)> = self
            .roots
            .iter()
            .map(|(symbol, reason)| (remap(*symbol), *reason))
            .collect();
        roots.sort();
        roots.dedup();

        // Node 0 is the synthetic root; symbol i is node i + 1.
        let mut graph: DiGraph<(), EdgeKind, u32> =
            DiGraph::with_capacity(count + 1, edges.len() + roots.len());
        graph.add_node(());
        for _ in 0..count {
            graph.add_node(());
        }
        for (symbol, reason) in &roots {
            graph.add_edge(
                NodeIndex::new(0),
                NodeIndex::new(symbol.index() + 1),
                EdgeKind::Root(*reason),
            );
        }
        for (from, to, kind) in &edges {
            graph.add_edge(
                NodeIndex::new(from.index() + 1),
                NodeIndex::new(to.index() + 1),
                *kind,
            );
        }

        let by_name = symbols
            .iter()
            .enumerate()
            .map(|(index, symbol)| (symbol.name.clone(), SymbolId(index as u32)))
            .collect();
        Ok(CallGraph::from_parts(symbols, by_name, graph, roots))
    }
}
