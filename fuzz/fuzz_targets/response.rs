//! Response encoding: responses built from the input, encoded for every event kind.
//! The check lives in `crates/runtime/tests/support/fuzz_checks.rs`, which the corpus replay
//! test of `cargo test` runs too.

#![no_main]

#[path = "../../crates/runtime/tests/support/fuzz_checks.rs"]
mod fuzz_checks;

libfuzzer_sys::fuzz_target!(|data: &[u8]| fuzz_checks::check_response(data));
