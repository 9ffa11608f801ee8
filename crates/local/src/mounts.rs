//! The mount table: for each function of `portkey.json`, its route and the pool of its
//! instances. Loading a project file into it computes what changed: new mounts get a pool,
//! removed ones are retired, and mounts whose code or settings changed get a pending pool. The
//! pending pool starts one instance while the old pool keeps serving. Once that instance is ready,
//! traffic moves to it and the old pool retires after its running requests finish. An instance
//! that fails init leaves the old pool serving.

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::sync::Arc;

use portkey_project::{MountRecord, ProjectFile};
use portkey_route::{Method, Template};
use tracing::{info, warn};

use crate::api::{MountStatus, ReloadReport, SkippedMount};
use crate::instance::{Lifecycle, is_reserved_variable};
use crate::launcher::{Launcher, launcher_for};
use crate::pool::Pool;
use crate::routes::{Resolution, Route, resolve};
use crate::shared::Shared;

/// Lambda's limits on a function's timeout, in seconds.
const TIMEOUT_RANGE_SECS: std::ops::RangeInclusive<u32> = 1..=900;

/// Lambda's limits on a function's memory size, in MB.
const MEMORY_RANGE_MB: std::ops::RangeInclusive<u32> = 128..=10_240;

/// A mount as the server runs it.
#[derive(Debug)]
pub(crate) struct MountSpec {
    pub record: MountRecord,
    pub method: Method,
    pub template: Template,
    /// The bootstrap path, resolved against the project root.
    pub bootstrap: PathBuf,
    /// Directly, or under qemu-user for an image of another architecture.
    pub launcher: Launcher,
}

impl MountSpec {
    /// Checks a record of `portkey.json`. Returns why it cannot be served.
    fn from_record(record: &MountRecord, shared: &Shared) -> Result<MountSpec, String> {
        let method = Method::parse(&record.method).map_err(|error| error.to_string())?;
        let template = Template::parse(&record.template).map_err(|error| error.to_string())?;
        if !TIMEOUT_RANGE_SECS.contains(&record.timeout_secs) {
            return Err(format!(
                "timeout_secs is {}, but Lambda allows 1 to 900 seconds; fix it in portkey.json",
                record.timeout_secs
            ));
        }
        if !MEMORY_RANGE_MB.contains(&record.memory_mb) {
            return Err(format!(
                "memory_mb is {}, but Lambda allows 128 to 10240 MB; fix it in portkey.json",
                record.memory_mb
            ));
        }
        for name in record.env.keys().filter(|name| is_reserved_variable(name)) {
            warn!(
                function = %record.function,
                variable = %name,
                "ignoring the mount's value of a variable that Lambda sets itself; remove it from the mount's env"
            );
        }
        let bootstrap = record.bootstrap_path(&shared.config.project_root);
        let launcher = launcher_for(&bootstrap, std::env::var_os("PATH").as_deref())?;
        Ok(MountSpec {
            record: record.clone(),
            method,
            template,
            bootstrap,
            launcher,
        })
    }

    /// Returns whether two specs run the same code with the same settings, so their instances
    /// can be kept when only the route changed.
    fn same_instances(&self, other: &MountSpec) -> bool {
        self.bootstrap == other.bootstrap
            && self.record.code_sha256 == other.record.code_sha256
            && self.record.env == other.record.env
            && self.record.memory_mb == other.record.memory_mb
            && self.record.timeout_secs == other.record.timeout_secs
    }

    fn route(&self) -> Route {
        Route {
            method: self.method,
            template: self.template.clone(),
            function: self.record.function.clone(),
        }
    }
}

struct Mount {
    route: Route,
    pool: Arc<Pool>,
    /// The replacement pool whose first instance is starting, when the code or settings changed.
    pending: Option<Arc<Pool>>,
}

/// The result of moving a mount to new instances.
#[derive(Debug)]
pub(crate) enum SwapOutcome {
    /// The new instance is ready and serves the mount.
    Swapped,
    /// The new instance failed to start, and the old one keeps serving. The message gives the cause.
    Failed(String),
    /// A later reload replaced this swap before it finished.
    Superseded,
}

/// A swap in progress: the function and the task that finishes it.
pub(crate) struct Swap {
    pub function: String,
    pub task: tokio::task::JoinHandle<SwapOutcome>,
}

/// The mounts one server serves.
#[derive(Default)]
pub(crate) struct MountTable {
    mounts: BTreeMap<String, Mount>,
    routes: Vec<Route>,
    skipped: Vec<SkippedMount>,
}

/// The route and pool a request resolved to.
pub(crate) struct Target {
    pub route: Route,
    pub path_parameters: Vec<(String, String)>,
    pub pool: Arc<Pool>,
}

/// The result of looking up a request in the mount table.
pub(crate) enum Lookup {
    Found(Target),
    MethodNotAllowed { allowed: Vec<Method> },
    NotFound,
}

impl MountTable {
    pub fn lookup(&self, method: &str, path: &str) -> Lookup {
        match resolve(&self.routes, method, path) {
            Resolution::NotFound => Lookup::NotFound,
            Resolution::MethodNotAllowed { allowed } => Lookup::MethodNotAllowed { allowed },
            Resolution::Found {
                route,
                path_parameters,
            } => match self.mounts.get(&route.function) {
                Some(mount) => Lookup::Found(Target {
                    route: route.clone(),
                    path_parameters,
                    pool: mount.pool.clone(),
                }),
                None => Lookup::NotFound,
            },
        }
    }

    /// Describes every served mount, with URLs on the gateway at `base_url`.
    pub fn statuses(&self, base_url: &str) -> Vec<MountStatus> {
        self.mounts
            .values()
            .map(|mount| MountStatus {
                function: mount.route.function.clone(),
                method: mount.route.method.to_string(),
                template: mount.route.template.to_string(),
                route_key: mount.route.route_key(),
                url: format!("{base_url}{}", mount.route.template),
                code_sha256: mount.pool.spec.record.code_sha256.clone(),
                instances: mount.pool.counts(),
            })
            .collect()
    }

    pub fn skipped(&self) -> Vec<SkippedMount> {
        self.skipped.clone()
    }

    /// Empties the table and returns the pools it held.
    pub fn clear(&mut self) -> Vec<Arc<Pool>> {
        self.routes.clear();
        self.skipped.clear();
        std::mem::take(&mut self.mounts)
            .into_values()
            .map(|mount| mount.pool)
            .collect()
    }
}

/// Makes the server serve exactly the mounts of `project`, and reports what changed. New
/// pools start one instance each right away, so the first request finds it warm.
pub(crate) fn apply(shared: &Arc<Shared>, project: &ProjectFile) -> (ReloadReport, Vec<Swap>) {
    let mut report = ReloadReport::default();
    let mut specs = BTreeMap::new();
    for record in &project.mounts {
        match MountSpec::from_record(record, shared) {
            Ok(spec) => {
                specs.insert(record.function.clone(), Arc::new(spec));
            }
            Err(error) => {
                warn!(function = %record.function, "not serving the mount: {error}");
                report.skipped.push(SkippedMount {
                    function: record.function.clone(),
                    error,
                });
            }
        }
    }

    let mut retired = Vec::new();
    let mut started = Vec::new();
    let mut pending = Vec::new();
    {
        let mut table = shared.mounts_mut();
        let mut previous = std::mem::take(&mut table.mounts);
        for (function, spec) in specs {
            let route = spec.route();
            let mount = match previous.remove(&function) {
                Some(old) if old.pool.spec.same_instances(&spec) => {
                    if old.route.method != route.method || old.route.template != route.template {
                        report.rerouted.push(function.clone());
                    }
                    // The change was undone before its swap finished.
                    retired.extend(old.pending);
                    Mount {
                        route,
                        pool: old.pool,
                        pending: None,
                    }
                }
                Some(old) if old.pending.as_ref().is_some_and(|p| p.spec.same_instances(&spec)) => Mount {
                    route,
                    pool: old.pool,
                    pending: old.pending,
                },
                Some(old) => {
                    retired.extend(old.pending);
                    let pool = new_pool(shared, spec);
                    pending.push((function.clone(), pool.clone()));
                    Mount {
                        route,
                        pool: old.pool,
                        pending: Some(pool),
                    }
                }
                None => {
                    report.added.push(function.clone());
                    let pool = new_pool(shared, spec);
                    started.push(pool.clone());
                    Mount {
                        route,
                        pool,
                        pending: None,
                    }
                }
            };
            table.mounts.insert(function, mount);
        }
        for (function, old) in previous {
            report.removed.push(function);
            retired.push(old.pool);
            retired.extend(old.pending);
        }
        table.routes = table
            .mounts
            .values()
            .map(|mount| mount.route.clone())
            .collect();
        warn_about_shadowed_routes(&table.routes);
        table.skipped = report.skipped.clone();
    }

    for pool in retired {
        pool.retire("its mount was reloaded or removed");
    }
    if shared.config.prewarm {
        for pool in started {
            pool.spawn_warm(shared);
        }
    }
    let swaps: Vec<Swap> = pending
        .into_iter()
        .map(|(function, pool)| Swap {
            task: tokio::spawn(finish_swap(shared.clone(), function.clone(), pool)),
            function,
        })
        .collect();
    info!(
        added = ?report.added,
        removed = ?report.removed,
        replaced = ?report.replaced,
        rerouted = ?report.rerouted,
        skipped = report.skipped.len(),
        swapping = swaps.len(),
        "mounts loaded"
    );
    (report, swaps)
}

/// Starts the pending pool's first instance and, once it is ready, moves the mount to it and
/// retires the old pool. On failure, the pending pool is dropped and the old one keeps serving.
async fn finish_swap(shared: Arc<Shared>, function: String, pool: Arc<Pool>) -> SwapOutcome {
    let ready = match pool.spawn_warm(&shared) {
        None => Err(format!("the bootstrap of `{function}` could not be started")),
        Some(instance) => {
            let mut lifecycle = instance.lifecycle();
            let init_timeout = shared.config.init_timeout;
            match tokio::time::timeout(init_timeout, lifecycle.wait_for(|state| *state != Lifecycle::Starting)).await {
                Err(_) => {
                    instance.kill("its init did not finish in time");
                    Err(format!("the new bootstrap of `{function}` did not finish init within {init_timeout:?}"))
                }
                Ok(Err(_)) => Err(format!("the new bootstrap of `{function}` exited during init")),
                Ok(Ok(state)) => match state.clone() {
                    Lifecycle::Ready => Ok(()),
                    Lifecycle::InitFailed(failure) => Err(format!(
                        "the new bootstrap of `{function}` failed init: {}: {}",
                        failure.error_type, failure.message
                    )),
                    Lifecycle::Starting | Lifecycle::Exited => {
                        Err(format!("the new bootstrap of `{function}` exited during init"))
                    }
                },
            }
        }
    };

    let retired = {
        let mut table = shared.mounts_mut();
        let Some(mount) = table.mounts.get_mut(&function) else {
            drop(table);
            pool.retire("its mount was removed before it started");
            return SwapOutcome::Superseded;
        };
        if !mount.pending.as_ref().is_some_and(|pending| Arc::ptr_eq(pending, &pool)) {
            drop(table);
            pool.retire("a later reload replaced it before it started");
            return SwapOutcome::Superseded;
        }
        mount.pending = None;
        match &ready {
            Ok(()) => Some(std::mem::replace(&mut mount.pool, pool.clone())),
            Err(_) => None,
        }
    };
    match ready {
        Ok(()) => {
            info!(function = %function, "the new instance is ready; traffic moved to it");
            if let Some(old) = retired {
                old.retire("its mount now runs new code or settings");
            }
            SwapOutcome::Swapped
        }
        Err(message) => {
            warn!(function = %function, "keeping the old instances: {message}");
            pool.retire("it failed to start");
            SwapOutcome::Failed(message)
        }
    }
}

/// Logs each route key that more than one mount uses; the first function by name serves it.
fn warn_about_shadowed_routes(routes: &[Route]) {
    let mut owners: BTreeMap<String, Vec<&str>> = BTreeMap::new();
    for route in routes {
        owners
            .entry(route.route_key())
            .or_default()
            .push(&route.function);
    }
    for (route_key, functions) in owners
        .into_iter()
        .filter(|(_, functions)| functions.len() > 1)
    {
        warn!(
            route_key = %route_key,
            functions = ?functions,
            "several mounts use the same route; `{}` serves it, so mount the others at other URLs",
            functions[0]
        );
    }
}

fn new_pool(shared: &Shared, spec: Arc<MountSpec>) -> Arc<Pool> {
    Pool::new(
        spec,
        shared.config.max_instances_per_mount,
        shared.config.init_timeout,
    )
}
