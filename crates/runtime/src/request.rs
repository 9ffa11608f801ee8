//! The request a handler receives: the HTTP view of an event (method, path, headers, query,
//! path parameters, body), the invocation metadata, and the raw event. Parameter binding lives
//! in the `bind` module.

use std::cell::OnceCell;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use serde_json::Value;

use crate::api::Invocation;

/// The bytes a raw query string keeps as they are when it becomes part of a URI: every printable
/// ASCII character except `#`, which would start a fragment.
const QUERY_KEEP: &[u8] = b"!\"$%&'()*+,/:;<=>?@[\\]^`{|}";

/// The kind of event an invocation carried, which also decides the shape of the reply.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EventKind {
    /// API Gateway HTTP API or Lambda Function URL, payload format 2.0.
    HttpApiV2,
    /// API Gateway REST API, payload format 1.0.
    RestApiV1,
    /// Application Load Balancer target.
    LoadBalancer,
    /// A direct invocation (`lambda invoke`, SDK call or another service's event).
    Direct,
}

impl EventKind {
    /// Returns whether the caller expects an HTTP proxy response (`statusCode`, `headers`,
    /// `body`).
    pub fn is_http(self) -> bool {
        self != EventKind::Direct
    }
}

/// One invocation as the handler receives it.
#[derive(Debug)]
pub struct Request {
    pub(crate) kind: EventKind,
    pub(crate) invocation: Invocation,
    pub(crate) method: String,
    pub(crate) path: String,
    pub(crate) headers: Vec<(String, String)>,
    pub(crate) query: Vec<(String, String)>,
    /// The query string as the event sent it (HTTP API `rawQueryString`), or empty.
    pub(crate) raw_query: String,
    pub(crate) path_parameters: Vec<(String, String)>,
    pub(crate) cookies: Vec<String>,
    pub(crate) body: Vec<u8>,
    /// Reason the body could not be decoded (invalid base64), reported when binding needs it.
    pub(crate) body_problem: Option<String>,
    /// Reason the payload could not be parsed as JSON, reported when binding needs it.
    pub(crate) event_problem: Option<String>,
    pub(crate) event: Value,
    /// Whether a REST API or load balancer event used `multiValueHeaders`; a load balancer then
    /// reads only `multiValueHeaders` from the reply.
    pub(crate) multi_value_headers: bool,
    /// The body parsed as JSON on first use; the error message when it is not JSON.
    pub(crate) body_json: OnceCell<Result<Value, String>>,
    /// The body parsed as a form on first use.
    pub(crate) body_form: OnceCell<Vec<(String, String)>>,
}

impl Request {
    pub(crate) fn empty(kind: EventKind, invocation: Invocation, event: Value) -> Request {
        Request {
            kind,
            invocation,
            method: String::new(),
            path: String::new(),
            headers: Vec::new(),
            query: Vec::new(),
            raw_query: String::new(),
            path_parameters: Vec::new(),
            cookies: Vec::new(),
            body: Vec::new(),
            body_problem: None,
            event_problem: None,
            event,
            multi_value_headers: false,
            body_json: OnceCell::new(),
            body_form: OnceCell::new(),
        }
    }

    /// Builds a request from an invocation payload, recognising its kind as the runtime loop
    /// does. Useful for testing handlers without a Runtime API.
    pub fn from_event(invocation: Invocation, payload: &[u8]) -> Request {
        crate::event::parse_event(invocation, payload)
    }

    /// Returns the kind of event this request came from.
    pub fn kind(&self) -> EventKind {
        self.kind
    }

    /// Returns the invocation metadata (request id, deadline, ARN, trace id).
    pub fn invocation(&self) -> &Invocation {
        &self.invocation
    }

    /// Returns the Lambda request id.
    pub fn request_id(&self) -> &str {
        &self.invocation.request_id
    }

    /// Returns the invocation deadline in Unix milliseconds, when Lambda sent one.
    pub fn deadline_ms(&self) -> Option<u64> {
        self.invocation.deadline_ms
    }

    /// Computes the time left until the deadline: zero once it has passed, `None` without a
    /// deadline.
    pub fn remaining_time(&self) -> Option<Duration> {
        let deadline = self.invocation.deadline_ms?;
        let now = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .unwrap_or_default();
        Some(Duration::from_millis(deadline).saturating_sub(now))
    }

    /// Returns the HTTP method as sent (`GET`), or an empty string for a direct invocation.
    pub fn method(&self) -> &str {
        &self.method
    }

    /// Returns the request path as the event gives it (API Gateway's raw path), or an empty
    /// string for a direct invocation.
    pub fn path(&self) -> &str {
        &self.path
    }

    /// Returns the request target as an `http::Uri` accepts it: the path and the query, each
    /// percent-encoded where a URI needs it (`/a b` becomes `/a%20b`). The query is the one the
    /// event sent (HTTP API's `rawQueryString`), with only its spaces, control characters and
    /// non-ASCII bytes encoded. Without one, the query is rebuilt from the decoded pairs, in
    /// order and with repetitions (`q=x&y` as a value becomes `q=x%26y`). A direct invocation, which has no
    /// path, gives `/`.
    pub fn uri(&self) -> String {
        let path = if self.path.is_empty() { "/" } else { &self.path };
        let mut uri = crate::percent::encode(path, b"/!$&'()*+,;=:@%");
        if !self.raw_query.is_empty() {
            uri.push('?');
            uri.push_str(&crate::percent::encode(&self.raw_query, QUERY_KEEP));
            return uri;
        }
        for (index, (name, value)) in self.query.iter().enumerate() {
            uri.push(if index == 0 { '?' } else { '&' });
            uri.push_str(&crate::percent::encode(name, b""));
            uri.push('=');
            uri.push_str(&crate::percent::encode(value, b""));
        }
        uri
    }

    /// Returns all headers, names in lower case, repeated names as separate entries.
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

    /// Returns all query parameters, decoded, in order and with repetitions.
    pub fn query_pairs(&self) -> &[(String, String)] {
        &self.query
    }

    /// Returns the first value of query parameter `name`.
    pub fn query(&self, name: &str) -> Option<&str> {
        first_value(&self.query, name)
    }

    /// Returns every value of query parameter `name`, in order.
    pub fn query_all<'a>(&'a self, name: &'a str) -> impl Iterator<Item = &'a str> + 'a {
        self.query
            .iter()
            .filter(move |(key, _)| key == name)
            .map(|(_, value)| value.as_str())
    }

    /// Returns the path parameters that API Gateway matched from the route template.
    pub fn path_parameters(&self) -> &[(String, String)] {
        &self.path_parameters
    }

    /// Returns the value of path parameter `name`.
    pub fn path_parameter(&self, name: &str) -> Option<&str> {
        first_value(&self.path_parameters, name)
    }

    /// Returns the `cookies` array of an HTTP API event, one `name=value` item each.
    pub fn cookies(&self) -> &[String] {
        &self.cookies
    }

    /// Returns the body bytes, base64-decoded when the event marked them so. For a direct
    /// invocation this is the whole payload.
    pub fn body(&self) -> &[u8] {
        &self.body
    }

    /// Returns the whole event as JSON, or `null` when the payload was not JSON.
    pub fn event(&self) -> &Value {
        &self.event
    }

    /// Returns whether a load balancer reply has to use `multiValueHeaders`.
    pub fn uses_multi_value_headers(&self) -> bool {
        self.multi_value_headers
    }
}

fn first_value<'a>(pairs: &'a [(String, String)], name: &str) -> Option<&'a str> {
    pairs
        .iter()
        .find(|(key, _)| key == name)
        .map(|(_, value)| value.as_str())
}
