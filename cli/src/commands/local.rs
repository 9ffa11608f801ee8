//! The local backend's lifecycle commands: `ls`, `unmount`, `up`, `down` and `serve`, plus the
//! helpers `mount` uses to reach the backend.

use std::net::{IpAddr, Ipv4Addr};

use anyhow::{Context, Result, bail};
use portkey_local::client::{self, StartOptions};
use portkey_local::ServerInfo;
use portkey_route::Template;

use crate::args::{LsArgs, OpenapiArgs, ProjectArgs, ServeArgs, Target, UnmountArgs, UpArgs};
use crate::progress::status;
use crate::project::ProjectDirs;

/// Returns the running backend of this project, starting it in the background when needed.
pub fn ensure_backend(dirs: &ProjectDirs, port: Option<u16>, listen: Option<IpAddr>) -> Result<ServerInfo> {
    let exe = std::env::current_exe().context("cannot find the path of the running portkey")?;
    let mut options = StartOptions::new(exe, &dirs.root, dirs.local_state_dir());
    options.port = port;
    options.bind = listen;
    let running = client::running(&options.state_dir);
    if let (Some(server), Some(listen)) = (&running, listen) {
        let bound = server.bind.unwrap_or(IpAddr::V4(Ipv4Addr::LOCALHOST));
        if bound != listen {
            bail!(
                "the local backend already listens on {bound}:{}, not {listen}; stop it with `portkey down`, \
                 then rerun with --listen {listen}",
                server.port
            );
        }
    }
    let server = client::ensure_running(&options)?;
    if running.is_none() {
        status("Started", &format!("local backend on http://127.0.0.1:{}", server.port));
    }
    if let Some(bind) = server.bind.filter(|bind| !bind.is_loopback()) {
        eprintln!(
            "warning: the local backend listens on {bind} port {}: every mounted function answers anyone \
             who can reach this machine; without --listen it listens on 127.0.0.1 only",
            server.port
        );
    }
    Ok(server)
}

/// The URL of a mount: the backend's address followed by the template as written.
pub fn mount_url(server: &ServerInfo, template: &Template) -> String {
    client::url_for(server, template.as_str())
}

pub fn run_ls(args: &LsArgs) -> Result<()> {
    let dirs = ProjectDirs::find(args.project.manifest_path.as_deref())?;
    if args.target == Target::Aws {
        return crate::commands::aws::ls(&dirs, args);
    }
    let project = portkey_project::ProjectFile::load(&dirs.root)?;
    if project.mounts.is_empty() {
        eprintln!("no mounts in {}; add one with `portkey mount <path> <template>`", dirs.project_file().display());
        return Ok(());
    }
    let server = client::running(&dirs.local_state_dir());
    if server.is_none() {
        eprintln!("the local backend is not running; `portkey up` starts it with these mounts");
    }
    for mount in &project.mounts {
        let url = match &server {
            Some(server) => client::url_for(server, &mount.template),
            None => format!("(stopped) {}", mount.template),
        };
        println!("{}\t{}\t{}", mount.function, mount.method, url);
    }
    Ok(())
}

/// `portkey openapi`: the OpenAPI document of the project file's mounts, with the running local
/// backend as its server when there is one.
pub fn run_openapi(args: &OpenapiArgs) -> Result<()> {
    let dirs = ProjectDirs::find(args.project.manifest_path.as_deref())?;
    let project = portkey_project::ProjectFile::load(&dirs.root)?;
    if project.mounts.is_empty() {
        bail!(
            "no mounts in {}; add one with `portkey mount <path> <template>`, then rerun",
            dirs.project_file().display()
        );
    }
    let server = client::running(&dirs.local_state_dir()).map(|server| server.url);
    let entries: Vec<portkey_openapi::MountEntry<'_>> = project
        .mounts
        .iter()
        .map(|mount| portkey_openapi::MountEntry {
            function: &mount.function,
            method: &mount.method,
            template: &mount.template,
        })
        .collect();
    let document = portkey_openapi::project_document(&dirs.root, &entries, server.as_deref())
        .map_err(anyhow::Error::msg)?;
    let text = serde_json::to_string_pretty(&document)? + "\n";
    match &args.out {
        Some(path) => {
            std::fs::write(path, text).with_context(|| format!("cannot write {}", path.display()))?;
            status("Wrote", &format!("the OpenAPI document of {} mounts to {}", project.mounts.len(), path.display()));
        }
        None => print!("{text}"),
    }
    Ok(())
}

pub fn run_unmount(args: &UnmountArgs) -> Result<()> {
    let dirs = ProjectDirs::find(args.project.manifest_path.as_deref())?;
    let function = crate_name_with_underscores(&args.function);
    if args.target == Target::Aws {
        return crate::commands::aws::unmount(&dirs, &args.aws, &function);
    }
    let removed = portkey_project::remove_mount(&dirs.root, &function)?;
    if removed.is_none() {
        let project = portkey_project::ProjectFile::load(&dirs.root)?;
        let names: Vec<&str> = project.mounts.iter().map(|mount| mount.function.as_str()).collect();
        let known = match names.len() {
            0 => "there are no mounts".to_string(),
            1..=10 => format!("the mounts are {}", names.join(", ")),
            count => format!("{count} mounts; `portkey ls` lists them"),
        };
        bail!("`{}` is not mounted ({known})", args.function);
    }
    if let Some(server) = client::running(&dirs.local_state_dir()) {
        client::reload(&server)?;
    }
    status("Unmounted", &args.function);
    Ok(())
}

/// Mounts are recorded under the crate's Rust name, so `my-crate::f` names `my_crate::f`.
fn crate_name_with_underscores(function: &str) -> String {
    match function.split_once("::") {
        Some((krate, rest)) => format!("{}::{rest}", krate.replace('-', "_")),
        None => function.replace('-', "_"),
    }
}

pub fn run_up(args: &UpArgs) -> Result<()> {
    let dirs = ProjectDirs::find(args.project.manifest_path.as_deref())?;
    let server = ensure_backend(&dirs, args.backend.port, args.backend.listen)?;
    let reload = client::reload(&server)?;
    let project = portkey_project::ProjectFile::load(&dirs.root)?;
    for mount in &project.mounts {
        if let Some(skipped) = reload.skipped.iter().find(|skipped| skipped.function == mount.function) {
            eprintln!("warning: `{}` is not served: {}", mount.function, skipped.error);
            continue;
        }
        println!("{}\t{}\t{}", mount.function, mount.method, client::url_for(&server, &mount.template));
    }
    Ok(())
}

pub fn run_down(args: &ProjectArgs) -> Result<()> {
    let dirs = ProjectDirs::find(args.manifest_path.as_deref())?;
    match client::running(&dirs.local_state_dir()) {
        Some(server) => {
            client::shutdown(&server)?;
            status("Stopped", &format!("local backend on port {}", server.port));
        }
        None => eprintln!("the local backend of {} is not running", dirs.root.display()),
    }
    Ok(())
}

pub fn run_serve(args: &ServeArgs) -> Result<()> {
    let mut config = portkey_local::ServerConfig::new(&args.project, &args.state_dir);
    config.port = args.port;
    config.bind = args.bind;
    config.prewarm = args.prewarm == crate::args::Switch::On;
    portkey_local::serve(config)?;
    Ok(())
}
