//! JSON bodies for the error responses that hyper writes by itself. hyper responds to a
//! request it cannot parse with an empty 400, 414 or 431 and closes the connection, without
//! calling the gateway's handlers. [`JsonAutomaticResponses`] wraps a connection's socket and
//! replaces such a response, as hyper writes it, with one whose JSON body has the gateway's
//! usual `{"message", "detail"}` form. The module also builds raw responses for the connection
//! layer, such as the 408 for a request head that did not arrive in time.

use std::io;
use std::pin::Pin;
use std::task::{Context, Poll, ready};

use axum::http::StatusCode;
use serde_json::json;
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};

use crate::ids;
use crate::response::REQUEST_ID_HEADER;

/// The maximum length of a request target that hyper parses, in bytes. hyper 1.13 and the
/// `http` crate reject longer ones, and hyper responds with 414.
const MAX_URI_BYTES: usize = u16::MAX as usize - 1;

/// The maximum size of a request's line and headers, in bytes. It equals hyper's default read
/// buffer limit of 8 KiB + 100 × 4 KiB, which bounds a head only roughly because one read may
/// overshoot it, so the gateway sets it as hyper's exact header size limit.
pub(crate) const MAX_REQUEST_HEAD_BYTES: usize = 8192 + 4096 * 100;

/// The maximum number of header fields hyper accepts in a request, its default.
const MAX_HEADER_FIELDS: usize = 100;

/// The maximum length of a response head that hyper writes for a parse error, in bytes. Longer
/// writes are passed through unexamined.
const MAX_AUTOMATIC_HEAD_BYTES: usize = 256;

/// The statuses of the responses that hyper sends by itself when it cannot parse a request.
const AUTOMATIC_STATUSES: [StatusCode; 3] = [
    StatusCode::BAD_REQUEST,
    StatusCode::URI_TOO_LONG,
    StatusCode::REQUEST_HEADER_FIELDS_TOO_LARGE,
];

/// Builds a complete HTTP/1.1 response with the gateway's JSON error body, a fresh request id
/// and `connection: close`, for writing straight to a socket.
pub(crate) fn raw_json_response(status: StatusCode, detail: &str) -> Vec<u8> {
    let reason = status.canonical_reason().unwrap_or("Error");
    let body = json!({ "message": reason, "detail": detail }).to_string();
    let head = format!(
        "HTTP/1.1 {} {reason}\r\ncontent-type: application/json\r\ncontent-length: {}\r\n\
         connection: close\r\n{REQUEST_ID_HEADER}: {}\r\n\r\n",
        status.as_u16(),
        body.len(),
        ids::request_id(),
    );
    let mut bytes = head.into_bytes();
    bytes.extend_from_slice(body.as_bytes());
    bytes
}

/// Returns the detail of the JSON body that replaces hyper's response with `status`.
fn automatic_detail(status: StatusCode) -> String {
    match status {
        StatusCode::URI_TOO_LONG => format!(
            "the request target exceeds {MAX_URI_BYTES} bytes, the longest URL the gateway \
             parses; send long data in the request body instead"
        ),
        StatusCode::REQUEST_HEADER_FIELDS_TOO_LARGE => format!(
            "the request line and headers exceed {MAX_REQUEST_HEAD_BYTES} bytes or \
             {MAX_HEADER_FIELDS} header fields"
        ),
        _ => "the request line or a header is malformed, so the request was not routed".to_string(),
    }
}

/// Returns the status of `bytes` when they are exactly a response head that hyper writes for
/// a request it could not parse: one of `AUTOMATIC_STATUSES`, no body, and no header but
/// `content-length: 0`, `date` and `connection: close`. The gateway's own responses always
/// carry a request id or a content type, so they never match.
fn automatic_status(bytes: &[u8]) -> Option<StatusCode> {
    if bytes.len() > MAX_AUTOMATIC_HEAD_BYTES || !bytes.starts_with(b"HTTP/1.1 4") {
        return None;
    }
    let text = std::str::from_utf8(bytes).ok()?;
    let head = text.strip_suffix("\r\n\r\n")?;
    let mut lines = head.split("\r\n");
    let status_line = lines.next()?;
    let status = AUTOMATIC_STATUSES.into_iter().find(|status| {
        let reason = status.canonical_reason().unwrap_or_default();
        status_line == format!("HTTP/1.1 {} {reason}", status.as_u16())
    })?;
    for line in lines {
        let (name, value) = line.split_once(": ")?;
        let expected = match name.to_ascii_lowercase().as_str() {
            "content-length" => value == "0",
            "connection" => value.eq_ignore_ascii_case("close"),
            "date" => true,
            _ => false,
        };
        if !expected {
            return None;
        }
    }
    Some(status)
}

/// A connection's socket that replaces hyper's automatic parse error responses with JSON ones.
/// It reports no vectored write support, so hyper writes each response head with one
/// `poll_write` call that contains it whole.
///
/// NOTE: this relies on hyper 1.13 having flushed the previous response on the connection
/// before it writes an automatic one, as the keep-alive test in `slow_and_malformed.rs`
/// checks. Should both share one write, the write does not match and the empty response goes
/// out unchanged.
pub(crate) struct JsonAutomaticResponses<S> {
    inner: S,
    /// Replacement bytes not yet written to `inner`.
    pending: Vec<u8>,
    /// How many bytes of `pending` were written.
    pending_written: usize,
    /// The status of the replaced response, if any.
    replaced: Option<StatusCode>,
}

impl<S> JsonAutomaticResponses<S> {
    pub fn new(inner: S) -> JsonAutomaticResponses<S> {
        JsonAutomaticResponses {
            inner,
            pending: Vec::new(),
            pending_written: 0,
            replaced: None,
        }
    }

    /// Returns the status of the automatic response that was replaced, if any.
    pub fn replaced(&self) -> Option<StatusCode> {
        self.replaced
    }
}

impl<S: AsyncWrite + Unpin> JsonAutomaticResponses<S> {
    /// Writes the rest of `pending` to `inner`.
    fn poll_pending(&mut self, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        while self.pending_written < self.pending.len() {
            let rest = &self.pending[self.pending_written..];
            let written = ready!(Pin::new(&mut self.inner).poll_write(cx, rest))?;
            if written == 0 {
                return Poll::Ready(Err(io::ErrorKind::WriteZero.into()));
            }
            self.pending_written += written;
        }
        Poll::Ready(Ok(()))
    }
}

impl<S: AsyncRead + Unpin> AsyncRead for JsonAutomaticResponses<S> {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        Pin::new(&mut self.get_mut().inner).poll_read(cx, buf)
    }
}

impl<S: AsyncWrite + Unpin> AsyncWrite for JsonAutomaticResponses<S> {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        let this = self.get_mut();
        ready!(this.poll_pending(cx))?;
        let Some(status) = automatic_status(buf) else {
            return Pin::new(&mut this.inner).poll_write(cx, buf);
        };
        this.pending = raw_json_response(status, &automatic_detail(status));
        this.pending_written = 0;
        this.replaced = Some(status);
        // hyper's bytes count as written. A replacement that the socket does not take at once
        // is finished by the next write, flush or shutdown.
        if let Poll::Ready(Err(error)) = this.poll_pending(cx) {
            return Poll::Ready(Err(error));
        }
        Poll::Ready(Ok(buf.len()))
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        let this = self.get_mut();
        ready!(this.poll_pending(cx))?;
        Pin::new(&mut this.inner).poll_flush(cx)
    }

    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        let this = self.get_mut();
        ready!(this.poll_pending(cx))?;
        Pin::new(&mut this.inner).poll_shutdown(cx)
    }

    fn is_write_vectored(&self) -> bool {
        false
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hyper_parse_error_heads_match() {
        let cases = [
            (
                "HTTP/1.1 414 URI Too Long\r\ncontent-length: 0\r\ndate: Thu, 04 Dec 2025 21:00:00 GMT\r\n\r\n",
                StatusCode::URI_TOO_LONG,
            ),
            (
                "HTTP/1.1 400 Bad Request\r\ncontent-length: 0\r\n\r\n",
                StatusCode::BAD_REQUEST,
            ),
            (
                "HTTP/1.1 431 Request Header Fields Too Large\r\nconnection: close\r\ncontent-length: 0\r\n\r\n",
                StatusCode::REQUEST_HEADER_FIELDS_TOO_LARGE,
            ),
        ];
        for (head, status) in cases {
            assert_eq!(automatic_status(head.as_bytes()), Some(status), "{head:?}");
        }
    }

    #[test]
    fn other_responses_do_not_match() {
        let cases = [
            "HTTP/1.1 414 URI Too Long\r\ncontent-length: 2\r\n\r\n{}",
            "HTTP/1.1 414 URI Too Long\r\ncontent-length: 0\r\napigw-requestid: x\r\n\r\n",
            "HTTP/1.1 414 URI Too Long\r\ncontent-type: application/json\r\ncontent-length: 0\r\n\r\n",
            "HTTP/1.1 404 Not Found\r\ncontent-length: 0\r\n\r\n",
            "HTTP/1.1 400 Bad Request\r\ncontent-length: 0\r\n\r\nHTTP/1.1 400 Bad Request\r\n\r\n",
            "HTTP/1.1 400 Bad Request\r\ncontent-length: 0\r\n",
            "HTTP/1.0 400 Bad Request\r\ncontent-length: 0\r\n\r\n",
        ];
        for head in cases {
            assert_eq!(automatic_status(head.as_bytes()), None, "{head:?}");
        }
    }

    #[test]
    fn raw_response_is_complete_json() {
        let bytes = raw_json_response(StatusCode::REQUEST_TIMEOUT, "too slow");
        let text = String::from_utf8(bytes).expect("UTF-8");
        let (head, body) = text.split_once("\r\n\r\n").expect("a head and a body");

        assert!(
            head.starts_with("HTTP/1.1 408 Request Timeout\r\n"),
            "{head}"
        );
        assert!(head.contains("\r\nconnection: close"), "{head}");
        assert!(
            head.contains(&format!("\r\ncontent-length: {}", body.len())),
            "{head}"
        );
        let value: serde_json::Value = serde_json::from_str(body).expect("JSON body");
        assert_eq!(value["message"], "Request Timeout");
        assert_eq!(value["detail"], "too slow");
    }
}
