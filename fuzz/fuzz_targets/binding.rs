//! Parameter binding: structured events of every kind built from the input, bound in every
//! parameter shape the shim generates.
//! The check lives in `crates/runtime/tests/support/fuzz_checks.rs`, which the corpus replay
//! test of `cargo test` runs too.

#![no_main]

#[path = "../../crates/runtime/tests/support/fuzz_checks.rs"]
mod fuzz_checks;

libfuzzer_sys::fuzz_target!(|data: &[u8]| fuzz_checks::check_binding(data));
