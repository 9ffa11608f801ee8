//! Deletes every symbol the entry cannot reach, then gives internal linkage to everything that
//! need not be visible outside the program. This runs before any optimisation, so LLVM never
//! spends time on dead code, and internal linkage lets the optimiser treat the program as
//! closed, as rustc's own LTO does. The removal of debug info lives here too; the loader calls
//! it on each module as it is parsed.

use llvm_sys::analysis::{LLVMVerifierFailureAction, LLVMVerifyModule};
use llvm_sys::comdat::LLVMSetComdat;
use llvm_sys::core::*;
use llvm_sys::debuginfo::LLVMStripModuleDebugInfo;
use llvm_sys::prelude::LLVMValueRef;
use llvm_sys::{LLVMDLLStorageClass, LLVMLinkage, LLVMVisibility};
use portkey_callgraph::{Reachability, SymbolKind};

use super::take_message;
use super::walk::ProgramGraph;
use crate::error::ShakeError;

/// Counts of defined symbols before and after deletion.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct StripCounts {
    pub functions_kept: u64,
    pub functions_removed: u64,
    pub globals_kept: u64,
    pub globals_removed: u64,
}

/// Deletes the unreachable functions, global variables, aliases and ifuncs of the module.
///
/// Initializers of dead globals are dropped first and every remaining use of a dead value is
/// replaced with `poison` before it is erased, so no erased value still has users. Only dead
/// code contains such uses, because anything a kept symbol refers to is reachable itself.
pub fn delete_unreachable(program: &ProgramGraph, reachable: &Reachability) -> StripCounts {
    let entry = program.values[program.entry.index()];
    let mut counts = StripCounts::default();
    let mut dead: Vec<(LLVMValueRef, SymbolKind)> = Vec::new();

    for (id, symbol) in program.graph.iter() {
        let value = program.values[id.index()];
        let kept = reachable.contains(id);
        if symbol.defined {
            match (symbol.kind, kept) {
                (SymbolKind::Function, true) => counts.functions_kept += 1,
                (SymbolKind::Function, false) => counts.functions_removed += 1,
                (_, true) => counts.globals_kept += 1,
                (_, false) => counts.globals_removed += 1,
            }
        }
        if !kept {
            dead.push((value, symbol.kind));
        }
    }

    // SAFETY: every value below is a live global value of the module until it is erased. Each
    // appears once in `dead`, because graph symbols have unique names, so it is erased once.
    unsafe {
        for (value, kind) in &dead {
            if *kind == SymbolKind::Global && LLVMIsDeclaration(*value) == 0 {
                LLVMSetInitializer(*value, std::ptr::null_mut());
            }
        }
        for (value, kind) in &dead {
            if *kind != SymbolKind::Alias {
                continue;
            }
            replace_uses_with_poison(*value);
            // The LLVM C API cannot erase an alias. Pointing it at the entry and making it
            // private leaves an unused local alias that the GlobalDCE of the pipeline deletes,
            // and releases the dead aliasee so it can be erased now.
            LLVMAliasSetAliasee(*value, entry);
            LLVMSetLinkage(*value, LLVMLinkage::LLVMPrivateLinkage);
        }
        for (value, kind) in &dead {
            replace_uses_with_poison(*value);
            match kind {
                SymbolKind::Function => LLVMDeleteFunction(*value),
                SymbolKind::Global => LLVMDeleteGlobal(*value),
                SymbolKind::IFunc => LLVMEraseGlobalIFunc(*value),
                SymbolKind::Alias => {}
            }
        }
    }
    counts
}

unsafe fn replace_uses_with_poison(value: LLVMValueRef) {
    unsafe {
        if LLVMGetFirstUse(value).is_null() {
            return;
        }
        let poison = LLVMGetPoison(LLVMTypeOf(value));
        LLVMReplaceAllUsesWith(value, poison);
    }
}

/// Gives internal linkage to every kept definition that is neither visible by necessity (entry,
/// native references, libcalls) nor one of LLVM's own `llvm.` globals.
pub fn internalize(program: &ProgramGraph, reachable: &Reachability) {
    for (id, symbol) in program.graph.iter() {
        let index = id.index();
        if !symbol.defined || program.visible[index] || symbol.name.starts_with("llvm.") {
            continue;
        }
        if symbol.kind == SymbolKind::IFunc {
            continue;
        }
        if !reachable.contains(id) {
            continue;
        }
        let value = program.values[index];
        // SAFETY: `value` is a kept, live global value.
        unsafe {
            let linkage = LLVMGetLinkage(value);
            let keep_linkage = matches!(
                linkage,
                LLVMLinkage::LLVMInternalLinkage
                    | LLVMLinkage::LLVMPrivateLinkage
                    | LLVMLinkage::LLVMAvailableExternallyLinkage
                    | LLVMLinkage::LLVMAppendingLinkage
            );
            if keep_linkage {
                continue;
            }
            LLVMSetLinkage(value, LLVMLinkage::LLVMInternalLinkage);
            LLVMSetVisibility(value, LLVMVisibility::LLVMDefaultVisibility);
            LLVMSetDLLStorageClass(value, LLVMDLLStorageClass::LLVMDefaultStorageClass);
            if symbol.kind != SymbolKind::Alias {
                LLVMSetComdat(value, std::ptr::null_mut());
            }
        }
    }
}

/// Removes debug info: a stripped executable keeps none of it, and it costs time in every pass.
pub fn strip_debug_info(module: &inkwell::module::Module<'_>) {
    // SAFETY: the module is live. The return value only reports whether anything was removed.
    unsafe {
        LLVMStripModuleDebugInfo(module.as_mut_ptr());
    }
}

/// Runs the LLVM verifier, so a shaking mistake is reported as such instead of crashing codegen.
pub fn verify(module: &inkwell::module::Module<'_>) -> Result<(), ShakeError> {
    let mut message = std::ptr::null_mut();
    // SAFETY: the module is live and the message is freed by `take_message`.
    let broken = unsafe {
        LLVMVerifyModule(
            module.as_mut_ptr(),
            LLVMVerifierFailureAction::LLVMReturnStatusAction,
            &mut message,
        )
    };
    let text = unsafe { take_message(message) };
    if broken != 0 {
        return Err(ShakeError::Verify { message: text });
    }
    Ok(())
}
