//! Loading bitcode from several inputs on hand-written LLVM IR, parsed and written by the real
//! LLVM: a `linkonce_odr` definition that only an earlier input uses must survive the pairwise
//! linking, and the first of two definitions must win.

use inkwell::context::Context;
use inkwell::memory_buffer::MemoryBuffer;
use inkwell::module::Linkage;
use portkey_shaker::inputs::BitcodeBlob;
use portkey_shaker::llvm::LlvmSession;
use portkey_shaker::llvm::load::load_program;

const HEADER: &str = "target triple = \"x86_64-unknown-linux-gnu\"\n";

/// Parses `ir` and returns it as bitcode, named `origin`.
fn blob(origin: &str, ir: &str) -> BitcodeBlob {
    let context = Context::create();
    let text = format!("{HEADER}{ir}");
    let buffer = MemoryBuffer::create_from_memory_range_copy(text.as_bytes(), origin);
    let module = context
        .create_module_from_ir(buffer)
        .unwrap_or_else(|error| panic!("invalid IR in {origin}: {error}"));
    BitcodeBlob {
        origin: origin.to_string(),
        crate_name: origin.to_string(),
        bytes: module.write_bitcode_to_memory().as_slice().to_vec(),
    }
}

#[test]
fn linkonce_used_by_earlier_input_survives() {
    // Linked in pairs: a with b, c with d, then the two results. c does not use `helper`, so
    // LLVM's linker would drop d's linkonce_odr definition when linking d into c.
    let blobs = [
        blob("a", "declare i32 @helper()\ndefine i32 @main() {\n  %v = call i32 @helper()\n  ret i32 %v\n}\n"),
        blob("b", "define void @b_only() { ret void }\n"),
        blob("c", "define void @c_only() { ret void }\n"),
        blob("d", "define linkonce_odr i32 @helper() { ret i32 7 }\n"),
    ];
    let session = LlvmSession::new();
    let loaded = load_program(&session, &blobs).expect("the inputs link");
    let helper = loaded
        .module
        .get_function("helper")
        .expect("helper is in the program");
    assert!(helper.count_basic_blocks() > 0, "helper lost its definition");
    assert_eq!(helper.get_linkage(), Linkage::WeakODR);
    assert_eq!(loaded.crate_of_symbol.get("helper").map(String::as_str), Some("d"));
}

#[test]
fn first_weak_definition_wins() {
    let blobs = [
        blob("first", "define weak i32 @pick() { ret i32 1 }\n"),
        blob("second", "define void @other() { ret void }\n"),
        blob("third", "define weak i32 @pick() { ret i32 3 }\n"),
    ];
    let session = LlvmSession::new();
    let loaded = load_program(&session, &blobs).expect("the inputs link");
    assert!(loaded.module.get_function("pick").is_some());
    let text = loaded.module.print_to_string().to_string();
    assert!(text.contains("ret i32 1"), "{text}");
    assert!(!text.contains("ret i32 3"), "{text}");
    assert_eq!(loaded.crate_of_symbol.get("pick").map(String::as_str), Some("first"));
}
