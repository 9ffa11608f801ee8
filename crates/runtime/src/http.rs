//! A minimal blocking HTTP/1.1 client for the Runtime API: one keep-alive connection, requests
//! with a `Content-Length` body, responses framed by `Content-Length`, chunked transfer coding or
//! the end of the connection.
//!
//! A request sent on a reused connection that fails before any byte of the response arrives is
//! sent once more on a new connection, because the server may have closed the idle connection in
//! the meantime. When writing the request fails, a response the server sent before it stopped
//! reading (such as a 413) is still read and returned, so such a request is not sent again.
//! There are no read timeouts on a healthy connection: `GET /runtime/invocation/next` blocks
//! until the next event arrives, which can take any time.

use std::fmt;
use std::io::{self, BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::time::Duration;

/// Limit of a response's status line and headers together.
const MAX_HEAD_BYTES: usize = 64 * 1024;
/// Limit of a response body. Lambda's documented invocation payload limit is 6 MB for
/// synchronous calls; the margin covers base64 and JSON escaping by emulators.
const MAX_BODY_BYTES: usize = 64 * 1024 * 1024;
/// Time allowed to open the TCP connection.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(5);
/// Time allowed to read a response after the request could not be written completely.
const EARLY_RESPONSE_TIMEOUT: Duration = Duration::from_secs(5);

/// A response: status code, headers (names as received) and the whole body.
#[derive(Debug)]
pub struct HttpResponse {
    pub status: u16,
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
}

impl HttpResponse {
    /// Returns the first value of header `name`, compared without regard to ASCII case.
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(key, _)| key.eq_ignore_ascii_case(name))
            .map(|(_, value)| value.as_str())
    }
}

/// A failed exchange with the server at `authority`.
#[derive(Debug)]
pub enum HttpError {
    /// No TCP connection could be opened.
    Connect {
        authority: String,
        source: io::Error,
    },
    /// Writing the request or reading the response failed.
    Io {
        authority: String,
        source: io::Error,
    },
    /// The response is not valid HTTP/1.1, and `detail` names the problem.
    Malformed {
        authority: String,
        detail: &'static str,
    },
    /// The response head or body exceeds this client's limit, in bytes.
    TooLarge { authority: String, limit: usize },
}

impl HttpError {
    /// Returns whether the server could not be reached at all.
    pub fn is_connect(&self) -> bool {
        matches!(self, HttpError::Connect { .. })
    }
}

impl fmt::Display for HttpError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            HttpError::Connect { authority, source } => {
                write!(f, "cannot connect to {authority}: {source}")
            }
            HttpError::Io { authority, source } => {
                write!(f, "connection to {authority} failed: {source}")
            }
            HttpError::Malformed { authority, detail } => {
                write!(f, "invalid HTTP response from {authority}: {detail}")
            }
            HttpError::TooLarge { authority, limit } => {
                write!(
                    f,
                    "response from {authority} exceeds the limit of {limit} bytes"
                )
            }
        }
    }
}

impl std::error::Error for HttpError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            HttpError::Connect { source, .. } | HttpError::Io { source, .. } => Some(source),
            _ => None,
        }
    }
}

/// A request to send: method, path with query, extra headers and body.
pub struct HttpRequest<'a> {
    pub method: &'a str,
    pub path: &'a str,
    pub headers: &'a [(&'a str, &'a str)],
    pub body: &'a [u8],
}

/// Failure of one attempt, with whether any response byte had arrived.
struct AttemptError {
    error: HttpError,
    response_started: bool,
}

/// One keep-alive connection to `authority`, opened on first use and reopened when it breaks.
pub struct HttpClient {
    authority: String,
    connection: Option<BufReader<TcpStream>>,
}

impl HttpClient {
    pub fn new(authority: String) -> HttpClient {
        HttpClient {
            authority,
            connection: None,
        }
    }

    /// Sends `request` and reads the whole response.
    pub fn send(&mut self, request: &HttpRequest<'_>) -> Result<HttpResponse, HttpError> {
        let reused = self.connection.is_some();
        match self.attempt(request) {
            Ok(response) => Ok(response),
            Err(failure) => {
                self.connection = None;
                if !reused || failure.response_started || failure.error.is_connect() {
                    return Err(failure.error);
                }
                eprintln!(
                    "portkey-runtime: reused connection to {} failed ({}); retrying on a new connection",
                    self.authority, failure.error
                );
                self.attempt(request).map_err(|failure| {
                    self.connection = None;
                    failure.error
                })
            }
        }
    }

    fn attempt(&mut self, request: &HttpRequest<'_>) -> Result<HttpResponse, AttemptError> {
        let head = encode_head(&self.authority, request);
        let authority = self.authority.clone();
        let not_started = |error| AttemptError {
            error,
            response_started: false,
        };

        let connection = match self.connection.as_mut() {
            Some(connection) => connection,
            None => {
                let stream = connect(&authority).map_err(not_started)?;
                self.connection
                    .insert(BufReader::with_capacity(16 * 1024, stream))
            }
        };

        let stream = connection.get_mut();
        let written = stream
            .write_all(&head)
            .and_then(|()| stream.write_all(request.body))
            .and_then(|()| stream.flush());
        if let Err(write_error) = written {
            let early = read_early_response(connection, &authority);
            // The connection is broken either way.
            self.connection = None;
            return match early {
                EarlyResponse::Received(response) => Ok(response),
                EarlyResponse::Partial(error) => Err(AttemptError {
                    error,
                    response_started: true,
                }),
                EarlyResponse::None => Err(not_started(HttpError::Io {
                    authority,
                    source: write_error,
                })),
            };
        }

        let mut reader = ResponseReader {
            connection,
            authority: &authority,
            started: false,
        };
        match reader.read_response() {
            Ok((response, keep_alive)) => {
                if !keep_alive {
                    self.connection = None;
                }
                Ok(response)
            }
            Err(error) => Err(AttemptError {
                error,
                response_started: reader.started,
            }),
        }
    }
}

/// The response data left on a connection after the request could not be written completely.
enum EarlyResponse {
    /// A whole response, sent before the server stopped reading the request.
    Received(HttpResponse),
    /// Part of a response, which means the server did receive the request.
    Partial(HttpError),
    /// Nothing: the request may never have reached the server.
    None,
}

/// Reads a response that the server sent before it read the whole request. A server that
/// rejects a body (413 for a payload that is too large, for example) may respond and close the
/// connection as soon as it has read the head. The client's write then fails, but the
/// response is still in the socket's receive buffer.
fn read_early_response(connection: &mut BufReader<TcpStream>, authority: &str) -> EarlyResponse {
    // The write failed, so the connection is closing; the timeout only guards against a peer
    // that stopped reading yet keeps the connection open.
    if connection
        .get_ref()
        .set_read_timeout(Some(EARLY_RESPONSE_TIMEOUT))
        .is_err()
    {
        return EarlyResponse::None;
    }
    let mut reader = ResponseReader {
        connection,
        authority,
        started: false,
    };
    match reader.read_response() {
        Ok((response, _)) => EarlyResponse::Received(response),
        Err(error) if reader.started => EarlyResponse::Partial(error),
        Err(_) => EarlyResponse::None,
    }
}

fn connect(authority: &str) -> Result<TcpStream, HttpError> {
    let connect_error = |source| HttpError::Connect {
        authority: authority.to_owned(),
        source,
    };
    // Host names are not resolved, which keeps the DNS resolver out of the image; the endpoint
    // was checked at start-up.
    let address = crate::endpoint::socket_address(authority).ok_or_else(|| {
        connect_error(io::Error::new(
            io::ErrorKind::InvalidInput,
            "the host is neither an IP address nor localhost",
        ))
    })?;
    let stream = TcpStream::connect_timeout(&address, CONNECT_TIMEOUT).map_err(connect_error)?;
    // Head and body are separate writes. With Nagle's algorithm the body would wait for the
    // server's delayed ACK of the head.
    stream.set_nodelay(true).map_err(connect_error)?;
    Ok(stream)
}

fn encode_head(authority: &str, request: &HttpRequest<'_>) -> Vec<u8> {
    let mut head = Vec::with_capacity(256);
    head.extend_from_slice(request.method.as_bytes());
    head.push(b' ');
    head.extend_from_slice(request.path.as_bytes());
    head.extend_from_slice(b" HTTP/1.1\r\nHost: ");
    head.extend_from_slice(authority.as_bytes());
    head.extend_from_slice(b"\r\nUser-Agent: portkey-runtime\r\n");
    for (name, value) in request.headers {
        head.extend_from_slice(name.as_bytes());
        head.extend_from_slice(b": ");
        // A line break in a value would end the header block early.
        for &byte in value.as_bytes() {
            head.push(if byte == b'\r' || byte == b'\n' {
                b' '
            } else {
                byte
            });
        }
        head.extend_from_slice(b"\r\n");
    }
    if request.method != "GET" || !request.body.is_empty() {
        head.extend_from_slice(b"Content-Length: ");
        head.extend_from_slice(request.body.len().to_string().as_bytes());
        head.extend_from_slice(b"\r\n");
    }
    head.extend_from_slice(b"\r\n");
    head
}

/// Reads one response from a connection, recording whether any byte arrived.
struct ResponseReader<'a> {
    connection: &'a mut BufReader<TcpStream>,
    authority: &'a str,
    started: bool,
}

enum Framing {
    Length(usize),
    Chunked,
    UntilClose,
}

impl ResponseReader<'_> {
    /// Returns the response and whether the connection may be reused.
    fn read_response(&mut self) -> Result<(HttpResponse, bool), HttpError> {
        let mut head_budget = MAX_HEAD_BYTES;
        let (version_minor, status) = loop {
            let line = self.read_line(&mut head_budget)?;
            let (minor, status) = self.parse_status_line(&line)?;
            // 1xx responses precede the real one and have no body.
            if (100..200).contains(&status) {
                self.read_headers(&mut head_budget)?;
                continue;
            }
            break (minor, status);
        };
        let headers = self.read_headers(&mut head_budget)?;

        let mut keep_alive = version_minor >= 1;
        let mut chunked = false;
        let mut content_length: Option<usize> = None;
        for (name, value) in &headers {
            if name.eq_ignore_ascii_case("connection") {
                if has_token(value, "close") {
                    keep_alive = false;
                } else if has_token(value, "keep-alive") {
                    keep_alive = true;
                }
            } else if name.eq_ignore_ascii_case("transfer-encoding") {
                chunked = has_token(value, "chunked");
            } else if name.eq_ignore_ascii_case("content-length") {
                let length = value
                    .trim()
                    .parse::<usize>()
                    .map_err(|_| self.malformed("invalid Content-Length"))?;
                if content_length.is_some_and(|previous| previous != length) {
                    return Err(self.malformed("conflicting Content-Length headers"));
                }
                content_length = Some(length);
            }
        }

        let framing = if status == 204 || status == 304 {
            Framing::Length(0)
        } else if chunked {
            Framing::Chunked
        } else if let Some(length) = content_length {
            Framing::Length(length)
        } else {
            Framing::UntilClose
        };

        let body = match framing {
            Framing::Length(length) => self.read_exact_body(length)?,
            Framing::Chunked => self.read_chunked_body()?,
            Framing::UntilClose => {
                keep_alive = false;
                self.read_until_close()?
            }
        };
        Ok((
            HttpResponse {
                status,
                headers,
                body,
            },
            keep_alive,
        ))
    }

    fn parse_status_line(&self, line: &str) -> Result<(u8, u16), HttpError> {
        let mut parts = line.splitn(3, ' ');
        let version = parts.next().unwrap_or_default();
        let minor = match version {
            "HTTP/1.1" => 1,
            "HTTP/1.0" => 0,
            _ => return Err(self.malformed("the status line does not start with HTTP/1.x")),
        };
        let code = parts.next().unwrap_or_default();
        if code.len() != 3 {
            return Err(self.malformed("the status code is not three digits"));
        }
        let status = code
            .parse::<u16>()
            .map_err(|_| self.malformed("the status code is not a number"))?;
        Ok((minor, status))
    }

    fn read_headers(&mut self, budget: &mut usize) -> Result<Vec<(String, String)>, HttpError> {
        let mut headers = Vec::new();
        loop {
            let line = self.read_line(budget)?;
            if line.is_empty() {
                return Ok(headers);
            }
            let Some((name, value)) = line.split_once(':') else {
                return Err(self.malformed("a header line has no colon"));
            };
            headers.push((name.trim().to_owned(), value.trim().to_owned()));
        }
    }

    /// Reads one line without its CRLF (or bare LF), charging its length to `budget`.
    fn read_line(&mut self, budget: &mut usize) -> Result<String, HttpError> {
        let mut line = Vec::new();
        let limit = (*budget as u64).saturating_add(1);
        let read = (&mut *self.connection)
            .take(limit)
            .read_until(b'\n', &mut line)
            .map_err(|e| self.io(e))?;
        if read > 0 {
            self.started = true;
        }
        if read == 0 {
            let error = io::Error::new(
                io::ErrorKind::UnexpectedEof,
                "the server closed the connection",
            );
            return Err(self.io(error));
        }
        if read > *budget {
            return Err(HttpError::TooLarge {
                authority: self.authority.to_owned(),
                limit: MAX_HEAD_BYTES,
            });
        }
        *budget -= read;
        if line.last() != Some(&b'\n') {
            let error = io::Error::new(
                io::ErrorKind::UnexpectedEof,
                "the connection closed inside a line",
            );
            return Err(self.io(error));
        }
        line.pop();
        if line.last() == Some(&b'\r') {
            line.pop();
        }
        String::from_utf8(line).map_err(|_| self.malformed("a header line is not UTF-8"))
    }

    fn read_exact_body(&mut self, length: usize) -> Result<Vec<u8>, HttpError> {
        if length > MAX_BODY_BYTES {
            return Err(self.too_large());
        }
        let mut body = Vec::new();
        self.read_into(&mut body, length)?;
        Ok(body)
    }

    fn read_chunked_body(&mut self) -> Result<Vec<u8>, HttpError> {
        let mut body = Vec::new();
        loop {
            // Each size line gets the whole head limit; the body limit bounds the chunk count.
            let mut line_budget = MAX_HEAD_BYTES;
            let line = self.read_line(&mut line_budget)?;
            let size_text = line.split(';').next().unwrap_or_default().trim();
            let size = usize::from_str_radix(size_text, 16)
                .map_err(|_| self.malformed("invalid chunk size"))?;
            if size == 0 {
                // Trailer fields end with an empty line; their values are not used.
                self.read_headers(&mut line_budget)?;
                return Ok(body);
            }
            if size > MAX_BODY_BYTES.saturating_sub(body.len()) {
                return Err(self.too_large());
            }
            self.read_into(&mut body, size)?;
            if !self.read_line(&mut line_budget)?.is_empty() {
                return Err(self.malformed("a chunk is longer than its size"));
            }
        }
    }

    fn read_until_close(&mut self) -> Result<Vec<u8>, HttpError> {
        let mut body = Vec::new();
        let limit = (MAX_BODY_BYTES as u64) + 1;
        (&mut *self.connection)
            .take(limit)
            .read_to_end(&mut body)
            .map_err(|e| self.io(e))?;
        if body.len() > MAX_BODY_BYTES {
            return Err(self.too_large());
        }
        Ok(body)
    }

    /// Appends exactly `length` bytes to `body`, growing it as data arrives so that a large
    /// announced length allocates nothing in advance.
    fn read_into(&mut self, body: &mut Vec<u8>, length: usize) -> Result<(), HttpError> {
        let read = (&mut *self.connection)
            .take(length as u64)
            .read_to_end(body)
            .map_err(|e| self.io(e))?;
        if read < length {
            let error = io::Error::new(
                io::ErrorKind::UnexpectedEof,
                "the connection closed inside the body",
            );
            return Err(self.io(error));
        }
        Ok(())
    }

    fn io(&self, source: io::Error) -> HttpError {
        HttpError::Io {
            authority: self.authority.to_owned(),
            source,
        }
    }

    fn malformed(&self, detail: &'static str) -> HttpError {
        HttpError::Malformed {
            authority: self.authority.to_owned(),
            detail,
        }
    }

    fn too_large(&self) -> HttpError {
        HttpError::TooLarge {
            authority: self.authority.to_owned(),
            limit: MAX_BODY_BYTES,
        }
    }
}

/// Returns whether the comma-separated header `value` contains `token`, ignoring ASCII case.
fn has_token(value: &str, token: &str) -> bool {
    value
        .split(',')
        .any(|item| item.trim().eq_ignore_ascii_case(token))
}
