//! The body rules of a signature: which parameter receives the raw request body bytes, and
//! which one may bind from the whole JSON body when the body has no field of its name.

use syn::Type;

use crate::signature::{is_bytes, is_u8, last_segment_types, strip_groups};
use crate::types::{Param, ParamShape};

/// The parameter name that selects the raw body for a byte buffer type.
pub const RAW_BODY_NAME: &str = "body";

/// Classifies a parameter by its name and type: a byte buffer named `body` receives the raw
/// body, and every other parameter is classified by its type alone.
pub fn classify_named_param(name: &str, ty: &Type) -> Result<ParamShape, String> {
    if name == RAW_BODY_NAME
        && let Some(shape) = raw_body_shape(ty)
    {
        return Ok(shape);
    }
    crate::signature::classify_param(ty)
}

/// Returns the raw body shape of `Vec<u8>`, `bytes::Bytes`, `&[u8]` and `&Vec<u8>`, or `None`
/// for other types.
fn raw_body_shape(ty: &Type) -> Option<ParamShape> {
    match strip_groups(ty) {
        Type::Reference(reference) if reference.mutability.is_none() => {
            let referent = strip_groups(&reference.elem);
            let is_buffer = match referent {
                Type::Slice(slice) => is_u8(&slice.elem),
                other => is_byte_vec(other),
            };
            is_buffer.then(|| ParamShape::Ref(Box::new(ParamShape::RawBody)))
        }
        other => (is_byte_vec(other) || is_bytes(other)).then_some(ParamShape::RawBody),
    }
}

fn is_byte_vec(ty: &Type) -> bool {
    matches!(last_segment_types(ty, "Vec").as_deref(), Some([element]) if is_u8(element))
}

/// Marks the parameter that binds from the whole JSON body when no source has a value of its
/// name. That happens when exactly one parameter has a JSON shape (by value, by reference or
/// inside `Option`), that parameter is not optional, and no parameter receives the raw body.
pub fn mark_whole_body(params: &mut [Param]) {
    if params
        .iter()
        .any(|param| contains(&param.shape, &ParamShape::RawBody))
    {
        return;
    }
    let mut json_params = params
        .iter_mut()
        .filter(|param| contains(&param.shape, &ParamShape::Json));
    let (Some(only), None) = (json_params.next(), json_params.next()) else {
        return;
    };
    only.shape = match &only.shape {
        ParamShape::Json => ParamShape::JsonOrBody,
        ParamShape::Ref(inner) if **inner == ParamShape::Json => {
            ParamShape::Ref(Box::new(ParamShape::JsonOrBody))
        }
        other => other.clone(),
    };
}

/// Returns whether `shape` is `leaf`, possibly inside `Option` and `&`.
fn contains(shape: &ParamShape, leaf: &ParamShape) -> bool {
    match shape {
        ParamShape::Option(inner) | ParamShape::Ref(inner) => contains(inner, leaf),
        other => other == leaf,
    }
}
