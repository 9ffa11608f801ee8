//! Parameter binding: every scalar type, optional parameters, serde types, source order, and
//! the 400 bodies that name the parameter, the value and the expected type.

use portkey_runtime::{EventKind, Invocation, Request, Response};
use serde::Deserialize;
use serde_json::{Value, json};

fn invocation() -> Invocation {
    Invocation {
        request_id: "binding-test".to_owned(),
        ..Invocation::default()
    }
}

/// Builds an HTTP API (payload 2.0) request with the given raw query, path parameters and body.
fn http_event(
    raw_query: &str,
    path_parameters: Value,
    body: Option<&str>,
    content_type: &str,
) -> Request {
    let event = json!({
        "version": "2.0",
        "routeKey": "$default",
        "rawPath": "/bind",
        "rawQueryString": raw_query,
        "headers": { "content-type": content_type },
        "pathParameters": path_parameters,
        "requestContext": { "http": { "method": "POST", "path": "/bind" } },
        "body": body,
        "isBase64Encoded": false,
    });
    Request::from_event(invocation(), event.to_string().as_bytes())
}

fn query(raw_query: &str) -> Request {
    http_event(raw_query, Value::Null, None, "text/plain")
}

fn json_body(body: Value) -> Request {
    http_event("", Value::Null, Some(&body.to_string()), "application/json")
}

fn direct(payload: Value) -> Request {
    Request::from_event(invocation(), payload.to_string().as_bytes())
}

fn error_body(response: &Response) -> Value {
    assert_eq!(response.status(), 400, "status of {response:?}");
    assert_eq!(response.header("content-type"), Some("application/json"));
    serde_json::from_slice(response.body()).expect("400 body is JSON")
}

#[derive(Debug, Deserialize, PartialEq)]
struct Point {
    x: i32,
    y: i32,
}

#[derive(Debug, Deserialize, PartialEq)]
enum Color {
    Red,
    Green,
}

#[test]
fn scalar_integer_types_bind() {
    let request = query("v=42&n=-7");
    assert_eq!(request.scalar::<u8>("v", "u8").unwrap(), 42);
    assert_eq!(request.scalar::<u16>("v", "u16").unwrap(), 42);
    assert_eq!(request.scalar::<u32>("v", "u32").unwrap(), 42);
    assert_eq!(request.scalar::<u64>("v", "u64").unwrap(), 42);
    assert_eq!(request.scalar::<u128>("v", "u128").unwrap(), 42);
    assert_eq!(request.scalar::<usize>("v", "usize").unwrap(), 42);
    assert_eq!(request.scalar::<i8>("n", "i8").unwrap(), -7);
    assert_eq!(request.scalar::<i16>("n", "i16").unwrap(), -7);
    assert_eq!(request.scalar::<i32>("n", "i32").unwrap(), -7);
    assert_eq!(request.scalar::<i64>("n", "i64").unwrap(), -7);
    assert_eq!(request.scalar::<i128>("n", "i128").unwrap(), -7);
    assert_eq!(request.scalar::<isize>("n", "isize").unwrap(), -7);
}

#[test]
fn scalar_float_bool_char_string_bind() {
    let request = query("f=2.5&b=true&c=%C3%A9&s=Ada+Lovelace");
    assert_eq!(request.scalar::<f32>("f", "f32").unwrap(), 2.5);
    assert_eq!(request.scalar::<f64>("f", "f64").unwrap(), 2.5);
    assert!(request.scalar::<bool>("b", "bool").unwrap());
    assert_eq!(request.scalar::<char>("c", "char").unwrap(), 'é');
    assert_eq!(
        request.scalar::<String>("s", "String").unwrap(),
        "Ada Lovelace"
    );
}

#[test]
fn scalar_out_of_range_is_400() {
    let request = query("age=300");
    let body = error_body(&request.scalar::<u8>("age", "u8").unwrap_err());
    assert_eq!(body["error"], "invalid parameter");
    assert_eq!(body["parameter"], "age");
    assert_eq!(body["value"], "300");
    assert_eq!(body["expected"], "u8");
    let message = body["message"].as_str().unwrap();
    assert!(message.contains("\"age\""), "{message}");
    assert!(message.contains("u8"), "{message}");
    assert!(message.contains("300"), "{message}");
}

#[test]
fn scalar_unparsable_is_400() {
    let cases = [
        ("abc", "u8"),
        ("1.5", "i32"),
        ("yes", "bool"),
        ("ab", "char"),
        ("", "u32"),
        ("1e999x", "f64"),
    ];
    for (value, type_name) in cases {
        let request = Request::from_event(
            invocation(),
            json!({ "version": "2.0", "rawQueryString": "", "queryStringParameters": { "p": value },
                    "requestContext": { "http": { "method": "GET" } } })
            .to_string()
            .as_bytes(),
        );
        let response = match type_name {
            "u8" => request.scalar::<u8>("p", type_name).map(drop),
            "i32" => request.scalar::<i32>("p", type_name).map(drop),
            "bool" => request.scalar::<bool>("p", type_name).map(drop),
            "char" => request.scalar::<char>("p", type_name).map(drop),
            "u32" => request.scalar::<u32>("p", type_name).map(drop),
            _ => request.scalar::<f64>("p", type_name).map(drop),
        }
        .expect_err(value);
        let body = error_body(&response);
        assert_eq!(body["value"], value, "{value} as {type_name}");
        assert_eq!(body["expected"], type_name, "{value} as {type_name}");
    }
}

#[test]
fn scalar_missing_is_400() {
    let body = error_body(&query("other=1").scalar::<u8>("age", "u8").unwrap_err());
    assert_eq!(body["error"], "missing parameter");
    assert_eq!(body["parameter"], "age");
    assert_eq!(body["expected"], "u8");
    assert!(body.get("value").is_none());
}

#[test]
fn scalar_repeated_query_binds_first() {
    assert_eq!(query("n=1&n=2").scalar::<u32>("n", "u32").unwrap(), 1);
}

#[test]
fn scalar_binds_json_number_bool_and_string() {
    let request = json_body(
        json!({ "age": 3, "ratio": 0.25, "ok": false, "name": "Ada", "big": 18446744073709551615u64 }),
    );
    assert_eq!(request.scalar::<u8>("age", "u8").unwrap(), 3);
    assert_eq!(request.scalar::<f64>("ratio", "f64").unwrap(), 0.25);
    assert!(!request.scalar::<bool>("ok", "bool").unwrap());
    assert_eq!(request.scalar::<String>("name", "String").unwrap(), "Ada");
    assert_eq!(request.scalar::<u64>("big", "u64").unwrap(), u64::MAX);
    assert_eq!(request.scalar::<String>("age", "String").unwrap(), "3");
}

#[test]
fn scalar_rejects_json_array() {
    let request = json_body(json!({ "age": [1, 2] }));
    let body = error_body(&request.scalar::<u8>("age", "u8").unwrap_err());
    assert_eq!(body["value"], "[1,2]");
    assert_eq!(body["expected"], "u8");
}

#[test]
fn scalar_json_negative_into_unsigned_is_400() {
    let request = json_body(json!({ "age": -1 }));
    let body = error_body(&request.scalar::<u8>("age", "u8").unwrap_err());
    assert_eq!(body["value"], "-1");
}

#[test]
fn optional_scalar_absent_is_none() {
    let request = query("");
    assert_eq!(
        request.optional_scalar::<u32>("limit", "u32").unwrap(),
        None
    );
    let request = json_body(json!({ "limit": null }));
    assert_eq!(
        request.optional_scalar::<u32>("limit", "u32").unwrap(),
        None
    );
}

#[test]
fn optional_scalar_present_binds() {
    assert_eq!(
        query("limit=10")
            .optional_scalar::<u32>("limit", "u32")
            .unwrap(),
        Some(10)
    );
}

#[test]
fn optional_scalar_invalid_is_400() {
    let body = error_body(
        &query("limit=ten")
            .optional_scalar::<u32>("limit", "u32")
            .unwrap_err(),
    );
    assert_eq!(body["value"], "ten");
    assert_eq!(body["expected"], "u32");
}

#[test]
fn json_struct_from_body_field() {
    let request = json_body(json!({ "p": { "x": 1, "y": -2 } }));
    assert_eq!(
        request.json::<Point>("p", "Point").unwrap(),
        Point { x: 1, y: -2 }
    );
}

#[test]
fn json_struct_from_query_text() {
    let request = query("p=%7B%22x%22%3A3%2C%22y%22%3A4%7D");
    assert_eq!(
        request.json::<Point>("p", "Point").unwrap(),
        Point { x: 3, y: 4 }
    );
}

#[test]
fn json_array_from_query_text() {
    let request = query(r#"tags=["a","b"]"#);
    assert_eq!(
        request.json::<Vec<String>>("tags", "Vec<String>").unwrap(),
        ["a", "b"]
    );
}

#[test]
fn json_plain_text_binds_as_string() {
    let request = query("name=Ada&id=123");
    assert_eq!(request.json::<String>("name", "String").unwrap(), "Ada");
    assert_eq!(request.json::<String>("id", "String").unwrap(), "123");
    assert_eq!(
        request
            .json::<Color>("color", "Color")
            .unwrap_err()
            .status(),
        400
    );
    assert_eq!(
        query("color=Green")
            .json::<Color>("color", "Color")
            .unwrap(),
        Color::Green
    );
    assert_eq!(
        query("color=Red").json::<Color>("color", "Color").unwrap(),
        Color::Red
    );
}

#[test]
fn json_repeated_query_binds_array() {
    let request = query("tag=a&tag=b&n=1&n=2");
    assert_eq!(
        request.json::<Vec<String>>("tag", "Vec<String>").unwrap(),
        ["a", "b"]
    );
    assert_eq!(request.json::<Vec<u32>>("n", "Vec<u32>").unwrap(), [1, 2]);
}

#[test]
fn json_single_value_binds_one_element_array() {
    assert_eq!(
        query("tag=a")
            .json::<Vec<String>>("tag", "Vec<String>")
            .unwrap(),
        ["a"]
    );
}

#[test]
fn json_wrong_shape_is_400() {
    let request = json_body(json!({ "p": { "x": "one", "y": 2 } }));
    let body = error_body(&request.json::<Point>("p", "Point").unwrap_err());
    assert_eq!(body["error"], "invalid parameter");
    assert_eq!(body["parameter"], "p");
    assert_eq!(body["expected"], "Point");
    assert_eq!(body["value"], r#"{"x":"one","y":2}"#);
    let message = body["message"].as_str().unwrap();
    assert!(message.contains("invalid type"), "{message}");
}

#[test]
fn json_query_wrong_element_type_names_json_error() {
    let body = error_body(
        &query("tags=[1,2]")
            .json::<Vec<String>>("tags", "Vec<String>")
            .unwrap_err(),
    );
    let message = body["message"].as_str().unwrap();
    assert!(message.contains("integer `1`"), "{message}");
}

#[test]
fn optional_json_absent_is_none() {
    assert_eq!(
        json_body(json!({}))
            .optional_json::<Point>("p", "Point")
            .unwrap(),
        None
    );
    let request = json_body(json!({ "p": { "x": 0, "y": 0 } }));
    assert_eq!(
        request.optional_json::<Point>("p", "Point").unwrap(),
        Some(Point { x: 0, y: 0 })
    );
}

#[test]
fn source_order_is_path_then_query_then_body() {
    let request = http_event(
        "id=query",
        json!({ "id": "path" }),
        Some(r#"{"id": "body", "only": "body"}"#),
        "application/json",
    );
    assert_eq!(request.scalar::<String>("id", "String").unwrap(), "path");
    assert_eq!(request.scalar::<String>("only", "String").unwrap(), "body");

    let request = http_event(
        "id=query",
        Value::Null,
        Some(r#"{"id": "body"}"#),
        "application/json",
    );
    assert_eq!(request.scalar::<String>("id", "String").unwrap(), "query");
}

#[test]
fn invalid_json_body_is_400_naming_body() {
    let request = http_event("", Value::Null, Some("{not json"), "application/json");
    let body = error_body(&request.scalar::<u8>("age", "u8").unwrap_err());
    assert_eq!(body["error"], "invalid JSON body");
    assert_eq!(body["parameter"], "age");
    let message = body["message"].as_str().unwrap();
    assert!(message.contains("not valid JSON"), "{message}");
}

#[test]
fn invalid_json_body_does_not_hide_query() {
    let request = http_event("age=4", Value::Null, Some("{not json"), "application/json");
    assert_eq!(request.scalar::<u8>("age", "u8").unwrap(), 4);
}

#[test]
fn form_body_binds_fields() {
    let request = http_event(
        "",
        Value::Null,
        Some("name=Ada+L&n=1&n=2"),
        "application/x-www-form-urlencoded; charset=utf-8",
    );
    assert_eq!(request.scalar::<String>("name", "String").unwrap(), "Ada L");
    assert_eq!(request.json::<Vec<u8>>("n", "Vec<u8>").unwrap(), [1, 2]);
}

#[test]
fn json_sent_as_form_binds_as_json() {
    // `curl --data '{"text":"x"}'` labels a JSON body as a form.
    let request = http_event(
        "",
        Value::Null,
        Some(r##" {"text": "# Title", "n": 3}"##),
        "application/x-www-form-urlencoded",
    );
    assert_eq!(
        request.scalar::<String>("text", "String").unwrap(),
        "# Title"
    );
    assert_eq!(request.scalar::<u8>("n", "u8").unwrap(), 3);
}

#[test]
fn base64_body_is_decoded() {
    let event = json!({
        "version": "2.0",
        "rawQueryString": "",
        "requestContext": { "http": { "method": "POST" } },
        "body": "eyJhZ2UiOiA1fQ==",
        "isBase64Encoded": true,
    });
    let request = Request::from_event(invocation(), event.to_string().as_bytes());
    assert_eq!(request.body(), br#"{"age": 5}"#);
    assert_eq!(request.scalar::<u8>("age", "u8").unwrap(), 5);
}

#[test]
fn invalid_base64_body_is_400() {
    let event = json!({
        "version": "2.0",
        "requestContext": { "http": { "method": "POST" } },
        "body": "not*base64",
        "isBase64Encoded": true,
    });
    let request = Request::from_event(invocation(), event.to_string().as_bytes());
    let body = error_body(&request.scalar::<u8>("age", "u8").unwrap_err());
    assert_eq!(body["error"], "invalid body");
    assert!(body["message"].as_str().unwrap().contains("base64"));
}

#[test]
fn direct_object_fields_bind() {
    let request =
        direct(json!({ "name": "Ada", "age": 36, "p": { "x": 1, "y": 2 }, "tags": ["a"] }));
    assert_eq!(request.kind(), EventKind::Direct);
    assert_eq!(request.scalar::<String>("name", "String").unwrap(), "Ada");
    assert_eq!(request.scalar::<u8>("age", "u8").unwrap(), 36);
    assert_eq!(
        request.json::<Point>("p", "Point").unwrap(),
        Point { x: 1, y: 2 }
    );
    assert_eq!(
        request.json::<Vec<String>>("tags", "Vec<String>").unwrap(),
        ["a"]
    );
}

#[test]
fn direct_missing_field_names_payload() {
    let body = error_body(
        &direct(json!({}))
            .scalar::<String>("name", "String")
            .unwrap_err(),
    );
    assert_eq!(body["error"], "missing parameter");
    assert!(
        body["message"]
            .as_str()
            .unwrap()
            .contains("invocation payload")
    );
}

#[test]
fn direct_non_object_payload_has_no_fields() {
    let request = direct(json!(["Ada"]));
    assert_eq!(request.kind(), EventKind::Direct);
    assert_eq!(
        error_body(&request.scalar::<String>("name", "String").unwrap_err())["error"],
        "missing parameter"
    );
}

#[test]
fn direct_invalid_json_payload_is_400() {
    let request = Request::from_event(invocation(), b"name=Ada");
    assert_eq!(request.kind(), EventKind::Direct);
    assert_eq!(request.body(), b"name=Ada");
    let body = error_body(&request.scalar::<String>("name", "String").unwrap_err());
    assert_eq!(body["error"], "invalid JSON payload");
}

#[test]
fn long_value_is_truncated_in_400() {
    let long = "x".repeat(5000);
    let body = error_body(
        &query(&format!("age={long}"))
            .scalar::<u8>("age", "u8")
            .unwrap_err(),
    );
    let value = body["value"].as_str().unwrap();
    assert_eq!(value, format!("{}...", "x".repeat(100)));
    assert!(body["message"].as_str().unwrap().len() < 1000);
}

#[test]
fn truncation_respects_character_boundaries() {
    let long = "é".repeat(300);
    let body = error_body(
        &direct(json!({ "age": long }))
            .scalar::<u8>("age", "u8")
            .unwrap_err(),
    );
    assert_eq!(body["value"], format!("{}...", "é".repeat(100)));
}

#[test]
fn load_balancer_query_is_percent_decoded() {
    let event = json!({
        "requestContext": { "elb": { "targetGroupArn": "arn" } },
        "httpMethod": "GET",
        "path": "/",
        "queryStringParameters": { "name": "Ada%20Lovelace", "q%26a": "x+y" },
        "headers": {},
        "body": "",
        "isBase64Encoded": false,
    });
    let request = Request::from_event(invocation(), event.to_string().as_bytes());
    assert_eq!(request.kind(), EventKind::LoadBalancer);
    assert_eq!(
        request.scalar::<String>("name", "String").unwrap(),
        "Ada Lovelace"
    );
    assert_eq!(request.scalar::<String>("q&a", "String").unwrap(), "x y");
}

#[test]
fn http_api_without_raw_query_uses_parameters() {
    let event = json!({
        "version": "2.0",
        "queryStringParameters": { "name": "Ada" },
        "requestContext": { "http": { "method": "GET" } },
    });
    let request = Request::from_event(invocation(), event.to_string().as_bytes());
    assert_eq!(request.scalar::<String>("name", "String").unwrap(), "Ada");
}

#[test]
fn version_without_http_context_is_direct() {
    let request = direct(json!({ "version": "2.0", "name": "Ada", "requestContext": {} }));
    assert_eq!(request.kind(), EventKind::Direct);
    assert_eq!(request.scalar::<String>("name", "String").unwrap(), "Ada");
}

#[test]
fn object_body_binds_as_json_text() {
    let event = json!({
        "version": "2.0",
        "requestContext": { "http": { "method": "POST" } },
        "body": { "age": 9 },
    });
    let request = Request::from_event(invocation(), event.to_string().as_bytes());
    assert_eq!(request.body(), br#"{"age":9}"#);
    assert_eq!(request.scalar::<u8>("age", "u8").unwrap(), 9);
}

#[test]
fn json_body_accessor_per_kind() {
    assert_eq!(
        json_body(json!({ "a": 1 })).json_body(),
        Ok(&json!({ "a": 1 }))
    );
    assert_eq!(query("a=1").json_body(), Ok(&Value::Null));
    assert_eq!(direct(json!([1, 2])).json_body(), Ok(&json!([1, 2])));

    let invalid = http_event("", Value::Null, Some("{"), "application/json");
    let problem = invalid.json_body().unwrap_err();
    assert!(problem.contains("not valid JSON"), "{problem}");
}

#[test]
fn comma_joined_numbers_bind_vec() {
    let request = query("ids=1,2,3");
    assert_eq!(
        request.json::<Vec<u32>>("ids", "Vec<u32>").unwrap(),
        [1, 2, 3]
    );
    let request = query("ids=%5B4%2C5%5D");
    assert_eq!(request.json::<Vec<u32>>("ids", "Vec<u32>").unwrap(), [4, 5]);
    let request = query("ids=6&ids=7");
    assert_eq!(request.json::<Vec<u32>>("ids", "Vec<u32>").unwrap(), [6, 7]);
    let request = query("ids=8");
    assert_eq!(request.json::<Vec<u32>>("ids", "Vec<u32>").unwrap(), [8]);
}

#[test]
fn comma_joined_floats_and_signed_bind() {
    let request = query("values=-1.5,2,3e2");
    assert_eq!(
        request.json::<Vec<f64>>("values", "Vec<f64>").unwrap(),
        [-1.5, 2.0, 300.0]
    );
}

#[test]
fn comma_joined_strings_stay_one_element() {
    let request = query("tags=a,b");
    assert_eq!(
        request.json::<Vec<String>>("tags", "Vec<String>").unwrap(),
        ["a,b"]
    );
}

#[test]
fn comma_joined_invalid_number_is_400() {
    let request = query("ids=1,x,3");
    let body = error_body(&request.json::<Vec<u32>>("ids", "Vec<u32>").unwrap_err());
    assert_eq!(body["error"], "invalid parameter");
    assert_eq!(body["parameter"], "ids");
    assert_eq!(body["value"], "1,x,3");
}

#[test]
fn json_body_array_binds_vec() {
    let request = json_body(json!({ "ids": [1, 2, 3] }));
    assert_eq!(
        request.json::<Vec<u8>>("ids", "Vec<u8>").unwrap(),
        [1, 2, 3]
    );
}

#[test]
fn whole_body_binds_struct_without_field() {
    let request = json_body(json!({ "x": 3, "y": 4 }));
    assert_eq!(
        request.json_or_body::<Point>("point", "Point").unwrap(),
        Point { x: 3, y: 4 }
    );
}

#[test]
fn whole_body_field_of_name_wins() {
    let request = json_body(json!({ "point": { "x": 1, "y": 2 }, "x": 9, "y": 9 }));
    assert_eq!(
        request.json_or_body::<Point>("point", "Point").unwrap(),
        Point { x: 1, y: 2 }
    );
}

#[test]
fn whole_body_direct_payload_binds() {
    let request = direct(json!({ "x": -1, "y": 5 }));
    assert_eq!(
        request.json_or_body::<Point>("point", "Point").unwrap(),
        Point { x: -1, y: 5 }
    );
}

#[test]
fn whole_body_wrong_shape_is_400() {
    let request = json_body(json!({ "x": "one", "y": 4 }));
    let body = error_body(&request.json_or_body::<Point>("point", "Point").unwrap_err());
    assert_eq!(body["error"], "invalid parameter");
    assert_eq!(body["parameter"], "point");
}

#[test]
fn whole_body_absent_is_missing() {
    let request = query("");
    let body = error_body(&request.json_or_body::<Point>("point", "Point").unwrap_err());
    assert_eq!(body["error"], "missing parameter");
    let request = json_body(Value::Null);
    let body = error_body(&request.json_or_body::<Point>("point", "Point").unwrap_err());
    assert_eq!(body["error"], "missing parameter");
    let request = http_event(
        "",
        Value::Null,
        Some("x=1&y=2"),
        "application/x-www-form-urlencoded",
    );
    let body = error_body(&request.json_or_body::<Point>("point", "Point").unwrap_err());
    assert_eq!(body["error"], "missing parameter");
}

#[test]
fn raw_body_gets_bytes_unparsed() {
    let request = http_event("", Value::Null, Some("not json, [1,2]"), "text/plain");
    assert_eq!(
        request.raw_body("body", "Vec<u8>").unwrap(),
        b"not json, [1,2]"
    );
    let request = query("");
    assert_eq!(request.raw_body("body", "Vec<u8>").unwrap(), b"");
}

#[test]
fn raw_body_base64_is_decoded() {
    let event = json!({
        "version": "2.0",
        "rawQueryString": "",
        "requestContext": { "http": { "method": "POST" } },
        "body": "AP+AAQ==",
        "isBase64Encoded": true,
    });
    let request = Request::from_event(invocation(), event.to_string().as_bytes());
    assert_eq!(
        request.raw_body("body", "Vec<u8>").unwrap(),
        [0, 255, 128, 1]
    );
}

#[test]
fn raw_body_invalid_base64_is_400() {
    let event = json!({
        "version": "2.0",
        "requestContext": { "http": { "method": "POST" } },
        "body": "not*base64",
        "isBase64Encoded": true,
    });
    let request = Request::from_event(invocation(), event.to_string().as_bytes());
    let body = error_body(&request.raw_body("body", "Vec<u8>").unwrap_err());
    assert_eq!(body["error"], "invalid body");
    assert_eq!(body["parameter"], "body");
}

#[test]
fn raw_body_direct_binds_json_field() {
    let request = direct(json!({ "body": [7, 8] }));
    assert_eq!(request.raw_body("body", "Vec<u8>").unwrap(), [7, 8]);
    let request = direct(json!({}));
    let body = error_body(&request.raw_body("body", "Vec<u8>").unwrap_err());
    assert_eq!(body["error"], "missing parameter");
}

#[test]
fn wide_integers_and_char_bind() {
    let request = query(
        "big=-170141183460469231731687303715884105728&huge=340282366920938463463374607431768211455&c=%C3%A9",
    );
    assert_eq!(request.scalar::<i128>("big", "i128").unwrap(), i128::MIN);
    assert_eq!(request.scalar::<u128>("huge", "u128").unwrap(), u128::MAX);
    assert_eq!(request.scalar::<char>("c", "char").unwrap(), 'é');
    let body = error_body(&query("c=ab").scalar::<char>("c", "char").unwrap_err());
    assert_eq!(body["expected"], "char");
}

#[test]
fn cow_str_and_json_value_bind() {
    let request = query("text=hi%20there&any=%7B%22a%22%3A1%7D&word=plain");
    let text: std::borrow::Cow<'_, str> = request.json("text", "Cow<'_, str>").unwrap();
    assert_eq!(text, "hi there");
    let any: Value = request.json("any", "serde_json::Value").unwrap();
    assert_eq!(any, json!({ "a": 1 }));
    let word: Value = request.json("word", "serde_json::Value").unwrap();
    assert_eq!(word, json!("plain"));
    let request = json_body(json!({ "any": [1, "two"] }));
    let any: Value = request.json("any", "serde_json::Value").unwrap();
    assert_eq!(any, json!([1, "two"]));
}

#[test]
fn whole_body_keeps_byte_array_field() {
    let request = json_body(json!({ "data": [1, 2, 255], "seed": 7 }));
    assert_eq!(
        request.json_or_body::<Vec<u8>>("data", "Vec<u8>").unwrap(),
        [1, 2, 255]
    );
    assert_eq!(request.scalar::<u16>("seed", "u16").unwrap(), 7);
    let request = json_body(json!([4, 5]));
    assert_eq!(
        request.json_or_body::<Vec<u8>>("data", "Vec<u8>").unwrap(),
        [4, 5]
    );
}
