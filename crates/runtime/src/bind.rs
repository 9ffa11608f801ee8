//! Parameter binding: finds a value by parameter name and converts it to the parameter's type,
//! or builds the 400 response that names the parameter, the value and the expected type.
//!
//! Sources, first match wins: path parameters, the query string, then the body. For HTTP events
//! the parameter is the body's field of that name, where the body is a JSON object or an
//! `application/x-www-form-urlencoded` form. For a direct invocation it is the payload object's
//! field. A JSON `null` counts as absent.
//!
//! Scalars (`scalar`) convert with `FromStr`. A JSON string binds by its content, and a JSON
//! number or boolean by its JSON text, so `{"age": 3}` binds `age: u8`. A repeated query
//! parameter binds its first value. Values from the path, query or a form (`json`) are first
//! parsed as JSON, then taken as a JSON string, then (unless they are a JSON array or object)
//! as a one-element array. A repeated query parameter is first tried as an array of all its
//! values, so `?tag=a&tag=b` binds `Vec<String>`.
//!
//! A single text value that binds neither as JSON, nor as a JSON string, nor as a one-element
//! array is split at every `,`. It is then bound as the array of its parts, each parsed as JSON
//! or else kept as a string, so `?ids=8` binds `ids: Vec<u32>` as `[8]`. API Gateway HTTP APIs
//! (payload 2.0) join a repeated query key with commas, and `?ids=1,2,3` binds `ids: Vec<u32>`.
//! A `Vec<String>` binds `?tags=a,b` as the one element `"a,b"`, because the one-element array
//! is tried first and strings may contain commas. To send several strings, repeat the key
//! (`?tags=a&tags=b`) or send a JSON array (`?tags=["a","b"]` or a JSON body).
//!
//! Whole body (`json_or_body`): when no source has a value of the parameter's name, the whole
//! JSON body, or the whole direct invocation payload, binds the parameter if it is a JSON
//! object or array. A form body, an empty body and a JSON `null` never bind as a whole, so the
//! parameter is reported missing. The shim calls `json_or_body` only under the whole-body rule.
//! Under that rule exactly one parameter of the function is bound through serde, counting those
//! behind `&` or inside `Option` but not scalars, `Cow<str>` or a raw body. That parameter is
//! not an `Option`, and no parameter is a raw body. Every other serde parameter uses `json`.
//!
//! Raw body (`raw_body`): a parameter named `body` of type `Vec<u8>`, `&[u8]` or `&Vec<u8>`
//! gets the HTTP request body bytes as sent, base64-decoded when the event has
//! `isBase64Encoded`, with no JSON parsing. An empty body gives an empty vector, and a path or
//! query value named `body` is ignored. A direct invocation has no raw body, so there the
//! payload's `body` field binds as JSON (an array of numbers).

use std::str::FromStr;

use serde::de::DeserializeOwned;
use serde_json::Value;

use crate::request::{EventKind, Request};
use crate::response::Response;

/// Maximum characters of a received value echoed back in a 400 body.
const MAX_ECHOED_CHARS: usize = 100;

/// A value found for a parameter, borrowed from the request.
enum Found<'a> {
    /// A path parameter, a single query value or a form field.
    Text(&'a str),
    /// Several values of a repeated query parameter or form field.
    Texts(Vec<&'a str>),
    /// A field of the JSON body or of the direct invocation payload.
    Json(&'a Value),
}

impl Request {
    /// Binds required scalar parameter `name`; `type_name` is the Rust type as written, used in
    /// error messages only. Errors are 400 responses ready to return.
    pub fn scalar<T: FromStr>(&self, name: &str, type_name: &str) -> Result<T, Response> {
        match self.find(name, type_name)? {
            Some(found) => convert_scalar(&found, name, type_name),
            None => Err(self.missing(name, type_name)),
        }
    }

    /// Binds optional scalar parameter `name`: `Ok(None)` when absent, 400 when present but
    /// invalid.
    // NOTE: an empty value (`?limit=`) counts as present, so it is a 400 for numbers and
    // `Some("")` for strings.
    pub fn optional_scalar<T: FromStr>(
        &self,
        name: &str,
        type_name: &str,
    ) -> Result<Option<T>, Response> {
        match self.find(name, type_name)? {
            Some(found) => convert_scalar(&found, name, type_name).map(Some),
            None => Ok(None),
        }
    }

    /// Binds required parameter `name` through serde, for structs, collections and any other
    /// `Deserialize` type.
    pub fn json<T: DeserializeOwned>(&self, name: &str, type_name: &str) -> Result<T, Response> {
        match self.find(name, type_name)? {
            Some(found) => convert_json(&found, name, type_name),
            None => Err(self.missing(name, type_name)),
        }
    }

    /// Binds optional parameter `name` through serde: `Ok(None)` when absent.
    pub fn optional_json<T: DeserializeOwned>(
        &self,
        name: &str,
        type_name: &str,
    ) -> Result<Option<T>, Response> {
        match self.find(name, type_name)? {
            Some(found) => convert_json(&found, name, type_name).map(Some),
            None => Ok(None),
        }
    }

    /// Binds required parameter `name` through serde like [`Request::json`], then, when no
    /// source has it, from the whole JSON body or direct invocation payload if that is a JSON
    /// object or array.
    pub fn json_or_body<T: DeserializeOwned>(
        &self,
        name: &str,
        type_name: &str,
    ) -> Result<T, Response> {
        if let Some(found) = self.find(name, type_name)? {
            return convert_json(&found, name, type_name);
        }
        if self.kind.is_http() && self.has_form_body() {
            return Err(self.missing(name, type_name));
        }
        let whole = match self.json_body() {
            Ok(whole) => whole,
            Err(_) => return Err(self.missing(name, type_name)),
        };
        if !matches!(whole, Value::Object(_) | Value::Array(_)) {
            return Err(self.missing(name, type_name));
        }
        convert_json(&Found::Json(whole), name, type_name)
    }

    /// Binds a raw body parameter: the HTTP body bytes, base64-decoded when the event sets `isBase64Encoded`.
    /// A direct invocation binds the payload field `name` as JSON instead.
    pub fn raw_body(&self, name: &str, type_name: &str) -> Result<Vec<u8>, Response> {
        if !self.kind.is_http() {
            return self.json(name, type_name);
        }
        if let Some(problem) = &self.body_problem {
            return Err(body_error(name, type_name, "invalid body", problem));
        }
        Ok(self.body.clone())
    }

    /// Looks `name` up in the sources in order. An unusable body is an error only when the
    /// lookup reaches it.
    fn find(&self, name: &str, type_name: &str) -> Result<Option<Found<'_>>, Response> {
        if let Some(value) = self.path_parameter(name) {
            return Ok(Some(Found::Text(value)));
        }
        let query = self
            .query
            .iter()
            .filter(|(key, _)| key == name)
            .map(|(_, value)| value.as_str());
        if let Some(found) = texts(query.collect()) {
            return Ok(Some(found));
        }
        if self.kind.is_http() && self.has_form_body() && self.body_problem.is_none() {
            let form = self.body_form.get_or_init(|| parse_form(&self.body));
            let values = form
                .iter()
                .filter(|(key, _)| key == name)
                .map(|(_, value)| value.as_str());
            return Ok(texts(values.collect()));
        }
        match self.json_body() {
            Ok(body) => Ok(json_field(body, name)),
            Err(problem) => {
                let error = if self.kind == EventKind::Direct {
                    "invalid JSON payload"
                } else if self.body_problem.is_some() {
                    "invalid body"
                } else {
                    "invalid JSON body"
                };
                Err(body_error(name, type_name, error, problem))
            }
        }
    }

    /// Returns the JSON that body parameters bind from: the parsed body of an HTTP event
    /// (`null` when there is no body), or the payload of a direct invocation. The error is the
    /// reason the body or payload is unusable.
    pub fn json_body(&self) -> Result<&Value, &str> {
        static NO_BODY: Value = Value::Null;

        if self.kind == EventKind::Direct {
            return match &self.event_problem {
                Some(problem) => Err(problem),
                None => Ok(&self.event),
            };
        }
        if let Some(problem) = &self.body_problem {
            return Err(problem);
        }
        if self.body.is_empty() {
            return Ok(&NO_BODY);
        }
        match self.body_json.get_or_init(|| parse_json_body(&self.body)) {
            Ok(body) => Ok(body),
            Err(problem) => Err(problem),
        }
    }

    /// Tells whether the body is read as a form. A form-typed body that starts with `{` is read
    /// as JSON instead, because `curl --data '{...}'` sends JSON with the form content type.
    fn has_form_body(&self) -> bool {
        let Some(content_type) = self.header("content-type") else {
            return false;
        };
        let essence = content_type.split(';').next().unwrap_or_default().trim();
        if !essence.eq_ignore_ascii_case("application/x-www-form-urlencoded") {
            return false;
        }
        let first = self.body.iter().find(|byte| !byte.is_ascii_whitespace());
        first != Some(&b'{')
    }

    fn missing(&self, name: &str, type_name: &str) -> Response {
        let hint = if self.kind == EventKind::Direct {
            "add this field to the invocation payload"
        } else {
            "pass it in the path, the query string or the body"
        };
        let message = format!("missing required parameter \"{name}\" of type {type_name}: {hint}");
        let body = serde_json::json!({
            "error": "missing parameter",
            "parameter": name,
            "expected": type_name,
            "message": message,
        });
        bad_request(&body)
    }
}

fn texts(values: Vec<&str>) -> Option<Found<'_>> {
    match values.len() {
        0 => None,
        1 => Some(Found::Text(values[0])),
        _ => Some(Found::Texts(values)),
    }
}

fn json_field<'a>(object: &'a Value, name: &str) -> Option<Found<'a>> {
    match object.get(name) {
        None | Some(Value::Null) => None,
        Some(value) => Some(Found::Json(value)),
    }
}

fn parse_form(body: &[u8]) -> Vec<(String, String)> {
    crate::percent::parse_query(&String::from_utf8_lossy(body))
}

fn parse_json_body(body: &[u8]) -> Result<Value, String> {
    serde_json::from_slice(body).map_err(|error| {
        let mut message = String::from("the request body is not valid JSON: ");
        message.push_str(&error.to_string());
        message
    })
}

fn convert_scalar<T: FromStr>(
    found: &Found<'_>,
    name: &str,
    type_name: &str,
) -> Result<T, Response> {
    let number_text;
    let text = match found {
        Found::Text(text) => *text,
        Found::Texts(values) => values.first().copied().unwrap_or_default(),
        Found::Json(Value::String(text)) => text.as_str(),
        Found::Json(Value::Bool(true)) => "true",
        Found::Json(Value::Bool(false)) => "false",
        Found::Json(Value::Number(number)) => {
            number_text = number.to_string();
            number_text.as_str()
        }
        Found::Json(other) => {
            let value = truncate(&other.to_string());
            let message = format!(
                "invalid value for parameter \"{name}\": expected a single {type_name}, got {value}"
            );
            return Err(invalid(name, &value, type_name, &message));
        }
    };
    text.parse::<T>().map_err(|_| {
        let value = truncate(text);
        let message =
            format!("invalid value for parameter \"{name}\": expected {type_name}, got {value:?}");
        invalid(name, &value, type_name, &message)
    })
}

fn convert_json<T: DeserializeOwned>(
    found: &Found<'_>,
    name: &str,
    type_name: &str,
) -> Result<T, Response> {
    let result = match found {
        Found::Json(value) => T::deserialize(*value).map_err(|error| (value.to_string(), error)),
        Found::Text(text) => json_from_text(text).map_err(|error| ((*text).to_owned(), error)),
        Found::Texts(values) => json_from_texts(values).map_err(|error| (values.join(","), error)),
    };
    result.map_err(|(value, error)| {
        let message =
            format!("invalid value for parameter \"{name}\": expected {type_name}: {error}");
        invalid(name, &value, type_name, &message)
    })
}

/// Deserializes a text value: as JSON, then as a JSON string, then as a one-element array
/// unless the text is a JSON array or object. The error kept is the JSON one when the text was
/// valid JSON of the wrong shape, otherwise the JSON string one.
fn json_from_text<T: DeserializeOwned>(text: &str) -> Result<T, serde_json::Error> {
    let as_json = match serde_json::from_str::<T>(text) {
        Ok(value) => return Ok(value),
        Err(error) => error,
    };
    let string = Value::String(text.to_owned());
    let as_string = match T::deserialize(&string) {
        Ok(value) => return Ok(value),
        Err(error) => error,
    };
    let is_json = as_json.classify() == serde_json::error::Category::Data;
    let is_structured =
        is_json && matches!(text.trim_start().as_bytes().first(), Some(b'[' | b'{'));
    if !is_structured && let Ok(value) = T::deserialize(&Value::Array(vec![string])) {
        return Ok(value);
    }
    if !is_structured && let Ok(value) = T::deserialize(&Value::Array(comma_parts(text))) {
        return Ok(value);
    }
    if is_json {
        return Err(as_json);
    }
    Err(as_string)
}

/// Splits a comma-joined value into its parts, each parsed as JSON or else kept as a string.
fn comma_parts(text: &str) -> Vec<Value> {
    text.split(',')
        .map(|part| serde_json::from_str(part).unwrap_or_else(|_| Value::String(part.to_owned())))
        .collect()
}

/// Deserializes repeated values: as an array of strings, then as an array of their JSON
/// values, then the first value alone.
fn json_from_texts<T: DeserializeOwned>(values: &[&str]) -> Result<T, serde_json::Error> {
    let strings: Vec<Value> = values
        .iter()
        .map(|text| Value::String((*text).to_owned()))
        .collect();
    if let Ok(value) = T::deserialize(&Value::Array(strings)) {
        return Ok(value);
    }
    let parsed: Vec<Value> = values
        .iter()
        .map(|text| {
            serde_json::from_str(text).unwrap_or_else(|_| Value::String((*text).to_owned()))
        })
        .collect();
    if let Ok(value) = T::deserialize(&Value::Array(parsed)) {
        return Ok(value);
    }
    json_from_text(values.first().copied().unwrap_or_default())
}

fn invalid(name: &str, value: &str, type_name: &str, message: &str) -> Response {
    let body = serde_json::json!({
        "error": "invalid parameter",
        "parameter": name,
        "value": truncate(value),
        "expected": type_name,
        "message": truncate_message(message),
    });
    bad_request(&body)
}

fn body_error(name: &str, type_name: &str, error: &str, problem: &str) -> Response {
    let message =
        format!("parameter \"{name}\" is read from the body, which cannot be used: {problem}");
    let body = serde_json::json!({
        "error": error,
        "parameter": name,
        "expected": type_name,
        "message": message,
    });
    bad_request(&body)
}

fn bad_request(body: &Value) -> Response {
    let mut response = Response::json_value(400, body);
    response.error_type = Some("InvalidParameter".to_owned());
    response
}

/// Returns `value` cut to `MAX_ECHOED_CHARS` characters, with `...` when cut.
fn truncate(value: &str) -> String {
    match value.char_indices().nth(MAX_ECHOED_CHARS) {
        None => value.to_owned(),
        Some((cut, _)) => {
            let mut short = value[..cut].to_owned();
            short.push_str("...");
            short
        }
    }
}

/// Messages quote the value too, so they get a larger allowance.
fn truncate_message(message: &str) -> String {
    match message.char_indices().nth(MAX_ECHOED_CHARS * 4) {
        None => message.to_owned(),
        Some((cut, _)) => {
            let mut short = message[..cut].to_owned();
            short.push_str("...");
            short
        }
    }
}
