//! End-to-end tests of `start`: the Runtime API server of `fake_runtime_api` on a real TCP
//! socket, and this same test binary re-executed as the runtime process (`PORTKEY_LOOP_CHILD` set), which calls
//! `portkey_runtime::start` with the `handle` function below.
//!
//! The binary has its own small harness (`harness = false` in Cargo.toml) because the child
//! must enter `start` from `main`. Pass a substring as the first argument to run matching tests.

// The `&` in `(&Ret(value))` is the generated expression that selects the impl, so it stays
// even where the value's type would not need it.
#![allow(clippy::needless_borrow)]

mod fake_runtime_api;

use std::io::Read;
use std::net::TcpListener;
use std::panic::{self, AssertUnwindSafe};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::{Arc, Mutex};
use std::thread;
use std::time::{Duration, Instant};

use fake_runtime_api::{
    Closing, DEFAULT_OPTIONS, FakeRuntimeApi, Received, ServerOptions, WAIT, scripted,
};
use portkey_runtime::{Request, Response};
use serde_json::{Value, json};

const CHILD_VARIABLE: &str = "PORTKEY_LOOP_CHILD";

// ---------------------------------------------------------------------------------------------
// The runtime under test.

/// The handler of the child process. `op` selects the behaviour.
fn handle(request: &Request) -> Response {
    let op: String = match request.scalar("op", "String") {
        Ok(op) => op,
        Err(response) => return response,
    };
    match op.as_str() {
        "greet" => {
            let name: String = match request.scalar("name", "String") {
                Ok(name) => name,
                Err(response) => return response,
            };
            Response::display(&format!("{name} is brilliant"))
        }
        "echo" => Response::json(
            200,
            &json!({
                "kind": format!("{:?}", request.kind()),
                "method": request.method(),
                "path": request.path(),
                "request_id": request.request_id(),
                "deadline_ms": request.deadline_ms(),
                "function_arn": request.invocation().invoked_function_arn,
                "trace_env": std::env::var("_X_AMZN_TRACE_ID").ok(),
                "body": String::from_utf8_lossy(request.body()),
            }),
        ),
        "age" => {
            let age: u8 = match request.scalar("age", "u8") {
                Ok(age) => age,
                Err(response) => return response,
            };
            {
                use portkey_runtime::respond::*;
                (&Ret(age)).portkey_respond()
            }
        }
        "fail" => {
            let out: Result<u32, std::io::Error> = Err(std::io::Error::other("disk is full"));
            match out {
                Ok(value) => {
                    use portkey_runtime::respond::*;
                    (&Ret(value)).portkey_respond()
                }
                Err(error) => {
                    use portkey_runtime::respond::*;
                    (&Fail(error)).portkey_fail()
                }
            }
        }
        "panic" => panic!("requested panic in {}", request.request_id()),
        "big" => {
            let bytes: usize = match request.scalar("bytes", "usize") {
                Ok(bytes) => bytes,
                Err(response) => return response,
            };
            Response::text(200, "x".repeat(bytes))
        }
        other => Response::text(404, format!("unknown op {other}")),
    }
}

// ---------------------------------------------------------------------------------------------
// The runtime process.

struct RuntimeProcess {
    child: Child,
    stderr: Arc<Mutex<String>>,
}

impl RuntimeProcess {
    /// Starts this binary as the runtime with `AWS_LAMBDA_RUNTIME_API` set to `api`, or unset
    /// when `api` is `None`.
    fn spawn(api: Option<&str>) -> RuntimeProcess {
        let executable = std::env::current_exe().expect("test executable path");
        let mut command = Command::new(executable);
        command
            .env(CHILD_VARIABLE, "1")
            .env_remove("_X_AMZN_TRACE_ID")
            .stdout(Stdio::null())
            .stderr(Stdio::piped());
        match api {
            Some(api) => command.env("AWS_LAMBDA_RUNTIME_API", api),
            None => command.env_remove("AWS_LAMBDA_RUNTIME_API"),
        };
        let mut child = command.spawn().expect("spawn the runtime process");

        let stderr = Arc::new(Mutex::new(String::new()));
        let mut pipe = child.stderr.take().expect("piped stderr");
        let sink = Arc::clone(&stderr);
        thread::spawn(move || {
            let mut buffer = [0u8; 4096];
            while let Ok(read) = pipe.read(&mut buffer) {
                if read == 0 {
                    break;
                }
                sink.lock()
                    .unwrap()
                    .push_str(&String::from_utf8_lossy(&buffer[..read]));
            }
        });
        RuntimeProcess { child, stderr }
    }

    fn for_server(server: &FakeRuntimeApi, scheme_and_prefix: bool) -> RuntimeProcess {
        let api = if scheme_and_prefix {
            format!("http://{}{}", server.address, server.prefix())
        } else {
            server.address.to_string()
        };
        RuntimeProcess::spawn(Some(&api))
    }

    fn wait_for_exit(&mut self) -> ExitStatus {
        let started = Instant::now();
        loop {
            if let Some(status) = self.child.try_wait().expect("wait for the runtime process") {
                return status;
            }
            assert!(
                started.elapsed() < WAIT,
                "the runtime process did not exit; stderr:\n{}",
                self.stderr()
            );
            thread::sleep(Duration::from_millis(20));
        }
    }

    fn stderr(&self) -> String {
        // The reader thread may still be copying the last bytes after an exit.
        thread::sleep(Duration::from_millis(50));
        self.stderr.lock().unwrap().clone()
    }
}

impl Drop for RuntimeProcess {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

// ---------------------------------------------------------------------------------------------
// Events.

fn http_api_event(raw_query: &str) -> Value {
    json!({
        "version": "2.0",
        "routeKey": "$default",
        "rawPath": "/hello",
        "rawQueryString": raw_query,
        "headers": { "accept": "*/*" },
        "requestContext": { "http": { "method": "GET", "path": "/hello" } },
        "isBase64Encoded": false,
    })
}

fn response_body(post: &Received) -> Value {
    let payload = post.json();
    let body = payload["body"]
        .as_str()
        .expect("proxy response has a body string");
    serde_json::from_str(body).unwrap_or_else(|_| Value::String(body.to_owned()))
}

// ---------------------------------------------------------------------------------------------
// Tests.

fn http_event_reply_is_posted() {
    let server = FakeRuntimeApi::start(
        DEFAULT_OPTIONS,
        vec![scripted(
            "req-1",
            http_api_event("op=greet&name=Ada+Lovelace"),
        )],
    );
    let _runtime = RuntimeProcess::for_server(&server, false);

    let post = server.next_post();
    assert_eq!(post.method, "POST");
    assert_eq!(post.path, "/2018-06-01/runtime/invocation/req-1/response");
    assert_eq!(post.header("Content-Type"), Some("application/json"));
    let payload = post.json();
    assert_eq!(payload["statusCode"], 200);
    assert_eq!(payload["body"], "Ada Lovelace is brilliant");
    assert_eq!(
        payload["headers"]["content-type"],
        "text/plain; charset=utf-8"
    );
    assert_eq!(payload["isBase64Encoded"], false);
}

fn invocation_metadata_reaches_handler() {
    let server = FakeRuntimeApi::start(
        DEFAULT_OPTIONS,
        vec![scripted("req-meta", http_api_event("op=echo"))],
    );
    let _runtime = RuntimeProcess::for_server(&server, false);

    let echoed = response_body(&server.next_post());
    assert_eq!(echoed["kind"], "HttpApiV2");
    assert_eq!(echoed["method"], "GET");
    assert_eq!(echoed["path"], "/hello");
    assert_eq!(echoed["request_id"], "req-meta");
    assert_eq!(echoed["deadline_ms"], 4102444800000u64);
    assert_eq!(
        echoed["function_arn"],
        "arn:aws:lambda:us-east-1:123456789012:function:test"
    );
}

fn scheme_and_prefix_form_works() {
    let options = ServerOptions {
        prefix: "/.rt/fn",
        ..DEFAULT_OPTIONS
    };
    let server = FakeRuntimeApi::start(
        options,
        vec![scripted("req-prefix", http_api_event("op=greet&name=Ada"))],
    );
    let _runtime = RuntimeProcess::for_server(&server, true);

    let post = server.next_post();
    assert_eq!(
        post.path,
        "/.rt/fn/2018-06-01/runtime/invocation/req-prefix/response"
    );
    assert_eq!(post.json()["body"], "Ada is brilliant");
    let log = server.log();
    assert_eq!(
        log.first().map(String::as_str),
        Some("GET /.rt/fn/2018-06-01/runtime/invocation/next")
    );
    assert!(
        log.iter().all(|line| line.contains("/.rt/fn/2018-06-01/")),
        "{log:?}"
    );
}

fn trace_id_is_set_per_invocation() {
    let mut traced = scripted("req-traced", http_api_event("op=echo"));
    let trace = "Root=1-5759e988-bd862e3fe1be46a994272793;Sampled=1";
    traced
        .extra_headers
        .push(("Lambda-Runtime-Trace-Id".to_owned(), trace.to_owned()));
    let untraced = scripted("req-untraced", http_api_event("op=echo"));
    let server = FakeRuntimeApi::start(DEFAULT_OPTIONS, vec![traced, untraced]);
    let _runtime = RuntimeProcess::for_server(&server, false);

    assert_eq!(response_body(&server.next_post())["trace_env"], trace);
    assert_eq!(response_body(&server.next_post())["trace_env"], Value::Null);
}

fn panic_is_reported_and_loop_continues() {
    let events = vec![
        scripted("req-panic", http_api_event("op=panic")),
        scripted("req-after", http_api_event("op=greet&name=Ada")),
    ];
    let server = FakeRuntimeApi::start(DEFAULT_OPTIONS, events);
    let runtime = RuntimeProcess::for_server(&server, false);

    let error = server.next_post();
    assert_eq!(error.path, "/2018-06-01/runtime/invocation/req-panic/error");
    assert_eq!(
        error.header("Lambda-Runtime-Function-Error-Type"),
        Some("Panic")
    );
    let report = error.json();
    assert_eq!(report["errorType"], "Panic");
    assert_eq!(report["errorMessage"], "requested panic in req-panic");
    assert!(
        report["stackTrace"][0]
            .as_str()
            .unwrap_or_default()
            .contains("invocation_loop.rs"),
        "{report}"
    );

    let next = server.next_post();
    assert_eq!(
        next.path,
        "/2018-06-01/runtime/invocation/req-after/response"
    );
    assert_eq!(next.json()["body"], "Ada is brilliant");

    let stderr = runtime.stderr();
    assert!(
        stderr.contains("panicked at"),
        "the usual panic line is missing:\n{stderr}"
    );
    assert!(stderr.contains("requested panic in req-panic"), "{stderr}");
}

fn bad_parameter_is_http_400() {
    let server = FakeRuntimeApi::start(
        DEFAULT_OPTIONS,
        vec![scripted("req-400", http_api_event("op=age&age=abc"))],
    );
    let _runtime = RuntimeProcess::for_server(&server, false);

    let post = server.next_post();
    assert_eq!(post.path, "/2018-06-01/runtime/invocation/req-400/response");
    assert_eq!(post.json()["statusCode"], 400);
    let body = response_body(&post);
    assert_eq!(body["parameter"], "age");
    assert_eq!(body["value"], "abc");
    assert_eq!(body["expected"], "u8");
}

fn direct_invocations_reply() {
    let events = vec![
        scripted("req-direct", json!({ "op": "age", "age": 7 })),
        scripted("req-direct-bad", json!({ "op": "age", "age": "seven" })),
        scripted("req-direct-fail", json!({ "op": "fail" })),
    ];
    let server = FakeRuntimeApi::start(DEFAULT_OPTIONS, events);
    let _runtime = RuntimeProcess::for_server(&server, false);

    let ok = server.next_post();
    assert_eq!(
        ok.path,
        "/2018-06-01/runtime/invocation/req-direct/response"
    );
    assert_eq!(ok.body, b"7");

    let bad = server.next_post();
    assert_eq!(
        bad.path,
        "/2018-06-01/runtime/invocation/req-direct-bad/error"
    );
    assert_eq!(
        bad.header("Lambda-Runtime-Function-Error-Type"),
        Some("InvalidParameter")
    );
    let report = bad.json();
    assert_eq!(report["errorType"], "InvalidParameter");
    assert!(
        report["errorMessage"]
            .as_str()
            .unwrap_or_default()
            .contains("seven"),
        "{report}"
    );

    let fail = server.next_post();
    assert_eq!(
        fail.path,
        "/2018-06-01/runtime/invocation/req-direct-fail/error"
    );
    assert_eq!(fail.json()["errorMessage"], "disk is full");
    assert_eq!(fail.json()["errorType"], "std::io::error::Error");
}

fn chunked_and_closed_connections_work() {
    // One-byte chunks of a 20 KB event: 20,000 size lines, more than one head limit in total.
    let options = ServerOptions {
        chunk_size: Some(1),
        closing: Closing::Announced,
        ..DEFAULT_OPTIONS
    };
    let mut event = http_api_event("op=greet&name=Ada");
    event["padding"] = Value::String("x".repeat(20_000));
    let events = (0..3)
        .map(|i| scripted(&format!("req-chunked-{i}"), event.clone()))
        .collect();
    let server = FakeRuntimeApi::start(options, events);
    let _runtime = RuntimeProcess::for_server(&server, false);

    for i in 0..3 {
        let post = server.next_post();
        assert_eq!(
            post.path,
            format!("/2018-06-01/runtime/invocation/req-chunked-{i}/response")
        );
        assert_eq!(post.json()["body"], "Ada is brilliant");
    }
    // Every response closed its connection: three GETs and three POSTs need six connections
    // (the fourth GET may be connecting by now).
    assert!(server.connection_count() >= 6);
}

fn keep_alive_reuses_connection() {
    let events = (0..3)
        .map(|i| {
            scripted(
                &format!("req-keep-{i}"),
                http_api_event("op=greet&name=Ada"),
            )
        })
        .collect();
    let server = FakeRuntimeApi::start(DEFAULT_OPTIONS, events);
    let _runtime = RuntimeProcess::for_server(&server, false);

    for _ in 0..3 {
        server.next_post();
    }
    assert_eq!(server.connection_count(), 1);
}

fn dropped_idle_connection_is_reopened() {
    let options = ServerOptions {
        closing: Closing::Silent,
        ..DEFAULT_OPTIONS
    };
    let events = (0..2)
        .map(|i| {
            scripted(
                &format!("req-drop-{i}"),
                http_api_event("op=greet&name=Ada"),
            )
        })
        .collect();
    let server = FakeRuntimeApi::start(options, events);
    let runtime = RuntimeProcess::for_server(&server, false);

    assert_eq!(
        server.next_post().path,
        "/2018-06-01/runtime/invocation/req-drop-0/response"
    );
    assert_eq!(
        server.next_post().path,
        "/2018-06-01/runtime/invocation/req-drop-1/response"
    );
    let stderr = runtime.stderr();
    assert!(stderr.contains("retrying on a new connection"), "{stderr}");
}

fn unreachable_api_exits_clearly() {
    // A port that was just free: nothing listens there.
    let address = TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap();
    let mut runtime = RuntimeProcess::spawn(Some(&address.to_string()));

    let status = runtime.wait_for_exit();
    assert_eq!(status.code(), Some(1));
    let stderr = runtime.stderr();
    assert!(
        stderr.contains("cannot reach the Lambda Runtime API"),
        "{stderr}"
    );
    assert!(stderr.contains(&address.to_string()), "{stderr}");
    assert!(stderr.contains("AWS_LAMBDA_RUNTIME_API"), "{stderr}");
}

fn missing_variable_exits_clearly() {
    let mut runtime = RuntimeProcess::spawn(None);
    assert_eq!(runtime.wait_for_exit().code(), Some(1));
    let stderr = runtime.stderr();
    assert!(
        stderr.contains("AWS_LAMBDA_RUNTIME_API is not set"),
        "{stderr}"
    );
}

fn invalid_variable_exits_clearly() {
    let mut runtime = RuntimeProcess::spawn(Some("https://127.0.0.1:9001"));
    assert_eq!(runtime.wait_for_exit().code(), Some(1));
    let stderr = runtime.stderr();
    assert!(
        stderr.contains("only the http scheme is supported"),
        "{stderr}"
    );
}

fn first_next_failure_posts_init_error() {
    let options = ServerOptions {
        first_next_status: Some(500),
        ..DEFAULT_OPTIONS
    };
    let server = FakeRuntimeApi::start(options, Vec::new());
    let mut runtime = RuntimeProcess::for_server(&server, false);

    let post = server.next_post();
    assert_eq!(post.path, "/2018-06-01/runtime/init/error");
    assert_eq!(
        post.header("Lambda-Runtime-Function-Error-Type"),
        Some("Runtime.NextInvocationFailed")
    );
    assert!(
        post.json()["errorMessage"]
            .as_str()
            .unwrap_or_default()
            .contains("status 500")
    );
    assert_eq!(runtime.wait_for_exit().code(), Some(1));
    let stderr = runtime.stderr();
    assert!(
        stderr.contains("cannot fetch the next invocation"),
        "{stderr}"
    );
}

fn oversized_response_is_reported() {
    let events = vec![
        scripted("req-big", http_api_event("op=big&bytes=7000000")),
        scripted("req-after", http_api_event("op=greet&name=Ada")),
    ];
    let server = FakeRuntimeApi::start(DEFAULT_OPTIONS, events);
    let mut runtime = RuntimeProcess::for_server(&server, false);

    let error = server.next_post();
    assert_eq!(error.path, "/2018-06-01/runtime/invocation/req-big/error");
    assert_eq!(
        error.header("Lambda-Runtime-Function-Error-Type"),
        Some("Function.ResponseSizeTooLarge")
    );
    let report = error.json();
    assert_eq!(report["errorType"], "Function.ResponseSizeTooLarge");
    let message = report["errorMessage"].as_str().unwrap_or_default();
    assert!(message.contains("(6291556 bytes)"), "{message}");
    // The payload is the 7,000,000-byte body inside the proxy response's JSON.
    let size: usize = message
        .strip_prefix("Response payload size (")
        .and_then(|rest| rest.split_once(" bytes)"))
        .and_then(|(size, _)| size.parse().ok())
        .unwrap_or_else(|| panic!("no size in {message:?}"));
    assert!((7_000_000..7_001_000).contains(&size), "{message}");

    let next = server.next_post();
    assert_eq!(
        next.path,
        "/2018-06-01/runtime/invocation/req-after/response"
    );
    assert_eq!(next.json()["body"], "Ada is brilliant");
    assert!(
        !server
            .log()
            .iter()
            .any(|line| line.ends_with("/req-big/response")),
        "{:?}",
        server.log()
    );
    assert!(
        runtime
            .child
            .try_wait()
            .expect("poll the runtime")
            .is_none()
    );
}

fn rejected_response_is_not_resent() {
    // 5 MB is under Lambda's limit, so the runtime posts it, and more than the socket buffers
    // hold, so the server's early close breaks the runtime's write.
    let options = ServerOptions {
        reject_responses_over: Some(1_000_000),
        ..DEFAULT_OPTIONS
    };
    let events = vec![
        scripted("req-big", http_api_event("op=big&bytes=5000000")),
        scripted("req-after", http_api_event("op=greet&name=Ada")),
    ];
    let server = FakeRuntimeApi::start(options, events);
    let mut runtime = RuntimeProcess::for_server(&server, false);

    let rejected = server.next_post();
    assert_eq!(
        rejected.path,
        "/2018-06-01/runtime/invocation/req-big/response"
    );
    let error = server.next_post();
    assert_eq!(error.path, "/2018-06-01/runtime/invocation/req-big/error");
    assert_eq!(error.json()["errorType"], "Runtime.ResponseTooLarge");
    assert!(
        error.json()["errorMessage"]
            .as_str()
            .unwrap_or_default()
            .contains("413"),
        "{}",
        error.json()
    );

    let next = server.next_post();
    assert_eq!(
        next.path,
        "/2018-06-01/runtime/invocation/req-after/response"
    );
    let posts_of_big: Vec<String> = server
        .log()
        .into_iter()
        .filter(|line| line.ends_with("/req-big/response"))
        .collect();
    assert_eq!(posts_of_big.len(), 1, "{posts_of_big:?}");
    assert!(
        runtime
            .child
            .try_wait()
            .expect("poll the runtime")
            .is_none()
    );
}

// ---------------------------------------------------------------------------------------------
// Harness.

const TESTS: &[(&str, fn())] = &[
    ("http_event_reply_is_posted", http_event_reply_is_posted),
    (
        "invocation_metadata_reaches_handler",
        invocation_metadata_reaches_handler,
    ),
    ("scheme_and_prefix_form_works", scheme_and_prefix_form_works),
    (
        "trace_id_is_set_per_invocation",
        trace_id_is_set_per_invocation,
    ),
    (
        "panic_is_reported_and_loop_continues",
        panic_is_reported_and_loop_continues,
    ),
    ("bad_parameter_is_http_400", bad_parameter_is_http_400),
    ("direct_invocations_reply", direct_invocations_reply),
    (
        "chunked_and_closed_connections_work",
        chunked_and_closed_connections_work,
    ),
    ("keep_alive_reuses_connection", keep_alive_reuses_connection),
    (
        "dropped_idle_connection_is_reopened",
        dropped_idle_connection_is_reopened,
    ),
    (
        "unreachable_api_exits_clearly",
        unreachable_api_exits_clearly,
    ),
    (
        "missing_variable_exits_clearly",
        missing_variable_exits_clearly,
    ),
    (
        "invalid_variable_exits_clearly",
        invalid_variable_exits_clearly,
    ),
    (
        "first_next_failure_posts_init_error",
        first_next_failure_posts_init_error,
    ),
    (
        "oversized_response_is_reported",
        oversized_response_is_reported,
    ),
    (
        "rejected_response_is_not_resent",
        rejected_response_is_not_resent,
    ),
];

fn main() {
    if std::env::var_os(CHILD_VARIABLE).is_some() {
        portkey_runtime::start(handle);
    }

    let filter = std::env::args()
        .skip(1)
        .find(|arg| !arg.starts_with('-'))
        .unwrap_or_default();
    let selected: Vec<_> = TESTS
        .iter()
        .filter(|(name, _)| name.contains(filter.as_str()))
        .collect();
    println!("\nrunning {} tests", selected.len());

    let mut failed = Vec::new();
    for (name, test) in &selected {
        let outcome = panic::catch_unwind(AssertUnwindSafe(test));
        match outcome {
            Ok(()) => println!("test {name} ... ok"),
            Err(_) => {
                println!("test {name} ... FAILED");
                failed.push(*name);
            }
        }
    }

    let passed = selected.len() - failed.len();
    if failed.is_empty() {
        println!("\ntest result: ok. {passed} passed; 0 failed\n");
        return;
    }
    println!("\nfailures:\n    {}\n", failed.join("\n    "));
    println!(
        "test result: FAILED. {passed} passed; {} failed\n",
        failed.len()
    );
    std::process::exit(1);
}
