//! The trap behind method-level shaking: one internal function that calls `llvm.trap`, and the
//! rewrite of every trapped vtable slot to point at it. A slot is trapped only when no
//! reachable dynamic call can use it, so the trap never runs unless that analysis is wrong, and
//! then the program stops with SIGILL instead of calling a deleted method.

use std::collections::BTreeMap;

use llvm_sys::LLVMLinkage;
use llvm_sys::core::*;
use llvm_sys::prelude::{LLVMModuleRef, LLVMValueRef};

use super::walk::ProgramGraph;
use crate::error::ShakeError;

/// Name of the function every trapped slot points at.
pub const TRAP_FUNCTION: &str = "__portkey_trapped_slot";

/// Adds `void @__portkey_trapped_slot()` (internal, `noreturn`, `nounwind`, `cold`) whose body
/// is `llvm.trap` and `unreachable`, or returns the existing one.
pub(crate) fn add_trap_function(module: LLVMModuleRef) -> LLVMValueRef {
    let name = c"__portkey_trapped_slot";
    // SAFETY: the module is live; every value created here belongs to it.
    unsafe {
        let existing = LLVMGetNamedFunction(module, name.as_ptr());
        if !existing.is_null() {
            return existing;
        }
        let context = LLVMGetModuleContext(module);
        let void = LLVMVoidTypeInContext(context);
        let function_type = LLVMFunctionType(void, std::ptr::null_mut(), 0, 0);
        let function = LLVMAddFunction(module, name.as_ptr(), function_type);
        LLVMSetLinkage(function, LLVMLinkage::LLVMInternalLinkage);
        for attribute in ["noreturn", "nounwind", "cold"] {
            let kind = LLVMGetEnumAttributeKindForName(attribute.as_ptr().cast(), attribute.len());
            if kind == 0 {
                continue;
            }
            let value = LLVMCreateEnumAttribute(context, kind, 0);
            LLVMAddAttributeAtIndex(function, llvm_sys::LLVMAttributeFunctionIndex, value);
        }

        let entry = LLVMAppendBasicBlockInContext(context, function, c"entry".as_ptr());
        let builder = LLVMCreateBuilderInContext(context);
        LLVMPositionBuilderAtEnd(builder, entry);
        let trap_name = "llvm.trap";
        let trap_id = LLVMLookupIntrinsicID(trap_name.as_ptr().cast(), trap_name.len());
        let trap = LLVMGetIntrinsicDeclaration(module, trap_id, std::ptr::null_mut(), 0);
        let trap_type = LLVMIntrinsicGetType(context, trap_id, std::ptr::null_mut(), 0);
        LLVMBuildCall2(
            builder,
            trap_type,
            trap,
            std::ptr::null_mut(),
            0,
            c"".as_ptr(),
        );
        LLVMBuildUnreachable(builder);
        LLVMDisposeBuilder(builder);
        function
    }
}

/// Points every slot the graph reports as trapped at the trap function. Runs before deletion,
/// so no kept vtable still refers to a deleted method. Returns the number of slots rewritten.
pub fn trap_slots(program: &ProgramGraph) -> Result<u64, ShakeError> {
    let Some(shaking) = program.graph.method_shaking() else {
        return Ok(0);
    };
    let Some(trap) = program.trap else {
        return Ok(0);
    };
    let mut by_vtable: BTreeMap<usize, (LLVMValueRef, Vec<u32>)> = BTreeMap::new();
    for trapped in &shaking.trapped {
        let Some(&(vtable, operand)) = program.slots.get(trapped.slot.index()) else {
            continue;
        };
        by_vtable
            .entry(trapped.vtable.index())
            .or_insert_with(|| (vtable, Vec::new()))
            .1
            .push(operand);
    }

    let mut rewritten = 0u64;
    for (vtable, operands) in by_vtable.values() {
        // SAFETY: `vtable` is a live global variable with a constant struct initializer, and
        // its operands at the recorded positions are functions. Every replaced operand and the
        // trap are `ptr`, so the new initializer has the same packed literal type.
        unsafe {
            let initializer = LLVMGetInitializer(*vtable);
            let count = LLVMGetNumOperands(initializer).max(0) as u32;
            let mut elements: Vec<LLVMValueRef> = (0..count)
                .map(|index| LLVMGetOperand(initializer, index))
                .collect();
            for operand in operands {
                if let Some(element) = elements.get_mut(*operand as usize) {
                    *element = trap;
                    rewritten += 1;
                }
            }
            let context = LLVMGetTypeContext(LLVMTypeOf(initializer));
            let replaced = LLVMConstStructInContext(context, elements.as_mut_ptr(), count, 1);
            if LLVMTypeOf(replaced) != LLVMTypeOf(initializer) {
                return Err(ShakeError::TrapSlot {
                    vtable: super::walk::value_name(*vtable),
                });
            }
            LLVMSetInitializer(*vtable, replaced);
        }
    }
    Ok(rewritten)
}
