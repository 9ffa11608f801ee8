//! The control endpoints under `/_portkey/` on the gateway port: health, the mount list,
//! reloading `portkey.json`, and shutdown. They serve only clients on a loopback address, so a
//! gateway bound to a public address does not let others stop or reload the server.

use std::net::SocketAddr;
use std::sync::Arc;

use axum::Json;
use axum::extract::{ConnectInfo, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use portkey_project::ProjectFile;
use serde_json::json;
use tracing::{error, info, warn};

use crate::api::{Health, MountList};
use crate::mounts;
use crate::shared::Shared;

fn forbidden(peer: SocketAddr) -> Option<Response> {
    if peer.ip().is_loopback() {
        return None;
    }
    warn!(%peer, "rejected a control request from a non-loopback address");
    let body = json!({ "message": "Forbidden", "detail": "control endpoints answer only loopback clients" });
    Some((StatusCode::FORBIDDEN, Json(body)).into_response())
}

/// `GET /_portkey/health`.
pub(crate) async fn health(
    State(shared): State<Arc<Shared>>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
) -> Response {
    if let Some(rejection) = forbidden(peer) {
        return rejection;
    }
    Json(Health {
        pid: std::process::id(),
        port: shared.gateway_port,
        project_root: shared.config.project_root.clone(),
        runtime_api: shared.runtime_api.to_string(),
    })
    .into_response()
}

/// `GET /_portkey/mounts`.
pub(crate) async fn mounts(
    State(shared): State<Arc<Shared>>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
) -> Response {
    if let Some(rejection) = forbidden(peer) {
        return rejection;
    }
    let table = shared.mounts();
    Json(MountList {
        mounts: table.statuses(&shared.base_url()),
        skipped: table.skipped(),
    })
    .into_response()
}

/// `POST /_portkey/reload`: re-reads `portkey.json`. A file that cannot be loaded leaves the
/// served mounts as they are and returns 400 with the reason.
pub(crate) async fn reload(
    State(shared): State<Arc<Shared>>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
) -> Response {
    if let Some(rejection) = forbidden(peer) {
        return rejection;
    }
    let _serialised = shared.reload_lock.lock().await;
    let root = shared.config.project_root.clone();
    let loaded = tokio::task::spawn_blocking(move || ProjectFile::load(&root)).await;
    let project = match loaded {
        Ok(Ok(project)) => project,
        Ok(Err(load_error)) => {
            error!("reload failed, keeping the current mounts: {load_error}");
            let body = json!({ "errorType": "InvalidProjectFile", "errorMessage": load_error.to_string() });
            return (StatusCode::BAD_REQUEST, Json(body)).into_response();
        }
        Err(join_error) => {
            error!("reload failed, keeping the current mounts: {join_error}");
            let body =
                json!({ "errorType": "ReloadFailed", "errorMessage": join_error.to_string() });
            return (StatusCode::INTERNAL_SERVER_ERROR, Json(body)).into_response();
        }
    };
    info!("reloading portkey.json");
    Json(mounts::apply(&shared, &project)).into_response()
}

/// `POST /_portkey/shutdown`: returns 202, then stops the server.
pub(crate) async fn shutdown(
    State(shared): State<Arc<Shared>>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
) -> Response {
    if let Some(rejection) = forbidden(peer) {
        return rejection;
    }
    info!("shutdown requested");
    shared.begin_shutdown();
    (
        StatusCode::ACCEPTED,
        Json(json!({ "stopping": true, "pid": std::process::id() })),
    )
        .into_response()
}
