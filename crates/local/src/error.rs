//! The error type of the local backend's server and client.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

use portkey_project::ProjectError;

/// An error of starting or running the local server, or of a control call to it.
#[derive(Debug, thiserror::Error)]
pub enum LocalError {
    #[error(transparent)]
    Project(#[from] ProjectError),

    #[error("invalid `serve` arguments: {message}\n{usage}")]
    Arguments {
        message: String,
        usage: &'static str,
    },

    #[error(
        "the project folder {} cannot be opened: {source}; pass the cargo workspace root with `--project`",
        path.display()
    )]
    ProjectRoot {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },

    #[error("failed to start the async runtime of the local server: {source}")]
    AsyncRuntime {
        #[source]
        source: std::io::Error,
    },

    #[error(
        "failed to listen on {address}: {source}; choose another port with `--port`, or stop the \
         program that uses this one"
    )]
    Bind {
        address: SocketAddr,
        #[source]
        source: std::io::Error,
    },

    #[error(
        "a local server (pid {pid}) is already running for the project {} at {url}; use it, or \
         stop it first with `portkey down --manifest-path {}`",
        project_root.display(),
        project_root.join("Cargo.toml").display()
    )]
    AlreadyRunning {
        pid: u32,
        url: String,
        project_root: PathBuf,
    },

    #[error("failed to write {}: {source}; check that the folder is writable", path.display())]
    StateFile {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },

    #[error("the local server failed while serving: {source}")]
    Serve {
        #[source]
        source: std::io::Error,
    },

    #[error("failed to start the local server `{}`: {source}; check that the path is an executable portkey", exe.display())]
    Spawn {
        exe: PathBuf,
        #[source]
        source: std::io::Error,
    },

    #[error(
        "the local server exited with {status} before it became ready; its log {} ends with:\n{log_tail}",
        log_path.display()
    )]
    ServerExited {
        status: String,
        log_path: PathBuf,
        log_tail: String,
    },

    #[error(
        "the local server did not become ready within {waited:?} and was stopped; its log {} ends with:\n{log_tail}",
        log_path.display()
    )]
    StartTimeout {
        waited: Duration,
        log_path: PathBuf,
        log_tail: String,
    },

    #[error(
        "the control request {url} failed: {message}; check that the local server is still running \
         and see its log"
    )]
    Request { url: String, message: String },

    #[error("the local server rejected {url} with status {status}: {body}")]
    Rejected {
        url: String,
        status: u16,
        body: String,
    },

    #[error(
        "the local server (pid {pid}) was asked to stop but still runs after {waited:?}; stop it \
         with `kill {pid}`"
    )]
    ShutdownTimeout { pid: u32, waited: Duration },
}
