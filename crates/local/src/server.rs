//! Running one local server: its listeners, the startup and shutdown sequence, and
//! `server.json`, which exists exactly while the server listens.

use std::net::{Ipv4Addr, SocketAddr};
use std::sync::Arc;
use std::time::{Duration, Instant};

use portkey_project::ProjectFile;
use tokio::net::TcpListener;
use tokio::signal::unix::{SignalKind, signal};
use tracing::{error, info, warn};

use crate::shared::{Shared, base_url};
use crate::{
    LocalError, ServerConfig, ServerInfo, client, connection, gateway, mounts, runtime_api,
    state_file,
};

/// How long shutdown waits for instances to exit and connections to close.
const SHUTDOWN_GRACE: Duration = Duration::from_secs(5);

/// Runs the local server until `POST /_portkey/shutdown`, SIGINT or SIGTERM, then stops every
/// instance and removes `server.json`. Blocks the calling thread and builds its own tokio
/// runtime, so it must not be called from within one.
pub fn serve(mut config: ServerConfig) -> Result<(), LocalError> {
    // An absolute root keeps relative bootstrap paths valid in instances, whose working folder
    // is their bootstrap's folder.
    config.project_root =
        std::fs::canonicalize(&config.project_root).map_err(|source| LocalError::ProjectRoot {
            path: config.project_root.clone(),
            source,
        })?;
    if let Some(running) = client::running(&config.state_dir) {
        return Err(LocalError::AlreadyRunning {
            pid: running.pid,
            url: running.url,
            project_root: running.project_root,
        });
    }
    let project = ProjectFile::load(&config.project_root)?;
    std::fs::create_dir_all(&config.state_dir).map_err(|source| LocalError::StateFile {
        path: config.state_dir.clone(),
        source,
    })?;
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .map_err(|source| LocalError::AsyncRuntime { source })?;
    runtime.block_on(run(config, project))
}

async fn bind(address: SocketAddr) -> Result<TcpListener, LocalError> {
    TcpListener::bind(address)
        .await
        .map_err(|source| LocalError::Bind { address, source })
}

async fn run(config: ServerConfig, project: ProjectFile) -> Result<(), LocalError> {
    let gateway_listener = bind(SocketAddr::new(config.bind, config.port)).await?;
    let runtime_listener = bind(SocketAddr::from((Ipv4Addr::LOCALHOST, 0))).await?;
    let serve_error = |source| LocalError::Serve { source };
    let gateway_port = gateway_listener.local_addr().map_err(serve_error)?.port();
    let runtime_api = runtime_listener.local_addr().map_err(serve_error)?;

    let shared = Shared::new(config.clone(), gateway_port, runtime_api);
    // At start-up no mount has old instances, so nothing is swapped.
    let _ = mounts::apply(&shared, &project);

    let gateway_task = tokio::spawn(connection::serve(
        gateway_listener,
        gateway::router(shared.clone()),
        shared.clone(),
    ));
    let runtime_shutdown = shared.clone();
    let runtime_server = axum::serve(runtime_listener, runtime_api::router(shared.clone()))
        .with_graceful_shutdown(async move { runtime_shutdown.shutdown_requested().await });
    let runtime_task = tokio::spawn(async move {
        if let Err(source) = runtime_server.await {
            error!("the runtime API listener failed: {source}");
        }
    });

    let info = ServerInfo {
        pid: std::process::id(),
        port: gateway_port,
        url: base_url(config.bind, gateway_port),
        project_root: config.project_root.clone(),
        bind: Some(config.bind),
    };
    state_file::write(&config.state_dir, &info)?;
    info!(
        url = %info.url,
        runtime_api = %runtime_api,
        project = %config.project_root.display(),
        pid = info.pid,
        "local server listening"
    );

    wait_for_stop(&shared).await;
    shared.begin_shutdown();
    stop_instances(&shared).await;
    for (name, task) in [("gateway", gateway_task), ("runtime API", runtime_task)] {
        match tokio::time::timeout(SHUTDOWN_GRACE, task).await {
            Ok(Ok(())) => {}
            Ok(Err(join_error)) => error!("the {name} listener task failed: {join_error}"),
            Err(_) => warn!(
                "the {name} listener still had open connections after {SHUTDOWN_GRACE:?}; closing them"
            ),
        }
    }
    state_file::remove_own(&config.state_dir, info.pid)?;
    info!(url = %info.url, "local server stopped");
    Ok(())
}

/// Completes on a shutdown request, SIGINT or SIGTERM.
async fn wait_for_stop(shared: &Shared) {
    let mut interrupt = signal(SignalKind::interrupt()).ok();
    let mut terminate = signal(SignalKind::terminate()).ok();
    let interrupted = async {
        match interrupt.as_mut() {
            Some(stream) => stream.recv().await,
            None => std::future::pending().await,
        }
    };
    let terminated = async {
        match terminate.as_mut() {
            Some(stream) => stream.recv().await,
            None => std::future::pending().await,
        }
    };
    tokio::select! {
        () = shared.shutdown_requested() => {}
        _ = interrupted => info!("received SIGINT; stopping"),
        _ = terminated => info!("received SIGTERM; stopping"),
    }
}

/// Retires every mount, kills every instance and waits, bounded, until their processes have exited.
async fn stop_instances(shared: &Arc<Shared>) {
    let pools = shared.mounts_mut().clear();
    for pool in &pools {
        pool.retire("the local server is stopping");
    }
    // Busy instances are killed too, so their requests get a 502 instead of delaying the stop.
    for instance in shared.instances_snapshot() {
        instance.kill("the local server is stopping");
    }
    let started = Instant::now();
    while pools.iter().any(|pool| pool.live() > 0) {
        if started.elapsed() > SHUTDOWN_GRACE {
            let left: usize = pools.iter().map(|pool| pool.live()).sum();
            warn!(
                instances = left,
                "instances still running after {SHUTDOWN_GRACE:?}; leaving them to the runtime's shutdown"
            );
            return;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}
