//! Parsing of `AWS_LAMBDA_RUNTIME_API` in the forms Lambda and local emulators use.

use portkey_runtime::{Endpoint, EndpointError};

#[test]
fn endpoint_forms_parse() {
    let cases = [
        ("127.0.0.1:9001", "127.0.0.1:9001", "/2018-06-01"),
        ("http://127.0.0.1:9001", "127.0.0.1:9001", "/2018-06-01"),
        ("http://127.0.0.1:9001/", "127.0.0.1:9001", "/2018-06-01"),
        (
            "HTTP://localhost:9000/.rt/fn",
            "localhost:9000",
            "/.rt/fn/2018-06-01",
        ),
        (
            "http://127.0.0.1:9000/.rt/fn/",
            "127.0.0.1:9000",
            "/.rt/fn/2018-06-01",
        ),
        ("[::1]:9001", "[::1]:9001", "/2018-06-01"),
        ("http://[::1]", "[::1]:80", "/2018-06-01"),
        ("localhost:9001", "localhost:9001", "/2018-06-01"),
        (" 127.0.0.1:9001 ", "127.0.0.1:9001", "/2018-06-01"),
    ];
    for (value, authority, base_path) in cases {
        let endpoint = Endpoint::parse(value).unwrap_or_else(|e| panic!("{value:?} failed: {e}"));
        assert_eq!(endpoint.authority, authority, "authority of {value:?}");
        assert_eq!(endpoint.base_path, base_path, "base path of {value:?}");
    }
}

#[test]
fn endpoint_builds_resource_paths() {
    let endpoint = Endpoint::parse("http://127.0.0.1:9000/.rt/fn").unwrap();
    assert_eq!(
        endpoint.url_path("/runtime/invocation/next"),
        "/.rt/fn/2018-06-01/runtime/invocation/next"
    );
    assert_eq!(
        endpoint.to_string(),
        "http://127.0.0.1:9000/.rt/fn/2018-06-01"
    );
}

#[test]
fn endpoint_rejects_unusable_values() {
    let cases = [
        ("", "empty"),
        ("https://127.0.0.1:9001", "only the http scheme"),
        ("http://", "host is missing"),
        ("http:///path", "host is missing"),
        ("127.0.0.1:port", "port is not a number"),
        ("127.0.0.1:70000", "port is not a number"),
        ("user@127.0.0.1:9001", "user info"),
        ("127.0.0.1:9001/x?y=1", "queries"),
        ("runtime.local", "IP address or localhost"),
        ("http://lambda-runtime:9001/prefix", "IP address or localhost"),
    ];
    for (value, reason) in cases {
        let error = Endpoint::parse(value).expect_err(value);
        let message = error.to_string();
        assert!(message.contains(reason), "{value:?}: {message}");
        assert!(
            message.contains("AWS_LAMBDA_RUNTIME_API"),
            "{value:?}: {message}"
        );
    }
}

#[test]
fn endpoint_missing_message_says_what_to_do() {
    let message = EndpointError::Missing.to_string();
    assert!(
        message.contains("AWS_LAMBDA_RUNTIME_API is not set"),
        "{message}"
    );
    assert!(message.contains("portkey mount"), "{message}");
}
