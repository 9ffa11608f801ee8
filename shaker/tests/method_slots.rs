//! Method-level shaking on hand-written IR in the shapes rustc 1.95 and LLVM's passes give
//! dynamic calls, parsed by the real LLVM: a plain call through a vtable, a callee that
//! argument promotion moved into the caller, calls merged through `phi` and `select`, a callee
//! that cannot be traced, a vtable passed to native code and a vtable pointed at from another
//! vtable (trait upcasting). Each module is shaken with method shaking on, the trapped slots
//! are rewritten, unreachable symbols deleted and the result verified.

use std::collections::{BTreeSet, HashMap};

use inkwell::memory_buffer::MemoryBuffer;
use inkwell::module::Module;
use inkwell::values::AnyValue;
use portkey_callgraph::{EdgeKind, names::demangle};
use portkey_report::MethodShaking;
use portkey_shaker::llvm::LlvmSession;
use portkey_shaker::llvm::strip::{delete_unreachable, verify};
use portkey_shaker::llvm::trap::{TRAP_FUNCTION, trap_slots};
use portkey_shaker::llvm::walk::{ProgramGraph, build_graph_with};

/// Two vtables of `Shape` (null drop glue, size 8, align 8, then `area` at offset 24 and
/// `render` at offset 32) and one of an unrelated trait whose only method has `render`'s type at
/// offset 24. `pick` returns one of its arguments, so the vtables passed to it are reachable
/// and flow into dynamic calls as the bitcode of a real program would have them.
const PRELUDE: &str = r#"
target datalayout = "e-m:e-p270:32:32-p271:32:32-p272:64:64-i64:64-i128:128-f80:128-n8:16:32:64-S128"
target triple = "x86_64-unknown-linux-gnu"

@vt_circle = private unnamed_addr constant <{ [24 x i8], ptr, ptr }> <{ [24 x i8] c"\00\00\00\00\00\00\00\00\08\00\00\00\00\00\00\00\08\00\00\00\00\00\00\00", ptr @circle_area, ptr @circle_render }>, align 8
@vt_square = private unnamed_addr constant <{ [24 x i8], ptr, ptr }> <{ [24 x i8] c"\00\00\00\00\00\00\00\00\08\00\00\00\00\00\00\00\08\00\00\00\00\00\00\00", ptr @square_area, ptr @square_render }>, align 8
@vt_other = private unnamed_addr constant <{ [24 x i8], ptr }> <{ [24 x i8] c"\00\00\00\00\00\00\00\00\08\00\00\00\00\00\00\00\08\00\00\00\00\00\00\00", ptr @other_render }>, align 8

define internal double @circle_area(ptr %self) { ret double 3.0 }
define internal double @square_area(ptr %self) { ret double 4.0 }
define internal void @circle_render(ptr %out, ptr %self) {
  call void @render_helper()
  ret void
}
define internal void @square_render(ptr %out, ptr %self) { ret void }
define internal void @other_render(ptr %out, ptr %self) { ret void }
define internal void @render_helper() { ret void }

define ptr @pick(ptr %first, ptr %second, ptr %third) {
  %coin = call i32 @coin()
  %pick = icmp eq i32 %coin, 0
  %one = select i1 %pick, ptr %first, ptr %second
  %other = icmp eq i32 %coin, 1
  %chosen = select i1 %other, ptr %third, ptr %one
  ret ptr %chosen
}
declare i32 @coin()
declare ptr @get_callback()
declare void @native_sink(ptr)
"#;

/// Parses `PRELUDE` followed by `body`, shakes it with method shaking on and returns the kept
/// function names after deletion, with the graph.
fn shake(body: &str) -> (BTreeSet<String>, ProgramGraphSummary) {
    let session = LlvmSession::new();
    let text = format!("{PRELUDE}\n{body}");
    let buffer = MemoryBuffer::create_from_memory_range_copy(text.as_bytes(), "methods.ll");
    let module = session
        .context()
        .create_module_from_ir(buffer)
        .unwrap_or_else(|error| panic!("test IR parses: {error}\n{text}"));
    let program = build_graph_with(
        &module,
        &HashMap::new(),
        "main",
        &BTreeSet::new(),
        MethodShaking::On,
    )
    .expect("graph builds");
    let summary = ProgramGraphSummary::of(&program);
    let trapped = trap_slots(&program).expect("slots rewritten");
    assert_eq!(trapped, summary.trapped.len() as u64);
    let reachable = program.graph.reachable();
    delete_unreachable(&program, &reachable);
    verify(&module).unwrap_or_else(|error| panic!("module verifies: {error}"));
    (function_names(&module), summary)
}

/// What the tests check of a shaken graph.
struct ProgramGraphSummary {
    /// `(vtable, function)` of every trapped slot.
    trapped: BTreeSet<(String, String)>,
    removed: BTreeSet<String>,
    slot_edges: BTreeSet<(String, String)>,
}

impl ProgramGraphSummary {
    fn of(program: &ProgramGraph) -> Self {
        let graph = &program.graph;
        let shaking = graph.method_shaking().expect("method shaking ran");
        let name = |id| graph.symbol(id).name.clone();
        let trapped = shaking
            .trapped
            .iter()
            .map(|slot| (name(slot.vtable), name(slot.function)))
            .collect();
        let removed = shaking.removed.iter().map(|id| name(*id)).collect();
        let mut slot_edges = BTreeSet::new();
        for (id, _) in graph.iter() {
            for (target, kind) in graph.references(id) {
                if kind == EdgeKind::VtableSlot || kind == EdgeKind::TrappedSlot {
                    slot_edges.insert((name(id), name(target)));
                }
            }
        }
        ProgramGraphSummary {
            trapped,
            removed,
            slot_edges,
        }
    }
}

fn function_names(module: &Module<'_>) -> BTreeSet<String> {
    module
        .get_functions()
        .map(|function| function.get_name().to_string_lossy().into_owned())
        .collect()
}

fn set(names: &[&str]) -> BTreeSet<String> {
    names.iter().map(|name| name.to_string()).collect()
}

fn pairs(pairs: &[(&str, &str)]) -> BTreeSet<(String, String)> {
    pairs
        .iter()
        .map(|(a, b)| (a.to_string(), b.to_string()))
        .collect()
}

/// `main` makes both `Shape` vtables reachable and calls `area` through one of them.
const CALL_AREA: &str = r#"
define i32 @main() {
  %vtable = call ptr @pick(ptr @vt_circle, ptr @vt_square, ptr @vt_other)
  %slot = getelementptr inbounds nuw i8, ptr %vtable, i64 24
  %method = load ptr, ptr %slot, align 8, !invariant.load !0
  %area = call double %method(ptr null)
  ret i32 0
}
!0 = !{}
"#;

#[test]
fn uncalled_render_slots_are_trapped() {
    let (kept, summary) = shake(CALL_AREA);
    assert_eq!(
        summary.trapped,
        pairs(&[
            ("vt_circle", "circle_render"),
            ("vt_square", "square_render"),
            ("vt_other", "other_render"),
        ])
    );
    assert_eq!(
        summary.removed,
        set(&[
            "circle_render",
            "other_render",
            "render_helper",
            "square_render"
        ])
    );
    assert!(
        kept.contains("circle_area") && kept.contains("square_area"),
        "{kept:?}"
    );
    assert!(kept.contains(TRAP_FUNCTION), "{kept:?}");
    for removed in [
        "circle_render",
        "square_render",
        "other_render",
        "render_helper",
    ] {
        assert!(!kept.contains(removed), "{removed} survived: {kept:?}");
    }
    assert!(
        summary
            .slot_edges
            .contains(&("vt_circle".to_string(), TRAP_FUNCTION.to_string()))
    );
    assert!(
        summary
            .slot_edges
            .contains(&("vt_circle".to_string(), "circle_area".to_string()))
    );
}

#[test]
fn same_offset_and_type_keeps_other_traits_slot() {
    // A call of `render`'s type at offset 24 may be a call of the unrelated trait's method.
    let body = r#"
define i32 @main() {
  %vtable = call ptr @pick(ptr @vt_circle, ptr @vt_square, ptr @vt_other)
  %slot = getelementptr inbounds nuw i8, ptr %vtable, i64 24
  %method = load ptr, ptr %slot, align 8
  call void %method(ptr null, ptr null)
  ret i32 0
}
"#;
    let (kept, summary) = shake(body);
    assert!(kept.contains("other_render"), "{kept:?}");
    // `area` has another type, so its slots are trapped although the offset matches.
    assert!(
        summary
            .trapped
            .contains(&("vt_circle".to_string(), "circle_area".to_string()))
    );
    assert!(!kept.contains("circle_render"), "{kept:?}");
}

#[test]
fn promoted_argument_is_traced_to_the_callers_load() {
    // Argument promotion moved the load of `render` into `main`; the callee only sees a pointer.
    let body = r#"
define internal void @render_through(ptr %method) {
  call void %method(ptr null, ptr null)
  ret void
}
define i32 @main() {
  %vtable = call ptr @pick(ptr @vt_circle, ptr @vt_square, ptr null)
  %slot = getelementptr inbounds nuw i8, ptr %vtable, i64 32
  %method = load ptr, ptr %slot, align 8
  call void @render_through(ptr %method)
  ret i32 0
}
"#;
    let (kept, summary) = shake(body);
    assert!(
        kept.contains("circle_render") && kept.contains("render_helper"),
        "{kept:?}"
    );
    assert!(kept.contains("square_render"), "{kept:?}");
    assert_eq!(
        summary.trapped,
        pairs(&[("vt_circle", "circle_area"), ("vt_square", "square_area")])
    );
}

#[test]
fn merged_calls_are_traced_through_phi_and_select() {
    let body = r#"
define i32 @main(i1 %choice) {
entry:
  %vtable = call ptr @pick(ptr @vt_circle, ptr @vt_square, ptr null)
  br i1 %choice, label %left, label %right
left:
  %area_slot = getelementptr inbounds nuw i8, ptr %vtable, i64 24
  %area = load ptr, ptr %area_slot, align 8
  br label %join
right:
  %base = select i1 %choice, ptr %vtable, ptr @vt_square
  %render_slot = getelementptr inbounds nuw i8, ptr %base, i64 32
  %render = load ptr, ptr %render_slot, align 8
  br label %join
join:
  %method = phi ptr [ %area, %left ], [ %render, %right ]
  %frozen = freeze ptr %method
  call void %frozen(ptr null, ptr null)
  ret i32 0
}
"#;
    // The call has `render`'s type, so only the load at offset 32 can match a slot.
    let (kept, summary) = shake(body);
    assert!(
        kept.contains("circle_render") && kept.contains("square_render"),
        "{kept:?}"
    );
    assert_eq!(
        summary.trapped,
        pairs(&[("vt_circle", "circle_area"), ("vt_square", "square_area")])
    );
}

#[test]
fn untraceable_callee_keeps_every_slot_of_its_type() {
    let body = r#"
define i32 @main() {
  %vtable = call ptr @pick(ptr @vt_circle, ptr @vt_square, ptr @vt_other)
  %method = call ptr @get_callback()
  call void %method(ptr null, ptr null)
  ret i32 0
}
"#;
    let (kept, summary) = shake(body);
    for render in ["circle_render", "square_render", "other_render"] {
        assert!(kept.contains(render), "{render} removed: {kept:?}");
    }
    assert_eq!(
        summary.trapped,
        pairs(&[("vt_circle", "circle_area"), ("vt_square", "square_area")])
    );
}

#[test]
fn load_at_unknown_offset_keeps_every_slot_of_its_type() {
    let body = r#"
define i32 @main(i64 %index) {
  %vtable = call ptr @pick(ptr @vt_circle, ptr @vt_square, ptr null)
  %slot = getelementptr inbounds ptr, ptr %vtable, i64 %index
  %method = load ptr, ptr %slot, align 8
  %area = call double %method(ptr null)
  ret i32 0
}
"#;
    let (kept, summary) = shake(body);
    assert!(
        kept.contains("circle_area") && kept.contains("square_area"),
        "{kept:?}"
    );
    assert_eq!(
        summary.trapped,
        pairs(&[
            ("vt_circle", "circle_render"),
            ("vt_square", "square_render")
        ])
    );
}

#[test]
fn vtable_passed_to_native_code_keeps_all_slots() {
    let body = r#"
define i32 @main() {
  call void @native_sink(ptr @vt_square)
  %vtable = call ptr @pick(ptr @vt_circle, ptr null, ptr null)
  %slot = getelementptr inbounds nuw i8, ptr %vtable, i64 24
  %method = load ptr, ptr %slot, align 8
  %area = call double %method(ptr null)
  ret i32 0
}
"#;
    let (kept, summary) = shake(body);
    assert!(kept.contains("square_render"), "{kept:?}");
    assert_eq!(summary.trapped, pairs(&[("vt_circle", "circle_render")]));
}

#[test]
fn upcast_vtable_pointer_slots_stay() {
    // `@vt_both` holds `area`, then a pointer to the vtable of its second supertrait, then
    // its own method; only the supertrait's `render` is called through the upcast pointer.
    let body = r#"
@vt_both = private unnamed_addr constant <{ [24 x i8], ptr, ptr, ptr }> <{ [24 x i8] c"\00\00\00\00\00\00\00\00\08\00\00\00\00\00\00\00\08\00\00\00\00\00\00\00", ptr @circle_area, ptr @vt_other, ptr @both_own }>, align 8
define internal i32 @both_own(ptr %self) { ret i32 1 }
define i32 @main() {
  %vtable = call ptr @pick(ptr @vt_both, ptr null, ptr null)
  %upcast_slot = getelementptr inbounds nuw i8, ptr %vtable, i64 32
  %upcast = load ptr, ptr %upcast_slot, align 8
  %slot = getelementptr inbounds nuw i8, ptr %upcast, i64 24
  %method = load ptr, ptr %slot, align 8
  call void %method(ptr null, ptr null)
  ret i32 0
}
"#;
    let (kept, summary) = shake(body);
    assert!(kept.contains("other_render"), "{kept:?}");
    assert!(
        summary
            .slot_edges
            .contains(&("vt_both".to_string(), "vt_other".to_string())),
        "{:?}",
        summary.slot_edges
    );
    assert_eq!(
        summary.trapped,
        pairs(&[("vt_both", "both_own"), ("vt_both", "circle_area")])
    );
}

#[test]
fn trap_function_calls_llvm_trap() {
    let session = LlvmSession::new();
    let text = format!("{PRELUDE}\n{CALL_AREA}");
    let buffer = MemoryBuffer::create_from_memory_range_copy(text.as_bytes(), "trap.ll");
    let module = session
        .context()
        .create_module_from_ir(buffer)
        .expect("test IR parses");
    let program = build_graph_with(
        &module,
        &HashMap::new(),
        "main",
        &BTreeSet::new(),
        MethodShaking::On,
    )
    .expect("graph builds");
    trap_slots(&program).expect("slots rewritten");
    let trap = module
        .get_function(TRAP_FUNCTION)
        .expect("trap function added");
    let body = trap.as_any_value_enum().print_to_string().to_string();
    assert!(body.contains("call void @llvm.trap()"), "{body}");
    assert!(body.contains("unreachable"), "{body}");
    let vtable = module
        .get_global("vt_circle")
        .expect("vtable kept")
        .as_any_value_enum()
        .print_to_string()
        .to_string();
    assert!(
        vtable.contains(&format!("ptr @{TRAP_FUNCTION}")),
        "{vtable}"
    );
    assert!(vtable.contains("ptr @circle_area"), "{vtable}");
    assert!(demangle(TRAP_FUNCTION).is_none());
}
