//! Standard base64 (RFC 4648 section 4, `+` and `/`, `=` padding) for the bodies that API
//! Gateway and load balancers mark with `isBase64Encoded`. Written here instead of taken from a
//! crate because every byte of this runtime ships in each Lambda image.

use std::fmt;

const ALPHABET: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

/// Invalid base64 input: the byte offset and the byte found there.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Base64Error {
    /// Offset of the first byte that cannot be decoded.
    pub position: usize,
    /// The byte found at `position`.
    pub byte: u8,
}

impl fmt::Display for Base64Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "invalid base64: unexpected byte 0x{:02x} at offset {}; the body is marked isBase64Encoded but is not standard base64",
            self.byte, self.position
        )
    }
}

impl std::error::Error for Base64Error {}

/// Encodes `input` with padding.
pub fn encode(input: &[u8]) -> String {
    let mut output = String::with_capacity(input.len().div_ceil(3) * 4);
    for chunk in input.chunks(3) {
        let b0 = chunk[0];
        let b1 = chunk.get(1).copied().unwrap_or(0);
        let b2 = chunk.get(2).copied().unwrap_or(0);
        output.push(ALPHABET[usize::from(b0 >> 2)] as char);
        output.push(ALPHABET[usize::from(((b0 & 0x03) << 4) | (b1 >> 4))] as char);
        if chunk.len() > 1 {
            output.push(ALPHABET[usize::from(((b1 & 0x0f) << 2) | (b2 >> 6))] as char);
        } else {
            output.push('=');
        }
        if chunk.len() > 2 {
            output.push(ALPHABET[usize::from(b2 & 0x3f)] as char);
        } else {
            output.push('=');
        }
    }
    output
}

/// Decodes `input`. Padding is optional and ASCII whitespace (line breaks of MIME-style
/// encoders) is skipped. Data after the padding, a lone trailing symbol, or any byte outside the
/// alphabet is an error.
pub fn decode(input: &[u8]) -> Result<Vec<u8>, Base64Error> {
    let mut output = Vec::with_capacity(input.len() / 4 * 3 + 3);
    let mut accumulator: u32 = 0;
    let mut symbols = 0u8;
    let mut padding_at: Option<usize> = None;

    for (position, &byte) in input.iter().enumerate() {
        if byte.is_ascii_whitespace() {
            continue;
        }
        if byte == b'=' {
            padding_at.get_or_insert(position);
            continue;
        }
        let error = Base64Error { position, byte };
        if padding_at.is_some() {
            return Err(error);
        }
        let Some(value) = symbol_value(byte) else {
            return Err(error);
        };
        accumulator = (accumulator << 6) | u32::from(value);
        symbols += 1;
        if symbols == 4 {
            output.push((accumulator >> 16) as u8);
            output.push((accumulator >> 8) as u8);
            output.push(accumulator as u8);
            accumulator = 0;
            symbols = 0;
        }
    }

    match symbols {
        0 => {}
        2 => output.push((accumulator >> 4) as u8),
        3 => {
            output.push((accumulator >> 10) as u8);
            output.push((accumulator >> 2) as u8);
        }
        _ => {
            // A single symbol cannot encode a whole byte.
            let position = input.len().saturating_sub(1);
            let byte = input.last().copied().unwrap_or(0);
            return Err(Base64Error { position, byte });
        }
    }
    Ok(output)
}

fn symbol_value(byte: u8) -> Option<u8> {
    match byte {
        b'A'..=b'Z' => Some(byte - b'A'),
        b'a'..=b'z' => Some(byte - b'a' + 26),
        b'0'..=b'9' => Some(byte - b'0' + 52),
        b'+' => Some(62),
        b'/' => Some(63),
        _ => None,
    }
}
