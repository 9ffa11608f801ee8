//! Event recognition: turns an invocation payload into a [`Request`].
//!
//! The kind is recognised from the payload's shape, in this order:
//!
//! 1. API Gateway HTTP API or Lambda Function URL (payload format 2.0): an object with
//!    `"version": "2.0"` and a `requestContext.http` object.
//! 2. Application Load Balancer: a `requestContext.elb` object and an `httpMethod` string.
//! 3. API Gateway REST API (payload format 1.0): a `requestContext` object and an `httpMethod`
//!    string.
//! 4. Anything else is a direct invocation. Its payload, normally a JSON object whose keys are
//!    parameter names, is the binding source; it stays available through [`Request::event`].
//!
//! Query strings, per kind:
//!
//! - HTTP API and Function URL: `queryStringParameters` joins repeated keys with commas
//!   (`a=1&a=2` becomes `"a": "1,2"`), so the query is parsed from `rawQueryString` instead,
//!   with form decoding (`%XX` escapes, `+` as a space). `queryStringParameters` is used only when
//!   `rawQueryString` is missing or empty.
//! - REST API: `multiValueQueryStringParameters` keeps every repetition and API Gateway has
//!   already decoded the values; `queryStringParameters` (last value per key) is the fallback.
//! - Load balancer: the same two fields (multi-value only when the target group enables it),
//!   but names and values arrive percent-encoded as the client sent them, so both are
//!   form-decoded here.
//!
//! Header names are stored in lower case. For the HTTP API the `cookies` array becomes a
//! `cookie` header (joined with `; `) unless the event already has one. A body with
//! `isBase64Encoded: true` is decoded; invalid base64 is reported when a parameter needs the body.

use serde_json::{Map, Value};

use crate::api::Invocation;
use crate::base64;
use crate::percent;
use crate::request::{EventKind, Request};

/// Parses `payload` and recognises its kind. A payload that is not JSON becomes a direct
/// invocation whose binding reports the parse error.
pub(crate) fn parse_event(invocation: Invocation, payload: &[u8]) -> Request {
    let event = match serde_json::from_slice::<Value>(payload) {
        Ok(event) => event,
        Err(error) => {
            let mut request = Request::empty(EventKind::Direct, invocation, Value::Null);
            request.body = payload.to_vec();
            request.event_problem = Some(invalid_payload_message(&error));
            return request;
        }
    };

    let kind = recognise(&event);
    let mut request = Request::empty(kind, invocation, Value::Null);
    match kind {
        EventKind::HttpApiV2 => fill_http_api_v2(&mut request, &event),
        EventKind::RestApiV1 => fill_rest_api_v1(&mut request, &event),
        EventKind::LoadBalancer => fill_load_balancer(&mut request, &event),
        EventKind::Direct => request.body = payload.to_vec(),
    }
    request.event = event;
    request
}

fn invalid_payload_message(error: &serde_json::Error) -> String {
    let mut message = String::from("the invocation payload is not valid JSON: ");
    message.push_str(&error.to_string());
    message
}

/// Returns the kind of `event` by the rules of the module documentation.
fn recognise(event: &Value) -> EventKind {
    let Some(object) = event.as_object() else {
        return EventKind::Direct;
    };
    let Some(context) = object.get("requestContext").and_then(Value::as_object) else {
        return EventKind::Direct;
    };
    let has_method = object.get("httpMethod").is_some_and(Value::is_string);

    if str_field(object, "version") == Some("2.0")
        && context.get("http").is_some_and(Value::is_object)
    {
        return EventKind::HttpApiV2;
    }
    if context.get("elb").is_some_and(Value::is_object) && has_method {
        return EventKind::LoadBalancer;
    }
    if has_method {
        return EventKind::RestApiV1;
    }
    EventKind::Direct
}

fn fill_http_api_v2(request: &mut Request, event: &Value) {
    let Some(object) = event.as_object() else {
        return;
    };
    let http = object
        .get("requestContext")
        .and_then(|context| context.get("http"))
        .and_then(Value::as_object);

    request.method = http
        .and_then(|http| str_field(http, "method"))
        .unwrap_or("GET")
        .to_owned();
    request.path = str_field(object, "rawPath")
        .or_else(|| http.and_then(|http| str_field(http, "path")))
        .unwrap_or("/")
        .to_owned();

    request.query = match str_field(object, "rawQueryString") {
        Some(raw) if !raw.is_empty() => {
            request.raw_query = raw.to_owned();
            percent::parse_query(raw)
        }
        _ => single_values(object.get("queryStringParameters")),
    };
    request.path_parameters = single_values(object.get("pathParameters"));
    request.headers = lower_case_names(single_values(object.get("headers")));

    let cookies: Vec<String> = object
        .get("cookies")
        .and_then(Value::as_array)
        .map(|items| {
            items
                .iter()
                .filter_map(Value::as_str)
                .map(str::to_owned)
                .collect()
        })
        .unwrap_or_default();
    if !cookies.is_empty() && request.header("cookie").is_none() {
        request
            .headers
            .push(("cookie".to_owned(), cookies.join("; ")));
    }
    request.cookies = cookies;

    fill_body(request, object);
}

fn fill_rest_api_v1(request: &mut Request, event: &Value) {
    let Some(object) = event.as_object() else {
        return;
    };
    fill_proxy_v1_common(request, object);
    request.query = multi_or_single(
        object,
        "multiValueQueryStringParameters",
        "queryStringParameters",
    );
    request.path_parameters = single_values(object.get("pathParameters"));
}

fn fill_load_balancer(request: &mut Request, event: &Value) {
    let Some(object) = event.as_object() else {
        return;
    };
    fill_proxy_v1_common(request, object);
    request.query = multi_or_single(
        object,
        "multiValueQueryStringParameters",
        "queryStringParameters",
    )
    .into_iter()
    .map(|(name, value)| {
        (
            percent::decode_form_component(&name),
            percent::decode_form_component(&value),
        )
    })
    .collect();
}

/// Fills the fields that REST API and load balancer events share.
fn fill_proxy_v1_common(request: &mut Request, object: &Map<String, Value>) {
    request.method = str_field(object, "httpMethod").unwrap_or("GET").to_owned();
    request.path = str_field(object, "path").unwrap_or("/").to_owned();

    let multi_headers = multi_values(object.get("multiValueHeaders"));
    request.multi_value_headers = !multi_headers.is_empty();
    request.headers = if multi_headers.is_empty() {
        lower_case_names(single_values(object.get("headers")))
    } else {
        lower_case_names(multi_headers)
    };

    fill_body(request, object);
}

fn fill_body(request: &mut Request, object: &Map<String, Value>) {
    // Some test tools send a JSON body as an object instead of a string; its JSON text is used.
    let serialized;
    let body = match object.get("body") {
        None | Some(Value::Null) => "",
        Some(Value::String(text)) => text.as_str(),
        Some(other) => {
            serialized = other.to_string();
            serialized.as_str()
        }
    };
    let encoded = object
        .get("isBase64Encoded")
        .and_then(Value::as_bool)
        .unwrap_or(false);
    if !encoded {
        request.body = body.as_bytes().to_vec();
        return;
    }
    match base64::decode(body.as_bytes()) {
        Ok(bytes) => request.body = bytes,
        Err(error) => {
            request.body = body.as_bytes().to_vec();
            request.body_problem = Some(error.to_string());
        }
    }
}

fn multi_or_single(
    object: &Map<String, Value>,
    multi_key: &str,
    single_key: &str,
) -> Vec<(String, String)> {
    let multi = multi_values(object.get(multi_key));
    if !multi.is_empty() {
        return multi;
    }
    single_values(object.get(single_key))
}

/// Reads an object of strings (`{"a": "1"}`). Numbers and booleans are taken as their JSON text;
/// `null`, arrays and objects are skipped.
fn single_values(value: Option<&Value>) -> Vec<(String, String)> {
    let Some(object) = value.and_then(Value::as_object) else {
        return Vec::new();
    };
    object
        .iter()
        .filter_map(|(name, value)| scalar_text(value).map(|text| (name.clone(), text)))
        .collect()
}

/// Reads an object of string arrays (`{"a": ["1", "2"]}`) into one pair per value.
fn multi_values(value: Option<&Value>) -> Vec<(String, String)> {
    let Some(object) = value.and_then(Value::as_object) else {
        return Vec::new();
    };
    let mut pairs = Vec::new();
    for (name, values) in object {
        let Some(values) = values.as_array() else {
            continue;
        };
        for value in values {
            if let Some(text) = scalar_text(value) {
                pairs.push((name.clone(), text));
            }
        }
    }
    pairs
}

fn scalar_text(value: &Value) -> Option<String> {
    match value {
        Value::String(text) => Some(text.clone()),
        Value::Number(number) => Some(number.to_string()),
        Value::Bool(flag) => Some(flag.to_string()),
        _ => None,
    }
}

fn lower_case_names(pairs: Vec<(String, String)>) -> Vec<(String, String)> {
    pairs
        .into_iter()
        .map(|(name, value)| (name.to_ascii_lowercase(), value))
        .collect()
}

fn str_field<'a>(object: &'a Map<String, Value>, key: &str) -> Option<&'a str> {
    object.get(key).and_then(Value::as_str)
}
