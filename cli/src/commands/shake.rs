//! `portkey shake --fn <path>`: build the image and report what the shaker kept and removed.

use std::io::Write;

use anyhow::{Context, Result};

use crate::args::{ShakeArgs, method_shaking};
use crate::image::{build_function_image_with, find};
use crate::project::ProjectDirs;

pub fn run_shake(args: &ShakeArgs) -> Result<()> {
    let manifest_path = args.build.project.manifest_path.as_deref();
    let dirs = ProjectDirs::find(manifest_path)?;
    let found = find(manifest_path, &args.function)?;
    let image = build_function_image_with(&dirs, found, args.size.mode(), method_shaking(args.no_method_shaking))?;

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

    let mut stdout = std::io::stdout().lock();
    if args.json {
        let value = serde_json::json!({
            "function": image.found.requested_path,
            "shim": image.shim_manifest,
            "bootstrap": bootstrap,
            "zip": zip,
            "code_sha256": image.package.code_sha256,
            "report": image.report,
        });
        serde_json::to_writer_pretty(&mut stdout, &value)?;
        writeln!(stdout)?;
    } else {
        writeln!(stdout, "function:  {}", image.found.requested_path)?;
        writeln!(stdout, "bootstrap: {}", bootstrap.display())?;
        writeln!(stdout, "zip:       {}", zip.display())?;
        writeln!(stdout, "sha256:    {}", image.package.code_sha256)?;
        writeln!(stdout)?;
        write!(stdout, "{}", portkey_report::render_text(&image.report))?;
    }
    Ok(())
}
