//! The checks behind the runtime's fuzz targets, one per area of network input: event parsing,
//! query and path decoding, parameter binding, base64 bodies and response encoding. The fuzz
//! targets in `fuzz/` and the corpus replay test `tests/fuzz_replay.rs` both call these, so a
//! crash the fuzzer finds becomes a regression input that `cargo test` replays.
//!
//! Each check panics only when an invariant breaks: every input either binds or yields a 400
//! response with a JSON error body, decoders round-trip, and every reply is valid JSON that
//! carries the response's status and body.

#![allow(dead_code)]

use portkey_runtime::{EventKind, Invocation, Reply, Request, Response, base64, percent};
use serde::Deserialize;
use serde_json::{Value, json};

/// The fuzz targets, by the folder names of their corpora.
pub const TARGETS: [&str; 5] = ["event", "query", "binding", "base64", "response"];

/// Runs the check of `target` on `data`.
pub fn check(target: &str, data: &[u8]) {
    match target {
        "event" => check_event(data),
        "query" => check_query(data),
        "binding" => check_binding(data),
        "base64" => check_base64(data),
        "response" => check_response(data),
        other => panic!("unknown fuzz target {other}"),
    }
}

fn invocation() -> Invocation {
    Invocation {
        request_id: "fuzz".to_owned(),
        ..Invocation::default()
    }
}

/// A struct parameter, bound through serde.
#[derive(Debug, Deserialize)]
struct Point {
    x: f64,
    y: f64,
    label: Option<String>,
}

/// An enum parameter, bound through serde.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "lowercase")]
enum Mode {
    Fast,
    Slow,
}

/// Asserts that a binding result is a value or a 400 response whose body is a JSON object with
/// an `error` string and a `message` string.
fn assert_binds_or_400<T>(result: Result<T, Response>, shape: &str) {
    let Err(response) = result else { return };
    assert_eq!(response.status(), 400, "{shape}: a binding error that is not a 400");
    let body: Value = serde_json::from_slice(response.body())
        .unwrap_or_else(|error| panic!("{shape}: the 400 body is not JSON ({error})"));
    assert!(body["error"].is_string(), "{shape}: the 400 body has no error: {body}");
    assert!(body["message"].is_string(), "{shape}: the 400 body has no message: {body}");
    assert!(response.error_type().is_some(), "{shape}: the 400 response has no error type");
}

/// Binds a parameter named `name` in every shape the shim generates.
fn bind_every_shape(request: &Request, name: &str) {
    assert_binds_or_400(request.scalar::<u32>(name, "u32"), "u32");
    assert_binds_or_400(request.scalar::<i64>(name, "i64"), "i64");
    assert_binds_or_400(request.scalar::<f64>(name, "f64"), "f64");
    assert_binds_or_400(request.scalar::<bool>(name, "bool"), "bool");
    assert_binds_or_400(request.scalar::<char>(name, "char"), "char");
    assert_binds_or_400(request.scalar::<String>(name, "String"), "String");
    assert_binds_or_400(request.optional_scalar::<u8>(name, "Option<u8>"), "Option<u8>");
    assert_binds_or_400(request.optional_scalar::<String>(name, "Option<String>"), "Option<String>");
    assert_binds_or_400(request.json::<Vec<u32>>(name, "Vec<u32>"), "Vec<u32>");
    assert_binds_or_400(request.json::<Vec<String>>(name, "Vec<String>"), "Vec<String>");
    assert_binds_or_400(request.json::<Point>(name, "Point"), "Point");
    assert_binds_or_400(request.json::<Mode>(name, "Mode"), "Mode");
    assert_binds_or_400(request.json::<(u8, String)>(name, "(u8, String)"), "(u8, String)");
    assert_binds_or_400(request.json::<Value>(name, "Value"), "Value");
    assert_binds_or_400(request.optional_json::<Vec<i64>>(name, "Option<Vec<i64>>"), "Option<Vec<i64>>");
    assert_binds_or_400(request.json_or_body::<Point>(name, "Point"), "whole-body Point");
    assert_binds_or_400(request.json_or_body::<Vec<String>>(name, "Vec<String>"), "whole-body Vec<String>");
    assert_binds_or_400(request.raw_body("body", "Vec<u8>"), "raw body");
}

/// Reads every accessor of a parsed request and encodes a reply for it.
fn read_request(request: &Request) {
    let _ = (request.kind(), request.method(), request.path(), request.body(), request.event());
    for (name, _) in request.headers() {
        assert_eq!(name, &name.to_ascii_lowercase(), "a header name is not lower case");
    }
    for (name, value) in request.query_pairs() {
        assert!(request.query_all(name).next().is_some(), "query_all lost {name}={value}");
    }
    let _ = request.json_body();
    check_reply(&Response::text(200, "ok".to_owned()), request);
}

/// Event parsing: any bytes as an invocation payload.
pub fn check_event(data: &[u8]) {
    let request = Request::from_event(invocation(), data);
    if serde_json::from_slice::<Value>(data).is_err() {
        assert_eq!(request.kind(), EventKind::Direct, "a payload that is not JSON got an HTTP kind");
    }
    read_request(&request);
    // One shape per binding path: scalar, serde, whole body and raw body. The binding target
    // covers every shape.
    assert_binds_or_400(request.scalar::<u32>("id", "u32"), "u32");
    assert_binds_or_400(request.json::<Vec<String>>("name", "Vec<String>"), "Vec<String>");
    assert_binds_or_400(request.json_or_body::<Point>("point", "Point"), "whole-body Point");
    assert_binds_or_400(request.raw_body("body", "Vec<u8>"), "raw body");
}

/// Query and path decoding: any text as a query string and as a path component.
pub fn check_query(data: &[u8]) {
    let text = String::from_utf8_lossy(data);
    let decoded = percent::decode_component(&text);
    assert!(decoded.len() <= text.len(), "decoding grew {text:?} into {decoded:?}");
    let form = percent::decode_form_component(&text);
    assert!(form.len() <= text.len(), "form decoding grew {text:?} into {form:?}");
    if !text.contains('%') {
        assert_eq!(decoded, text, "text without escapes changed");
        assert_eq!(form, text.replace('+', " "), "form text without escapes changed");
    }

    let pairs = percent::parse_query(&text);
    let non_empty = text.split('&').filter(|pair| !pair.is_empty()).count();
    assert_eq!(pairs.len(), non_empty, "parse_query of {text:?} lost or invented pairs");

    // Encoding every byte and decoding gives the text back.
    let encoded: String = text.bytes().map(|byte| format!("%{byte:02X}")).collect();
    assert_eq!(percent::decode_component(&encoded), text, "an encoded text did not decode back");
    assert_eq!(percent::decode_form_component(&encoded), text, "an encoded form text did not decode back");
}

/// Splits fuzz input into a selector byte and up to four fields separated by 0xFF.
fn fields(data: &[u8]) -> (u8, Vec<&[u8]>) {
    let Some((&selector, rest)) = data.split_first() else {
        return (0, Vec::new());
    };
    (selector, rest.splitn(4, |&byte| byte == 0xFF).collect())
}

fn field<'a>(fields: &[&'a [u8]], index: usize) -> &'a [u8] {
    fields.get(index).copied().unwrap_or_default()
}

/// Builds an event of the kind the selector picks from the query, body and path parameter
/// fields, always valid JSON, so that mutations reach binding rather than the JSON parser.
fn structured_event(data: &[u8]) -> Vec<u8> {
    let (selector, fields) = fields(data);
    let query = String::from_utf8_lossy(field(&fields, 0)).into_owned();
    let body_bytes = field(&fields, 1);
    let path_value = String::from_utf8_lossy(field(&fields, 2)).into_owned();
    let encoded = selector & 0x04 != 0;
    let body = if encoded {
        // Half of the encoded bodies are valid base64, the other half as the fuzzer wrote them.
        match selector & 0x20 != 0 {
            true => base64::encode(body_bytes),
            false => String::from_utf8_lossy(body_bytes).into_owned(),
        }
    } else {
        String::from_utf8_lossy(body_bytes).into_owned()
    };
    let content_type = match (selector >> 3) & 0x03 {
        0 => "application/json",
        1 => "application/x-www-form-urlencoded",
        2 => "text/plain",
        _ => "application/x-www-form-urlencoded; charset=utf-8",
    };
    let path_parameters = if selector & 0x40 != 0 { json!({ "id": path_value }) } else { Value::Null };
    let query_pairs: Vec<(String, String)> = percent::parse_query(&query);
    let mut single = serde_json::Map::new();
    let mut multi = serde_json::Map::new();
    for (name, value) in &query_pairs {
        single.insert(name.clone(), Value::String(value.clone()));
        let entry = multi.entry(name.clone()).or_insert_with(|| Value::Array(Vec::new()));
        if let Value::Array(values) = entry {
            values.push(Value::String(value.clone()));
        }
    }
    let event = match selector & 0x03 {
        0 => json!({
            "version": "2.0",
            "rawPath": "/fuzz",
            "rawQueryString": query,
            "headers": { "content-type": content_type },
            "cookies": [path_value],
            "pathParameters": path_parameters,
            "requestContext": { "http": { "method": "POST", "path": "/fuzz" } },
            "body": body,
            "isBase64Encoded": encoded,
        }),
        1 => json!({
            "httpMethod": "POST",
            "path": "/fuzz",
            "headers": { "Content-Type": content_type },
            "multiValueHeaders": { "Content-Type": [content_type], "X-Repeat": ["a", path_value] },
            "queryStringParameters": single,
            "multiValueQueryStringParameters": multi,
            "pathParameters": path_parameters,
            "requestContext": { "resourcePath": "/fuzz" },
            "body": body,
            "isBase64Encoded": encoded,
        }),
        2 => json!({
            "httpMethod": "POST",
            "path": "/fuzz",
            "headers": { "content-type": content_type },
            "queryStringParameters": single,
            "requestContext": { "elb": { "targetGroupArn": "arn:aws:elasticloadbalancing:fuzz" } },
            "body": body,
            "isBase64Encoded": encoded,
        }),
        // A direct invocation: the body field's bytes are the whole payload.
        _ => return body_bytes.to_vec(),
    };
    event.to_string().into_bytes()
}

/// Parameter binding: structured events of every kind, bound in every parameter shape.
pub fn check_binding(data: &[u8]) {
    let payload = structured_event(data);
    let request = Request::from_event(invocation(), &payload);
    read_request(&request);
    bind_every_shape(&request, "id");
    bind_every_shape(&request, "name");
}

/// Base64 bodies: decoding arbitrary bytes, and round trips of arbitrary bytes.
pub fn check_base64(data: &[u8]) {
    if let Ok(decoded) = base64::decode(data) {
        let again = base64::decode(base64::encode(&decoded).as_bytes());
        assert_eq!(again.as_ref(), Ok(&decoded), "a decoded body did not round-trip");
        assert!(decoded.len() <= data.len(), "decoding grew {} bytes into {}", data.len(), decoded.len());
    }
    let encoded = base64::encode(data);
    assert_eq!(encoded.len(), data.len().div_ceil(3) * 4, "the encoded length is wrong");
    assert_eq!(base64::decode(encoded.as_bytes()).as_deref(), Ok(data), "an encoded body did not decode back");
}

/// The events each reply shape answers.
fn requests_of_every_kind() -> Vec<Request> {
    let events = [
        json!({ "version": "2.0", "rawPath": "/", "requestContext": { "http": { "method": "GET" } } }),
        json!({ "httpMethod": "GET", "path": "/", "requestContext": {} }),
        json!({ "httpMethod": "GET", "path": "/", "requestContext": { "elb": {} } }),
        json!({ "httpMethod": "GET", "path": "/", "multiValueHeaders": { "a": ["1"] }, "requestContext": { "elb": {} } }),
        json!({ "name": "direct" }),
    ];
    events.iter().map(|event| Request::from_event(invocation(), event.to_string().as_bytes())).collect()
}

/// Response encoding: responses built from fuzz input, encoded for every event kind.
pub fn check_response(data: &[u8]) {
    let (selector, fields) = fields(data);
    let status = u16::from_le_bytes([field(&fields, 0).first().copied().unwrap_or(200), selector >> 6]);
    let body = field(&fields, 1).to_vec();
    let text = String::from_utf8_lossy(&body).into_owned();
    let mut response = match selector & 0x07 {
        0 => Response::text(status, text),
        1 => Response::bytes(status, "application/octet-stream", body),
        2 => Response::json(status, &text),
        3 => Response::error(status, "FuzzError", text),
        4 => Response::display(&text),
        5 => Response::no_content(),
        6 => Response::not_found(),
        _ => Response::json_value(status, &json!({ "message": text })),
    };
    let header_text = String::from_utf8_lossy(field(&fields, 2)).into_owned();
    for (index, line) in header_text.split('\n').take(8).enumerate() {
        let (name, value) = line.split_once(':').unwrap_or((line, ""));
        let name = if selector & 0x08 != 0 && index % 2 == 0 { "set-cookie" } else { name };
        response = response.with_header(name, value);
    }
    for request in requests_of_every_kind() {
        check_reply(&response, &request);
    }
}

/// Asserts that the reply to `request` is valid JSON carrying the response's status and body.
fn check_reply(response: &Response, request: &Request) {
    let reply = response.to_reply(request);
    let payload = match reply {
        Reply::Failure(report) => {
            assert!(response.status() >= 400, "a failure report for status {}", response.status());
            assert!(!report.error_type.is_empty(), "a failure report without an error type");
            return;
        }
        Reply::Success(payload) => payload,
    };
    let value: Value = serde_json::from_slice(&payload)
        .unwrap_or_else(|error| panic!("the reply is not JSON ({error}): {}", String::from_utf8_lossy(&payload)));
    if !request.kind().is_http() {
        return;
    }
    assert_eq!(value["statusCode"].as_u64(), Some(u64::from(response.status())), "the status changed");
    let sent = value["body"].as_str().expect("an HTTP reply has a string body");
    let bytes = match value["isBase64Encoded"].as_bool() {
        Some(true) => base64::decode(sent.as_bytes()).expect("a base64 reply body decodes"),
        _ => sent.as_bytes().to_vec(),
    };
    assert_eq!(bytes, response.body(), "the reply body differs from the response body");
}
