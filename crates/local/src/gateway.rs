//! The HTTP gateway: routes a request to its mount, builds the payload 2.0 event, invokes the
//! function and maps the outcome to the response API Gateway would give. Where API Gateway
//! returns only "Internal Server Error", the body carries the function's own error message.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Duration, SystemTime};

use axum::Router;
use axum::body::{Body, Bytes};
use axum::extract::{ConnectInfo, Request, State};
use axum::http::header::{ALLOW, CONNECTION, CONTENT_LENGTH, EXPECT};
use axum::http::request::Parts;
use axum::http::{HeaderValue, StatusCode};
use axum::response::Response;
use axum::routing::{get, post};
use serde_json::json;
use tracing::{debug, error, warn};

use crate::body::{BodyError, MAX_DRAIN_BYTES, MAX_PAYLOAD_BYTES, drain, read_limited};
use crate::control;
use crate::event::{EventRequest, build_event};
use crate::ids;
use crate::invoke::{Outcome, invoke};
use crate::mounts::{Lookup, Target};
use crate::response::{REQUEST_ID_HEADER, error_response, function_result, json_response};
use crate::shared::Shared;

/// How often a request is routed again when its mount was replaced while it waited.
const MAX_ROUTING_ATTEMPTS: usize = 3;

/// The maximum time a request body may take to arrive. The timeout of the mount that serves
/// the request bounds it further.
const MAX_BODY_READ_TIMEOUT: Duration = Duration::from_secs(30);

/// The control endpoints, which own every path under `/_portkey/`.
const CONTROL_PATHS: &str =
    "/_portkey/health, /_portkey/mounts, /_portkey/instances, /_portkey/openapi.json, /_portkey/reload and /_portkey/shutdown";

pub(crate) fn router(shared: Arc<Shared>) -> Router {
    Router::new()
        .route("/_portkey/health", get(control::health))
        .route("/_portkey/mounts", get(control::mounts))
        .route("/_portkey/instances", get(control::instances))
        .route("/_portkey/openapi.json", get(control::openapi))
        .route("/_portkey/reload", post(control::reload))
        .route("/_portkey/shutdown", post(control::shutdown))
        .fallback(handle)
        .with_state(shared)
}

/// Builds a response with API Gateway's `{"message"}` body, plus a `detail` with the reason.
fn message_response(status: StatusCode, message: &str, detail: &str) -> Response {
    json_response(
        status,
        &json!({ "message": message, "detail": detail }),
        None,
    )
}

/// Serves one request to a mounted function.
async fn handle(
    State(shared): State<Arc<Shared>>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    request: Request,
) -> Response {
    let request_id = ids::request_id();
    let mut response = route_and_invoke(&shared, peer, request, &request_id).await;
    if let Ok(value) = HeaderValue::from_str(&request_id) {
        response.headers_mut().insert(REQUEST_ID_HEADER, value);
    }
    response
}

async fn route_and_invoke(
    shared: &Arc<Shared>,
    peer: SocketAddr,
    request: Request,
    request_id: &str,
) -> Response {
    let received_at = SystemTime::now();
    let (parts, mut body) = request.into_parts();
    let method = parts.method.as_str().to_string();
    let path = parts.uri.path().to_string();
    debug!(%method, %path, request_id, "request");

    if shared.is_shutting_down() {
        return message_response(
            StatusCode::SERVICE_UNAVAILABLE,
            "Service Unavailable",
            "the local server is stopping",
        );
    }
    let body_timeout = body_read_timeout(shared, &method, &path);
    let body = match read_request_body(&parts, &mut body, body_timeout, request_id).await {
        Ok(body) => body,
        Err(response) => return response,
    };
    if is_reserved_path(&path) {
        let detail = format!(
            "{path} is not a control endpoint; paths under /_portkey/ belong to the local \
             server, whose endpoints are {CONTROL_PATHS}"
        );
        return message_response(StatusCode::NOT_FOUND, "Not Found", &detail);
    }

    for _ in 0..MAX_ROUTING_ATTEMPTS {
        // Stopping retires every mount, which sends waiting requests back here.
        if shared.is_shutting_down() {
            return message_response(
                StatusCode::SERVICE_UNAVAILABLE,
                "Service Unavailable",
                "the local server is stopping",
            );
        }
        let lookup = shared.mounts().lookup(&method, &path);
        let target = match lookup {
            Lookup::Found(target) => target,
            Lookup::NotFound => {
                let detail = format!("no mounted function serves {method} {path}");
                return message_response(StatusCode::NOT_FOUND, "Not Found", &detail);
            }
            Lookup::MethodNotAllowed { allowed } => {
                return method_not_allowed(&method, &path, &allowed);
            }
        };

        let trace_id = ids::trace_id();
        let event = event_bytes(
            shared,
            &parts,
            &body,
            peer,
            &target,
            request_id,
            &trace_id,
            received_at,
        );
        if event.len() > MAX_PAYLOAD_BYTES {
            return payload_too_large();
        }

        // The invocation runs in its own task so that a client that disconnects cannot cancel it
        // halfway and leave its instance out of the pool.
        let function = target.route.function.clone();
        let task = tokio::spawn(invoke(
            shared.clone(),
            target.pool,
            request_id.to_string(),
            trace_id,
            event,
        ));
        let outcome = match task.await {
            Ok(outcome) => outcome,
            Err(join_error) => {
                error!(function = %function, request_id, "the invocation task failed: {join_error}");
                Outcome::Crashed {
                    message: format!("the local server failed while invoking `{function}`"),
                }
            }
        };
        if matches!(outcome, Outcome::Retired) {
            continue;
        }
        return outcome_response(&function, outcome, request_id);
    }
    message_response(
        StatusCode::SERVICE_UNAVAILABLE,
        "Service Unavailable",
        "the mount was reloaded repeatedly while the request waited; retry it",
    )
}

/// Returns whether `path` is `/_portkey` or lies under it. Such paths are never routed to a
/// mount, so a greedy mount cannot take a control endpoint's path.
fn is_reserved_path(path: &str) -> bool {
    let Some(rest) = path
        .strip_prefix('/')
        .and_then(|rest| rest.strip_prefix(portkey_route::RESERVED_SEGMENT))
    else {
        return false;
    };
    rest.is_empty() || rest.starts_with('/')
}

/// Returns how long the body of a request to `method` and `path` may take to arrive: the
/// timeout of the mount that serves it, at most `MAX_BODY_READ_TIMEOUT`.
fn body_read_timeout(shared: &Shared, method: &str, path: &str) -> Duration {
    let Lookup::Found(target) = shared.mounts().lookup(method, path) else {
        return MAX_BODY_READ_TIMEOUT;
    };
    let mount_timeout = Duration::from_secs(u64::from(target.pool.spec.record.timeout_secs));
    mount_timeout.min(MAX_BODY_READ_TIMEOUT)
}

/// Reads the request body up to Lambda's payload limit, waiting at most `timeout` for it; the
/// error is the response to send.
async fn read_request_body(
    parts: &Parts,
    body: &mut Body,
    timeout: Duration,
    request_id: &str,
) -> Result<Bytes, Response> {
    let declared_length = parts
        .headers
        .get(CONTENT_LENGTH)
        .and_then(|value| value.to_str().ok())
        .and_then(|value| value.parse::<u64>().ok());
    if let Some(length) = declared_length.filter(|length| *length > MAX_PAYLOAD_BYTES as u64) {
        // A client that waits for `100 Continue` has sent nothing yet. The body of any other
        // client is read and discarded first, unless it is too large to be worth reading.
        let waits_for_continue = parts
            .headers
            .get(EXPECT)
            .is_some_and(|value| value.as_bytes().eq_ignore_ascii_case(b"100-continue"));
        if !waits_for_continue && length <= MAX_DRAIN_BYTES {
            drain(body, MAX_DRAIN_BYTES).await;
        }
        return Err(payload_too_large());
    }
    let Ok(read) = tokio::time::timeout(timeout, read_limited(body, MAX_PAYLOAD_BYTES)).await
    else {
        warn!(
            method = %parts.method,
            path = parts.uri.path(),
            request_id,
            declared_length = ?declared_length,
            "the request body did not arrive within {timeout:?}; responding with 408"
        );
        let detail = format!("the request body did not arrive within {timeout:?}");
        let mut response =
            message_response(StatusCode::REQUEST_TIMEOUT, "Request Timeout", &detail);
        response
            .headers_mut()
            .insert(CONNECTION, HeaderValue::from_static("close"));
        return Err(response);
    };
    match read {
        Ok(bytes) => Ok(bytes),
        Err(BodyError::TooLarge) => {
            drain(body, MAX_DRAIN_BYTES).await;
            Err(payload_too_large())
        }
        Err(BodyError::Failed(message)) => {
            warn!("failed to read a request body: {message}");
            Err(message_response(
                StatusCode::BAD_REQUEST,
                "Bad Request",
                "the request body could not be read",
            ))
        }
    }
}

#[allow(clippy::too_many_arguments)]
fn event_bytes(
    shared: &Shared,
    parts: &Parts,
    body: &Bytes,
    peer: SocketAddr,
    target: &Target,
    request_id: &str,
    trace_id: &str,
    received_at: SystemTime,
) -> Bytes {
    let route_key = target.route.route_key();
    let protocol = format!("{:?}", parts.version);
    let event = build_event(&EventRequest {
        method: parts.method.as_str(),
        raw_path: parts.uri.path(),
        raw_query: parts.uri.query().unwrap_or(""),
        protocol: &protocol,
        headers: &parts.headers,
        body,
        source_ip: peer.ip(),
        gateway_port: shared.gateway_port,
        route_key: &route_key,
        path_parameters: &target.path_parameters,
        request_id,
        trace_id,
        received_at,
    });
    Bytes::from(event.to_string())
}

fn payload_too_large() -> Response {
    let detail = format!("the request exceeds Lambda's payload limit of {MAX_PAYLOAD_BYTES} bytes");
    message_response(
        StatusCode::PAYLOAD_TOO_LARGE,
        "Request Entity Too Large",
        &detail,
    )
}

fn method_not_allowed(method: &str, path: &str, allowed: &[portkey_route::Method]) -> Response {
    let names: Vec<&str> = allowed.iter().map(|method| method.as_str()).collect();
    let body = json!({
        "message": "Method Not Allowed",
        "detail": format!("{path} is mounted for {}, not {method}", names.join(", ")),
        "allowed": names,
    });
    let mut response = json_response(StatusCode::METHOD_NOT_ALLOWED, &body, None);
    if let Ok(value) = HeaderValue::from_str(&names.join(", ")) {
        response.headers_mut().insert(ALLOW, value);
    }
    response
}

/// Maps how an invocation ended to the client's response.
fn outcome_response(function: &str, outcome: Outcome, request_id: &str) -> Response {
    match outcome {
        Outcome::Response(payload) => {
            function_result(&payload, request_id).unwrap_or_else(|reason| {
                warn!(function, request_id, "invalid function result: {reason}");
                error_response(
                    StatusCode::BAD_GATEWAY,
                    "InvalidResponse",
                    &reason,
                    request_id,
                )
            })
        }
        Outcome::FunctionError {
            error_type,
            error_message,
        } => {
            let mut response = error_response(
                StatusCode::INTERNAL_SERVER_ERROR,
                &error_type,
                &error_message,
                request_id,
            );
            response.headers_mut().insert(
                "x-amz-function-error",
                HeaderValue::from_static("Unhandled"),
            );
            response
        }
        Outcome::ResponseTooLarge { limit } => error_response(
            StatusCode::BAD_GATEWAY,
            "Function.ResponseSizeTooLarge",
            &format!(
                "the response of `{function}` exceeds Lambda's payload limit of {limit} bytes"
            ),
            request_id,
        ),
        Outcome::Crashed { message } => error_response(
            StatusCode::BAD_GATEWAY,
            "Runtime.ExitError",
            &message,
            request_id,
        ),
        Outcome::NoResponse { message } => error_response(
            StatusCode::BAD_GATEWAY,
            "Runtime.NoResponse",
            &message,
            request_id,
        ),
        Outcome::TimedOut { timeout_secs } => error_response(
            StatusCode::GATEWAY_TIMEOUT,
            "Sandbox.Timedout",
            &format!(
                "`{function}` timed out after {timeout_secs} s; its instance was stopped and a new one serves the next request"
            ),
            request_id,
        ),
        Outcome::InitFailed(failure) => {
            error!(function, request_id, error_type = %failure.error_type, "init failed: {}", failure.message);
            error_response(
                StatusCode::BAD_GATEWAY,
                &failure.error_type,
                &failure.message,
                request_id,
            )
        }
        Outcome::InitTimedOut { message } => {
            error!(function, request_id, "{message}");
            error_response(
                StatusCode::GATEWAY_TIMEOUT,
                "Sandbox.Timedout",
                &message,
                request_id,
            )
        }
        Outcome::Throttled {
            waited,
            max_instances,
        } => error_response(
            StatusCode::TOO_MANY_REQUESTS,
            "TooManyRequestsException",
            &format!(
                "all {max_instances} instances of `{function}` stayed busy for {waited:.1?}; retry later"
            ),
            request_id,
        ),
        Outcome::SpawnFailed { message } => error_response(
            StatusCode::BAD_GATEWAY,
            "Runtime.StartError",
            &message,
            request_id,
        ),
        Outcome::Undelivered { reason } => error_response(
            StatusCode::BAD_GATEWAY,
            "Runtime.ExitError",
            &reason,
            request_id,
        ),
        Outcome::Retired => error_response(
            StatusCode::SERVICE_UNAVAILABLE,
            "ServiceUnavailable",
            &format!("`{function}` was reloaded while the request waited; retry it"),
            request_id,
        ),
    }
}
