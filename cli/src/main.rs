//! The `portkey` executable.

fn main() -> std::process::ExitCode {
    portkey_cli::main_with_args(std::env::args_os().collect())
}
