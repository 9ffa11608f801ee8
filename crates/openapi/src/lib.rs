//! An OpenAPI 3.0 document of a project's mounts, one operation per mount. Path and query
//! placeholders become parameters. The other parameters of a POST, PUT or PATCH mount become
//! the fields of a JSON request body. The result shape decides the responses, and schemas come
//! from the Rust types (see [`schema`]).
//!
//! The rules follow the binding the image does at run time:
//!
//! - a path placeholder is a required `path` parameter. `{rest+}` and `*` take the rest of the
//!   path, so OpenAPI gets one `path` parameter for it (`*` is named `proxy`, as in API
//!   Gateway);
//! - a query placeholder is a `query` parameter, required unless the Rust type is an `Option`;
//! - a GET, DELETE, HEAD or OPTIONS mount also reads its optional parameters from the query;
//! - a parameter that may take the whole JSON body is described as the body itself;
//! - a raw `body` parameter is an `application/octet-stream` body, and the other parameters of
//!   its function then come from the query;
//! - an `http::Request` handler or an `axum::Router` accepts any body;
//! - a result type of the package that is not `Serialize` is sent as `Display` text;
//! - every operation with parameters can answer 400 with the binding error's JSON body.

pub mod schema;

use std::collections::BTreeMap;
use std::path::Path;

use portkey_lookup::{FoundFunction, ParamShape, ReturnShape};
use portkey_route::{Method, REST_PLACEHOLDER, Segment, Template};
use serde_json::{Map, Value, json};
use syn::Type;

use crate::schema::{Origin, Schemas};

/// One mounted function.
pub struct Mount<'a> {
    pub method: Method,
    pub template: &'a Template,
    pub found: &'a FoundFunction,
}

/// The document's description of the whole API.
pub struct Info<'a> {
    /// The document's title, such as the project's name.
    pub title: &'a str,
    /// The API version, such as the project's package version.
    pub version: &'a str,
    /// The base URL the operations are served from, when known.
    pub server: Option<&'a str>,
}

/// The methods an `ANY` mount is listed under.
const ANY_METHODS: [&str; 5] = ["get", "post", "put", "patch", "delete"];

/// Builds the document of `mounts`.
pub fn document(info: &Info<'_>, mounts: &[Mount<'_>]) -> Value {
    let mut schemas = Schemas::default();
    let mut paths: BTreeMap<String, Map<String, Value>> = BTreeMap::new();
    let mut operation_ids = std::collections::BTreeSet::new();
    for mount in mounts {
        let path = openapi_path(mount.template);
        let methods: Vec<&str> = match mount.method {
            Method::Any => ANY_METHODS.to_vec(),
            method => vec![method_key(method)],
        };
        for method in methods {
            let mut operation = operation(&mut schemas, mount, method, methods_suffix(mount.method, method));
            // `a::b_c` and `a::b::c` give the same id; OpenAPI needs each id once.
            let id = operation["operationId"].as_str().unwrap_or_default().to_string();
            let mut unique = id.clone();
            let mut counter = 2;
            while !operation_ids.insert(unique.clone()) {
                unique = format!("{id}_{counter}");
                counter += 1;
            }
            operation["operationId"] = json!(unique);
            paths.entry(path.clone()).or_default().insert(method.to_string(), operation);
        }
    }
    let mut document = json!({
        "openapi": "3.0.3",
        "info": { "title": info.title, "version": info.version },
        "paths": paths,
    });
    if let Some(server) = info.server {
        document["servers"] = json!([{ "url": server }]);
    }
    let mut components = Map::new();
    components.insert("schemas".to_string(), json!(schemas.components));
    let mut error_schemas = Map::new();
    error_schemas.insert("PortkeyBindingError".to_string(), binding_error_schema());
    error_schemas.insert("PortkeyNotFound".to_string(), not_found_schema());
    if let Some(Value::Object(schemas)) = components.get_mut("schemas") {
        schemas.extend(error_schemas);
    }
    document["components"] = Value::Object(components);
    document
}

fn method_key(method: Method) -> &'static str {
    match method {
        Method::Get => "get",
        Method::Post => "post",
        Method::Put => "put",
        Method::Patch => "patch",
        Method::Delete => "delete",
        Method::Head => "head",
        Method::Options => "options",
        Method::Any => "get",
    }
}

/// Returns the suffix that keeps the operation ids of an `ANY` mount apart.
fn methods_suffix(mounted: Method, listed: &str) -> Option<String> {
    (mounted == Method::Any).then(|| listed.to_string())
}

/// Renders the template's path in OpenAPI's syntax: `{rest+}` becomes `{rest}`, and `*` becomes
/// `{proxy}`.
fn openapi_path(template: &Template) -> String {
    if template.segments().is_empty() {
        return "/".to_string();
    }
    let mut path = String::new();
    for segment in template.segments() {
        path.push('/');
        match segment {
            // Literals are stored decoded; `%3F` must not become a `?` in the document.
            Segment::Literal(text) => path.push_str(&encode_literal(text)),
            Segment::Param(name) | Segment::Greedy(name) => {
                path.push('{');
                path.push_str(name);
                path.push('}');
            }
            Segment::Rest => {
                path.push('{');
                path.push_str(REST_PLACEHOLDER);
                path.push('}');
            }
        }
    }
    path
}

/// Percent-encodes the bytes of a literal path segment that a path cannot hold as they are.
fn encode_literal(text: &str) -> String {
    let mut out = String::new();
    for byte in text.bytes() {
        if byte.is_ascii_alphanumeric() || b"-._~!$&'()*+,;=:@".contains(&byte) {
            out.push(char::from(byte));
        } else {
            out.push_str(&format!("%{byte:02X}"));
        }
    }
    out
}

fn operation(schemas: &mut Schemas, mount: &Mount<'_>, method: &str, suffix: Option<String>) -> Value {
    let found = mount.found;
    let package_dir = found.package.manifest_path.parent().unwrap_or(Path::new("."));
    let origin = Origin {
        source_file: &found.source_file,
        package_dir,
    };
    let has_body = matches!(method, "post" | "put" | "patch");
    let path_names: Vec<&str> = mount
        .template
        .segments()
        .iter()
        .filter_map(|segment| match segment {
            Segment::Param(name) | Segment::Greedy(name) => Some(name.as_str()),
            _ => None,
        })
        .collect();
    let query_names: Vec<&str> = mount.template.query().iter().map(|binding| binding.param.as_str()).collect();
    // With a raw body, the body is not JSON, so the other parameters come from the query.
    let raw_body = found.signature.params.iter().any(|param| is_raw_body(&param.shape));
    let fields_in_body = has_body && !raw_body;

    let mut parameters = Vec::new();
    let mut body_properties = Map::new();
    let mut body_required = Vec::new();
    let mut whole_body: Option<Value> = None;
    let mut request_body: Option<Value> = None;
    if mount.template.segments().last() == Some(&Segment::Rest) {
        parameters.push(json!({
            "name": REST_PLACEHOLDER,
            "in": "path",
            "required": true,
            "description": "the rest of the path below the prefix",
            "schema": { "type": "string" },
        }));
    }
    for param in &found.signature.params {
        let ty: Option<Type> = syn::parse_str(&param.ty).ok();
        let value_schema = ty.as_ref().map(|ty| schemas.of(ty, origin)).unwrap_or_else(|| json!({}));
        let required = found.required(param);
        match &param.shape {
            ParamShape::HttpRequest(_) => {
                if has_body {
                    request_body = Some(json!({
                        "description": "any body; the handler reads the whole request",
                        "content": { "*/*": { "schema": {} } },
                    }));
                }
                continue;
            }
            shape if is_raw_body(shape) => {
                if has_body {
                    request_body = Some(json!({
                        "description": format!("the raw body, as `{}`", param.ty),
                        "content": { "application/octet-stream": { "schema": { "type": "string", "format": "binary" } } },
                    }));
                }
                continue;
            }
            _ => {}
        }
        let described = |location: &str, required: bool| {
            let mut parameter = json!({
                "name": param.name,
                "in": location,
                "required": required,
                "description": format!("`{}`", param.ty),
                "schema": value_schema.clone(),
            });
            if matches!(value_schema.get("type").and_then(Value::as_str), Some("array")) && location == "query" {
                parameter["style"] = json!("form");
                parameter["explode"] = json!(true);
            }
            parameter
        };
        if path_names.contains(&param.name.as_str()) {
            parameters.push(described("path", true));
        } else if query_names.contains(&param.name.as_str()) {
            parameters.push(described("query", required));
        } else if fields_in_body {
            if is_whole_body(&param.shape) {
                whole_body = Some(value_schema.clone());
            }
            if required {
                body_required.push(Value::String(param.name.clone()));
            }
            body_properties.insert(param.name.clone(), value_schema);
        } else {
            parameters.push(described("query", required && raw_body));
        }
    }
    if found.signature.output == ReturnShape::Router && has_body {
        request_body = Some(json!({
            "description": "any body; the router reads the whole request",
            "content": { "*/*": { "schema": {} } },
        }));
    }
    if request_body.is_none() && !body_properties.is_empty() {
        let mut fields = json!({ "type": "object", "properties": body_properties });
        if !body_required.is_empty() {
            fields["required"] = Value::Array(body_required);
        }
        // A parameter under the whole-body rule also binds from the whole body.
        let schema = match whole_body {
            Some(whole) if body_properties_len(&fields) == 1 => json!({ "oneOf": [whole, fields] }),
            _ => fields,
        };
        request_body = Some(json!({
            "required": true,
            "content": {
                "application/json": { "schema": schema.clone() },
                "application/x-www-form-urlencoded": { "schema": form_schema(&schema) },
            },
        }));
    }

    let output_type: Option<Type> = found
        .signature
        .output_type
        .as_deref()
        .and_then(|text| syn::parse_str(text).ok());
    let mut responses = Map::new();
    add_responses(schemas, origin, &found.signature.output, output_type.as_ref(), &mut responses);
    if !found.signature.params.is_empty() {
        responses.insert(
            "400".to_string(),
            json!({
                "description": "a parameter is missing or does not parse",
                "content": { "application/json": { "schema": { "$ref": "#/components/schemas/PortkeyBindingError" } } },
            }),
        );
    }
    responses.insert(
        "500".to_string(),
        json!({
            "description": "the function panicked, or returned an `Err` (its text)",
            "content": { "text/plain": { "schema": { "type": "string" } }, "application/json": { "schema": {} } },
        }),
    );

    let mut operation_id = found.requested_path.replace("::", "_");
    if let Some(suffix) = suffix {
        operation_id.push('_');
        operation_id.push_str(&suffix);
    }
    let mut operation = json!({
        "operationId": operation_id,
        "tags": [found.package.lib_name],
        "description": format!("`{}`", found.requested_path),
        "parameters": parameters,
        "responses": responses,
    });
    if let Some(doc) = &found.doc {
        operation["summary"] = json!(doc);
    }
    if let Some(body) = request_body {
        operation["requestBody"] = body;
    }
    operation
}

fn body_properties_len(fields: &Value) -> usize {
    fields["properties"].as_object().map_or(0, Map::len)
}

/// Describes a form body: the same fields, each as a string, because a form carries only text.
fn form_schema(schema: &Value) -> Value {
    match schema.get("properties").and_then(Value::as_object) {
        Some(properties) => {
            let fields: Map<String, Value> = properties
                .keys()
                .map(|name| (name.clone(), json!({ "type": "string" })))
                .collect();
            json!({ "type": "object", "properties": fields })
        }
        None => json!({ "type": "object" }),
    }
}

fn is_raw_body(shape: &ParamShape) -> bool {
    match shape {
        ParamShape::RawBody => true,
        ParamShape::Ref(inner) => is_raw_body(inner),
        _ => false,
    }
}

fn is_whole_body(shape: &ParamShape) -> bool {
    match shape {
        ParamShape::JsonOrBody => true,
        ParamShape::Ref(inner) => is_whole_body(inner),
        _ => false,
    }
}

/// Adds the responses of a result shape; `ty` is the result type as written.
fn add_responses(
    schemas: &mut Schemas,
    origin: Origin<'_>,
    shape: &ReturnShape,
    ty: Option<&Type>,
    responses: &mut Map<String, Value>,
) {
    let inner = |index: usize| ty.and_then(|ty| type_argument(ty, index));
    match shape {
        ReturnShape::Unit => {
            responses.insert("204".to_string(), json!({ "description": "done, with no body" }));
        }
        ReturnShape::Text => {
            responses.insert("200".to_string(), content("the result as text", "text/plain", json!({ "type": "string" })));
        }
        ReturnShape::Bytes => {
            responses.insert(
                "200".to_string(),
                content("the result as bytes", "application/octet-stream", json!({ "type": "string", "format": "binary" })),
            );
        }
        ReturnShape::Auto => {
            if ty.is_some_and(|ty| schemas.is_text_only(ty, origin)) {
                let text = content("the result's `Display` text", "text/plain", json!({ "type": "string" }));
                responses.insert("200".to_string(), text);
                return;
            }
            let schema = ty.map(|ty| schemas.of(ty, origin)).unwrap_or_else(|| json!({}));
            responses.insert("200".to_string(), content("the result as JSON", "application/json", schema));
        }
        ReturnShape::Option(inner_shape) => {
            add_responses(schemas, origin, inner_shape, inner(0).as_ref(), responses);
            responses.insert(
                "404".to_string(),
                json!({
                    "description": "the function returned `None`",
                    "content": { "application/json": { "schema": { "$ref": "#/components/schemas/PortkeyNotFound" } } },
                }),
            );
        }
        ReturnShape::Result(inner_shape) => {
            add_responses(schemas, origin, inner_shape, inner(0).as_ref(), responses);
        }
        ReturnShape::Router => {
            responses.insert(
                "default".to_string(),
                json!({ "description": "whatever the router's routes answer", "content": { "*/*": { "schema": {} } } }),
            );
        }
        ReturnShape::Http(inner_shape) | ReturnShape::WithStatus(inner_shape) => {
            let body_type = match shape {
                ReturnShape::Http(_) => inner(0),
                _ => ty.and_then(tuple_second),
            };
            let mut chosen = Map::new();
            add_responses(schemas, origin, inner_shape, body_type.as_ref(), &mut chosen);
            let mut response = chosen.into_iter().next().map(|(_, response)| response).unwrap_or_else(|| json!({}));
            response["description"] = json!("the status and headers the function chose");
            responses.insert("default".to_string(), response);
        }
    }
}

fn content(description: &str, media_type: &str, schema: Value) -> Value {
    json!({ "description": description, "content": { media_type: { "schema": schema } } })
}

/// Returns the type argument at `index` of the last segment of a path type, through references.
fn type_argument(ty: &Type, index: usize) -> Option<Type> {
    match ty {
        Type::Reference(reference) => type_argument(&reference.elem, index),
        Type::Paren(inner) => type_argument(&inner.elem, index),
        Type::Group(inner) => type_argument(&inner.elem, index),
        Type::Path(path) => {
            let syn::PathArguments::AngleBracketed(arguments) = &path.path.segments.last()?.arguments else {
                return None;
            };
            arguments
                .args
                .iter()
                .filter_map(|argument| match argument {
                    syn::GenericArgument::Type(ty) => Some(ty.clone()),
                    _ => None,
                })
                .nth(index)
        }
        _ => None,
    }
}

fn tuple_second(ty: &Type) -> Option<Type> {
    match ty {
        Type::Tuple(tuple) => tuple.elems.iter().nth(1).cloned(),
        Type::Paren(inner) => tuple_second(&inner.elem),
        _ => None,
    }
}

fn binding_error_schema() -> Value {
    json!({
        "type": "object",
        "properties": {
            "error": { "type": "string" },
            "parameter": { "type": "string" },
            "value": { "type": "string" },
            "expected": { "type": "string" },
            "message": { "type": "string" },
        },
        "required": ["error", "message"],
    })
}

fn not_found_schema() -> Value {
    json!({
        "type": "object",
        "properties": { "error": { "type": "string" }, "message": { "type": "string" } },
        "required": ["error", "message"],
    })
}

/// A mount as the project file records it.
pub struct MountEntry<'a> {
    pub function: &'a str,
    pub method: &'a str,
    pub template: &'a str,
}

/// Builds the document of the mounts of the cargo project at `root` (the folder of its
/// `Cargo.toml`), finding each function in the current sources. A mount whose function or
/// template no longer reads is an error that names it.
pub fn project_document(root: &Path, mounts: &[MountEntry<'_>], server: Option<&str>) -> Result<Value, String> {
    let manifest = root.join("Cargo.toml");
    let paths: Vec<&str> = mounts.iter().map(|mount| mount.function).collect();
    let found = portkey_lookup::find_functions(Some(&manifest), &paths)
        .map_err(|error| format!("cannot read the project at {}: {error}", manifest.display()))?;
    let mut parsed = Vec::new();
    for (mount, found) in mounts.iter().zip(found) {
        let found = found.map_err(|error| format!("cannot describe the mount of `{}`: {error}", mount.function))?;
        let method = Method::parse(mount.method).map_err(|error| format!("the mount of `{}`: {error}", mount.function))?;
        let template =
            Template::parse(mount.template).map_err(|error| format!("the mount of `{}`: {error}", mount.function))?;
        parsed.push((method, template, found));
    }
    let mounts: Vec<Mount<'_>> = parsed
        .iter()
        .map(|(method, template, found)| Mount {
            method: *method,
            template,
            found,
        })
        .collect();
    let title = root
        .file_name()
        .map(|name| name.to_string_lossy().into_owned())
        .unwrap_or_else(|| "portkey".to_string());
    let version = parsed
        .first()
        .map(|(_, _, found)| found.package.version.clone())
        .unwrap_or_else(|| "0.0.0".to_string());
    Ok(document(
        &Info {
            title: &title,
            version: &version,
            server,
        },
        &mounts,
    ))
}
