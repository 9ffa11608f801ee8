//! The call-graph IR: symbols of a whole program, the references between them, and the questions
//! the shaker asks of them ("what is kept", "why is this kept"). It names no LLVM type, so the
//! analysis can be tested and reused without a compiler; the shaker fills it from LLVM IR.
//!
//! A [`CallGraphBuilder`] collects symbols, edges and roots in any order and freezes them into a
//! [`CallGraph`] whose symbols are sorted by name. One synthetic root node is linked to every root
//! symbol, so reachability is one traversal and an explanation is one shortest path. The
//! [`file`] module stores a frozen graph as text, and a [`SymbolIndex`] finds symbols by the
//! names people type. Method slots of vtables can be added as conditional edges, which the
//! frozen graph contains only when a reachable dynamic call can use them ([`SlotKey`]).

mod builder;
pub mod file;
mod graph;
mod methods;
pub mod names;
mod resolve;
mod symbol;

pub use builder::{CallGraphBuilder, CallGraphError};
pub use file::{GraphFileError, graph_path_beside};
pub use graph::{CallGraph, PathStep, PathTree, Reachability};
pub use methods::{DynamicCall, MethodShaking, MethodSlot, SlotId, SlotKey, TrappedSlot};
pub use resolve::{Fate, MAX_CANDIDATES, MAX_NEAR_MATCHES, SymbolIndex, SymbolMatch};
pub use symbol::{EdgeKind, RootReason, Symbol, SymbolId, SymbolKind};
