//! Encoding a [`Response`] for the event kind that asked for it.
//!
//! - HTTP API and Function URL (2.0): `{"statusCode", "headers", "body", "isBase64Encoded",
//!   "cookies"}`. `Set-Cookie` headers go into `cookies`, and repeated headers are joined with
//!   `, `. `cookies` is sent even when empty because cargo-lambda 1.9.2's emulator rejects a
//!   2.0 response without it.
//! - REST API (1.0): `headers` for single-valued names and `multiValueHeaders` for repeated ones
//!   (API Gateway merges both).
//! - Load balancer: as the REST API plus `statusDescription` (`"200 OK"`). When the request used
//!   `multiValueHeaders`, the target group has multi-value headers enabled and reads only
//!   `multiValueHeaders`, so every header goes there.
//! - Direct invocation: a status below 400 posts the plain value (JSON as is, text as a JSON
//!   string, bytes as a base64 JSON string, no body as `null`). A status of 400 or more is
//!   posted to the invocation's `/error` endpoint instead, so `lambda invoke` reports a function
//!   error: `errorType` is the response's error type (or a name derived from the status, such as
//!   `NotFound`) and `errorMessage` is the `message` field of a JSON body or the text body.
//!
//! Bodies that are not UTF-8, and every `Content::Binary` body, are sent base64-encoded with
//! `isBase64Encoded: true`.

use serde_json::{Map, Value};

use crate::api::ErrorReport;
use crate::base64;
use crate::request::{EventKind, Request};
use crate::response::{Content, Response};

/// The runtime's post for one invocation.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Reply {
    /// A body for `/runtime/invocation/{id}/response`.
    Success(Vec<u8>),
    /// A report for `/runtime/invocation/{id}/error`.
    Failure(ErrorReport),
}

impl Response {
    /// Encodes this response the way the caller of `request` expects it.
    pub fn to_reply(&self, request: &Request) -> Reply {
        match request.kind() {
            EventKind::HttpApiV2 => Reply::Success(self.http_api_v2_payload()),
            EventKind::RestApiV1 => Reply::Success(self.proxy_v1_payload(None)),
            EventKind::LoadBalancer => {
                let all_multi = request.uses_multi_value_headers();
                Reply::Success(self.proxy_v1_payload(Some(all_multi)))
            }
            EventKind::Direct if self.status >= 400 => Reply::Failure(self.error_report()),
            EventKind::Direct => Reply::Success(self.direct_payload()),
        }
    }

    fn http_api_v2_payload(&self) -> Vec<u8> {
        let mut headers = Map::new();
        let mut cookies = Vec::new();
        for (name, value) in &self.headers {
            if name == "set-cookie" {
                cookies.push(Value::String(value.clone()));
                continue;
            }
            append_joined(&mut headers, name, value);
        }

        let mut payload = Map::new();
        payload.insert("statusCode".to_owned(), Value::from(self.status));
        payload.insert("headers".to_owned(), Value::Object(headers));
        payload.insert("cookies".to_owned(), Value::Array(cookies));
        self.insert_body(&mut payload);
        Value::Object(payload).to_string().into_bytes()
    }

    /// REST API payload when `load_balancer` is `None`; a load balancer payload otherwise, with
    /// `Some(true)` when every header has to go into `multiValueHeaders`.
    fn proxy_v1_payload(&self, load_balancer: Option<bool>) -> Vec<u8> {
        let all_multi = load_balancer == Some(true);
        let mut headers = Map::new();
        let mut multi_headers = Map::new();
        for (name, value) in &self.headers {
            let repeated = self.headers.iter().filter(|(key, _)| key == name).count() > 1;
            if all_multi || repeated {
                let entry = multi_headers
                    .entry(name.clone())
                    .or_insert_with(|| Value::Array(Vec::new()));
                if let Value::Array(values) = entry {
                    values.push(Value::String(value.clone()));
                }
            } else {
                headers.insert(name.clone(), Value::String(value.clone()));
            }
        }

        let mut payload = Map::new();
        payload.insert("statusCode".to_owned(), Value::from(self.status));
        if load_balancer.is_some() {
            payload.insert(
                "statusDescription".to_owned(),
                Value::String(status_description(self.status)),
            );
        }
        if !all_multi {
            payload.insert("headers".to_owned(), Value::Object(headers));
        }
        if !multi_headers.is_empty() || all_multi {
            payload.insert("multiValueHeaders".to_owned(), Value::Object(multi_headers));
        }
        self.insert_body(&mut payload);
        Value::Object(payload).to_string().into_bytes()
    }

    fn insert_body(&self, payload: &mut Map<String, Value>) {
        let text = match self.content {
            Content::Binary => None,
            _ => std::str::from_utf8(&self.body).ok(),
        };
        let (body, encoded) = match text {
            Some(text) => (text.to_owned(), false),
            None => (base64::encode(&self.body), true),
        };
        payload.insert("body".to_owned(), Value::String(body));
        payload.insert("isBase64Encoded".to_owned(), Value::Bool(encoded));
    }

    fn direct_payload(&self) -> Vec<u8> {
        match self.content {
            Content::Json => self.body.clone(),
            Content::Empty => b"null".to_vec(),
            Content::Text => Value::String(String::from_utf8_lossy(&self.body).into_owned())
                .to_string()
                .into_bytes(),
            Content::Binary => Value::String(base64::encode(&self.body))
                .to_string()
                .into_bytes(),
        }
    }

    fn error_report(&self) -> ErrorReport {
        let error_type = match &self.error_type {
            Some(error_type) => error_type.clone(),
            None => status_error_type(self.status),
        };
        ErrorReport {
            error_type,
            message: self.error_message(),
            stack_trace: Vec::new(),
        }
    }

    /// Extracts the human-readable part of an error body.
    fn error_message(&self) -> String {
        if self.content == Content::Json {
            let parsed: Option<Value> = serde_json::from_slice(&self.body).ok();
            if let Some(message) = parsed
                .as_ref()
                .and_then(|body| body.get("message"))
                .and_then(Value::as_str)
            {
                return message.to_owned();
            }
        }
        if self.body.is_empty() {
            return status_description(self.status);
        }
        String::from_utf8_lossy(&self.body).into_owned()
    }
}

fn append_joined(headers: &mut Map<String, Value>, name: &str, value: &str) {
    match headers.get_mut(name) {
        Some(Value::String(existing)) => {
            existing.push_str(", ");
            existing.push_str(value);
        }
        _ => {
            headers.insert(name.to_owned(), Value::String(value.to_owned()));
        }
    }
}

/// Returns the reason phrase of common status codes (RFC 9110), or `None`.
fn reason_phrase(status: u16) -> Option<&'static str> {
    Some(match status {
        200 => "OK",
        201 => "Created",
        202 => "Accepted",
        204 => "No Content",
        301 => "Moved Permanently",
        302 => "Found",
        303 => "See Other",
        304 => "Not Modified",
        307 => "Temporary Redirect",
        308 => "Permanent Redirect",
        400 => "Bad Request",
        401 => "Unauthorized",
        403 => "Forbidden",
        404 => "Not Found",
        405 => "Method Not Allowed",
        409 => "Conflict",
        410 => "Gone",
        413 => "Content Too Large",
        415 => "Unsupported Media Type",
        422 => "Unprocessable Content",
        429 => "Too Many Requests",
        500 => "Internal Server Error",
        501 => "Not Implemented",
        502 => "Bad Gateway",
        503 => "Service Unavailable",
        504 => "Gateway Timeout",
        _ => return None,
    })
}

/// `"404 Not Found"`, or just the number for a code without a known phrase.
fn status_description(status: u16) -> String {
    let mut description = status.to_string();
    if let Some(phrase) = reason_phrase(status) {
        description.push(' ');
        description.push_str(phrase);
    }
    description
}

/// `NotFound` for 404, `Status418` for a code without a known phrase.
fn status_error_type(status: u16) -> String {
    match reason_phrase(status) {
        Some(phrase) => phrase.split(' ').collect(),
        None => {
            let mut name = String::from("Status");
            name.push_str(&status.to_string());
            name
        }
    }
}
