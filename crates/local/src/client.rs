//! The blocking client the CLI uses: finding a running server through `server.json` and its
//! health endpoint, starting one detached when none runs, and the control calls. It talks only
//! to the URL in `server.json`, which the server writes as `http://127.0.0.1:PORT` unless it was
//! bound to another address on purpose.

use std::fs::{self, File, OpenOptions};
use std::io::{Read, Seek, SeekFrom};
use std::net::{Ipv4Addr, TcpListener};
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use portkey_project::ProjectFile;
use serde::de::DeserializeOwned;

use crate::api::{Health, MountList, ReloadReport};
use crate::{LocalError, ServerInfo, state_file};

/// The file the detached server's stdout and stderr go to, inside the state folder.
pub const SERVER_LOG_NAME: &str = "server.log";

/// Serialises `ensure_running` calls, so two commands never start two servers.
const START_LOCK_NAME: &str = "start.lock";

/// How long a health check may take before the server counts as not running.
const HEALTH_TIMEOUT: Duration = Duration::from_secs(2);

/// How long a control call may take; a reload starts processes but does not wait for them.
const CONTROL_TIMEOUT: Duration = Duration::from_secs(30);

/// How long `shutdown` waits for the server process to exit.
const SHUTDOWN_WAIT: Duration = Duration::from_secs(15);

/// How much of the server log a start failure quotes.
const LOG_TAIL_BYTES: u64 = 4096;

const POLL_INTERVAL: Duration = Duration::from_millis(50);

/// How to start a server.
#[derive(Debug, Clone)]
pub struct StartOptions {
    /// The portkey executable; it is run as
    /// `<exe> serve --project ROOT --state-dir DIR [--port N] [--bind IP]`.
    pub portkey_exe: PathBuf,
    pub project_root: PathBuf,
    pub state_dir: PathBuf,
    /// The gateway port; `None` reuses `local.port` of `portkey.json` when that port is free,
    /// and otherwise takes any free port.
    pub port: Option<u16>,
    /// How long to wait for the new server to pass its health check.
    pub startup_timeout: Duration,
    /// The gateway's address; `None` binds 127.0.0.1.
    pub bind: Option<std::net::IpAddr>,
}

impl StartOptions {
    /// Creates options with no fixed port and a 20 second startup timeout.
    pub fn new(
        portkey_exe: impl Into<PathBuf>,
        project_root: impl Into<PathBuf>,
        state_dir: impl Into<PathBuf>,
    ) -> StartOptions {
        StartOptions {
            portkey_exe: portkey_exe.into(),
            project_root: project_root.into(),
            state_dir: state_dir.into(),
            port: None,
            startup_timeout: Duration::from_secs(20),
            bind: None,
        }
    }
}

fn agent(timeout: Duration) -> ureq::Agent {
    ureq::Agent::config_builder()
        .timeout_global(Some(timeout))
        .http_status_as_error(false)
        // The server is local; a proxy from the environment must not see these requests.
        .proxy(None)
        .max_redirects(0)
        .build()
        .into()
}

/// Returns the server recorded in `state_dir/server.json` when its health check reports the
/// same process on the same port. A record left by a dead server counts as not running.
pub fn running(state_dir: &Path) -> Option<ServerInfo> {
    let info = state_file::read(state_dir)?;
    let url = format!("{}/_portkey/health", info.url);
    let mut response = agent(HEALTH_TIMEOUT).get(&url).call().ok()?;
    if response.status() != 200 {
        return None;
    }
    let health: Health = response.body_mut().read_json().ok()?;
    (health.pid == info.pid && health.port == info.port).then_some(info)
}

/// Returns the running server of `options.state_dir`, or starts one detached (in its own
/// process group, output to `server.log`) and waits for its health check. Records the port in
/// `portkey.json` so the next start reuses it.
pub fn ensure_running(options: &StartOptions) -> Result<ServerInfo, LocalError> {
    fs::create_dir_all(&options.state_dir).map_err(|source| LocalError::StateFile {
        path: options.state_dir.clone(),
        source,
    })?;
    let _start_lock = lock_start(&options.state_dir)?;
    if let Some(info) = running(&options.state_dir) {
        return Ok(info);
    }
    state_file::remove_stale(&options.state_dir);

    let project = ProjectFile::load(&options.project_root)?;
    let port = options
        .port
        .or(project.local.port.filter(|port| port_is_free(*port)));
    let log_path = options.state_dir.join(SERVER_LOG_NAME);
    let mut child = spawn_server(options, port, &log_path)?;
    let pid = child.id();

    let started = Instant::now();
    let info = loop {
        if let Some(info) = running(&options.state_dir).filter(|info| info.pid == pid) {
            break info;
        }
        if let Ok(Some(status)) = child.try_wait() {
            return Err(LocalError::ServerExited {
                status: status.to_string(),
                log_tail: log_tail(&log_path),
                log_path,
            });
        }
        if started.elapsed() > options.startup_timeout {
            // A server that is not ready in time is stopped rather than left half-started.
            let _ = child.kill();
            let _ = child.wait();
            return Err(LocalError::StartTimeout {
                waited: options.startup_timeout,
                log_tail: log_tail(&log_path),
                log_path,
            });
        }
        std::thread::sleep(POLL_INTERVAL);
    };

    // Reaps the server when it exits, for callers that outlive it; the thread ends with them.
    std::thread::spawn(move || child.wait());

    if project.local.port != Some(info.port) {
        let port = info.port;
        portkey_project::update(&options.project_root, |project| {
            project.local.port = Some(port)
        })?;
    }
    Ok(info)
}

fn lock_start(state_dir: &Path) -> Result<File, LocalError> {
    let path = state_dir.join(START_LOCK_NAME);
    let state_error = |source| LocalError::StateFile {
        path: path.clone(),
        source,
    };
    let file = OpenOptions::new()
        .create(true)
        .truncate(false)
        .write(true)
        .open(&path)
        .map_err(state_error)?;
    file.lock().map_err(state_error)?;
    Ok(file)
}

fn port_is_free(port: u16) -> bool {
    TcpListener::bind((Ipv4Addr::LOCALHOST, port)).is_ok()
}

fn spawn_server(
    options: &StartOptions,
    port: Option<u16>,
    log_path: &Path,
) -> Result<std::process::Child, LocalError> {
    let log_error = |source| LocalError::StateFile {
        path: log_path.to_path_buf(),
        source,
    };
    let log = File::create(log_path).map_err(log_error)?;
    let log_copy = log.try_clone().map_err(log_error)?;

    let mut command = Command::new(&options.portkey_exe);
    command
        .arg("serve")
        .arg("--project")
        .arg(&options.project_root)
        .arg("--state-dir")
        .arg(&options.state_dir);
    if let Some(port) = port {
        command.arg("--port").arg(port.to_string());
    }
    if let Some(bind) = options.bind {
        command.arg("--bind").arg(bind.to_string());
    }
    command
        .stdin(Stdio::null())
        .stdout(log)
        .stderr(log_copy)
        // Its own process group keeps a Ctrl-C in the caller's terminal from stopping it.
        .process_group(0);
    command.spawn().map_err(|source| LocalError::Spawn {
        exe: options.portkey_exe.clone(),
        source,
    })
}

/// Returns the last few KB of the server log, or a note that it could not be read.
fn log_tail(path: &Path) -> String {
    let read = || -> std::io::Result<String> {
        let mut file = File::open(path)?;
        let length = file.metadata()?.len();
        file.seek(SeekFrom::Start(length.saturating_sub(LOG_TAIL_BYTES)))?;
        let mut bytes = Vec::new();
        file.read_to_end(&mut bytes)?;
        Ok(String::from_utf8_lossy(&bytes).into_owned())
    };
    read().unwrap_or_else(|error| format!("(the log could not be read: {error})"))
}

fn control<T: DeserializeOwned>(
    info: &ServerInfo,
    method: &str,
    path: &str,
) -> Result<T, LocalError> {
    let url = format!("{}{path}", info.url);
    let agent = agent(CONTROL_TIMEOUT);
    let result = match method {
        "POST" => agent.post(&url).send_empty(),
        _ => agent.get(&url).call(),
    };
    let request_error = |message: String| LocalError::Request {
        url: url.clone(),
        message,
    };
    let mut response = result.map_err(|error| request_error(error.to_string()))?;
    let status = response.status().as_u16();
    let body = response
        .body_mut()
        .read_to_string()
        .map_err(|error| request_error(error.to_string()))?;
    if !(200..300).contains(&status) {
        return Err(LocalError::Rejected { url, status, body });
    }
    serde_json::from_str(&body)
        .map_err(|error| request_error(format!("invalid JSON in the answer ({error}): {body}")))
}

/// Makes the server re-read `portkey.json`; returns what changed.
pub fn reload(info: &ServerInfo) -> Result<ReloadReport, LocalError> {
    control(info, "POST", "/_portkey/reload")
}

/// Lists the served mounts with their URLs, and the mounts the server skipped.
pub fn list(info: &ServerInfo) -> Result<MountList, LocalError> {
    control(info, "GET", "/_portkey/mounts")
}

/// Stops the server and waits until its process is gone.
pub fn shutdown(info: &ServerInfo) -> Result<(), LocalError> {
    let requested: Result<serde_json::Value, LocalError> =
        control(info, "POST", "/_portkey/shutdown");
    if let Err(error) = requested {
        if !process_alive(info.pid) {
            return Ok(());
        }
        return Err(error);
    }
    let started = Instant::now();
    while process_alive(info.pid) {
        if started.elapsed() > SHUTDOWN_WAIT {
            return Err(LocalError::ShutdownTimeout {
                pid: info.pid,
                waited: SHUTDOWN_WAIT,
            });
        }
        std::thread::sleep(POLL_INTERVAL);
    }
    Ok(())
}

/// Returns the URL of a template on the server, for example
/// `http://127.0.0.1:9000/hello?name={name}`.
pub fn url_for(info: &ServerInfo, template: &str) -> String {
    format!("{}{template}", info.url)
}

/// Returns whether the process `pid` exists and is not a zombie waiting to be reaped.
fn process_alive(pid: u32) -> bool {
    let Ok(pid) = i32::try_from(pid) else {
        return false;
    };
    // SAFETY: kill(2) with signal 0 only checks that the process exists; it takes plain
    // integers and touches no memory.
    let exists = unsafe { libc::kill(pid, 0) } == 0
        || std::io::Error::last_os_error().raw_os_error() == Some(libc::EPERM);
    if !exists {
        return false;
    }
    !is_zombie(pid)
}

/// Reads the process state from `/proc` on Linux; elsewhere a zombie is not detected.
fn is_zombie(pid: i32) -> bool {
    let Ok(stat) = fs::read_to_string(format!("/proc/{pid}/stat")) else {
        return false;
    };
    // The state follows the command name, which is in parentheses and may contain spaces.
    let state = stat
        .rsplit_once(')')
        .and_then(|(_, rest)| rest.split_whitespace().next());
    state == Some("Z")
}
