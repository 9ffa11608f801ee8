//! One module per subcommand; each exposes a `run_<command>` function called from `lib.rs`.

pub mod aws;
pub mod dev;
pub mod local;
pub mod mount;
pub mod shake;
pub mod why;
