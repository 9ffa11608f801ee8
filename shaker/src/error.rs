//! Errors of the linker step. Each message names the file, archive member or symbol involved and
//! what to do next, because rustc shows them verbatim to the user when the link fails.

use std::path::PathBuf;

/// Any failure of `portkey-ld`.
#[derive(Debug, thiserror::Error)]
pub enum ShakeError {
    #[error("PORTKEY_LD_SIZE is {value:?}; set it to `min` or `full`, or leave it unset")]
    InvalidSizeMode { value: String },
    #[error("PORTKEY_LD_METHOD_SHAKING is {value:?}; set it to `on` or `off`, or leave it unset")]
    InvalidMethodShaking { value: String },
    #[error(
        "PORTKEY_LD_CODEGEN_PARTS is {value:?}; set it to a number from 1 to 64, or leave it \
         unset for 2 parts"
    )]
    InvalidCodegenParts { value: String },
    #[error("cannot start a thread: {0}")]
    Thread(#[source] std::io::Error),
    #[error("the {task} thread panicked; this is a bug in portkey-ld, please report it")]
    ThreadPanicked { task: &'static str },
    #[error(
        "cannot point the method slots of vtable `{vtable}` at the trap function: the rewritten          initializer has another type; build with method shaking off (`--no-method-shaking`,          PORTKEY_LD_METHOD_SHAKING=off) and report this vtable"
    )]
    TrapSlot { vtable: String },
    #[error("cannot read {path}: {source}")]
    Read {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("cannot write {path}: {source}")]
    Write {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("cannot read response file {path}: {source}")]
    ResponseFile {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error(
        "response files nest deeper than {max} levels at {path}; check for a file that includes itself"
    )]
    ResponseFileDepth { path: PathBuf, max: usize },
    #[error("linker argument `{flag}` expects a value but the argument list ends after it")]
    MissingValue { flag: String },
    #[error("linker argument {argument:?} is not valid UTF-8; rename the file or folder it names")]
    NonUtf8Argument { argument: std::ffi::OsString },
    #[error("no output path (`-o`) on the linker command line; portkey-ld must be called by rustc")]
    MissingOutput,
    #[error(
        "no LLVM bitcode among the linker inputs; build with `-C linker-plugin-lto` so rustc hands \
         portkey-ld bitcode, or unset PORTKEY_LD_REPORT to link natively"
    )]
    NoBitcode,
    #[error(
        "portkey-ld received `{argument}`, an argument for `ld` itself: rustc guessed the linker \
         flavour from the name; pass `-C linker-flavor=gcc` with `-C linker=portkey-ld`"
    )]
    LdFlavor { argument: String },
    #[error("portkey-ld links executables only, but the link line contains `{flag}`")]
    UnsupportedOutput { flag: String },
    #[error("{origin} is not a valid object file or archive: {message}")]
    Object { origin: String, message: String },
    #[error("cannot parse the LLVM bitcode of {origin}: {message}")]
    ParseBitcode { origin: String, message: String },
    #[error("cannot link the bitcode of {origin} into the program: {message}")]
    LinkBitcode { origin: String, message: String },
    #[error(
        "the entry symbol `{entry}` is not defined in any bitcode input; is this a binary crate?"
    )]
    MissingEntry { entry: String },
    #[error("call graph: {0}")]
    CallGraph(#[from] portkey_callgraph::CallGraphError),
    #[error(
        "LLVM does not support the target `{triple}`: {message}; portkey-ld handles x86_64 and aarch64"
    )]
    UnsupportedTarget { triple: String, message: String },
    #[error("cannot create an LLVM target machine for `{triple}` (cpu `{cpu}`)")]
    TargetMachine { triple: String, cpu: String },
    #[error("the shaken module failed LLVM verification: {message}")]
    Verify { message: String },
    #[error("the `{pipeline}` pass pipeline failed: {message}")]
    Optimise { pipeline: String, message: String },
    #[error("LLVM code generation for `{triple}` failed: {message}")]
    Codegen { triple: String, message: String },
    #[error(
        "cannot run the linker driver `{program}`: {source}; install a C toolchain (`cc`) or set PORTKEY_LD_CC"
    )]
    SpawnLinker {
        program: String,
        source: std::io::Error,
    },
    #[error("the native link with `{program}` failed ({status}); its messages are printed above")]
    NativeLink { program: String, status: String },
    #[error("cannot read the emitted object {path} for the report: {message}")]
    ReportObject { path: PathBuf, message: String },
    #[error(transparent)]
    GraphFile(#[from] portkey_callgraph::GraphFileError),
    #[error("cannot serialise the shake report: {0}")]
    ReportJson(#[from] serde_json::Error),
    #[error("cannot create a temporary folder for extracted objects: {0}")]
    TempDir(std::io::Error),
}
