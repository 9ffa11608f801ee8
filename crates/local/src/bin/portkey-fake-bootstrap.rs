//! A Lambda `bootstrap` for the local backend's tests, written against the Runtime API with std
//! TCP only, so the tests need none of portkey's build steps.
//!
//! At start it reads `FAKE_INIT`: `error` posts to `/runtime/init/error` and exits 1, `exit`
//! exits 2 at once, `sleep:MS` waits MS milliseconds before the first `next`. Each invocation
//! then performs the action named by the event's query parameter `action`, or else by
//! `FAKE_ACTION`, or else `echo`:
//! - `echo`: returns `{"event", "invocation" (the `next` headers), "env", "pid"}`;
//! - `plain`: returns the JSON array `[1, "two", {"three": 3}]`;
//! - `proxy`: returns a proxy response with status 201, headers, cookies and a text body;
//! - `binary`: returns a proxy response with a base64 body of five non-UTF-8 bytes;
//! - `sleep`: sleeps the `ms` query parameter in milliseconds, then echoes;
//! - `exit`: exits with status 3 without answering;
//! - `error`: posts `{"errorType": "FakeError", "errorMessage": ...}` to `/error`;
//! - `not-json`: returns the bytes `hello`, which are not JSON;
//! - `huge`: returns the `bytes` query parameter's number of bytes (7 MB by default), over
//!   Lambda's 6 MB limit. Like a strict HTTP client, it exits with status 14 when writing the
//!   body fails, and otherwise goes on after the server's response;
//! - `exit-after-response`: echoes, then sleeps the `ms` query parameter in milliseconds (1000
//!   by default) and exits with status 4 without requesting the next invocation;
//! - `skip`: requests the next invocation without answering this one.
//!
//! Every line it prints starts with `fake-bootstrap`, so tests can find its output in logs.

use std::collections::BTreeMap;
use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::process::ExitCode;
use std::time::Duration;

use base64::Engine;
use serde_json::{Value, json};

struct HttpResponse {
    status: u16,
    headers: BTreeMap<String, String>,
    body: Vec<u8>,
}

struct RuntimeApi {
    /// `host:port`
    address: String,
    /// `/prefix/2018-06-01`
    base_path: String,
}

impl RuntimeApi {
    fn from_env() -> Result<RuntimeApi, String> {
        let value = std::env::var("AWS_LAMBDA_RUNTIME_API")
            .map_err(|_| "AWS_LAMBDA_RUNTIME_API is not set".to_string())?;
        let without_scheme = value.strip_prefix("http://").unwrap_or(&value);
        let (address, prefix) = match without_scheme.split_once('/') {
            Some((address, prefix)) => (
                address.to_string(),
                format!("/{}", prefix.trim_end_matches('/')),
            ),
            None => (without_scheme.to_string(), String::new()),
        };
        Ok(RuntimeApi {
            address,
            base_path: format!("{prefix}/2018-06-01"),
        })
    }

    fn request(&self, method: &str, path: &str, body: &[u8]) -> Result<HttpResponse, String> {
        let (response, _) = self.request_with_write_status(method, path, body)?;
        Ok(response)
    }

    /// Sends a request and reads the response even when writing the body failed, because the
    /// server may respond with 413 before reading the whole body and close the connection.
    /// Returns the response and the error of writing the body, if any.
    fn request_with_write_status(
        &self,
        method: &str,
        path: &str,
        body: &[u8],
    ) -> Result<(HttpResponse, Option<String>), String> {
        let mut stream = TcpStream::connect(&self.address)
            .map_err(|error| format!("connect {}: {error}", self.address))?;
        let head = format!(
            "{method} {}{path} HTTP/1.1\r\nHost: {}\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
            self.base_path,
            self.address,
            body.len()
        );
        stream
            .write_all(head.as_bytes())
            .map_err(|error| format!("write: {error}"))?;
        let write_error = stream.write_all(body).err().map(|error| error.to_string());
        Ok((read_response(stream)?, write_error))
    }
}

fn read_response(stream: TcpStream) -> Result<HttpResponse, String> {
    let mut reader = BufReader::new(stream);
    let mut status_line = String::new();
    reader
        .read_line(&mut status_line)
        .map_err(|error| format!("read: {error}"))?;
    let status = status_line
        .split_whitespace()
        .nth(1)
        .and_then(|code| code.parse().ok())
        .ok_or_else(|| format!("bad status line {status_line:?}"))?;
    let mut headers = BTreeMap::new();
    loop {
        let mut line = String::new();
        reader
            .read_line(&mut line)
            .map_err(|error| format!("read: {error}"))?;
        let line = line.trim_end();
        if line.is_empty() {
            break;
        }
        if let Some((name, value)) = line.split_once(':') {
            headers.insert(name.trim().to_ascii_lowercase(), value.trim().to_string());
        }
    }
    let mut body = Vec::new();
    match headers
        .get("content-length")
        .and_then(|length| length.parse::<usize>().ok())
    {
        Some(length) => {
            body.resize(length, 0);
            reader
                .read_exact(&mut body)
                .map_err(|error| format!("read body: {error}"))?;
        }
        None if headers
            .get("transfer-encoding")
            .is_some_and(|value| value.contains("chunked")) =>
        {
            body = read_chunked(&mut reader)?;
        }
        None => {
            reader
                .read_to_end(&mut body)
                .map_err(|error| format!("read body: {error}"))?;
        }
    }
    Ok(HttpResponse {
        status,
        headers,
        body,
    })
}

fn read_chunked(reader: &mut impl BufRead) -> Result<Vec<u8>, String> {
    let mut body = Vec::new();
    loop {
        let mut size_line = String::new();
        reader
            .read_line(&mut size_line)
            .map_err(|error| format!("read chunk: {error}"))?;
        let size = usize::from_str_radix(size_line.trim(), 16)
            .map_err(|error| format!("chunk size: {error}"))?;
        let mut chunk = vec![0; size + 2];
        reader
            .read_exact(&mut chunk)
            .map_err(|error| format!("read chunk: {error}"))?;
        if size == 0 {
            return Ok(body);
        }
        body.extend_from_slice(&chunk[..size]);
    }
}

fn main() -> ExitCode {
    println!("fake-bootstrap: starting, pid {}", std::process::id());
    eprintln!("fake-bootstrap: stderr works");
    let api = match RuntimeApi::from_env() {
        Ok(api) => api,
        Err(message) => {
            eprintln!("fake-bootstrap: {message}");
            return ExitCode::from(10);
        }
    };

    match std::env::var("FAKE_INIT").unwrap_or_default().as_str() {
        "error" => {
            let body = json!({"errorType": "FakeInitError", "errorMessage": "the fake init failed on purpose"});
            let posted = api.request("POST", "/runtime/init/error", body.to_string().as_bytes());
            eprintln!(
                "fake-bootstrap: init error posted: {:?}",
                posted.map(|response| response.status)
            );
            return ExitCode::from(1);
        }
        "exit" => {
            eprintln!("fake-bootstrap: exiting during init on purpose");
            return ExitCode::from(2);
        }
        other => {
            if let Some(millis) = other.strip_prefix("sleep:").and_then(|ms| ms.parse().ok()) {
                std::thread::sleep(Duration::from_millis(millis));
            }
        }
    }

    loop {
        let next = match api.request("GET", "/runtime/invocation/next", b"") {
            Ok(next) if next.status == 200 => next,
            Ok(next) => {
                eprintln!("fake-bootstrap: next returned status {}", next.status);
                return ExitCode::from(11);
            }
            Err(message) => {
                eprintln!("fake-bootstrap: next failed: {message}");
                return ExitCode::from(12);
            }
        };
        if let Err(message) = handle(&api, &next) {
            eprintln!("fake-bootstrap: {message}");
            return ExitCode::from(13);
        }
    }
}

fn handle(api: &RuntimeApi, next: &HttpResponse) -> Result<(), String> {
    let request_id = next
        .headers
        .get("lambda-runtime-aws-request-id")
        .cloned()
        .ok_or("next carried no request id")?;
    let event: Value = serde_json::from_slice(&next.body)
        .map_err(|error| format!("event is not JSON: {error}"))?;
    let query = &event["queryStringParameters"];
    let action = query["action"]
        .as_str()
        .map(str::to_string)
        .or_else(|| std::env::var("FAKE_ACTION").ok())
        .unwrap_or_else(|| "echo".to_string());
    println!("fake-bootstrap: request {request_id} action {action}");

    let echo = || {
        json!({
            "event": event,
            "invocation": next.headers,
            "env": std::env::vars().collect::<BTreeMap<String, String>>(),
            "pid": std::process::id(),
        })
    };
    let response_path = format!("/runtime/invocation/{request_id}/response");
    let result: Vec<u8> = match action.as_str() {
        "plain" => json!([1, "two", {"three": 3}]).to_string().into_bytes(),
        "proxy" => json!({
            "statusCode": 201,
            "headers": {"content-type": "text/plain", "x-fake": "yes"},
            "cookies": ["session=abc; Path=/; HttpOnly", "theme=dark"],
            "body": format!("created by {}", std::process::id()),
        })
        .to_string()
        .into_bytes(),
        "binary" => json!({
            "statusCode": 200,
            "headers": {"content-type": "application/octet-stream"},
            "body": base64::engine::general_purpose::STANDARD.encode([0u8, 159, 146, 150, 255]),
            "isBase64Encoded": true,
        })
        .to_string()
        .into_bytes(),
        "sleep" => {
            let millis = query["ms"]
                .as_str()
                .and_then(|ms| ms.parse().ok())
                .unwrap_or(1000);
            std::thread::sleep(Duration::from_millis(millis));
            echo().to_string().into_bytes()
        }
        "exit" => {
            eprintln!("fake-bootstrap: exiting mid-invocation on purpose");
            std::process::exit(3);
        }
        "error" => {
            let body = json!({"errorType": "FakeError", "errorMessage": format!("the fake failed on purpose in {}", std::process::id())});
            let posted = api.request(
                "POST",
                &format!("/runtime/invocation/{request_id}/error"),
                body.to_string().as_bytes(),
            )?;
            return expect_accepted(posted);
        }
        "not-json" => b"hello".to_vec(),
        "huge" => {
            let bytes = query["bytes"]
                .as_str()
                .and_then(|bytes| bytes.parse().ok())
                .unwrap_or(7 * 1024 * 1024);
            let result = api.request_with_write_status("POST", &response_path, &vec![b'x'; bytes]);
            let (posted, write_error) = match result {
                Ok(answer) => answer,
                Err(message) => {
                    eprintln!("fake-bootstrap: posting {bytes} bytes failed: {message}");
                    std::process::exit(14);
                }
            };
            if let Some(error) = write_error {
                eprintln!(
                    "fake-bootstrap: writing {bytes} bytes failed ({error}), the server answered {}",
                    posted.status
                );
                std::process::exit(14);
            }
            println!("fake-bootstrap: huge response answered {}", posted.status);
            return Ok(());
        }
        "exit-after-response" => {
            let posted = api.request("POST", &response_path, echo().to_string().as_bytes())?;
            expect_accepted(posted)?;
            let millis = query["ms"]
                .as_str()
                .and_then(|ms| ms.parse().ok())
                .unwrap_or(1000);
            std::thread::sleep(Duration::from_millis(millis));
            eprintln!("fake-bootstrap: exiting before the next invocation on purpose");
            std::process::exit(4);
        }
        "skip" => return Ok(()),
        _ => echo().to_string().into_bytes(),
    };
    let posted = api.request("POST", &response_path, &result)?;
    expect_accepted(posted)
}

fn expect_accepted(response: HttpResponse) -> Result<(), String> {
    if response.status == 202 {
        return Ok(());
    }
    Err(format!(
        "the Runtime API answered {} to a result: {}",
        response.status,
        String::from_utf8_lossy(&response.body)
    ))
}
