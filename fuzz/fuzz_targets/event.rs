//! Event parsing: any bytes as an invocation payload (API Gateway v1 and v2, load balancer,
//! direct), then every accessor, every binding shape and a reply.
//! The check lives in `crates/runtime/tests/support/fuzz_checks.rs`, which the corpus replay
//! test of `cargo test` runs too.

#![no_main]

#[path = "../../crates/runtime/tests/support/fuzz_checks.rs"]
mod fuzz_checks;

libfuzzer_sys::fuzz_target!(|data: &[u8]| fuzz_checks::check_event(data));
