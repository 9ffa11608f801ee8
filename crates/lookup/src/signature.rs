//! Reading a function signature: the checks that make a function callable by a shim (not
//! generic, no `self`, not `unsafe` or variadic, named parameters) and the classification of
//! parameter and result types into the shapes the shim binds. An `async fn` is accepted: the
//! shim runs its future to completion.

use quote::ToTokens;
use syn::{FnArg, GenericArgument, GenericParam, Generics, Pat, PathArguments, ReturnType, Type};

use crate::error::LookupError;
use crate::types::{Param, ParamShape, RequestBody, ReturnShape, Scalar, Signature};

/// Checks that the function can be called by a shim and classifies its signature.
/// `impl_generics` are the generics of the enclosing `impl` block of an associated function.
pub(crate) fn read_signature(
    path: &str,
    signature: &syn::Signature,
    impl_generics: Option<&Generics>,
) -> Result<Signature, LookupError> {
    let path = path.to_string();
    if signature.unsafety.is_some() {
        return Err(LookupError::Unsafe { path });
    }
    if signature.variadic.is_some() {
        return Err(LookupError::Variadic { path });
    }
    let mut generic = type_and_const_params(&signature.generics);
    if let Some(generics) = impl_generics {
        generic.extend(
            type_and_const_params(generics)
                .into_iter()
                .map(|name| format!("{name} (of its impl block)")),
        );
    }
    if !generic.is_empty() {
        return Err(LookupError::Generic {
            path,
            params: generic.join(", "),
        });
    }

    let mut params = Vec::new();
    for (position, input) in signature.inputs.iter().enumerate() {
        let typed = match input {
            FnArg::Receiver(receiver) => {
                let receiver = type_text(&receiver.to_token_stream());
                return Err(LookupError::TakesSelf { path, receiver });
            }
            FnArg::Typed(typed) => typed,
        };
        let ty = type_text(&typed.ty.to_token_stream());
        let name = parameter_name(&typed.pat).ok_or_else(|| LookupError::ParamPattern {
            path: path.clone(),
            position: position + 1,
            pattern: type_text(&typed.pat.to_token_stream()),
            ty: ty.clone(),
        })?;
        let shape = crate::body::classify_named_param(&name, &typed.ty).map_err(|reason| {
            LookupError::UnsupportedParam {
                path: path.clone(),
                param: name.clone(),
                ty: ty.clone(),
                reason,
            }
        })?;
        params.push(Param { name, ty, shape });
    }
    crate::body::mark_whole_body(&mut params);

    let (output, output_type) = match &signature.output {
        ReturnType::Default => (ReturnShape::Unit, None),
        ReturnType::Type(_, ty) => (classify_return(ty), Some(type_text(&ty.to_token_stream()))),
    };
    Ok(Signature {
        params,
        output,
        output_type,
        is_async: signature.asyncness.is_some(),
    })
}

fn type_and_const_params(generics: &Generics) -> Vec<String> {
    generics
        .params
        .iter()
        .filter_map(|param| match param {
            GenericParam::Type(param) => Some(format!("type `{}`", param.ident)),
            GenericParam::Const(param) => Some(format!("const `{}`", param.ident)),
            GenericParam::Lifetime(_) => None,
        })
        .collect()
}

/// Returns the name of a parameter whose pattern is a plain identifier (`name`, `mut name`).
fn parameter_name(pattern: &Pat) -> Option<String> {
    let Pat::Ident(ident) = pattern else {
        return None;
    };
    if ident.subpat.is_some() {
        return None;
    }
    Some(crate::tree::unraw(&ident.ident))
}

/// Classifies a parameter type, or explains why it cannot be bound from a request.
pub fn classify_param(ty: &Type) -> Result<ParamShape, String> {
    reject_unsupported(ty)?;
    classify_param_checked(ty)
}

fn classify_param_checked(ty: &Type) -> Result<ParamShape, String> {
    match ty {
        Type::Paren(inner) => classify_param_checked(&inner.elem),
        Type::Group(inner) => classify_param_checked(&inner.elem),
        Type::Reference(reference) => {
            if is_str(&reference.elem) {
                return Ok(ParamShape::Ref(Box::new(ParamShape::Scalar(Scalar::Str))));
            }
            if http_type(strip_groups(&reference.elem), "Request").is_some() {
                return Err(
                    "an `http::Request` must be taken by value, as the function's parameter itself"
                        .to_string(),
                );
            }
            if matches!(strip_groups(&reference.elem), Type::Reference(_)) {
                return Err(
                    "a reference to a reference cannot be bound; take `&T` or `T`".to_string(),
                );
            }
            Ok(ParamShape::Ref(Box::new(classify_param_checked(
                &reference.elem,
            )?)))
        }
        Type::Path(_) => {
            if let Some(scalar) = scalar_of(ty) {
                return Ok(ParamShape::Scalar(scalar));
            }
            if let Some([body]) = http_type(ty, "Request").as_deref() {
                return Ok(ParamShape::HttpRequest(request_body(body)?));
            }
            if is_cow_str(ty) {
                return Ok(ParamShape::CowStr);
            }
            let Some(inner) = option_inner(ty) else {
                return Ok(ParamShape::Json);
            };
            if option_inner(strip_groups(inner)).is_some() {
                return Err(
                    "a nested `Option` cannot be bound, because a missing value and a null \
                            value look the same in a request; use one `Option`"
                        .to_string(),
                );
            }
            Ok(ParamShape::Option(Box::new(classify_param_checked(inner)?)))
        }
        _ => Ok(ParamShape::Json),
    }
}

/// Rejects types, at any depth, that a request value cannot become.
fn reject_unsupported(ty: &Type) -> Result<(), String> {
    match ty {
        Type::Reference(reference) if reference.mutability.is_some() => Err(
            "`&mut` references cannot be bound, because the caller never sees the change; take the \
             value by `&` or by value and return the result"
                .to_string(),
        ),
        Type::ImplTrait(_) => Err(
            "`impl Trait` parameters are generic; take a concrete type such as `String` or a \
             struct that implements `Deserialize`"
                .to_string(),
        ),
        Type::TraitObject(_) => Err(
            "`dyn Trait` values cannot be built from a request; take a concrete type that \
             implements `Deserialize`"
                .to_string(),
        ),
        Type::Ptr(_) => Err("raw pointers cannot be built from a request; take a value or a `&` reference".to_string()),
        Type::BareFn(_) => Err("function pointers cannot be built from a request; take data and choose the function inside".to_string()),
        Type::Never(_) => Err("`!` has no values, so no request can supply one; remove the parameter".to_string()),
        Type::Infer(_) => Err("`_` is not a type; write the parameter's type".to_string()),
        Type::Macro(_) => Err("a type produced by a macro cannot be read; write the type itself".to_string()),
        Type::Verbatim(_) => Err("this type syntax is not supported; write a plain type".to_string()),
        Type::Reference(reference)
            if reference
                .lifetime
                .as_ref()
                .is_some_and(|lifetime| lifetime.ident == "static") =>
        {
            Err(
                "a `&'static` parameter cannot be bound, because a value read from a request \
                 lives for one call only; take an owned value such as `String`"
                    .to_string(),
            )
        }
        Type::Reference(reference) => reject_unsupported(&reference.elem),
        Type::Paren(inner) => reject_unsupported(&inner.elem),
        Type::Group(inner) => reject_unsupported(&inner.elem),
        Type::Array(array) => reject_unsupported(&array.elem),
        Type::Slice(slice) => reject_unsupported(&slice.elem),
        Type::Tuple(tuple) => tuple.elems.iter().try_for_each(reject_unsupported),
        Type::Path(path) => {
            if let Some(qself) = &path.qself {
                reject_unsupported(&qself.ty)?;
            }
            for segment in &path.path.segments {
                let PathArguments::AngleBracketed(arguments) = &segment.arguments else {
                    continue;
                };
                // `Option<&T>` is bound as `Option<T>` and lent; any other borrow inside a type
                // would have to borrow from the request, which serde cannot do for JSON values.
                let lends = segment.ident == "Option";
                for argument in &arguments.args {
                    if let GenericArgument::Type(inner) = argument {
                        if !lends && matches!(strip_groups(inner), Type::Reference(_)) {
                            return Err(format!(
                                "the borrowed type inside `{}<..>` cannot be read from a request; \
                                 use an owned type, such as `String` for `&str` or `Vec<T>` for `&[T]`",
                                segment.ident
                            ));
                        }
                        reject_unsupported(inner)?;
                    }
                }
            }
            Ok(())
        }
        _ => Ok(()),
    }
}

/// Classifies a result type.
pub fn classify_return(ty: &Type) -> ReturnShape {
    match ty {
        Type::Paren(inner) => classify_return(&inner.elem),
        Type::Group(inner) => classify_return(&inner.elem),
        Type::Never(_) => ReturnShape::Unit,
        Type::Tuple(tuple) if tuple.elems.is_empty() => ReturnShape::Unit,
        Type::Tuple(tuple) if tuple.elems.len() == 2 && is_status_code(&tuple.elems[0]) => {
            ReturnShape::WithStatus(Box::new(classify_return(&tuple.elems[1])))
        }
        Type::Reference(reference) => {
            let referent = strip_groups(&reference.elem);
            if is_str(referent) || scalar_of(referent).is_some() {
                return ReturnShape::Text;
            }
            ReturnShape::Auto
        }
        Type::Path(_) => {
            if scalar_of(ty).is_some() || is_cow_str(ty) {
                return ReturnShape::Text;
            }
            if is_bytes(ty)
                || matches!(last_segment_types(ty, "Vec").as_deref(), Some([element]) if is_u8(element))
            {
                return ReturnShape::Bytes;
            }
            if let Some([body]) = http_type(ty, "Response").as_deref() {
                return ReturnShape::Http(Box::new(classify_return(body)));
            }
            if is_axum_router(ty) {
                return ReturnShape::Router;
            }
            if let Some(ok) = result_ok(ty) {
                return ReturnShape::Result(Box::new(classify_return(ok)));
            }
            if let Some(inner) = option_inner(ty) {
                return ReturnShape::Option(Box::new(classify_return(inner)));
            }
            ReturnShape::Auto
        }
        _ => ReturnShape::Auto,
    }
}

pub(crate) fn strip_groups(ty: &Type) -> &Type {
    match ty {
        Type::Paren(inner) => strip_groups(&inner.elem),
        Type::Group(inner) => strip_groups(&inner.elem),
        _ => ty,
    }
}

/// Returns the identifiers of a path type that has no generic arguments on any segment.
fn plain_path(ty: &Type) -> Option<Vec<String>> {
    let Type::Path(path) = strip_groups(ty) else {
        return None;
    };
    if path.qself.is_some()
        || path
            .path
            .segments
            .iter()
            .any(|segment| !segment.arguments.is_none())
    {
        return None;
    }
    Some(
        path.path
            .segments
            .iter()
            .map(|segment| segment.ident.to_string())
            .collect(),
    )
}

fn is_str(ty: &Type) -> bool {
    let Some(segments) = plain_path(ty) else {
        return false;
    };
    let names: Vec<&str> = segments.iter().map(String::as_str).collect();
    matches!(
        names.as_slice(),
        ["str"] | ["std" | "core", "primitive", "str"]
    )
}

/// Returns the scalar a type names: a primitive (also as `std::primitive::u32`) or `String`.
fn scalar_of(ty: &Type) -> Option<Scalar> {
    let segments = plain_path(ty)?;
    let names: Vec<&str> = segments.iter().map(String::as_str).collect();
    let name = match names.as_slice() {
        ["String"] | ["std" | "alloc", "string", "String"] => return Some(Scalar::String),
        [name] | ["std" | "core", "primitive", name] => *name,
        _ => return None,
    };
    Scalar::from_rust_name(name)
        .filter(|scalar| *scalar != Scalar::Str && *scalar != Scalar::String)
}

/// Returns the type arguments of the last segment when it is called `name` and has no other kind of
/// argument.
pub(crate) fn last_segment_types<'t>(ty: &'t Type, name: &str) -> Option<Vec<&'t Type>> {
    let Type::Path(path) = strip_groups(ty) else {
        return None;
    };
    if path.qself.is_some() {
        return None;
    }
    let last = path.path.segments.last()?;
    if last.ident != name {
        return None;
    }
    let PathArguments::AngleBracketed(arguments) = &last.arguments else {
        return None;
    };
    let mut types = Vec::new();
    for argument in &arguments.args {
        match argument {
            GenericArgument::Type(inner) => types.push(inner),
            GenericArgument::Lifetime(_) => {}
            _ => return None,
        }
    }
    Some(types)
}

/// Returns the `T` of `Option<T>`, `std::option::Option<T>` or `core::option::Option<T>`.
fn option_inner(ty: &Type) -> Option<&Type> {
    let Type::Path(path) = strip_groups(ty) else {
        return None;
    };
    let prefix: Vec<String> = path
        .path
        .segments
        .iter()
        .rev()
        .skip(1)
        .map(|segment| segment.ident.to_string())
        .collect();
    let prefix: Vec<&str> = prefix.iter().rev().map(String::as_str).collect();
    if !matches!(prefix.as_slice(), [] | ["std" | "core", "option"]) {
        return None;
    }
    match last_segment_types(ty, "Option")?.as_slice() {
        [inner] => Some(*inner),
        _ => None,
    }
}

/// Returns the `T` of any path ending in `Result` with one or two type arguments (`Result<T, E>`,
/// `io::Result<T>`, `anyhow::Result<T>`).
fn result_ok(ty: &Type) -> Option<&Type> {
    match last_segment_types(ty, "Result")?.as_slice() {
        [ok] | [ok, _] => Some(*ok),
        _ => None,
    }
}

/// Returns the identifiers before the last segment of a path type.
fn path_prefix(ty: &Type) -> Option<Vec<String>> {
    let Type::Path(path) = strip_groups(ty) else {
        return None;
    };
    let segments = &path.path.segments;
    Some(
        segments
            .iter()
            .take(segments.len().saturating_sub(1))
            .map(|segment| segment.ident.to_string())
            .collect(),
    )
}

/// Returns the type arguments of a type from the `http` crate called `name`: written bare
/// (`Response<String>`, imported with `use`) or under a path through a module called `http`
/// (`http::Response<String>`, `axum::http::Response<String>`).
fn http_type<'t>(ty: &'t Type, name: &str) -> Option<Vec<&'t Type>> {
    let prefix = path_prefix(ty)?;
    if !prefix.is_empty() && !prefix.iter().any(|segment| segment == "http") {
        return None;
    }
    last_segment_types(ty, name)
}

/// Returns whether a type is `axum::Router` or `Router` (imported with `use`), with or without
/// a state type. The shim rejects a state other than `()`, because nothing could supply it.
/// NOTE: other tower `Service` types of requests are not recognised, so they cannot be mounted.
fn is_axum_router(ty: &Type) -> bool {
    let Some(prefix) = path_prefix(ty) else {
        return false;
    };
    if !prefix.is_empty() && prefix.iter().all(|segment| segment != "axum") {
        return false;
    }
    match last_segment_types(ty, "Router").as_deref() {
        Some([] | [_]) => true,
        _ => plain_path(ty).is_some_and(|segments| segments.last().is_some_and(|last| last == "Router")),
    }
}

/// Returns whether a type is `http::StatusCode` (or `StatusCode` imported with `use`).
fn is_status_code(ty: &Type) -> bool {
    let Some(segments) = plain_path(ty) else {
        return false;
    };
    segments.last().is_some_and(|last| last == "StatusCode")
        && (segments.len() == 1 || segments.iter().any(|segment| segment == "http"))
}

/// Returns whether a type is `bytes::Bytes` (or `Bytes` imported with `use`).
pub(crate) fn is_bytes(ty: &Type) -> bool {
    let Some(segments) = plain_path(ty) else {
        return false;
    };
    let names: Vec<&str> = segments.iter().map(String::as_str).collect();
    matches!(names.as_slice(), ["Bytes"] | [.., "bytes", "Bytes"])
}

/// Classifies the body type of an `http::Request<B>` parameter.
fn request_body(body: &Type) -> Result<RequestBody, String> {
    let body = strip_groups(body);
    if matches!(body, Type::Tuple(tuple) if tuple.elems.is_empty()) {
        return Ok(RequestBody::Empty);
    }
    if scalar_of(body) == Some(Scalar::String) {
        return Ok(RequestBody::Text);
    }
    if is_bytes(body)
        || matches!(last_segment_types(body, "Vec").as_deref(), Some([element]) if is_u8(element))
    {
        return Ok(RequestBody::Bytes);
    }
    Err(format!(
        "an `http::Request` body of type `{}` cannot be built; use `String`, `Vec<u8>`, \
         `bytes::Bytes` or `()`",
        type_text(&body.to_token_stream())
    ))
}

/// Returns whether a type is `u8`, also written `std::primitive::u8`.
pub(crate) fn is_u8(ty: &Type) -> bool {
    scalar_of(ty) == Some(Scalar::U8)
}

/// `Cow<str>` with or without a lifetime, under any path.
fn is_cow_str(ty: &Type) -> bool {
    matches!(last_segment_types(ty, "Cow").as_deref(), Some([inner]) if is_str(inner))
}

/// Renders tokens with the spacing a person would write: `&'a str`, `Vec<u8>`, `io::Result<()>`,
/// `[u8; 4]`, `(u32, u32)`.
pub(crate) fn type_text(tokens: &proc_macro2::TokenStream) -> String {
    let raw = tokens.to_string();
    let chars: Vec<char> = raw.chars().collect();
    let mut text = String::with_capacity(raw.len());
    for (index, &current) in chars.iter().enumerate() {
        if current != ' ' {
            text.push(current);
            continue;
        }
        let before = text.chars().last().unwrap_or(' ');
        let after = chars.get(index + 1).copied().unwrap_or(' ');
        let drop = matches!(before, '&' | '<' | '(' | '[' | '*' | ':')
            || matches!(after, '<' | '>' | ',' | ')' | ']' | ';' | ':')
            || (after == '(' && (before.is_alphanumeric() || before == '_'));
        if !drop {
            text.push(' ');
        }
    }
    text
}

#[cfg(test)]
mod tests {
    use super::*;

    fn read(source: &str) -> Result<Signature, LookupError> {
        let item: syn::ItemFn =
            syn::parse_str(source).unwrap_or_else(|error| panic!("{source}: {error}"));
        read_signature("crate_name::f", &item.sig, None)
    }

    #[test]
    fn rejected_signatures() {
        type IsVariant = fn(&LookupError) -> bool;
        let cases: &[(&str, IsVariant)] = &[
            ("unsafe fn f() {}", |error| {
                matches!(error, LookupError::Unsafe { .. })
            }),
            ("unsafe extern \"C\" fn f(x: i32, ...) {}", |error| {
                matches!(error, LookupError::Unsafe { .. })
            }),
            ("extern \"C\" fn f(x: i32, ...) {}", |error| {
                matches!(error, LookupError::Variadic { .. })
            }),
            ("fn f<T>(x: T) {}", |error| {
                matches!(error, LookupError::Generic { .. })
            }),
            ("fn f<const N: usize>() {}", |error| {
                matches!(error, LookupError::Generic { .. })
            }),
            ("fn f(self) {}", |error| {
                matches!(error, LookupError::TakesSelf { .. })
            }),
            ("fn f(&mut self) {}", |error| {
                matches!(error, LookupError::TakesSelf { .. })
            }),
            ("fn f(self: Box<Self>) {}", |error| {
                matches!(error, LookupError::TakesSelf { .. })
            }),
            ("fn f(x: !) {}", |error| {
                matches!(error, LookupError::UnsupportedParam { .. })
            }),
            ("fn f(_: u8) {}", |error| {
                matches!(error, LookupError::ParamPattern { .. })
            }),
            ("fn f(Point { x, y }: Point) {}", |error| {
                matches!(error, LookupError::ParamPattern { .. })
            }),
            ("fn f(all @ 1..=3: u8) {}", |error| {
                matches!(error, LookupError::ParamPattern { .. })
            }),
        ];
        for (source, variant) in cases {
            let error = read(source).expect_err(source);
            assert!(variant(&error), "{source}: {error:?}");
            assert!(
                error.to_string().contains("`crate_name::f`"),
                "{source}: {error}"
            );
        }
    }

    #[test]
    fn accepted_signatures() {
        let signature = read(
            "fn f<'a>(mut name: String, tag: Option<&'a str>) -> std::io::Result<()> { todo!() }",
        )
        .expect("lifetimes and `mut` bindings are fine");
        let names: Vec<&str> = signature
            .params
            .iter()
            .map(|param| param.name.as_str())
            .collect();
        assert_eq!(names, ["name", "tag"]);
        assert_eq!(signature.params[1].ty, "Option<&'a str>");
        assert_eq!(
            signature.output,
            ReturnShape::Result(Box::new(ReturnShape::Unit))
        );
        assert_eq!(
            signature.output_type.as_deref(),
            Some("std::io::Result<()>")
        );

        let signature = read("fn f(r#type: u8) {}").expect("raw identifiers are fine");
        assert_eq!(signature.params[0].name, "type");
        assert_eq!(signature.output, ReturnShape::Unit);
        assert_eq!(signature.output_type, None);

        let signature = read("extern \"C\" fn f(value: i32) -> i32 { value }")
            .expect("a C ABI without `...` is fine");
        assert_eq!(signature.params[0].shape, ParamShape::Scalar(Scalar::I32));
    }

    #[test]
    fn impl_generics_are_checked() {
        let item: syn::ItemFn = syn::parse_str("fn make() -> usize { 0 }").expect("parses");
        let generics: Generics = syn::parse_str("<T: Clone, 'a>").expect("parses");
        let error = read_signature("c::Wrapper::make", &item.sig, Some(&generics))
            .expect_err("impl is generic");
        assert!(
            error.to_string().contains("type `T` (of its impl block)"),
            "{error}"
        );

        let lifetimes: Generics = syn::parse_str("<'a>").expect("parses");
        read_signature("c::Wrapper::make", &item.sig, Some(&lifetimes))
            .expect("lifetimes are fine");
    }

    #[test]
    fn type_text_spacing() {
        let cases = [
            "&'a str",
            "Vec<u8>",
            "io::Result<()>",
            "[u8; 4]",
            "(u32, u32)",
            "HashMap<String, Vec<u8>>",
            "*const u8",
            "fn(u32) -> u32",
            "&mut Vec<u32>",
            "Box<dyn Display + Send>",
            "<T as Trait>::Output",
            "Option<&[i64]>",
            "impl Fn(u32) -> (u32, u32)",
        ];
        for written in cases {
            let ty: Type = syn::parse_str(written).expect("parses");
            assert_eq!(type_text(&ty.to_token_stream()), written);
        }
    }
}
