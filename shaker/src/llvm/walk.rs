//! Reads the call graph out of the linked module: one symbol per function, global variable,
//! alias and ifunc. Edges come from instruction operands, from constants and constant
//! expressions (walked recursively, so vtable slots count, and Rust vtables get edges of their
//! own kind), and from global initializers,
//! aliasees, ifunc resolvers and personality routines. Roots are the entry, the `llvm.used`,
//! `llvm.compiler.used`, `llvm.global_ctors` and `llvm.global_dtors` lists, symbols that native
//! code refers to and the library functions code generation may call by name.
//!
//! With method shaking on ([`build_graph_with`]), a method slot of a vtable becomes a conditional
//! edge ([`portkey_callgraph::SlotKey`]) and every dynamic call a demand for such slots
//! ([`super::methods`]), and the trap function of [`super::trap`] is added to the module first.

use std::collections::{BTreeSet, HashMap, HashSet};
use std::rc::Rc;

use inkwell::module::Module;
use llvm_sys::core::*;
use llvm_sys::prelude::{LLVMModuleRef, LLVMValueRef};
use portkey_callgraph::{
    CallGraph, CallGraphBuilder, EdgeKind, RootReason, SlotKey, Symbol, SymbolId, SymbolKind,
};
use portkey_report::MethodShaking;

use super::methods::{self, SignatureIds};
use super::trap::add_trap_function;
use crate::error::ShakeError;

/// Functions that instruction selection may call by name even when the IR never does, so a
/// definition in the bitcode has to survive and stay visible.
const LIBCALLS: &[&str] = &[
    "memcpy",
    "memmove",
    "memset",
    "memcmp",
    "bcmp",
    "strlen",
    "__stack_chk_fail",
];

/// The call graph plus the LLVM value behind each symbol.
pub struct ProgramGraph {
    pub graph: CallGraph,
    /// Indexed by `SymbolId::index` of `graph`.
    pub values: Vec<LLVMValueRef>,
    /// Symbols that must keep external linkage: the entry, native references and libcalls.
    pub visible: Vec<bool>,
    /// The entry symbol, a defined function.
    pub entry: SymbolId,
    /// The vtable and operand position of each conditional method slot, indexed by
    /// `SlotId::index`. Empty when method shaking is off.
    pub slots: Vec<(LLVMValueRef, u32)>,
    /// The trap function that trapped slots point at, when method shaking is on.
    pub trap: Option<LLVMValueRef>,
}

/// Returns the name of a value, empty for unnamed values.
pub(crate) fn value_name(value: LLVMValueRef) -> String {
    let mut length = 0usize;
    // SAFETY: LLVM returns a pointer to `length` bytes owned by the value.
    let pointer = unsafe { LLVMGetValueName2(value, &mut length) };
    if pointer.is_null() || length == 0 {
        return String::new();
    }
    let bytes = unsafe { std::slice::from_raw_parts(pointer as *const u8, length) };
    String::from_utf8_lossy(bytes).into_owned()
}

/// Iterates a module's functions, global variables, aliases and ifuncs with their kinds.
pub(crate) fn global_values(module: LLVMModuleRef) -> Vec<(LLVMValueRef, SymbolKind)> {
    let mut values = Vec::new();
    // SAFETY: plain iteration over the module's symbol lists.
    unsafe {
        let mut value = LLVMGetFirstFunction(module);
        while !value.is_null() {
            values.push((value, SymbolKind::Function));
            value = LLVMGetNextFunction(value);
        }
        let mut value = LLVMGetFirstGlobal(module);
        while !value.is_null() {
            values.push((value, SymbolKind::Global));
            value = LLVMGetNextGlobal(value);
        }
        let mut value = LLVMGetFirstGlobalAlias(module);
        while !value.is_null() {
            values.push((value, SymbolKind::Alias));
            value = LLVMGetNextGlobalAlias(value);
        }
        let mut value = LLVMGetFirstGlobalIFunc(module);
        while !value.is_null() {
            values.push((value, SymbolKind::IFunc));
            value = LLVMGetNextGlobalIFunc(value);
        }
    }
    values
}

/// Gives every unnamed global value a name, so each symbol of the graph has one. Only private
/// and internal values can be unnamed, so the names never reach the symbol table.
fn name_unnamed(values: &[(LLVMValueRef, SymbolKind)]) {
    const PREFIX: &[u8] = b"__portkey_unnamed";
    for (value, _) in values {
        if value_name(*value).is_empty() {
            // SAFETY: LLVM copies the name and appends a number when it is taken.
            unsafe { LLVMSetValueName2(*value, PREFIX.as_ptr() as *const _, PREFIX.len()) };
        }
    }
}

struct Walker {
    builder: CallGraphBuilder,
    ids: HashMap<LLVMValueRef, SymbolId>,
    /// Global values each visited constant refers to, so shared constants are walked once.
    constant_targets: HashMap<LLVMValueRef, Rc<[SymbolId]>>,
    /// Present when method shaking is on.
    methods: Option<MethodWalk>,
}

/// State of the walk that only method shaking needs.
struct MethodWalk {
    module: LLVMModuleRef,
    signatures: SignatureIds,
    /// Recognised vtables with the operand position of their first method slot.
    vtables: HashMap<LLVMValueRef, u32>,
    /// Vtables used in a way that could read their slots without a dynamic call.
    escaped: HashSet<LLVMValueRef>,
    slots: Vec<(LLVMValueRef, u32)>,
}

impl Walker {
    fn targets_of_constant(&mut self, constant: LLVMValueRef) -> Rc<[SymbolId]> {
        if let Some(targets) = self.constant_targets.get(&constant) {
            return targets.clone();
        }
        let mut targets: Vec<SymbolId> = Vec::new();
        // SAFETY: `constant` is a live constant; constants are users, so operand access is valid.
        let count = unsafe { LLVMGetNumOperands(constant) }.max(0) as u32;
        for index in 0..count {
            let operand = unsafe { LLVMGetOperand(constant, index) };
            if operand.is_null() {
                continue;
            }
            if let Some(id) = self.global_id(operand) {
                targets.push(id);
                continue;
            }
            if unsafe { LLVMIsAConstant(operand) }.is_null() {
                continue;
            }
            targets.extend(self.targets_of_constant(operand).iter().copied());
        }
        targets.sort();
        targets.dedup();
        let targets: Rc<[SymbolId]> = targets.into();
        self.constant_targets.insert(constant, targets.clone());
        targets
    }

    fn global_id(&self, value: LLVMValueRef) -> Option<SymbolId> {
        // SAFETY: type test on a live value.
        if unsafe { LLVMIsAGlobalValue(value) }.is_null() {
            return None;
        }
        self.ids.get(&value).copied()
    }

    /// Adds edges from `from` to every global value that `value` is or contains.
    fn reference(
        &mut self,
        from: SymbolId,
        value: LLVMValueRef,
        direct: EdgeKind,
        nested: EdgeKind,
    ) {
        if value.is_null() {
            return;
        }
        if let Some(to) = self.global_id(value) {
            self.builder.add_edge(from, to, direct);
            return;
        }
        // SAFETY: type test on a live value.
        if unsafe { LLVMIsAConstant(value) }.is_null() {
            return;
        }
        for to in self.targets_of_constant(value).iter() {
            self.builder.add_edge(from, *to, nested);
        }
    }

    /// Walks a function body and returns its instruction count.
    fn walk_function(&mut self, from: SymbolId, function: LLVMValueRef) -> u64 {
        let mut instructions = 0u64;
        // SAFETY: iteration over the blocks and instructions of a live function.
        unsafe {
            if LLVMHasPersonalityFn(function) != 0 {
                let personality = LLVMGetPersonalityFn(function);
                self.reference(
                    from,
                    personality,
                    EdgeKind::Personality,
                    EdgeKind::Personality,
                );
            }
            let mut block = LLVMGetFirstBasicBlock(function);
            while !block.is_null() {
                let mut instruction = LLVMGetFirstInstruction(block);
                while !instruction.is_null() {
                    instructions += 1;
                    self.walk_instruction(from, instruction);
                    instruction = LLVMGetNextInstruction(instruction);
                }
                block = LLVMGetNextBasicBlock(block);
            }
        }
        instructions
    }

    fn walk_instruction(&mut self, from: SymbolId, instruction: LLVMValueRef) {
        // SAFETY: `instruction` is a live instruction, which is a user.
        unsafe {
            let is_call = !LLVMIsACallInst(instruction).is_null()
                || !LLVMIsAInvokeInst(instruction).is_null()
                || !LLVMIsACallBrInst(instruction).is_null();
            let callee = if is_call {
                LLVMGetCalledValue(instruction)
            } else {
                std::ptr::null_mut()
            };
            let count = LLVMGetNumOperands(instruction).max(0) as u32;
            for index in 0..count {
                let operand = LLVMGetOperand(instruction, index);
                if operand.is_null() {
                    continue;
                }
                // The callee is the last operand of a call, invoke or callbr.
                let direct = if is_call && operand == callee && index + 1 == count {
                    EdgeKind::Call
                } else {
                    EdgeKind::Reference
                };
                self.reference(from, operand, direct, EdgeKind::ConstantRef);
            }
            let is_dynamic_candidate = !LLVMIsACallInst(instruction).is_null()
                || !LLVMIsAInvokeInst(instruction).is_null();
            if let Some(methods) = self.methods.as_mut()
                && is_dynamic_candidate
            {
                for call in
                    methods::dynamic_calls(methods.module, instruction, &mut methods.signatures)
                {
                    self.builder.add_dynamic_call(from, call);
                }
            }
        }
    }

    /// Adds the edges of a vtable's initializer. With method shaking on and a vtable that does
    /// not escape, each function from the first method slot on becomes a conditional slot. The
    /// drop glue and pointers to other vtables (trait upcasting) stay unconditional edges.
    fn walk_vtable(&mut self, from: SymbolId, vtable: LLVMValueRef, initializer: LLVMValueRef) {
        let conditional = self.methods.as_ref().and_then(|methods| {
            if methods.escaped.contains(&vtable) {
                return None;
            }
            methods.vtables.get(&vtable).copied()
        });
        let Some(first_slot) = conditional else {
            self.reference(
                from,
                initializer,
                EdgeKind::VtableSlot,
                EdgeKind::VtableSlot,
            );
            return;
        };
        let Some(methods) = self.methods.as_ref() else {
            return;
        };
        let offsets = methods::operand_offsets(methods.module, initializer);
        // SAFETY: `initializer` is a live constant struct.
        let count = unsafe { LLVMGetNumOperands(initializer) }.max(0) as u32;
        for index in 0..count {
            // SAFETY: `index` is below the operand count of the live constant.
            let operand = unsafe { LLVMGetOperand(initializer, index) };
            // SAFETY: type test on a live value.
            let is_function = !operand.is_null() && !unsafe { LLVMIsAFunction(operand) }.is_null();
            let function = self.global_id(operand);
            let offset = offsets.get(index as usize).copied();
            match (index >= first_slot && is_function, function, offset) {
                (true, Some(function), Some(offset)) => {
                    let Some(methods) = self.methods.as_mut() else {
                        return;
                    };
                    let signature = methods.signatures.id(methods::function_type(operand));
                    self.builder
                        .add_method_slot(from, SlotKey { offset, signature }, function);
                    methods.slots.push((vtable, index));
                }
                _ => self.reference(from, operand, EdgeKind::VtableSlot, EdgeKind::VtableSlot),
            }
        }
    }
}

/// Returns the defined symbols that the module's top-level assembly (`global_asm!`) names.
/// Assembly text is not IR, so the walk cannot see its references. These symbols are therefore
/// kept and stay visible, like symbols that native objects reference.
pub fn inline_asm_symbols(module: &Module<'_>) -> BTreeSet<String> {
    let module_ref = module.as_mut_ptr();
    let mut length = 0usize;
    // SAFETY: the module is live. The returned pointer is valid for `length` bytes until the
    // module's inline assembly changes, and the text is copied at once.
    let text = unsafe {
        let pointer = LLVMGetModuleInlineAsm(module_ref, &mut length);
        if pointer.is_null() || length == 0 {
            return BTreeSet::new();
        }
        String::from_utf8_lossy(std::slice::from_raw_parts(pointer.cast::<u8>(), length))
            .into_owned()
    };

    let is_symbol_char = |c: char| c.is_ascii_alphanumeric() || matches!(c, '_' | '.' | '$');
    let tokens: BTreeSet<&str> = text
        .split(|c: char| !is_symbol_char(c))
        .filter(|token| !token.is_empty())
        .collect();
    global_values(module_ref)
        .into_iter()
        .filter(|(value, _)| {
            // SAFETY: declaration test on a live global value.
            unsafe { LLVMIsDeclaration(*value) == 0 }
        })
        .map(|(value, _)| value_name(value))
        .filter(|name| tokens.contains(name.as_str()))
        .collect()
}

/// Builds the call graph of `module` with every vtable slot an unconditional edge (method
/// shaking off). `entry` must be a defined function; `native_references` are the undefined
/// symbols of native inputs.
pub fn build_graph(
    module: &Module<'_>,
    crate_of_symbol: &HashMap<String, String>,
    entry: &str,
    native_references: &BTreeSet<String>,
) -> Result<ProgramGraph, ShakeError> {
    build_graph_with(
        module,
        crate_of_symbol,
        entry,
        native_references,
        MethodShaking::Off,
    )
}

/// Builds the call graph of `module`. With `method_shaking` on, the trap function is added to
/// the module, method slots of vtables that do not escape become conditional edges and dynamic
/// calls are recorded, so the frozen graph keeps only the slots some reachable call can use.
pub fn build_graph_with(
    module: &Module<'_>,
    crate_of_symbol: &HashMap<String, String>,
    entry: &str,
    native_references: &BTreeSet<String>,
    method_shaking: MethodShaking,
) -> Result<ProgramGraph, ShakeError> {
    let module_ref = module.as_mut_ptr();
    let trap = match method_shaking {
        MethodShaking::On => Some(add_trap_function(module_ref)),
        MethodShaking::Off => None,
    };
    let values = global_values(module_ref);
    name_unnamed(&values);

    let methods = trap.map(|_| method_walk(module_ref, &values));
    let mut walker = Walker {
        builder: CallGraphBuilder::new(),
        ids: HashMap::with_capacity(values.len()),
        constant_targets: HashMap::new(),
        methods,
    };
    let mut by_name: HashMap<String, LLVMValueRef> = HashMap::with_capacity(values.len());
    for (value, kind) in &values {
        let name = value_name(*value);
        // SAFETY: declaration test on a live global value.
        let defined = match kind {
            SymbolKind::Function | SymbolKind::Global => {
                (unsafe { LLVMIsDeclaration(*value) }) == 0
            }
            SymbolKind::Alias | SymbolKind::IFunc => true,
        };
        let mut symbol = if defined {
            Symbol::new(name.clone(), *kind)
        } else {
            Symbol::declaration(name.clone(), *kind)
        };
        if let Some(crate_name) = crate_of_symbol.get(&name) {
            symbol = symbol.with_module(crate_name.clone());
        }
        let id = walker.builder.add_symbol(symbol)?;
        walker.ids.insert(*value, id);
        by_name.insert(name, *value);
    }

    for (value, kind) in &values {
        let from = walker.ids[value];
        // SAFETY: reads of live global values of the module.
        unsafe {
            match kind {
                SymbolKind::Function => {
                    if LLVMIsDeclaration(*value) == 0 {
                        let count = walker.walk_function(from, *value);
                        walker.builder.set_size_hint(from, count);
                    }
                }
                SymbolKind::Global => {
                    let initializer = LLVMGetInitializer(*value);
                    if vtable_first_slot(initializer).is_some() {
                        walker.walk_vtable(from, *value, initializer);
                    } else {
                        walker.reference(
                            from,
                            initializer,
                            EdgeKind::ConstantRef,
                            EdgeKind::ConstantRef,
                        );
                    }
                }
                SymbolKind::Alias => {
                    let aliasee = LLVMAliasGetAliasee(*value);
                    walker.reference(from, aliasee, EdgeKind::Alias, EdgeKind::Alias);
                }
                SymbolKind::IFunc => {
                    let resolver = LLVMGetGlobalIFuncResolver(*value);
                    walker.reference(from, resolver, EdgeKind::Resolver, EdgeKind::Resolver);
                }
            }
        }
    }

    add_roots(&mut walker.builder, entry, native_references)?;
    if let Some(trap) = trap
        && let Some(id) = walker.ids.get(&trap).copied()
    {
        walker.builder.set_trap_symbol(id);
    }
    let slots = walker
        .methods
        .take()
        .map(|methods| methods.slots)
        .unwrap_or_default();
    let graph = walker.builder.build()?;
    let entry_id = graph
        .symbol_id(entry)
        .ok_or_else(|| ShakeError::MissingEntry {
            entry: entry.to_string(),
        })?;

    let mut ordered_values = Vec::with_capacity(graph.len());
    let mut visible = Vec::with_capacity(graph.len());
    for symbol in graph.symbols() {
        ordered_values.push(by_name[&symbol.name]);
        visible.push(must_stay_visible(&symbol.name, entry, native_references));
    }
    Ok(ProgramGraph {
        graph,
        values: ordered_values,
        visible,
        entry: entry_id,
        slots,
        trap,
    })
}

/// Finds the vtables of the module and those that escape, before any edge is added.
fn method_walk(module: LLVMModuleRef, values: &[(LLVMValueRef, SymbolKind)]) -> MethodWalk {
    let mut vtables = HashMap::new();
    for (value, kind) in values {
        if *kind != SymbolKind::Global {
            continue;
        }
        // SAFETY: initializer read on a live global variable (null for a declaration).
        let initializer = unsafe { LLVMGetInitializer(*value) };
        if let Some(first_slot) = vtable_first_slot(initializer) {
            vtables.insert(*value, first_slot);
        }
    }
    let vtable_set: HashSet<LLVMValueRef> = vtables.keys().copied().collect();
    let escaped = vtable_set
        .iter()
        .copied()
        .filter(|vtable| methods::vtable_escapes(*vtable, &vtable_set))
        .collect();
    MethodWalk {
        module,
        signatures: SignatureIds::default(),
        vtables,
        escaped,
        slots: Vec::new(),
    }
}

/// Recognises the initializer of a Rust vtable by the layout rustc (1.95) gives it: a packed
/// struct of the drop glue, the size and the alignment (pointer-sized each), then the method
/// slots. Adjacent plain bytes are merged into one byte array, so it has one of two shapes:
///
/// - `<{ ptr @drop_in_place, [2P x i8] size and alignment, ptr ... }>` when dropping does work;
/// - `<{ [3P x i8] null drop, size and alignment, ptr ... }>` when dropping does nothing.
///
/// `P` is the pointer size, 8 or 4. The alignment must be a power of two and at least one slot
/// must hold a function. Returns the operand position of the first method slot, `None` for a
/// constant that is not a vtable.
fn vtable_first_slot(initializer: LLVMValueRef) -> Option<u32> {
    if !is_rust_vtable(initializer) {
        return None;
    }
    // SAFETY: `is_rust_vtable` checked that the initializer is a constant struct with operands.
    let first = unsafe { LLVMGetOperand(initializer, 0) };
    Some(if byte_array(first).is_some() { 1 } else { 2 })
}

fn is_rust_vtable(initializer: LLVMValueRef) -> bool {
    // SAFETY: type tests and operand reads on a live constant (or null, checked first).
    unsafe {
        if initializer.is_null() || LLVMIsAConstantStruct(initializer).is_null() {
            return false;
        }
        if LLVMIsPackedStruct(LLVMTypeOf(initializer)) == 0 {
            return false;
        }
        let count = LLVMGetNumOperands(initializer).max(0) as u32;
        let operand = |index: u32| LLVMGetOperand(initializer, index);
        if count < 2 {
            return false;
        }
        let first_slot = if let Some(bytes) = byte_array(operand(0)) {
            // Null drop glue, size and alignment in one array.
            let pointer = bytes.len() / 3;
            let is_header = matches!(pointer, 4 | 8)
                && bytes.len() == 3 * pointer
                && bytes[..pointer].iter().all(|byte| *byte == 0)
                && is_power_of_two(&bytes[2 * pointer..]);
            if !is_header {
                return false;
            }
            1
        } else {
            if count < 3 || !is_drop_glue(operand(0)) {
                return false;
            }
            let Some(bytes) = byte_array(operand(1)) else {
                return false;
            };
            let pointer = bytes.len() / 2;
            let is_layout = matches!(pointer, 4 | 8)
                && bytes.len() == 2 * pointer
                && is_power_of_two(&bytes[pointer..]);
            if !is_layout {
                return false;
            }
            2
        };
        (first_slot..count).any(|index| !LLVMIsAFunction(operand(index)).is_null())
    }
}

/// Returns the bytes of a constant `[N x i8]` array, or `None` for any other value.
fn byte_array(value: LLVMValueRef) -> Option<Vec<u8>> {
    // SAFETY: type tests on a live value; `LLVMGetAsString` returns `length` bytes owned by the
    // constant, which outlives this call.
    unsafe {
        if value.is_null() || LLVMIsAConstantDataArray(value).is_null() {
            return None;
        }
        if LLVMIsConstantString(value) == 0 {
            return None;
        }
        let mut length = 0usize;
        let pointer = LLVMGetAsString(value, &mut length);
        if pointer.is_null() {
            return None;
        }
        Some(std::slice::from_raw_parts(pointer as *const u8, length).to_vec())
    }
}

/// True for a function named `core::ptr::drop_in_place::<T>`, rustc's drop glue.
fn is_drop_glue(value: LLVMValueRef) -> bool {
    // SAFETY: type test on a live value.
    if value.is_null() || unsafe { LLVMIsAFunction(value) }.is_null() {
        return false;
    }
    portkey_callgraph::names::demangle(&value_name(value))
        .is_some_and(|name| name.starts_with("core::ptr::drop_in_place"))
}

/// True when little-endian `bytes` hold a power of two.
fn is_power_of_two(bytes: &[u8]) -> bool {
    let mut value = 0u64;
    for (index, byte) in bytes.iter().take(8).enumerate() {
        value |= u64::from(*byte) << (8 * index);
    }
    value.is_power_of_two()
}

fn must_stay_visible(name: &str, entry: &str, native_references: &BTreeSet<String>) -> bool {
    name == entry || native_references.contains(name) || LIBCALLS.contains(&name)
}

fn add_roots(
    builder: &mut CallGraphBuilder,
    entry: &str,
    native_references: &BTreeSet<String>,
) -> Result<(), ShakeError> {
    let entry_id = builder
        .symbol_id(entry)
        .filter(|id| builder.symbol(*id).is_some_and(|symbol| symbol.defined))
        .ok_or_else(|| ShakeError::MissingEntry {
            entry: entry.to_string(),
        })?;
    builder.add_root(entry_id, RootReason::Entry);

    for name in native_references {
        if let Some(id) = builder.symbol_id(name) {
            builder.add_root(id, RootReason::NativeReference);
        }
    }
    for name in LIBCALLS {
        if let Some(id) = builder.symbol_id(name) {
            builder.add_root(id, RootReason::Runtime);
        }
    }

    // Special LLVM globals: the constructor and destructor lists and the used lists. Any other
    // `llvm.` global with a definition is kept too, because LLVM gives those names meaning.
    let special: Vec<(SymbolId, RootReason)> = builder
        .iter()
        .filter_map(|(id, symbol)| {
            if symbol.kind != SymbolKind::Global
                || !symbol.defined
                || !symbol.name.starts_with("llvm.")
            {
                return None;
            }
            let reason = match symbol.name.as_str() {
                "llvm.global_ctors" => RootReason::Constructor,
                "llvm.global_dtors" => RootReason::Destructor,
                _ => RootReason::Used,
            };
            Some((id, reason))
        })
        .collect();
    for (id, reason) in special {
        builder.add_root(id, reason);
    }
    Ok(())
}
