//! Turning a function's result into the gateway's HTTP response the way API Gateway does for
//! payload format 2.0. A JSON object with `statusCode` is a proxy response, whose `headers`,
//! `body`, `isBase64Encoded` and `cookies` (as `Set-Cookie` headers) make up the response. Any
//! other JSON is returned as a 200 `application/json` body. Errors are JSON bodies with
//! `errorType` and `errorMessage`.

use axum::body::{Body, Bytes};
use axum::http::header::{CONTENT_TYPE, SET_COOKIE};
use axum::http::{HeaderName, HeaderValue, StatusCode};
use axum::response::Response;
use base64::Engine;
use base64::engine::general_purpose::STANDARD as BASE64;
use serde_json::{Value, json};

/// The header that carries API Gateway's request id in responses.
pub(crate) const REQUEST_ID_HEADER: &str = "apigw-requestid";

/// Headers a proxy response may not set, because the gateway's HTTP layer frames the body itself.
const FRAMING_HEADERS: [&str; 3] = ["content-length", "transfer-encoding", "connection"];

/// Builds an error response with a JSON body `{"errorType", "errorMessage", "requestId"}`.
pub(crate) fn error_response(
    status: StatusCode,
    error_type: &str,
    message: &str,
    request_id: &str,
) -> Response {
    let body = json!({
        "errorType": error_type,
        "errorMessage": message,
        "requestId": request_id,
    });
    json_response(status, &body, Some(request_id))
}

/// Builds a response with a JSON body.
pub(crate) fn json_response(
    status: StatusCode,
    body: &Value,
    request_id: Option<&str>,
) -> Response {
    let mut response = Response::new(Body::from(body.to_string()));
    *response.status_mut() = status;
    response
        .headers_mut()
        .insert(CONTENT_TYPE, HeaderValue::from_static("application/json"));
    if let Some(value) = request_id.and_then(|id| HeaderValue::from_str(id).ok()) {
        response.headers_mut().insert(REQUEST_ID_HEADER, value);
    }
    response
}

/// Maps a function's result to the client's response. Returns the reason as an error when the
/// result is not JSON or is a malformed proxy response.
pub(crate) fn function_result(payload: &[u8], request_id: &str) -> Result<Response, String> {
    let value: Value = serde_json::from_slice(payload).map_err(|error| {
        format!(
            "the function's result is not JSON ({error}); API Gateway needs a JSON result, for \
             example a proxy response object with `statusCode`"
        )
    })?;
    let is_proxy = value
        .as_object()
        .is_some_and(|object| object.contains_key("statusCode"));
    if !is_proxy {
        let mut response = Response::new(Body::from(Bytes::copy_from_slice(payload)));
        response
            .headers_mut()
            .insert(CONTENT_TYPE, HeaderValue::from_static("application/json"));
        add_request_id(&mut response, request_id);
        return Ok(response);
    }
    let mut response = proxy_response(&value)?;
    add_request_id(&mut response, request_id);
    Ok(response)
}

fn add_request_id(response: &mut Response, request_id: &str) {
    if let Ok(value) = HeaderValue::from_str(request_id) {
        response.headers_mut().insert(REQUEST_ID_HEADER, value);
    }
}

/// Builds the response a proxy response object describes.
fn proxy_response(value: &Value) -> Result<Response, String> {
    let status = proxy_status(&value["statusCode"])?;

    let body = match &value["body"] {
        Value::Null => Vec::new(),
        Value::String(text) => text.clone().into_bytes(),
        other => {
            return Err(format!(
                "the proxy response's `body` must be a string, but it is {other}; serialise it \
                 first, for example with serde_json::to_string"
            ));
        }
    };
    let base64_body = match &value["isBase64Encoded"] {
        Value::Null => false,
        Value::Bool(flag) => *flag,
        other => {
            return Err(format!(
                "the proxy response's `isBase64Encoded` must be a boolean, but it is {other}"
            ));
        }
    };
    let body = if base64_body {
        BASE64.decode(&body).map_err(|error| {
            format!("the proxy response sets `isBase64Encoded`, but its `body` is not valid base64: {error}")
        })?
    } else {
        body
    };

    let mut response = Response::new(Body::from(body));
    *response.status_mut() = status;
    let headers = response.headers_mut();
    if let Some(map) = value["headers"].as_object() {
        for (name, value) in map {
            let text = header_text(value).ok_or_else(|| {
                format!("the proxy response's header `{name}` has the non-scalar value {value}")
            })?;
            if FRAMING_HEADERS.contains(&name.to_ascii_lowercase().as_str()) {
                continue;
            }
            let header_name = HeaderName::from_bytes(name.as_bytes()).map_err(|_| {
                format!("the proxy response's header name `{name}` is not a valid HTTP header name")
            })?;
            let header_value = HeaderValue::from_str(&text).map_err(|_| {
                format!("the proxy response's header `{name}` has the invalid value {text:?}")
            })?;
            headers.append(header_name, header_value);
        }
    }
    match &value["cookies"] {
        Value::Null => {}
        Value::Array(cookies) => {
            for cookie in cookies {
                let text = cookie.as_str().ok_or_else(|| {
                    format!("the proxy response's `cookies` must hold strings, but one is {cookie}")
                })?;
                let header_value = HeaderValue::from_str(text).map_err(|_| {
                    format!("the proxy response's cookie {text:?} is not a valid header value")
                })?;
                headers.append(SET_COOKIE, header_value);
            }
        }
        other => {
            return Err(format!(
                "the proxy response's `cookies` must be an array of strings, but it is {other}"
            ));
        }
    }
    Ok(response)
}

fn proxy_status(value: &Value) -> Result<StatusCode, String> {
    let code = match value {
        Value::Number(number) => number.as_u64(),
        Value::String(text) => text.parse().ok(),
        _ => None,
    };
    code.and_then(|code| u16::try_from(code).ok())
        .and_then(|code| StatusCode::from_u16(code).ok())
        .ok_or_else(|| {
            format!(
                "the proxy response's `statusCode` {value} is not an HTTP status code (100 to 999)"
            )
        })
}

/// Header values may be strings, numbers or booleans; API Gateway writes the latter as text.
fn header_text(value: &Value) -> Option<String> {
    match value {
        Value::String(text) => Some(text.clone()),
        Value::Number(number) => Some(number.to_string()),
        Value::Bool(flag) => Some(flag.to_string()),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    async fn body_text(response: Response) -> String {
        let bytes = axum::body::to_bytes(response.into_body(), usize::MAX)
            .await
            .expect("body");
        String::from_utf8(bytes.to_vec()).expect("utf-8")
    }

    #[tokio::test]
    async fn plain_json_is_200_json() {
        let response = function_result(br#"{"hello":"world"}"#, "req-1").expect("valid");

        assert_eq!(response.status(), StatusCode::OK);
        assert_eq!(response.headers()[CONTENT_TYPE], "application/json");
        assert_eq!(response.headers()[REQUEST_ID_HEADER], "req-1");
        assert_eq!(body_text(response).await, r#"{"hello":"world"}"#);
    }

    #[tokio::test]
    async fn proxy_response_maps_fields() {
        let payload = br#"{"statusCode":201,"headers":{"x-a":"1","x-n":5,"content-length":"999"},
            "cookies":["a=1; Path=/","b=2"],"body":"aGk=","isBase64Encoded":true}"#;

        let response = function_result(payload, "req-2").expect("valid");

        assert_eq!(response.status(), StatusCode::CREATED);
        assert_eq!(response.headers()["x-a"], "1");
        assert_eq!(response.headers()["x-n"], "5");
        assert!(response.headers().get("content-length").is_none());
        let cookies: Vec<_> = response.headers().get_all(SET_COOKIE).iter().collect();
        assert_eq!(cookies, ["a=1; Path=/", "b=2"]);
        assert_eq!(body_text(response).await, "hi");
    }

    #[test]
    fn malformed_proxy_responses_are_rejected() {
        let cases: [&[u8]; 6] = [
            b"not json",
            br#"{"statusCode":"abc"}"#,
            br#"{"statusCode":70000}"#,
            br#"{"statusCode":200,"body":{"a":1}}"#,
            br#"{"statusCode":200,"body":"***","isBase64Encoded":true}"#,
            br#"{"statusCode":200,"headers":{"bad header":"x"}}"#,
        ];
        for payload in cases {
            let result = function_result(payload, "req");
            assert!(
                result.is_err(),
                "{} was accepted",
                String::from_utf8_lossy(payload)
            );
        }
    }
}
