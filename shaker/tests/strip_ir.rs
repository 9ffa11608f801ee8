//! Reachability, deletion and internalisation on hand-written LLVM IR, parsed by the real LLVM:
//! vtables, dead cycles, aliases, personality routines and `llvm.used` in one small module.

use std::collections::{BTreeSet, HashMap};

use inkwell::memory_buffer::MemoryBuffer;
use inkwell::module::{Linkage, Module};
use portkey_callgraph::EdgeKind;
use portkey_shaker::args::ExecutableKind;
use portkey_shaker::llvm::LlvmSession;
use portkey_shaker::llvm::emit::{CodegenSettings, emit_object, optimise, target_machine};
use portkey_shaker::llvm::strip::{delete_unreachable, internalize, verify};
use portkey_shaker::llvm::walk::build_graph;

const IR: &str = r#"
target datalayout = "e-m:e-p270:32:32-p271:32:32-p272:64:64-i64:64-i128:128-f80:128-n8:16:32:64-S128"
target triple = "x86_64-unknown-linux-gnu"

@vtable_live = internal constant [2 x ptr] [ptr @live_method, ptr @shared]
@vtable_dead = internal constant [1 x ptr] [ptr @dead_method]
@counter = internal global i32 0
@dead_pointer = global ptr @dead_target
@alias_dead = internal alias void (), ptr @dead_target
@alias_live = alias void (), ptr @live_target
@llvm.used = appending global [1 x ptr] [ptr @kept_by_used], section "llvm.metadata"

define void @live_method() { ret void }
define void @shared() { ret void }
define void @dead_method() {
  call void @shared()
  ret void
}
define void @dead_target() { ret void }
define void @live_target() { ret void }
define void @kept_by_used() { ret void }
define void @called_from_native() { ret void }
define void @dead_a() {
  call void @dead_b()
  ret void
}
define void @dead_b() {
  call void @dead_a()
  ret void
}
define i32 @pers(...) { ret i32 0 }
declare void @unused_declaration()

define i32 @main() personality ptr @pers {
  %slot = getelementptr [2 x ptr], ptr @vtable_live, i64 0, i64 1
  %method = load ptr, ptr %slot
  call void %method()
  call void @alias_live()
  store i32 1, ptr @counter
  ret i32 0
}
"#;

fn parse<'ctx>(session: &'ctx LlvmSession) -> Module<'ctx> {
    let buffer = MemoryBuffer::create_from_memory_range_copy(IR.as_bytes(), "test.ll");
    session
        .context()
        .create_module_from_ir(buffer)
        .unwrap_or_else(|error| panic!("test IR parses: {error}"))
}

fn names(module: &Module<'_>) -> BTreeSet<String> {
    let mut all = BTreeSet::new();
    for function in module.get_functions() {
        all.insert(function.get_name().to_string_lossy().into_owned());
    }
    for global in module.get_globals() {
        all.insert(global.get_name().to_string_lossy().into_owned());
    }
    all
}

fn native_references() -> BTreeSet<String> {
    BTreeSet::from([
        "called_from_native".to_string(),
        "not_in_bitcode".to_string(),
    ])
}

#[test]
fn unreachable_symbols_are_deleted() {
    let session = LlvmSession::new();
    let module = parse(&session);
    let program =
        build_graph(&module, &HashMap::new(), "main", &native_references()).expect("graph builds");
    let reachable = program.graph.reachable();
    let counts = delete_unreachable(&program, &reachable);
    internalize(&program, &reachable);
    verify(&module).unwrap_or_else(|error| panic!("module stays valid: {error}"));

    let remaining = names(&module);
    for kept in [
        "main",
        "live_method",
        "shared",
        "live_target",
        "kept_by_used",
        "called_from_native",
        "pers",
        "vtable_live",
        "counter",
        "llvm.used",
    ] {
        assert!(
            remaining.contains(kept),
            "{kept} was deleted: {remaining:?}"
        );
    }
    for deleted in [
        "dead_method",
        "dead_target",
        "dead_a",
        "dead_b",
        "vtable_dead",
        "dead_pointer",
        "unused_declaration",
    ] {
        assert!(
            !remaining.contains(deleted),
            "{deleted} survived: {remaining:?}"
        );
    }
    // Functions: main, live_method, shared, live_target, kept_by_used, called_from_native, pers.
    assert_eq!(counts.functions_kept, 7);
    assert_eq!(counts.functions_removed, 4);
    // Globals: vtable_live, counter, llvm.used, alias_live kept; vtable_dead, dead_pointer,
    // alias_dead removed.
    assert_eq!(counts.globals_kept, 4);
    assert_eq!(counts.globals_removed, 3);
}

#[test]
fn edges_name_how_symbols_are_reached() {
    let session = LlvmSession::new();
    let module = parse(&session);
    let program =
        build_graph(&module, &HashMap::new(), "main", &native_references()).expect("graph builds");
    let graph = &program.graph;
    let via = |name: &str| -> Vec<EdgeKind> {
        graph
            .why_kept(name)
            .unwrap_or_else(|| panic!("{name} is reachable"))
            .into_iter()
            .map(|step| step.via)
            .collect()
    };
    use portkey_callgraph::RootReason;
    assert_eq!(
        via("shared"),
        [
            EdgeKind::Root(RootReason::Entry),
            EdgeKind::Reference,
            EdgeKind::ConstantRef
        ]
    );
    assert_eq!(
        via("live_target"),
        [
            EdgeKind::Root(RootReason::Entry),
            EdgeKind::Call,
            EdgeKind::Alias
        ]
    );
    assert_eq!(
        via("pers"),
        [EdgeKind::Root(RootReason::Entry), EdgeKind::Personality]
    );
    assert_eq!(
        via("kept_by_used"),
        [EdgeKind::Root(RootReason::Used), EdgeKind::ConstantRef]
    );
    assert_eq!(
        via("called_from_native"),
        [EdgeKind::Root(RootReason::NativeReference)]
    );
    assert_eq!(graph.why_kept("dead_a"), None);
}

#[test]
fn kept_symbols_become_internal_except_roots() {
    let session = LlvmSession::new();
    let module = parse(&session);
    let program =
        build_graph(&module, &HashMap::new(), "main", &native_references()).expect("graph builds");
    let reachable = program.graph.reachable();
    delete_unreachable(&program, &reachable);
    internalize(&program, &reachable);

    let linkage = |name: &str| {
        module
            .get_function(name)
            .unwrap_or_else(|| panic!("{name} exists"))
            .get_linkage()
    };
    assert_eq!(linkage("main"), Linkage::External);
    assert_eq!(linkage("called_from_native"), Linkage::External);
    assert_eq!(linkage("live_method"), Linkage::Internal);
    assert_eq!(linkage("kept_by_used"), Linkage::Internal);
}

#[test]
fn shaken_module_compiles_to_an_object() {
    let session = LlvmSession::new();
    let module = parse(&session);
    let program =
        build_graph(&module, &HashMap::new(), "main", &native_references()).expect("graph builds");
    let reachable = program.graph.reachable();
    delete_unreachable(&program, &reachable);
    internalize(&program, &reachable);
    let settings = CodegenSettings {
        cpu: None,
        executable: ExecutableKind::PositionIndependent,
    };
    let machine = target_machine(&module, &settings).expect("x86_64 target machine");
    optimise(&session, &module, &machine).expect("pipeline runs");
    let object = emit_object(&session, &module, &machine).expect("object emitted");

    use object::{Object, ObjectSymbol};
    let file = object::File::parse(&*object).expect("valid ELF object");
    let defined: BTreeSet<String> = file
        .symbols()
        .filter(|symbol| !symbol.is_undefined())
        .filter_map(|symbol| symbol.name().ok().map(str::to_string))
        .collect();
    assert!(defined.contains("main"), "{defined:?}");
    assert!(defined.contains("called_from_native"), "{defined:?}");
    assert!(!defined.contains("dead_target"), "{defined:?}");
    assert!(!defined.contains("alias_dead"), "{defined:?}");
}

#[test]
fn missing_entry_is_an_error() {
    let session = LlvmSession::new();
    let module = parse(&session);
    let error = build_graph(&module, &HashMap::new(), "start", &BTreeSet::new())
        .err()
        .expect("no `start` in the module");
    assert!(error.to_string().contains("`start`"), "{error}");
}
