//! Every real event sample under `tests/data/events/` is recognised as the right kind, exposes
//! its method, path, query and path parameters, and binds them by name.

use std::path::PathBuf;

use portkey_runtime::{EventKind, Invocation, Request};

struct Sample {
    file: &'static str,
    kind: EventKind,
    method: &'static str,
    path: &'static str,
    /// Every query parameter with all its values, in order.
    query: &'static [(&'static str, &'static [&'static str])],
    path_parameters: &'static [(&'static str, &'static str)],
}

const SAMPLES: &[Sample] = &[
    Sample {
        file: "apigw_request_path_with_space.json",
        kind: EventKind::HttpApiV2,
        method: "POST",
        path: "/my/path-with space",
        query: &[
            ("parameter1", &["value1", "value2"]),
            ("parameter2", &["value"]),
        ],
        path_parameters: &[("parameter1", "value1")],
    },
    Sample {
        file: "apigw_v2_proxy_request_minimal.json",
        kind: EventKind::HttpApiV2,
        method: "GET",
        path: "/",
        query: &[],
        path_parameters: &[],
    },
    Sample {
        file: "example-alb-lambda-target-request-multivalue-headers.json",
        kind: EventKind::LoadBalancer,
        method: "GET",
        path: "/",
        query: &[("key", &["hello"])],
        path_parameters: &[],
    },
    Sample {
        file: "example-apigw-request-catch-all.json",
        kind: EventKind::RestApiV1,
        method: "POST",
        path: "/hello/world",
        query: &[("name", &["me"])],
        path_parameters: &[("proxy", "hello/world")],
    },
    Sample {
        file: "example-apigw-request-multi-value-parameters.json",
        kind: EventKind::RestApiV1,
        method: "POST",
        path: "/hello/world",
        query: &[("name", &["me", "me2"])],
        path_parameters: &[("proxy", "hello/world")],
    },
    Sample {
        file: "example-apigw-request.json",
        kind: EventKind::RestApiV1,
        method: "POST",
        path: "/hello/world",
        query: &[("name", &["me"])],
        path_parameters: &[("proxy", "hello/world")],
    },
    Sample {
        file: "example-apigw-sam-http-request.json",
        kind: EventKind::HttpApiV2,
        method: "GET",
        path: "/dump",
        query: &[("foo", &["bar"])],
        path_parameters: &[],
    },
    Sample {
        file: "example-apigw-sam-rest-request.json",
        kind: EventKind::RestApiV1,
        method: "GET",
        path: "/test",
        query: &[],
        path_parameters: &[],
    },
    Sample {
        file: "example-apigw-v2-request-iam.json",
        kind: EventKind::HttpApiV2,
        method: "GET",
        path: "/my/path",
        query: &[
            ("parameter1", &["value1", "value2"]),
            ("parameter2", &["value"]),
        ],
        path_parameters: &[("proxy", "hello/world")],
    },
    Sample {
        file: "example-apigw-v2-request-multi-value-parameters.json",
        kind: EventKind::HttpApiV2,
        method: "GET",
        path: "/my/path",
        query: &[("Parameter1", &["value1", "value2"])],
        path_parameters: &[("proxy", "hello/world")],
    },
    Sample {
        file: "example-apigw-v2-request-no-authorizer.json",
        kind: EventKind::HttpApiV2,
        method: "GET",
        path: "/",
        query: &[],
        path_parameters: &[],
    },
    Sample {
        file: "lambda_function_url_request.json",
        kind: EventKind::HttpApiV2,
        method: "GET",
        path: "/my/path",
        query: &[
            ("parameter1", &["value1", "value2"]),
            ("parameter2", &["value"]),
        ],
        path_parameters: &[],
    },
];

fn events_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/data/events")
}

fn load(file: &str) -> Request {
    let path = events_dir().join(file);
    let payload =
        std::fs::read(&path).unwrap_or_else(|e| panic!("cannot read {}: {e}", path.display()));
    let invocation = Invocation {
        request_id: "sample".to_owned(),
        ..Invocation::default()
    };
    Request::from_event(invocation, &payload)
}

#[test]
fn every_sample_file_has_a_case() {
    let mut files: Vec<String> = std::fs::read_dir(events_dir())
        .unwrap()
        .map(|entry| entry.unwrap().file_name().to_string_lossy().into_owned())
        .filter(|name| name.ends_with(".json"))
        .collect();
    files.sort();
    let mut listed: Vec<&str> = SAMPLES.iter().map(|sample| sample.file).collect();
    listed.sort();
    assert_eq!(files, listed);
}

#[test]
fn samples_are_recognised() {
    for sample in SAMPLES {
        let request = load(sample.file);
        assert_eq!(request.kind(), sample.kind, "{}", sample.file);
        assert_eq!(request.method(), sample.method, "{}", sample.file);
        assert_eq!(request.path(), sample.path, "{}", sample.file);
    }
}

#[test]
fn sample_query_values_keep_repetition() {
    for sample in SAMPLES {
        let request = load(sample.file);
        let mut names: Vec<&str> = request
            .query_pairs()
            .iter()
            .map(|(name, _)| name.as_str())
            .collect();
        names.dedup();
        let expected_names: Vec<&str> = sample.query.iter().map(|(name, _)| *name).collect();
        assert_eq!(
            names.len(),
            expected_names.len(),
            "{}: query names {names:?}",
            sample.file
        );
        for (name, values) in sample.query {
            let actual: Vec<&str> = request.query_all(name).collect();
            assert_eq!(&actual, values, "{}: query {name}", sample.file);
        }
    }
}

#[test]
fn sample_path_parameters_are_read() {
    for sample in SAMPLES {
        let request = load(sample.file);
        assert_eq!(
            request.path_parameters().len(),
            sample.path_parameters.len(),
            "{}",
            sample.file
        );
        for (name, value) in sample.path_parameters {
            assert_eq!(
                request.path_parameter(name),
                Some(*value),
                "{}: path parameter {name}",
                sample.file
            );
        }
    }
}

#[test]
fn sample_parameters_bind_by_name() {
    for sample in SAMPLES {
        let request = load(sample.file);
        for (name, value) in sample.path_parameters {
            let bound: String = request
                .scalar(name, "String")
                .unwrap_or_else(|r| panic!("{}: {r:?}", sample.file));
            assert_eq!(bound, *value, "{}: {name}", sample.file);
        }
        for (name, values) in sample.query {
            // A path parameter of the same name wins over the query string.
            let shadowed = sample
                .path_parameters
                .iter()
                .find(|(path_name, _)| path_name == name);
            let expected_first = shadowed.map(|(_, value)| *value).unwrap_or(values[0]);
            let bound: String = request
                .scalar(name, "String")
                .unwrap_or_else(|r| panic!("{}: {r:?}", sample.file));
            assert_eq!(bound, expected_first, "{}: {name}", sample.file);

            if shadowed.is_none() {
                let all: Vec<String> = request
                    .json(name, "Vec<String>")
                    .unwrap_or_else(|r| panic!("{}: {r:?}", sample.file));
                assert_eq!(&all, values, "{}: {name} as Vec<String>", sample.file);
            }
        }
    }
}

#[test]
fn sample_absent_parameter_is_400() {
    for sample in SAMPLES {
        let request = load(sample.file);
        let response = request
            .scalar::<String>("portkey_absent", "String")
            .expect_err(sample.file);
        assert_eq!(response.status(), 400, "{}", sample.file);
    }
}

#[test]
fn sample_json_bodies_bind_fields() {
    let files = [
        "example-apigw-request-catch-all.json",
        "example-apigw-request.json",
        "example-apigw-v2-request-iam.json",
        "example-apigw-v2-request-multi-value-parameters.json",
    ];
    for file in files {
        let request = load(file);
        let a: u8 = request
            .scalar("a", "u8")
            .unwrap_or_else(|r| panic!("{file}: {r:?}"));
        assert_eq!(a, 1, "{file}");
    }
}

#[test]
fn sample_text_body_is_not_json() {
    let request = load("apigw_request_path_with_space.json");
    assert_eq!(request.body(), b"Hello from Lambda");
    let response = request
        .scalar::<String>("missing_in_body", "String")
        .unwrap_err();
    assert_eq!(response.status(), 400);
    let body: serde_json::Value = serde_json::from_slice(response.body()).unwrap();
    assert_eq!(body["error"], "invalid JSON body");
    assert_eq!(body["parameter"], "missing_in_body");
}

#[test]
fn sample_http_api_cookies_become_header() {
    let request = load("apigw_request_path_with_space.json");
    assert_eq!(request.cookies(), ["cookie1=value1", "cookie2=value2"]);
    assert_eq!(
        request.header("cookie"),
        Some("cookie1=value1; cookie2=value2")
    );
    assert_eq!(request.header("Header1"), Some("value1"));
}

#[test]
fn sample_function_url_keeps_own_cookie_header() {
    let request = load("lambda_function_url_request.json");
    let cookies: Vec<&str> = request
        .headers()
        .iter()
        .filter(|(name, _)| name == "cookie")
        .map(|(_, value)| value.as_str())
        .collect();
    assert_eq!(cookies, ["test=hi"]);
}

#[test]
fn sample_load_balancer_uses_multi_value_headers() {
    let request = load("example-alb-lambda-target-request-multivalue-headers.json");
    assert!(request.uses_multi_value_headers());
    assert_eq!(request.header("x-myheader"), Some("123"));
    assert_eq!(request.body(), b"Some text");
}

#[test]
fn sample_rest_api_repeated_header_values() {
    let request = load("example-apigw-request-multi-value-parameters.json");
    let values: Vec<&str> = request
        .headers()
        .iter()
        .filter(|(name, _)| name == "headername")
        .map(|(_, value)| value.as_str())
        .collect();
    assert_eq!(values, ["headerValue", "headerValue2"]);
}

#[test]
fn uri_of_every_sample_holds_its_path_and_query() {
    for sample in SAMPLES {
        let request = load(sample.file);
        let uri = request.uri();
        assert!(
            uri.bytes().all(|byte| byte.is_ascii_graphic() && byte != b'#'),
            "{}: `{uri}` has a byte a URI cannot hold",
            sample.file
        );
        let (path, query) = uri.split_once('?').unwrap_or((uri.as_str(), ""));
        let expected_path = if request.path().is_empty() { "/" } else { request.path() };
        assert_eq!(
            portkey_runtime::percent::decode_component(path),
            expected_path,
            "{}",
            sample.file
        );
        assert_eq!(
            portkey_runtime::percent::parse_query(query),
            request.query_pairs(),
            "{}",
            sample.file
        );
    }
}

#[test]
fn uri_rebuilds_a_query_that_arrived_decoded() {
    let event = serde_json::json!({
        "resource": "/{proxy+}",
        "path": "/files/a b",
        "httpMethod": "GET",
        "headers": {},
        "queryStringParameters": { "q": "x&y z" },
        "requestContext": { "resourcePath": "/{proxy+}", "httpMethod": "GET" },
        "body": null,
        "isBase64Encoded": false,
    });
    let request = Request::from_event(Invocation::default(), event.to_string().as_bytes());
    assert_eq!(request.uri(), "/files/a%20b?q=x%26y%20z");
}

#[test]
fn uri_keeps_a_raw_query_as_sent_but_for_non_ascii() {
    let event = serde_json::json!({
        "version": "2.0",
        "routeKey": "$default",
        "rawPath": "/inspect/q",
        "rawQueryString": "b=x+y&c=%ZZ&d=a|b&name=é",
        "headers": {},
        "requestContext": { "http": { "method": "GET", "path": "/inspect/q" } },
        "isBase64Encoded": false,
    });
    let request = Request::from_event(Invocation::default(), event.to_string().as_bytes());
    assert_eq!(request.uri(), "/inspect/q?b=x+y&c=%ZZ&d=a|b&name=%C3%A9");
}
