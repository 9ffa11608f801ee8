//! Finding symbols by the names people type, and the verdict with its chain of references.

use portkey_callgraph::{
    CallGraph, CallGraphBuilder, EdgeKind, Fate, MAX_CANDIDATES, RootReason, Symbol, SymbolIndex,
    SymbolKind, SymbolMatch,
};

const FLATTER: &str = "_ZN5hello7flatter17h0123456789abcdefE";
const SHIM_MAIN: &str = "_ZN13hello_flatter4main17h1111111111111111E";
const UNUSED: &str = "_ZN5hello6unused17h2222222222222222E";
const VTABLE: &str = "anon.0123.4";
const SPEAK: &str = "_ZN43_$LT$hello..Dog$u20$as$u20$hello..Speak$GT$5speak17h3333333333333333E";

/// Legacy-mangled `core::ptr::drop_in_place` with a different hash for each `index`.
fn drop_in_place(index: usize) -> String {
    format!("_ZN4core3ptr13drop_in_place17h{index:016x}E")
}

/// `main` calls the shim's main, which calls `hello::flatter` and takes the address of a
/// vtable whose slot holds `<hello::Dog as hello::Speak>::speak`; `hello::unused` is removed.
fn program() -> CallGraph {
    let mut builder = CallGraphBuilder::new();
    let mut add = |symbol: Symbol| builder.add_symbol(symbol).expect("unique test names");
    let main = add(Symbol::new("main", SymbolKind::Function));
    let shim = add(Symbol::new(SHIM_MAIN, SymbolKind::Function));
    let flatter = add(Symbol::new(FLATTER, SymbolKind::Function));
    let unused = add(Symbol::new(UNUSED, SymbolKind::Function));
    let vtable = add(Symbol::new(VTABLE, SymbolKind::Global));
    let speak = add(Symbol::new(SPEAK, SymbolKind::Function));
    let write = add(Symbol::declaration("write", SymbolKind::Function));
    let drops: Vec<_> = (0..12)
        .map(|index| add(Symbol::new(drop_in_place(index), SymbolKind::Function)))
        .collect();
    builder.add_edge(main, shim, EdgeKind::Reference);
    builder.add_edge(shim, flatter, EdgeKind::Call);
    builder.add_edge(shim, vtable, EdgeKind::Reference);
    builder.add_edge(vtable, speak, EdgeKind::VtableSlot);
    builder.add_edge(flatter, write, EdgeKind::Call);
    builder.add_edge(unused, write, EdgeKind::Call);
    for drop in &drops {
        builder.add_edge(flatter, *drop, EdgeKind::Call);
    }
    builder.add_root(main, RootReason::Entry);
    builder.build().expect("valid test graph")
}

fn unique_name(index: &SymbolIndex<'_>, query: &str) -> String {
    match index.resolve(query) {
        SymbolMatch::Unique(id) => index.graph().symbol(id).name.clone(),
        other => panic!("`{query}` should match one symbol, got {other:?}"),
    }
}

#[test]
fn every_spelling_of_a_name_resolves() {
    let graph = program();
    let index = SymbolIndex::new(&graph);
    let cases = [
        (FLATTER, FLATTER),
        ("hello::flatter::h0123456789abcdef", FLATTER),
        ("hello::flatter", FLATTER),
        ("  hello::flatter  ", FLATTER),
        ("unused", UNUSED),
        ("Dog as hello::Speak", SPEAK),
        ("<hello::Dog as hello::Speak>::speak", SPEAK),
        ("write", "write"),
        ("main", "main"),
        (VTABLE, VTABLE),
    ];
    for (query, expected) in cases {
        assert_eq!(unique_name(&index, query), expected, "query {query:?}");
    }
}

#[test]
fn exact_name_wins_over_substrings() {
    let graph = program();
    let index = SymbolIndex::new(&graph);
    // `main` is also part of `hello_flatter::main`, but the exact symbol comes first.
    assert_eq!(unique_name(&index, "main"), "main");
}

#[test]
fn several_matches_are_listed_in_order() {
    let graph = program();
    let index = SymbolIndex::new(&graph);
    let SymbolMatch::Ambiguous { candidates, total } = index.resolve("core::ptr::drop_in_place")
    else {
        panic!("twelve symbols share the demangled name");
    };
    assert_eq!(total, 12);
    assert_eq!(candidates.len(), MAX_CANDIDATES);
    let names: Vec<&str> = candidates.iter().map(|id| index.hashed_name(*id)).collect();
    let mut sorted = names.clone();
    sorted.sort();
    assert_eq!(names, sorted);
    assert_eq!(names[0], "core::ptr::drop_in_place::h0000000000000000");

    let SymbolMatch::Ambiguous { total, .. } = index.resolve("flatter") else {
        panic!("`flatter` is part of two names");
    };
    assert_eq!(total, 2);
}

#[test]
fn unknown_name_suggests_near_matches() {
    let graph = program();
    let index = SymbolIndex::new(&graph);
    let SymbolMatch::NotFound { near } = index.resolve("hello::flattr") else {
        panic!("no symbol is called hello::flattr");
    };
    let near: Vec<&str> = near.iter().map(|id| index.plain_name(*id)).collect();
    assert_eq!(near.first(), Some(&"hello::flatter"), "{near:?}");

    let SymbolMatch::NotFound { near } = index.resolve("hello::unusd::h2222222222222222") else {
        panic!("the hash does not make a typo match");
    };
    let near: Vec<&str> = near.iter().map(|id| index.plain_name(*id)).collect();
    assert_eq!(near.first(), Some(&"hello::unused"), "{near:?}");

    assert_eq!(
        index.resolve("qqqqqqqqqqqq"),
        SymbolMatch::NotFound { near: Vec::new() }
    );
    assert_eq!(
        index.resolve("   "),
        SymbolMatch::NotFound { near: Vec::new() }
    );
}

#[test]
fn near_matches_list_each_name_once() {
    let graph = program();
    let index = SymbolIndex::new(&graph);
    let SymbolMatch::NotFound { near } = index.resolve("core::ptr::drop_in_palce") else {
        panic!("a typo of drop_in_place matches nothing exactly");
    };
    let near: Vec<&str> = near.iter().map(|id| index.plain_name(*id)).collect();
    assert_eq!(near, ["core::ptr::drop_in_place"]);
}

#[test]
fn explain_gives_chain_or_removal() {
    let graph = program();
    let index = SymbolIndex::new(&graph);
    let tree = graph.shortest_paths();

    let Fate::Kept { chain, .. } = index.explain(&tree, "hello::Speak") else {
        panic!("the trait method is kept through its vtable");
    };
    let steps: Vec<(&str, EdgeKind)> = chain
        .iter()
        .map(|step| (step.symbol.as_str(), step.via))
        .collect();
    assert_eq!(
        steps,
        [
            ("main", EdgeKind::Root(RootReason::Entry)),
            (SHIM_MAIN, EdgeKind::Reference),
            (VTABLE, EdgeKind::Reference),
            (SPEAK, EdgeKind::VtableSlot),
        ]
    );

    let unused = graph.symbol_id(UNUSED).expect("in the graph");
    assert_eq!(
        index.explain(&tree, "hello::unused"),
        Fate::Removed { symbol: unused }
    );
    assert!(matches!(
        index.explain(&tree, "flatter"),
        Fate::Ambiguous { total: 2, .. }
    ));
    assert!(matches!(
        index.explain(&tree, "nothing-like-it"),
        Fate::NotFound { .. }
    ));
}

#[test]
fn edge_kinds_have_readable_names() {
    let cases = [
        (
            EdgeKind::Root(RootReason::NativeReference),
            "root (native reference)",
        ),
        (EdgeKind::Call, "call"),
        (EdgeKind::Reference, "reference"),
        (EdgeKind::ConstantRef, "constant reference"),
        (EdgeKind::VtableSlot, "vtable slot"),
        (EdgeKind::Alias, "alias"),
        (EdgeKind::Personality, "personality"),
        (EdgeKind::Resolver, "ifunc resolver"),
    ];
    for (kind, text) in cases {
        assert_eq!(kind.to_string(), text);
    }
}
