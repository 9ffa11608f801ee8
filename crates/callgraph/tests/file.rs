//! The call-graph file: a frozen graph survives writing and reading unchanged, and damaged
//! files are rejected with the path, the line and what is wrong.

use std::path::Path;

use portkey_callgraph::file::HEADER;
use portkey_callgraph::{
    CallGraph, CallGraphBuilder, EdgeKind, GraphFileError, RootReason, Symbol, SymbolKind,
    graph_path_beside,
};

/// Builds a graph that uses every symbol kind, edge kind and root reason, modules and declarations,
/// and names that need escaping or share long prefixes.
fn sample() -> CallGraph {
    let mut builder = CallGraphBuilder::new();
    let symbols = [
        Symbol::new("main", SymbolKind::Function).with_module("hello_flatter"),
        Symbol::new(
            "_ZN5hello7flatter17h0123456789abcdefE",
            SymbolKind::Function,
        )
        .with_module("hello"),
        Symbol::new(
            "_ZN5hello7flatter17h0123456789abcdeeE",
            SymbolKind::Function,
        )
        .with_module("hello"),
        Symbol::new("anon.vtable.0", SymbolKind::Global).with_module("hello"),
        Symbol::new("llvm.global_ctors", SymbolKind::Global),
        Symbol::new("llvm.global_dtors", SymbolKind::Global),
        Symbol::new("llvm.used", SymbolKind::Global),
        Symbol::new("init", SymbolKind::Function),
        Symbol::new("fini", SymbolKind::Function),
        Symbol::new("from_c", SymbolKind::Function),
        Symbol::new("memcpy", SymbolKind::Function),
        Symbol::new("alias_of_main", SymbolKind::Alias),
        Symbol::new("resolved", SymbolKind::IFunc),
        Symbol::new("pick_impl", SymbolKind::Function),
        Symbol::new("rust_eh_personality", SymbolKind::Function).with_module("std"),
        Symbol::declaration("write", SymbolKind::Function),
        Symbol::new("with space and \\ and\nnewline\r", SymbolKind::Global),
        Symbol::new("名前::関数", SymbolKind::Function).with_module("module with space"),
        Symbol::new("名前::関係", SymbolKind::Function),
        Symbol::new("unreachable", SymbolKind::Function),
    ];
    for symbol in symbols {
        builder.add_symbol(symbol).expect("unique test names");
    }
    let id = |builder: &CallGraphBuilder, name: &str| builder.symbol_id(name).expect("test name");
    let edges = [
        (
            "main",
            "_ZN5hello7flatter17h0123456789abcdefE",
            EdgeKind::Call,
        ),
        ("main", "anon.vtable.0", EdgeKind::Reference),
        ("main", "rust_eh_personality", EdgeKind::Personality),
        (
            "main",
            "with space and \\ and\nnewline\r",
            EdgeKind::ConstantRef,
        ),
        (
            "anon.vtable.0",
            "_ZN5hello7flatter17h0123456789abcdeeE",
            EdgeKind::VtableSlot,
        ),
        ("anon.vtable.0", "名前::関数", EdgeKind::VtableSlot),
        ("anon.vtable.0", "fini", EdgeKind::TrappedSlot),
        ("alias_of_main", "main", EdgeKind::Alias),
        ("resolved", "pick_impl", EdgeKind::Resolver),
        ("llvm.global_ctors", "init", EdgeKind::ConstantRef),
        ("llvm.global_dtors", "fini", EdgeKind::ConstantRef),
        (
            "_ZN5hello7flatter17h0123456789abcdefE",
            "write",
            EdgeKind::Call,
        ),
        (
            "_ZN5hello7flatter17h0123456789abcdefE",
            "write",
            EdgeKind::Reference,
        ),
        ("unreachable", "main", EdgeKind::Call),
    ];
    for (from, to, kind) in edges {
        let (from, to) = (id(&builder, from), id(&builder, to));
        builder.add_edge(from, to, kind);
    }
    let roots = [
        ("main", RootReason::Entry),
        ("llvm.global_ctors", RootReason::Constructor),
        ("llvm.global_dtors", RootReason::Destructor),
        ("llvm.used", RootReason::Used),
        ("from_c", RootReason::NativeReference),
        ("memcpy", RootReason::Runtime),
    ];
    for (name, reason) in roots {
        let symbol = id(&builder, name);
        builder.add_root(symbol, reason);
    }
    builder.build().expect("valid test graph")
}

fn to_text(graph: &CallGraph) -> String {
    let mut bytes = Vec::new();
    graph
        .write_to(&mut bytes)
        .expect("writing to memory succeeds");
    String::from_utf8(bytes).expect("the file is UTF-8")
}

fn from_text(text: &str) -> Result<CallGraph, GraphFileError> {
    CallGraph::read_from(text.as_bytes(), Path::new("test.callgraph"))
}

/// Everything a graph holds, in a comparable form.
#[derive(Debug, PartialEq)]
struct Contents {
    symbols: Vec<Symbol>,
    /// Per symbol: the names it refers to and how.
    references: Vec<Vec<(String, EdgeKind)>>,
    roots: Vec<(String, RootReason)>,
}

fn contents(graph: &CallGraph) -> Contents {
    let symbols = graph
        .symbols()
        .iter()
        .map(|symbol| Symbol {
            // Size hints are not stored in the file.
            size_hint: None,
            ..symbol.clone()
        })
        .collect();
    let references = graph
        .iter()
        .map(|(id, _)| {
            graph
                .references(id)
                .into_iter()
                .map(|(target, kind)| (graph.symbol(target).name.clone(), kind))
                .collect()
        })
        .collect();
    let roots = graph
        .roots()
        .iter()
        .map(|(id, reason)| (graph.symbol(*id).name.clone(), *reason))
        .collect();
    Contents {
        symbols,
        references,
        roots,
    }
}

#[test]
fn graph_round_trips_through_text() {
    let graph = sample();
    let text = to_text(&graph);
    let back = from_text(&text).unwrap_or_else(|error| panic!("{error}\n{text}"));
    assert_eq!(contents(&back), contents(&graph));
    assert_eq!(back.edge_count(), graph.edge_count());
    let kept = |graph: &CallGraph| graph.reachable().kept().collect::<Vec<_>>();
    assert_eq!(kept(&back), kept(&graph));
    assert_eq!(to_text(&back), text, "writing is deterministic");
}

#[test]
fn text_starts_with_header_and_front_codes_names() {
    let text = to_text(&sample());
    assert_eq!(text.lines().next(), Some(HEADER));
    // `..abcdefE` follows `..abcdeeE` in name order and shares all but its last two bytes.
    let shared = "_ZN5hello7flatter17h0123456789abcde".len();
    assert!(
        text.lines()
            .any(|line| line.starts_with("S f+ ") && line.contains(&format!(" {shared} "))),
        "{text}"
    );
    assert!(
        text.contains("with space and \\\\ and\\nnewline\\r"),
        "{text}"
    );
    assert!(!text.contains("\r"), "carriage returns are escaped");
}

#[test]
fn save_and_load_use_the_file_system() {
    let dir = tempfile::tempdir().expect("temp dir");
    let path = dir.path().join("reports").join("hello.callgraph");
    let graph = sample();
    graph.save(&path).expect("graph saved");
    let back = CallGraph::load(&path).expect("graph loads");
    assert_eq!(contents(&back), contents(&graph));
    let names: Vec<String> = std::fs::read_dir(path.parent().expect("folder"))
        .expect("list folder")
        .map(|entry| {
            entry
                .expect("entry")
                .file_name()
                .to_string_lossy()
                .into_owned()
        })
        .collect();
    assert_eq!(names, ["hello.callgraph"], "no temporary file is left");
}

#[test]
fn graph_path_sits_beside_report() {
    assert_eq!(
        graph_path_beside(Path::new("/t/reports/x86_64/hello-flatter.json")),
        Path::new("/t/reports/x86_64/hello-flatter.callgraph")
    );
}

#[test]
fn missing_file_names_the_path() {
    let error = CallGraph::load(Path::new("/nonexistent/portkey.callgraph")).expect_err("missing");
    assert!(matches!(error, GraphFileError::Read { .. }), "{error}");
    assert!(
        error.to_string().contains("/nonexistent/portkey.callgraph"),
        "{error}"
    );
}

#[test]
fn wrong_header_is_rejected() {
    for text in ["", "portkey-callgraph 0\n", "{\"json\": true}\n"] {
        let error = from_text(text).expect_err("not a graph file");
        assert!(
            matches!(error, GraphFileError::Header { .. }),
            "{text:?}: {error}"
        );
        assert!(error.to_string().contains("test.callgraph"), "{error}");
        assert!(error.to_string().contains("build again"), "{error}");
    }
}

#[test]
fn damaged_records_name_the_line() {
    let header = format!("{HEADER}\n");
    let cases = [
        ("S f+ - 0 main\nX 1\n", 3, "unknown record type"),
        ("S q+ - 0 main\n", 2, "unknown symbol kind"),
        ("S f - 0 main\n", 2, "lack `+` or `-`"),
        ("S f+ - 9 main\n", 2, "does not fit the previous name"),
        ("S f+ 0 0 main\n", 2, "module index 0 is out of range"),
        ("S f+ - x main\n", 2, "not a number"),
        ("S f+ - 0\n", 2, "without a name"),
        ("S f+ - 0 a\\q\n", 2, "invalid escape"),
        ("S f+ - 0 main\nE 0 c1\n", 3, "out of range"),
        ("S f+ - 0 main\nE 0 z0\n", 3, "unknown edge"),
        ("S f+ - 0 main\nE 0 c\n", 3, "no numeric target"),
        (
            "S f+ - 0 a\nS f+ - 0 b\nE 0 c1 c18446744073709551615\n",
            4,
            "overflows",
        ),
        ("S f+ - 0 main\nR 0 everything\n", 3, "unknown root reason"),
        ("S f+ - 0 main\nR 4 entry\n", 3, "out of range"),
        ("S f+ - 0 main\nS f+ - 4 \n", 3, "added twice"),
        ("S f+ - 0 main\nE\n", 3, "has no fields"),
    ];
    for (body, line, message) in cases {
        let text = format!("{header}{body}");
        let error = from_text(&text).expect_err("damaged file");
        let GraphFileError::Syntax { line: reported, .. } = &error else {
            panic!("{body:?}: expected a syntax error, got {error}");
        };
        assert_eq!(*reported, line, "{body:?}: {error}");
        assert!(error.to_string().contains(message), "{body:?}: {error}");
    }
}

#[test]
fn non_utf8_line_is_rejected() {
    let mut bytes = format!("{HEADER}\nS f+ - 0 ").into_bytes();
    bytes.extend([0xff, 0xfe, b'\n']);
    let error = CallGraph::read_from(&bytes[..], Path::new("x")).expect_err("invalid UTF-8");
    assert!(error.to_string().contains("not valid UTF-8"), "{error}");
}
