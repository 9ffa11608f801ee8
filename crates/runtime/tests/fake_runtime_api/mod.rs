//! A Runtime API server for the invocation loop tests, on a real TCP socket: it hands out
//! scripted events from `GET /runtime/invocation/next`, records every POST, and can close
//! connections or use chunked transfer coding to exercise the client.

use std::collections::VecDeque;
use std::io::{BufRead, BufReader, Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::mpsc::{self, Receiver, Sender};
use std::sync::{Arc, Condvar, Mutex};
use std::thread;
use std::time::Duration;

use serde_json::Value;

/// How long a test waits for the runtime to post something.
pub const WAIT: Duration = Duration::from_secs(20);

/// An event for `GET /runtime/invocation/next`.
pub struct Scripted {
    pub request_id: String,
    pub body: Vec<u8>,
    pub extra_headers: Vec<(String, String)>,
}

pub fn scripted(request_id: &str, body: Value) -> Scripted {
    Scripted {
        request_id: request_id.to_owned(),
        body: body.to_string().into_bytes(),
        extra_headers: Vec::new(),
    }
}

/// How the server ends its connections.
#[derive(Clone, Copy, PartialEq)]
pub enum Closing {
    /// Keep every connection open.
    KeepAlive,
    /// Send `Connection: close` and close after every response.
    Announced,
    /// Close right after each response to a POST without a `Connection: close` header, like a
    /// server that drops idle connections. The client notices only on its next request.
    Silent,
}

#[derive(Clone, Copy)]
pub struct ServerOptions {
    pub prefix: &'static str,
    /// Chunk size for `/next` bodies sent with chunked transfer coding; `None` sends a
    /// `Content-Length` body.
    pub chunk_size: Option<usize>,
    pub closing: Closing,
    /// Status for the first `/next` call instead of an event.
    pub first_next_status: Option<u16>,
    /// Responds with 413 to a `/response` POST whose `Content-Length` exceeds this many bytes
    /// as soon as its head arrives, then closes the connection without reading the body.
    pub reject_responses_over: Option<usize>,
}

pub const DEFAULT_OPTIONS: ServerOptions = ServerOptions {
    prefix: "",
    chunk_size: None,
    closing: Closing::KeepAlive,
    first_next_status: None,
    reject_responses_over: None,
};

/// How long a connection stays open after an early 413. The client is still writing then, so
/// the close resets the connection.
const EARLY_REJECT_LINGER: Duration = Duration::from_millis(100);

/// A request the server received.
#[derive(Debug, Clone)]
pub struct Received {
    pub method: String,
    pub path: String,
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
}

impl Received {
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(key, _)| key.eq_ignore_ascii_case(name))
            .map(|(_, value)| value.as_str())
    }

    /// Returns the `Content-Length` header's value, 0 when it is missing or invalid.
    pub fn content_length(&self) -> usize {
        self.header("content-length")
            .and_then(|value| value.parse().ok())
            .unwrap_or(0)
    }

    pub fn json(&self) -> Value {
        serde_json::from_slice(&self.body)
            .unwrap_or_else(|e| panic!("body of {} is not JSON: {e}", self.path))
    }
}

struct Shared {
    options: ServerOptions,
    queue: Mutex<VecDeque<Scripted>>,
    ready: Condvar,
    shutdown: AtomicBool,
    next_calls: AtomicUsize,
    connections: AtomicUsize,
    log: Mutex<Vec<String>>,
    posts: Mutex<Sender<Received>>,
}

pub struct FakeRuntimeApi {
    pub address: SocketAddr,
    shared: Arc<Shared>,
    posts: Receiver<Received>,
}

impl FakeRuntimeApi {
    pub fn start(options: ServerOptions, events: Vec<Scripted>) -> FakeRuntimeApi {
        let listener = TcpListener::bind("127.0.0.1:0").expect("bind 127.0.0.1:0");
        let address = listener.local_addr().expect("local address");
        let (sender, posts) = mpsc::channel();
        let shared = Arc::new(Shared {
            options,
            queue: Mutex::new(events.into()),
            ready: Condvar::new(),
            shutdown: AtomicBool::new(false),
            next_calls: AtomicUsize::new(0),
            connections: AtomicUsize::new(0),
            log: Mutex::new(Vec::new()),
            posts: Mutex::new(sender),
        });
        let accept_shared = Arc::clone(&shared);
        thread::spawn(move || {
            for stream in listener.incoming() {
                let Ok(stream) = stream else { continue };
                if accept_shared.shutdown.load(Ordering::SeqCst) {
                    return;
                }
                accept_shared.connections.fetch_add(1, Ordering::SeqCst);
                let connection_shared = Arc::clone(&accept_shared);
                thread::spawn(move || serve_connection(stream, &connection_shared));
            }
        });
        FakeRuntimeApi {
            address,
            shared,
            posts,
        }
    }

    /// Waits for the next POST to a `/runtime/` resource.
    pub fn next_post(&self) -> Received {
        self.posts
            .recv_timeout(WAIT)
            .expect("the runtime posted nothing within the wait")
    }

    /// Returns `METHOD path` of every request received so far.
    pub fn log(&self) -> Vec<String> {
        self.shared.log.lock().unwrap().clone()
    }

    /// Returns the path prefix the server expects before `/2018-06-01`.
    pub fn prefix(&self) -> &'static str {
        self.shared.options.prefix
    }

    /// Returns the number of TCP connections accepted so far.
    pub fn connection_count(&self) -> usize {
        self.shared.connections.load(Ordering::SeqCst)
    }
}

impl Drop for FakeRuntimeApi {
    fn drop(&mut self) {
        self.shared.shutdown.store(true, Ordering::SeqCst);
        self.shared.ready.notify_all();
        // A connection wakes the accept loop, which then reads the shutdown flag.
        let _ = TcpStream::connect(self.address);
    }
}

fn serve_connection(stream: TcpStream, shared: &Shared) {
    let mut reader = BufReader::new(stream);
    loop {
        let Some(mut received) = read_head(&mut reader) else {
            return;
        };
        shared
            .log
            .lock()
            .unwrap()
            .push(format!("{} {}", received.method, received.path));
        let length = received.content_length();
        if rejects_early(shared.options, &received, length) {
            let _ = shared.posts.lock().unwrap().send(received);
            let body = br#"{"errorType":"RequestEntityTooLarge","errorMessage":"too large"}"#;
            write_response(reader.get_mut(), 413, &[], body, true, None);
            thread::sleep(EARLY_REJECT_LINGER);
            return;
        }
        received.body = vec![0; length];
        if reader.read_exact(&mut received.body).is_err() {
            return;
        }
        let stream = reader.get_mut();
        let keep_open = respond(stream, shared, received);
        if !keep_open {
            return;
        }
    }
}

fn rejects_early(options: ServerOptions, received: &Received, length: usize) -> bool {
    let Some(limit) = options.reject_responses_over else {
        return false;
    };
    received.method == "POST" && received.path.ends_with("/response") && length > limit
}

/// Writes the response to one request and returns whether the connection stays open.
fn respond(stream: &mut TcpStream, shared: &Shared, received: Received) -> bool {
    let options = shared.options;
    let base = format!("{}/2018-06-01", options.prefix);
    let announced = options.closing == Closing::Announced;

    let Some(resource) = received.path.strip_prefix(&base) else {
        return write_response(stream, 404, &[], b"unknown path", announced, None);
    };

    if received.method == "GET" && resource == "/runtime/invocation/next" {
        let call = shared.next_calls.fetch_add(1, Ordering::SeqCst);
        if let (0, Some(status)) = (call, options.first_next_status) {
            return write_response(stream, status, &[], b"scripted failure", announced, None);
        }
        let Some(event) = wait_for_event(shared) else {
            return false;
        };
        let mut headers = vec![
            (
                "Lambda-Runtime-Aws-Request-Id".to_owned(),
                event.request_id.clone(),
            ),
            (
                "Lambda-Runtime-Deadline-Ms".to_owned(),
                "4102444800000".to_owned(),
            ),
            (
                "Lambda-Runtime-Invoked-Function-Arn".to_owned(),
                "arn:aws:lambda:us-east-1:123456789012:function:test".to_owned(),
            ),
            ("Content-Type".to_owned(), "application/json".to_owned()),
        ];
        headers.extend(event.extra_headers);
        return write_response(
            stream,
            200,
            &headers,
            &event.body,
            announced,
            options.chunk_size,
        );
    }

    if received.method == "POST" && resource.starts_with("/runtime/") {
        let _ = shared.posts.lock().unwrap().send(received);
        let open = write_response(stream, 202, &[], br#"{"status":"OK"}"#, announced, None);
        return open && options.closing != Closing::Silent;
    }
    write_response(stream, 404, &[], b"unknown resource", announced, None)
}

fn wait_for_event(shared: &Shared) -> Option<Scripted> {
    let mut queue = shared.queue.lock().unwrap();
    loop {
        if shared.shutdown.load(Ordering::SeqCst) {
            return None;
        }
        if let Some(event) = queue.pop_front() {
            return Some(event);
        }
        queue = shared
            .ready
            .wait_timeout(queue, Duration::from_millis(100))
            .unwrap()
            .0;
    }
}

fn write_response(
    stream: &mut TcpStream,
    status: u16,
    headers: &[(String, String)],
    body: &[u8],
    close: bool,
    chunk_size: Option<usize>,
) -> bool {
    let mut out = format!("HTTP/1.1 {status} Status\r\n");
    for (name, value) in headers {
        out.push_str(&format!("{name}: {value}\r\n"));
    }
    if close {
        out.push_str("Connection: close\r\n");
    }
    let mut bytes;
    if let Some(chunk_size) = chunk_size {
        out.push_str("Transfer-Encoding: chunked\r\n\r\n");
        bytes = out.into_bytes();
        // The first size line carries a chunk extension, which the client must skip.
        for (index, chunk) in body.chunks(chunk_size).enumerate() {
            let extension = if index == 0 { ";name=value" } else { "" };
            bytes.extend_from_slice(format!("{:x}{extension}\r\n", chunk.len()).as_bytes());
            bytes.extend_from_slice(chunk);
            bytes.extend_from_slice(b"\r\n");
        }
        bytes.extend_from_slice(b"0\r\nX-Trailer: ignored\r\n\r\n");
    } else {
        out.push_str(&format!("Content-Length: {}\r\n\r\n", body.len()));
        bytes = out.into_bytes();
        bytes.extend_from_slice(body);
    }
    stream.write_all(&bytes).is_ok() && !close
}

/// Reads a request's line and headers; the body is left in `reader`.
fn read_head(reader: &mut BufReader<TcpStream>) -> Option<Received> {
    let mut line = String::new();
    if reader.read_line(&mut line).ok()? == 0 {
        return None;
    }
    let mut parts = line.split_whitespace();
    let method = parts.next()?.to_owned();
    let path = parts.next()?.to_owned();

    let mut headers = Vec::new();
    loop {
        let mut header = String::new();
        if reader.read_line(&mut header).ok()? == 0 {
            return None;
        }
        let header = header.trim_end();
        if header.is_empty() {
            break;
        }
        let (name, value) = header.split_once(':')?;
        headers.push((name.trim().to_owned(), value.trim().to_owned()));
    }
    Some(Received {
        method,
        path,
        headers,
        body: Vec::new(),
    })
}
