//! The JSON documents the server exchanges with its clients: `server.json`, and the bodies of
//! the `/_portkey/` control endpoints.

use std::path::PathBuf;

use serde::{Deserialize, Serialize};

/// A running server, as recorded in `<state_dir>/server.json`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ServerInfo {
    pub pid: u32,
    /// The gateway port.
    pub port: u16,
    /// The gateway's base URL, `http://127.0.0.1:PORT`, without a trailing slash.
    pub url: String,
    pub project_root: PathBuf,
    /// The address the gateway is bound to; absent in state files that predate it, which were
    /// always bound to 127.0.0.1.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub bind: Option<std::net::IpAddr>,
}

/// The body of `GET /_portkey/health`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Health {
    pub pid: u32,
    pub port: u16,
    pub project_root: PathBuf,
    /// The Runtime API emulator's address, `127.0.0.1:PORT`.
    pub runtime_api: String,
}

/// One mount as the server serves it, from `GET /_portkey/mounts`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct MountStatus {
    pub function: String,
    pub method: String,
    pub template: String,
    /// The API Gateway route key, for example `GET /users/{id}`.
    pub route_key: String,
    /// The template on the gateway, for example `http://127.0.0.1:9000/hello?name={name}`.
    pub url: String,
    pub code_sha256: String,
    pub instances: InstanceCounts,
}

/// How many instances of one mount are in each state.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct InstanceCounts {
    /// Started, waiting for their first `next` request, not yet assigned to a request.
    pub starting: usize,
    /// Waiting for an invocation.
    pub idle: usize,
    /// Running an invocation, or starting for a request that waits for them.
    pub busy: usize,
}

/// A mount of `portkey.json` the server could not serve, with the reason.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SkippedMount {
    pub function: String,
    pub error: String,
}

/// One running instance, from `GET /_portkey/instances`: which process it is and how long its
/// cold start took.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct InstanceStatus {
    pub function: String,
    pub id: u64,
    /// The process id of the bootstrap, or of qemu-user running it.
    pub pid: Option<u32>,
    /// From the process start to its first `next` request (Lambda's init duration), in
    /// microseconds; `None` while the process is starting.
    pub init_us: Option<u64>,
    /// From the process start to its first posted response or error, in microseconds; `None`
    /// before the first invocation ends.
    pub first_response_us: Option<u64>,
    /// Invocations completed.
    pub invocations: u64,
}

/// The body of `GET /_portkey/instances`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct InstanceList {
    pub instances: Vec<InstanceStatus>,
}

/// The body of `GET /_portkey/mounts`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct MountList {
    pub mounts: Vec<MountStatus>,
    pub skipped: Vec<SkippedMount>,
}

/// The body of `POST /_portkey/reload`: the functions whose mounts changed.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ReloadReport {
    /// Newly served.
    pub added: Vec<String>,
    /// No longer served.
    pub removed: Vec<String>,
    /// Served by new instances because their code or settings changed: each new instance
    /// finished init before traffic moved to it.
    pub replaced: Vec<String>,
    /// Their code or settings changed, but the new instance failed to start, so the old
    /// instances keep serving.
    #[serde(default)]
    pub failed: Vec<SkippedMount>,
    /// Only their method or URL template changed, so their instances were kept.
    pub rerouted: Vec<String>,
    /// In `portkey.json` but not served.
    pub skipped: Vec<SkippedMount>,
}
