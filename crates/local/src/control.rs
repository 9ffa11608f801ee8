//! The control endpoints under `/_portkey/` on the gateway port: health, the mount list,
//! reloading `portkey.json`, and shutdown. They serve only clients on a loopback address, so a
//! gateway bound to a public address does not let others stop or reload the server. They also
//! reject requests that a web page in a browser on the same machine can send. Browsers add an
//! `Origin` header to cross-origin requests, and a simple POST needs no CORS preflight, so any
//! request with an `Origin` header is rejected. A DNS rebinding attack sends the attacker's
//! host name, so any request whose `Host` is not a loopback name with the gateway's port is
//! rejected too.

use std::net::SocketAddr;
use std::sync::Arc;

use axum::Json;
use axum::extract::{ConnectInfo, State};
use axum::http::header::{HOST, ORIGIN};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use portkey_project::ProjectFile;
use serde_json::json;
use tracing::{error, info, warn};

use crate::api::{Health, InstanceList, MountList, SkippedMount};
use crate::mounts;
use crate::shared::Shared;

/// The host names a control request may name in its `Host` header, before `:PORT`.
const LOOPBACK_HOSTS: [&str; 3] = ["127.0.0.1", "localhost", "[::1]"];

/// Returns the 403 response for a control request that is not from a local program, or `None`
/// when the request may proceed.
fn forbidden(peer: SocketAddr, headers: &HeaderMap, port: u16) -> Option<Response> {
    let detail = rejection_reason(peer, headers, port)?;
    warn!(%peer, "rejected a control request: {detail}");
    let body = json!({ "message": "Forbidden", "detail": detail });
    Some((StatusCode::FORBIDDEN, Json(body)).into_response())
}

fn rejection_reason(peer: SocketAddr, headers: &HeaderMap, port: u16) -> Option<String> {
    if !peer.ip().is_loopback() {
        return Some(format!(
            "control endpoints serve only loopback clients, not {}",
            peer.ip()
        ));
    }
    if let Some(origin) = headers.get(ORIGIN) {
        let origin = String::from_utf8_lossy(origin.as_bytes());
        return Some(format!(
            "control endpoints reject requests with an Origin header (`{origin}`), which \
             browsers send from web pages; use the portkey command instead"
        ));
    }
    let Some(host) = headers.get(HOST) else {
        return Some("the request has no Host header".to_string());
    };
    let host = String::from_utf8_lossy(host.as_bytes());
    if is_loopback_host(&host, port) {
        return None;
    }
    Some(format!(
        "the Host header `{host}` is not 127.0.0.1:{port}, localhost:{port} or [::1]:{port}"
    ))
}

/// Returns whether `host` is `NAME:PORT` with a loopback name and the gateway's port. Names are
/// compared without regard to ASCII case.
fn is_loopback_host(host: &str, port: u16) -> bool {
    let Some((name, given_port)) = host.rsplit_once(':') else {
        return false;
    };
    let port_matches = given_port.bytes().all(|byte| byte.is_ascii_digit())
        && given_port.parse::<u16>() == Ok(port);
    port_matches
        && LOOPBACK_HOSTS
            .iter()
            .any(|allowed| allowed.eq_ignore_ascii_case(name))
}

/// `GET /_portkey/health`.
pub(crate) async fn health(
    State(shared): State<Arc<Shared>>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    headers: HeaderMap,
) -> Response {
    if let Some(rejection) = forbidden(peer, &headers, shared.gateway_port) {
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

/// `GET /_portkey/instances`.
pub(crate) async fn instances(
    State(shared): State<Arc<Shared>>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    headers: HeaderMap,
) -> Response {
    if let Some(rejection) = forbidden(peer, &headers, shared.gateway_port) {
        return rejection;
    }
    Json(InstanceList {
        instances: shared.instance_statuses(),
    })
    .into_response()
}

/// `GET /_portkey/mounts`.
pub(crate) async fn mounts(
    State(shared): State<Arc<Shared>>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    headers: HeaderMap,
) -> Response {
    if let Some(rejection) = forbidden(peer, &headers, shared.gateway_port) {
        return rejection;
    }
    let table = shared.mounts();
    Json(MountList {
        mounts: table.statuses(&shared.base_url()),
        skipped: table.skipped(),
    })
    .into_response()
}

/// `GET /_portkey/openapi.json`: the OpenAPI document of the served mounts, described from the
/// project's current sources. A mount that cannot be described gives 500 with the reason.
pub(crate) async fn openapi(
    State(shared): State<Arc<Shared>>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    headers: HeaderMap,
) -> Response {
    if let Some(rejection) = forbidden(peer, &headers, shared.gateway_port) {
        return rejection;
    }
    let mut mounts = shared.mounts().statuses(&shared.base_url());
    mounts.sort_by(|left, right| left.function.cmp(&right.function));
    let root = shared.config.project_root.clone();
    let server = shared.base_url();
    let built = tokio::task::spawn_blocking(move || {
        let entries: Vec<portkey_openapi::MountEntry<'_>> = mounts
            .iter()
            .map(|mount| portkey_openapi::MountEntry {
                function: &mount.function,
                method: &mount.method,
                template: &mount.template,
            })
            .collect();
        portkey_openapi::project_document(&root, &entries, Some(&server))
    })
    .await;
    match built {
        Ok(Ok(document)) => Json(document).into_response(),
        Ok(Err(reason)) => {
            let body = json!({ "message": "cannot build the OpenAPI document", "detail": reason });
            (StatusCode::INTERNAL_SERVER_ERROR, Json(body)).into_response()
        }
        Err(error) => {
            let body = json!({ "message": "cannot build the OpenAPI document", "detail": error.to_string() });
            (StatusCode::INTERNAL_SERVER_ERROR, Json(body)).into_response()
        }
    }
}

/// `POST /_portkey/reload`: re-reads `portkey.json`. A file that cannot be loaded leaves the
/// served mounts as they are and returns 400 with the reason.
pub(crate) async fn reload(
    State(shared): State<Arc<Shared>>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    headers: HeaderMap,
) -> Response {
    if let Some(rejection) = forbidden(peer, &headers, shared.gateway_port) {
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
    let (mut report, swaps) = mounts::apply(&shared, &project);
    // The answer waits for each swap, so the caller learns whether the new code serves.
    for swap in swaps {
        match swap.task.await {
            Ok(mounts::SwapOutcome::Swapped) => report.replaced.push(swap.function),
            Ok(mounts::SwapOutcome::Failed(error)) => report.failed.push(SkippedMount {
                function: swap.function,
                error,
            }),
            Ok(mounts::SwapOutcome::Superseded) => {}
            Err(join_error) => report.failed.push(SkippedMount {
                function: swap.function,
                error: format!("the swap task failed: {join_error}"),
            }),
        }
    }
    Json(report).into_response()
}

/// `POST /_portkey/shutdown`: returns 202, then stops the server.
pub(crate) async fn shutdown(
    State(shared): State<Arc<Shared>>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    headers: HeaderMap,
) -> Response {
    if let Some(rejection) = forbidden(peer, &headers, shared.gateway_port) {
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn loopback_hosts_with_port_pass() {
        for host in [
            "127.0.0.1:9000",
            "localhost:9000",
            "LocalHost:9000",
            "[::1]:9000",
        ] {
            assert!(is_loopback_host(host, 9000), "{host}");
        }
    }

    #[test]
    fn other_hosts_fail() {
        let cases = [
            "127.0.0.1",
            "localhost",
            "[::1]",
            "127.0.0.1:9001",
            "127.0.0.1:+9000",
            "127.0.0.1:09000x",
            "attacker.example:9000",
            "localhost.attacker.example:9000",
            "user@127.0.0.1:9000",
            "127.0.0.2:9000",
            "",
        ];
        for host in cases {
            assert!(!is_loopback_host(host, 9000), "{host}");
        }
    }
}
