//! The response a handler returns: status, headers and a body that remembers whether it is
//! text, JSON or bytes, so the `reply` module can encode it for each event kind.

use std::fmt::Display;

use serde::Serialize;
use serde_json::Value;

const TEXT_TYPE: &str = "text/plain; charset=utf-8";
const JSON_TYPE: &str = "application/json";

/// What a response body contains, which decides how a direct invocation receives it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Content {
    /// No body.
    Empty,
    /// UTF-8 text.
    Text,
    /// Serialized JSON.
    Json,
    /// Arbitrary bytes.
    Binary,
}

/// A handler's response.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Response {
    pub(crate) status: u16,
    pub(crate) headers: Vec<(String, String)>,
    pub(crate) body: Vec<u8>,
    pub(crate) content: Content,
    pub(crate) error_type: Option<String>,
}

impl Response {
    fn new(status: u16, content_type: Option<&str>, body: Vec<u8>, content: Content) -> Response {
        let headers = match content_type {
            Some(value) => vec![("content-type".to_owned(), value.to_owned())],
            None => Vec::new(),
        };
        Response {
            status,
            headers,
            body,
            content,
            error_type: None,
        }
    }

    /// Creates a `text/plain; charset=utf-8` response.
    pub fn text(status: u16, body: String) -> Response {
        Response::new(status, Some(TEXT_TYPE), body.into_bytes(), Content::Text)
    }

    /// Creates an `application/json` response with `body` serialized.
    pub fn json_value(status: u16, body: &Value) -> Response {
        Response::new(
            status,
            Some(JSON_TYPE),
            body.to_string().into_bytes(),
            Content::Json,
        )
    }

    /// Serializes `body` into an `application/json` response. A serialization error (a map
    /// with non-string keys, or a failing `Serialize` impl) gives a 500 response naming it.
    pub fn json<T: Serialize + ?Sized>(status: u16, body: &T) -> Response {
        match serde_json::to_vec(body) {
            Ok(bytes) => Response::new(status, Some(JSON_TYPE), bytes, Content::Json),
            Err(error) => {
                let mut message =
                    String::from("the function's result cannot be serialized as JSON: ");
                message.push_str(&error.to_string());
                Response::error(500, "SerializationError", message)
            }
        }
    }

    /// Creates a 200 `text/plain` response with `value`'s `Display` text.
    pub fn display<T: Display + ?Sized>(value: &T) -> Response {
        Response::text(200, value.to_string())
    }

    /// Creates a response with arbitrary bytes and the given `Content-Type`.
    pub fn bytes(status: u16, content_type: &str, body: Vec<u8>) -> Response {
        Response::new(status, Some(content_type), body, Content::Binary)
    }

    /// Creates a 204 No Content response, for functions that return `()`.
    pub fn no_content() -> Response {
        Response::new(204, None, Vec::new(), Content::Empty)
    }

    /// Creates a 404 response with a JSON error body, for functions that return `None`.
    pub fn not_found() -> Response {
        let body = serde_json::json!({
            "error": "not found",
            "message": "the function returned no value (None)",
        });
        let mut response = Response::json_value(404, &body);
        response.error_type = Some("NotFound".to_owned());
        response
    }

    /// Creates a failure response with a `text/plain` body. Direct invocations receive
    /// `error_type` as `errorType`, for example the Rust type of an `Err` value.
    pub fn error(status: u16, error_type: &str, message: String) -> Response {
        let mut response = Response::text(status, message);
        response.error_type = Some(error_type.to_owned());
        response
    }

    /// Replaces the HTTP status code, for a function that chose its own status. A status that a
    /// final response cannot have (below 200, or above 999) becomes a 500 that names it, and a
    /// 204, 205 or 304 response loses its body, which HTTP forbids there.
    pub fn with_status(mut self, status: u16) -> Response {
        if !(200..=999).contains(&status) {
            let mut message = String::from("the function chose the status ");
            message.push_str(&status.to_string());
            message.push_str(", which a final HTTP response cannot have; use a status from 200 to 599");
            return Response::error(500, "InvalidStatus", message);
        }
        if matches!(status, 204 | 205 | 304) {
            self.body.clear();
            self.content = Content::Empty;
            self.headers.retain(|(name, _)| name != "content-type");
        }
        self.status = status;
        self
    }

    /// Creates a response with arbitrary bytes and no `Content-Type`, for a body whose sender
    /// set none (an empty body counts as no body).
    pub fn untyped(status: u16, body: Vec<u8>) -> Response {
        let content = if body.is_empty() { Content::Empty } else { Content::Binary };
        Response::new(status, None, body, content)
    }

    /// Adds a header; `Set-Cookie` may be added several times.
    pub fn with_header(mut self, name: &str, value: &str) -> Response {
        let name = name.to_ascii_lowercase();
        if name == "content-type" {
            self.headers.retain(|(key, _)| key != "content-type");
        }
        self.headers.push((name, value.to_owned()));
        self
    }

    /// Returns the HTTP status code.
    pub fn status(&self) -> u16 {
        self.status
    }

    /// Returns the headers, names in lower case.
    pub fn headers(&self) -> &[(String, String)] {
        &self.headers
    }

    /// Returns the first value of header `name` (any case).
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(key, _)| key.eq_ignore_ascii_case(name))
            .map(|(_, value)| value.as_str())
    }

    /// Returns the body bytes.
    pub fn body(&self) -> &[u8] {
        &self.body
    }

    /// Returns the kind of body content.
    pub fn content(&self) -> Content {
        self.content
    }

    /// Returns the error type reported to direct invocations when the status is 400 or more.
    pub fn error_type(&self) -> Option<&str> {
        self.error_type.as_deref()
    }
}
