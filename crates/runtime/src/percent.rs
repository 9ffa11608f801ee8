//! Percent-decoding (RFC 3986) and `application/x-www-form-urlencoded` query parsing, for raw
//! query strings, load balancer query values and form bodies; percent-encoding, for the URI of
//! a request handed to an `http::Request` handler.
//!
//! Decoding follows the WHATWG URL rules: a `%` not followed by two hex digits is kept as it is,
//! and bytes that do not form UTF-8 become U+FFFD. Form components also turn `+` into a space.

/// Decodes `%XX` escapes of a URL component; `+` stays a plus sign.
pub fn decode_component(input: &str) -> String {
    decode(input, PlusSign::Literal)
}

/// Decodes a form-encoded component: `%XX` escapes, and `+` as a space.
pub fn decode_form_component(input: &str) -> String {
    decode(input, PlusSign::Space)
}

/// Splits a query string (without the leading `?`) into decoded name/value pairs, in order and
/// with repetitions. A pair without `=` has an empty value; empty pairs (`a=1&&b=2`) are skipped.
pub fn parse_query(query: &str) -> Vec<(String, String)> {
    let mut pairs = Vec::new();
    for pair in query.split('&') {
        if pair.is_empty() {
            continue;
        }
        let (name, value) = pair.split_once('=').unwrap_or((pair, ""));
        pairs.push((decode_form_component(name), decode_form_component(value)));
    }
    pairs
}

/// Percent-encodes every byte of `input` except ASCII letters, digits, `-._~` and the bytes in
/// `keep`, as `%XX` with upper-case hex digits.
pub fn encode(input: &str, keep: &[u8]) -> String {
    const HEX: &[u8; 16] = b"0123456789ABCDEF";
    let mut out = String::with_capacity(input.len());
    for &byte in input.as_bytes() {
        if byte.is_ascii_alphanumeric() || b"-._~".contains(&byte) || keep.contains(&byte) {
            out.push(char::from(byte));
        } else {
            out.push('%');
            out.push(char::from(HEX[usize::from(byte >> 4)]));
            out.push(char::from(HEX[usize::from(byte & 15)]));
        }
    }
    out
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum PlusSign {
    Literal,
    Space,
}

fn decode(input: &str, plus: PlusSign) -> String {
    let bytes = input.as_bytes();
    if !bytes
        .iter()
        .any(|&b| b == b'%' || (b == b'+' && plus == PlusSign::Space))
    {
        return input.to_owned();
    }

    let mut output = Vec::with_capacity(bytes.len());
    let mut index = 0;
    while index < bytes.len() {
        let byte = bytes[index];
        if byte == b'+' && plus == PlusSign::Space {
            output.push(b' ');
            index += 1;
            continue;
        }
        if byte == b'%' {
            let high = bytes.get(index + 1).copied().and_then(hex_value);
            let low = bytes.get(index + 2).copied().and_then(hex_value);
            if let (Some(high), Some(low)) = (high, low) {
                output.push((high << 4) | low);
                index += 3;
                continue;
            }
        }
        output.push(byte);
        index += 1;
    }

    match String::from_utf8(output) {
        Ok(text) => text,
        Err(error) => String::from_utf8_lossy(error.as_bytes()).into_owned(),
    }
}

fn hex_value(byte: u8) -> Option<u8> {
    match byte {
        b'0'..=b'9' => Some(byte - b'0'),
        b'a'..=b'f' => Some(byte - b'a' + 10),
        b'A'..=b'F' => Some(byte - b'A' + 10),
        _ => None,
    }
}

#[cfg(test)]
mod encode_tests {
    use super::{decode_component, encode, parse_query};

    #[test]
    fn encodes_what_a_uri_cannot_hold() {
        assert_eq!(encode("a b/ç?&=%", b"/"), "a%20b/%C3%A7%3F%26%3D%25");
        assert_eq!(encode("-._~AZaz09", b""), "-._~AZaz09");
    }

    #[test]
    fn encoding_round_trips_through_decoding() {
        for text in ["plain", "with space", "100% sure", "a+b", "ünïcödé", "&=?#"] {
            assert_eq!(decode_component(&encode(text, b"")), text);
            let query = format!("{}={}", encode(text, b""), encode(text, b""));
            assert_eq!(parse_query(&query), vec![(text.to_string(), text.to_string())]);
        }
    }
}
