//! The `portkey` command line: argument parsing, logging set-up and one `run_<command>` per
//! subcommand. The work lives in the library crates; this crate only wires them together.
//! `portkey` and `cargo portkey` share this entry point.

mod args;
mod commands;
mod image;
mod progress;
mod project;

use std::ffi::OsString;
use std::process::ExitCode;

use clap::Parser;

use crate::args::{Cli, Command};

/// Runs portkey with `args` (the first item is the program name) and returns the exit code:
/// 0 on success, 1 on a failure, 2 on invalid arguments.
pub fn main_with_args(args: Vec<OsString>) -> ExitCode {
    let cli = match Cli::try_parse_from(args) {
        Ok(cli) => cli,
        Err(error) => {
            let code = if error.use_stderr() { 2 } else { 0 };
            let _ = error.print();
            return ExitCode::from(code);
        }
    };
    // The backend's log is its only record of function output and instance events, so it logs
    // at info level unless -v or `PORTKEY_LOG` sets another level.
    let verbose = match cli.command {
        Command::Serve(_) => cli.verbose.max(1),
        _ => cli.verbose,
    };
    init_logging(verbose);

    let result = match &cli.command {
        Command::Mount(args) => commands::mount::run_mount(args),
        Command::Shake(args) => commands::shake::run_shake(args),
        Command::Why(args) => commands::why::run_why(args),
        Command::Ls(args) => commands::local::run_ls(args),
        Command::Openapi(args) => commands::local::run_openapi(args),
        Command::Unmount(args) => commands::local::run_unmount(args),
        Command::Invoke(args) => commands::aws::run_invoke(args),
        Command::Policy => commands::aws::run_policy(),
        Command::Dev(args) => commands::dev::run_dev(args),
        Command::Up(args) => commands::local::run_up(args),
        Command::Down(args) => commands::local::run_down(args),
        Command::Serve(args) => commands::local::run_serve(args),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => {
            eprintln!("error: {error}");
            for cause in error.chain().skip(1) {
                eprintln!("  caused by: {cause}");
            }
            ExitCode::FAILURE
        }
    }
}

fn init_logging(verbose: u8) {
    let default = match verbose {
        0 => "warn",
        1 => "info",
        _ => "debug",
    };
    use tracing_subscriber::layer::SubscriberExt;
    use tracing_subscriber::util::SubscriberInitExt;
    use tracing_subscriber::Layer;

    let filter = tracing_subscriber::EnvFilter::try_from_env("PORTKEY_LOG")
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new(default));
    let layer = tracing_subscriber::fmt::layer()
        .with_writer(std::io::stderr)
        .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()))
        .with_filter(filter)
        .with_filter(tracing_subscriber::filter::filter_fn(|metadata| !may_hold_credentials(metadata)));
    let _ = tracing_subscriber::registry().with(layer).try_init();
}

/// Whether an event may print credentials, so that it never reaches the log, whatever
/// `PORTKEY_LOG` requests. In aws-smithy-runtime 1.11 the orchestrator's endpoint and auth
/// events print the resolved identity, access key ID included, at debug and trace level. Other
/// trace-level events of the AWS crates are dropped too, in case a later version adds one.
fn may_hold_credentials(metadata: &tracing::Metadata<'_>) -> bool {
    let target = metadata.target();
    let orchestrator = target.starts_with("aws_smithy_runtime::client::orchestrator::endpoints")
        || target.starts_with("aws_smithy_runtime::client::orchestrator::auth");
    let below_info = *metadata.level() > tracing::Level::INFO;
    let trace = *metadata.level() == tracing::Level::TRACE;
    (orchestrator && below_info) || (trace && target.starts_with("aws_"))
}
