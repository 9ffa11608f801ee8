//! URL templates such as `/hello?name={name}` or `/users/{id}`: parsing them, matching request
//! paths against them, and checking them against a function's parameters at mount time.
//!
//! A template has a path part and an optional query part. In the path, a placeholder fills a
//! whole segment (`/users/{id}`); the last segment may be greedy (`/files/{rest+}`) and then takes
//! every remaining segment, or `*` (`/app/*`), which takes every remaining segment and binds no
//! parameter. A handler that takes the whole `http::Request` is mounted on such a prefix. In
//! the query part, each `key={param}` pair says that the query key `key` supplies the
//! parameter `param`; the runtime binds parameters by name, so the key must be the parameter's
//! name. This crate knows nothing about how requests are served: the local
//! gateway and the AWS backend both use it.

use std::fmt;

/// An HTTP method a route answers to.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Method {
    Get,
    Post,
    Put,
    Patch,
    Delete,
    Head,
    Options,
    /// Every method.
    Any,
}

impl Method {
    /// Parses a method name, case-insensitively.
    pub fn parse(name: &str) -> Result<Method, TemplateError> {
        let method = match name.to_ascii_uppercase().as_str() {
            "GET" => Method::Get,
            "POST" => Method::Post,
            "PUT" => Method::Put,
            "PATCH" => Method::Patch,
            "DELETE" => Method::Delete,
            "HEAD" => Method::Head,
            "OPTIONS" => Method::Options,
            "ANY" => Method::Any,
            _ => {
                return Err(TemplateError::UnknownMethod {
                    method: name.to_string(),
                });
            }
        };
        Ok(method)
    }

    /// The upper-case name, as HTTP and API Gateway route keys spell it.
    pub fn as_str(self) -> &'static str {
        match self {
            Method::Get => "GET",
            Method::Post => "POST",
            Method::Put => "PUT",
            Method::Patch => "PATCH",
            Method::Delete => "DELETE",
            Method::Head => "HEAD",
            Method::Options => "OPTIONS",
            Method::Any => "ANY",
        }
    }

    /// Whether requests of this method carry a body that can supply parameters.
    pub fn has_body(self) -> bool {
        matches!(self, Method::Post | Method::Put | Method::Patch | Method::Any)
    }

    /// Whether a request with method `request_method` is served by a route of this method.
    pub fn accepts(self, request_method: &str) -> bool {
        self == Method::Any || self.as_str().eq_ignore_ascii_case(request_method)
    }
}

impl fmt::Display for Method {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// One segment of a template's path.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Segment {
    /// A segment that must appear as written.
    Literal(String),
    /// `{name}`: one segment, bound to the parameter `name`.
    Param(String),
    /// `{name+}`: the rest of the path, bound to `name`; only valid as the last segment.
    Greedy(String),
    /// `*`: the rest of the path (one segment or more), bound to no parameter; only valid as the
    /// last segment. API Gateway's route syntax spells it `{proxy+}`.
    Rest,
}

/// The placeholder name that stands for a `*` segment in API Gateway's route syntax.
pub const REST_PLACEHOLDER: &str = "proxy";

/// A query pair of the template: `key={param}`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct QueryBinding {
    pub key: String,
    pub param: String,
}

/// A parsed URL template.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Template {
    raw: String,
    segments: Vec<Segment>,
    query: Vec<QueryBinding>,
}

/// What the mount-time check needs to know about one parameter of the function.
#[derive(Debug, Clone)]
pub struct ParamInfo<'a> {
    pub name: &'a str,
    /// The type as written, for messages.
    pub ty: &'a str,
    /// False for `Option<T>` parameters, which are `None` when absent.
    pub required: bool,
}

/// Why a template or method was rejected.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TemplateError {
    NoLeadingSlash { template: String },
    EmptySegment { template: String },
    InvalidCharacter { template: String, piece: String },
    StarInSegment { template: String, piece: String },
    Reserved { template: String },
    BadPlaceholder { template: String, piece: String },
    DuplicatePlaceholder { template: String, name: String },
    GreedyNotLast { template: String, name: String },
    QueryWithoutPlaceholder { template: String, pair: String },
    QueryKeyMismatch { template: String, key: String, param: String },
    UnknownMethod { method: String },
    UnknownPlaceholder { template: String, name: String, params: Vec<String> },
    Unsupplied { template: String, method: Method, name: String, ty: String },
}

impl fmt::Display for TemplateError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            TemplateError::NoLeadingSlash { template } => write!(
                f,
                "invalid URL template `{template}`: it must start with `/`, for example `/{}`",
                template.trim_start_matches('/')
            ),
            TemplateError::EmptySegment { template } => write!(
                f,
                "invalid URL template `{template}`: it has an empty segment (`//`); remove the extra `/`"
            ),
            TemplateError::InvalidCharacter { template, piece } => write!(
                f,
                "invalid URL template `{template}`: `{piece}` contains a space, a control character or \
                 an invalid `%` escape; write it percent-encoded, for example `%20` for a space"
            ),
            TemplateError::StarInSegment { template, piece } => write!(
                f,
                "invalid URL template `{template}`: `{piece}` mixes `*` with other characters; a \
                 segment that takes the rest of the path is `*` alone, as the last segment \
                 (`/app/*`), and a literal `*` is written `%2A`"
            ),
            TemplateError::Reserved { template } => write!(
                f,
                "invalid URL template `{template}`: paths under `/_portkey/` belong to the local \
                 backend's control endpoints; choose another path"
            ),
            TemplateError::BadPlaceholder { template, piece } => write!(
                f,
                "invalid URL template `{template}`: `{piece}` is not a placeholder; write a whole \
                 segment as `{{name}}` where `name` is a parameter of the function"
            ),
            TemplateError::DuplicatePlaceholder { template, name } => write!(
                f,
                "invalid URL template `{template}`: the placeholder `{{{name}}}` appears more than once; \
                 each parameter can be bound in one place only"
            ),
            TemplateError::GreedyNotLast { template, name } => write!(
                f,
                "invalid URL template `{template}`: `{name}` takes the rest of the path, so it \
                 must be the last segment"
            ),
            TemplateError::QueryWithoutPlaceholder { template, pair } => write!(
                f,
                "invalid URL template `{template}`: the query pair `{pair}` must have the form \
                 `key={{key}}`, naming a parameter of the function"
            ),
            TemplateError::QueryKeyMismatch { template, key, param } => write!(
                f,
                "invalid URL template `{template}`: the query key `{key}` is bound to `{{{param}}}`, \
                 but parameters are bound by name; write `{param}={{{param}}}`"
            ),
            TemplateError::UnknownMethod { method } => write!(
                f,
                "unknown HTTP method `{method}`: use one of GET, POST, PUT, PATCH, DELETE, HEAD, \
                 OPTIONS or ANY"
            ),
            TemplateError::UnknownPlaceholder {
                template,
                name,
                params,
            } => {
                let known = if params.is_empty() {
                    "the function takes no parameters".to_string()
                } else {
                    format!("its parameters are {}", params.join(", "))
                };
                write!(
                    f,
                    "URL template `{template}` has the placeholder `{{{name}}}`, which names no \
                     parameter of the function ({known}); rename the placeholder or remove it"
                )
            }
            TemplateError::Unsupplied {
                template,
                method,
                name,
                ty,
            } => write!(
                f,
                "the parameter `{name}: {ty}` is required, but a {method} request to `{template}` \
                 cannot supply it; add it to the template (`?{name}={{{name}}}` or a `/{{{name}}}` \
                 segment), make it an `Option`, or mount with `--method POST` to read it from the \
                 JSON body"
            ),
        }
    }
}

impl std::error::Error for TemplateError {}

impl Template {
    /// Parses a template such as `/users/{id}?verbose={verbose}`.
    pub fn parse(raw: &str) -> Result<Template, TemplateError> {
        let template = raw.to_string();
        if !raw.starts_with('/') {
            return Err(TemplateError::NoLeadingSlash { template });
        }
        let (path, query) = match raw.split_once('?') {
            Some((path, query)) => (path, Some(query)),
            None => (raw, None),
        };

        let pieces: Vec<&str> = path.split('/').skip(1).collect();
        let mut segments = Vec::new();
        for (index, piece) in pieces.iter().enumerate() {
            if piece.is_empty() {
                // `/` alone and a trailing `/` are fine; `//` inside the path is not.
                if index + 1 == pieces.len() {
                    continue;
                }
                return Err(TemplateError::EmptySegment { template });
            }
            segments.push(parse_segment(&template, piece)?);
        }
        if matches!(segments.first(), Some(Segment::Literal(first)) if first == RESERVED_SEGMENT) {
            return Err(TemplateError::Reserved { template });
        }
        if let Some(position) = segments
            .iter()
            .position(|segment| matches!(segment, Segment::Greedy(_) | Segment::Rest))
            && position + 1 != segments.len()
        {
            let name = match &segments[position] {
                Segment::Greedy(name) => format!("{{{name}+}}"),
                _ => "*".to_string(),
            };
            return Err(TemplateError::GreedyNotLast { template, name });
        }

        let mut bindings = Vec::new();
        for pair in query.unwrap_or("").split('&').filter(|pair| !pair.is_empty()) {
            bindings.push(parse_query_pair(&template, pair)?);
        }

        let parsed = Template {
            raw: template,
            segments,
            query: bindings,
        };
        let mut seen = std::collections::BTreeSet::new();
        for name in parsed.placeholders() {
            if !seen.insert(name) {
                return Err(TemplateError::DuplicatePlaceholder {
                    template: parsed.raw.clone(),
                    name: name.to_string(),
                });
            }
        }
        Ok(parsed)
    }

    /// The template as the user wrote it.
    pub fn as_str(&self) -> &str {
        &self.raw
    }

    pub fn segments(&self) -> &[Segment] {
        &self.segments
    }

    pub fn query(&self) -> &[QueryBinding] {
        &self.query
    }

    /// The path part in API Gateway's route syntax, for example `/users/{id}` or `/files/{rest+}`.
    /// NOTE: literals are printed decoded, so `/q%3Fx` gives `/q?x`, which is not the route that
    /// API Gateway should match.
    pub fn path_pattern(&self) -> String {
        if self.segments.is_empty() {
            return "/".to_string();
        }
        let mut pattern = String::new();
        for segment in &self.segments {
            pattern.push('/');
            match segment {
                Segment::Literal(text) => pattern.push_str(text),
                Segment::Param(name) => {
                    pattern.push('{');
                    pattern.push_str(name);
                    pattern.push('}');
                }
                Segment::Greedy(name) => {
                    pattern.push('{');
                    pattern.push_str(name);
                    pattern.push_str("+}");
                }
                Segment::Rest => {
                    pattern.push('{');
                    pattern.push_str(REST_PLACEHOLDER);
                    pattern.push_str("+}");
                }
            }
        }
        pattern
    }

    /// Whether a request path can match both templates, so that one would shadow the other:
    /// the same literal segments with placeholders in the same places, whatever their names.
    pub fn overlaps(&self, other: &Template) -> bool {
        if self.segments.len() != other.segments.len() {
            return false;
        }
        self.segments
            .iter()
            .zip(&other.segments)
            .all(|pair| match pair {
                (Segment::Literal(a), Segment::Literal(b)) => a == b,
                (Segment::Param(_), Segment::Param(_)) => true,
                (Segment::Greedy(_) | Segment::Rest, Segment::Greedy(_) | Segment::Rest) => true,
                _ => false,
            })
    }

    /// Every placeholder name, path ones first, in template order.
    pub fn placeholders(&self) -> impl Iterator<Item = &str> {
        let path = self.segments.iter().filter_map(|segment| match segment {
            Segment::Literal(_) | Segment::Rest => None,
            Segment::Param(name) | Segment::Greedy(name) => Some(name.as_str()),
        });
        path.chain(self.query.iter().map(|binding| binding.param.as_str()))
    }

    /// Matches a request path (without its query string) and returns the path parameters,
    /// percent-decoded, or `None` when the path does not fit the template.
    pub fn match_path(&self, path: &str) -> Option<Vec<(String, String)>> {
        let pieces: Vec<&str> = path.split('/').filter(|piece| !piece.is_empty()).collect();
        let mut params = Vec::new();
        for (index, segment) in self.segments.iter().enumerate() {
            match segment {
                Segment::Literal(text) => {
                    if pieces.get(index).map(|piece| percent_decode(piece)) != Some(text.clone()) {
                        return None;
                    }
                }
                Segment::Param(name) => {
                    let piece = pieces.get(index)?;
                    params.push((name.clone(), percent_decode(piece)));
                }
                Segment::Greedy(name) => {
                    if index >= pieces.len() {
                        return None;
                    }
                    let rest = pieces[index..].join("/");
                    params.push((name.clone(), percent_decode(&rest)));
                    return Some(params);
                }
                Segment::Rest => {
                    return (index < pieces.len()).then_some(params);
                }
            }
        }
        if pieces.len() != self.segments.len() {
            return None;
        }
        Some(params)
    }

    /// Checks at mount time that every placeholder names a parameter, and that every required
    /// parameter can be supplied by a request of `method` to this template.
    pub fn check_bindings(&self, method: Method, params: &[ParamInfo<'_>]) -> Result<(), TemplateError> {
        for name in self.placeholders() {
            if !params.iter().any(|param| param.name == name) {
                return Err(TemplateError::UnknownPlaceholder {
                    template: self.raw.clone(),
                    name: name.to_string(),
                    params: params.iter().map(|param| param.name.to_string()).collect(),
                });
            }
        }
        if method.has_body() {
            return Ok(());
        }
        for param in params.iter().filter(|param| param.required) {
            if !self.placeholders().any(|name| name == param.name) {
                return Err(TemplateError::Unsupplied {
                    template: self.raw.clone(),
                    method,
                    name: param.name.to_string(),
                    ty: param.ty.to_string(),
                });
            }
        }
        Ok(())
    }
}

impl fmt::Display for Template {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.raw)
    }
}

/// The first path segment of the local backend's control endpoints.
pub const RESERVED_SEGMENT: &str = "_portkey";

fn parse_segment(template: &str, piece: &str) -> Result<Segment, TemplateError> {
    let bad = || TemplateError::BadPlaceholder {
        template: template.to_string(),
        piece: piece.to_string(),
    };
    if piece == "*" {
        return Ok(Segment::Rest);
    }
    if piece.contains('*') {
        return Err(TemplateError::StarInSegment {
            template: template.to_string(),
            piece: piece.to_string(),
        });
    }
    if !piece.contains(['{', '}']) {
        if !valid_literal(piece) {
            return Err(TemplateError::InvalidCharacter {
                template: template.to_string(),
                piece: piece.to_string(),
            });
        }
        return Ok(Segment::Literal(percent_decode(piece)));
    }
    let inner = piece
        .strip_prefix('{')
        .and_then(|rest| rest.strip_suffix('}'))
        .ok_or_else(bad)?;
    if let Some(name) = inner.strip_suffix('+') {
        return valid_name(name).then(|| Segment::Greedy(name.to_string())).ok_or_else(bad);
    }
    valid_name(inner).then(|| Segment::Param(inner.to_string())).ok_or_else(bad)
}

fn parse_query_pair(template: &str, pair: &str) -> Result<QueryBinding, TemplateError> {
    let bad = || TemplateError::QueryWithoutPlaceholder {
        template: template.to_string(),
        pair: pair.to_string(),
    };
    let (key, value) = pair.split_once('=').ok_or_else(bad)?;
    let param = value
        .strip_prefix('{')
        .and_then(|rest| rest.strip_suffix('}'))
        .filter(|name| valid_name(name))
        .ok_or_else(bad)?;
    if key != param {
        return Err(TemplateError::QueryKeyMismatch {
            template: template.to_string(),
            key: key.to_string(),
            param: param.to_string(),
        });
    }
    Ok(QueryBinding {
        key: key.to_string(),
        param: param.to_string(),
    })
}

/// Whether a literal path segment has no white space or control characters and only valid
/// `%XX` escapes.
fn valid_literal(piece: &str) -> bool {
    let bytes = piece.as_bytes();
    for (index, byte) in bytes.iter().enumerate() {
        if byte.is_ascii_whitespace() || byte.is_ascii_control() {
            return false;
        }
        if *byte == b'%' {
            let escape = bytes.get(index + 1..index + 3);
            if !escape.is_some_and(|hex| hex.iter().all(u8::is_ascii_hexdigit)) {
                return false;
            }
        }
    }
    true
}

/// Whether `name` is a Rust identifier that can name a parameter.
fn valid_name(name: &str) -> bool {
    let mut chars = name.chars();
    let Some(first) = chars.next() else {
        return false;
    };
    (first == '_' || first.is_alphabetic()) && chars.all(|c| c == '_' || c.is_alphanumeric())
}

/// Decodes `%XX` escapes; invalid escapes and invalid UTF-8 are kept as they are (lossy).
pub fn percent_decode(text: &str) -> String {
    let bytes = text.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut index = 0;
    while index < bytes.len() {
        if bytes[index] == b'%' && index + 2 < bytes.len() {
            let high = (bytes[index + 1] as char).to_digit(16);
            let low = (bytes[index + 2] as char).to_digit(16);
            if let (Some(high), Some(low)) = (high, low) {
                out.push((high * 16 + low) as u8);
                index += 3;
                continue;
            }
        }
        out.push(bytes[index]);
        index += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

#[cfg(test)]
mod tests;
