//! The IR half of the reachability fingerprint: a hash of the kept module in a canonical text
//! form, so it changes when kept code changes and stays the same when only unkept code does.
//!
//! Three things in the IR change without any change to kept code, and the canonical form removes
//! each of them:
//!
//! - Names of private and internal symbols (`anon.<hash>.N`, `alloc_<hash>`, `vtable.N`, `.N`
//!   suffixes) shift when an unkept item is added to the same codegen unit. Every symbol that is
//!   neither a declaration nor visible outside the program is renamed `__portkey_fp.<n>`, where
//!   `n` is its position in a walk from the roots (sorted by name) that follows operands in
//!   instruction order. The original names are restored afterwards.
//! - The order of items in the merged module follows the link line and the source, which does
//!   not change the program. Items are hashed sorted by their canonical text, and attribute
//!   group references (`#3`) are replaced by the attributes they stand for.
//! - Module metadata (identification, source file name, module id, debug info) does not change
//!   code. Metadata definitions are left out and metadata references become a bare `!`.
//!
//! Panic locations are constants holding the file, line and column, so a kept function that can
//! panic changes the fingerprint when it moves to another line.

use std::collections::{BTreeMap, HashMap, HashSet, VecDeque};

use inkwell::module::Module;
use llvm_sys::core::*;
use llvm_sys::prelude::{LLVMModuleRef, LLVMValueRef};

use super::take_message;
use super::walk::{ProgramGraph, value_name};

/// Prefix of the canonical names given to local symbols while the module is printed.
const CANONICAL_PREFIX: &str = "__portkey_fp.";

/// The canonical text of the kept module and its BLAKE3 hash.
#[derive(Debug, Clone)]
pub struct IrFingerprint {
    /// 64 lower-case hex digits.
    pub hex: String,
    /// The text that was hashed: header lines, then items in sorted order.
    pub canonical_text: String,
    /// A hash of each kept function's own canonical text and of the local constants it refers
    /// to (string literals, panic locations), by the function's original name, as 16 hex digits.
    /// References to renamed symbols are reduced to `@__portkey_fp`, so a function's hash
    /// changes with its own instructions and data, not with the numbering of other symbols.
    pub function_hashes: HashMap<String, String>,
}

/// The kept module printed with canonical names, before the text is reduced and hashed. Only
/// the printing needs LLVM; [`PrintedModule::finish`] is plain Rust and can run on another
/// thread while LLVM optimises.
pub struct PrintedModule {
    text: String,
    /// Original name of `__portkey_fp.<n>`, at index `n`.
    original_names: Vec<String>,
}

/// Prints the kept module for its fingerprint. Call it after deletion, internalisation and the
/// removal of debug info, and before optimisation.
pub fn print_kept_module(program: &ProgramGraph, module: &Module<'_>) -> PrintedModule {
    let module = module.as_mut_ptr();
    let order = walk_order(program, module);
    let renamed = rename_locals(program, &order);
    // SAFETY: the module is live; the printed text is copied and freed by `take_message`.
    let text = unsafe { take_message(LLVMPrintModuleToString(module)) };
    restore_names(&renamed);
    PrintedModule {
        text,
        original_names: renamed.into_iter().map(|(_, name)| name).collect(),
    }
}

impl PrintedModule {
    /// Reduces the printed text to its canonical form and hashes it.
    pub fn finish(self) -> IrFingerprint {
        let canonical_text = canonical_text(&self.text);
        let function_hashes = function_hashes(&canonical_text, &self.original_names);
        IrFingerprint {
            hex: blake3::hash(canonical_text.as_bytes()).to_hex().to_string(),
            canonical_text,
            function_hashes,
        }
    }
}

/// Computes the fingerprint of the kept module in one step; see [`print_kept_module`].
pub fn ir_fingerprint(program: &ProgramGraph, module: &Module<'_>) -> IrFingerprint {
    print_kept_module(program, module).finish()
}

/// Hashes each function definition of the canonical text with the renamed global variables it
/// refers to, keyed by the function's original name: `__portkey_fp.<n>` is the `n`th entry of
/// `renamed`.
fn function_hashes(canonical_text: &str, original_names: &[String]) -> HashMap<String, String> {
    let items: Vec<&str> = canonical_text.split("\n\n").collect();
    let variables: HashMap<&str, &str> = items
        .iter()
        .filter_map(|item| {
            let (name, _) = item.strip_prefix('@')?.split_once(" = ")?;
            name.starts_with(CANONICAL_PREFIX).then_some((name, *item))
        })
        .collect();
    let mut hashes = HashMap::new();
    for item in items.iter().filter(|item| item.starts_with("define ")) {
        let Some(name) = defined_name(item) else { continue };
        let original = match name.strip_prefix(CANONICAL_PREFIX).and_then(|number| number.parse::<usize>().ok()) {
            Some(index) => match original_names.get(index) {
                Some(original) => original.clone(),
                None => continue,
            },
            None => name.to_string(),
        };
        let mut hasher = blake3::Hasher::new();
        hasher.update(without_canonical_numbers(item).as_bytes());
        let mut seen = HashSet::new();
        for reference in canonical_references(item) {
            if let Some(variable) = variables.get(reference)
                && seen.insert(reference)
            {
                hasher.update(b"\n");
                hasher.update(without_canonical_numbers(variable).as_bytes());
            }
        }
        hashes.insert(original, hasher.finalize().to_hex()[..16].to_string());
    }
    hashes
}

/// Returns the name after the first `@` of a `define` line, quoted or not.
fn defined_name(item: &str) -> Option<&str> {
    let line = item.lines().next()?;
    let rest = &line[line.find('@')? + 1..];
    if let Some(quoted) = rest.strip_prefix('"') {
        return quoted.split('"').next();
    }
    let end = rest.find(|c: char| c == '(' || c.is_whitespace()).unwrap_or(rest.len());
    Some(&rest[..end])
}

/// Lists the canonical names `__portkey_fp.<n>` that `text` mentions, in order.
fn canonical_references(text: &str) -> Vec<&str> {
    let mut names = Vec::new();
    let mut offset = 0;
    while let Some(position) = text[offset..].find(CANONICAL_PREFIX) {
        let start = offset + position;
        let after = start + CANONICAL_PREFIX.len();
        let digits = text[after..].bytes().take_while(u8::is_ascii_digit).count();
        if digits > 0 {
            names.push(&text[start..after + digits]);
        }
        offset = after + digits;
    }
    names
}

/// Replaces every `__portkey_fp.<n>` with `__portkey_fp`.
fn without_canonical_numbers(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    while let Some(position) = rest.find(CANONICAL_PREFIX) {
        let after = position + CANONICAL_PREFIX.len();
        out.push_str(&rest[..after - 1]);
        let digits = rest[after..].bytes().take_while(u8::is_ascii_digit).count();
        rest = &rest[after + digits..];
    }
    out.push_str(rest);
    out
}

/// Global values reachable from the graph's roots, in the order a breadth-first walk over
/// operands meets them. Roots come in name order, which depends only on visible names.
fn walk_order(program: &ProgramGraph, module: LLVMModuleRef) -> Vec<LLVMValueRef> {
    let mut globals: HashSet<LLVMValueRef> = HashSet::new();
    let mut by_name: HashMap<String, LLVMValueRef> = HashMap::new();
    for (value, _) in super::walk::global_values(module) {
        globals.insert(value);
        by_name.insert(value_name(value), value);
    }
    let mut order = Vec::new();
    let mut seen: HashSet<LLVMValueRef> = HashSet::new();
    let mut queue: VecDeque<LLVMValueRef> = VecDeque::new();
    // Roots are looked up by name, because the module may have changed since the graph was
    // built; a root that no longer exists is skipped.
    for (root, _) in program.graph.roots() {
        let Some(value) = by_name.get(&program.graph.symbol(*root).name).copied() else {
            continue;
        };
        if seen.insert(value) {
            order.push(value);
            queue.push_back(value);
        }
    }
    let mut visited_constants: HashSet<LLVMValueRef> = HashSet::new();
    while let Some(value) = queue.pop_front() {
        let mut referenced = Vec::new();
        referenced_globals(value, &globals, &mut visited_constants, &mut referenced);
        for target in referenced {
            if seen.insert(target) {
                order.push(target);
                queue.push_back(target);
            }
        }
    }
    order
}

/// Appends the global values that `value`'s body, initializer, aliasee or resolver refers to, in
/// operand order.
fn referenced_globals(
    value: LLVMValueRef,
    globals: &HashSet<LLVMValueRef>,
    visited: &mut HashSet<LLVMValueRef>,
    out: &mut Vec<LLVMValueRef>,
) {
    // SAFETY: reads of a live global value of the module and of its instructions.
    unsafe {
        if !LLVMIsAFunction(value).is_null() {
            if LLVMHasPersonalityFn(value) != 0 {
                constant_globals(LLVMGetPersonalityFn(value), globals, visited, out);
            }
            let mut block = LLVMGetFirstBasicBlock(value);
            while !block.is_null() {
                let mut instruction = LLVMGetFirstInstruction(block);
                while !instruction.is_null() {
                    let count = LLVMGetNumOperands(instruction).max(0) as u32;
                    for index in 0..count {
                        let operand = LLVMGetOperand(instruction, index);
                        constant_globals(operand, globals, visited, out);
                    }
                    instruction = LLVMGetNextInstruction(instruction);
                }
                block = LLVMGetNextBasicBlock(block);
            }
            return;
        }
        if !LLVMIsAGlobalVariable(value).is_null() {
            constant_globals(LLVMGetInitializer(value), globals, visited, out);
            return;
        }
        if !LLVMIsAGlobalAlias(value).is_null() {
            constant_globals(LLVMAliasGetAliasee(value), globals, visited, out);
            return;
        }
        if !LLVMIsAGlobalIFunc(value).is_null() {
            constant_globals(LLVMGetGlobalIFuncResolver(value), globals, visited, out);
        }
    }
}

fn constant_globals(
    value: LLVMValueRef,
    globals: &HashSet<LLVMValueRef>,
    visited: &mut HashSet<LLVMValueRef>,
    out: &mut Vec<LLVMValueRef>,
) {
    if value.is_null() {
        return;
    }
    if globals.contains(&value) {
        out.push(value);
        return;
    }
    // SAFETY: type test and operand reads on a live constant.
    unsafe {
        if LLVMIsAConstant(value).is_null() || !visited.insert(value) {
            return;
        }
        let count = LLVMGetNumOperands(value).max(0) as u32;
        for index in 0..count {
            constant_globals(LLVMGetOperand(value, index), globals, visited, out);
        }
    }
}

/// Renames every walked definition that is not visible outside the program to its canonical
/// name and returns the original names.
fn rename_locals(program: &ProgramGraph, order: &[LLVMValueRef]) -> Vec<(LLVMValueRef, String)> {
    let mut renamed = Vec::new();
    for value in order {
        let name = value_name(*value);
        // SAFETY: declaration test on a live global value.
        let is_declaration = unsafe { LLVMIsDeclaration(*value) } != 0
            && unsafe { LLVMIsAGlobalAlias(*value) }.is_null();
        let visible = program
            .graph
            .symbol_id(&name)
            .is_some_and(|id| program.visible[id.index()]);
        if is_declaration || visible || name.starts_with("llvm.") {
            continue;
        }
        let canonical = format!("{CANONICAL_PREFIX}{}", renamed.len());
        // SAFETY: LLVM copies the name.
        unsafe { LLVMSetValueName2(*value, canonical.as_ptr().cast(), canonical.len()) };
        renamed.push((*value, name));
    }
    renamed
}

fn restore_names(renamed: &[(LLVMValueRef, String)]) {
    for (value, name) in renamed {
        // SAFETY: LLVM copies the name; the original name is free again because its owner is
        // the value being restored.
        unsafe { LLVMSetValueName2(*value, name.as_ptr().cast(), name.len()) };
    }
}

/// Turns the printed module into its canonical text: the target lines and module assembly in
/// order, then every type, global, function and declaration sorted, with attribute groups
/// inlined and metadata references reduced to `!`.
pub fn canonical_text(printed: &str) -> String {
    let mut attributes: BTreeMap<String, String> = BTreeMap::new();
    for line in printed.lines() {
        if let Some(rest) = line.strip_prefix("attributes #")
            && let Some((number, group)) = rest.split_once(" = ")
        {
            attributes.insert(number.to_string(), group.to_string());
        }
    }

    let mut header: Vec<String> = Vec::new();
    let mut items: Vec<String> = Vec::new();
    let mut function: Option<String> = None;
    for line in printed.lines() {
        if let Some(body) = function.as_mut() {
            body.push('\n');
            body.push_str(&canonical_line(line, &attributes));
            if line == "}" {
                items.extend(function.take());
            }
            continue;
        }
        let is_skipped = line.is_empty()
            || line.starts_with(';')
            || line.starts_with('!')
            || line.starts_with("source_filename")
            || line.starts_with("attributes #");
        if is_skipped {
            continue;
        }
        if line.starts_with("target ") || line.starts_with("module asm") {
            header.push(line.to_string());
            continue;
        }
        if line.starts_with("define ") {
            function = Some(canonical_line(line, &attributes));
            continue;
        }
        items.push(canonical_line(line, &attributes));
    }
    // A function without its closing brace cannot be printed by LLVM; keep what was read.
    items.extend(function.take());
    items.sort();

    let mut text = header.join("\n");
    for item in items {
        text.push_str("\n\n");
        text.push_str(&item);
    }
    text
}

/// Replaces attribute group references outside quoted text with the group's attributes, drops
/// metadata numbers and removes a trailing comment.
fn canonical_line(line: &str, attributes: &BTreeMap<String, String>) -> String {
    let mut out = String::with_capacity(line.len());
    let mut chars = line.chars().peekable();
    let mut quoted = false;
    while let Some(c) = chars.next() {
        if quoted {
            out.push(c);
            if c == '"' {
                quoted = false;
            }
            continue;
        }
        match c {
            '"' => {
                quoted = true;
                out.push(c);
            }
            ';' => break,
            '#' | '!' if chars.peek().is_some_and(char::is_ascii_digit) => {
                let mut number = String::new();
                while let Some(digit) = chars.peek().copied().filter(char::is_ascii_digit) {
                    number.push(digit);
                    chars.next();
                }
                if c == '!' {
                    out.push('!');
                    continue;
                }
                match attributes.get(&number) {
                    Some(group) => out.push_str(group),
                    None => {
                        out.push('#');
                        out.push_str(&number);
                    }
                }
            }
            _ => out.push(c),
        }
    }
    out.trim_end().to_string()
}

#[cfg(test)]
mod tests {
    use super::{canonical_references, canonical_text, defined_name, without_canonical_numbers};

    #[test]
    fn defined_name_reads_plain_and_quoted_names() {
        assert_eq!(defined_name("define internal void @__portkey_fp.12(ptr %0) {\n}"), Some("__portkey_fp.12"));
        assert_eq!(defined_name("define void @\"a b\"() {\n}"), Some("a b"));
        assert_eq!(defined_name("define void @_ZN5hello7flatter17h0E() {"), Some("_ZN5hello7flatter17h0E"));
    }

    #[test]
    fn canonical_references_are_found_in_order() {
        let text = "store ptr @__portkey_fp.7, ptr @__portkey_fp.2 ; @__portkey_fp.";
        assert_eq!(canonical_references(text), ["__portkey_fp.7", "__portkey_fp.2"]);
    }

    #[test]
    fn canonical_numbers_are_dropped() {
        assert_eq!(
            without_canonical_numbers("call void @__portkey_fp.3(ptr @__portkey_fp.17)"),
            "call void @__portkey_fp(ptr @__portkey_fp)"
        );
    }

    #[test]
    fn canonical_text_ignores_item_order_and_numbering() {
        let first = "; ModuleID = 'a'\nsource_filename = \"a\"\ntarget triple = \"x86_64\"\n\n\
                     @b = internal constant i8 1\n@a = internal constant i8 2\n\n\
                     define void @f() #0 {\n  ret void, !dbg !7 ; comment\n}\n\n\
                     attributes #0 = { nounwind }\n!7 = !{}\n";
        let second = "; ModuleID = 'b'\nsource_filename = \"b\"\ntarget triple = \"x86_64\"\n\n\
                      define void @f() #3 {\n  ret void, !dbg !12\n}\n\n\
                      @a = internal constant i8 2\n@b = internal constant i8 1\n\n\
                      attributes #3 = { nounwind }\n!12 = !{}\n";
        assert_eq!(canonical_text(first), canonical_text(second));
    }

    #[test]
    fn canonical_text_keeps_attributes_and_strings() {
        let nounwind = "define void @f() #0 {\n  ret void\n}\nattributes #0 = { nounwind }\n";
        let cold = "define void @f() #0 {\n  ret void\n}\nattributes #0 = { cold }\n";
        assert_ne!(canonical_text(nounwind), canonical_text(cold));
        let text = canonical_text("@s = constant [3 x i8] c\"#1;\"\n");
        assert_eq!(text, "\n\n@s = constant [3 x i8] c\"#1;\"");
    }
}
