//! Names derived from a function path: the shim directory, package and binary names, and the
//! path as Rust source (with `r#` where a segment is a keyword).

use crate::files::sha256_hex;

/// The names of one shim.
pub(crate) struct ShimNames {
    /// The directory under `shims/`.
    pub(crate) dir_name: String,
    pub(crate) package_name: String,
    pub(crate) bin_name: String,
}

impl ShimNames {
    /// Joins the segments with `-`, which no identifier contains, so distinct paths get distinct
    /// names (`hello::Greeter::greet` gives `hello-Greeter-greet`). Characters outside ASCII
    /// letters, digits and `_` become `_`, and then a short hash of the path keeps names distinct.
    pub(crate) fn for_path(call_path: &str) -> ShimNames {
        let joined = call_path.split("::").collect::<Vec<_>>().join("-");
        let mut name: String = joined
            .chars()
            .map(|c| {
                if c.is_ascii_alphanumeric() || c == '_' || c == '-' {
                    c
                } else {
                    '_'
                }
            })
            .collect();
        if name != joined {
            let digest = sha256_hex(call_path.as_bytes());
            name = format!("{name}-{}", &digest[..8]);
        }
        ShimNames {
            package_name: format!("portkey-shim-{name}"),
            bin_name: name.clone(),
            dir_name: name,
        }
    }
}

/// Rust's strict and reserved keywords (2021 edition) that a raw identifier may spell.
const KEYWORDS: &[&str] = &[
    "as", "break", "const", "continue", "else", "enum", "extern", "false", "fn", "for", "if",
    "impl", "in", "let", "loop", "match", "mod", "move", "mut", "pub", "ref", "return", "static",
    "struct", "trait", "true", "type", "unsafe", "use", "where", "while", "async", "await", "dyn",
    "abstract", "become", "box", "do", "final", "macro", "override", "priv", "typeof", "unsized",
    "virtual", "yield", "try", "gen",
];

/// Renders the path as Rust source, with keyword segments as raw identifiers (`r#type`).
pub(crate) fn rust_path(call_path: &str) -> String {
    call_path
        .split("::")
        .map(|segment| {
            if KEYWORDS.contains(&segment) {
                format!("r#{segment}")
            } else {
                segment.to_string()
            }
        })
        .collect::<Vec<_>>()
        .join("::")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_are_distinct_and_valid() {
        let plain = ShimNames::for_path("hello::Greeter::greet");
        assert_eq!(plain.dir_name, "hello-Greeter-greet");
        assert_eq!(plain.bin_name, "hello-Greeter-greet");
        assert_eq!(plain.package_name, "portkey-shim-hello-Greeter-greet");

        let nested = ShimNames::for_path("a::b_c");
        let joined = ShimNames::for_path("a_b::c");
        assert_ne!(nested.dir_name, joined.dir_name);

        let unicode = ShimNames::for_path("hello::grüße");
        assert!(
            unicode.dir_name.starts_with("hello-gr__e-"),
            "{}",
            unicode.dir_name
        );
        assert!(
            unicode
                .dir_name
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-')
        );
        assert_ne!(
            unicode.dir_name,
            ShimNames::for_path("hello::grüßa").dir_name
        );
    }

    #[test]
    fn keywords_become_raw_identifiers() {
        assert_eq!(rust_path("hello::r#type::make"), "hello::r#type::make");
        assert_eq!(rust_path("hello::type::make"), "hello::r#type::make");
        assert_eq!(rust_path("hello::flatter"), "hello::flatter");
    }
}
