//! The local backend: a Runtime API emulator behind an HTTP gateway on 127.0.0.1.
//!
//! `serve` runs a server for one cargo workspace. It reads the mounts of `portkey.json`, routes
//! each gateway request by method and URL template to its function, and runs the function's
//! Lambda `bootstrap` as child processes that fetch their invocations from the emulator, the way
//! Lambda's custom runtimes do. The client functions (`running`, `ensure_running`, `reload`,
//! `list`, `shutdown`, `url_for`) are what the CLI calls; they find the server through
//! `<state_dir>/server.json`.

mod api;
mod automatic_response;
mod body;
pub mod client;
mod config;
mod connection;
mod control;
mod error;
mod event;
mod gateway;
mod ids;
mod instance;
mod invoke;
mod launcher;
mod mounts;
mod pool;
mod response;
mod routes;
mod runtime_api;
mod server;
mod shared;
mod state_file;

pub use api::{
    Health, InstanceCounts, InstanceList, InstanceStatus, MountList, MountStatus, ReloadReport,
    ServerInfo, SkippedMount,
};
pub use body::{MAX_PAYLOAD_BYTES, MAX_RESULT_BYTES};
pub use client::{
    SERVER_LOG_NAME, StartOptions, ensure_running, list, reload, running, shutdown, url_for,
};
pub use config::{
    DEFAULT_HEADER_READ_TIMEOUT, DEFAULT_INIT_TIMEOUT, DEFAULT_MAX_INSTANCES, ServerConfig,
    default_state_dir, parse_serve_args, serve_main,
};
pub use error::LocalError;
pub use ids::lambda_function_name;
pub use server::serve;
pub use state_file::{SERVER_FILE_NAME, server_file_path};
