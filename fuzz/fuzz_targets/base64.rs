//! Base64 bodies: decoding any bytes, and encode/decode round trips.
//! The check lives in `crates/runtime/tests/support/fuzz_checks.rs`, which the corpus replay
//! test of `cargo test` runs too.

#![no_main]

#[path = "../../crates/runtime/tests/support/fuzz_checks.rs"]
mod fuzz_checks;

libfuzzer_sys::fuzz_target!(|data: &[u8]| fuzz_checks::check_base64(data));
