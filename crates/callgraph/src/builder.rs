//! Collects symbols, references and roots in any order and freezes them into a [`CallGraph`]
//! whose symbol order depends only on the names, never on insertion order.

use std::collections::HashMap;

use petgraph::graph::{DiGraph, NodeIndex};

use crate::graph::CallGraph;
use crate::methods::{
    DynamicCall, MethodShaking, MethodSlot, SlotId, SlotKey, TrappedSlot, reachable_with_all_slots,
    resolve_slots,
};
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
    /// Method slots whose edges depend on dynamic calls, in insertion order.
    slots: Vec<MethodSlot>,
    dynamic_calls: Vec<(SymbolId, DynamicCall)>,
    /// The function that trapped slots point at.
    trap: Option<SymbolId>,
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

    /// Adds a method slot of `vtable` that holds `function`. Its `VtableSlot` edge exists in the
    /// frozen graph only when a reachable symbol makes a dynamic call that matches `key`
    /// ([`CallGraphBuilder::add_dynamic_call`]). Returns the id under which the frozen graph
    /// reports the slot when it stays dead.
    pub fn add_method_slot(
        &mut self,
        vtable: SymbolId,
        key: SlotKey,
        function: SymbolId,
    ) -> SlotId {
        let id = SlotId(self.slots.len() as u32);
        self.slots.push(MethodSlot {
            vtable,
            key,
            function,
        });
        id
    }

    /// Records that the body of `from` makes `call`.
    pub fn add_dynamic_call(&mut self, from: SymbolId, call: DynamicCall) {
        self.dynamic_calls.push((from, call));
    }

    /// Names the function that trapped slots point at. Every reachable vtable with a trapped
    /// slot gets a `TrappedSlot` edge to it, so it is kept exactly when some slot is trapped.
    pub fn set_trap_symbol(&mut self, trap: SymbolId) {
        self.trap = Some(trap);
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
        for slot in &self.slots {
            check(slot.vtable)?;
            check(slot.function)?;
        }
        for (from, _) in &self.dynamic_calls {
            check(*from)?;
        }
        if let Some(trap) = self.trap {
            check(trap)?;
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

        let slots: Vec<MethodSlot> = self
            .slots
            .iter()
            .map(|slot| MethodSlot {
                vtable: remap(slot.vtable),
                key: slot.key,
                function: remap(slot.function),
            })
            .collect();
        let trap = self.trap.map(remap);
        let method_shaking = if slots.is_empty() && trap.is_none() {
            None
        } else {
            let mut calls: Vec<Vec<DynamicCall>> = vec![Vec::new(); count];
            for (from, call) in &self.dynamic_calls {
                calls[remap(*from).index()].push(*call);
            }
            let (slot_edges, outcome) = shake_methods(count, &edges, &roots, &slots, &calls, trap);
            edges.extend(slot_edges);
            edges.sort();
            edges.dedup();
            Some(outcome)
        };

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
        Ok(CallGraph::from_parts(
            symbols,
            by_name,
            graph,
            roots,
            method_shaking,
        ))
    }
}

/// Runs the slot fixpoint over the unconditional `edges` and returns the edges of the live slots
/// and of the trap, with the trapped slots and the symbols that left because of them.
fn shake_methods(
    count: usize,
    edges: &[(SymbolId, SymbolId, EdgeKind)],
    roots: &[(SymbolId, RootReason)],
    slots: &[MethodSlot],
    calls: &[Vec<DynamicCall>],
    trap: Option<SymbolId>,
) -> (Vec<(SymbolId, SymbolId, EdgeKind)>, MethodShaking) {
    let mut adjacency: Vec<Vec<u32>> = vec![Vec::new(); count];
    for (from, to, _) in edges {
        adjacency[from.index()].push(to.0);
    }
    let root_ids: Vec<u32> = roots.iter().map(|(symbol, _)| symbol.0).collect();
    let resolution = resolve_slots(&adjacency, &root_ids, slots, calls);

    let mut slot_edges = Vec::new();
    let mut trapped = Vec::new();
    for (index, slot) in slots.iter().enumerate() {
        if resolution.live[index] {
            slot_edges.push((slot.vtable, slot.function, EdgeKind::VtableSlot));
            continue;
        }
        if !resolution.reached[slot.vtable.index()] {
            continue;
        }
        trapped.push(TrappedSlot {
            slot: SlotId(index as u32),
            vtable: slot.vtable,
            offset: slot.key.offset,
            function: slot.function,
        });
        if let Some(trap) = trap {
            slot_edges.push((slot.vtable, trap, EdgeKind::TrappedSlot));
        }
    }

    let with_all_slots = reachable_with_all_slots(&adjacency, &root_ids, slots);
    let removed = (0..count)
        .filter(|index| with_all_slots[*index] && !resolution.reached[*index])
        .map(|index| SymbolId(index as u32))
        .collect();
    (
        slot_edges,
        MethodShaking {
            trapped,
            removed,
            trap,
        },
    )
}
