//! Result mapping: the autoref specialisation of `respond`, the `Response` constructors, and
//! the reply payload for each event kind, including panics caught by `handle_invocation`.

// The `&` in `(&Ret(value))` is the generated expression that selects the impl, so it stays
// even where the value's type would not need it.
#![allow(clippy::needless_borrow)]

use std::fmt;

use portkey_runtime::{
    Content, EventKind, Invocation, MAX_RESPONSE_BYTES, Reply, Request, Response, handle_invocation,
};
use serde::Serialize;
use serde_json::{Value, json};

#[derive(Serialize)]
struct Point {
    x: i32,
    y: i32,
}

/// Display only, not Serialize.
struct Celsius(f64);

impl fmt::Display for Celsius {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:.1} °C", self.0)
    }
}

/// Both Serialize and Display: JSON wins.
#[derive(Serialize)]
struct Both {
    value: u8,
}

impl fmt::Display for Both {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "display {}", self.value)
    }
}

/// Debug only, not Display.
#[derive(Debug)]
#[allow(dead_code, reason = "read only through the derived Debug")]
struct DebugOnly {
    code: u32,
}

#[derive(Debug)]
struct NotFoundError(String);

impl fmt::Display for NotFoundError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "no record named {}", self.0)
    }
}

fn invocation() -> Invocation {
    Invocation {
        request_id: "reply-test".to_owned(),
        ..Invocation::default()
    }
}

fn request_of(event: Value) -> Request {
    Request::from_event(invocation(), event.to_string().as_bytes())
}

fn http_api_request() -> Request {
    request_of(
        json!({ "version": "2.0", "rawQueryString": "", "requestContext": { "http": { "method": "GET" } } }),
    )
}

fn rest_api_request() -> Request {
    request_of(json!({ "httpMethod": "GET", "path": "/", "requestContext": { "stage": "prod" } }))
}

fn load_balancer_request(multi_value_headers: bool) -> Request {
    let mut event = json!({ "httpMethod": "GET", "path": "/", "requestContext": { "elb": { "targetGroupArn": "arn" } } });
    if multi_value_headers {
        event["multiValueHeaders"] = json!({ "accept": ["*/*"] });
    } else {
        event["headers"] = json!({ "accept": "*/*" });
    }
    request_of(event)
}

fn direct_request() -> Request {
    request_of(json!({ "name": "Ada" }))
}

fn success_json(reply: Reply) -> Value {
    match reply {
        Reply::Success(bytes) => serde_json::from_slice(&bytes).expect("reply is JSON"),
        Reply::Failure(report) => panic!("expected a success reply, got {report:?}"),
    }
}

fn body_json(response: &Response) -> Value {
    serde_json::from_slice(response.body()).expect("body is JSON")
}

#[test]
fn ret_serialize_becomes_json() {
    let response = {
        use portkey_runtime::respond::*;
        (&Ret(Point { x: 1, y: 2 })).portkey_respond()
    };
    assert_eq!(response.status(), 200);
    assert_eq!(response.header("content-type"), Some("application/json"));
    assert_eq!(response.content(), Content::Json);
    assert_eq!(body_json(&response), json!({ "x": 1, "y": 2 }));
}

#[test]
fn ret_display_only_becomes_text() {
    let response = {
        use portkey_runtime::respond::*;
        (&Ret(Celsius(21.5))).portkey_respond()
    };
    assert_eq!(response.status(), 200);
    assert_eq!(
        response.header("content-type"),
        Some("text/plain; charset=utf-8")
    );
    assert_eq!(response.body(), "21.5 °C".as_bytes());
}

#[test]
fn ret_serialize_and_display_prefers_json() {
    let response = {
        use portkey_runtime::respond::*;
        (&Ret(Both { value: 7 })).portkey_respond()
    };
    assert_eq!(body_json(&response), json!({ "value": 7 }));
}

#[test]
fn ret_number_and_vec_become_json() {
    let number = {
        use portkey_runtime::respond::*;
        (&Ret(42u64)).portkey_respond()
    };
    assert_eq!(number.body(), b"42");
    let list = {
        use portkey_runtime::respond::*;
        (&Ret(vec!["a", "b"])).portkey_respond()
    };
    assert_eq!(list.body(), br#"["a","b"]"#);
}

#[test]
fn ret_unserializable_map_is_500() {
    let mut map = std::collections::HashMap::new();
    map.insert((1, 2), "tuple keys are not JSON object keys");
    let response = {
        use portkey_runtime::respond::*;
        (&Ret(map)).portkey_respond()
    };
    assert_eq!(response.status(), 500);
    assert_eq!(response.error_type(), Some("SerializationError"));
    assert!(String::from_utf8_lossy(response.body()).contains("cannot be serialized"));
}

#[test]
fn fail_display_is_500_with_text() {
    let response = {
        use portkey_runtime::respond::*;
        (&Fail(NotFoundError("ada".into()))).portkey_fail()
    };
    assert_eq!(response.status(), 500);
    assert_eq!(response.body(), b"no record named ada");
    assert_eq!(response.error_type(), Some("reply::NotFoundError"));
}

#[test]
fn fail_debug_only_is_500_with_debug_text() {
    let response = {
        use portkey_runtime::respond::*;
        (&Fail(DebugOnly { code: 7 })).portkey_fail()
    };
    assert_eq!(response.status(), 500);
    assert_eq!(response.body(), b"DebugOnly { code: 7 }");
}

/// The expression the shim generator writes for a `Result<T, E>` return.
fn respond_to_result<T: Serialize, E: fmt::Display + fmt::Debug>(out: Result<T, E>) -> Response {
    match out {
        Ok(v) => {
            use portkey_runtime::respond::*;
            (&Ret(v)).portkey_respond()
        }
        Err(e) => {
            use portkey_runtime::respond::*;
            (&Fail(e)).portkey_fail()
        }
    }
}

#[test]
fn result_ok_and_err_map() {
    let ok = respond_to_result::<_, NotFoundError>(Ok(Point { x: 0, y: 1 }));
    assert_eq!(ok.status(), 200);
    assert_eq!(body_json(&ok), json!({ "x": 0, "y": 1 }));

    let err = respond_to_result::<Point, _>(Err(NotFoundError("x".into())));
    assert_eq!(err.status(), 500);
    assert_eq!(err.body(), b"no record named x");
}

#[test]
fn option_none_is_404_json() {
    let out: Option<u32> = None;
    let response = match out {
        Some(v) => {
            use portkey_runtime::respond::*;
            (&Ret(v)).portkey_respond()
        }
        None => Response::not_found(),
    };
    assert_eq!(response.status(), 404);
    assert_eq!(body_json(&response)["error"], "not found");
}

#[test]
fn unit_is_204_without_body() {
    let response = Response::no_content();
    assert_eq!(response.status(), 204);
    assert!(response.body().is_empty());
    assert_eq!(response.header("content-type"), None);
}

#[test]
fn display_accepts_unsized_str() {
    let response = Response::display("Ada is brilliant");
    assert_eq!(response.status(), 200);
    assert_eq!(response.body(), b"Ada is brilliant");
}

#[test]
fn http_api_reply_has_proxy_fields_and_cookies() {
    let response = Response::text(201, "made".into())
        .with_header("Set-Cookie", "a=1")
        .with_header("Set-Cookie", "b=2")
        .with_header("X-Tag", "one")
        .with_header("X-Tag", "two");
    let payload = success_json(response.to_reply(&http_api_request()));
    assert_eq!(payload["statusCode"], 201);
    assert_eq!(payload["body"], "made");
    assert_eq!(payload["isBase64Encoded"], false);
    assert_eq!(payload["cookies"], json!(["a=1", "b=2"]));
    assert_eq!(payload["headers"]["x-tag"], "one, two");
    assert_eq!(
        payload["headers"]["content-type"],
        "text/plain; charset=utf-8"
    );
    assert!(payload["headers"].get("set-cookie").is_none());
}

#[test]
fn http_api_reply_always_has_cookies() {
    let payload = success_json(Response::no_content().to_reply(&http_api_request()));
    assert_eq!(payload["cookies"], json!([]));
    assert_eq!(payload["statusCode"], 204);
    assert_eq!(payload["body"], "");
}

#[test]
fn http_api_error_stays_a_proxy_response() {
    let request = http_api_request();
    let response = request.scalar::<u8>("age", "u8").unwrap_err();
    let payload = success_json(response.to_reply(&request));
    assert_eq!(payload["statusCode"], 400);
    let body: Value = serde_json::from_str(payload["body"].as_str().unwrap()).unwrap();
    assert_eq!(body["parameter"], "age");
}

#[test]
fn binary_body_is_base64() {
    let response = Response::bytes(200, "image/png", vec![0x89, b'P', b'N', b'G', 0xff]);
    let payload = success_json(response.to_reply(&http_api_request()));
    assert_eq!(payload["isBase64Encoded"], true);
    assert_eq!(payload["body"], "iVBOR/8=");
    assert_eq!(payload["headers"]["content-type"], "image/png");
}

#[test]
fn rest_api_reply_splits_repeated_headers() {
    let response = Response::text(200, "ok".into())
        .with_header("Set-Cookie", "a=1")
        .with_header("Set-Cookie", "b=2");
    let payload = success_json(response.to_reply(&rest_api_request()));
    assert_eq!(payload["statusCode"], 200);
    assert_eq!(
        payload["headers"]["content-type"],
        "text/plain; charset=utf-8"
    );
    assert_eq!(
        payload["multiValueHeaders"]["set-cookie"],
        json!(["a=1", "b=2"])
    );
    assert!(payload.get("statusDescription").is_none());
    assert!(payload.get("cookies").is_none());
}

#[test]
fn load_balancer_reply_has_status_description() {
    let payload = success_json(Response::not_found().to_reply(&load_balancer_request(false)));
    assert_eq!(payload["statusCode"], 404);
    assert_eq!(payload["statusDescription"], "404 Not Found");
    assert_eq!(payload["headers"]["content-type"], "application/json");
    assert!(payload.get("multiValueHeaders").is_none());
}

#[test]
fn load_balancer_multi_value_reply_headers() {
    let payload =
        success_json(Response::text(200, "ok".into()).to_reply(&load_balancer_request(true)));
    assert_eq!(payload["statusDescription"], "200 OK");
    assert!(payload.get("headers").is_none());
    assert_eq!(
        payload["multiValueHeaders"]["content-type"],
        json!(["text/plain; charset=utf-8"])
    );
}

#[test]
fn direct_reply_is_plain_value() {
    let request = direct_request();
    assert_eq!(request.kind(), EventKind::Direct);
    let cases = [
        (
            Response::json(200, &json!({ "a": [1, 2] })),
            json!({ "a": [1, 2] }),
        ),
        (
            Response::text(200, "Ada is brilliant".into()),
            json!("Ada is brilliant"),
        ),
        (Response::no_content(), Value::Null),
        (
            Response::bytes(200, "application/octet-stream", vec![0, 1, 2]),
            json!("AAEC"),
        ),
    ];
    for (response, expected) in cases {
        assert_eq!(
            success_json(response.to_reply(&request)),
            expected,
            "{response:?}"
        );
    }
}

#[test]
fn direct_client_error_goes_to_error_endpoint() {
    let request = direct_request();
    let response = request.scalar::<u8>("age", "u8").unwrap_err();
    let Reply::Failure(report) = response.to_reply(&request) else {
        panic!("a 400 for a direct invocation must be an error report");
    };
    assert_eq!(report.error_type, "InvalidParameter");
    assert!(report.message.contains("\"age\""), "{}", report.message);
}

#[test]
fn direct_failure_types_follow_response() {
    let request = direct_request();
    let cases = [
        (
            Response::not_found(),
            "NotFound",
            "the function returned no value (None)",
        ),
        (
            Response::error(500, "std::io::Error", "disk full".into()),
            "std::io::Error",
            "disk full",
        ),
        (
            Response::text(503, "later".into()),
            "ServiceUnavailable",
            "later",
        ),
        (Response::text(418, String::new()), "Status418", "418"),
    ];
    for (response, error_type, message) in cases {
        let Reply::Failure(report) = response.to_reply(&request) else {
            panic!("status {} must be an error report", response.status());
        };
        assert_eq!(report.error_type, error_type);
        assert_eq!(report.message, message);
    }
}

fn panicking_handler(request: &Request) -> Response {
    let name: String = request.scalar("name", "String").unwrap_or_default();
    panic!("handler exploded for {name}");
}

fn echo_handler(request: &Request) -> Response {
    Response::display(request.request_id())
}

#[test]
fn handle_invocation_reports_panic() {
    let reply = handle_invocation(panicking_handler, invocation(), br#"{"name": "Ada"}"#);
    let Reply::Failure(report) = reply else {
        panic!("a panic must be an error report");
    };
    assert_eq!(report.error_type, "Panic");
    assert_eq!(report.message, "handler exploded for Ada");
    assert_eq!(report.stack_trace.len(), 1);
    assert!(
        report.stack_trace[0].contains("reply.rs"),
        "{:?}",
        report.stack_trace
    );
}

#[test]
fn handle_invocation_serves_after_panic() {
    let _ = handle_invocation(panicking_handler, invocation(), br#"{"name": "Ada"}"#);
    let reply = handle_invocation(echo_handler, invocation(), br#"{}"#);
    assert_eq!(reply, Reply::Success(br#""reply-test""#.to_vec()));
}

/// Returns `size` ASCII letters, which a direct invocation posts as a JSON string of
/// `size + 2` bytes.
fn sized_text_handler(request: &Request) -> Response {
    let size: usize = request.scalar("size", "usize").unwrap_or_default();
    Response::text(200, "x".repeat(size))
}

#[test]
fn response_at_size_limit_is_sent() {
    let event = json!({ "size": MAX_RESPONSE_BYTES - 2 }).to_string();
    let reply = handle_invocation(sized_text_handler, invocation(), event.as_bytes());
    let Reply::Success(body) = reply else {
        panic!("a payload of exactly the limit must be sent");
    };
    assert_eq!(body.len(), MAX_RESPONSE_BYTES);
}

#[test]
fn response_over_size_limit_is_error() {
    let event = json!({ "size": MAX_RESPONSE_BYTES - 1 }).to_string();
    let reply = handle_invocation(sized_text_handler, invocation(), event.as_bytes());
    let Reply::Failure(report) = reply else {
        panic!("a payload one byte over the limit must become an error report");
    };
    assert_eq!(report.error_type, "Function.ResponseSizeTooLarge");
    assert!(
        report.message.contains("(6291557 bytes)"),
        "{}",
        report.message
    );
    assert!(
        report.message.contains("(6291556 bytes)"),
        "{}",
        report.message
    );
}

#[test]
fn chosen_status_outside_final_range_is_500() {
    for status in [0, 100, 101, 199, 1000] {
        let response = Response::text(200, "body".to_owned()).with_status(status);
        assert_eq!(response.status(), 500, "status {status}");
        assert_eq!(response.error_type(), Some("InvalidStatus"), "status {status}");
        let text = String::from_utf8_lossy(response.body()).into_owned();
        assert!(text.contains(&status.to_string()), "{text}");
    }
    assert_eq!(Response::text(200, String::new()).with_status(418).status(), 418);
}

#[test]
fn chosen_204_and_304_drop_the_body() {
    for status in [204, 205, 304] {
        let response = Response::text(200, "created".to_owned()).with_status(status);
        assert_eq!(response.status(), status);
        assert!(response.body().is_empty(), "status {status}");
        assert_eq!(response.header("content-type"), None, "status {status}");
    }
}
