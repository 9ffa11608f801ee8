//! Edges out of Rust vtables get their own kind. Hand-written IR in the two layouts rustc 1.95
//! gives vtables (with drop glue, and with a null drop merged into the header bytes) sits beside
//! constants of similar shape that are not vtables, parsed by the real LLVM.

use std::collections::{BTreeSet, HashMap};

use inkwell::memory_buffer::MemoryBuffer;
use portkey_callgraph::{CallGraph, EdgeKind};
use portkey_shaker::llvm::LlvmSession;
use portkey_shaker::llvm::walk::build_graph;

const IR: &str = r#"
target datalayout = "e-m:e-p270:32:32-p271:32:32-p272:64:64-i64:64-i128:128-f80:128-n8:16:32:64-S128"
target triple = "x86_64-unknown-linux-gnu"

; Drop glue, then size 24 and alignment 8, then two methods.
@with_drop = private unnamed_addr constant <{ ptr, [16 x i8], ptr, ptr }> <{ ptr @_ZN4core3ptr13drop_in_place17h0123456789abcdefE, [16 x i8] c"\18\00\00\00\00\00\00\00\08\00\00\00\00\00\00\00", ptr @method_a, ptr @method_b }>, align 8
; Null drop glue, size 0 and alignment 1 in one array, then one method.
@without_drop = private unnamed_addr constant <{ [24 x i8], ptr }> <{ [24 x i8] c"\00\00\00\00\00\00\00\00\00\00\00\00\00\00\00\00\01\00\00\00\00\00\00\00", ptr @method_c }>, align 8
; Same shape, but the first eight bytes are not a null pointer: a string and a callback.
@not_a_vtable = private unnamed_addr constant <{ [24 x i8], ptr }> <{ [24 x i8] c"abcdefgh\00\00\00\00\00\00\00\00\01\00\00\00\00\00\00\00", ptr @method_d }>, align 8
; Alignment 3 is not a power of two.
@bad_alignment = private unnamed_addr constant <{ [24 x i8], ptr }> <{ [24 x i8] c"\00\00\00\00\00\00\00\00\00\00\00\00\00\00\00\00\03\00\00\00\00\00\00\00", ptr @method_e }>, align 8
; An ordinary table of function pointers.
@table = private unnamed_addr constant [1 x ptr] [ptr @method_f]

define void @_ZN4core3ptr13drop_in_place17h0123456789abcdefE(ptr %0) { ret void }
define void @method_a() { ret void }
define void @method_b() { ret void }
define void @method_c() { ret void }
define void @method_d() { ret void }
define void @method_e() { ret void }
define void @method_f() { ret void }

define i32 @main() {
  call void @use(ptr @with_drop)
  call void @use(ptr @without_drop)
  call void @use(ptr @not_a_vtable)
  call void @use(ptr @bad_alignment)
  call void @use(ptr @table)
  ret i32 0
}
declare void @use(ptr)
"#;

fn edges_from(graph: &CallGraph, name: &str) -> Vec<(String, EdgeKind)> {
    let id = graph.symbol_id(name).expect("symbol in the graph");
    graph
        .references(id)
        .into_iter()
        .map(|(target, kind)| (graph.symbol(target).name.clone(), kind))
        .collect()
}

#[test]
fn vtable_slots_are_told_apart_from_constants() {
    let session = LlvmSession::new();
    let buffer = MemoryBuffer::create_from_memory_range_copy(IR.as_bytes(), "vtables.ll");
    let module = session
        .context()
        .create_module_from_ir(buffer)
        .unwrap_or_else(|error| panic!("test IR parses: {error}"));
    let program =
        build_graph(&module, &HashMap::new(), "main", &BTreeSet::new()).expect("graph builds");
    let graph = &program.graph;

    let slot = |name: &str| (name.to_string(), EdgeKind::VtableSlot);
    let constant = |name: &str| (name.to_string(), EdgeKind::ConstantRef);
    assert_eq!(
        edges_from(graph, "with_drop"),
        [
            slot("_ZN4core3ptr13drop_in_place17h0123456789abcdefE"),
            slot("method_a"),
            slot("method_b"),
        ]
    );
    assert_eq!(edges_from(graph, "without_drop"), [slot("method_c")]);
    assert_eq!(edges_from(graph, "not_a_vtable"), [constant("method_d")]);
    assert_eq!(edges_from(graph, "bad_alignment"), [constant("method_e")]);
    assert_eq!(edges_from(graph, "table"), [constant("method_f")]);
}
