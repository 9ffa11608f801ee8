//! Optimisation and code generation: a target machine for the triple of the bitcode, the
//! `lto<Oz>` pipeline, and one relocatable object in memory.

use std::sync::Once;

use inkwell::OptimizationLevel;
use inkwell::module::Module;
use inkwell::passes::PassBuilderOptions;
use inkwell::targets::{
    CodeModel, FileType, InitializationConfig, RelocMode, Target, TargetMachine,
};

use super::LlvmSession;
use crate::args::ExecutableKind;
use crate::error::ShakeError;

/// The new pass manager's post-link pipeline for `opt-level = "z"`, the one rustc's own fat LTO
/// runs. rustc already ran the pre-link pipeline on every module it wrote as bitcode. Running
/// `default<Oz>` again took about 1.5 times as long to optimise, for executables within 1 % of
/// the same size (measured once on flatter, dates and render of `fixtures/suite`).
pub const PIPELINE: &str = "lto<Oz>";

/// How to generate code, as read from the link line.
#[derive(Debug, Clone)]
pub struct CodegenSettings {
    /// CPU from `-plugin-opt=mcpu=`; the architecture's baseline when absent.
    pub cpu: Option<String>,
    pub executable: ExecutableKind,
}

/// A target machine with the triple it was made for.
pub struct Machine {
    pub machine: TargetMachine,
    pub triple: String,
}

/// Creates a target machine for the module's triple. Only the X86 and AArch64 back ends are
/// initialised: the toolchain's libLLVM lacks the initialisers of some others, so
/// "initialise all" would not even link.
pub fn target_machine(
    module: &Module<'_>,
    settings: &CodegenSettings,
) -> Result<Machine, ShakeError> {
    let triple = module.get_triple();
    let triple_text = triple.as_str().to_string_lossy().into_owned();
    // Each back end is initialised once per process: code generation threads make target
    // machines of their own while the main thread generates code with its back end.
    static X86: Once = Once::new();
    static AARCH64: Once = Once::new();
    let config = InitializationConfig::default();
    let baseline_cpu = if triple_text.starts_with("x86_64") {
        X86.call_once(|| Target::initialize_x86(&config));
        "x86-64"
    } else if triple_text.starts_with("aarch64") {
        AARCH64.call_once(|| Target::initialize_aarch64(&config));
        "generic"
    } else {
        return Err(ShakeError::UnsupportedTarget {
            triple: triple_text,
            message: "no back end is initialised for this architecture".to_string(),
        });
    };
    let target = Target::from_triple(&triple).map_err(|message| ShakeError::UnsupportedTarget {
        triple: triple_text.clone(),
        message: message.to_string(),
    })?;
    let cpu = settings
        .cpu
        .clone()
        .unwrap_or_else(|| baseline_cpu.to_string());
    let reloc = match settings.executable {
        ExecutableKind::PositionIndependent => RelocMode::PIC,
        ExecutableKind::Fixed => RelocMode::Static,
    };
    // Each function carries its own `target-features` attribute from rustc, so the machine
    // needs none. Codegen at the default level matches what rustc uses for opt-level s and z.
    let machine = target
        .create_target_machine(
            &triple,
            &cpu,
            "",
            OptimizationLevel::Default,
            reloc,
            CodeModel::Default,
        )
        .ok_or_else(|| ShakeError::TargetMachine {
            triple: triple_text.clone(),
            cpu: cpu.clone(),
        })?;
    Ok(Machine {
        machine,
        triple: triple_text,
    })
}

/// Pipeline tuning that rustc uses for `opt-level = "z"`: no loop or SLP vectorisation, no
/// unrolling, and identical functions merged.
fn size_options() -> PassBuilderOptions {
    let options = PassBuilderOptions::create();
    options.set_loop_vectorization(false);
    options.set_loop_slp_vectorization(false);
    options.set_loop_interleaving(false);
    options.set_loop_unrolling(false);
    options.set_merge_functions(true);
    options
}

/// Runs [`PIPELINE`] over the module.
pub fn optimise(
    session: &LlvmSession,
    module: &Module<'_>,
    machine: &Machine,
) -> Result<(), ShakeError> {
    let result = module.run_passes(PIPELINE, &machine.machine, size_options());
    let diagnostics = session.take_errors();
    match (result, diagnostics) {
        (Ok(()), None) => Ok(()),
        (Err(message), _) => Err(ShakeError::Optimise {
            pipeline: PIPELINE.to_string(),
            message: message.to_string(),
        }),
        (Ok(()), Some(message)) => Err(ShakeError::Optimise {
            pipeline: PIPELINE.to_string(),
            message,
        }),
    }
}

/// Generates the object file in memory.
pub fn emit_object(
    session: &LlvmSession,
    module: &Module<'_>,
    machine: &Machine,
) -> Result<Vec<u8>, ShakeError> {
    let result = machine
        .machine
        .write_to_memory_buffer(module, FileType::Object);
    let diagnostics = session.take_errors();
    let codegen_error = |message: String| ShakeError::Codegen {
        triple: machine.triple.clone(),
        message,
    };
    let buffer = result.map_err(|message| codegen_error(message.to_string()))?;
    if let Some(message) = diagnostics {
        return Err(codegen_error(message));
    }
    Ok(buffer.as_slice().to_vec())
}
