//! Plain-text rendering of a [`ShakeReport`]: counts, sizes, bytes by crate and the largest
//! functions, in an order that depends only on the report's values.

use std::fmt::Write as _;

use crate::{
    ChainLink, CrateBytes, Explanation, FunctionEntry, ImageLayout, MethodShaking, ShakeReport,
    Verdict,
};

/// Number of functions listed in the text table.
const TOP_FUNCTIONS: usize = 20;

/// Number of functions removed by method shaking that the text lists by name.
const TOP_METHOD_REMOVALS: usize = 10;

/// Renders the report as a readable table. Rows are sorted by size, then name, so equal reports
/// render identically.
pub fn render_text(report: &ShakeReport) -> String {
    let mut out = String::new();
    // `fmt::Write for String` never returns an error, so the results of writeln! are ignored.
    let _ = writeln!(
        out,
        "shake report for {} (entry `{}`)",
        report.target_triple, report.entry
    );
    let _ = writeln!(
        out,
        "  inputs     {} bitcode modules ({}), {} native inputs",
        group_digits(report.inputs.bitcode_modules),
        bytes(report.inputs.bitcode_bytes),
        group_digits(report.inputs.native_inputs)
    );
    let _ = writeln!(
        out,
        "  functions  {:>9} kept {:>9} removed",
        group_digits(report.functions.kept),
        group_digits(report.functions.removed)
    );
    let _ = writeln!(
        out,
        "  globals    {:>9} kept {:>9} removed",
        group_digits(report.globals.kept),
        group_digits(report.globals.removed)
    );
    let _ = writeln!(out, "  size mode  {}", report.size_mode.as_str());
    if let Some(executor) = &report.executor {
        let _ = writeln!(out, "  executor   {executor}");
    }
    render_replacements(&mut out, report);
    render_method_shaking(&mut out, report);
    if !report.fingerprint.is_empty() {
        let _ = writeln!(out, "  fingerprint {}", report.fingerprint);
    }
    let _ = writeln!(out, "  object     {}", bytes(report.object_bytes));
    let _ = writeln!(
        out,
        "  binary     {} (stripped)",
        bytes(report.binary_bytes)
    );
    match report.zip_bytes {
        Some(zip) => {
            let _ = writeln!(out, "  zip        {}", bytes(zip));
        }
        None => {
            let _ = writeln!(out, "  zip        not packaged");
        }
    }

    let timings = &report.timings_ms;
    if report.cache_hit {
        let _ = writeln!(
            out,
            "  time (ms)  hash {} (cache hit: the results of an identical earlier link were reused)",
            timings.hash
        );
    } else {
        let _ = writeln!(
            out,
            "  time (ms)  hash {}, gather {}, graph {}, strip {}, optimise {}, codegen {}{}, link {}, layout {}, total {}",
            timings.hash,
            timings.gather,
            timings.graph,
            timings.strip,
            timings.optimise,
            timings.codegen,
            match report.codegen_parts {
                0 | 1 => String::new(),
                parts => format!(" ({parts} parts)"),
            },
            timings.link,
            timings.layout,
            timings.total()
        );
    }

    if let Some(layout) = &report.layout {
        render_layout(&mut out, layout, report.binary_bytes);
    }
    render_crates(&mut out, &report.bytes_by_crate);
    render_functions(&mut out, &report.largest_functions);
    render_explanations(&mut out, &report.explanations, &report.entry);
    out
}

fn render_replacements(out: &mut String, report: &ShakeReport) {
    for replacement in &report.replaced {
        let _ = writeln!(
            out,
            "    replaced {} ({} symbols): {}",
            replacement.name, replacement.symbols, replacement.new_body
        );
    }
    for warning in &report.warnings {
        let _ = writeln!(out, "    warning: {warning}");
    }
}

fn render_method_shaking(out: &mut String, report: &ShakeReport) {
    let Some(summary) = &report.method_shaking else {
        return;
    };
    if summary.mode == MethodShaking::Off {
        let _ = writeln!(out, "  methods    off");
        return;
    }
    let removed = &summary.removed_functions;
    let _ = writeln!(
        out,
        "  methods    on: {} slots trapped, {} functions removed",
        group_digits(summary.trapped_slots),
        group_digits(removed.len() as u64)
    );
    for name in removed.iter().take(TOP_METHOD_REMOVALS) {
        let _ = writeln!(out, "    removed {name}");
    }
    if removed.len() > TOP_METHOD_REMOVALS {
        let _ = writeln!(
            out,
            "    ... and {} more (the JSON report lists all)",
            removed.len() - TOP_METHOD_REMOVALS
        );
    }
}

fn render_explanations(out: &mut String, explanations: &[Explanation], entry: &str) {
    if explanations.is_empty() {
        return;
    }
    let _ = writeln!(out);
    let _ = writeln!(out, "explanations");
    for explanation in explanations {
        for line in render_explanation(explanation, entry).lines() {
            let _ = writeln!(out, "  {line}");
        }
    }
}

/// Renders one explanation: a heading with the verdict, then for a kept symbol one line per
/// step of the chain from the root (edge, then symbol), for an ambiguous query the candidates,
/// and for an unknown one the near matches. `entry` names the program entry in the message of a
/// removed symbol.
pub fn render_explanation(explanation: &Explanation, entry: &str) -> String {
    let mut out = String::new();
    let name = explanation
        .name
        .as_deref()
        .unwrap_or(explanation.query.as_str());
    match explanation.verdict {
        Verdict::Kept => {
            let steps = explanation.kept_because.len();
            let _ = writeln!(
                out,
                "{name}: kept, {steps} {} from a root",
                if steps == 1 { "step" } else { "steps" }
            );
            render_chain(&mut out, &explanation.kept_because);
            let intrinsic = explanation
                .symbol
                .as_deref()
                .is_some_and(|symbol| symbol.starts_with("llvm."));
            if explanation.declaration_only && intrinsic {
                let _ = writeln!(
                    out,
                    "note: an LLVM intrinsic, which code generation turns into instructions or a \
                     library call"
                );
            } else if explanation.declaration_only {
                let _ = writeln!(
                    out,
                    "note: the bitcode only declares it; its definition comes from native code"
                );
            }
            if let Some(size) = explanation.size_bytes {
                let _ = writeln!(out, "in the image: {} of machine code", bytes(size));
            }
            if explanation.inlined {
                let _ = writeln!(
                    out,
                    "in the image: no code of its own; the optimiser inlined or merged it"
                );
            }
        }
        Verdict::Removed => {
            let _ = writeln!(
                out,
                "{name}: removed: nothing reachable from {entry} refers to it"
            );
        }
        Verdict::Ambiguous => {
            let shown = explanation.candidates.len() as u64;
            let total = explanation.match_count.max(shown);
            let _ = write!(
                out,
                "`{}` matches {total} symbols; give more of the name, for example one of these",
                explanation.query
            );
            if total > shown {
                let _ = write!(out, " (first {shown} in name order)");
            }
            let _ = writeln!(out, ":");
            // The mangled name is the one spelling that is always unique.
            for candidate in &explanation.candidates {
                if candidate.name == candidate.mangled {
                    let _ = writeln!(out, "  {}", candidate.name);
                } else {
                    let _ = writeln!(out, "  {}  [{}]", candidate.name, candidate.mangled);
                }
            }
        }
        Verdict::NotFound => {
            let _ = write!(
                out,
                "`{}`: not found: no symbol of the program has this name or contains it",
                explanation.query
            );
            if explanation.near_matches.is_empty() {
                let _ = writeln!(out);
            } else {
                let _ = writeln!(out, "; near matches:");
                for near in &explanation.near_matches {
                    let _ = writeln!(out, "  {near}");
                }
            }
        }
    }
    out
}

fn render_chain(out: &mut String, chain: &[ChainLink]) {
    let width = chain.iter().map(|link| link.edge.len()).max().unwrap_or(0);
    for link in chain {
        let _ = writeln!(out, "  {:<width$}  {}", link.edge, link.symbol);
    }
}

/// Writes the executable's sections with who supplied their bytes, then the inputs.
fn render_layout(out: &mut String, layout: &ImageLayout, binary_bytes: u64) {
    let width = layout
        .sections
        .iter()
        .map(|section| section.name.len())
        .chain(["headers and padding".len()])
        .max()
        .unwrap_or(0);
    let _ = writeln!(out);
    let _ = writeln!(
        out,
        "executable by section ({} in the file; memory-only sections in parentheses)",
        bytes(binary_bytes)
    );
    let _ = writeln!(
        out,
        "  {:<width$} {:>12} {:>10} {:>10} {:>10}",
        "section", "bytes", "shaken", "native", "no symbol"
    );
    for section in &layout.sections {
        let size = match section.file_bytes {
            0 if section.memory_bytes > 0 => format!("({})", group_digits(section.memory_bytes)),
            file_bytes => group_digits(file_bytes),
        };
        let _ = writeln!(
            out,
            "  {:<width$} {:>12} {:>10} {:>10} {:>10}",
            section.name,
            size,
            group_digits(section.shaken_bytes),
            group_digits(section.native_bytes),
            group_digits(section.unnamed_bytes)
        );
    }
    let _ = writeln!(
        out,
        "  {:<width$} {:>12}",
        "headers and padding",
        group_digits(layout.headers_and_padding)
    );

    let width = layout
        .origins
        .iter()
        .map(|origin| origin.origin.len())
        .max()
        .unwrap_or(0)
        .max("input".len());
    let _ = writeln!(out);
    let _ = writeln!(
        out,
        "symbol bytes by input (the shaken object and native code, as linked)"
    );
    let _ = writeln!(
        out,
        "  {:<width$} {:>10} {:>12} {:>8}",
        "input", "in file", "memory only", "symbols"
    );
    for origin in &layout.origins {
        let _ = writeln!(
            out,
            "  {:<width$} {:>10} {:>12} {:>8}",
            origin.origin,
            group_digits(origin.bytes),
            group_digits(origin.memory_only_bytes),
            group_digits(origin.symbols)
        );
    }
}

fn render_crates(out: &mut String, crates: &[CrateBytes]) {
    let mut rows: Vec<&CrateBytes> = crates.iter().collect();
    rows.sort_by(|a, b| {
        b.bytes
            .cmp(&a.bytes)
            .then_with(|| a.crate_name.cmp(&b.crate_name))
    });
    let total: u64 = rows.iter().map(|row| row.bytes).sum();
    let width = rows
        .iter()
        .map(|row| row.crate_name.len())
        .max()
        .unwrap_or(0)
        .max("crate".len());

    let _ = writeln!(out);
    let _ = writeln!(
        out,
        "bytes by crate (symbols of the emitted object, counted before the final link)"
    );
    let _ = writeln!(
        out,
        "  {:<width$} {:>12} {:>7} {:>8}",
        "crate", "bytes", "share", "symbols"
    );
    for row in rows {
        let _ = writeln!(
            out,
            "  {:<width$} {:>12} {:>6.1}% {:>8}",
            row.crate_name,
            group_digits(row.bytes),
            percent(row.bytes, total),
            group_digits(row.symbols)
        );
    }
    let _ = writeln!(out, "  {:<width$} {:>12}", "total", group_digits(total));
}

fn render_functions(out: &mut String, functions: &[FunctionEntry]) {
    let mut rows: Vec<&FunctionEntry> = functions.iter().collect();
    rows.sort_by(|a, b| {
        b.size_bytes
            .cmp(&a.size_bytes)
            .then_with(|| a.name.cmp(&b.name))
            .then_with(|| a.mangled.cmp(&b.mangled))
    });
    rows.truncate(TOP_FUNCTIONS);

    let _ = writeln!(out);
    let _ = writeln!(out, "largest functions (top {TOP_FUNCTIONS})");
    let _ = writeln!(out, "  {:>9}  {:<16} function", "bytes", "crate");
    for row in rows {
        let size = row
            .size_bytes
            .map(group_digits)
            .unwrap_or_else(|| "-".to_string());
        let crate_name = row.crate_name.as_deref().unwrap_or("-");
        let _ = writeln!(out, "  {:>9}  {:<16} {}", size, crate_name, row.name);
    }
}

fn percent(part: u64, total: u64) -> f64 {
    if total == 0 {
        return 0.0;
    }
    part as f64 * 100.0 / total as f64
}

fn bytes(value: u64) -> String {
    format!("{} B", group_digits(value))
}

/// Formats an integer with a comma between groups of three digits.
fn group_digits(value: u64) -> String {
    let digits = value.to_string();
    let mut grouped = String::with_capacity(digits.len() + digits.len() / 3);
    for (index, digit) in digits.chars().enumerate() {
        if index > 0 && (digits.len() - index).is_multiple_of(3) {
            grouped.push(',');
        }
        grouped.push(digit);
    }
    grouped
}

#[cfg(test)]
mod tests {
    use super::group_digits;

    #[test]
    fn group_digits_inserts_commas() {
        let cases = [
            (0, "0"),
            (7, "7"),
            (999, "999"),
            (1_000, "1,000"),
            (12_345, "12,345"),
            (1_234_567, "1,234,567"),
            (u64::MAX, "18,446,744,073,709,551,615"),
        ];
        for (value, expected) in cases {
            assert_eq!(group_digits(value), expected, "value {value}");
        }
    }
}
