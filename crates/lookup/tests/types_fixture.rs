//! The shapes of the `fixtures/types` functions as the lookup reads them from source: the
//! body rules apply per signature, so they are checked on real functions here.

use std::path::{Path, PathBuf};

use portkey_lookup::{
    FoundFunction, LookupRequest, ParamShape, ReturnShape, Scalar, find_function,
};

fn types_manifest() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../fixtures/types/Cargo.toml")
}

fn find(path: &str) -> FoundFunction {
    find_function(&LookupRequest {
        manifest_path: Some(types_manifest()),
        path: path.to_string(),
    })
    .unwrap_or_else(|error| panic!("{path}: {error}"))
}

fn boxed(shape: ParamShape) -> Box<ParamShape> {
    Box::new(shape)
}

#[test]
fn types_fixture_shapes() {
    let cases: Vec<(&str, Vec<ParamShape>, ReturnShape)> = vec![
        (
            "types::sum_ids",
            vec![
                ParamShape::JsonOrBody,
                ParamShape::Option(boxed(ParamShape::Scalar(Scalar::U32))),
            ],
            ReturnShape::Text,
        ),
        (
            "types::join_tags",
            vec![ParamShape::JsonOrBody],
            ReturnShape::Text,
        ),
        (
            "types::shift",
            vec![ParamShape::JsonOrBody, ParamShape::Scalar(Scalar::I32)],
            ReturnShape::Auto,
        ),
        (
            "types::manhattan",
            vec![ParamShape::Ref(boxed(ParamShape::JsonOrBody))],
            ReturnShape::Text,
        ),
        (
            "types::byte_count",
            vec![ParamShape::RawBody],
            ReturnShape::Text,
        ),
        (
            "types::reverse_bytes",
            vec![ParamShape::Ref(boxed(ParamShape::RawBody))],
            ReturnShape::Bytes,
        ),
        (
            "types::checksum",
            vec![ParamShape::JsonOrBody, ParamShape::Scalar(Scalar::U16)],
            ReturnShape::Text,
        ),
        (
            "types::next_char",
            vec![ParamShape::Scalar(Scalar::Char)],
            ReturnShape::Text,
        ),
        (
            "types::widen",
            vec![
                ParamShape::Scalar(Scalar::U128),
                ParamShape::Scalar(Scalar::I128),
            ],
            ReturnShape::Text,
        ),
        (
            "types::char_count",
            vec![ParamShape::CowStr],
            ReturnShape::Text,
        ),
        (
            "types::greet",
            vec![ParamShape::Option(boxed(ParamShape::CowStr))],
            ReturnShape::Text,
        ),
        (
            "types::json_kind",
            vec![ParamShape::JsonOrBody],
            ReturnShape::Text,
        ),
        (
            "types::bytes_up_to",
            vec![ParamShape::Scalar(Scalar::U8)],
            ReturnShape::Bytes,
        ),
        (
            "types::maybe_bytes",
            vec![ParamShape::Scalar(Scalar::String)],
            ReturnShape::Option(Box::new(ReturnShape::Bytes)),
        ),
        (
            "types::label",
            vec![ParamShape::Scalar(Scalar::String)],
            ReturnShape::Auto,
        ),
    ];
    for (path, params, output) in cases {
        let found = find(path);
        let shapes: Vec<ParamShape> = found
            .signature
            .params
            .iter()
            .map(|param| param.shape.clone())
            .collect();
        assert_eq!(shapes, params, "{path}");
        assert_eq!(found.signature.output, output, "{path}");
    }
}

#[test]
fn raw_body_is_not_required() {
    let byte_count = find("types::byte_count");
    assert!(!byte_count.required(&byte_count.signature.params[0]));
    let reverse = find("types::reverse_bytes");
    assert!(!reverse.required(&reverse.signature.params[0]));
    let shift = find("types::shift");
    assert!(shift.required(&shift.signature.params[0]));
    assert!(shift.required(&shift.signature.params[1]));
    let sum_ids = find("types::sum_ids");
    assert!(!sum_ids.required(&sum_ids.signature.params[1]));
}
