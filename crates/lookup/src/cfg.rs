//! Evaluation of `#[cfg(...)]` attributes, so the lookup sees the items of the build that the
//! shim makes: `test` is off, `feature = ".."` follows the features cargo resolved, and the
//! target is Linux (the Lambda platform). Predicates it cannot decide count as enabled, so an
//! item is skipped only when its `cfg` is certainly false.

use std::collections::BTreeSet;

use quote::ToTokens;
use syn::meta::ParseNestedMeta;
use syn::{Attribute, LitStr};

/// The value of a `cfg` predicate; `Unknown` stands for anything the lookup cannot decide.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Truth {
    True,
    False,
    Unknown,
}

impl Truth {
    fn from_bool(value: bool) -> Truth {
        if value { Truth::True } else { Truth::False }
    }

    fn not(self) -> Truth {
        match self {
            Truth::True => Truth::False,
            Truth::False => Truth::True,
            Truth::Unknown => Truth::Unknown,
        }
    }
}

/// Returns `Err` with the attribute's text when one of `attrs` is a `cfg` that is certainly false.
pub(crate) fn check_enabled(
    attrs: &[Attribute],
    features: &BTreeSet<String>,
) -> Result<(), String> {
    for attr in attrs.iter().filter(|attr| attr.path().is_ident("cfg")) {
        if evaluate_attribute(attr, features) == Truth::False {
            let meta = crate::signature::type_text(&attr.meta.to_token_stream());
            return Err(format!("#[{meta}]"));
        }
    }
    Ok(())
}

fn evaluate_attribute(attr: &Attribute, features: &BTreeSet<String>) -> Truth {
    let mut truth = Truth::Unknown;
    let parsed = attr.parse_nested_meta(|meta| {
        truth = evaluate_predicate(&meta, features)?;
        Ok(())
    });
    match parsed {
        Ok(()) => truth,
        Err(_) => Truth::Unknown,
    }
}

fn evaluate_predicate(
    meta: &ParseNestedMeta<'_>,
    features: &BTreeSet<String>,
) -> syn::Result<Truth> {
    let Some(name) = meta.path.get_ident().map(ToString::to_string) else {
        return Ok(Truth::Unknown);
    };
    match name.as_str() {
        "not" => Ok(evaluate_list(meta, features)?
            .first()
            .copied()
            .unwrap_or(Truth::Unknown)
            .not()),
        "all" => Ok(all(&evaluate_list(meta, features)?)),
        "any" => Ok(any(&evaluate_list(meta, features)?)),
        _ if meta.input.peek(syn::Token![=]) => {
            let value: LitStr = meta.value()?.parse()?;
            Ok(evaluate_key_value(&name, &value.value(), features))
        }
        _ if meta.input.peek(syn::token::Paren) => {
            // An unknown predicate with arguments: consume them so parsing can go on.
            evaluate_list(meta, features)?;
            Ok(Truth::Unknown)
        }
        _ => Ok(evaluate_flag(&name)),
    }
}

fn evaluate_list(
    meta: &ParseNestedMeta<'_>,
    features: &BTreeSet<String>,
) -> syn::Result<Vec<Truth>> {
    // `ParseNestedMeta::parse_nested_meta` rejects an empty list, but `any()` and `all()` are
    // valid (false and true), so the parenthesized tokens are parsed here.
    let content;
    syn::parenthesized!(content in meta.input);
    let tokens: proc_macro2::TokenStream = content.parse()?;
    let mut values = Vec::new();
    if tokens.is_empty() {
        return Ok(values);
    }
    let parser = syn::meta::parser(|inner| {
        values.push(evaluate_predicate(&inner, features)?);
        Ok(())
    });
    syn::parse::Parser::parse2(parser, tokens)?;
    Ok(values)
}

fn all(values: &[Truth]) -> Truth {
    if values.contains(&Truth::False) {
        return Truth::False;
    }
    if values.iter().all(|value| *value == Truth::True) {
        return Truth::True;
    }
    Truth::Unknown
}

fn any(values: &[Truth]) -> Truth {
    if values.contains(&Truth::True) {
        return Truth::True;
    }
    if values.iter().all(|value| *value == Truth::False) {
        return Truth::False;
    }
    Truth::Unknown
}

fn evaluate_flag(name: &str) -> Truth {
    match name {
        "test" | "doc" | "doctest" | "miri" | "windows" => Truth::False,
        "unix" => Truth::True,
        _ => Truth::Unknown,
    }
}

fn evaluate_key_value(key: &str, value: &str, features: &BTreeSet<String>) -> Truth {
    match key {
        "feature" => Truth::from_bool(features.contains(value)),
        "target_os" => Truth::from_bool(value == "linux"),
        "target_family" => Truth::from_bool(value == "unix"),
        // Both Lambda architectures, x86_64 and aarch64, have 64-bit pointers.
        "target_pointer_width" => Truth::from_bool(value == "64"),
        // The shim's release profile sets `panic = "unwind"`.
        "panic" => Truth::from_bool(value == "unwind"),
        _ => Truth::Unknown,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn enabled(source: &str, features: &[&str]) -> bool {
        let item: syn::ItemFn =
            syn::parse_str(&format!("{source} fn f() {{}}")).expect("test item parses");
        let features = features.iter().map(ToString::to_string).collect();
        check_enabled(&item.attrs, &features).is_ok()
    }

    #[test]
    fn cfg_table() {
        let cases: &[(&str, &[&str], bool)] = &[
            ("", &[], true),
            ("#[cfg(test)]", &[], false),
            ("#[cfg(not(test))]", &[], true),
            ("#[cfg(feature = \"x\")]", &[], false),
            ("#[cfg(feature = \"x\")]", &["x"], true),
            ("#[cfg(all(feature = \"x\", unix))]", &["x"], true),
            ("#[cfg(all(feature = \"x\", windows))]", &["x"], false),
            ("#[cfg(any(test, feature = \"y\"))]", &[], false),
            ("#[cfg(any(test, target_arch = \"aarch64\"))]", &[], true),
            ("#[cfg(target_os = \"macos\")]", &[], false),
            ("#[cfg(target_os = \"linux\")]", &[], true),
            ("#[cfg(not(target_arch = \"x86_64\"))]", &[], true),
            ("#[cfg(debug_assertions)]", &[], true),
            ("#[cfg(some_unknown(thing))]", &[], true),
            ("#[cfg(not(any()))]", &[], true),
            ("#[cfg(any())]", &[], false),
            ("#[doc = \"x\"] #[cfg(test)]", &[], false),
        ];
        for (attrs, features, expected) in cases {
            assert_eq!(
                enabled(attrs, features),
                *expected,
                "{attrs} with features {features:?}"
            );
        }
    }
}
