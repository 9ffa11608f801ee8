//! Code generation in parallel: the optimised module is cut into parts, each part is generated
//! on its own thread in its own LLVM context, and the final link joins the objects.
//!
//! Optimisation has already seen the whole program, so the cut only divides the work of the
//! back end, as rustc's codegen units do. Every function is defined in exactly one part and
//! declared in the others. Every global variable, appending array (`llvm.used`,
//! `llvm.global_ctors`) and function named by `llvm.used` stays in part 0. A local symbol used
//! from another part than its own becomes a hidden global under a new unique name, so the
//! static link resolves it inside the executable; [`Split::renamed`] maps the new names back
//! for the report. Modules with aliases, ifuncs or module-level assembly, which may name local
//! symbols in ways the cut cannot follow, or with unnamed definitions, which the parts could not
//! find by name, are generated in one part.

use std::collections::{HashMap, HashSet};
use std::ffi::CString;

use inkwell::memory_buffer::MemoryBuffer;
use inkwell::module::Module;
use llvm_sys::bit_writer::LLVMWriteBitcodeToMemoryBuffer;
use llvm_sys::comdat::LLVMSetComdat;
use llvm_sys::core::*;
use llvm_sys::prelude::{LLVMModuleRef, LLVMValueRef};
use llvm_sys::{LLVMLinkage, LLVMVisibility};

use llvm_sys::analysis::{LLVMVerifierFailureAction, LLVMVerifyModule};

use super::{LlvmSession, take_message};
use super::emit::{CodegenSettings, Machine, emit_object, target_machine};
use super::walk::value_name;
use crate::error::ShakeError;

/// Below this many instructions a module is generated in one part, because copying it out and
/// parsing the copy would cost about as much as the second thread saves (an estimate).
const MIN_INSTRUCTIONS_TO_SPLIT: usize = 20_000;

/// Stack size of each code generation thread, twice the main thread's 8 MiB, because some
/// back-end passes recurse over large functions.
const THREAD_STACK_BYTES: usize = 16 << 20;

/// The objects of one code generation.
pub struct Split {
    /// One relocatable object per part, part 0 first.
    pub objects: Vec<Vec<u8>>,
    /// New name to old name, for each local symbol that became a hidden global.
    pub renamed: HashMap<String, String>,
}

/// The number of parts a program is cut into unless `PORTKEY_LD_CODEGEN_PARTS` sets another. It
/// is fixed rather than taken from the core count, so that two machines build the same executable.
pub const DEFAULT_PARTS: usize = 2;

/// Generates code for `module` in up to `parts` parts, in parallel. The module is changed: it
/// keeps only part 0's definitions.
pub fn emit_objects(
    session: &LlvmSession,
    module: &Module<'_>,
    machine: &Machine,
    settings: &CodegenSettings,
    parts: usize,
) -> Result<Split, ShakeError> {
    let raw = module.as_mut_ptr();
    let Some(plan) = plan(raw, parts) else {
        return Ok(Split {
            objects: vec![emit_object(session, module, machine)?],
            renamed: HashMap::new(),
        });
    };
    let renamed = externalize_crossing_locals(raw, &plan);

    // Each further part is copied out as bitcode, because an LLVM context serves one thread.
    let mut bitcode = Vec::with_capacity(plan.parts - 1);
    for part in 1..plan.parts {
        // SAFETY: the clone belongs to the session's context and is disposed here.
        let checked = unsafe {
            let clone = LLVMCloneModule(raw);
            keep_only_part(clone, &plan, part);
            let checked = verify_part(clone, part);
            if checked.is_ok() {
                bitcode.push(write_bitcode(clone));
            }
            LLVMDisposeModule(clone);
            checked
        };
        checked?;
    }
    keep_only_part(raw, &plan, 0);
    verify_part(raw, 0)?;

    let mut objects = Vec::with_capacity(plan.parts);
    std::thread::scope(|scope| -> Result<(), ShakeError> {
        let mut handles = Vec::with_capacity(bitcode.len());
        for (index, bytes) in bitcode.into_iter().enumerate() {
            let settings = settings.clone();
            let handle = std::thread::Builder::new()
                .name(format!("codegen-{}", index + 1))
                .stack_size(THREAD_STACK_BYTES)
                .spawn_scoped(scope, move || emit_from_bitcode(&bytes, &settings, index + 1))
                .map_err(ShakeError::Thread)?;
            handles.push(handle);
        }
        let first = emit_object(session, module, machine);
        let mut rest = Vec::with_capacity(handles.len());
        for handle in handles {
            rest.push(handle.join().unwrap_or(Err(ShakeError::ThreadPanicked {
                task: "code generation",
            })));
        }
        objects.push(first?);
        for object in rest {
            objects.push(object?);
        }
        Ok(())
    })?;
    Ok(Split { objects, renamed })
}

/// Parses one part in a fresh context and generates its object.
fn emit_from_bitcode(
    bytes: &[u8],
    settings: &CodegenSettings,
    part: usize,
) -> Result<Vec<u8>, ShakeError> {
    let session = LlvmSession::new();
    let origin = format!("code generation part {part}");
    let buffer = MemoryBuffer::create_from_memory_range(bytes, &origin);
    let module = Module::parse_bitcode_from_buffer(&buffer, session.context()).map_err(
        |message| ShakeError::ParseBitcode {
            origin,
            message: message.to_string(),
        },
    )?;
    let machine = target_machine(&module, settings)?;
    emit_object(&session, &module, &machine)
}

/// The assignment of functions to parts.
struct Plan {
    parts: usize,
    part_of_function: HashMap<LLVMValueRef, usize>,
}

impl Plan {
    /// The part that defines `value`: its own part for a function, part 0 for anything else.
    fn part_of(&self, value: LLVMValueRef) -> usize {
        self.part_of_function.get(&value).copied().unwrap_or(0)
    }
}

/// Cuts the defined functions, in module order, into runs of about equal instruction counts.
/// `None` when the module should be generated in one part.
fn plan(module: LLVMModuleRef, parts: usize) -> Option<Plan> {
    if parts < 2 || !splittable(module) {
        return None;
    }
    let pinned = used_functions(module);
    let mut functions = Vec::new();
    let mut total = 0usize;
    // SAFETY: plain iteration over the live module.
    unsafe {
        let mut function = LLVMGetFirstFunction(module);
        while !function.is_null() {
            if LLVMIsDeclaration(function) == 0 {
                let size = instruction_count(function);
                total += size;
                functions.push((function, size));
            }
            function = LLVMGetNextFunction(function);
        }
    }
    if total < MIN_INSTRUCTIONS_TO_SPLIT {
        return None;
    }
    let parts = parts.min(total / (MIN_INSTRUCTIONS_TO_SPLIT / 2)).max(2);
    let share = total.div_ceil(parts);
    let mut part_of_function = HashMap::with_capacity(functions.len());
    let mut done = 0usize;
    for (function, size) in functions {
        let part = if pinned.contains(&function) {
            0
        } else {
            (done / share).min(parts - 1)
        };
        done += size;
        part_of_function.insert(function, part);
    }
    Some(Plan {
        parts,
        part_of_function,
    })
}

/// Returns whether the module can be cut: not when it has aliases, ifuncs, module-level
/// assembly or an unnamed definition, because the parts find each other's symbols by name.
fn splittable(module: LLVMModuleRef) -> bool {
    // SAFETY: reads of the live module.
    unsafe {
        let mut length = 0usize;
        let assembly = LLVMGetModuleInlineAsm(module, &mut length);
        let has_assembly = !assembly.is_null() && length > 0;
        if has_assembly
            || !LLVMGetFirstGlobalAlias(module).is_null()
            || !LLVMGetFirstGlobalIFunc(module).is_null()
        {
            return false;
        }
        let mut function = LLVMGetFirstFunction(module);
        while !function.is_null() {
            if LLVMIsDeclaration(function) == 0 && value_name(function).is_empty() {
                return false;
            }
            function = LLVMGetNextFunction(function);
        }
        let mut global = LLVMGetFirstGlobal(module);
        while !global.is_null() {
            if LLVMIsDeclaration(global) == 0 && value_name(global).is_empty() {
                return false;
            }
            global = LLVMGetNextGlobal(global);
        }
    }
    true
}

/// Returns the functions that `llvm.used` or `llvm.compiler.used` name, which stay beside those
/// arrays in part 0.
fn used_functions(module: LLVMModuleRef) -> HashSet<LLVMValueRef> {
    let mut pinned = HashSet::new();
    for name in [c"llvm.used", c"llvm.compiler.used"] {
        // SAFETY: reads of the live module; operands of a constant array are constants.
        unsafe {
            let array = LLVMGetNamedGlobal(module, name.as_ptr());
            if array.is_null() || LLVMIsDeclaration(array) != 0 {
                continue;
            }
            let initializer = LLVMGetInitializer(array);
            if initializer.is_null() {
                continue;
            }
            for index in 0..LLVMGetNumOperands(initializer).max(0) as u32 {
                let mut element = LLVMGetOperand(initializer, index);
                while !element.is_null() && !LLVMIsAConstantExpr(element).is_null() {
                    element = LLVMGetOperand(element, 0);
                }
                if !element.is_null() && !LLVMIsAFunction(element).is_null() {
                    pinned.insert(element);
                }
            }
        }
    }
    pinned
}

fn instruction_count(function: LLVMValueRef) -> usize {
    let mut count = 0;
    // SAFETY: plain iteration over a live function's blocks and instructions.
    unsafe {
        let mut block = LLVMGetFirstBasicBlock(function);
        while !block.is_null() {
            let mut instruction = LLVMGetFirstInstruction(block);
            while !instruction.is_null() {
                count += 1;
                instruction = LLVMGetNextInstruction(instruction);
            }
            block = LLVMGetNextBasicBlock(block);
        }
    }
    count
}

/// Gives every local symbol that another part uses a new unique name, external linkage and
/// hidden visibility. Returns new name to old name.
fn externalize_crossing_locals(module: LLVMModuleRef, plan: &Plan) -> HashMap<String, String> {
    let mut locals = Vec::new();
    // SAFETY: plain iteration over the live module.
    unsafe {
        let mut function = LLVMGetFirstFunction(module);
        while !function.is_null() {
            if LLVMIsDeclaration(function) == 0 && is_local(function) {
                locals.push(function);
            }
            function = LLVMGetNextFunction(function);
        }
        let mut global = LLVMGetFirstGlobal(module);
        while !global.is_null() {
            if LLVMIsDeclaration(global) == 0 && is_local(global) {
                locals.push(global);
            }
            global = LLVMGetNextGlobal(global);
        }
    }

    let mut users = UserParts::default();
    let mut renamed = HashMap::new();
    let mut counter = 0usize;
    for value in locals {
        let home = plan.part_of(value);
        let used_elsewhere = users.of(value, plan) & !(1u64 << home) != 0;
        if !used_elsewhere {
            continue;
        }
        let old = value_name(value);
        let new = loop {
            let candidate = format!("__portkey_part_local.{counter}");
            counter += 1;
            let c_name = CString::new(candidate.clone()).expect("no NUL in a generated name");
            // SAFETY: lookups by name in the live module.
            let taken = unsafe {
                !LLVMGetNamedFunction(module, c_name.as_ptr()).is_null()
                    || !LLVMGetNamedGlobal(module, c_name.as_ptr()).is_null()
            };
            if !taken {
                break candidate;
            }
        };
        // SAFETY: `value` is a live global value of the module.
        unsafe {
            LLVMSetValueName2(value, new.as_ptr().cast(), new.len());
            LLVMSetLinkage(value, LLVMLinkage::LLVMExternalLinkage);
            LLVMSetVisibility(value, LLVMVisibility::LLVMHiddenVisibility);
        }
        renamed.insert(new, old);
    }
    renamed
}

fn is_local(value: LLVMValueRef) -> bool {
    // SAFETY: `value` is a live global value.
    let linkage = unsafe { LLVMGetLinkage(value) };
    matches!(
        linkage,
        LLVMLinkage::LLVMInternalLinkage | LLVMLinkage::LLVMPrivateLinkage
    )
}

/// The parts whose code or data uses a value, as a bit set, with constants memoised: a vtable
/// or a constant expression can be shared by many users.
#[derive(Default)]
struct UserParts {
    constants: HashMap<LLVMValueRef, u64>,
}

impl UserParts {
    fn of(&mut self, value: LLVMValueRef, plan: &Plan) -> u64 {
        let mut parts = 0u64;
        // SAFETY: walks the use lists of live values.
        unsafe {
            let mut use_ = LLVMGetFirstUse(value);
            while !use_.is_null() {
                let user = LLVMGetUser(use_);
                parts |= self.of_user(user, plan);
                use_ = LLVMGetNextUse(use_);
            }
        }
        parts
    }

    fn of_user(&mut self, user: LLVMValueRef, plan: &Plan) -> u64 {
        // SAFETY: `user` is a live value taken from a use list.
        unsafe {
            if !LLVMIsAInstruction(user).is_null() {
                let function = LLVMGetBasicBlockParent(LLVMGetInstructionParent(user));
                return 1u64 << plan.part_of(function);
            }
            if !LLVMIsAFunction(user).is_null() {
                // A personality, prefix or prologue operand.
                return 1u64 << plan.part_of(user);
            }
            if !LLVMIsAGlobalValue(user).is_null() {
                // A global variable's initializer: all of them are in part 0.
                return 1;
            }
        }
        if let Some(parts) = self.constants.get(&user) {
            return *parts;
        }
        // Inserted first so a cycle through constants ends.
        self.constants.insert(user, 0);
        let parts = self.of(user, plan);
        self.constants.insert(user, parts);
        parts
    }
}

/// Turns every definition that is not in `part` into a declaration. Part 0 keeps the global
/// variables and appending arrays; the others lose them.
fn keep_only_part(module: LLVMModuleRef, plan: &Plan, part: usize) {
    // Functions of a clone are matched to the original's plan by name: cloning keeps names, and
    // `splittable` made sure that every definition has one.
    let part_by_name: HashMap<String, usize> = if part == 0 {
        HashMap::new()
    } else {
        plan.part_of_function
            .iter()
            .map(|(function, part)| (value_name(*function), *part))
            .collect()
    };
    let mut to_declare = Vec::new();
    // SAFETY: iteration over the live module; the functions are changed after the walk.
    unsafe {
        let mut function = LLVMGetFirstFunction(module);
        while !function.is_null() {
            if LLVMIsDeclaration(function) == 0 {
                let home = if part == 0 {
                    plan.part_of(function)
                } else {
                    part_by_name
                        .get(&value_name(function))
                        .copied()
                        .unwrap_or(0)
                };
                if home != part {
                    to_declare.push(function);
                }
            }
            function = LLVMGetNextFunction(function);
        }
    }
    for function in to_declare {
        // SAFETY: `function` is a live definition of `module`.
        unsafe { replace_with_declaration(module, function) };
    }
    if part == 0 {
        return;
    }
    let mut appending = Vec::new();
    // SAFETY: iteration over the live module; arrays are deleted after the walk.
    unsafe {
        let mut global = LLVMGetFirstGlobal(module);
        while !global.is_null() {
            if LLVMGetLinkage(global) == LLVMLinkage::LLVMAppendingLinkage {
                appending.push(global);
            } else if LLVMIsDeclaration(global) == 0 {
                // NOTE: the other parts see constants as declarations, so their back end cannot
                // turn a copy from constant data into immediate stores. Optimisation has already
                // folded what it could; flatter's executable kept its size.
                LLVMSetInitializer(global, std::ptr::null_mut());
                LLVMSetLinkage(global, LLVMLinkage::LLVMExternalLinkage);
                LLVMSetComdat(global, std::ptr::null_mut());
            }
            global = LLVMGetNextGlobal(global);
        }
        for global in appending {
            LLVMDeleteGlobal(global);
        }
    }
}

/// Replaces a function definition by a declaration of the same name, type, calling convention,
/// visibility and attributes. The LLVM C API cannot delete a body in place.
///
/// # Safety
/// `function` is a live definition of `module`.
unsafe fn replace_with_declaration(module: LLVMModuleRef, function: LLVMValueRef) {
    unsafe {
        let name = value_name(function);
        // NOTE: a declaration of a symbol that stays visible (`main`, what native code needs) is
        // not `dso_local`, so another part reaches it through the GOT or PLT. The link resolves
        // them inside the executable, and on x86_64 relaxes them to direct accesses.
        let declaration = LLVMAddFunction(module, c"".as_ptr(), LLVMGlobalGetValueType(function));
        LLVMSetFunctionCallConv(declaration, LLVMGetFunctionCallConv(function));
        LLVMSetLinkage(declaration, LLVMLinkage::LLVMExternalLinkage);
        LLVMSetVisibility(declaration, LLVMGetVisibility(function));
        LLVMSetUnnamedAddress(declaration, LLVMGetUnnamedAddress(function));
        let parameters = LLVMCountParams(function);
        let indices = [u32::MAX, 0].into_iter().chain(1..=parameters);
        for index in indices {
            let count = LLVMGetAttributeCountAtIndex(function, index);
            if count == 0 {
                continue;
            }
            let mut attributes = vec![std::ptr::null_mut(); count as usize];
            LLVMGetAttributesAtIndex(function, index, attributes.as_mut_ptr());
            for attribute in attributes {
                LLVMAddAttributeAtIndex(declaration, index, attribute);
            }
        }
        LLVMReplaceAllUsesWith(function, declaration);
        LLVMDeleteFunction(function);
        LLVMSetValueName2(declaration, name.as_ptr().cast(), name.len());
    }
}

/// Runs the LLVM verifier on one part, so that a mistake of the cut is reported as such instead
/// of ending the process in the back end.
fn verify_part(module: LLVMModuleRef, part: usize) -> Result<(), ShakeError> {
    let mut message = std::ptr::null_mut();
    // SAFETY: the module is live and the message is freed by `take_message`.
    let broken = unsafe {
        LLVMVerifyModule(
            module,
            LLVMVerifierFailureAction::LLVMReturnStatusAction,
            &mut message,
        )
    };
    let text = unsafe { take_message(message) };
    if broken != 0 {
        return Err(ShakeError::Verify {
            message: format!(
                "code generation part {part}: {text}; set PORTKEY_LD_CODEGEN_PARTS=1 to generate \
                 the program in one part, and report this"
            ),
        });
    }
    Ok(())
}

/// Serialises a module to bitcode.
///
/// # Safety
/// `module` is live.
unsafe fn write_bitcode(module: LLVMModuleRef) -> Vec<u8> {
    unsafe {
        let buffer = LLVMWriteBitcodeToMemoryBuffer(module);
        let start = LLVMGetBufferStart(buffer) as *const u8;
        let bytes = std::slice::from_raw_parts(start, LLVMGetBufferSize(buffer)).to_vec();
        LLVMDisposeMemoryBuffer(buffer);
        bytes
    }
}
