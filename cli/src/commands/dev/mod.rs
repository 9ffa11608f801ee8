//! `portkey dev`: serves every mount on the local backend, watches the project, rebuilds on
//! change, and swaps in exactly the mounts whose reachability fingerprint changed. Builds run as
//! child processes, and the backend is a process of its own that keeps serving, so requests do
//! not wait for a build. A change
//! that arrives during a build stops it and starts a new one.

mod rebuild;
mod watch;

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::time::{Duration, Instant};

use anyhow::{Context, Result};
use portkey_project::{MountRecord, ProjectFile};
use serde::Serialize;

use crate::args::DevArgs;
use crate::commands::local::ensure_backend;
use crate::progress::status;
use crate::project::ProjectDirs;
use rebuild::{Rebuild, ShakeOutput};
use watch::{Changes, ProjectWatcher};

/// How long the files must stay quiet before a batch of changes is built.
const QUIET: Duration = Duration::from_millis(150);

/// The image `portkey dev` last deployed for one mount.
struct Deployed {
    code_sha256: String,
    fingerprint: Option<String>,
    /// Kept functions by name, each with the value compared to find changed functions: its IR
    /// hash, or its machine-code size when the report has no hash.
    kept: BTreeMap<String, Option<String>>,
}

/// One cycle's outcome, printed as a JSON line with `--json`.
#[derive(Debug, Default, Serialize)]
struct CycleReport {
    cycle: u32,
    /// The changed files that started the cycle.
    changed_files: Vec<PathBuf>,
    /// Mounts swapped to a new image, with the kept functions that differ.
    redeployed: Vec<Redeployed>,
    /// Mounts whose kept code did not change, left serving as they were.
    unchanged: Vec<String>,
    /// Mounts whose build or new instance failed; the previous version keeps serving.
    failed: Vec<Failure>,
    /// Wall time of the builds minus the shaker's link step, in milliseconds.
    build_ms: u64,
    /// The shaker's link steps, in milliseconds.
    shake_ms: u64,
    /// From asking the backend to reload until the new instances serve, in milliseconds.
    swap_ms: u64,
    /// With `--target aws`: mounts whose code was updated on AWS.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    aws_updated: Vec<String>,
    /// With `--target aws`: mounts whose AWS update failed.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    aws_failed: Vec<Failure>,
}

#[derive(Debug, Serialize)]
struct Redeployed {
    function: String,
    fingerprint: Option<String>,
    /// Kept functions that are new, gone, or changed size; empty on the first build of a mount.
    functions_differ: Vec<String>,
    #[serde(skip)]
    image: Option<ShakeOutput>,
}

/// The AWS side of `portkey dev --target aws`.
struct AwsSync {
    runtime: tokio::runtime::Runtime,
    clients: portkey_aws::Clients,
    project: String,
}

impl AwsSync {
    fn connect(dirs: &ProjectDirs, args: &DevArgs) -> Result<AwsSync> {
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .context("cannot start the async runtime for the AWS calls")?;
        let clients = runtime.block_on(crate::commands::aws::connect(&args.aws))?;
        Ok(AwsSync {
            runtime,
            clients,
            project: crate::commands::aws::project_name(dirs),
        })
    }

    /// Updates the code on AWS of each redeployed mount that the project file lists as deployed
    /// in this region.
    fn update(&self, dirs: &ProjectDirs, report: &mut CycleReport) -> Result<()> {
        let project = ProjectFile::load(&dirs.root)?;
        let Some(region) = project.aws.get(self.clients.region()) else {
            return Ok(());
        };
        let mut outcomes = Vec::new();
        for mount in &report.redeployed {
            let (Some(image), true) = (&mount.image, region.mounts.iter().any(|m| m.function == mount.function)) else {
                continue;
            };
            let updated = self.runtime.block_on(portkey_aws::update_code(
                &self.clients,
                &self.project,
                &mount.function,
                &image.bootstrap,
                &image.zip,
                &image.code_sha256,
            ));
            outcomes.push((mount.function.clone(), updated));
        }
        for (function, updated) in outcomes {
            match updated {
                Ok(_) => {
                    status("Deployed", &format!("{function} to AWS Lambda in {}", self.clients.region()));
                    report.aws_updated.push(function);
                }
                Err(error) => {
                    status("Failed", &format!("{function} on AWS: {error}; the previous version keeps serving there"));
                    report.aws_failed.push(Failure {
                        function,
                        error: error.to_string(),
                    });
                }
            }
        }
        Ok(())
    }
}

#[derive(Debug, Serialize)]
struct Failure {
    function: String,
    error: String,
}

pub fn run_dev(args: &DevArgs) -> Result<()> {
    let manifest_path = args.project.manifest_path.as_deref();
    let dirs = ProjectDirs::find(manifest_path)?;
    let manifest = match manifest_path {
        Some(path) => path.to_path_buf(),
        None => dirs.root.join("Cargo.toml"),
    };
    let aws = match args.target {
        crate::args::Target::Aws => Some(AwsSync::connect(&dirs, args)?),
        crate::args::Target::Local => None,
    };
    let server = ensure_backend(&dirs, args.backend.port, args.backend.listen)?;
    portkey_local::client::reload(&server)?;
    let watcher = ProjectWatcher::start(&dirs.root, &package_roots(&manifest)?)?;
    status("Watching", &format!("{} (stop with Ctrl-C)", dirs.root.display()));

    let mut deployed: BTreeMap<String, Deployed> = BTreeMap::new();
    let mut cycle = 0;
    // The first cycle builds every mount, so sources edited while `dev` was not running are
    // picked up and every mount gets a known fingerprint.
    let mut changes = Changes {
        sources: Vec::new(),
        project_file: true,
    };
    let mut first = true;
    loop {
        if !first {
            changes = watcher.next_batch(QUIET);
        }
        let project = ProjectFile::load(&dirs.root)?;
        if project.mounts.is_empty() {
            status("Waiting", "no mounts yet; `portkey mount <path> <template>` adds one and dev picks it up");
            first = false;
            continue;
        }
        let joined: Vec<&MountRecord> = project.mounts.iter().filter(|m| !deployed.contains_key(&m.function)).collect();
        if changes.sources.is_empty() && joined.is_empty() && !first {
            continue;
        }
        for mount in &joined {
            if !first {
                status("Joined", &format!("{} (mounted while dev runs)", mount.function));
            }
        }
        for path in &changes.sources {
            status("Changed", &path.display().to_string());
        }
        // A source change rebuilds every mount; a mount that only joined is built alone.
        let to_build: Vec<MountRecord> = if changes.sources.is_empty() && !first {
            joined.into_iter().cloned().collect()
        } else {
            project.mounts.clone()
        };
        first = false;
        match run_cycle(&dirs, &manifest, &server, &watcher, &to_build, &mut deployed, cycle, &changes)? {
            Some(mut report) => {
                if let Some(aws) = &aws {
                    aws.update(&dirs, &mut report)?;
                }
                cycle += 1;
                if args.json {
                    println!("{}", serde_json::to_string(&report)?);
                }
            }
            None => {
                status("Restarting", "newer changes arrived during the build");
                first = true;
                changes = Changes::default();
            }
        }
    }
}

/// Rebuilds `mounts`, records and swaps in the ones whose kept code changed, and reports. Returns
/// `None` when newer changes arrived and the cycle was abandoned.
#[allow(clippy::too_many_arguments)]
fn run_cycle(
    dirs: &ProjectDirs,
    manifest: &std::path::Path,
    server: &portkey_local::ServerInfo,
    watcher: &ProjectWatcher,
    mounts: &[MountRecord],
    deployed: &mut BTreeMap<String, Deployed>,
    cycle: u32,
    changes: &Changes,
) -> Result<Option<CycleReport>> {
    let mut report = CycleReport {
        cycle,
        changed_files: changes.sources.clone(),
        ..CycleReport::default()
    };
    let mut built: Vec<(MountRecord, ShakeOutput)> = Vec::new();
    for mount in mounts {
        status("Rebuilding", &mount.function);
        let mut newer = Changes::default();
        let outcome = rebuild::rebuild(manifest, mount, || {
            newer = watcher.pending(Duration::ZERO);
            !newer.sources.is_empty()
        })?;
        match outcome {
            Rebuild::Stopped => return Ok(None),
            Rebuild::Failed(error) => {
                status("Failed", &format!("{}; the previous version keeps serving:\n{error}", mount.function));
                // The other mounts build from the same sources and would fail the same way.
                for other in mounts {
                    report.failed.push(Failure {
                        function: other.function.clone(),
                        error: error.clone(),
                    });
                }
                return Ok(Some(report));
            }
            Rebuild::Built { output, elapsed } => {
                let shake_ms = link_ms(&output.report);
                report.shake_ms += shake_ms;
                report.build_ms += (elapsed.as_millis() as u64).saturating_sub(shake_ms);
                built.push((mount.clone(), *output));
            }
        }
    }

    let mut swapped = Vec::new();
    for (mount, output) in built {
        let fingerprint = output.report["fingerprint"]
            .as_str()
            .filter(|fingerprint| !fingerprint.is_empty())
            .map(str::to_string);
        let previous = deployed.get(&mount.function);
        let same = match (previous, &fingerprint) {
            (Some(Deployed { fingerprint: Some(old), .. }), Some(new)) => old == new,
            (Some(previous), _) => previous.code_sha256 == output.code_sha256,
            (None, _) => mount.code_sha256 == output.code_sha256,
        };
        let kept = kept_functions(&output.report);
        let functions_differ = previous.map(|previous| differing(&previous.kept, &kept)).unwrap_or_default();
        deployed.insert(
            mount.function.clone(),
            Deployed {
                code_sha256: output.code_sha256.clone(),
                fingerprint: fingerprint.clone(),
                kept,
            },
        );
        if same {
            status("Unchanged", &format!("{}: its kept code did not change", mount.function));
            report.unchanged.push(mount.function.clone());
            continue;
        }
        let mut record = mount.clone();
        record.bootstrap = output.bootstrap.clone();
        record.zip = output.zip.clone();
        record.code_sha256 = output.code_sha256.clone();
        record.updated_at = portkey_project::now_rfc3339();
        portkey_project::upsert_mount(&dirs.root, record)?;
        swapped.push(Redeployed {
            function: mount.function.clone(),
            fingerprint,
            functions_differ,
            image: Some(output),
        });
    }
    if swapped.is_empty() {
        return Ok(Some(report));
    }

    let started = Instant::now();
    let reload = portkey_local::client::reload(server).context("the local backend did not reload")?;
    report.swap_ms = started.elapsed().as_millis() as u64;
    for redeployed in swapped {
        if let Some(failure) = reload.failed.iter().find(|failed| failed.function == redeployed.function) {
            status("Failed", &format!("{}: {}; the previous version keeps serving", failure.function, failure.error));
            report.failed.push(Failure {
                function: failure.function.clone(),
                error: failure.error.clone(),
            });
            // Forget the fingerprint, so the next cycle tries this mount again.
            deployed.remove(&failure.function);
            continue;
        }
        let differ = match redeployed.functions_differ.len() {
            0 => String::new(),
            count => format!(
                "; {count} kept functions differ: {}{}",
                redeployed.functions_differ.iter().take(5).cloned().collect::<Vec<_>>().join(", "),
                if count > 5 { ", ..." } else { "" }
            ),
        };
        status("Swapped", &format!("{} in {} ms{differ}", redeployed.function, report.swap_ms));
        report.redeployed.push(redeployed);
    }
    Ok(Some(report))
}

/// Sums the link phases of the report: the shaker's own time.
fn link_ms(report: &serde_json::Value) -> u64 {
    report["timings_ms"]
        .as_object()
        .map(|phases| phases.values().filter_map(serde_json::Value::as_u64).sum())
        .unwrap_or(0)
}

/// Reads the kept functions of a report, by name, with their machine-code size.
fn kept_functions(report: &serde_json::Value) -> BTreeMap<String, Option<String>> {
    let identity = |function: &serde_json::Value| match function["ir_hash"].as_str() {
        Some(hash) => Some(hash.to_string()),
        None => function["size_bytes"].as_u64().map(|size| format!("{size} bytes")),
    };
    report["kept_functions"]
        .as_array()
        .map(|functions| {
            functions
                .iter()
                .filter_map(|function| Some((function["name"].as_str()?.to_string(), identity(function))))
                .collect()
        })
        .unwrap_or_default()
}

/// Names of kept functions that are new, gone, or changed between two builds.
fn differing(old: &BTreeMap<String, Option<String>>, new: &BTreeMap<String, Option<String>>) -> Vec<String> {
    let mut names: Vec<String> = new
        .iter()
        .filter(|(name, identity)| old.get(*name) != Some(identity))
        .map(|(name, _)| name.clone())
        .collect();
    names.extend(old.keys().filter(|name| !new.contains_key(*name)).cloned());
    names.sort();
    names
}

/// Lists the folders of every local package: workspace members and path dependencies.
fn package_roots(manifest: &std::path::Path) -> Result<Vec<PathBuf>> {
    let metadata = cargo_metadata::MetadataCommand::new()
        .manifest_path(manifest)
        .exec()
        .with_context(|| format!("cannot read the cargo project at {}", manifest.display()))?;
    Ok(metadata
        .packages
        .iter()
        .filter(|package| package.source.is_none())
        .filter_map(|package| package.manifest_path.parent().map(|dir| dir.as_std_path().to_path_buf()))
        .collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn differing_lists_new_gone_and_changed() {
        let hash = |text: &str| Some(text.to_string());
        let old = BTreeMap::from([("a".to_string(), hash("1f")), ("b".to_string(), hash("2e")), ("c".to_string(), None)]);
        let new = BTreeMap::from([("a".to_string(), hash("1f")), ("b".to_string(), hash("3d")), ("d".to_string(), hash("4c"))]);
        assert_eq!(differing(&old, &new), vec!["b", "c", "d"]);
    }
}
