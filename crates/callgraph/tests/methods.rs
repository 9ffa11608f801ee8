//! Method slots as conditional edges: a slot's edge exists in the frozen graph only when a
//! reachable symbol makes a dynamic call that matches the slot's offset and signature, or a call
//! of unknown origin with the slot's signature. The fixpoint must also follow slots that become
//! live only after another live slot made more code reachable.

use portkey_callgraph::{
    CallGraph, CallGraphBuilder, DynamicCall, EdgeKind, RootReason, SlotKey, Symbol, SymbolId,
    SymbolKind,
};

const AREA: SlotKey = SlotKey {
    offset: 24,
    signature: 1,
};
const RENDER: SlotKey = SlotKey {
    offset: 32,
    signature: 2,
};
/// Offset 24 with `render`'s signature: another trait's first method.
const OTHER_FIRST: SlotKey = SlotKey {
    offset: 24,
    signature: 2,
};

struct Sample {
    builder: CallGraphBuilder,
    main: SymbolId,
}

/// `main` refers to the vtable of `Circle`, whose `area` and `render` slots are conditional;
/// `render` calls `helper`, and `helper` refers to a second vtable whose only slot is
/// `Other::first`.
fn sample() -> Sample {
    let mut builder = CallGraphBuilder::new();
    let mut add = |name: &str, kind| {
        builder
            .add_symbol(Symbol::new(name, kind))
            .expect("unique name")
    };
    let main = add("main", SymbolKind::Function);
    let vtable = add("vtable.circle", SymbolKind::Global);
    let area = add("circle_area", SymbolKind::Function);
    let render = add("circle_render", SymbolKind::Function);
    let helper = add("helper", SymbolKind::Function);
    let other_vtable = add("vtable.other", SymbolKind::Global);
    let other_first = add("other_first", SymbolKind::Function);
    let trap = add("trap", SymbolKind::Function);
    builder.add_root(main, RootReason::Entry);
    builder.add_edge(main, vtable, EdgeKind::Reference);
    builder.add_method_slot(vtable, AREA, area);
    builder.add_method_slot(vtable, RENDER, render);
    builder.add_edge(render, helper, EdgeKind::Call);
    builder.add_edge(helper, other_vtable, EdgeKind::Reference);
    builder.add_method_slot(other_vtable, OTHER_FIRST, other_first);
    builder.set_trap_symbol(trap);
    Sample { builder, main }
}

fn kept(graph: &CallGraph) -> Vec<String> {
    let reachable = graph.reachable();
    reachable
        .kept()
        .map(|id| graph.symbol(id).name.clone())
        .collect()
}

fn trapped(graph: &CallGraph) -> Vec<(String, u64, String)> {
    let shaking = graph.method_shaking().expect("method shaking ran");
    shaking
        .trapped
        .iter()
        .map(|slot| {
            (
                graph.symbol(slot.vtable).name.clone(),
                slot.offset,
                graph.symbol(slot.function).name.clone(),
            )
        })
        .collect()
}

fn removed(graph: &CallGraph) -> Vec<String> {
    let shaking = graph.method_shaking().expect("method shaking ran");
    shaking
        .removed
        .iter()
        .map(|id| graph.symbol(*id).name.clone())
        .collect()
}

#[test]
fn matching_call_keeps_only_its_slot() {
    let Sample { mut builder, main } = sample();
    builder.add_dynamic_call(main, DynamicCall::Slot(AREA));
    let graph = builder.build().expect("graph builds");

    assert_eq!(
        kept(&graph),
        ["circle_area", "main", "trap", "vtable.circle"]
    );
    assert_eq!(
        trapped(&graph),
        [("vtable.circle".to_string(), 32, "circle_render".to_string())]
    );
    assert_eq!(
        removed(&graph),
        ["circle_render", "helper", "other_first", "vtable.other"]
    );
    let path = graph.why_kept("circle_area").expect("area is kept");
    assert_eq!(path.last().map(|step| step.via), Some(EdgeKind::VtableSlot));
    let trap_path = graph.why_kept("trap").expect("trap is kept");
    assert_eq!(
        trap_path.last().map(|step| step.via),
        Some(EdgeKind::TrappedSlot)
    );
}

#[test]
fn live_slot_makes_later_vtables_reachable() {
    // `render` becomes live, reaches `helper` and the second vtable, whose slot matches a call
    // that `main` made before that vtable was reachable.
    let Sample { mut builder, main } = sample();
    builder.add_dynamic_call(main, DynamicCall::Slot(OTHER_FIRST));
    builder.add_dynamic_call(main, DynamicCall::Slot(RENDER));
    let graph = builder.build().expect("graph builds");

    assert_eq!(
        kept(&graph),
        [
            "circle_render",
            "helper",
            "main",
            "other_first",
            "trap",
            "vtable.circle",
            "vtable.other"
        ]
    );
    assert_eq!(
        trapped(&graph),
        [("vtable.circle".to_string(), 24, "circle_area".to_string())]
    );
    assert_eq!(removed(&graph), ["circle_area"]);
}

#[test]
fn call_of_unknown_origin_keeps_every_slot_of_its_signature() {
    let Sample { mut builder, main } = sample();
    builder.add_dynamic_call(main, DynamicCall::AnySlotWithSignature(RENDER.signature));
    let graph = builder.build().expect("graph builds");

    let kept = kept(&graph);
    for name in ["circle_render", "other_first"] {
        assert!(kept.contains(&name.to_string()), "{name} removed: {kept:?}");
    }
    assert!(!kept.contains(&"circle_area".to_string()), "{kept:?}");
}

#[test]
fn no_trapped_slot_leaves_trap_unreachable() {
    let Sample { mut builder, main } = sample();
    builder.add_dynamic_call(main, DynamicCall::Slot(AREA));
    builder.add_dynamic_call(main, DynamicCall::AnySlotWithSignature(RENDER.signature));
    let graph = builder.build().expect("graph builds");

    assert!(trapped(&graph).is_empty());
    assert!(graph.why_kept("trap").is_none());
    assert!(removed(&graph).is_empty());
}

#[test]
fn graph_without_slots_has_no_method_shaking() {
    let mut builder = CallGraphBuilder::new();
    let main = builder
        .add_symbol(Symbol::new("main", SymbolKind::Function))
        .expect("unique name");
    builder.add_root(main, RootReason::Entry);
    let graph = builder.build().expect("graph builds");
    assert!(graph.method_shaking().is_none());
}
