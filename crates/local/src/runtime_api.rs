//! The Runtime API emulator, on its own listener on 127.0.0.1. Each instance reaches it under
//! its own path prefix (`/<prefix>/2018-06-01/...`), from which the emulator identifies the
//! calling instance. Status codes follow the Lambda Runtime API: 200 for `next`, 202 for accepted results,
//! 400 for an unknown request id, 403 for an init error after init, 404 for an unknown instance,
//! 413 for a payload over 6 MB.

use std::sync::Arc;

use axum::Router;
use axum::body::Body;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use serde_json::{Value, json};
use tracing::{error, info, warn};

use crate::body::{
    BodyError, DRAIN_TIMEOUT, MAX_PAYLOAD_BYTES, MAX_RESULT_BYTES, MAX_RUNTIME_DRAIN_BYTES, drain,
    read_limited,
};
use crate::instance::{CompleteError, InitFailure, Instance};
use crate::invoke::Outcome;
use crate::shared::Shared;

/// The header in which a runtime may name the error type of a posted error.
const ERROR_TYPE_HEADER: &str = "lambda-runtime-function-error-type";

pub(crate) fn router(shared: Arc<Shared>) -> Router {
    Router::new()
        .route("/{prefix}/2018-06-01/runtime/invocation/next", get(next))
        .route(
            "/{prefix}/2018-06-01/runtime/invocation/{request_id}/response",
            post(response),
        )
        .route(
            "/{prefix}/2018-06-01/runtime/invocation/{request_id}/error",
            post(invocation_error),
        )
        .route("/{prefix}/2018-06-01/runtime/init/error", post(init_error))
        .fallback(unknown_path)
        .with_state(shared)
}

fn runtime_error(status: StatusCode, error_type: &str, message: &str) -> Response {
    let body = json!({ "errorType": error_type, "errorMessage": message });
    (
        status,
        [("content-type", "application/json")],
        body.to_string(),
    )
        .into_response()
}

fn accepted() -> Response {
    (
        StatusCode::ACCEPTED,
        [("content-type", "application/json")],
        r#"{"status":"OK"}"#,
    )
        .into_response()
}

fn unknown_instance(prefix: &str) -> Response {
    runtime_error(
        StatusCode::NOT_FOUND,
        "UnknownInstance",
        &format!(
            "no running instance uses the path prefix `{prefix}`; it has exited or was stopped"
        ),
    )
}

async fn unknown_path() -> Response {
    runtime_error(
        StatusCode::NOT_FOUND,
        "NotFound",
        "unknown Runtime API path; paths have the form /<prefix>/2018-06-01/runtime/...",
    )
}

/// `GET .../runtime/invocation/next`: long-polls until an invocation is assigned.
async fn next(State(shared): State<Arc<Shared>>, Path(prefix): Path<String>) -> Response {
    let Some(instance) = shared.instance(&prefix) else {
        return unknown_instance(&prefix);
    };
    if instance.mark_ready() {
        info!(function = %instance.function, instance = instance.id, "instance finished init");
        if let Some(pool) = instance.pool() {
            pool.on_ready(&instance);
        }
    }
    instance.fail_unanswered();

    let Some(invocation) = instance.next_invocation().await else {
        return runtime_error(
            StatusCode::GONE,
            "InstanceStopped",
            "the instance was stopped",
        );
    };
    let mut response = Response::new(Body::from(invocation.event));
    let headers = response.headers_mut();
    headers.insert("content-type", HeaderValue::from_static("application/json"));
    let values = [
        ("lambda-runtime-aws-request-id", invocation.request_id),
        (
            "lambda-runtime-deadline-ms",
            invocation.deadline_ms.to_string(),
        ),
        (
            "lambda-runtime-invoked-function-arn",
            invocation.function_arn,
        ),
        ("lambda-runtime-trace-id", invocation.trace_id),
    ];
    for (name, value) in values {
        match HeaderValue::from_str(&value) {
            Ok(value) => {
                headers.insert(name, value);
            }
            Err(_) => {
                error!(header = name, value = %value, "skipping an invalid Runtime API header value")
            }
        }
    }
    response
}

/// `POST .../runtime/invocation/{id}/response`.
async fn response(
    State(shared): State<Arc<Shared>>,
    Path((prefix, request_id)): Path<(String, String)>,
    mut body: Body,
) -> Response {
    let Some(instance) = shared.instance(&prefix) else {
        return unknown_instance(&prefix);
    };
    let payload = match read_limited(&mut body, MAX_RESULT_BYTES).await {
        Ok(payload) => payload,
        Err(BodyError::TooLarge) => {
            discard_oversized_body(&instance, &mut body).await;
            return too_large(&instance, &request_id);
        }
        Err(BodyError::Failed(message)) => return unreadable(&message),
    };
    finish(&instance, &request_id, Outcome::Response(payload))
}

/// `POST .../runtime/invocation/{id}/error`: the body is `{"errorType", "errorMessage"}`; a
/// body of another form is kept as the message, typed by the `Lambda-Runtime-Function-Error-Type`
/// header.
async fn invocation_error(
    State(shared): State<Arc<Shared>>,
    Path((prefix, request_id)): Path<(String, String)>,
    headers: HeaderMap,
    mut body: Body,
) -> Response {
    let Some(instance) = shared.instance(&prefix) else {
        return unknown_instance(&prefix);
    };
    let payload = match read_limited(&mut body, MAX_RESULT_BYTES).await {
        Ok(payload) => payload,
        Err(BodyError::TooLarge) => {
            discard_oversized_body(&instance, &mut body).await;
            return too_large(&instance, &request_id);
        }
        Err(BodyError::Failed(message)) => return unreadable(&message),
    };
    let (error_type, error_message) = parse_error_body(&payload, &headers);
    warn!(
        function = %instance.function,
        instance = instance.id,
        request_id = %request_id,
        error_type = %error_type,
        "function error: {error_message}"
    );
    finish(
        &instance,
        &request_id,
        Outcome::FunctionError {
            error_type,
            error_message,
        },
    )
}

/// `POST .../runtime/init/error`: init failed; the instance is stopped.
async fn init_error(
    State(shared): State<Arc<Shared>>,
    Path(prefix): Path<String>,
    headers: HeaderMap,
    mut body: Body,
) -> Response {
    let Some(instance) = shared.instance(&prefix) else {
        return unknown_instance(&prefix);
    };
    let payload = match read_limited(&mut body, MAX_PAYLOAD_BYTES).await {
        Ok(payload) => payload,
        Err(BodyError::TooLarge) => {
            discard_oversized_body(&instance, &mut body).await;
            return runtime_error(
                StatusCode::PAYLOAD_TOO_LARGE,
                "RequestEntityTooLarge",
                "the init error body exceeds 6 MB",
            );
        }
        Err(BodyError::Failed(message)) => return unreadable(&message),
    };
    let (error_type, message) = parse_error_body(&payload, &headers);
    let failure = InitFailure {
        error_type: error_type.clone(),
        message: message.clone(),
    };
    if !instance.fail_init(failure) {
        return runtime_error(
            StatusCode::FORBIDDEN,
            "InvalidStateTransition",
            "init has already finished; post errors of an invocation to /runtime/invocation/{id}/error",
        );
    }
    error!(function = %instance.function, instance = instance.id, error_type = %error_type, "init failed: {message}");
    instance.kill("it reported an init error");
    accepted()
}

fn finish(instance: &Instance, request_id: &str, outcome: Outcome) -> Response {
    match instance.complete(request_id, outcome) {
        Ok(()) => accepted(),
        Err(CompleteError::UnknownRequest) => runtime_error(
            StatusCode::BAD_REQUEST,
            "InvalidRequestID",
            &format!(
                "request `{request_id}` is not the invocation this instance holds; it may have timed out"
            ),
        ),
    }
}

fn too_large(instance: &Instance, request_id: &str) -> Response {
    let limit = MAX_RESULT_BYTES;
    warn!(function = %instance.function, instance = instance.id, request_id = %request_id, "response payload exceeds {limit} bytes");
    // The invocation fails either way; a stale request id changes nothing more.
    let _ = instance.complete(request_id, Outcome::ResponseTooLarge { limit });
    runtime_error(
        StatusCode::PAYLOAD_TOO_LARGE,
        "RequestEntityTooLarge",
        &format!("Exceeded maximum allowed payload size ({limit} bytes)."),
    )
}

/// Discards the rest of an oversized body so the runtime reads the 413, and logs when it was
/// too large or too slow to discard.
async fn discard_oversized_body(instance: &Instance, body: &mut Body) {
    if drain(body, MAX_RUNTIME_DRAIN_BYTES).await {
        return;
    }
    warn!(
        function = %instance.function,
        instance = instance.id,
        "stopped discarding an oversized body after {MAX_RUNTIME_DRAIN_BYTES} bytes or \
         {DRAIN_TIMEOUT:?}; the runtime may see a reset connection instead of the 413"
    );
}

fn unreadable(message: &str) -> Response {
    runtime_error(
        StatusCode::BAD_REQUEST,
        "InvalidRequest",
        &format!("failed to read the request body: {message}"),
    )
}

/// Returns the error type and message of a posted error.
fn parse_error_body(payload: &[u8], headers: &HeaderMap) -> (String, String) {
    let header_type = headers
        .get(ERROR_TYPE_HEADER)
        .and_then(|value| value.to_str().ok())
        .map(str::to_string);
    let parsed: Option<Value> = serde_json::from_slice(payload).ok();
    let field = |name: &str| {
        parsed
            .as_ref()
            .and_then(|value| value.get(name))
            .and_then(Value::as_str)
            .map(str::to_string)
    };
    let error_type = field("errorType")
        .or(header_type)
        .unwrap_or_else(|| "Unhandled".to_string());
    let error_message =
        field("errorMessage").unwrap_or_else(|| String::from_utf8_lossy(payload).into_owned());
    (error_type, error_message)
}
