//! A fault-injecting HTTP/1.1 proxy on 127.0.0.1 in front of moto's server. It names each request
//! with the AWS operation it carries (`Lambda:UpdateFunctionCode`, as the call log writes it),
//! and a rule can answer chosen requests of chosen operations with an error status, a connection
//! reset, a lost response (moto applies the call, the client sees a reset) or a stall longer than
//! the client's timeout. Everything else is forwarded to moto unchanged.
//!
//! The service comes from the SigV4 credential scope of the `Authorization` header, and the
//! operation from the method and path (REST services) or the `Action` form field (IAM and STS).

use std::io::{BufRead, BufReader, Write};
use std::net::{Shutdown, TcpListener, TcpStream};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

/// What the proxy does instead of forwarding a request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Fault {
    /// An HTTP 500 with the service's internal error code.
    ServerError,
    /// An HTTP 503 (`ServiceUnavailable`, or `SlowDown` for S3).
    Unavailable,
    /// The service's throttling error: `TooManyRequestsException` (429) for Lambda and API
    /// Gateway, `Throttling` (400) for IAM and STS, `SlowDown` (503) for S3.
    Throttled,
    /// Lambda's 409 `ResourceConflictException`: an update of the function is in progress.
    Conflict,
    /// The connection is reset before the request reaches moto.
    Reset,
    /// The request reaches moto and takes effect, then the connection is reset before the
    /// response arrives.
    LostResponse,
    /// Nothing is answered for this long, then the connection is closed.
    Stall(Duration),
}

impl Fault {
    /// Returns a short name for reports.
    pub fn name(&self) -> &'static str {
        match self {
            Fault::ServerError => "500",
            Fault::Unavailable => "503",
            Fault::Throttled => "throttled",
            Fault::Conflict => "conflict",
            Fault::Reset => "reset",
            Fault::LostResponse => "lost-response",
            Fault::Stall(_) => "stall",
        }
    }
}

/// Which requests of an operation a rule faults.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Pattern {
    /// Every request.
    Always,
    /// The first, third, fifth... request of the operation, so that each call's first attempt
    /// fails and its retry gets through. Requests are counted per operation rather than by the
    /// SDK's attempt header, because portkey retries some creates itself with new invocations.
    Alternate,
}

/// Which requests a rule faults: an operation (or every operation when `None`) and a pattern.
#[derive(Debug, Clone)]
pub struct Rule {
    pub operation: Option<String>,
    pub pattern: Pattern,
    pub fault: Fault,
}

impl Rule {
    /// Faults every attempt of `operation`.
    pub fn always(operation: &str, fault: Fault) -> Rule {
        Rule { operation: Some(operation.to_string()), pattern: Pattern::Always, fault }
    }

    /// Faults every other request of each operation, starting with the first.
    pub fn alternate(fault: Fault) -> Rule {
        Rule { operation: None, pattern: Pattern::Alternate, fault }
    }

    fn matches(&self, operation: &str, earlier_faulted: bool) -> bool {
        let wanted = self.operation.as_deref().is_none_or(|wanted| wanted == operation);
        wanted && (self.pattern == Pattern::Always || !earlier_faulted)
    }
}

/// One request the proxy saw: its operation and the fault it got, if any.
#[derive(Debug, Clone)]
pub struct Seen {
    pub operation: String,
    pub fault: Option<Fault>,
}

#[derive(Default)]
struct State {
    rules: Vec<Rule>,
    /// Operations the rules apply to; other operations pass even when a rule has no operation.
    only: Option<Vec<String>>,
    seen: Vec<Seen>,
    /// Whether the latest request of each operation got a fault.
    faulted_last: std::collections::HashMap<String, bool>,
}

/// The proxy: listens on 127.0.0.1 until dropped.
pub struct FaultProxy {
    pub endpoint: String,
    state: Arc<Mutex<State>>,
    stop: Arc<AtomicBool>,
    port: u16,
}

impl FaultProxy {
    /// Starts a proxy that forwards to `upstream` (`http://127.0.0.1:PORT`).
    pub fn start(upstream: &str) -> FaultProxy {
        let upstream = upstream.trim_start_matches("http://").to_string();
        let listener = TcpListener::bind("127.0.0.1:0").expect("the fault proxy binds to 127.0.0.1");
        let port = listener.local_addr().unwrap().port();
        let state = Arc::new(Mutex::new(State::default()));
        let stop = Arc::new(AtomicBool::new(false));
        let (thread_state, thread_stop) = (state.clone(), stop.clone());
        std::thread::spawn(move || {
            for connection in listener.incoming() {
                if thread_stop.load(Ordering::SeqCst) {
                    return;
                }
                let Ok(connection) = connection else { continue };
                let (state, upstream) = (thread_state.clone(), upstream.clone());
                std::thread::spawn(move || serve(connection, &upstream, &state));
            }
        });
        FaultProxy { endpoint: format!("http://127.0.0.1:{port}"), state, stop, port }
    }

    /// Replaces the rules; an empty list forwards everything.
    pub fn set_rules(&self, rules: Vec<Rule>) {
        let mut state = lock(&self.state);
        state.rules = rules;
        state.only = None;
        state.faulted_last.clear();
    }

    /// Replaces the rules and limits them to `operations`.
    pub fn set_rules_for(&self, rules: Vec<Rule>, operations: &[&str]) {
        let mut state = lock(&self.state);
        state.rules = rules;
        state.only = Some(operations.iter().map(|operation| operation.to_string()).collect());
        state.faulted_last.clear();
    }

    /// Returns and forgets the requests seen since the last call.
    pub fn take_seen(&self) -> Vec<Seen> {
        std::mem::take(&mut lock(&self.state).seen)
    }
}

impl Drop for FaultProxy {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::SeqCst);
        // Wakes the accept loop so that it sees the flag.
        let _ = TcpStream::connect(("127.0.0.1", self.port));
    }
}

fn lock(state: &Mutex<State>) -> std::sync::MutexGuard<'_, State> {
    state.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
}

/// A parsed HTTP request: the head's lines and the raw body.
struct Request {
    method: String,
    target: String,
    headers: Vec<(String, String)>,
    body: Vec<u8>,
}

impl Request {
    fn header(&self, name: &str) -> Option<&str> {
        self.headers.iter().find(|(key, _)| key.eq_ignore_ascii_case(name)).map(|(_, value)| value.as_str())
    }
}

/// Serves one client connection, request by request, until the client closes it or a fault
/// ends it.
fn serve(client: TcpStream, upstream: &str, state: &Mutex<State>) {
    let Ok(write_half) = client.try_clone() else { return };
    let mut writer = write_half;
    let mut reader = BufReader::new(client);
    loop {
        let Some(request) = read_request(&mut reader, &mut writer) else { return };
        let operation = operation_of(&request);
        let fault = {
            let mut state = lock(state);
            let allowed = state.only.as_ref().is_none_or(|only| only.contains(&operation));
            let earlier_faulted = state.faulted_last.get(&operation).copied().unwrap_or(false);
            let fault = if allowed {
                state.rules.iter().find(|rule| rule.matches(&operation, earlier_faulted)).map(|rule| rule.fault.clone())
            } else {
                None
            };
            // An update-in-progress conflict only happens on Lambda's writes to an existing function.
            let fault = fault.filter(|fault| *fault != Fault::Conflict || is_lambda_update(&operation));
            state.faulted_last.insert(operation.clone(), fault.is_some());
            state.seen.push(Seen { operation: operation.clone(), fault: fault.clone() });
            fault
        };
        let keep_open = match fault {
            None => forward(&request, upstream, &mut writer),
            Some(Fault::Reset) => {
                reset(&writer);
                false
            }
            Some(Fault::LostResponse) => {
                let mut discard = Vec::new();
                let _ = exchange(&request, upstream, &mut discard);
                reset(&writer);
                false
            }
            Some(Fault::Stall(duration)) => {
                std::thread::sleep(duration);
                let _ = writer.shutdown(Shutdown::Both);
                false
            }
            Some(fault) => {
                let response = error_response(&operation, &request.method, &fault);
                writer.write_all(&response).is_ok()
            }
        };
        if !keep_open {
            return;
        }
    }
}

fn is_lambda_update(operation: &str) -> bool {
    let reads = ["Lambda:Get", "Lambda:List", "Lambda:CreateFunction", "Lambda:Invoke"];
    operation.starts_with("Lambda:") && !reads.iter().any(|read| operation.starts_with(read))
}

/// Closes the connection with a TCP reset (SO_LINGER with a zero timeout), the way a dropped
/// connection looks to the client.
fn reset(stream: &TcpStream) {
    use std::os::fd::AsRawFd;
    let linger = libc::linger { l_onoff: 1, l_linger: 0 };
    // SAFETY: the descriptor belongs to `stream`, which outlives the call, and `linger` is a
    // valid `struct linger` of the size passed.
    unsafe {
        libc::setsockopt(
            stream.as_raw_fd(),
            libc::SOL_SOCKET,
            libc::SO_LINGER,
            (&linger as *const libc::linger).cast(),
            std::mem::size_of::<libc::linger>() as libc::socklen_t,
        );
    }
    let _ = stream.shutdown(Shutdown::Both);
}

fn read_request(reader: &mut BufReader<TcpStream>, writer: &mut TcpStream) -> Option<Request> {
    let mut line = String::new();
    if reader.read_line(&mut line).ok()? == 0 {
        return None;
    }
    let mut parts = line.split_whitespace();
    let method = parts.next()?.to_string();
    let target = parts.next()?.to_string();
    let headers = read_headers(reader)?;
    let mut request = Request { method, target, headers, body: Vec::new() };
    if request.header("expect").is_some_and(|value| value.eq_ignore_ascii_case("100-continue")) {
        writer.write_all(b"HTTP/1.1 100 Continue\r\n\r\n").ok()?;
        request.headers.retain(|(key, _)| !key.eq_ignore_ascii_case("expect"));
    }
    request.body = read_body(reader, &request.headers, true)?;
    Some(request)
}

fn read_headers(reader: &mut impl BufRead) -> Option<Vec<(String, String)>> {
    let mut headers = Vec::new();
    loop {
        let mut line = String::new();
        if reader.read_line(&mut line).ok()? == 0 {
            return None;
        }
        let line = line.trim_end_matches(['\r', '\n']);
        if line.is_empty() {
            return Some(headers);
        }
        let (name, value) = line.split_once(':')?;
        headers.push((name.trim().to_string(), value.trim().to_string()));
    }
}

/// Reads a body framed by `Content-Length` or chunked transfer coding, keeping the bytes as
/// sent. Without either, a request has no body and a response runs to the end of the stream.
fn read_body(reader: &mut impl BufRead, headers: &[(String, String)], is_request: bool) -> Option<Vec<u8>> {
    let header = |name: &str| headers.iter().find(|(key, _)| key.eq_ignore_ascii_case(name)).map(|(_, value)| value.as_str());
    if header("transfer-encoding").is_some_and(|value| value.eq_ignore_ascii_case("chunked")) {
        let mut raw = Vec::new();
        loop {
            let mut size_line = String::new();
            reader.read_line(&mut size_line).ok()?;
            raw.extend_from_slice(size_line.as_bytes());
            let size = usize::from_str_radix(size_line.trim().split(';').next()?, 16).ok()?;
            if size == 0 {
                // Trailers, then the empty line.
                loop {
                    let mut trailer = String::new();
                    reader.read_line(&mut trailer).ok()?;
                    raw.extend_from_slice(trailer.as_bytes());
                    if trailer.trim().is_empty() {
                        return Some(raw);
                    }
                }
            }
            let mut chunk = vec![0; size + 2];
            reader.read_exact(&mut chunk).ok()?;
            raw.extend_from_slice(&chunk);
        }
    }
    if let Some(length) = header("content-length") {
        let mut body = vec![0; length.parse().ok()?];
        reader.read_exact(&mut body).ok()?;
        return Some(body);
    }
    if is_request {
        return Some(Vec::new());
    }
    let mut body = Vec::new();
    reader.read_to_end(&mut body).ok()?;
    Some(body)
}

/// Sends `request` to moto on a new connection and writes moto's whole response to `out`.
/// Returns whether the response has a length, so that the client connection can stay open.
fn exchange(request: &Request, upstream: &str, out: &mut impl Write) -> Option<bool> {
    let mut server = TcpStream::connect(upstream).ok()?;
    server.set_read_timeout(Some(Duration::from_secs(120))).ok()?;
    let mut head = format!("{} {} HTTP/1.1\r\n", request.method, request.target);
    for (name, value) in &request.headers {
        if name.eq_ignore_ascii_case("connection") {
            continue;
        }
        head.push_str(&format!("{name}: {value}\r\n"));
    }
    head.push_str("Connection: close\r\n\r\n");
    server.write_all(head.as_bytes()).ok()?;
    server.write_all(&request.body).ok()?;

    let mut reader = BufReader::new(server);
    let mut status_line = String::new();
    reader.read_line(&mut status_line).ok()?;
    let headers = read_headers(&mut reader)?;
    let status: u16 = status_line.split_whitespace().nth(1)?.parse().ok()?;
    let bodiless = request.method == "HEAD" || status == 204 || status == 304;
    let body = if bodiless { Vec::new() } else { read_body(&mut reader, &headers, false)? };
    let framed = bodiless
        || headers.iter().any(|(key, _)| key.eq_ignore_ascii_case("content-length") || key.eq_ignore_ascii_case("transfer-encoding"));

    let mut response = status_line.into_bytes();
    for (name, value) in &headers {
        if name.eq_ignore_ascii_case("connection") {
            continue;
        }
        response.extend_from_slice(format!("{name}: {value}\r\n").as_bytes());
    }
    if !framed {
        response.extend_from_slice(format!("Content-Length: {}\r\n", body.len()).as_bytes());
    }
    response.extend_from_slice(b"\r\n");
    response.extend_from_slice(&body);
    out.write_all(&response).ok()?;
    Some(true)
}

fn forward(request: &Request, upstream: &str, writer: &mut TcpStream) -> bool {
    match exchange(request, upstream, writer) {
        Some(keep_open) => keep_open,
        None => {
            let _ = writer.write_all(b"HTTP/1.1 502 Bad Gateway\r\nContent-Length: 0\r\nConnection: close\r\n\r\n");
            false
        }
    }
}

/// Builds the error response `fault` stands for, in the error format of the operation's service.
fn error_response(operation: &str, method: &str, fault: &Fault) -> Vec<u8> {
    let service = operation.split(':').next().unwrap_or_default();
    let (status, code) = match (fault, service) {
        (Fault::ServerError, "Lambda") => (500, "ServiceException"),
        (Fault::ServerError, "S3") => (500, "InternalError"),
        (Fault::ServerError, "IAM" | "STS") => (500, "ServiceFailure"),
        (Fault::ServerError, _) => (500, "InternalServerError"),
        (Fault::Unavailable, "S3") => (503, "SlowDown"),
        (Fault::Unavailable, _) => (503, "ServiceUnavailable"),
        (Fault::Throttled, "S3") => (503, "SlowDown"),
        (Fault::Throttled, "IAM" | "STS") => (400, "Throttling"),
        (Fault::Throttled, _) => (429, "TooManyRequestsException"),
        (Fault::Conflict, _) => (409, "ResourceConflictException"),
        _ => (500, "InternalFailure"),
    };
    let message = match fault {
        Fault::Conflict => "The operation cannot be performed at this time. An update is in progress for resource (injected)",
        _ => "Injected by the test's fault proxy",
    };
    let (content_type, body) = match service {
        "S3" => ("application/xml", format!("<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<Error><Code>{code}</Code><Message>{message}</Message><RequestId>FAULT</RequestId></Error>")),
        "IAM" | "STS" => (
            "text/xml",
            format!(
                "<ErrorResponse><Error><Type>Sender</Type><Code>{code}</Code><Message>{message}</Message></Error><RequestId>FAULT</RequestId></ErrorResponse>"
            ),
        ),
        _ => ("application/json", format!("{{\"Type\":\"Service\",\"message\":\"{message}\"}}")),
    };
    let body = if method == "HEAD" { String::new() } else { body };
    let reason = match status {
        409 => "Conflict",
        429 => "Too Many Requests",
        400 => "Bad Request",
        503 => "Service Unavailable",
        _ => "Internal Server Error",
    };
    format!(
        "HTTP/1.1 {status} {reason}\r\nContent-Type: {content_type}\r\nx-amzn-ErrorType: {code}\r\nx-amzn-RequestId: FAULT\r\nContent-Length: {}\r\n\r\n{body}",
        body.len()
    )
    .into_bytes()
}

/// Names the AWS operation of `request` as `Service:Operation`, or `Unknown:<method> <path>`.
pub fn operation_of_parts(method: &str, target: &str, scope_service: &str, form_body: &str) -> String {
    let (path, query) = target.split_once('?').unwrap_or((target, ""));
    let segments: Vec<&str> = path.trim_matches('/').split('/').filter(|segment| !segment.is_empty()).collect();
    let unknown = || format!("Unknown:{method} {path}");
    let named = |service: &str, operation: &str| format!("{service}:{operation}");
    match scope_service {
        "sts" | "iam" => {
            let service = if scope_service == "sts" { "STS" } else { "IAM" };
            form_body
                .split('&')
                .find_map(|pair| pair.strip_prefix("Action="))
                .map(|action| named(service, action))
                .unwrap_or_else(unknown)
        }
        "s3" => {
            let has = |name: &str| query.split('&').any(|pair| pair == name || pair.starts_with(&format!("{name}=")));
            let operation = match (method, segments.len()) {
                ("GET", 0) => "ListBuckets",
                ("HEAD", 1) => "HeadBucket",
                ("PUT", 1) if has("publicAccessBlock") => "PutPublicAccessBlock",
                ("GET", 1) if has("publicAccessBlock") => "GetPublicAccessBlock",
                ("PUT", 1) if has("encryption") => "PutBucketEncryption",
                ("GET", 1) if has("encryption") => "GetBucketEncryption",
                ("PUT", 1) => "CreateBucket",
                ("GET", 1) if has("list-type") => "ListObjectsV2",
                ("HEAD", _) => "HeadObject",
                ("PUT", _) => "PutObject",
                ("GET", _) => "GetObject",
                ("DELETE", 1) => "DeleteBucket",
                ("DELETE", _) => "DeleteObject",
                _ => return unknown(),
            };
            named("S3", operation)
        }
        "lambda" => {
            let operation = match (method, &segments[..]) {
                ("GET", [_, "functions"]) => "ListFunctions",
                ("POST", [_, "functions"]) => "CreateFunction",
                ("GET", [_, "functions", _]) => "GetFunction",
                ("DELETE", [_, "functions", _]) => "DeleteFunction",
                ("GET", [_, "functions", _, "configuration"]) => "GetFunctionConfiguration",
                ("PUT", [_, "functions", _, "configuration"]) => "UpdateFunctionConfiguration",
                ("PUT", [_, "functions", _, "code"]) => "UpdateFunctionCode",
                ("GET", [_, "functions", _, "policy"]) => "GetPolicy",
                ("POST", [_, "functions", _, "policy"]) => "AddPermission",
                ("DELETE", [_, "functions", _, "policy", _]) => "RemovePermission",
                ("POST", [_, "functions", _, "invocations"]) => "Invoke",
                ("GET", [_, "functions", _, "url"]) => "GetFunctionUrlConfig",
                ("POST", [_, "functions", _, "url"]) => "CreateFunctionUrlConfig",
                ("DELETE", [_, "functions", _, "url"]) => "DeleteFunctionUrlConfig",
                _ => return unknown(),
            };
            named("Lambda", operation)
        }
        "apigateway" => {
            let operation = match (method, &segments[..]) {
                ("GET", ["v2", "apis"]) => "GetApis",
                ("POST", ["v2", "apis"]) => "CreateApi",
                ("DELETE", ["v2", "apis", _]) => "DeleteApi",
                ("GET", ["v2", "apis", _, "stages"]) => "GetStages",
                ("POST", ["v2", "apis", _, "stages"]) => "CreateStage",
                ("GET", ["v2", "apis", _, "routes"]) => "GetRoutes",
                ("POST", ["v2", "apis", _, "routes"]) => "CreateRoute",
                ("PATCH", ["v2", "apis", _, "routes", _]) => "UpdateRoute",
                ("DELETE", ["v2", "apis", _, "routes", _]) => "DeleteRoute",
                ("GET", ["v2", "apis", _, "integrations"]) => "GetIntegrations",
                ("POST", ["v2", "apis", _, "integrations"]) => "CreateIntegration",
                ("DELETE", ["v2", "apis", _, "integrations", _]) => "DeleteIntegration",
                _ => return unknown(),
            };
            named("ApiGatewayV2", operation)
        }
        _ => unknown(),
    }
}

fn operation_of(request: &Request) -> String {
    // `Credential=AKID/20260101/eu-west-1/lambda/aws4_request`: the fourth scope part.
    let scope_service = request
        .header("authorization")
        .and_then(|value| value.split("Credential=").nth(1))
        .and_then(|credential| credential.split('/').nth(3))
        .unwrap_or_default()
        .to_string();
    let form = String::from_utf8_lossy(&request.body);
    operation_of_parts(&request.method, &request.target, &scope_service, &form)
}
