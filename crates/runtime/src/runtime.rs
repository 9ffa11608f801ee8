//! The invocation loop: fetches each event, runs the handler under `catch_unwind`, and posts
//! the reply. Failures of the Runtime API itself end the process with status 1, after which
//! Lambda starts a new one.

use std::panic::{self, AssertUnwindSafe};
use std::process;

use crate::api::{ApiError, ErrorReport, Invocation, RuntimeClient};
use crate::endpoint::{Endpoint, RUNTIME_API_VARIABLE};
use crate::panic_capture;
use crate::reply::Reply;
use crate::request::Request;
use crate::response::Response;

/// Environment variable that carries the X-Ray trace header of the current invocation.
pub const TRACE_ID_VARIABLE: &str = "_X_AMZN_TRACE_ID";

/// Lambda's maximum size of a buffered (not streamed) response payload, in bytes, 100 bytes
/// more than 6 MiB. Lambda's Runtime API rejects a larger response with 413 and the message
/// `Exceeded maximum allowed payload size (6291556 bytes).`
pub const MAX_RESPONSE_BYTES: usize = 6_291_556;

/// The error type Lambda reports for a response over [`MAX_RESPONSE_BYTES`].
pub const RESPONSE_TOO_LARGE_ERROR_TYPE: &str = "Function.ResponseSizeTooLarge";

/// Serves invocations from the Runtime API named by `AWS_LAMBDA_RUNTIME_API` forever.
///
/// A handler panic is posted to the invocation's `/error` endpoint with `errorType` `Panic`, and
/// the loop goes on with the next invocation (this needs `panic = "unwind"`). When the Runtime
/// API is missing, unreachable or returns an error status for the first request, the process
/// prints the reason to stderr and exits with status 1. An error status is also reported to
/// `/runtime/init/error` first.
pub fn start(handler: fn(&Request) -> Response) -> ! {
    panic_capture::install_hook();
    let endpoint = match Endpoint::from_env() {
        Ok(endpoint) => endpoint,
        Err(error) => exit_with(&error.to_string()),
    };
    let mut client = RuntimeClient::new(endpoint);
    let mut served_any = false;

    loop {
        let (invocation, payload) = match client.next_invocation() {
            Ok(next) => next,
            Err(error) => stop_after_next_failed(&mut client, &error, served_any),
        };
        served_any = true;

        set_trace_variable(invocation.trace_id.as_deref());
        let request_id = invocation.request_id.clone();
        let reply = handle_invocation(handler, invocation, &payload);
        post_reply(&mut client, &request_id, &reply);
    }
}

/// Runs `handler` on one invocation and encodes its outcome: the handler's response for the
/// event kind, or a `Panic` error report when the handler panicked. A response payload over
/// [`MAX_RESPONSE_BYTES`] becomes a `Function.ResponseSizeTooLarge` error report that names its
/// size, because Lambda would reject the payload.
pub fn handle_invocation(
    handler: fn(&Request) -> Response,
    invocation: Invocation,
    payload: &[u8],
) -> Reply {
    panic_capture::install_hook();
    panic_capture::clear_capture();
    let request = Request::from_event(invocation, payload);

    // The request is dropped right after a panic, so no broken invariant can be observed.
    let outcome = panic::catch_unwind(AssertUnwindSafe(|| handler(&request)));
    match outcome {
        Ok(response) => {
            if response.status() >= 500 {
                log_server_error(&request, &response);
            }
            limit_response_size(response.to_reply(&request), request.request_id())
        }
        Err(payload) => {
            let capture = panic_capture::take_capture(payload.as_ref());
            eprintln!(
                "portkey-runtime: the handler panicked on request {}; reporting it as errorType Panic",
                request.request_id()
            );
            let stack_trace = capture.location.into_iter().collect();
            Reply::Failure(ErrorReport {
                error_type: "Panic".to_owned(),
                message: capture.message,
                stack_trace,
            })
        }
    }
}

/// Replaces a success payload over [`MAX_RESPONSE_BYTES`] with the error report Lambda gives
/// for it. Posting the payload would only earn a 413 from the Runtime API.
fn limit_response_size(reply: Reply, request_id: &str) -> Reply {
    let size = match &reply {
        Reply::Success(body) if body.len() > MAX_RESPONSE_BYTES => body.len(),
        _ => return reply,
    };
    let message = format!(
        "Response payload size ({size} bytes) exceeded maximum allowed payload size \
         ({MAX_RESPONSE_BYTES} bytes)."
    );
    eprintln!(
        "portkey-runtime: the response to request {request_id} is not sent: {message} Reporting \
         it as errorType {RESPONSE_TOO_LARGE_ERROR_TYPE}"
    );
    Reply::Failure(ErrorReport {
        error_type: RESPONSE_TOO_LARGE_ERROR_TYPE.to_owned(),
        message,
        stack_trace: Vec::new(),
    })
}

fn log_server_error(request: &Request, response: &Response) {
    let body = String::from_utf8_lossy(&response.body()[..response.body().len().min(1024)]);
    eprintln!(
        "portkey-runtime: request {} returned status {}: {}",
        request.request_id(),
        response.status(),
        body
    );
}

fn post_reply(client: &mut RuntimeClient, request_id: &str, reply: &Reply) {
    let result = match reply {
        Reply::Success(body) => client.post_response(request_id, body),
        Reply::Failure(report) => client.post_invocation_error(request_id, report),
    };
    let Err(error) = result else { return };

    match &error {
        ApiError::Status { status: 413, .. } => {
            eprintln!(
                "portkey-runtime: the reply to request {request_id} was rejected as too large: {error}"
            );
            let report = ErrorReport {
                error_type: "Runtime.ResponseTooLarge".to_owned(),
                message: error.to_string(),
                stack_trace: Vec::new(),
            };
            if let Err(second) = client.post_invocation_error(request_id, &report) {
                eprintln!("portkey-runtime: reporting that failure also failed: {second}");
            }
        }
        // The Runtime API defines 500 as a non-recoverable container error.
        ApiError::Status { status: 500, .. } | ApiError::Http(_) => {
            exit_with(&format!(
                "cannot post the reply to request {request_id} to {}: {error}",
                client.endpoint()
            ));
        }
        _ => eprintln!(
            "portkey-runtime: the Runtime API rejected the reply to request {request_id}: {error}"
        ),
    }
}

fn stop_after_next_failed(client: &mut RuntimeClient, error: &ApiError, served_any: bool) -> ! {
    let endpoint = client.endpoint().to_string();
    if error.is_unreachable() {
        let configured = std::env::var(RUNTIME_API_VARIABLE).unwrap_or_default();
        exit_with(&format!(
            "cannot reach the Lambda Runtime API at {endpoint}: {error}; check that {RUNTIME_API_VARIABLE} \
             (currently {configured:?}) names a running Runtime API"
        ));
    }
    if !served_any {
        let report = ErrorReport {
            error_type: "Runtime.NextInvocationFailed".to_owned(),
            message: error.to_string(),
            stack_trace: Vec::new(),
        };
        if let Err(init_error) = client.post_init_error(&report) {
            eprintln!("portkey-runtime: posting to /runtime/init/error also failed: {init_error}");
        }
    }
    exit_with(&format!(
        "cannot fetch the next invocation from {endpoint}: {error}"
    ))
}

fn set_trace_variable(trace_id: Option<&str>) {
    // `set_var` panics on a NUL byte, which a network header could carry.
    let usable = trace_id.filter(|id| !id.is_empty() && !id.contains('\0'));
    // SAFETY: the environment is changed on the loop's thread between invocations, when no
    // handler code runs. Threads that a handler left running and that read the environment at
    // that moment would race with this write.
    unsafe {
        match usable {
            Some(id) => std::env::set_var(TRACE_ID_VARIABLE, id),
            None => std::env::remove_var(TRACE_ID_VARIABLE),
        }
    }
}

fn exit_with(message: &str) -> ! {
    eprintln!("portkey-runtime: {message}; exiting");
    process::exit(1)
}
