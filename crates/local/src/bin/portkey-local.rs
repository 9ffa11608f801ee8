//! The local server on its own: `portkey-local serve --project DIR [--port N]`, the same entry
//! point as `portkey serve`.

use std::process::ExitCode;

fn main() -> ExitCode {
    match portkey_local::serve_main(std::env::args().skip(1)) {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => {
            eprintln!("error: {error}");
            ExitCode::FAILURE
        }
    }
}
