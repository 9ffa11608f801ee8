//! Builds generated shims with cargo and runs them against a Runtime API server written here
//! (std `TcpListener` on 127.0.0.1), so the whole chain is real: lookup, generated code, the
//! runtime crate copy, the user's function and the replies posted back.

use std::collections::VecDeque;
use std::io::{BufRead, BufReader, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::mpsc::{Receiver, Sender, channel};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use portkey_lookup::{LookupRequest, find_function};
use portkey_shim::{ShimOptions, generate};

/// A reply the runtime posted: the request path and body.
#[derive(Debug)]
struct Posted {
    path: String,
    body: String,
}

/// Serves queued events on `GET .../invocation/next` and reports every POST on a channel.
/// With the queue empty, `next` gets no reply, as a real Runtime API delays it until work
/// arrives.
struct RuntimeApi {
    address: String,
    posted: Receiver<Posted>,
}

impl RuntimeApi {
    fn start(events: Vec<&str>) -> RuntimeApi {
        let listener = TcpListener::bind("127.0.0.1:0").expect("bind 127.0.0.1");
        let address = listener.local_addr().expect("local address").to_string();
        let queue: Arc<Mutex<VecDeque<(usize, String)>>> = Arc::new(Mutex::new(
            events.into_iter().map(str::to_string).enumerate().collect(),
        ));
        let (sender, posted) = channel();
        std::thread::spawn(move || {
            for stream in listener.incoming() {
                let Ok(stream) = stream else {
                    return;
                };
                let queue = Arc::clone(&queue);
                let sender = sender.clone();
                std::thread::spawn(move || serve_connection(stream, &queue, &sender));
            }
        });
        RuntimeApi { address, posted }
    }

    fn next_post(&self) -> Posted {
        self.posted
            .recv_timeout(Duration::from_secs(60))
            .expect("the runtime posts a reply within 60 s")
    }
}

fn serve_connection(
    stream: TcpStream,
    queue: &Mutex<VecDeque<(usize, String)>>,
    sender: &Sender<Posted>,
) {
    let mut writer = stream.try_clone().expect("clone stream");
    let mut reader = BufReader::new(stream);
    loop {
        let mut request_line = String::new();
        if reader.read_line(&mut request_line).unwrap_or(0) == 0 {
            return;
        }
        let mut content_length = 0;
        loop {
            let mut header = String::new();
            if reader.read_line(&mut header).unwrap_or(0) == 0 {
                return;
            }
            let header = header.trim_end();
            if header.is_empty() {
                break;
            }
            if let Some((name, value)) = header.split_once(':')
                && name.eq_ignore_ascii_case("content-length")
            {
                content_length = value.trim().parse().unwrap_or(0);
            }
        }
        let mut body = vec![0; content_length];
        if reader.read_exact(&mut body).is_err() {
            return;
        }
        let mut parts = request_line.split_whitespace();
        let method = parts.next().unwrap_or_default().to_string();
        let path = parts.next().unwrap_or_default().to_string();

        if method == "GET" && path == "/2018-06-01/runtime/invocation/next" {
            let next = queue.lock().expect("queue lock").pop_front();
            let Some((index, event)) = next else {
                // No more work: hold the connection open until the test ends.
                std::thread::sleep(Duration::from_secs(3600));
                return;
            };
            let response = format!(
                "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nLambda-Runtime-Aws-Request-Id: request-{index}\r\n\
                 Lambda-Runtime-Deadline-Ms: 4102444800000\r\n\
                 Lambda-Runtime-Invoked-Function-Arn: arn:aws:lambda:us-east-1:000000000000:function:test\r\n\
                 Content-Length: {}\r\n\r\n{event}",
                event.len()
            );
            if writer.write_all(response.as_bytes()).is_err() {
                return;
            }
            continue;
        }
        let _ = sender.send(Posted {
            path,
            body: String::from_utf8_lossy(&body).into_owned(),
        });
        if writer
            .write_all(b"HTTP/1.1 202 Accepted\r\nContent-Length: 2\r\n\r\n{}")
            .is_err()
        {
            return;
        }
    }
}

/// Kills the shim process when the test ends, also on failure.
struct Running(Child);

impl Drop for Running {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn build_target_dir() -> PathBuf {
    let base = std::env::var_os("CARGO_TARGET_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| Path::new(env!("CARGO_MANIFEST_DIR")).join("../../target"));
    base.join("shim-run")
}

/// Generates and builds the shim for `path` in the hello fixture; returns the executable.
fn build_shim(path: &str, output: &Path) -> PathBuf {
    build_fixture_shim("hello", path, output)
}

/// Generates and builds the shim for `path` in `fixtures/<fixture>`; returns the executable.
fn build_fixture_shim(fixture: &str, path: &str, output: &Path) -> PathBuf {
    let manifest = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../../fixtures")
        .join(fixture)
        .join("Cargo.toml");
    let found = find_function(&LookupRequest {
        manifest_path: Some(manifest),
        path: path.to_string(),
    })
    .unwrap_or_else(|error| panic!("{path}: {error}"));
    let options = ShimOptions {
        output_root: Some(output.to_path_buf()),
        runtime_dir: None,
    };
    let project = generate(&found, &options).unwrap_or_else(|error| panic!("{path}: {error}"));
    let target_dir = build_target_dir();
    let status = Command::new(std::env::var("CARGO").unwrap_or_else(|_| "cargo".to_string()))
        .args(["build", "--quiet", "--manifest-path"])
        .arg(&project.manifest_path)
        .env("CARGO_TARGET_DIR", &target_dir)
        .env_remove("RUSTFLAGS")
        .env_remove("CARGO_ENCODED_RUSTFLAGS")
        .status()
        .expect("cargo runs");
    assert!(status.success(), "cargo build of the {path} shim failed");
    target_dir.join("debug").join(&project.bin_name)
}

fn run(executable: &Path, api: &RuntimeApi) -> Running {
    let child = Command::new(executable)
        .env("AWS_LAMBDA_RUNTIME_API", &api.address)
        .stdin(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("the shim starts");
    Running(child)
}

#[test]
fn flatter_shim_answers_direct_invocations() {
    let output = tempfile::tempdir().expect("temporary directory");
    let executable = build_shim("hello::flatter", output.path());
    let api = RuntimeApi::start(vec![r#"{"name":"Ada"}"#, r#"{}"#, r#"{"name":"Grace"}"#]);
    let _running = run(&executable, &api);

    let first = api.next_post();
    assert_eq!(
        first.path,
        "/2018-06-01/runtime/invocation/request-0/response"
    );
    let text = json_text(&first.body);
    assert!(text.starts_with("Ada is "), "{}", first.body);

    let missing = api.next_post();
    assert!(
        missing
            .path
            .starts_with("/2018-06-01/runtime/invocation/request-1/"),
        "{}",
        missing.path
    );
    assert!(
        missing.body.contains("name"),
        "a missing parameter is reported by name: {}",
        missing.body
    );

    let third = api.next_post();
    assert_eq!(
        third.path,
        "/2018-06-01/runtime/invocation/request-2/response"
    );
    assert!(
        json_text(&third.body).starts_with("Grace is "),
        "{}",
        third.body
    );
}

#[test]
fn greeter_and_panics_and_errors() {
    let output = tempfile::tempdir().expect("temporary directory");
    let greet = build_shim("hello::Greeter::greet", output.path());
    let api = RuntimeApi::start(vec![
        r#"{"name":"Ada","excited":true}"#,
        r#"{"name":"Ada"}"#,
    ]);
    let running = run(&greet, &api);
    assert_eq!(json_text(&api.next_post().body), "Hello, Ada!");
    assert_eq!(json_text(&api.next_post().body), "Hello, Ada.");
    drop(running);

    let explode = build_shim("hello::explode", output.path());
    let api = RuntimeApi::start(vec![r#"{"message":"boom"}"#]);
    let _running = run(&explode, &api);
    let posted = api.next_post();
    assert_eq!(
        posted.path,
        "/2018-06-01/runtime/invocation/request-0/error"
    );
    assert!(posted.body.contains("Panic"), "{}", posted.body);
    assert!(posted.body.contains("boom"), "{}", posted.body);
}

/// The text of a body that must be a JSON string, as the runtime posts text results of a direct
/// invocation.
fn json_text(body: &str) -> String {
    match serde_json::from_str::<serde_json::Value>(body) {
        Ok(serde_json::Value::String(text)) => text,
        other => panic!("expected a JSON string body, got {body:?} ({other:?})"),
    }
}

/// Builds an HTTP API (payload 2.0) event with a raw query string and an optional body.
fn http_event(raw_query: &str, body: Option<&str>, base64: bool, content_type: &str) -> String {
    serde_json::json!({
        "version": "2.0",
        "routeKey": "$default",
        "rawPath": "/types",
        "rawQueryString": raw_query,
        "headers": { "content-type": content_type },
        "requestContext": { "http": { "method": "POST", "path": "/types" } },
        "body": body,
        "isBase64Encoded": base64,
    })
    .to_string()
}

/// Parses the proxy response the runtime posted for an HTTP event.
fn proxy_reply(posted: &Posted) -> serde_json::Value {
    assert!(posted.path.ends_with("/response"), "{}", posted.path);
    serde_json::from_str(&posted.body)
        .unwrap_or_else(|error| panic!("reply is not JSON ({error}): {}", posted.body))
}

#[test]
fn types_collections_and_whole_body() {
    let output = tempfile::tempdir().expect("temporary directory");
    let sum_ids = build_fixture_shim("types", "types::sum_ids", output.path());
    let api = RuntimeApi::start(vec![
        &http_event("ids=1,2,3", None, false, "text/plain"),
        &http_event("ids=4&ids=5&offset=1", None, false, "text/plain"),
        &http_event("", Some("[7,8]"), false, "application/json"),
        &http_event("ids=1,x", None, false, "text/plain"),
    ]);
    let running = run(&sum_ids, &api);
    assert_eq!(proxy_reply(&api.next_post())["body"], "6");
    assert_eq!(proxy_reply(&api.next_post())["body"], "10");
    assert_eq!(proxy_reply(&api.next_post())["body"], "15");
    let invalid = proxy_reply(&api.next_post());
    assert_eq!(invalid["statusCode"], 400);
    drop(running);

    let shift = build_fixture_shim("types", "types::shift", output.path());
    let api = RuntimeApi::start(vec![
        &http_event("dx=2", Some(r#"{"x":1,"y":5}"#), false, "application/json"),
        &http_event(
            "",
            Some(r#"{"point":{"x":1,"y":1},"dx":-3}"#),
            false,
            "application/json",
        ),
        r#"{"x":10,"y":0,"dx":1}"#,
        &http_event("dx=1", None, false, "text/plain"),
    ]);
    let _running = run(&shift, &api);
    let whole = proxy_reply(&api.next_post());
    assert_eq!(whole["statusCode"], 200);
    assert_eq!(whole["body"], r#"{"x":3,"y":5}"#);
    assert_eq!(proxy_reply(&api.next_post())["body"], r#"{"x":-2,"y":1}"#);
    let direct: serde_json::Value =
        serde_json::from_str(&api.next_post().body).expect("direct reply is JSON");
    assert_eq!(direct, serde_json::json!({ "x": 11, "y": 0 }));
    let missing = proxy_reply(&api.next_post());
    assert_eq!(missing["statusCode"], 400);
    let missing_body = missing["body"].as_str().expect("400 body is text");
    assert!(missing_body.contains("missing parameter"), "{missing_body}");
}

#[test]
fn types_raw_body_and_binary_result() {
    let output = tempfile::tempdir().expect("temporary directory");
    let reverse = build_fixture_shim("types", "types::reverse_bytes", output.path());
    let api = RuntimeApi::start(vec![
        &http_event("", Some("AAEC/w=="), true, "application/octet-stream"),
        &http_event("", Some("[1,2]"), false, "application/json"),
        &http_event("", Some("not*base64"), true, "application/octet-stream"),
    ]);
    let _running = run(&reverse, &api);
    let binary = proxy_reply(&api.next_post());
    assert_eq!(binary["statusCode"], 200);
    assert_eq!(binary["isBase64Encoded"], true);
    assert_eq!(binary["body"], "/wIBAA==");
    assert_eq!(
        binary["headers"]["content-type"],
        "application/octet-stream"
    );
    let json_text_body = proxy_reply(&api.next_post());
    assert_eq!(json_text_body["isBase64Encoded"], true);
    assert_eq!(json_text_body["body"], "XTIsMVs=", "the raw bytes `]2,1[`");
    let invalid = proxy_reply(&api.next_post());
    assert_eq!(invalid["statusCode"], 400);
}

#[test]
fn types_text_wide_and_serialize_first() {
    let output = tempfile::tempdir().expect("temporary directory");
    let greet = build_fixture_shim("types", "types::greet", output.path());
    let api = RuntimeApi::start(vec![
        &http_event("name=%22Ada%22", None, false, "text/plain"),
        &http_event("", None, false, "text/plain"),
    ]);
    let running = run(&greet, &api);
    assert_eq!(proxy_reply(&api.next_post())["body"], r#"hello "Ada""#);
    assert_eq!(proxy_reply(&api.next_post())["body"], "hello world");
    drop(running);

    let widen = build_fixture_shim("types", "types::widen", output.path());
    let api = RuntimeApi::start(vec![
        &http_event(
            "big=340282366920938463463374607431768211400&small=-170141183460469231731687303715884105728",
            None,
            false,
            "text/plain",
        ),
        &http_event("big=-1&small=0", None, false, "text/plain"),
    ]);
    let running = run(&widen, &api);
    assert_eq!(
        proxy_reply(&api.next_post())["body"],
        "170141183460469231731687303715884105672"
    );
    assert_eq!(proxy_reply(&api.next_post())["statusCode"], 400);
    drop(running);

    let label = build_fixture_shim("types", "types::label", output.path());
    let api = RuntimeApi::start(vec![&http_event("name=x", None, false, "text/plain")]);
    let _running = run(&label, &api);
    let reply = proxy_reply(&api.next_post());
    assert_eq!(reply["headers"]["content-type"], "application/json");
    assert_eq!(reply["body"], r#"{"name":"x"}"#);
}
