//! `portkey shake --fn <path>`: build the image and report what the shaker kept and removed.

use std::io::Write;

use anyhow::{Context, Result, bail};
use portkey_report::ShakeReport;
use serde::Serialize;

use crate::args::{ShakeArgs, image_settings};
use crate::image::{build_function_image_with, find, human_bytes};
use crate::project::ProjectDirs;

/// How many crates and functions an over-budget error names.
const BUDGET_CRATES: usize = 5;
const BUDGET_FUNCTIONS: usize = 5;

pub fn run_shake(args: &ShakeArgs) -> Result<()> {
    let manifest_path = args.build.project.manifest_path.as_deref();
    let dirs = ProjectDirs::find(manifest_path)?;
    let found = find(manifest_path, &args.function)?;
    let image = build_function_image_with(&dirs, found, &image_settings(args.size, args.no_method_shaking, args.arch))?;

    let (bootstrap, zip) = match &args.out {
        Some(out) => {
            std::fs::create_dir_all(out).with_context(|| format!("cannot create {}", out.display()))?;
            let bootstrap = out.join("bootstrap");
            let zip = out.join("function.zip");
            std::fs::copy(&image.bootstrap, &bootstrap)
                .with_context(|| format!("cannot write {}", bootstrap.display()))?;
            std::fs::copy(&image.package.zip, &zip).with_context(|| format!("cannot write {}", zip.display()))?;
            (bootstrap, zip)
        }
        None => (image.bootstrap.clone(), image.package.zip.clone()),
    };

    if let Some(path) = &args.treemap {
        let title = portkey_report::TreemapTitle {
            function: image.found.requested_path.clone(),
            zip_bytes: Some(image.package.zip_bytes),
        };
        std::fs::write(path, portkey_report::render_treemap(&image.report, &title))
            .with_context(|| format!("cannot write the treemap to {}", path.display()))?;
    }

    let budget = args.max_size.map(|max_bytes| Budget::check(max_bytes, image.package.zip_bytes, &image.report));
    let mut stdout = std::io::stdout().lock();
    if args.json {
        let mut value = serde_json::json!({
            "function": image.found.requested_path,
            "shim": image.shim_manifest,
            "bootstrap": bootstrap,
            "zip": zip,
            "code_sha256": image.package.code_sha256,
            "report": image.report,
        });
        if let Some(budget) = &budget {
            value["budget"] = serde_json::to_value(budget)?;
        }
        serde_json::to_writer_pretty(&mut stdout, &value)?;
        writeln!(stdout)?;
    } else {
        writeln!(stdout, "function:  {}", image.found.requested_path)?;
        writeln!(stdout, "bootstrap: {}", bootstrap.display())?;
        writeln!(stdout, "zip:       {}", zip.display())?;
        writeln!(stdout, "sha256:    {}", image.package.code_sha256)?;
        writeln!(stdout)?;
        write!(stdout, "{}", portkey_report::render_text(&image.report))?;
        if let Some(budget) = &budget {
            writeln!(stdout, "  budget     {}", budget.summary())?;
        }
    }
    drop(stdout);
    match budget {
        Some(budget) if !budget.within => bail!("{}", budget.over_message(&image.found.requested_path)),
        _ => Ok(()),
    }
}

/// The outcome of `--max-size`: the zip's size against the budget, and where the bytes are.
#[derive(Debug, Serialize)]
struct Budget {
    max_bytes: u64,
    zip_bytes: u64,
    within: bool,
    /// The largest crates by machine code, largest first.
    largest_crates: Vec<NamedBytes>,
    /// The largest kept functions, largest first.
    largest_functions: Vec<NamedBytes>,
    /// The native inputs (libc, libunwind, C objects) with the most symbol bytes in the file,
    /// largest first.
    largest_native_inputs: Vec<NamedBytes>,
}

/// A crate, function or native input and its bytes in the executable.
#[derive(Debug, Serialize)]
struct NamedBytes {
    name: String,
    bytes: u64,
}

impl Budget {
    fn check(max_bytes: u64, zip_bytes: u64, report: &ShakeReport) -> Budget {
        Budget {
            max_bytes,
            zip_bytes,
            within: zip_bytes <= max_bytes,
            largest_crates: report
                .bytes_by_crate
                .iter()
                .take(BUDGET_CRATES)
                .map(|krate| NamedBytes {
                    name: krate.crate_name.clone(),
                    bytes: krate.bytes,
                })
                .collect(),
            largest_functions: report
                .largest_functions
                .iter()
                .take(BUDGET_FUNCTIONS)
                .map(|function| NamedBytes {
                    name: function.name.clone(),
                    bytes: function.size_bytes.unwrap_or(0),
                })
                .collect(),
            largest_native_inputs: report
                .layout
                .iter()
                .flat_map(|layout| &layout.origins)
                .filter(|origin| {
                    origin.origin != portkey_report::SHAKEN_OBJECT_ORIGIN
                        && origin.origin != portkey_report::UNKNOWN_ORIGIN
                })
                .take(BUDGET_CRATES)
                .map(|origin| NamedBytes {
                    name: origin.origin.clone(),
                    bytes: origin.bytes,
                })
                .collect(),
        }
    }

    fn summary(&self) -> String {
        let verdict = if self.within { "within" } else { "OVER" };
        format!(
            "zip {} of {} allowed by --max-size: {verdict}",
            human_bytes(self.zip_bytes),
            human_bytes(self.max_bytes)
        )
    }

    fn over_message(&self, function: &str) -> String {
        let crates: Vec<String> = self
            .largest_crates
            .iter()
            .map(|krate| format!("{} {}", krate.name, human_bytes(krate.bytes)))
            .collect();
        let mut message = format!(
            "the zip of {function} is {} ({} B), over the --max-size budget of {} ({} B) by {} B\n  \
             largest crates: {}\n  largest functions:",
            human_bytes(self.zip_bytes),
            self.zip_bytes,
            human_bytes(self.max_bytes),
            self.max_bytes,
            self.zip_bytes - self.max_bytes,
            crates.join(", "),
        );
        for entry in &self.largest_functions {
            message.push_str(&format!("\n    {:>9}  {}", human_bytes(entry.bytes), entry.name));
        }
        if !self.largest_native_inputs.is_empty() {
            let natives: Vec<String> = self
                .largest_native_inputs
                .iter()
                .map(|input| format!("{} {}", input.name, human_bytes(input.bytes)))
                .collect();
            message.push_str(&format!("\n  largest native inputs: {}", natives.join(", ")));
        }
        message.push_str(&format!(
            "\n`portkey why <symbol> --fn {function}` shows why a function is kept; to accept \
             this size, raise --max-size"
        ));
        message
    }
}
