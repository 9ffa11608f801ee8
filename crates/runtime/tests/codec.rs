//! Base64 and percent-decoding against RFC 4648 vectors and the WHATWG decoding rules.

use portkey_runtime::{base64, percent};

/// RFC 4648 section 10 test vectors.
const RFC_4648_VECTORS: &[(&str, &str)] = &[
    ("", ""),
    ("f", "Zg=="),
    ("fo", "Zm8="),
    ("foo", "Zm9v"),
    ("foob", "Zm9vYg=="),
    ("fooba", "Zm9vYmE="),
    ("foobar", "Zm9vYmFy"),
];

#[test]
fn base64_encodes_rfc_vectors() {
    for (plain, encoded) in RFC_4648_VECTORS {
        assert_eq!(
            base64::encode(plain.as_bytes()),
            *encoded,
            "encoding {plain:?}"
        );
    }
}

#[test]
fn base64_decodes_rfc_vectors() {
    for (plain, encoded) in RFC_4648_VECTORS {
        assert_eq!(
            base64::decode(encoded.as_bytes()).unwrap(),
            plain.as_bytes(),
            "decoding {encoded:?}"
        );
    }
}

#[test]
fn base64_round_trips_every_byte() {
    let bytes: Vec<u8> = (0..=255u8).chain((0..=255u8).rev()).collect();
    for length in 0..bytes.len() {
        let encoded = base64::encode(&bytes[..length]);
        assert_eq!(
            base64::decode(encoded.as_bytes()).unwrap(),
            &bytes[..length],
            "length {length}"
        );
    }
}

#[test]
fn base64_accepts_missing_padding() {
    assert_eq!(base64::decode(b"Zg").unwrap(), b"f");
    assert_eq!(base64::decode(b"Zm8").unwrap(), b"fo");
}

#[test]
fn base64_skips_line_breaks() {
    assert_eq!(base64::decode(b"Zm9v\r\nYmFy\n").unwrap(), b"foobar");
}

#[test]
fn base64_rejects_invalid_bytes() {
    let error = base64::decode(b"Zm9v*mFy").unwrap_err();
    assert_eq!(error.position, 4);
    assert_eq!(error.byte, b'*');
    assert!(error.to_string().contains("offset 4"), "{error}");
}

#[test]
fn base64_rejects_data_after_padding() {
    let error = base64::decode(b"Zg==Zg==").unwrap_err();
    assert_eq!(error.position, 4);
}

#[test]
fn base64_rejects_lone_symbol() {
    assert!(base64::decode(b"Zm9vY").is_err());
}

#[test]
fn base64_rejects_url_safe_alphabet() {
    assert!(base64::decode(b"-_8=").is_err());
}

#[test]
fn percent_decodes_escapes() {
    assert_eq!(percent::decode_component("a%20b%2Fc"), "a b/c");
    assert_eq!(percent::decode_component("%e2%82%ac"), "\u{20ac}");
}

#[test]
fn percent_component_keeps_plus() {
    assert_eq!(percent::decode_component("a+b"), "a+b");
}

#[test]
fn percent_form_component_turns_plus_into_space() {
    assert_eq!(
        percent::decode_form_component("Ada+Lovelace"),
        "Ada Lovelace"
    );
    assert_eq!(percent::decode_form_component("1%2B1"), "1+1");
}

#[test]
fn percent_keeps_invalid_escapes() {
    assert_eq!(percent::decode_component("100%"), "100%");
    assert_eq!(percent::decode_component("%zz%4"), "%zz%4");
    assert_eq!(percent::decode_component("%%41"), "%A");
}

#[test]
fn percent_replaces_invalid_utf8() {
    assert_eq!(percent::decode_component("a%ffb"), "a\u{fffd}b");
}

#[test]
fn query_keeps_order_and_repetition() {
    let pairs = percent::parse_query("b=2&a=1&b=3&flag&&empty=&x%5B%5D=a+b");
    let expected = [
        ("b", "2"),
        ("a", "1"),
        ("b", "3"),
        ("flag", ""),
        ("empty", ""),
        ("x[]", "a b"),
    ];
    let actual: Vec<(&str, &str)> = pairs
        .iter()
        .map(|(k, v)| (k.as_str(), v.as_str()))
        .collect();
    assert_eq!(actual, expected);
}

#[test]
fn query_splits_at_first_equals_sign() {
    let pairs = percent::parse_query("expr=a=b");
    assert_eq!(pairs, [("expr".to_owned(), "a=b".to_owned())]);
}
