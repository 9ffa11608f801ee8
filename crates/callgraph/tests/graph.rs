//! Behaviour of the frozen call graph: reachability through every edge kind, shortest
//! explanations, deterministic order and builder errors.

use portkey_callgraph::{
    CallGraph, CallGraphBuilder, CallGraphError, EdgeKind, RootReason, Symbol, SymbolKind,
};

/// Builds a graph from (name, kind) symbols, (from, to, kind) edges and (root, reason) roots.
fn graph_of(
    symbols: &[(&str, SymbolKind)],
    edges: &[(&str, &str, EdgeKind)],
    roots: &[(&str, RootReason)],
) -> CallGraph {
    let mut builder = CallGraphBuilder::new();
    for (name, kind) in symbols {
        builder
            .add_symbol(Symbol::new(*name, *kind))
            .expect("test symbol names are unique");
    }
    for (from, to, kind) in edges {
        let from = builder
            .symbol_id(from)
            .expect("edge source is a test symbol");
        let to = builder.symbol_id(to).expect("edge target is a test symbol");
        builder.add_edge(from, to, *kind);
    }
    for (name, reason) in roots {
        let id = builder.symbol_id(name).expect("root is a test symbol");
        builder.add_root(id, *reason);
    }
    builder.build().expect("test graph is valid")
}

fn kept_names(graph: &CallGraph) -> Vec<String> {
    graph
        .reachable()
        .kept()
        .map(|id| graph.symbol(id).name.clone())
        .collect()
}

fn removed_names(graph: &CallGraph) -> Vec<String> {
    graph
        .reachable()
        .removed()
        .map(|id| graph.symbol(id).name.clone())
        .collect()
}

use SymbolKind::{Alias, Function, Global};

/// A program with a trait object: `main` builds a vtable whose slot points at `Dog::speak`;
/// `Cat::speak` sits in a vtable nothing uses; `dead_a` and `dead_b` call each other.
fn vtable_program() -> CallGraph {
    graph_of(
        &[
            ("main", Function),
            ("run", Function),
            ("vtable.Dog", Global),
            ("Dog::speak", Function),
            ("vtable.Cat", Global),
            ("Cat::speak", Function),
            ("dead_a", Function),
            ("dead_b", Function),
            ("personality", Function),
            ("speak_alias", Alias),
            ("write", Function),
        ],
        &[
            ("main", "run", EdgeKind::Call),
            ("run", "vtable.Dog", EdgeKind::Reference),
            ("run", "personality", EdgeKind::Personality),
            ("vtable.Dog", "Dog::speak", EdgeKind::ConstantRef),
            ("vtable.Cat", "Cat::speak", EdgeKind::ConstantRef),
            ("Dog::speak", "speak_alias", EdgeKind::Call),
            ("speak_alias", "write", EdgeKind::Alias),
            ("dead_a", "dead_b", EdgeKind::Call),
            ("dead_b", "dead_a", EdgeKind::Call),
        ],
        &[("main", RootReason::Entry)],
    )
}

#[test]
fn reachability_follows_every_edge_kind() {
    let graph = vtable_program();
    assert_eq!(
        kept_names(&graph),
        [
            "Dog::speak",
            "main",
            "personality",
            "run",
            "speak_alias",
            "vtable.Dog",
            "write"
        ]
    );
    assert_eq!(
        removed_names(&graph),
        ["Cat::speak", "dead_a", "dead_b", "vtable.Cat"]
    );
    let reachable = graph.reachable();
    assert_eq!(reachable.kept_count(), 7);
    assert_eq!(reachable.removed_count(), 4);
}

#[test]
fn unreferenced_cycle_is_removed() {
    let graph = vtable_program();
    let reachable = graph.reachable();
    for name in ["dead_a", "dead_b"] {
        let id = graph.symbol_id(name).expect("symbol exists");
        assert!(!reachable.contains(id), "{name} should be unreachable");
    }
}

#[test]
fn why_kept_returns_shortest_chain() {
    let graph = vtable_program();
    let steps = graph.why_kept("write").expect("write is reachable");
    let chain: Vec<(String, EdgeKind)> = steps
        .into_iter()
        .map(|step| (step.symbol, step.via))
        .collect();
    assert_eq!(
        chain,
        vec![
            ("main".to_string(), EdgeKind::Root(RootReason::Entry)),
            ("run".to_string(), EdgeKind::Call),
            ("vtable.Dog".to_string(), EdgeKind::Reference),
            ("Dog::speak".to_string(), EdgeKind::ConstantRef),
            ("speak_alias".to_string(), EdgeKind::Call),
            ("write".to_string(), EdgeKind::Alias),
        ]
    );
}

#[test]
fn why_kept_prefers_shorter_path() {
    let graph = graph_of(
        &[
            ("main", Function),
            ("a", Function),
            ("b", Function),
            ("c", Function),
            ("target", Function),
        ],
        &[
            ("main", "a", EdgeKind::Call),
            ("a", "b", EdgeKind::Call),
            ("b", "c", EdgeKind::Call),
            ("c", "target", EdgeKind::Call),
            ("main", "target", EdgeKind::Reference),
        ],
        &[("main", RootReason::Entry)],
    );
    let steps = graph.why_kept("target").expect("target is reachable");
    let names: Vec<&str> = steps.iter().map(|step| step.symbol.as_str()).collect();
    assert_eq!(names, ["main", "target"]);
    assert_eq!(steps[1].via, EdgeKind::Reference);
}

#[test]
fn why_kept_is_none_for_removed_or_unknown() {
    let graph = vtable_program();
    assert_eq!(graph.why_kept("Cat::speak"), None);
    assert_eq!(graph.why_kept("no_such_symbol"), None);
}

#[test]
fn every_root_reason_keeps_its_symbol() {
    let reasons = [
        RootReason::Entry,
        RootReason::Constructor,
        RootReason::Destructor,
        RootReason::Used,
        RootReason::NativeReference,
        RootReason::Runtime,
    ];
    for reason in reasons {
        let graph = graph_of(
            &[
                ("rooted", Function),
                ("callee", Function),
                ("other", Global),
            ],
            &[("rooted", "callee", EdgeKind::Call)],
            &[("rooted", reason)],
        );
        assert_eq!(kept_names(&graph), ["callee", "rooted"], "reason {reason}");
        let steps = graph.why_kept("rooted").expect("root is reachable");
        assert_eq!(steps.len(), 1);
        assert_eq!(steps[0].via, EdgeKind::Root(reason));
    }
}

#[test]
fn no_roots_keeps_nothing() {
    let graph = graph_of(
        &[("main", Function), ("f", Function)],
        &[("main", "f", EdgeKind::Call)],
        &[],
    );
    assert_eq!(graph.reachable().kept_count(), 0);
    assert_eq!(removed_names(&graph), ["f", "main"]);
}

#[test]
fn symbol_order_ignores_insertion_order() {
    let symbols = [("zeta", Function), ("alpha", Global), ("mid", Function)];
    let edges = [
        ("zeta", "mid", EdgeKind::Call),
        ("mid", "alpha", EdgeKind::Reference),
    ];
    let roots = [("zeta", RootReason::Entry)];
    let forward = graph_of(&symbols, &edges, &roots);
    let mut reversed_symbols = symbols;
    reversed_symbols.reverse();
    let mut reversed_edges = edges;
    reversed_edges.reverse();
    let backward = graph_of(&reversed_symbols, &reversed_edges, &roots);

    let names = |graph: &CallGraph| -> Vec<String> {
        graph.symbols().iter().map(|s| s.name.clone()).collect()
    };
    assert_eq!(names(&forward), ["alpha", "mid", "zeta"]);
    assert_eq!(names(&forward), names(&backward));
    assert_eq!(kept_names(&forward), kept_names(&backward));
}

#[test]
fn duplicate_edges_collapse() {
    let graph = graph_of(
        &[("main", Function), ("f", Function)],
        &[
            ("main", "f", EdgeKind::Call),
            ("main", "f", EdgeKind::Call),
            ("main", "f", EdgeKind::Reference),
        ],
        &[("main", RootReason::Entry)],
    );
    let main = graph.symbol_id("main").expect("main exists");
    let f = graph.symbol_id("f").expect("f exists");
    assert_eq!(
        graph.references(main),
        vec![(f, EdgeKind::Call), (f, EdgeKind::Reference)]
    );
    assert_eq!(graph.edge_count(), 2);
}

#[test]
fn symbol_attributes_survive_freezing() {
    let mut builder = CallGraphBuilder::new();
    let main = builder
        .add_symbol(
            Symbol::new("main", Function)
                .with_size_hint(12)
                .with_module("hello"),
        )
        .expect("unique name");
    let write = builder
        .add_symbol(Symbol::declaration("write", Function))
        .expect("unique name");
    builder.add_edge(main, write, EdgeKind::Call);
    builder.add_root(main, RootReason::Entry);
    let graph = builder.build().expect("valid graph");

    let main = graph.symbol(graph.symbol_id("main").expect("main exists"));
    assert_eq!(main.size_hint, Some(12));
    assert_eq!(main.module.as_deref(), Some("hello"));
    assert!(main.defined);
    let write = graph.symbol(graph.symbol_id("write").expect("write exists"));
    assert!(!write.defined);
    assert_eq!(write.size_hint, None);
}

#[test]
fn duplicate_symbol_is_rejected() {
    let mut builder = CallGraphBuilder::new();
    builder
        .add_symbol(Symbol::new("main", Function))
        .expect("first insertion succeeds");
    let error = builder
        .add_symbol(Symbol::new("main", Global))
        .expect_err("second insertion fails");
    assert_eq!(
        error,
        CallGraphError::DuplicateSymbol {
            name: "main".to_string()
        }
    );
    assert!(error.to_string().contains("`main`"));
}

#[test]
fn foreign_symbol_id_is_rejected() {
    let mut other = CallGraphBuilder::new();
    for name in ["a", "b", "c"] {
        other
            .add_symbol(Symbol::new(name, Function))
            .expect("unique name");
    }
    let foreign = other.symbol_id("c").expect("c exists");

    let mut builder = CallGraphBuilder::new();
    let main = builder
        .add_symbol(Symbol::new("main", Function))
        .expect("unique name");
    builder.add_edge(main, foreign, EdgeKind::Call);
    let error = builder.build().expect_err("edge target is foreign");
    assert_eq!(error, CallGraphError::UnknownSymbolId { id: 2, count: 1 });
}

#[test]
fn shortest_paths_answer_many_queries() {
    let graph = vtable_program();
    let tree = graph.shortest_paths();
    for id in graph.reachable().kept() {
        let steps = tree.path_to(&graph, id).expect("kept symbols have a path");
        assert_eq!(
            steps.last().map(|step| step.symbol.as_str()),
            Some(graph.symbol(id).name.as_str())
        );
        assert!(matches!(steps[0].via, EdgeKind::Root(_)));
    }
    for id in graph.reachable().removed() {
        assert_eq!(tree.path_to(&graph, id), None);
    }
}
