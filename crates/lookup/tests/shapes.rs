//! The classification of parameter and result types, as a table of types written in Rust.

use portkey_lookup::{ParamShape, ReturnShape, Scalar, classify_param, classify_return};

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
