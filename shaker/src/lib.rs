//! The linker step behind `portkey-ld`. rustc calls it as a gcc-flavoured linker when a build
//! uses `-C linker-plugin-lto -C linker=portkey-ld`. It gathers the whole program's LLVM bitcode
//! and keeps only what the entry reaches through the call graph. The rest is deleted, the
//! remainder optimised for size and emitted as one object, and the original linker driver
//! (`cc`) links that object into the static executable rustc requested. Without bitcode and without a report request it behaves
//! as a transparent linker, so it also works where cargo uses it for something unexpected.
//!
//! Environment: `PORTKEY_LD_REPORT` names the JSON report to write, and the call graph is
//! written beside it (same name, extension `callgraph`); `PORTKEY_LD_CC` overrides the linker
//! driver (default `cc`); `PORTKEY_LD_EXPLAIN` lists symbols (comma-separated) whose fate and
//! shortest reference chain the report records; `PORTKEY_LD_CACHE` sets the folder of the link
//! cache (default `portkey-ld-cache` in the cargo target folder, `off` to disable it);
//! `PORTKEY_LD_SIZE=min` replaces std's backtrace printer with a no-op before the walk
//! ([`llvm::replace`]), so panics print their message without a backtrace and the
//! symbolisation code is removed (default `default`); `PORTKEY_LD_METHOD_SHAKING=off` keeps every
//! method slot of every kept vtable instead of trapping the slots no reachable dynamic call can
//! use (default `on`, see [`llvm::methods`]).
//!
//! The report carries the image's reachability fingerprint ([`fingerprint`]); when
//! `PORTKEY_LD_FINGERPRINT_TEXT` names a file, the canonical IR text it hashes is written there,
//! so two fingerprints can be compared line by line.
//!
//! Every shaken link is keyed by the hash of its inputs ([`cache_key`]). When the cache holds
//! an identical earlier link, its executable, report and call graph are copied and LLVM does
//! not run ([`cache`]).

pub mod args;
pub mod cache;
pub mod cache_key;
pub mod error;
pub mod fingerprint;
pub mod inputs;
pub mod layout;
pub mod link;
pub mod llvm;
pub mod natives;
pub mod summary;
pub mod toolchain;

use std::ffi::OsString;
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Instant;

use portkey_report::{
    InputSummary, MethodShaking, MethodShakingSummary, PhaseTimings, ShakeReport, SizeMode,
};

pub use cache::CacheSetting;
pub use error::ShakeError;

use args::{LinkLine, expand_response_files};
use cache_key::{KeySettings, LinkKey};
use llvm::LlvmSession;

/// Symbol every executable starts from.
pub const ENTRY: &str = "main";

/// Settings read from the environment of the linker process.
#[derive(Debug, Clone)]
pub struct LinkerConfig {
    /// Path of the JSON report, or `None` for no report.
    pub report_path: Option<PathBuf>,
    /// The linker driver for the final link.
    pub cc: String,
    /// `rust-lld` for a cross link: when set, the final link runs it as GNU ld on the driver
    /// arguments translated to linker arguments, and `cc` is not called.
    pub lld: Option<PathBuf>,
    /// Symbols whose fate the report explains.
    pub explain: Vec<String>,
    /// Where identical links are looked up and stored.
    pub cache: CacheSetting,
    /// Whether std's backtrace printer is replaced before the walk.
    pub size_mode: SizeMode,
    /// Whether method slots that no reachable dynamic call can use are trapped.
    pub method_shaking: MethodShaking,
    /// Into how many parts code generation is cut, each generated on its own thread.
    pub codegen_parts: usize,
}

impl LinkerConfig {
    /// Reads `PORTKEY_LD_REPORT`, `PORTKEY_LD_CC`, `PORTKEY_LD_LLD`, `PORTKEY_LD_EXPLAIN`,
    /// `PORTKEY_LD_CACHE`, `PORTKEY_LD_SIZE`, `PORTKEY_LD_METHOD_SHAKING` and
    /// `PORTKEY_LD_CODEGEN_PARTS`. Fails when one of the last three has an unknown value.
    pub fn from_env() -> Result<Self, ShakeError> {
        let size_mode = match std::env::var("PORTKEY_LD_SIZE") {
            Ok(value) if !value.is_empty() => {
                SizeMode::parse(&value).ok_or(ShakeError::InvalidSizeMode { value })?
            }
            _ => SizeMode::Min,
        };
        let method_shaking = match std::env::var("PORTKEY_LD_METHOD_SHAKING") {
            Ok(value) if !value.is_empty() => {
                MethodShaking::parse(&value).ok_or(ShakeError::InvalidMethodShaking { value })?
            }
            _ => MethodShaking::On,
        };
        let codegen_parts = match std::env::var("PORTKEY_LD_CODEGEN_PARTS") {
            Ok(value) if !value.is_empty() => match value.parse::<usize>() {
                Ok(parts @ 1..=64) => parts,
                _ => return Err(ShakeError::InvalidCodegenParts { value }),
            },
            _ => llvm::split::DEFAULT_PARTS,
        };
        Ok(LinkerConfig {
            report_path: std::env::var_os("PORTKEY_LD_REPORT")
                .filter(|value| !value.is_empty())
                .map(PathBuf::from),
            cc: std::env::var("PORTKEY_LD_CC")
                .ok()
                .filter(|value| !value.is_empty())
                .unwrap_or_else(|| "cc".to_string()),
            lld: std::env::var_os("PORTKEY_LD_LLD")
                .filter(|value| !value.is_empty())
                .map(PathBuf::from),
            explain: std::env::var("PORTKEY_LD_EXPLAIN")
                .map(|list| parse_explain_list(&list))
                .unwrap_or_default(),
            cache: CacheSetting::from_env_value(std::env::var_os("PORTKEY_LD_CACHE")),
            size_mode,
            method_shaking,
            codegen_parts,
        })
    }

    /// The program that performs the final link.
    pub fn driver(&self) -> link::Driver<'_> {
        match &self.lld {
            Some(lld) => link::Driver::Lld(lld),
            None => link::Driver::Cc(&self.cc),
        }
    }

    /// The call-graph file written beside the report, when a report is requested.
    pub fn graph_path(&self) -> Option<PathBuf> {
        self.report_path
            .as_deref()
            .map(portkey_callgraph::graph_path_beside)
    }
}

/// Splits `PORTKEY_LD_EXPLAIN`: symbol names separated by commas or newlines. Demangled names
/// contain commas only inside `<...>`, so commas there do not split.
pub fn parse_explain_list(list: &str) -> Vec<String> {
    let mut names = Vec::new();
    let mut current = String::new();
    let mut depth = 0usize;
    for c in list.chars() {
        match c {
            '<' => depth += 1,
            '>' => depth = depth.saturating_sub(1),
            ',' | '\n' if depth == 0 => {
                names.push(std::mem::take(&mut current));
                continue;
            }
            _ => {}
        }
        current.push(c);
    }
    names.push(current);
    names
        .into_iter()
        .map(|name| name.trim().to_string())
        .filter(|name| !name.is_empty())
        .collect()
}

/// Result of one linker call.
#[derive(Debug)]
pub enum LinkOutcome {
    /// The program was shaken and linked, or an identical earlier link was copied from the cache
    /// (`cache_hit` in the report). The report is returned whether or not it was written.
    Shaken(Box<ShakeReport>),
    /// No bitcode and no report requested: the driver ran on the unchanged arguments.
    PassedThrough,
}

/// Entry point of the `portkey-ld` binary: links with the process arguments and environment and
/// prints any error on stderr, where rustc shows it.
pub fn linker_main() -> ExitCode {
    EXITING_AFTER_LINK.store(true, Ordering::Relaxed);
    let args: Vec<OsString> = std::env::args_os().skip(1).collect();
    let result = LinkerConfig::from_env().and_then(|config| link(&args, &config));
    match result {
        Ok(_) => ExitCode::SUCCESS,
        Err(error) => {
            eprintln!("portkey-ld: error: {error}");
            ExitCode::FAILURE
        }
    }
}

/// Set by [`linker_main`]: the process exits after one link, so LLVM's state need not be freed.
static EXITING_AFTER_LINK: AtomicBool = AtomicBool::new(false);

/// Links with the given linker arguments (as rustc passes them, `@file` arguments included).
pub fn link(args: &[OsString], config: &LinkerConfig) -> Result<LinkOutcome, ShakeError> {
    let started = Instant::now();
    let expanded = expand_response_files(args)?;
    let line = match LinkLine::parse(&expanded) {
        Ok(line) => line,
        Err(error) if config.report_path.is_none() => {
            // A link this tool does not handle, with no report requested: the driver runs it
            // exactly as it would without portkey-ld.
            let _ = error;
            return pass_through(args, config);
        }
        Err(error) => return Err(error),
    };

    // The key is computed before anything else reads the inputs, so a hit skips all of it.
    let cache_folder = config.cache.folder_for(&line.output);
    let key = match &cache_folder {
        Some(_) => Some(cache_key::link_key(
            &line,
            &KeySettings {
                driver: config.driver(),
                explain: &config.explain,
                size_mode: config.size_mode,
                method_shaking: config.method_shaking,
                codegen_parts: config.codegen_parts,
            },
        )?),
        None => None,
    };
    let hash_ms = elapsed_ms(started);
    let graph_path = config.graph_path();
    if let (Some(folder), Some(key)) = (&cache_folder, &key) {
        let targets = cache::RestoreTargets {
            output: &line.output,
            report: config.report_path.as_deref(),
            graph: graph_path.as_deref(),
        };
        if let Some(report) = cache::restore(folder, key, targets, hash_ms) {
            return Ok(LinkOutcome::Shaken(Box::new(report)));
        }
    }

    let shaken = shake_and_link(&line, config, hash_ms)?;
    let Some(shaken) = shaken else {
        return pass_through(args, config);
    };
    if let Some(path) = &config.report_path {
        write_file(path, shaken.report.to_json()?.as_bytes())?;
    }
    if let Some(path) = &graph_path {
        shaken.graph.save(path)?;
    }
    if let (Some(folder), Some(key)) = (&cache_folder, &key) {
        store_in_cache(folder, key, &line, &shaken);
    }
    Ok(LinkOutcome::Shaken(Box::new(shaken.report)))
}

/// A full link's report and the call graph it was computed from.
struct Shaken {
    report: ShakeReport,
    graph: portkey_callgraph::CallGraph,
}

fn store_in_cache(folder: &Path, key: &LinkKey, line: &LinkLine, shaken: &Shaken) {
    cache::store(
        folder,
        key,
        cache::LinkResults {
            output: &line.output,
            report: &shaken.report,
            graph: &shaken.graph,
        },
    );
}

/// Gathers the bitcode, shakes it, emits one object and runs the final link. Returns `None`
/// when there is no bitcode and no report was requested, so the caller passes the line through.
fn shake_and_link(
    line: &LinkLine,
    config: &LinkerConfig,
    hash_ms: u64,
) -> Result<Option<Shaken>, ShakeError> {
    let started = Instant::now();
    let gathered = inputs::gather(line)?;
    if gathered.bitcode.is_empty() {
        if config.report_path.is_none() {
            return Ok(None);
        }
        return Err(ShakeError::NoBitcode);
    }

    let session = LlvmSession::new();
    let loaded = llvm::load::load_program(&session, &gathered.bitcode)?;
    let replaced = match config.size_mode {
        SizeMode::Full => llvm::replace::ReplaceOutcome::default(),
        SizeMode::Min => {
            llvm::replace::replace_bodies(&loaded.module, llvm::replace::MIN_SIZE_TABLE)
        }
    };
    let input_summary = InputSummary {
        bitcode_modules: gathered.bitcode.len() as u64,
        bitcode_bytes: gathered.bitcode_bytes(),
        native_inputs: (gathered.native_inputs.len() + gathered.extracted.len()) as u64,
    };
    let gather_ms = elapsed_ms(started);

    let phase = Instant::now();
    let mut native_files = gathered.native_inputs.clone();
    native_files.extend(gathered.extracted.iter().cloned());
    // Native objects, extracted members and `-l` archives in line order, named for the layout.
    let native_inputs: Vec<layout::NativeInput> = gathered
        .native_inputs
        .iter()
        .cloned()
        .map(layout::NativeInput::new)
        .chain(gathered.extracted.iter().cloned().map(layout::NativeInput::extracted))
        .chain(
            natives::static_libraries(line, config.driver())
                .into_iter()
                .map(layout::NativeInput::new),
        )
        .collect();
    let native_paths: Vec<PathBuf> = native_inputs.iter().map(|input| input.path.clone()).collect();
    let mut native_references = natives::undefined_symbols(&native_paths)?;
    native_references.extend(llvm::walk::inline_asm_symbols(&loaded.module));
    let program = llvm::walk::build_graph_with(
        &loaded.module,
        &loaded.crate_of_symbol,
        ENTRY,
        &native_references,
        config.method_shaking,
    )?;
    let reachable = program.graph.reachable();
    let graph_ms = elapsed_ms(phase);

    let phase = Instant::now();
    let trapped_slots = llvm::trap::trap_slots(&program)?;
    let counts = llvm::strip::delete_unreachable(&program, &reachable);
    llvm::strip::internalize(&program, &reachable);
    // Taken before optimisation: measured on `fixtures/fingerprint`, the optimised module changed
    // after an in-place edit of a function the entry cannot reach, because its result depends on
    // the order of items in the module. The printed text is reduced and hashed on another thread
    // while LLVM optimises and generates code.
    let printed = llvm::fingerprint::print_kept_module(&program, &loaded.module);
    llvm::strip::verify(&loaded.module)?;
    let strip_ms = elapsed_ms(phase);

    let fingerprint_thread = std::thread::Builder::new()
        .name("fingerprint".to_string())
        .spawn(move || printed.finish())
        .map_err(ShakeError::Thread)?;
    let phase = Instant::now();
    let settings = llvm::emit::CodegenSettings {
        cpu: line.cpu.clone(),
        executable: line.executable,
    };
    let machine = llvm::emit::target_machine(&loaded.module, &settings)?;
    llvm::emit::optimise(&session, &loaded.module, &machine)?;
    let optimise_ms = elapsed_ms(phase);

    let phase = Instant::now();
    let split = llvm::split::emit_objects(
        &session,
        &loaded.module,
        &machine,
        &settings,
        config.codegen_parts,
    )?;
    let mut object_paths = Vec::with_capacity(split.objects.len());
    for (part, object) in split.objects.iter().enumerate() {
        let path = match part {
            0 => gathered.temp_dir.path().join("portkey-shaken.o"),
            _ => gathered.temp_dir.path().join(format!("portkey-shaken-{part}.o")),
        };
        write_file(&path, object)?;
        object_paths.push(path);
    }
    let codegen_ms = elapsed_ms(phase);
    let ir_fingerprint = fingerprint_thread
        .join()
        .map_err(|_| ShakeError::ThreadPanicked { task: "fingerprint" })?;
    if let Some(path) =
        std::env::var_os("PORTKEY_LD_FINGERPRINT_TEXT").filter(|path| !path.is_empty())
    {
        write_file(Path::new(&path), ir_fingerprint.canonical_text.as_bytes())?;
    }

    let phase = Instant::now();
    let final_args =
        link::final_arguments(line, &gathered.consumed, &object_paths, &gathered.extracted);
    link::run_driver(config.driver(), &final_args, gathered.temp_dir.path())?;
    let link_ms = elapsed_ms(phase);

    let fingerprint = fingerprint::fingerprint(&fingerprint::FingerprintInputs {
        ir_hex: &ir_fingerprint.hex,
        target_triple: &machine.triple,
        size_mode: config.size_mode,
        method_shaking: config.method_shaking,
        native_files: &native_files,
        line,
        driver: config.driver(),
    })?;
    let mut object_symbols = Vec::new();
    for (object, path) in split.objects.iter().zip(&object_paths) {
        let symbols =
            summary::object_symbols(object).map_err(|message| ShakeError::ReportObject {
                path: path.clone(),
                message,
            })?;
        object_symbols.extend(symbols);
    }
    let phase = Instant::now();
    let image_layout = measure_layout(
        config.driver(),
        &final_args,
        &line.output,
        gathered.temp_dir.path(),
        &object_symbols,
        &native_inputs,
    );
    let layout_ms = elapsed_ms(phase);
    for symbol in &mut object_symbols {
        if let Some(old) = split.renamed.get(&symbol.name) {
            symbol.name = old.clone();
        }
    }
    let binary_bytes = std::fs::metadata(&line.output)
        .map_err(|source| ShakeError::Read {
            path: line.output.clone(),
            source,
        })?
        .len();
    let mut report = summary::build_report(summary::ReportInputs {
        target_triple: machine.triple.clone(),
        entry: ENTRY.to_string(),
        inputs: input_summary,
        counts,
        graph: &program.graph,
        reachable: &reachable,
        object_symbols: &object_symbols,
        object_bytes: split.objects.iter().map(|object| object.len() as u64).sum(),
        binary_bytes,
        timings: PhaseTimings {
            hash: hash_ms,
            gather: gather_ms,
            graph: graph_ms,
            strip: strip_ms,
            optimise: optimise_ms,
            codegen: codegen_ms,
            link: link_ms,
            layout: layout_ms,
        },
        explain: &config.explain,
    });
    report.size_mode = config.size_mode;
    report.codegen_parts = split.objects.len() as u64;
    report.replaced = replaced.replaced;
    report.warnings = replaced.warnings;
    report.linker_stamp = std::env::current_exe()
        .map(|exe| portkey_report::executable_stamp(&exe))
        .unwrap_or_default();
    match image_layout {
        Ok(image_layout) => report.layout = Some(image_layout),
        Err(message) => report.warnings.push(format!(
            "the executable's layout was not measured: {message}"
        )),
    }
    report.fingerprint = fingerprint;
    for function in &mut report.kept_functions {
        function.ir_hash = ir_fingerprint.function_hashes.get(&function.mangled).cloned();
    }
    report.method_shaking = Some(MethodShakingSummary {
        mode: config.method_shaking,
        trapped_slots,
        removed_functions: summary::removed_by_method_shaking(&program.graph),
    });
    if EXITING_AFTER_LINK.load(Ordering::Relaxed) {
        // Tearing the context down frees every type, constant and function one by one. The
        // process ends right after the link, which releases all of that memory at once.
        std::mem::forget(loaded);
        std::mem::forget(session);
    }
    Ok(Some(Shaken {
        report,
        graph: program.graph,
    }))
}

/// Links the line a second time with its symbol table kept, into the scratch folder, and
/// attributes the shipped executable's bytes from it. The second link costs about as much as the
/// first: on the fixtures, tens of milliseconds.
fn measure_layout(
    driver: link::Driver<'_>,
    final_args: &[OsString],
    output: &Path,
    scratch: &Path,
    object_symbols: &[summary::ObjectSymbolSize],
    natives: &[layout::NativeInput],
) -> Result<portkey_report::ImageLayout, String> {
    let unstripped = scratch.join("portkey-unstripped");
    let args = link::unstripped_arguments(final_args, &unstripped);
    link::run_driver_quietly(driver, &args, scratch).map_err(|error| error.to_string())?;
    let shaken: std::collections::HashSet<String> = object_symbols
        .iter()
        .map(|symbol| symbol.name.clone())
        .collect();
    layout::image_layout(output, &unstripped, &shaken, natives)
}

/// Runs the driver on the original arguments and mirrors its exit status.
fn pass_through(args: &[OsString], config: &LinkerConfig) -> Result<LinkOutcome, ShakeError> {
    let expanded = expand_response_files(args)?;
    let scratch = tempfile::tempdir().map_err(|source| ShakeError::Write {
        path: std::env::temp_dir(),
        source,
    })?;
    link::run_driver(config.driver(), &expanded, scratch.path())?;
    Ok(LinkOutcome::PassedThrough)
}

fn write_file(path: &Path, bytes: &[u8]) -> Result<(), ShakeError> {
    if let Some(parent) = path
        .parent()
        .filter(|parent| !parent.as_os_str().is_empty())
    {
        std::fs::create_dir_all(parent).map_err(|source| ShakeError::Write {
            path: parent.to_path_buf(),
            source,
        })?;
    }
    std::fs::write(path, bytes).map_err(|source| ShakeError::Write {
        path: path.to_path_buf(),
        source,
    })
}

fn elapsed_ms(since: Instant) -> u64 {
    since.elapsed().as_millis() as u64
}

#[cfg(test)]
mod tests {
    use super::parse_explain_list;

    #[test]
    fn explain_list_splits_outside_angle_brackets() {
        let cases: &[(&str, &[&str])] = &[
            ("main", &["main"]),
            ("a, b,,c\nd", &["a", "b", "c", "d"]),
            (
                "<std::collections::HashMap<K, V> as core::fmt::Debug>::fmt,main",
                &[
                    "<std::collections::HashMap<K, V> as core::fmt::Debug>::fmt",
                    "main",
                ],
            ),
            ("", &[]),
        ];
        for (list, expected) in cases {
            assert_eq!(parse_explain_list(list), *expected, "list {list:?}");
        }
    }
}
