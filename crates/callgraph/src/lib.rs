//! The call-graph IR: symbols of a whole program, the references between them, and the questions
//! the shaker asks of them ("what is kept", "why is this kept"). It names no LLVM type, so the
//! analysis can be tested and reused without a compiler; the shaker fills it from LLVM IR.
//!
//! A [`CallGraphBuilder`] collects symbols, edges and roots in any order and freezes them into a
//! [`CallGraph`] whose symbols are sorted by name. One synthetic root node is linked to every root
//! symbol, so reachability is one traversal and an explanation is one shortest path.

mod builder;
mod graph;
mod symbol;

pub use builder::{CallGraphBuilder, CallGraphError};
pub use graph::{CallGraph, PathStep, PathTree, Reachability};
pub use symbol::{EdgeKind, RootReason, Symbol, SymbolId, SymbolKind};
