//! The classification of parameter and result types, as a table of types written in Rust.

use portkey_lookup::{
    Param, ParamShape, ReturnShape, Scalar, classify_named_param, classify_param, classify_return,
    mark_whole_body,
};

fn param(ty: &str) -> Result<ParamShape, String> {
    let parsed: syn::Type =
        syn::parse_str(ty).unwrap_or_else(|error| panic!("{ty} does not parse: {error}"));
    classify_param(&parsed)
}

fn output(ty: &str) -> ReturnShape {
    let parsed: syn::Type =
        syn::parse_str(ty).unwrap_or_else(|error| panic!("{ty} does not parse: {error}"));
    classify_return(&parsed)
}

fn scalar(scalar: Scalar) -> ParamShape {
    ParamShape::Scalar(scalar)
}

fn reference(shape: ParamShape) -> ParamShape {
    ParamShape::Ref(Box::new(shape))
}

fn option(shape: ParamShape) -> ParamShape {
    ParamShape::Option(Box::new(shape))
}

#[test]
fn every_scalar_by_name() {
    for scalar_type in Scalar::ALL {
        if scalar_type == Scalar::Str {
            continue;
        }
        let name = scalar_type.rust_name();
        assert_eq!(param(name), Ok(scalar(scalar_type)), "{name}");
        assert_eq!(output(name), ReturnShape::Text, "{name}");
    }
}

#[test]
fn param_shape_table() {
    let cases: Vec<(&str, ParamShape)> = vec![
        ("String", scalar(Scalar::String)),
        ("std::string::String", scalar(Scalar::String)),
        ("alloc::string::String", scalar(Scalar::String)),
        ("core::primitive::u32", scalar(Scalar::U32)),
        ("std::primitive::f64", scalar(Scalar::F64)),
        ("&str", reference(scalar(Scalar::Str))),
        ("&'a std::primitive::str", reference(scalar(Scalar::Str))),
        ("&String", reference(scalar(Scalar::String))),
        ("&u8", reference(scalar(Scalar::U8))),
        ("Option<u32>", option(scalar(Scalar::U32))),
        ("std::option::Option<bool>", option(scalar(Scalar::Bool))),
        ("Option<&str>", option(reference(scalar(Scalar::Str)))),
        ("Option<Point>", option(ParamShape::Json)),
        ("&Option<String>", reference(option(scalar(Scalar::String)))),
        ("Point", ParamShape::Json),
        ("models::Point", ParamShape::Json),
        ("Vec<u8>", ParamShape::Json),
        ("HashMap<String, Vec<u32>>", ParamShape::Json),
        ("(u32, String)", ParamShape::Json),
        ("[u8; 4]", ParamShape::Json),
        ("&[i64]", reference(ParamShape::Json)),
        ("&Point", reference(ParamShape::Json)),
        ("(u32)", scalar(Scalar::U32)),
        ("Box<str>", ParamShape::Json),
        ("my::Option<u32>", ParamShape::Json),
        ("u32x", ParamShape::Json),
        ("Cow<str>", ParamShape::CowStr),
        ("std::borrow::Cow<'_, str>", ParamShape::CowStr),
        ("Option<Cow<'a, str>>", option(ParamShape::CowStr)),
        ("&Cow<str>", reference(ParamShape::CowStr)),
        ("Cow<'_, [u8]>", ParamShape::Json),
        ("serde_json::Value", ParamShape::Json),
        ("i128", scalar(Scalar::I128)),
        ("u128", scalar(Scalar::U128)),
        ("char", scalar(Scalar::Char)),
    ];
    for (ty, expected) in cases {
        assert_eq!(param(ty), Ok(expected), "{ty}");
    }
}

#[test]
fn unsupported_param_table() {
    let cases = [
        ("&mut String", "`&mut`"),
        ("Option<&mut u8>", "`&mut`"),
        ("impl Display", "`impl Trait`"),
        ("Box<dyn Display>", "`dyn Trait`"),
        ("&dyn Display", "`dyn Trait`"),
        ("*const u8", "raw pointers"),
        ("*mut u8", "raw pointers"),
        ("fn(u32) -> u32", "function pointers"),
        ("Vec<fn()>", "function pointers"),
        ("!", "`!` has no values"),
        ("_", "`_` is not a type"),
        ("my_type!()", "macro"),
        ("&&str", "reference to a reference"),
        ("Option<Option<u32>>", "nested `Option`"),
        ("[*const u8; 2]", "raw pointers"),
        ("(u32, impl Copy)", "`impl Trait`"),
        ("&'static str", "`&'static`"),
        ("Vec<&str>", "inside `Vec<..>`"),
        ("HashMap<&str, u32>", "inside `HashMap<..>`"),
    ];
    for (ty, expected) in cases {
        let reason = param(ty).expect_err(ty);
        assert!(reason.contains(expected), "{ty}: {reason}");
    }
}

#[test]
fn return_shape_table() {
    let result = |shape: ReturnShape| ReturnShape::Result(Box::new(shape));
    let optional = |shape: ReturnShape| ReturnShape::Option(Box::new(shape));
    let cases: Vec<(&str, ReturnShape)> = vec![
        ("()", ReturnShape::Unit),
        ("!", ReturnShape::Unit),
        ("String", ReturnShape::Text),
        ("&'static str", ReturnShape::Text),
        ("&str", ReturnShape::Text),
        ("&String", ReturnShape::Text),
        ("Cow<str>", ReturnShape::Text),
        ("Cow<'static, str>", ReturnShape::Text),
        ("std::borrow::Cow<'_, str>", ReturnShape::Text),
        ("Cow<[u8]>", ReturnShape::Auto),
        ("u64", ReturnShape::Text),
        ("char", ReturnShape::Text),
        ("Stats", ReturnShape::Auto),
        ("Vec<u32>", ReturnShape::Auto),
        ("Vec<u8>", ReturnShape::Bytes),
        ("std::vec::Vec<std::primitive::u8>", ReturnShape::Bytes),
        ("Vec<i8>", ReturnShape::Auto),
        ("&[u8]", ReturnShape::Auto),
        ("Option<Vec<u8>>", optional(ReturnShape::Bytes)),
        ("Result<Vec<u8>, E>", result(ReturnShape::Bytes)),
        ("(u32, u32)", ReturnShape::Auto),
        ("impl Display", ReturnShape::Auto),
        ("Result<String, Error>", result(ReturnShape::Text)),
        ("io::Result<()>", result(ReturnShape::Unit)),
        ("anyhow::Result<Stats>", result(ReturnShape::Auto)),
        (
            "std::result::Result<u8, AgeError>",
            result(ReturnShape::Text),
        ),
        (
            "Result<Option<User>, E>",
            result(optional(ReturnShape::Auto)),
        ),
        ("Option<User>", optional(ReturnShape::Auto)),
        ("Option<&'static str>", optional(ReturnShape::Text)),
        ("Option<Result<u8, E>>", optional(result(ReturnShape::Text))),
        ("Result<u8, E, F>", ReturnShape::Auto),
        ("Result", ReturnShape::Auto),
    ];
    for (ty, expected) in cases {
        assert_eq!(output(ty), expected, "{ty}");
    }
}

fn named(name: &str, ty: &str) -> Result<ParamShape, String> {
    let parsed: syn::Type =
        syn::parse_str(ty).unwrap_or_else(|error| panic!("{ty} does not parse: {error}"));
    classify_named_param(name, &parsed)
}

#[test]
fn raw_body_needs_name_and_byte_type() {
    let cases: Vec<(&str, &str, ParamShape)> = vec![
        ("body", "Vec<u8>", ParamShape::RawBody),
        ("body", "std::vec::Vec<u8>", ParamShape::RawBody),
        ("body", "&[u8]", reference(ParamShape::RawBody)),
        ("body", "&'a [u8]", reference(ParamShape::RawBody)),
        ("body", "&Vec<u8>", reference(ParamShape::RawBody)),
        ("data", "Vec<u8>", ParamShape::Json),
        ("data", "&[u8]", reference(ParamShape::Json)),
        ("body", "Vec<u16>", ParamShape::Json),
        ("body", "Option<Vec<u8>>", option(ParamShape::Json)),
        ("body", "String", scalar(Scalar::String)),
        ("body", "[u8; 4]", ParamShape::Json),
    ];
    for (name, ty, expected) in cases {
        assert_eq!(named(name, ty), Ok(expected), "{name}: {ty}");
    }
    let reason = named("body", "&mut [u8]").expect_err("&mut is rejected");
    assert!(reason.contains("`&mut`"), "{reason}");
}

/// Classifies `(name, type)` pairs as a signature and applies the whole-body rule.
fn marked(params: &[(&str, &str)]) -> Vec<ParamShape> {
    let mut params: Vec<Param> = params
        .iter()
        .map(|(name, ty)| Param {
            name: (*name).to_string(),
            ty: (*ty).to_string(),
            shape: named(name, ty).unwrap_or_else(|reason| panic!("{ty}: {reason}")),
        })
        .collect();
    mark_whole_body(&mut params);
    params.into_iter().map(|param| param.shape).collect()
}

/// A signature as `(name, type)` pairs, and the shapes expected after the whole-body rule.
type WholeBodyCase = (Vec<(&'static str, &'static str)>, Vec<ParamShape>);

#[test]
fn whole_body_rule_table() {
    let cases: Vec<WholeBodyCase> = vec![
        (vec![("point", "Point")], vec![ParamShape::JsonOrBody]),
        (
            vec![("point", "&Point")],
            vec![reference(ParamShape::JsonOrBody)],
        ),
        (
            vec![("point", "Point"), ("dx", "i32"), ("tag", "Option<&str>")],
            vec![
                ParamShape::JsonOrBody,
                scalar(Scalar::I32),
                option(reference(scalar(Scalar::Str))),
            ],
        ),
        (
            vec![("data", "Vec<u8>"), ("seed", "u16")],
            vec![ParamShape::JsonOrBody, scalar(Scalar::U16)],
        ),
        (
            vec![("a", "Point"), ("b", "Point")],
            vec![ParamShape::Json, ParamShape::Json],
        ),
        (
            vec![("a", "Point"), ("b", "Option<Point>")],
            vec![ParamShape::Json, option(ParamShape::Json)],
        ),
        (vec![("a", "Option<Point>")], vec![option(ParamShape::Json)]),
        (
            vec![("point", "Point"), ("body", "Vec<u8>")],
            vec![ParamShape::Json, ParamShape::RawBody],
        ),
        (vec![("name", "String")], vec![scalar(Scalar::String)]),
        (vec![("text", "Cow<str>")], vec![ParamShape::CowStr]),
        (vec![], vec![]),
    ];
    for (params, expected) in cases {
        assert_eq!(marked(&params), expected, "{params:?}");
    }
}

#[test]
fn http_and_bytes_shapes() {
    use portkey_lookup::RequestBody;
    let http = |shape: ReturnShape| ReturnShape::Http(Box::new(shape));
    let with_status = |shape: ReturnShape| ReturnShape::WithStatus(Box::new(shape));
    let results: Vec<(&str, ReturnShape)> = vec![
        ("bytes::Bytes", ReturnShape::Bytes),
        ("Bytes", ReturnShape::Bytes),
        ("http::Response<String>", http(ReturnShape::Text)),
        ("Response<()>", http(ReturnShape::Unit)),
        ("axum::http::Response<Vec<u8>>", http(ReturnShape::Bytes)),
        ("http::Response<Stats>", http(ReturnShape::Auto)),
        ("reqwest::Response<String>", ReturnShape::Auto),
        ("(http::StatusCode, String)", with_status(ReturnShape::Text)),
        ("(StatusCode, Json)", with_status(ReturnShape::Auto)),
        ("(StatusCode, String, u8)", ReturnShape::Auto),
        ("(my::StatusCode, String)", ReturnShape::Auto),
        (
            "Result<http::Response<String>, E>",
            ReturnShape::Result(Box::new(http(ReturnShape::Text))),
        ),
    ];
    for (ty, expected) in results {
        assert_eq!(output(ty), expected, "{ty}");
    }
    let params: Vec<(&str, ParamShape)> = vec![
        ("http::Request<String>", ParamShape::HttpRequest(RequestBody::Text)),
        ("Request<Vec<u8>>", ParamShape::HttpRequest(RequestBody::Bytes)),
        ("axum::http::Request<bytes::Bytes>", ParamShape::HttpRequest(RequestBody::Bytes)),
        ("http::Request<()>", ParamShape::HttpRequest(RequestBody::Empty)),
        ("other::Request<String>", ParamShape::Json),
    ];
    for (ty, expected) in params {
        assert_eq!(param(ty), Ok(expected), "{ty}");
    }
    let reason = param("&http::Request<String>").expect_err("a borrowed request");
    assert!(reason.contains("must be taken by value"), "{reason}");
    let reason = param("http::Request<Body>").expect_err("a stream body");
    assert!(reason.contains("use `String`, `Vec<u8>`, `bytes::Bytes` or `()`"), "{reason}");
    let bytes: syn::Type = syn::parse_str("bytes::Bytes").expect("parses");
    assert_eq!(classify_named_param("body", &bytes), Ok(ParamShape::RawBody));
}

#[test]
fn axum_routers() {
    for ty in ["axum::Router", "Router", "axum::Router<()>", "::axum::routing::Router", "Router<AppState>"] {
        assert_eq!(output(ty), ReturnShape::Router, "{ty}");
    }
    for ty in ["my::Router", "matchit::Router<u8>"] {
        assert_eq!(output(ty), ReturnShape::Auto, "{ty}");
    }
}
