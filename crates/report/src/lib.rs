//! The shake report: what the shaker kept and removed, where the bytes of the emitted object
//! went, and how long each phase took. The shaker fills it, the packager adds the zip size, and
//! the CLI prints it with [`render_text`] or as JSON (the serde form). This crate depends on neither
//! LLVM nor object files: every value arrives already computed.

mod render;

pub use render::render_text;

use serde::{Deserialize, Serialize};

/// Everything the shaker records about one link.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ShakeReport {
    /// LLVM target triple of the linked bitcode, for example `x86_64-unknown-linux-musl`.
    pub target_triple: String,
    /// Symbol the program starts from, `main` for an executable.
    pub entry: String,
    pub inputs: InputSummary,
    pub functions: KeptRemoved,
    pub globals: KeptRemoved,
    /// Every function kept by the shaker, sorted by mangled name. Functions that the optimiser
    /// later inlined have no `size_bytes`.
    pub kept_functions: Vec<FunctionEntry>,
    /// The largest functions of the emitted object, largest first, each with the chain of
    /// references that kept it.
    pub largest_functions: Vec<FunctionEntry>,
    /// Symbol bytes of the emitted object grouped by crate, largest first.
    pub bytes_by_crate: Vec<CrateBytes>,
    /// Size of the single object file handed to the native linker, in bytes.
    pub object_bytes: u64,
    /// Size of the stripped executable, in bytes.
    pub binary_bytes: u64,
    /// Size of the deployment zip in bytes, filled in by the packager.
    pub zip_bytes: Option<u64>,
    pub timings_ms: PhaseTimings,
    /// Explanations for the symbols named in `PORTKEY_LD_EXPLAIN`, in request order.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub explanations: Vec<Explanation>,
}

/// Whether a symbol someone asked about was kept, and why.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Explanation {
    /// The name as asked: mangled, or demangled without the hash.
    pub query: String,
    pub verdict: Verdict,
    /// Mangled name of the matching symbol, when one was found.
    pub symbol: Option<String>,
    /// Shortest chain of references from a root, root first; empty unless kept.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub kept_because: Vec<ChainLink>,
}

/// Outcome for one explained symbol.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Verdict {
    /// Reachable from a root and kept.
    Kept,
    /// Present in the bitcode but unreachable, so deleted.
    Removed,
    /// No symbol of that name was in the bitcode.
    NotFound,
}

/// Summary of the linker inputs.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct InputSummary {
    /// Bitcode modules parsed and linked into one.
    pub bitcode_modules: u64,
    /// Total size of those modules, in bytes.
    pub bitcode_bytes: u64,
    /// Native objects and archives passed to the final link unchanged or extracted from rlibs.
    pub native_inputs: u64,
}

/// Counts before and after shaking.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct KeptRemoved {
    pub kept: u64,
    pub removed: u64,
}

/// One function of the program.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct FunctionEntry {
    /// Demangled name without the hash suffix, or the symbol itself for non-Rust code.
    pub name: String,
    /// Symbol name as it appears in the object file.
    pub mangled: String,
    /// First path segment of the demangled name, `None` for non-Rust symbols.
    pub crate_name: Option<String>,
    /// Machine-code size in the emitted object, `None` when the function was inlined away.
    pub size_bytes: Option<u64>,
    /// Shortest chain of references from a root to this function, root first. Empty when not
    /// computed.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub kept_because: Vec<ChainLink>,
}

/// One step of an explanation: the symbol reached and how it was referenced.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ChainLink {
    /// Demangled symbol name.
    pub symbol: String,
    /// Edge kind that reached it, for example `call` or `constant`.
    pub edge: String,
}

/// Bytes of the emitted object attributed to one crate.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CrateBytes {
    /// Crate name, or [`NON_RUST_BUCKET`] for symbols that do not demangle as Rust.
    pub crate_name: String,
    pub bytes: u64,
    /// Number of symbols counted.
    pub symbols: u64,
}

/// Bucket name for symbols that are not Rust symbols (C code, `main`, runtime glue).
pub const NON_RUST_BUCKET: &str = "(C/non-Rust)";

/// Wall-clock time of each shaker phase, in milliseconds.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct PhaseTimings {
    /// Reading inputs, extracting bitcode, parsing and linking modules.
    pub gather: u64,
    /// Building the call graph and computing reachability.
    pub graph: u64,
    /// Deleting unreachable symbols, internalising and stripping debug info.
    pub strip: u64,
    /// The `default<Oz>` pipeline.
    pub optimise: u64,
    /// Emitting the object file.
    pub codegen: u64,
    /// The native link producing the executable.
    pub link: u64,
}

impl PhaseTimings {
    /// Sum of all phases, in milliseconds.
    pub fn total(&self) -> u64 {
        self.gather + self.graph + self.strip + self.optimise + self.codegen + self.link
    }
}

impl ShakeReport {
    /// Serialises the report as pretty-printed JSON.
    pub fn to_json(&self) -> Result<String, serde_json::Error> {
        serde_json::to_string_pretty(self)
    }

    /// Parses a report from its JSON form.
    pub fn from_json(text: &str) -> Result<Self, serde_json::Error> {
        serde_json::from_str(text)
    }

    /// Returns the explanation for `query`, if it was asked for.
    pub fn explanation(&self, query: &str) -> Option<&Explanation> {
        self.explanations
            .iter()
            .find(|explanation| explanation.query == query)
    }

    /// Finds a kept function by demangled or mangled name.
    pub fn kept_function(&self, name: &str) -> Option<&FunctionEntry> {
        self.kept_functions
            .iter()
            .find(|entry| entry.name == name || entry.mangled == name)
    }
}
