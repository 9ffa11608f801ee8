//! The server's settings and the `serve` command line that produces them, so the CLI's `serve`
//! subcommand and the standalone `portkey-local` binary share one parser.

use std::io::IsTerminal;
use std::net::{IpAddr, Ipv4Addr};
use std::path::{Path, PathBuf};
use std::time::Duration;

use crate::LocalError;

/// The default maximum number of instances per mount, that is how many requests to one
/// function run at the same time.
pub const DEFAULT_MAX_INSTANCES: usize = 4;

/// How long an instance may take to request its first invocation; Lambda's init phase limit for
/// on-demand functions is 10 seconds.
pub const DEFAULT_INIT_TIMEOUT: Duration = Duration::from_secs(10);

const USAGE: &str =
    "usage: serve --project DIR [--state-dir DIR] [--port N] [--bind IP] [--max-instances N] [--prewarm on|off]
  --project DIR        the cargo workspace root that holds portkey.json
  --state-dir DIR      where server.json is written (default: <target dir>/portkey/local)
  --port N             the gateway port, 0 for any free port (default: 0)
  --bind IP            the gateway address (default: 127.0.0.1)
  --max-instances N    instances per mount that serve requests in parallel (default: 4)
  --prewarm on|off     start one instance of each new mount before any request (default: on);
                       with off, the first request of a mount waits for its process to start,
                       as after a scale to zero on Lambda";

/// How long the gateway waits for a request's line and headers, counted from when it starts
/// waiting for them. A connection that stays idle this long between requests is closed too.
pub const DEFAULT_HEADER_READ_TIMEOUT: Duration = Duration::from_secs(10);

/// The settings of one local server.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ServerConfig {
    /// The cargo workspace root holding `portkey.json`.
    pub project_root: PathBuf,
    /// The folder for `server.json`, normally `<target>/portkey/local`.
    pub state_dir: PathBuf,
    /// The gateway's address. The Runtime API emulator always listens on 127.0.0.1.
    pub bind: IpAddr,
    /// The gateway's port; 0 picks a free one.
    pub port: u16,
    /// The maximum number of instances per mount.
    pub max_instances_per_mount: usize,
    /// How long a starting instance may take to request its first invocation.
    pub init_timeout: Duration,
    /// How long the gateway waits for a request's line and headers; see
    /// [`DEFAULT_HEADER_READ_TIMEOUT`].
    pub header_read_timeout: Duration,
    /// Whether a new mount, and a mount whose instance exited after a failed request, get an
    /// instance before any request needs one. A mount whose code changed always starts its new
    /// instance first, so traffic moves only to a ready one.
    pub prewarm: bool,
}

impl ServerConfig {
    /// Creates settings for the project at `project_root` with defaults: 127.0.0.1, any port.
    pub fn new(project_root: impl Into<PathBuf>, state_dir: impl Into<PathBuf>) -> ServerConfig {
        ServerConfig {
            project_root: project_root.into(),
            state_dir: state_dir.into(),
            bind: IpAddr::V4(Ipv4Addr::LOCALHOST),
            port: 0,
            max_instances_per_mount: DEFAULT_MAX_INSTANCES,
            init_timeout: DEFAULT_INIT_TIMEOUT,
            header_read_timeout: DEFAULT_HEADER_READ_TIMEOUT,
            prewarm: true,
        }
    }
}

/// Returns `<target>/portkey/local` for the workspace at `project_root`, where `<target>` is
/// `CARGO_TARGET_DIR` when set (relative to `project_root` when relative) and `target` otherwise.
/// Callers that know the workspace's real target folder from cargo metadata should pass
/// `<target>/portkey/local` themselves.
pub fn default_state_dir(project_root: &Path) -> PathBuf {
    let target = match std::env::var_os("CARGO_TARGET_DIR") {
        Some(dir) if !dir.is_empty() => project_root.join(dir),
        _ => project_root.join("target"),
    };
    target.join("portkey").join("local")
}

/// Parses the arguments of `serve` (a leading `serve` word is skipped) into settings.
pub fn parse_serve_args<I, S>(args: I) -> Result<ServerConfig, LocalError>
where
    I: IntoIterator<Item = S>,
    S: Into<String>,
{
    let mut args = args.into_iter().map(Into::into).peekable();
    if args.peek().map(String::as_str) == Some("serve") {
        args.next();
    }

    let mut project_root = None;
    let mut state_dir = None;
    let mut config = ServerConfig::new("", "");
    while let Some(flag) = args.next() {
        if flag == "--help" || flag == "-h" {
            return Err(invalid("help requested"));
        }
        let (name, inline_value) = match flag.split_once('=') {
            Some((name, value)) => (name.to_string(), Some(value.to_string())),
            None => (flag.clone(), None),
        };
        let value = match inline_value {
            Some(value) => value,
            None => args
                .next()
                .ok_or_else(|| invalid(&format!("`{name}` needs a value")))?,
        };
        match name.as_str() {
            "--project" => project_root = Some(PathBuf::from(value)),
            "--state-dir" => state_dir = Some(PathBuf::from(value)),
            "--port" => config.port = parse_number(&name, &value)?,
            "--bind" => {
                config.bind = value
                    .parse()
                    .map_err(|_| invalid(&format!("`--bind {value}` is not an IP address")))?;
            }
            "--max-instances" => {
                config.max_instances_per_mount = parse_number(&name, &value)?;
                if config.max_instances_per_mount == 0 {
                    return Err(invalid("`--max-instances` must be at least 1"));
                }
            }
            "--prewarm" => {
                config.prewarm = match value.as_str() {
                    "on" => true,
                    "off" => false,
                    _ => return Err(invalid(&format!("`--prewarm {value}` must be `on` or `off`"))),
                };
            }
            _ => return Err(invalid(&format!("unknown argument `{flag}`"))),
        }
    }

    let project_root = project_root.ok_or_else(|| invalid("`--project DIR` is required"))?;
    config.state_dir = state_dir.unwrap_or_else(|| default_state_dir(&project_root));
    config.project_root = project_root;
    Ok(config)
}

fn parse_number<T: std::str::FromStr>(name: &str, value: &str) -> Result<T, LocalError> {
    value
        .parse()
        .map_err(|_| invalid(&format!("`{name} {value}` is not a valid number")))
}

fn invalid(message: &str) -> LocalError {
    LocalError::Arguments {
        message: message.to_string(),
        usage: USAGE,
    }
}

/// Runs `serve` with command-line arguments: installs a log subscriber writing to stderr
/// (filtered by `RUST_LOG`, `info` by default), parses `args` and serves until shut down.
pub fn serve_main<I, S>(args: I) -> Result<(), LocalError>
where
    I: IntoIterator<Item = S>,
    S: Into<String>,
{
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info"));
    // A subscriber installed earlier by the caller is kept.
    let _ = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .with_ansi(std::io::stderr().is_terminal())
        .try_init();
    let config = parse_serve_args(args)?;
    crate::serve(config)
}
