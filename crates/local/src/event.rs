//! The API Gateway HTTP API event, payload format version 2.0, built from a gateway request:
//! lower-case headers with repeated ones comma-joined, cookies split out, query parameters
//! percent-decoded with repeated keys comma-joined, and a text or base64 body.

use std::net::IpAddr;
use std::time::{SystemTime, UNIX_EPOCH};

use axum::http::HeaderMap;
use base64::Engine;
use base64::engine::general_purpose::STANDARD as BASE64;
use serde_json::{Map, Value, json};
use time::OffsetDateTime;
use time::macros::format_description;

/// The account id in events; 000000000000 is no real account.
pub(crate) const LOCAL_ACCOUNT_ID: &str = "000000000000";

/// The API id in events and function ARNs of the local gateway.
pub(crate) const LOCAL_API_ID: &str = "portkey-local";

/// The parts of a gateway request that the event is built from.
pub(crate) struct EventRequest<'a> {
    pub method: &'a str,
    /// The path as received, still percent-encoded.
    pub raw_path: &'a str,
    /// The query string as received, without the `?`.
    pub raw_query: &'a str,
    pub protocol: &'a str,
    pub headers: &'a HeaderMap,
    pub body: &'a [u8],
    pub source_ip: IpAddr,
    /// The gateway's own port, reported in `x-forwarded-port`.
    pub gateway_port: u16,
    pub route_key: &'a str,
    pub path_parameters: &'a [(String, String)],
    pub request_id: &'a str,
    pub trace_id: &'a str,
    pub received_at: SystemTime,
}

/// Builds the event as API Gateway sends it to the function.
pub(crate) fn build_event(request: &EventRequest<'_>) -> Value {
    let headers = header_map(request);
    let domain_name = headers
        .get("host")
        .and_then(Value::as_str)
        .map(str::to_string)
        .unwrap_or_else(|| format!("127.0.0.1:{}", request.gateway_port));
    let domain_prefix = domain_name
        .split('.')
        .next()
        .unwrap_or_default()
        .to_string();
    let user_agent = headers
        .get("user-agent")
        .cloned()
        .unwrap_or_else(|| json!(""));
    let epoch_millis = request
        .received_at
        .duration_since(UNIX_EPOCH)
        .map(|elapsed| elapsed.as_millis() as u64)
        .unwrap_or_default();

    let mut event = Map::new();
    event.insert("version".into(), json!("2.0"));
    event.insert("routeKey".into(), json!(request.route_key));
    event.insert("rawPath".into(), json!(request.raw_path));
    event.insert("rawQueryString".into(), json!(request.raw_query));
    let cookies = cookies(request.headers);
    if !cookies.is_empty() {
        event.insert("cookies".into(), json!(cookies));
    }
    event.insert("headers".into(), Value::Object(headers));
    let query = query_parameters(request.raw_query);
    if !query.is_empty() {
        event.insert("queryStringParameters".into(), Value::Object(query));
    }
    if !request.path_parameters.is_empty() {
        let parameters: Map<String, Value> = request
            .path_parameters
            .iter()
            .map(|(name, value)| (name.clone(), json!(value)))
            .collect();
        event.insert("pathParameters".into(), Value::Object(parameters));
    }
    event.insert(
        "requestContext".into(),
        json!({
            "accountId": LOCAL_ACCOUNT_ID,
            "apiId": LOCAL_API_ID,
            "domainName": domain_name,
            "domainPrefix": domain_prefix,
            "http": {
                "method": request.method,
                "path": request.raw_path,
                "protocol": request.protocol,
                "sourceIp": request.source_ip.to_string(),
                "userAgent": user_agent,
            },
            "requestId": request.request_id,
            "routeKey": request.route_key,
            "stage": "$default",
            "time": api_gateway_time(request.received_at),
            "timeEpoch": epoch_millis,
        }),
    );
    let mut base64_body = false;
    if !request.body.is_empty() {
        let body = match std::str::from_utf8(request.body) {
            Ok(text) => text.to_string(),
            Err(_) => {
                base64_body = true;
                BASE64.encode(request.body)
            }
        };
        event.insert("body".into(), json!(body));
    }
    event.insert("isBase64Encoded".into(), json!(base64_body));
    Value::Object(event)
}

/// Lower-cases header names and joins repeated headers with commas, then adds the
/// `x-forwarded-*` and `x-amzn-trace-id` headers API Gateway adds when the client sent none.
fn header_map(request: &EventRequest<'_>) -> Map<String, Value> {
    let mut joined: Map<String, Value> = Map::new();
    for (name, value) in request.headers {
        let value = String::from_utf8_lossy(value.as_bytes()).into_owned();
        let key = name.as_str().to_ascii_lowercase();
        // API Gateway moves Cookie headers into the event's `cookies` array.
        if key == "cookie" {
            continue;
        }
        match joined.get_mut(&key) {
            Some(Value::String(existing)) => {
                existing.push(',');
                existing.push_str(&value);
            }
            _ => {
                joined.insert(key, Value::String(value));
            }
        }
    }
    let added = [
        ("x-forwarded-for", request.source_ip.to_string()),
        ("x-forwarded-port", request.gateway_port.to_string()),
        ("x-forwarded-proto", "http".to_string()),
        ("x-amzn-trace-id", root_trace_id(request.trace_id)),
    ];
    for (name, value) in added {
        joined.entry(name).or_insert(Value::String(value));
    }
    joined
}

/// Returns the `Root=...` part of a trace header, the form API Gateway puts in `x-amzn-trace-id`.
fn root_trace_id(trace_id: &str) -> String {
    trace_id.split(';').next().unwrap_or(trace_id).to_string()
}

/// Splits every `Cookie` header into its `name=value` pairs.
fn cookies(headers: &HeaderMap) -> Vec<String> {
    headers
        .get_all(axum::http::header::COOKIE)
        .iter()
        .flat_map(|value| {
            String::from_utf8_lossy(value.as_bytes())
                .split(';')
                .map(|cookie| cookie.trim().to_string())
                .filter(|cookie| !cookie.is_empty())
                .collect::<Vec<_>>()
        })
        .collect()
}

/// Decodes a query string into parameters. Repeated keys are comma-joined in order, and a key
/// without `=` has an empty value. Only `%XX` escapes are decoded, so `+` stays a plus sign.
pub(crate) fn query_parameters(raw_query: &str) -> Map<String, Value> {
    let mut parameters: Map<String, Value> = Map::new();
    for pair in raw_query.split('&').filter(|pair| !pair.is_empty()) {
        let (key, value) = pair.split_once('=').unwrap_or((pair, ""));
        let key = portkey_route::percent_decode(key);
        let value = portkey_route::percent_decode(value);
        match parameters.get_mut(&key) {
            Some(Value::String(existing)) => {
                existing.push(',');
                existing.push_str(&value);
            }
            _ => {
                parameters.insert(key, Value::String(value));
            }
        }
    }
    parameters
}

/// Formats `at` as API Gateway's `requestContext.time`, for example `21/Apr/2020:15:08:21 +0000`.
pub(crate) fn api_gateway_time(at: SystemTime) -> String {
    let format =
        format_description!("[day]/[month repr:short]/[year]:[hour]:[minute]:[second] +0000");
    OffsetDateTime::from(at).format(&format).unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;

    #[test]
    fn query_repeated_keys_join() {
        let parameters = query_parameters("a=1&a=2&b=x%20y&c&d=1+2&&e%3D=%26");

        assert_eq!(parameters["a"], "1,2");
        assert_eq!(parameters["b"], "x y");
        assert_eq!(parameters["c"], "");
        assert_eq!(parameters["d"], "1+2");
        assert_eq!(parameters["e="], "&");
        assert_eq!(parameters.len(), 5);
    }

    #[test]
    fn time_has_api_gateway_form() {
        let at = UNIX_EPOCH + Duration::from_millis(1_587_481_701_067);

        assert_eq!(api_gateway_time(at), "21/Apr/2020:15:08:21 +0000");
    }
}
