//! Readable names of symbols: Rust's legacy (`_ZN...E`) and v0 (`_R...`) manglings demangled
//! with or without the hash suffix. Symbols that are not Rust symbols keep their own name.

/// Demangles a Rust symbol without its hash, or returns `None` for other symbols.
pub fn demangle(name: &str) -> Option<String> {
    rustc_demangle::try_demangle(name)
        .ok()
        .map(|demangled| format!("{demangled:#}"))
}

/// Demangles a Rust symbol with its hash suffix (`::h0123456789abcdef` for legacy mangling),
/// or returns `None` for other symbols.
pub fn demangle_with_hash(name: &str) -> Option<String> {
    rustc_demangle::try_demangle(name)
        .ok()
        .map(|demangled| demangled.to_string())
}

/// Returns the name to show a reader: demangled without the hash, or the symbol itself.
pub fn display_name(name: &str) -> String {
    demangle(name).unwrap_or_else(|| name.to_string())
}

/// Returns the crate of a demangled path: the identifier before the first `::`, so
/// `<alloc::string::String as core::fmt::Write>::write_str` belongs to `alloc` and
/// `<[u8] as core::fmt::Debug>::fmt` to `core`.
pub fn crate_of_path(demangled: &str) -> Option<String> {
    let separator = demangled.find("::")?;
    let head = &demangled[..separator];
    let start = head
        .rfind(|c: char| !(c.is_alphanumeric() || c == '_'))
        .map(|position| position + 1)
        .unwrap_or(0);
    let name = &head[start..];
    if name.is_empty() {
        return None;
    }
    Some(name.to_string())
}

/// Returns the last `::` segment of a path outside `<...>`, so `<T as core::fmt::Debug>::fmt`
/// gives `fmt` and `hello::flatter` gives `flatter`.
pub fn last_segment(path: &str) -> &str {
    let mut depth = 0usize;
    let mut start = 0;
    let bytes = path.as_bytes();
    let mut index = 0;
    while index < bytes.len() {
        match bytes[index] {
            b'<' => depth += 1,
            b'>' => depth = depth.saturating_sub(1),
            b':' if depth == 0 && bytes.get(index + 1) == Some(&b':') => {
                start = index + 2;
                index += 1;
            }
            _ => {}
        }
        index += 1;
    }
    &path[start..]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn crate_is_first_path_segment() {
        let cases = [
            ("std::io::stdio::_print", Some("std")),
            (
                "<alloc::string::String as core::fmt::Write>::write_str",
                Some("alloc"),
            ),
            ("<[u8] as core::fmt::Debug>::fmt", Some("core")),
            ("<&T as core::fmt::Display>::fmt", Some("core")),
            ("main", None),
            ("hello::flatter", Some("hello")),
        ];
        for (path, expected) in cases {
            assert_eq!(crate_of_path(path).as_deref(), expected, "path {path}");
        }
    }

    #[test]
    fn demangle_handles_both_manglings() {
        assert_eq!(
            demangle("_ZN3std2io5stdio6_print17h0123456789abcdefE").as_deref(),
            Some("std::io::stdio::_print")
        );
        assert_eq!(
            demangle_with_hash("_ZN3std2io5stdio6_print17h0123456789abcdefE").as_deref(),
            Some("std::io::stdio::_print::h0123456789abcdef")
        );
        assert_eq!(
            demangle("_RNvNtCsaz6eC2DG7lh_3std9panicking11EMPTY_PANIC").as_deref(),
            Some("std::panicking::EMPTY_PANIC")
        );
        assert_eq!(demangle("memcpy"), None);
        assert_eq!(display_name("memcpy"), "memcpy");
    }

    #[test]
    fn last_segment_skips_generic_arguments() {
        let cases = [
            ("hello::flatter", "flatter"),
            ("<T as core::fmt::Debug>::fmt", "fmt"),
            (
                "core::ptr::drop_in_place<alloc::string::String>",
                "drop_in_place<alloc::string::String>",
            ),
            ("main", "main"),
        ];
        for (path, expected) in cases {
            assert_eq!(last_segment(path), expected, "path {path}");
        }
    }
}
