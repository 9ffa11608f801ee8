//! The shake report: what the shaker kept and removed, where the bytes of the emitted object
//! went, and how long each phase took. The shaker fills it, the packager adds the zip size, and
//! the CLI prints it with [`render_text`] or as JSON (the serde form). Explanations of single
//! symbols ([`explain`], [`render_explanation`]) are computed from the call graph, which the
//! shaker also stores beside the report. This crate depends on neither LLVM nor object files:
//! every value arrives already computed.

mod explain;
mod render;
mod treemap;

pub use explain::{chain_links, explain};
pub use render::{render_explanation, render_text};
pub use treemap::{Rect, TreemapTitle, render_treemap, squarify};

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
    /// Size of the object files handed to the native linker, in bytes.
    pub object_bytes: u64,
    /// Into how many parts code generation was cut, each part generated on its own thread; 0 in
    /// reports written before code generation was cut.
    #[serde(default)]
    pub codegen_parts: u64,
    /// Size of the stripped executable, in bytes.
    pub binary_bytes: u64,
    /// Size of the deployment zip in bytes, filled in by the packager.
    pub zip_bytes: Option<u64>,
    pub timings_ms: PhaseTimings,
    /// True when `portkey-ld` found an identical earlier link in its cache and copied that
    /// link's results without running LLVM. The timings then count the hashing of the inputs only.
    #[serde(default)]
    pub cache_hit: bool,
    /// Explanations for the symbols named in `PORTKEY_LD_EXPLAIN` or in the build options, in
    /// request order.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub explanations: Vec<Explanation>,
    /// Whether the shaker replaced the bodies of std's backtrace functions before the walk.
    #[serde(default)]
    pub size_mode: SizeMode,
    /// The functions whose bodies min-size mode replaced, in table order. Empty in default mode.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub replaced: Vec<Replacement>,
    /// Problems that did not stop the link, such as a replacement whose function was not found.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub warnings: Vec<String>,
    /// Hash of what the image keeps, as 64 lower-case hex digits: the kept IR in a canonical
    /// form, the native objects and archives of the final link, the target, the size mode and
    /// the method-shaking setting. Empty in reports written before it existed.
    #[serde(default)]
    pub fingerprint: String,
    /// The outcome of method-level shaking, `None` in reports written before it existed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub method_shaking: Option<MethodShakingSummary>,
    /// What runs an `async fn`'s future (`portkey block_on` or `tokio current-thread
    /// runtime`), filled in by the CLI; `None` for a synchronous function.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub executor: Option<String>,
    /// The executable's bytes by section, and its symbols' bytes by the input that supplied them. `None` in reports written before it existed, or when the executable
    /// could not be read.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub layout: Option<ImageLayout>,
    /// [`executable_stamp`] of the `portkey-ld` that wrote the report, so that a build can tell
    /// when the linker changed since. Empty in reports written before it existed.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub linker_stamp: String,
}

/// Returns the size and modification time of the file at `path` (after symbolic links), as
/// `<bytes> <nanoseconds since the epoch>`, or an empty string when they cannot be read.
pub fn executable_stamp(path: &std::path::Path) -> String {
    let Ok(metadata) = std::fs::metadata(path) else {
        return String::new();
    };
    let modified = metadata
        .modified()
        .ok()
        .and_then(|time| time.duration_since(std::time::UNIX_EPOCH).ok())
        .map(|duration| duration.as_nanos())
        .unwrap_or(0);
    format!("{} {modified}", metadata.len())
}

/// The executable's bytes by section and by the input that supplied them.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ImageLayout {
    /// Every named section of the executable, in the order of its section table.
    pub sections: Vec<SectionBytes>,
    /// Bytes of the file outside the sections: the ELF and program headers, alignment padding
    /// and the section header table. With the sections' file bytes it adds up to
    /// `binary_bytes`.
    pub headers_and_padding: u64,
    /// Symbol bytes of the executable grouped by input, largest in the file first: the shaken
    /// object as [`SHAKEN_OBJECT_ORIGIN`], each native object or archive by file name.
    pub origins: Vec<OriginBytes>,
}

/// One section of the executable and who supplied its bytes.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SectionBytes {
    /// Section name, for example `.text` or `.eh_frame`.
    pub name: String,
    /// Bytes the section takes in the file; 0 for sections that only take memory (`.bss`).
    pub file_bytes: u64,
    /// Bytes the section takes in memory; 0 for sections that are not loaded (`.comment`).
    pub memory_bytes: u64,
    /// Bytes of symbols defined by the shaken object.
    pub shaken_bytes: u64,
    /// Bytes of symbols defined by native objects and archives.
    pub native_bytes: u64,
    /// Bytes no symbol covers: unwind tables, relocations, string literals, linker padding.
    pub unnamed_bytes: u64,
}

/// Symbol bytes of the executable that one input supplied.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct OriginBytes {
    /// [`SHAKEN_OBJECT_ORIGIN`], the file name of a native input (`libc.a`, `crt1.o`), or
    /// [`UNKNOWN_ORIGIN`].
    pub origin: String,
    /// Bytes of its symbols in the file, in sections with contents.
    pub bytes: u64,
    /// Bytes of its symbols in sections that only take memory (`.bss`, `.tbss`), which the file
    /// and the zip do not contain.
    #[serde(default)]
    pub memory_only_bytes: u64,
    /// Number of symbols counted.
    pub symbols: u64,
}

/// Origin name of the object the shaker generated from the kept bitcode.
pub const SHAKEN_OBJECT_ORIGIN: &str = "(shaken object)";

/// Origin name of symbols that no input defines by that name, such as the linker's own.
pub const UNKNOWN_ORIGIN: &str = "(linker or unknown)";

/// Whether the shaker traps vtable slots that no reachable dynamic call can use.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum MethodShaking {
    /// Slots no reachable dynamic call can use point at a trap, and what only they reached
    /// is removed.
    #[default]
    On,
    /// Every slot of a reachable vtable is kept, as rustc and LLVM do.
    Off,
}

impl MethodShaking {
    /// The name used in the report and in `PORTKEY_LD_METHOD_SHAKING`.
    pub fn as_str(self) -> &'static str {
        match self {
            MethodShaking::On => "on",
            MethodShaking::Off => "off",
        }
    }

    /// Parses `on` or `off`; `None` for anything else.
    pub fn parse(text: &str) -> Option<MethodShaking> {
        match text {
            "on" => Some(MethodShaking::On),
            "off" => Some(MethodShaking::Off),
            _ => None,
        }
    }
}

/// The outcome of method-level shaking for one link.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct MethodShakingSummary {
    pub mode: MethodShaking,
    /// Method slots of kept vtables that now point at the trap function.
    pub trapped_slots: u64,
    /// Functions that only trapped slots reached, so they left the image, as demangled names
    /// without the hash, sorted. Empty when method shaking is off.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub removed_functions: Vec<String>,
}

/// How the shaker trades diagnostics for bytes.
///
/// The executable is stripped, so std's backtrace printer has no symbols to show: under
/// `RUST_BACKTRACE=1` it prints an empty backtrace, under `full` bare addresses that ASLR makes
/// meaningless. `Min`, the default, therefore removes it.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum SizeMode {
    /// Backtrace printing is replaced by a no-op, so panics print their message only and the
    /// symbolisation code (gimli, addr2line, rustc_demangle, miniz_oxide) is removed.
    #[default]
    Min,
    /// Every function keeps its body, std's backtrace printer included. Reports written before
    /// `min` became the default call this mode `default`.
    #[serde(alias = "default")]
    Full,
}

impl SizeMode {
    /// The name used on the command line, in the report and in `PORTKEY_LD_SIZE`.
    pub fn as_str(self) -> &'static str {
        match self {
            SizeMode::Min => "min",
            SizeMode::Full => "full",
        }
    }

    /// Parses `min` or `full`; `None` for anything else.
    pub fn parse(text: &str) -> Option<SizeMode> {
        match text {
            "min" => Some(SizeMode::Min),
            "full" => Some(SizeMode::Full),
            _ => None,
        }
    }
}

/// One function whose body min-size mode replaced.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Replacement {
    /// Demangled path without the hash, as the replacement table names it.
    pub name: String,
    /// What the new body does, for example `returns Ok(())`.
    pub new_body: String,
    /// Number of symbols of that name whose bodies were replaced (generic copies count apart).
    pub symbols: u64,
}

/// Whether a symbol someone asked about was kept, and why.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Explanation {
    /// The name as asked: mangled, demangled with or without the hash, or part of a name.
    pub query: String,
    pub verdict: Verdict,
    /// Mangled name of the matching symbol, when exactly one matched.
    pub symbol: Option<String>,
    /// Demangled name of that symbol without the hash.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    /// True when the bitcode only declares the symbol, so its definition comes from native code
    /// (the C library, a `-l` library or an object built by the `cc` crate).
    #[serde(default, skip_serializing_if = "is_false")]
    pub declaration_only: bool,
    /// Shortest chain of references from a root, root first; empty unless kept.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub kept_because: Vec<ChainLink>,
    /// Machine-code bytes of the kept function in the emitted object, when known.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub size_bytes: Option<u64>,
    /// True for a kept function that is absent from the emitted object because the optimiser
    /// inlined it into its callers or merged it with an identical function.
    #[serde(default, skip_serializing_if = "is_false")]
    pub inlined: bool,
    /// For an ambiguous query: the first matching symbols in name order.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub candidates: Vec<SymbolName>,
    /// For an ambiguous query: how many symbols matched in all.
    #[serde(default, skip_serializing_if = "is_zero")]
    pub match_count: u64,
    /// For a query that matched nothing: demangled names of similar symbols, closest first.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub near_matches: Vec<String>,
}

impl Explanation {
    /// Creates an explanation of `query` with the given verdict and every other field empty.
    pub fn new(query: impl Into<String>, verdict: Verdict) -> Self {
        Explanation {
            query: query.into(),
            verdict,
            symbol: None,
            name: None,
            declaration_only: false,
            kept_because: Vec::new(),
            size_bytes: None,
            inlined: false,
            candidates: Vec::new(),
            match_count: 0,
            near_matches: Vec::new(),
        }
    }
}

/// The names of one symbol.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SymbolName {
    /// Demangled name without the hash; the symbol itself for non-Rust code. Several symbols
    /// may share it (generic instances under legacy mangling).
    pub name: String,
    /// Symbol name as it appears in the bitcode, which names exactly one symbol.
    pub mangled: String,
}

/// Outcome for one explained symbol.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Verdict {
    /// Reachable from a root and kept.
    Kept,
    /// Present in the bitcode but unreachable, so deleted.
    Removed,
    /// The query matches several symbols.
    Ambiguous,
    /// No symbol of that name was in the bitcode.
    NotFound,
}

fn is_false(value: &bool) -> bool {
    !*value
}

fn is_zero(value: &u64) -> bool {
    *value == 0
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
    /// Hash of the function's own IR before optimisation (16 hex digits), which changes when
    /// its instructions change. `None` in the largest-function list and in older reports.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ir_hash: Option<String>,
    /// Shortest chain of references from a root to this function, root first. Empty when not
    /// computed.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub kept_because: Vec<ChainLink>,
}

/// One step of an explanation: the symbol reached and how it was referenced.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ChainLink {
    /// Demangled symbol name without the hash.
    pub symbol: String,
    /// Symbol name as it appears in the bitcode.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub mangled: String,
    /// Kind of reference from the previous symbol to this one: `call`, `reference` (an instruction operand
    /// other than the callee), `constant reference`, `vtable slot`, `trapped vtable slot`,
    /// `alias`, `personality`, `ifunc resolver`, or for the first step `root (<reason>)`.
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
    /// Hashing the link line and the contents of every input for the link cache.
    #[serde(default)]
    pub hash: u64,
    /// Reading inputs, extracting bitcode, parsing and linking modules.
    pub gather: u64,
    /// Building the call graph and computing reachability.
    pub graph: u64,
    /// Deleting unreachable symbols, internalising and stripping debug info.
    pub strip: u64,
    /// The `lto<Oz>` pipeline.
    pub optimise: u64,
    /// Emitting the object file.
    pub codegen: u64,
    /// The native link producing the executable.
    pub link: u64,
    /// A second link that keeps the symbol table, and the attribution of the executable's bytes
    /// to sections and inputs.
    #[serde(default)]
    pub layout: u64,
}

impl PhaseTimings {
    /// Sum of all phases, in milliseconds.
    pub fn total(&self) -> u64 {
        self.hash
            + self.gather
            + self.graph
            + self.strip
            + self.optimise
            + self.codegen
            + self.link
            + self.layout
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
