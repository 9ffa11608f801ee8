//! `cargo portkey ...`: cargo runs this as `cargo-portkey portkey ...`, so the extra `portkey`
//! argument is dropped and the rest is handled exactly as `portkey ...`.

fn main() -> std::process::ExitCode {
    let mut args: Vec<std::ffi::OsString> = std::env::args_os().collect();
    if args.get(1).is_some_and(|arg| arg == "portkey") {
        args.remove(1);
    }
    // Help and usage lines then read `cargo portkey ...`, the way the user typed it.
    if let Some(program) = args.first_mut() {
        *program = "cargo portkey".into();
    }
    portkey_cli::main_with_args(args)
}
