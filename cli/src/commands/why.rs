//! `portkey why <symbol> --fn <path>`: the shortest chain of references from the entry of a
//! function's image to one symbol. The image is built as for `portkey shake` (a no-op for cargo
//! when nothing changed), and the explanation comes from the call graph `portkey-ld` stored beside
//! its report, so this command never loads LLVM.

use std::io::Write;

use anyhow::{Result, bail};
use portkey_report::Verdict;

use crate::args::WhyArgs;
use crate::image::{build_function_image, find};
use crate::project::ProjectDirs;

pub fn run_why(args: &WhyArgs) -> Result<()> {
    let manifest_path = args.build.project.manifest_path.as_deref();
    let dirs = ProjectDirs::find(manifest_path)?;
    let found = find(manifest_path, &args.function)?;
    let image = build_function_image(&dirs, found)?;

    let graph = portkey_builder::load_graph(&image.graph)?;
    let explainer = portkey_builder::Explainer::new(&graph);
    let explanation = explainer.explain(&image.report, &args.symbol);
    let rendered = portkey_report::render_explanation(&explanation, &image.report.entry);
    let answered = matches!(explanation.verdict, Verdict::Kept | Verdict::Removed);

    let mut stdout = std::io::stdout().lock();
    if args.json {
        serde_json::to_writer_pretty(&mut stdout, &explanation)?;
        writeln!(stdout)?;
    } else if answered {
        write!(stdout, "{rendered}")?;
    }
    if !answered {
        // An ambiguous or unknown symbol is an error: the message lists the candidates or the
        // near matches, and the exit status shows scripts that nothing was explained.
        bail!("{}", rendered.trim_end());
    }
    Ok(())
}
