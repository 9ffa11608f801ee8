//! Shared fixtures of the local backend's integration tests: a temporary project whose mounts
//! run the fake bootstrap, a server running `portkey_local::serve` on a thread, and a small
//! HTTP client for 127.0.0.1.

#![allow(dead_code)]

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use portkey_local::{ServerConfig, ServerInfo};
use portkey_project::MountRecord;
use serde_json::Value;

/// Returns the path of the fake Lambda bootstrap built from `src/bin/portkey-fake-bootstrap.rs`.
pub fn fake_bootstrap() -> PathBuf {
    PathBuf::from(env!("CARGO_BIN_EXE_portkey-fake-bootstrap"))
}

/// Returns the path of the standalone server built from `src/bin/portkey-local.rs`.
pub fn server_binary() -> PathBuf {
    PathBuf::from(env!("CARGO_BIN_EXE_portkey-local"))
}

/// A temporary cargo workspace root holding `portkey.json`.
pub struct Project {
    pub dir: tempfile::TempDir,
}

impl Project {
    pub fn new() -> Project {
        Project {
            dir: tempfile::tempdir().expect("create a temporary project folder"),
        }
    }

    pub fn root(&self) -> &Path {
        self.dir.path()
    }

    pub fn state_dir(&self) -> PathBuf {
        self.root().join("target/portkey/local")
    }

    /// Mounts the fake bootstrap as `function` with the given environment.
    pub fn mount(
        &self,
        function: &str,
        method: &str,
        template: &str,
        env: &[(&str, &str)],
    ) -> MountRecord {
        self.mount_with(function, method, template, env, |_| {})
    }

    /// Like `mount`, with a chance to change the record before it is saved.
    pub fn mount_with(
        &self,
        function: &str,
        method: &str,
        template: &str,
        env: &[(&str, &str)],
        change: impl FnOnce(&mut MountRecord),
    ) -> MountRecord {
        let mut record = MountRecord::new(
            function,
            method,
            template,
            fake_bootstrap(),
            self.root().join("bootstrap.zip"),
            "code-v1",
        );
        record.env = env
            .iter()
            .map(|(key, value)| (key.to_string(), value.to_string()))
            .collect();
        change(&mut record);
        portkey_project::upsert_mount(self.root(), record.clone()).expect("save the mount");
        record
    }

    pub fn unmount(&self, function: &str) {
        portkey_project::remove_mount(self.root(), function).expect("remove the mount");
    }
}

/// A server running `portkey_local::serve` on a thread of the test process.
pub struct Server {
    pub info: ServerInfo,
    pub state_dir: PathBuf,
    thread: Option<JoinHandle<Result<(), portkey_local::LocalError>>>,
}

impl Server {
    pub fn start(project: &Project) -> Server {
        Server::start_with(project, |_| {})
    }

    pub fn start_with(project: &Project, change: impl FnOnce(&mut ServerConfig)) -> Server {
        let mut config = ServerConfig::new(project.root(), project.state_dir());
        change(&mut config);
        let state_dir = config.state_dir.clone();
        let thread = std::thread::spawn(move || portkey_local::serve(config));
        let started = Instant::now();
        loop {
            if let Some(info) = portkey_local::running(&state_dir) {
                return Server {
                    info,
                    state_dir,
                    thread: Some(thread),
                };
            }
            if thread.is_finished() {
                let result = thread.join().expect("server thread");
                panic!("the server stopped during startup: {result:?}");
            }
            assert!(
                started.elapsed() < Duration::from_secs(20),
                "the server did not start within 20 s"
            );
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    pub fn url(&self, path: &str) -> String {
        format!("{}{path}", self.info.url)
    }

    pub fn get(&self, path: &str) -> Reply {
        request("GET", &self.url(path), None, &[])
    }

    pub fn send(
        &self,
        method: &str,
        path: &str,
        body: Option<&[u8]>,
        headers: &[(&str, &str)],
    ) -> Reply {
        request(method, &self.url(path), body, headers)
    }

    /// Asks the server to stop and waits for its thread; returns what `serve` returned.
    pub fn stop(mut self) -> Result<(), portkey_local::LocalError> {
        self.stop_inner()
            .expect("the server thread was still there")
    }

    fn stop_inner(&mut self) -> Option<Result<(), portkey_local::LocalError>> {
        let thread = self.thread.take()?;
        let reply = request("POST", &self.url("/_portkey/shutdown"), None, &[]);
        assert_eq!(reply.status, 202, "shutdown answered {reply:?}");
        Some(thread.join().expect("server thread"))
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        if self.thread.is_some() && !std::thread::panicking() {
            let _ = self.stop_inner();
        }
    }
}

/// A response, read whole.
#[derive(Debug)]
pub struct Reply {
    pub status: u16,
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
}

impl Reply {
    pub fn text(&self) -> String {
        String::from_utf8_lossy(&self.body).into_owned()
    }

    pub fn json(&self) -> Value {
        serde_json::from_slice(&self.body)
            .unwrap_or_else(|error| panic!("body is not JSON ({error}): {}", self.text()))
    }

    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(key, _)| key.eq_ignore_ascii_case(name))
            .map(|(_, value)| value.as_str())
    }

    pub fn header_all(&self, name: &str) -> Vec<&str> {
        self.headers
            .iter()
            .filter(|(key, _)| key.eq_ignore_ascii_case(name))
            .map(|(_, value)| value.as_str())
            .collect()
    }
}

fn agent() -> ureq::Agent {
    ureq::Agent::config_builder()
        .http_status_as_error(false)
        .proxy(None)
        .timeout_global(Some(Duration::from_secs(60)))
        .max_redirects(0)
        .build()
        .into()
}

/// Sends one request to 127.0.0.1 and reads the whole response.
pub fn request(method: &str, url: &str, body: Option<&[u8]>, headers: &[(&str, &str)]) -> Reply {
    let mut builder = ureq::http::Request::builder().method(method).uri(url);
    for (name, value) in headers {
        builder = builder.header(*name, *value);
    }
    let request = builder
        .body(body.map(<[u8]>::to_vec).unwrap_or_default())
        .expect("valid request");
    let mut response = agent()
        .run(request)
        .unwrap_or_else(|error| panic!("{method} {url} failed: {error}"));
    let status = response.status().as_u16();
    let headers = response
        .headers()
        .iter()
        .map(|(name, value)| {
            (
                name.to_string(),
                String::from_utf8_lossy(value.as_bytes()).into_owned(),
            )
        })
        .collect();
    let body = response
        .body_mut()
        .with_config()
        .limit(64 * 1024 * 1024)
        .read_to_vec()
        .expect("read the body");
    Reply {
        status,
        headers,
        body,
    }
}

/// Returns the pid the fake bootstrap reported in an echo.
pub fn echoed_pid(reply: &Reply) -> u64 {
    reply.json()["pid"]
        .as_u64()
        .unwrap_or_else(|| panic!("no pid in {}", reply.text()))
}

/// Returns the environment the fake bootstrap reported in an echo.
pub fn echoed_env(reply: &Reply) -> BTreeMap<String, String> {
    serde_json::from_value(reply.json()["env"].clone()).expect("env is a map of strings")
}

/// Waits until `condition` holds, for at most `limit`.
pub fn wait_until(limit: Duration, mut condition: impl FnMut() -> bool) -> bool {
    let started = Instant::now();
    while started.elapsed() < limit {
        if condition() {
            return true;
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    condition()
}

/// A response read from a raw TCP connection.
#[derive(Debug)]
pub struct RawReply {
    pub status: u16,
    /// The status line and headers, as sent.
    pub head: String,
    pub body: Vec<u8>,
}

impl RawReply {
    pub fn header(&self, name: &str) -> Option<&str> {
        self.head.split("\r\n").skip(1).find_map(|line| {
            let (key, value) = line.split_once(':')?;
            key.trim()
                .eq_ignore_ascii_case(name)
                .then_some(value.trim())
        })
    }

    pub fn json(&self) -> Value {
        serde_json::from_slice(&self.body).unwrap_or_else(|error| {
            panic!(
                "body is not JSON ({error}): {}\n{}",
                self.head,
                String::from_utf8_lossy(&self.body)
            )
        })
    }
}

/// Opens a TCP connection to the gateway with a 30 second read timeout.
pub fn connect(port: u16) -> std::net::TcpStream {
    let stream = std::net::TcpStream::connect(("127.0.0.1", port)).expect("connect");
    stream
        .set_read_timeout(Some(Duration::from_secs(30)))
        .expect("set a read timeout");
    stream
}

/// Reads one response whose body is framed by `Content-Length`, or runs to the end of the
/// connection when it has none. Returns `None` when the connection closes before a status line.
pub fn read_raw_reply(reader: &mut impl std::io::BufRead) -> Option<RawReply> {
    let mut head = String::new();
    loop {
        let mut line = String::new();
        let read = reader.read_line(&mut line).expect("read a head line");
        if read == 0 {
            assert!(
                head.is_empty(),
                "the connection closed inside the head: {head:?}"
            );
            return None;
        }
        if line == "\r\n" {
            break;
        }
        head.push_str(&line);
    }
    let head = head.trim_end().to_string();
    let status = head
        .split_whitespace()
        .nth(1)
        .and_then(|code| code.parse().ok())
        .unwrap_or_else(|| panic!("no status in {head:?}"));
    let mut reply = RawReply {
        status,
        head,
        body: Vec::new(),
    };
    match reply.header("content-length").map(str::parse::<usize>) {
        Some(Ok(length)) => {
            reply.body.resize(length, 0);
            reader.read_exact(&mut reply.body).expect("read the body");
        }
        _ => {
            reader
                .read_to_end(&mut reply.body)
                .expect("read to the end");
        }
    }
    Some(reply)
}

/// Sends `request` on a new connection and reads the response. Write errors are ignored,
/// because the server may respond and close before it read the whole request.
pub fn raw_exchange(port: u16, request: &[u8]) -> RawReply {
    use std::io::Write;

    let mut stream = connect(port);
    let _ = stream.write_all(request);
    let mut reader = std::io::BufReader::new(stream);
    read_raw_reply(&mut reader).expect("a response")
}
