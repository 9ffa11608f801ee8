//! What method-level shaking reads from the IR: the key of every dynamic call (the byte offset
//! its callee was loaded from and the call's function type), the byte offset of every method
//! slot of a vtable, and whether a vtable is used in a way that could read its slots other than
//! through such calls. The fixpoint itself runs in `portkey-callgraph`.
//!
//! A dynamic call in rustc 1.95 bitcode loads the callee from a constant offset of the vtable
//! pointer and calls it at once:
//!
//! ```text
//! %slot = getelementptr inbounds nuw i8, ptr %vtable, i64 24
//! %method = load ptr, ptr %slot, align 8, !invariant.load !12
//! %area = call double %method(ptr %data)
//! ```
//!
//! SimplifyCFG may merge such calls, so the callee is traced through `phi`, `select` and
//! `freeze`. Argument promotion may move the load into the caller, so a callee that is an
//! argument of an internal function whose every use is a direct call is traced to the operands
//! of those calls. Anything else (a call result, a load at a non-constant offset, an argument of
//! an externally visible or address-taken function) gives up: the call may then reach any slot
//! whose function has the call's type.

use std::collections::{BTreeSet, HashMap, HashSet};

use llvm_sys::core::*;
use llvm_sys::prelude::{LLVMModuleRef, LLVMTypeRef, LLVMValueRef};
use llvm_sys::target::{LLVMABISizeOfType, LLVMGetModuleDataLayout, LLVMOffsetOfElement};
use llvm_sys::{LLVMLinkage, LLVMOpcode, LLVMTypeKind};
use portkey_callgraph::{DynamicCall, SlotKey};

/// Gives each distinct LLVM function type a small id. Types are uniqued per context, so equal
/// types have equal pointers.
#[derive(Debug, Default)]
pub struct SignatureIds {
    ids: HashMap<LLVMTypeRef, u32>,
}

impl SignatureIds {
    /// Returns the id of `function_type`, assigning the next one on first sight.
    pub fn id(&mut self, function_type: LLVMTypeRef) -> u32 {
        let next = self.ids.len() as u32;
        *self.ids.entry(function_type).or_insert(next)
    }
}

/// Where a traced callee may come from.
#[derive(Debug, Default)]
struct Trace {
    /// Offsets of the loads the callee may come from.
    offsets: BTreeSet<u64>,
    /// True when some source could not be traced.
    unknown: bool,
}

/// Returns the dynamic calls that `call` (a call or invoke) makes: none for a direct call, a call
/// of inline assembly or of a constant, otherwise one key per traced load offset, or a call of
/// any slot with the call's type when the callee cannot be traced.
pub(crate) fn dynamic_calls(
    module: LLVMModuleRef,
    call: LLVMValueRef,
    signatures: &mut SignatureIds,
) -> Vec<DynamicCall> {
    // SAFETY: `call` is a live call or invoke instruction of `module`.
    let (callee, function_type) =
        unsafe { (LLVMGetCalledValue(call), LLVMGetCalledFunctionType(call)) };
    if callee.is_null() || function_type.is_null() || !is_traceable(callee) {
        return Vec::new();
    }
    let mut tracer = Tracer {
        module,
        visited: HashSet::new(),
    };
    let mut trace = Trace::default();
    tracer.trace_callee(callee, &mut trace);
    let signature = signatures.id(function_type);
    let mut calls: Vec<DynamicCall> = trace
        .offsets
        .iter()
        .map(|offset| {
            DynamicCall::Slot(SlotKey {
                offset: *offset,
                signature,
            })
        })
        .collect();
    if trace.unknown {
        calls.push(DynamicCall::AnySlotWithSignature(signature));
    }
    calls
}

/// False for callees that are not loaded pointers: functions, aliases, inline assembly and
/// other constants.
fn is_traceable(callee: LLVMValueRef) -> bool {
    // SAFETY: type tests on a live value.
    unsafe {
        LLVMIsAGlobalValue(callee).is_null()
            && LLVMIsAInlineAsm(callee).is_null()
            && (LLVMIsAConstant(callee).is_null() || !LLVMIsAConstantExpr(callee).is_null())
    }
}

struct Tracer {
    module: LLVMModuleRef,
    /// Values already traced for this call, so cycles through `phi` end.
    visited: HashSet<LLVMValueRef>,
}

impl Tracer {
    fn trace_callee(&mut self, value: LLVMValueRef, trace: &mut Trace) {
        if !self.visited.insert(value) {
            return;
        }
        // SAFETY: type tests and operand reads on live values of the module.
        unsafe {
            if !LLVMIsALoadInst(value).is_null() {
                match self.address_offsets(LLVMGetOperand(value, 0)) {
                    Some(offsets) => trace.offsets.extend(offsets),
                    None => trace.unknown = true,
                }
                return;
            }
            if let Some(sources) = merged_sources(value) {
                for source in sources {
                    self.trace_callee(source, trace);
                }
                return;
            }
            if !LLVMIsAArgument(value).is_null() {
                match argument_sources(value) {
                    Some(sources) => {
                        for source in sources {
                            self.trace_callee(source, trace);
                        }
                    }
                    None => trace.unknown = true,
                }
                return;
            }
            // Constants other than expressions hold no loaded pointer.
            if !LLVMIsAGlobalValue(value).is_null()
                || !LLVMIsAConstantPointerNull(value).is_null()
                || !LLVMIsAUndefValue(value).is_null()
            {
                return;
            }
        }
        trace.unknown = true;
    }

    /// Returns the byte offsets from a base pointer that `address` may have, or `None` when an
    /// offset is not constant or the base is an integer cast (whose arithmetic is invisible).
    fn address_offsets(&mut self, address: LLVMValueRef) -> Option<BTreeSet<u64>> {
        let mut offsets = BTreeSet::new();
        let mut visited = HashSet::new();
        self.collect_offsets(address, 0, &mut offsets, &mut visited)?;
        Some(offsets)
    }

    fn collect_offsets(
        &mut self,
        address: LLVMValueRef,
        offset: i64,
        offsets: &mut BTreeSet<u64>,
        visited: &mut HashSet<(LLVMValueRef, i64)>,
    ) -> Option<()> {
        if !visited.insert((address, offset)) {
            return Some(());
        }
        // SAFETY: type tests and operand reads on live values of the module.
        unsafe {
            if is_gep(address) {
                let step = gep_constant_offset(self.module, address)?;
                let base = LLVMGetOperand(address, 0);
                return self.collect_offsets(base, offset.checked_add(step)?, offsets, visited);
            }
            if is_int_to_ptr(address) {
                return None;
            }
            if let Some(sources) = merged_sources(address) {
                for source in sources {
                    self.collect_offsets(source, offset, offsets, visited)?;
                }
                return Some(());
            }
            if !LLVMIsAArgument(address).is_null()
                && let Some(sources) = argument_sources(address)
            {
                for source in sources {
                    self.collect_offsets(source, offset, offsets, visited)?;
                }
                return Some(());
            }
        }
        // Any other base (a loaded vtable pointer, an argument of a visible function, a global)
        // is taken as the start of a vtable.
        offsets.insert(u64::try_from(offset).ok()?);
        Some(())
    }
}

/// The values a `phi`, `select` or `freeze` passes on, or `None` for other values.
fn merged_sources(value: LLVMValueRef) -> Option<Vec<LLVMValueRef>> {
    // SAFETY: type tests and operand reads on a live value.
    unsafe {
        if !LLVMIsAPHINode(value).is_null() {
            let count = LLVMCountIncoming(value);
            return Some(
                (0..count)
                    .map(|index| LLVMGetIncomingValue(value, index))
                    .collect(),
            );
        }
        if !LLVMIsASelectInst(value).is_null() {
            return Some(vec![LLVMGetOperand(value, 1), LLVMGetOperand(value, 2)]);
        }
        if !LLVMIsAFreezeInst(value).is_null() {
            return Some(vec![LLVMGetOperand(value, 0)]);
        }
    }
    None
}

/// For an argument of a function with local linkage whose every use is the callee of a call or
/// invoke, the operands passed for it at those calls. `None` when the function is visible outside
/// the module or its address is taken, so callers are unknown.
fn argument_sources(argument: LLVMValueRef) -> Option<Vec<LLVMValueRef>> {
    // SAFETY: reads of a live argument, its function and that function's uses.
    unsafe {
        let function = LLVMGetParamParent(argument);
        if function.is_null() || !has_local_linkage(function) {
            return None;
        }
        let count = LLVMCountParams(function);
        let position = (0..count).find(|index| LLVMGetParam(function, *index) == argument)?;
        let mut sources = Vec::new();
        let mut used = LLVMGetFirstUse(function);
        while !used.is_null() {
            let user = LLVMGetUser(used);
            used = LLVMGetNextUse(used);
            if !is_call_of(user, function) {
                return None;
            }
            let operand_count = LLVMGetNumOperands(user).max(0) as u32;
            if position + 1 >= operand_count {
                return None;
            }
            sources.push(LLVMGetOperand(user, position));
        }
        Some(sources)
    }
}

/// True when `user` is a call or invoke whose callee is `function` and that passes `function`
/// nowhere else among its operands.
fn is_call_of(user: LLVMValueRef, function: LLVMValueRef) -> bool {
    // SAFETY: type tests and operand reads on a live user.
    unsafe {
        let is_call = !LLVMIsACallInst(user).is_null() || !LLVMIsAInvokeInst(user).is_null();
        if !is_call || LLVMGetCalledValue(user) != function {
            return false;
        }
        let count = LLVMGetNumOperands(user).max(0) as u32;
        let mentions = (0..count)
            .filter(|index| LLVMGetOperand(user, *index) == function)
            .count();
        mentions == 1
    }
}

pub(crate) fn has_local_linkage(value: LLVMValueRef) -> bool {
    // SAFETY: linkage read on a live global value.
    let linkage = unsafe { LLVMGetLinkage(value) };
    matches!(
        linkage,
        LLVMLinkage::LLVMInternalLinkage | LLVMLinkage::LLVMPrivateLinkage
    )
}

fn is_gep(value: LLVMValueRef) -> bool {
    // SAFETY: type tests on a live value.
    unsafe {
        !LLVMIsAGetElementPtrInst(value).is_null()
            || (!LLVMIsAConstantExpr(value).is_null()
                && LLVMGetConstOpcode(value) == LLVMOpcode::LLVMGetElementPtr)
    }
}

fn is_int_to_ptr(value: LLVMValueRef) -> bool {
    // SAFETY: type tests on a live value.
    unsafe {
        !LLVMIsAIntToPtrInst(value).is_null()
            || (!LLVMIsAConstantExpr(value).is_null()
                && LLVMGetConstOpcode(value) == LLVMOpcode::LLVMIntToPtr)
    }
}

/// The byte offset a `getelementptr` (instruction or constant expression) adds to its base, or
/// `None` when an index is not a constant.
fn gep_constant_offset(module: LLVMModuleRef, gep: LLVMValueRef) -> Option<i64> {
    // SAFETY: `gep` is a live getelementptr; the data layout belongs to the live module.
    unsafe {
        let layout = LLVMGetModuleDataLayout(module);
        let operand_count = LLVMGetNumOperands(gep).max(0) as u32;
        let mut element = LLVMGetGEPSourceElementType(gep);
        let mut offset: i64 = 0;
        for position in 1..operand_count {
            let index = constant_index(LLVMGetOperand(gep, position))?;
            if position == 1 {
                let size = i64::try_from(LLVMABISizeOfType(layout, element)).ok()?;
                offset = offset.checked_add(index.checked_mul(size)?)?;
                continue;
            }
            match LLVMGetTypeKind(element) {
                LLVMTypeKind::LLVMStructTypeKind => {
                    let field = u32::try_from(index).ok()?;
                    let field_offset = LLVMOffsetOfElement(layout, element, field);
                    offset = offset.checked_add(i64::try_from(field_offset).ok()?)?;
                    element = LLVMStructGetTypeAtIndex(element, field);
                }
                LLVMTypeKind::LLVMArrayTypeKind | LLVMTypeKind::LLVMVectorTypeKind => {
                    element = LLVMGetElementType(element);
                    let size = i64::try_from(LLVMABISizeOfType(layout, element)).ok()?;
                    offset = offset.checked_add(index.checked_mul(size)?)?;
                }
                _ => return None,
            }
        }
        Some(offset)
    }
}

fn constant_index(value: LLVMValueRef) -> Option<i64> {
    // SAFETY: type test and constant read on a live value.
    unsafe {
        if value.is_null() || LLVMIsAConstantInt(value).is_null() {
            return None;
        }
        Some(LLVMConstIntGetSExtValue(value))
    }
}

/// Byte offset of each operand of a vtable's packed initializer.
pub(crate) fn operand_offsets(module: LLVMModuleRef, initializer: LLVMValueRef) -> Vec<u64> {
    // SAFETY: `initializer` is a live constant struct; the data layout belongs to the module.
    unsafe {
        let layout = LLVMGetModuleDataLayout(module);
        let struct_type = LLVMTypeOf(initializer);
        let count = LLVMCountStructElementTypes(struct_type);
        (0..count)
            .map(|index| LLVMOffsetOfElement(layout, struct_type, index))
            .collect()
    }
}

/// The LLVM function type of a slot's function.
pub(crate) fn function_type(function: LLVMValueRef) -> LLVMTypeRef {
    // SAFETY: `function` is a live function.
    unsafe { LLVMGlobalGetValueType(function) }
}

/// True when `vtable` (a recognised vtable global) is used in a way that could read its slots
/// other than through a load at a constant offset, so every slot must stay. `vtables` holds all
/// recognised vtable globals, whose initializers may point at each other (trait upcasting).
///
/// Plain uses of its address are fine: a store of it, a `phi`, `select`, `freeze`, comparison,
/// `insertvalue` or `ret`, and an argument of a call to a function defined in the bitcode.
/// Those only pass the pointer on, and any later read of a slot is a load that the call tracing
/// sees. Everything else escapes: a memory intrinsic or any other intrinsic, a call to a
/// declaration (native code), an indirect call (possibly native), `ptrtoint`, a
/// `getelementptr` whose result is used other than by loads, and a place in the initializer of
/// any global other than another vtable.
pub(crate) fn vtable_escapes(vtable: LLVMValueRef, vtables: &HashSet<LLVMValueRef>) -> bool {
    let mut visited = HashSet::new();
    users(vtable)
        .into_iter()
        .any(|user| !is_plain_use(vtable, user, vtables, &mut visited))
}

fn users(value: LLVMValueRef) -> Vec<LLVMValueRef> {
    let mut found = Vec::new();
    // SAFETY: iteration over the use list of a live value.
    unsafe {
        let mut used = LLVMGetFirstUse(value);
        while !used.is_null() {
            found.push(LLVMGetUser(used));
            used = LLVMGetNextUse(used);
        }
    }
    found
}

fn is_plain_use(
    value: LLVMValueRef,
    user: LLVMValueRef,
    vtables: &HashSet<LLVMValueRef>,
    visited: &mut HashSet<LLVMValueRef>,
) -> bool {
    // SAFETY: type tests and operand reads on live values.
    unsafe {
        if !LLVMIsALoadInst(user).is_null() {
            return true;
        }
        if !LLVMIsAStoreInst(user).is_null() {
            return LLVMGetOperand(user, 1) != value;
        }
        if !LLVMIsACallInst(user).is_null() || !LLVMIsAInvokeInst(user).is_null() {
            let callee = LLVMGetCalledValue(user);
            if callee == value || LLVMIsAFunction(callee).is_null() {
                return false;
            }
            return LLVMGetIntrinsicID(callee) == 0 && LLVMIsDeclaration(callee) == 0;
        }
        let passes_on = !LLVMIsAPHINode(user).is_null()
            || !LLVMIsASelectInst(user).is_null()
            || !LLVMIsAFreezeInst(user).is_null()
            || !LLVMIsAICmpInst(user).is_null()
            || !LLVMIsAInsertValueInst(user).is_null()
            || !LLVMIsAReturnInst(user).is_null();
        if passes_on {
            return true;
        }
        if is_gep(user) {
            if LLVMGetOperand(user, 0) != value {
                return false;
            }
            if !visited.insert(user) {
                return true;
            }
            return users(user).into_iter().all(|next| {
                !LLVMIsALoadInst(next).is_null()
                    || (is_gep(next) && is_plain_use(user, next, vtables, visited))
            });
        }
        if !LLVMIsAGlobalVariable(user).is_null() {
            return vtables.contains(&user);
        }
        let is_aggregate = !LLVMIsAConstantStruct(user).is_null()
            || !LLVMIsAConstantArray(user).is_null()
            || !LLVMIsAConstantVector(user).is_null();
        if is_aggregate {
            if !visited.insert(user) {
                return true;
            }
            return users(user)
                .into_iter()
                .all(|next| is_plain_use(user, next, vtables, visited));
        }
    }
    false
}
