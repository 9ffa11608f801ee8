//! Everything that touches LLVM: the context and its diagnostics, loading and linking bitcode,
//! reading the call graph out of the IR, deleting what is unreachable, optimising and emitting
//! the object. The rest of the shaker works on plain Rust values.

pub mod emit;
pub mod fingerprint;
pub mod load;
pub mod methods;
pub mod replace;
pub mod split;
pub mod strip;
pub mod trap;
pub mod walk;

use std::cell::RefCell;
use std::ffi::{CStr, c_char, c_void};

use inkwell::context::Context;
use llvm_sys::LLVMDiagnosticSeverity;
use llvm_sys::core::{
    LLVMContextSetDiagnosticHandler, LLVMDisposeMessage, LLVMGetDiagInfoDescription,
    LLVMGetDiagInfoSeverity,
};
use llvm_sys::error_handling::LLVMInstallFatalErrorHandler;
use llvm_sys::prelude::LLVMDiagnosticInfoRef;

/// Error diagnostics LLVM reported through the context since the last [`LlvmSession::take_errors`].
#[derive(Default)]
struct Diagnostics {
    errors: RefCell<Vec<String>>,
}

/// An LLVM context whose diagnostics are collected instead of ending the process. LLVM's
/// default handler calls `exit(1)` on the first error, which would hide which input failed.
pub struct LlvmSession {
    // Declared before `diagnostics` so the context, which stores a pointer to it, drops first.
    context: Context,
    diagnostics: Box<Diagnostics>,
}

extern "C" fn collect_diagnostic(info: LLVMDiagnosticInfoRef, sink: *mut c_void) {
    // SAFETY: `sink` is the `Diagnostics` box owned by the session that installed this handler,
    // and the context that calls it is dropped before the box.
    let diagnostics = unsafe { &*(sink as *const Diagnostics) };
    let severity = unsafe { LLVMGetDiagInfoSeverity(info) };
    if severity != LLVMDiagnosticSeverity::LLVMDSError {
        return;
    }
    let text = unsafe { take_message(LLVMGetDiagInfoDescription(info)) };
    if let Ok(mut errors) = diagnostics.errors.try_borrow_mut() {
        errors.push(text);
    }
}

extern "C" fn report_fatal_error(reason: *const c_char) {
    let text = if reason.is_null() {
        String::from("(no reason given)")
    } else {
        // SAFETY: LLVM passes a NUL-terminated string that lives for the call.
        unsafe { CStr::from_ptr(reason) }
            .to_string_lossy()
            .into_owned()
    };
    eprintln!("portkey-ld: LLVM fatal error: {text}");
}

/// Copies and frees a message that LLVM allocated.
///
/// # Safety
/// `message` is null or a string allocated by LLVM that no other code frees.
pub(crate) unsafe fn take_message(message: *mut c_char) -> String {
    if message.is_null() {
        return String::new();
    }
    let text = unsafe { CStr::from_ptr(message) }
        .to_string_lossy()
        .into_owned();
    unsafe { LLVMDisposeMessage(message) };
    text
}

impl LlvmSession {
    /// Creates a context with the collecting diagnostic handler and installs a fatal-error
    /// handler that names portkey-ld before LLVM exits.
    pub fn new() -> Self {
        let session = LlvmSession {
            context: Context::create(),
            diagnostics: Box::default(),
        };
        let sink = &*session.diagnostics as *const Diagnostics as *mut c_void;
        // SAFETY: the handler only reads through `sink`, which outlives the context.
        unsafe {
            LLVMContextSetDiagnosticHandler(session.context.raw(), Some(collect_diagnostic), sink);
        }
        // Contexts are also made on code generation threads; the handler is process-wide.
        static FATAL_HANDLER: std::sync::Once = std::sync::Once::new();
        // SAFETY: the handler is a plain function that lives for the whole process.
        FATAL_HANDLER.call_once(|| unsafe { LLVMInstallFatalErrorHandler(Some(report_fatal_error)) });
        session
    }

    pub fn context(&self) -> &Context {
        &self.context
    }

    /// Returns and clears the error diagnostics collected so far, joined into one message.
    pub fn take_errors(&self) -> Option<String> {
        let mut errors = self.diagnostics.errors.borrow_mut();
        if errors.is_empty() {
            return None;
        }
        let joined = errors.join("; ");
        errors.clear();
        Some(joined)
    }
}

impl Default for LlvmSession {
    fn default() -> Self {
        Self::new()
    }
}
