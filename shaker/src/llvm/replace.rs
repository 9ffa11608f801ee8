//! Min-size mode: replaces the bodies of chosen std functions with minimal ones before the call
//! graph is built, so code that only they reached becomes unreachable and is deleted. The
//! functions are named by demangled path without the hash, so the table survives toolchain
//! updates that change hashes. A name that is not found, or whose function has an unexpected
//! signature, is skipped with a warning instead of failing the link.

use std::collections::{HashMap, HashSet};

use inkwell::module::Module;
use llvm_sys::LLVMTypeKind;
use llvm_sys::core::*;
use llvm_sys::prelude::LLVMValueRef;
use portkey_callgraph::names::demangle;
use portkey_report::Replacement;

use super::walk::value_name;

/// The minimal body a replaced function receives.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum NewBody {
    /// `ret i1 false`: a `fmt::Result` of `Ok(())`, as returned by a formatter that wrote
    /// nothing.
    FmtOk,
}

impl NewBody {
    fn describe(self) -> &'static str {
        match self {
            NewBody::FmtOk => "returns Ok(()) without writing",
        }
    }
}

/// One replacement: the functions it applies to, by demangled path without the hash, and the
/// body they receive. Every listed function that the bitcode defines is replaced. Several names
/// cover one call path, because whether std's helpers exist as separate functions depends on
/// its inlining decisions, which change between releases.
#[derive(Debug, Clone, Copy)]
pub struct BodyReplacement {
    pub names: &'static [&'static str],
    pub body: NewBody,
}

/// Functions that min-size mode replaces, with their new bodies.
///
/// `DisplayBacktrace::fmt` is the only caller of std's backtrace printer (`_print_fmt`), which
/// walks the stack and symbolises frames through gimli, addr2line, rustc_demangle and
/// miniz_oxide. std's default panic hook writes the panic message first and then formats a
/// `DisplayBacktrace` only when `RUST_BACKTRACE` requests a backtrace, so replacing it changes
/// only what a backtrace would print. `std::backtrace::Backtrace` is a separate path and is not
/// replaced. Measured on `hello::flatter` (rustc 1.95.0, x86_64 musl), this one replacement takes
/// the stripped executable from 537,240 to 313,688 bytes.
pub const MIN_SIZE_TABLE: &[BodyReplacement] = &[BodyReplacement {
    names: &[
        "<<std::sys::backtrace::BacktraceLock>::print::DisplayBacktrace as core::fmt::Display>::fmt",
        "std::sys::backtrace::_print_fmt",
    ],
    body: NewBody::FmtOk,
}];

/// What one replacement pass did: the functions replaced and the warnings for those skipped.
#[derive(Debug, Default)]
pub struct ReplaceOutcome {
    pub replaced: Vec<Replacement>,
    pub warnings: Vec<String>,
}

/// Replaces the body of every defined function of `module` whose demangled name (without hash)
/// is in `table`. A table entry none of whose names is defined gives a warning.
pub fn replace_bodies(module: &Module<'_>, table: &[BodyReplacement]) -> ReplaceOutcome {
    let listed: HashSet<&str> = table
        .iter()
        .flat_map(|replacement| replacement.names.iter().copied())
        .collect();
    let mut found: HashMap<&str, Vec<LLVMValueRef>> = HashMap::new();
    // SAFETY: plain iteration over the live module's functions.
    unsafe {
        let mut function = LLVMGetFirstFunction(module.as_mut_ptr());
        while !function.is_null() {
            if LLVMIsDeclaration(function) == 0
                && let Some(path) = demangle(&value_name(function))
                && let Some(name) = listed.get(path.as_str())
            {
                found.entry(name).or_default().push(function);
            }
            function = LLVMGetNextFunction(function);
        }
    }

    let mut outcome = ReplaceOutcome::default();
    for replacement in table {
        let before = outcome.replaced.len();
        for name in replacement.names {
            if let Some(functions) = found.get(name) {
                replace_named(&mut outcome, name, functions, replacement.body);
            }
        }
        if outcome.replaced.len() == before {
            outcome.warnings.push(format!(
                "min-size replacement skipped: none of {} is defined in the bitcode, so the code \
                 only they reach is kept; the toolchain's std may have renamed them",
                replacement.names.join(", ")
            ));
        }
    }
    outcome
}

/// Replaces the bodies of the functions named `name` whose signature fits `body`.
fn replace_named(
    outcome: &mut ReplaceOutcome,
    name: &str,
    functions: &[LLVMValueRef],
    body: NewBody,
) {
    let mut symbols = 0u64;
    for &function in functions {
        if !signature_fits(function, body) {
            outcome.warnings.push(format!(
                "min-size replacement skipped: `{}` ({name}) does not have the return type that \
                 `{}` needs, so it is kept unchanged",
                value_name(function),
                body.describe()
            ));
            continue;
        }
        // SAFETY: `function` is a live definition of the module whose signature fits `body`.
        unsafe { replace_body(function, body) };
        symbols += 1;
    }
    if symbols > 0 {
        outcome.replaced.push(Replacement {
            name: name.to_string(),
            new_body: body.describe().to_string(),
            symbols,
        });
    }
}

fn signature_fits(function: LLVMValueRef, body: NewBody) -> bool {
    // SAFETY: type queries on a live function.
    unsafe {
        let return_type = LLVMGetReturnType(LLVMGlobalGetValueType(function));
        match body {
            NewBody::FmtOk => {
                LLVMGetTypeKind(return_type) == LLVMTypeKind::LLVMIntegerTypeKind
                    && LLVMGetIntTypeWidth(return_type) == 1
            }
        }
    }
}

/// Deletes every instruction and block of `function` and gives it one block with the new body.
///
/// Values with uses are first replaced with `poison`, so erasing an instruction never leaves a
/// dangling use, and blocks are deleted only once no terminator refers to them.
///
/// # Safety
/// `function` is a live function definition whose signature fits `body`.
unsafe fn replace_body(function: LLVMValueRef, body: NewBody) {
    unsafe {
        let mut blocks = Vec::new();
        let mut block = LLVMGetFirstBasicBlock(function);
        while !block.is_null() {
            blocks.push(block);
            block = LLVMGetNextBasicBlock(block);
        }
        for &block in &blocks {
            let mut instruction = LLVMGetFirstInstruction(block);
            while !instruction.is_null() {
                if !LLVMGetFirstUse(instruction).is_null() {
                    LLVMReplaceAllUsesWith(instruction, LLVMGetPoison(LLVMTypeOf(instruction)));
                }
                instruction = LLVMGetNextInstruction(instruction);
            }
        }
        for &block in &blocks {
            let mut instruction = LLVMGetLastInstruction(block);
            while !instruction.is_null() {
                let previous = LLVMGetPreviousInstruction(instruction);
                LLVMInstructionEraseFromParent(instruction);
                instruction = previous;
            }
        }
        for &block in &blocks {
            LLVMDeleteBasicBlock(block);
        }

        let context = LLVMGetTypeContext(LLVMTypeOf(function));
        let entry = LLVMAppendBasicBlockInContext(context, function, c"entry".as_ptr());
        let builder = LLVMCreateBuilderInContext(context);
        LLVMPositionBuilderAtEnd(builder, entry);
        match body {
            NewBody::FmtOk => {
                let return_type = LLVMGetReturnType(LLVMGlobalGetValueType(function));
                LLVMBuildRet(builder, LLVMConstInt(return_type, 0, 0));
            }
        }
        LLVMDisposeBuilder(builder);
    }
}
