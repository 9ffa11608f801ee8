//! Parses every bitcode module into one context and links them into a single module, recording
//! which crate defined each symbol before the modules lose their identity. Debug info is
//! removed from each module as it is parsed.

use std::collections::HashMap;

use inkwell::memory_buffer::MemoryBuffer;
use inkwell::module::Module;
use llvm_sys::LLVMLinkage;
use llvm_sys::core::{
    LLVMGetFirstFunction, LLVMGetFirstGlobal, LLVMGetLinkage, LLVMGetNextFunction,
    LLVMGetNextGlobal, LLVMIsDeclaration, LLVMSetLinkage,
};
use llvm_sys::linker::LLVMLinkModules2;
use llvm_sys::prelude::{LLVMModuleRef, LLVMValueRef};

use super::LlvmSession;
use super::strip::strip_debug_info;
use super::walk::value_name;
use crate::error::ShakeError;
use crate::inputs::BitcodeBlob;

/// The whole program as one module, with the defining crate of each symbol.
pub struct LoadedProgram<'ctx> {
    pub module: Module<'ctx>,
    /// Symbol name to the crate whose module defined it.
    pub crate_of_symbol: HashMap<String, String>,
}

/// Parses and links `blobs` in order. Parse errors and link errors name the module's origin.
pub fn load_program<'ctx>(
    session: &'ctx LlvmSession,
    blobs: &[BitcodeBlob],
) -> Result<LoadedProgram<'ctx>, ShakeError> {
    let mut crate_of_symbol = HashMap::new();
    // Each module with the origins of the inputs linked into it so far.
    let mut modules: Vec<(Module<'ctx>, Vec<&str>)> = Vec::with_capacity(blobs.len());
    for blob in blobs {
        let buffer = MemoryBuffer::create_from_memory_range(&blob.bytes, &blob.origin);
        // This parser reports errors through its return value, not the context's handler.
        let module =
            Module::parse_bitcode_from_buffer(&buffer, session.context()).map_err(|message| {
                ShakeError::ParseBitcode {
                    origin: blob.origin.clone(),
                    message: message.to_string(),
                }
            })?;
        record_definitions(module.as_mut_ptr(), &blob.crate_name, &mut crate_of_symbol);
        // The executable keeps no debug info, and std's line tables would otherwise be copied
        // by every link below. Measured once on flatter, this and the pairwise linking below
        // together took the links from 0.64 s to 0.29 s.
        strip_debug_info(&module);
        keep_linkonce_definitions(module.as_mut_ptr());
        modules.push((module, vec![blob.origin.as_str()]));
    }

    // Each link walks every type of its destination, so linking one module after another into
    // a growing program costs time quadratic in its size. Pairs are linked instead, the right
    // neighbour into the left, round after round: definitions keep their link-line order, and
    // the first definition of a weak symbol still wins.
    while modules.len() > 1 {
        let mut next = Vec::with_capacity(modules.len().div_ceil(2));
        let mut round = modules.into_iter();
        while let Some((destination, mut origins)) = round.next() {
            if let Some((module, others)) = round.next() {
                link_into(session, &destination, module, &others)?;
                origins.extend(others);
            }
            next.push((destination, origins));
        }
        modules = next;
    }

    let (module, _) = modules.pop().ok_or(ShakeError::NoBitcode)?;
    Ok(LoadedProgram {
        module,
        crate_of_symbol,
    })
}

fn link_into<'ctx>(
    session: &'ctx LlvmSession,
    destination: &Module<'ctx>,
    module: Module<'ctx>,
    origins: &[&str],
) -> Result<(), ShakeError> {
    // SAFETY: both modules belong to the session's context; LLVMLinkModules2 destroys the
    // source module, so its wrapper is forgotten instead of dropped.
    let failed = unsafe { LLVMLinkModules2(destination.as_mut_ptr(), module.as_mut_ptr()) };
    std::mem::forget(module);
    let diagnostics = session.take_errors();
    if failed != 0 || diagnostics.is_some() {
        let origin = match origins {
            [only] => only.to_string(),
            [first, rest @ ..] => format!("{first} or one of the {} inputs after it", rest.len()),
            [] => "an unnamed input".to_string(),
        };
        return Err(ShakeError::LinkBitcode {
            origin,
            message: diagnostics.unwrap_or_else(|| "LLVM reported no reason".to_string()),
        });
    }
    Ok(())
}

/// Gives `weak` linkage to the module's `linkonce` definitions. LLVM's linker copies a
/// `linkonce` definition only when the module linked so far refers to it, so a definition that
/// only a later input uses would be dropped, depending on the link order. A weak definition is
/// always copied, and wins or loses against other definitions as the `linkonce` one would. What
/// the program does not reach is deleted after the walk either way.
fn keep_linkonce_definitions(module: LLVMModuleRef) {
    let relink = |value: LLVMValueRef| {
        // SAFETY: `value` is a live global value of `module`.
        unsafe {
            match LLVMGetLinkage(value) {
                LLVMLinkage::LLVMLinkOnceAnyLinkage => {
                    LLVMSetLinkage(value, LLVMLinkage::LLVMWeakAnyLinkage)
                }
                LLVMLinkage::LLVMLinkOnceODRLinkage => {
                    LLVMSetLinkage(value, LLVMLinkage::LLVMWeakODRLinkage)
                }
                _ => {}
            }
        }
    };
    for value in defined_values(module) {
        relink(value);
    }
}

/// Returns the functions and global variables that `module` defines, in module order.
fn defined_values(module: LLVMModuleRef) -> Vec<LLVMValueRef> {
    let mut values = Vec::new();
    // SAFETY: plain iteration over the module's function and global lists.
    unsafe {
        let mut function = LLVMGetFirstFunction(module);
        while !function.is_null() {
            if LLVMIsDeclaration(function) == 0 {
                values.push(function);
            }
            function = LLVMGetNextFunction(function);
        }
        let mut global = LLVMGetFirstGlobal(module);
        while !global.is_null() {
            if LLVMIsDeclaration(global) == 0 {
                values.push(global);
            }
            global = LLVMGetNextGlobal(global);
        }
    }
    values
}

fn record_definitions(module: LLVMModuleRef, crate_name: &str, out: &mut HashMap<String, String>) {
    for value in defined_values(module) {
        let name = value_name(value);
        if !name.is_empty() {
            out.entry(name).or_insert_with(|| crate_name.to_string());
        }
    }
}
