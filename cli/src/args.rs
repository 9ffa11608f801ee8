//! Command-line arguments of `portkey` (and `cargo portkey`), parsed with clap.

use std::path::PathBuf;

use clap::{Args, Parser, Subcommand, ValueEnum};
use portkey_report::{MethodShaking, SizeMode};

/// Expose a Rust function as an AWS Lambda behind a URL, shipping only the code it reaches.
#[derive(Debug, Parser)]
#[command(name = "portkey", version, about, propagate_version = true)]
pub struct Cli {
    /// More log output on stderr: -v for info, -vv for debug (`PORTKEY_LOG` overrides both).
    #[arg(short, long, action = clap::ArgAction::Count, global = true)]
    pub verbose: u8,

    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Build a function's image and serve it behind a URL on the local backend.
    Mount(MountArgs),
    /// Build a function's image and report what the shaker kept and removed.
    Shake(ShakeArgs),
    /// Show why a function's image keeps a symbol: the shortest chain of references from the
    /// entry.
    Why(WhyArgs),
    /// List the mounts of this project and their URLs.
    Ls(LsArgs),
    /// Print an OpenAPI 3 document of every local mount, with parameters and schemas derived
    /// from the Rust types.
    Openapi(OpenapiArgs),
    /// Remove a mount.
    Unmount(UnmountArgs),
    /// Call a mounted function through its route, with a request built from a path.
    Invoke(InvokeArgs),
    /// Print the IAM policy an AWS identity needs to deploy with portkey.
    Policy,
    /// Serve every mount locally and redeploy, on each save, the mounts whose kept code changed.
    Dev(DevArgs),
    /// Start the local backend and serve every mount recorded in the project file.
    Up(UpArgs),
    /// Stop the local backend.
    Down(ProjectArgs),
    /// Run the local backend in the foreground (`portkey mount` starts it in the background).
    Serve(ServeArgs),
}

#[derive(Debug, Args)]
pub struct ProjectArgs {
    /// The Cargo.toml of the project; by default the one cargo finds from the current folder.
    #[arg(long, value_name = "PATH", global = true)]
    pub manifest_path: Option<PathBuf>,
}

#[derive(Debug, Args)]
pub struct BuildArgs {
    #[command(flatten)]
    pub project: ProjectArgs,
}

#[derive(Debug, Args)]
pub struct MountArgs {
    /// The function, as a Rust path: `crate::module::function` or `crate::Type::function`.
    pub function: String,

    /// The URL template, such as "/hello?name={name}" or "/users/{id}".
    pub template: String,

    /// The HTTP method; POST, PUT and PATCH also read parameters from a JSON body. By default
    /// GET, or ANY for a function that takes the whole `http::Request`.
    #[arg(long)]
    pub method: Option<String>,

    /// How long one call may run, in seconds (1 to 900, Lambda's range), before the caller
    /// gets a 504.
    #[arg(long, default_value_t = 30, value_name = "SECONDS", value_parser = clap::value_parser!(u32).range(1..=900))]
    pub timeout: u32,

    /// The memory size given to the function, in MB (128 to 10240, Lambda's range).
    #[arg(long, default_value_t = 128, value_name = "MB", value_parser = clap::value_parser!(u32).range(128..=10240))]
    pub memory: u32,

    /// An environment variable for the function, as KEY=VALUE; repeat for more.
    #[arg(long = "env", value_name = "KEY=VALUE")]
    pub env: Vec<String>,

    /// The local backend's port when it is not running yet; by default the port recorded in
    /// the project file, or any free port.
    #[arg(long)]
    pub port: Option<u16>,

    /// What the image trades for bytes. `min` removes backtrace printing, which has no symbols to
    /// print in the stripped image, so panics report their message only. `full` keeps it.
    #[arg(long, value_enum, default_value_t = SizeArg::Min, value_name = "MODE")]
    pub size: SizeArg,

    /// Keep every method of every kept trait object's vtable. By default a method that no
    /// reachable dynamic call can reach is replaced by a trap, and the code only it used leaves
    /// the image.
    #[arg(long)]
    pub no_method_shaking: bool,

    /// The CPU architecture of the image: `x86_64` or `arm64`. An arm64 image is linked with
    /// the toolchain's rust-lld (the aarch64 musl target is added through rustup when missing);
    /// the local backend runs it under qemu-user.
    #[arg(long, value_enum, default_value_t = ArchArg::X86_64, value_name = "ARCH")]
    pub arch: ArchArg,

    /// Where to serve it: `local` (a backend on 127.0.0.1) or `aws` (Lambda behind the project's
    /// HTTP API, or behind its own URL with --function-url).
    #[arg(long, value_enum, default_value_t = Target::Local)]
    pub target: Target,

    /// With --target aws: run the function as this IAM role instead of portkey's own
    /// `portkey-lambda` role (created when missing, with CloudWatch Logs access only).
    #[arg(long, value_name = "ARN")]
    pub role: Option<String>,

    /// With --target aws: give the function its own public function URL instead of a route on
    /// the project's HTTP API.
    #[arg(long)]
    pub function_url: bool,

    /// With --target aws: who may call the route or function URL. `none` makes it public; `iam`
    /// accepts only requests signed with AWS Signature Version 4 by an IAM identity that may
    /// invoke it.
    #[arg(long, value_enum, default_value_t = AuthArg::None, value_name = "AUTH")]
    pub auth: AuthArg,

    #[command(flatten)]
    pub aws: AwsArgs,

    #[command(flatten)]
    pub build: BuildArgs,
}

/// Where mounts are served.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum Target {
    /// The local backend on 127.0.0.1.
    Local,
    /// AWS Lambda.
    Aws,
}

/// How to reach AWS; both follow the standard AWS configuration chain when not given.
#[derive(Debug, Args)]
pub struct AwsArgs {
    /// The AWS region; by default AWS_REGION or the profile's region.
    #[arg(long, value_name = "REGION")]
    pub region: Option<String>,

    /// The AWS profile from ~/.aws/config; by default AWS_PROFILE or `default`.
    #[arg(long, value_name = "NAME")]
    pub profile: Option<String>,
}

impl AwsArgs {
    pub fn options(&self) -> portkey_aws::AwsOptions {
        portkey_aws::AwsOptions {
            profile: self.profile.clone(),
            region: self.region.clone(),
        }
    }
}

#[derive(Debug, Args)]
pub struct DevArgs {
    /// Print one JSON object per rebuild on stdout: the changed files, the mounts redeployed
    /// and left alone, failures, and the time spent building, shaking and swapping.
    #[arg(long)]
    pub json: bool,

    /// With `aws`, also update the code of each redeployed mount that is deployed to AWS.
    #[arg(long, value_enum, default_value_t = Target::Local)]
    pub target: Target,

    #[command(flatten)]
    pub aws: AwsArgs,

    #[command(flatten)]
    pub backend: BackendArgs,

    #[command(flatten)]
    pub project: ProjectArgs,
}

/// The local backend's address and port, for the commands that start it.
#[derive(Debug, Args)]
pub struct BackendArgs {
    /// The local backend's port when it is not running yet; by default the port recorded in
    /// the project file, or any free port.
    #[arg(long)]
    pub port: Option<u16>,

    /// The address the local backend's gateway listens on when it is not running yet: 127.0.0.1
    /// (the default) or another loopback address, or 0.0.0.0 or :: to accept other machines.
    /// The latter prints a warning, because every mount is then public on the network.
    #[arg(long, value_name = "IP", value_parser = parse_listen)]
    pub listen: Option<std::net::IpAddr>,
}

#[derive(Debug, Args)]
pub struct LsArgs {
    /// Which mounts to list: the local backend's or the ones deployed to AWS.
    #[arg(long, value_enum, default_value_t = Target::Local)]
    pub target: Target,

    /// Print the list as JSON.
    #[arg(long)]
    pub json: bool,

    #[command(flatten)]
    pub aws: AwsArgs,

    #[command(flatten)]
    pub project: ProjectArgs,
}

#[derive(Debug, Args)]
pub struct OpenapiArgs {
    /// Write the document into this file instead of printing it.
    #[arg(long, value_name = "FILE")]
    pub out: Option<PathBuf>,

    #[command(flatten)]
    pub project: ProjectArgs,
}

#[derive(Debug, Args)]
pub struct InvokeArgs {
    /// The request path with its query, for example "/hello?name=Ada".
    pub path: String,

    /// Where the function runs; only `aws` is supported (for the local backend, use curl on the
    /// URL `portkey mount` printed).
    #[arg(long, value_enum, default_value_t = Target::Aws)]
    pub target: Target,

    /// The HTTP method of the request.
    #[arg(long, short = 'X', default_value = "GET")]
    pub method: String,

    /// A request body, sent as JSON.
    #[arg(long, value_name = "JSON")]
    pub data: Option<String>,

    #[command(flatten)]
    pub aws: AwsArgs,

    #[command(flatten)]
    pub project: ProjectArgs,
}

#[derive(Debug, Args)]
pub struct ShakeArgs {
    /// The function, as a Rust path: `crate::module::function`.
    #[arg(long = "fn", value_name = "PATH")]
    pub function: String,

    /// Print the report as JSON instead of a table.
    #[arg(long)]
    pub json: bool,

    /// Also copy `bootstrap` and its zip into this folder.
    #[arg(long, value_name = "DIR")]
    pub out: Option<PathBuf>,

    /// What the image trades for bytes. `min` removes backtrace printing, which has no symbols to
    /// print in the stripped image, so panics report their message only. `full` keeps it.
    #[arg(long, value_enum, default_value_t = SizeArg::Min, value_name = "MODE")]
    pub size: SizeArg,

    /// Keep every method of every kept trait object's vtable. By default a method that no
    /// reachable dynamic call can reach is replaced by a trap, and the code only it used leaves
    /// the image.
    #[arg(long)]
    pub no_method_shaking: bool,

    /// The CPU architecture of the image: `x86_64` or `arm64`. An arm64 image is linked with
    /// the toolchain's rust-lld (the aarch64 musl target is added through rustup when missing);
    /// the local backend runs it under qemu-user.
    #[arg(long, value_enum, default_value_t = ArchArg::X86_64, value_name = "ARCH")]
    pub arch: ArchArg,

    /// Fail when the zip is larger than this: bytes, or a number with a unit (`128KiB`,
    /// `1.5MB`; KiB and MiB are powers of 1024, KB and MB of 1000). The error names the largest
    /// crates, functions and native inputs; `--json` adds a `budget` object to the report.
    #[arg(long, value_name = "SIZE", value_parser = parse_size)]
    pub max_size: Option<u64>,

    /// Also draw the kept code as an SVG treemap into this file: crates, then their functions,
    /// each area proportional to its machine-code bytes.
    #[arg(long, value_name = "FILE")]
    pub treemap: Option<PathBuf>,

    #[command(flatten)]
    pub build: BuildArgs,
}

/// Parses a size such as `131072`, `128KiB` or `1.5 MB` into bytes.
fn parse_size(text: &str) -> Result<u64, String> {
    let invalid = || {
        format!("`{text}` is not a size; write a number of bytes, or a number with a unit: 128KiB, 1.5MB, 200000")
    };
    let size: bytesize::ByteSize = text.trim().parse().map_err(|_| invalid())?;
    match size.as_u64() {
        0 => Err(format!("`{text}` is zero bytes; a budget must be above 0")),
        bytes => Ok(bytes),
    }
}

/// The callers an AWS mount accepts.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum AuthArg {
    /// Anyone on the internet.
    None,
    /// Only requests signed by an IAM identity allowed to invoke the mount.
    Iam,
}

impl AuthArg {
    pub fn auth(self) -> portkey_aws::Auth {
        match self {
            AuthArg::None => portkey_aws::Auth::None,
            AuthArg::Iam => portkey_aws::Auth::Iam,
        }
    }
}

/// The image settings of `--size`, `--no-method-shaking` and `--arch`.
pub fn image_settings(size: SizeArg, no_method_shaking: bool, arch: ArchArg) -> crate::image::ImageSettings {
    crate::image::ImageSettings {
        size_mode: size.mode(),
        method_shaking: method_shaking(no_method_shaking),
        target: arch.target(),
    }
}

/// Returns the shaker's method-shaking setting for a `--no-method-shaking` flag.
pub fn method_shaking(no_method_shaking: bool) -> MethodShaking {
    if no_method_shaking {
        MethodShaking::Off
    } else {
        MethodShaking::On
    }
}

/// The `--arch` values of `shake` and `mount`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum ArchArg {
    /// 64-bit x86, Lambda's `x86_64` (static musl, or static glibc when the musl target is
    /// missing).
    #[value(name = "x86_64", alias = "amd64")]
    X86_64,
    /// 64-bit ARM, Lambda's `arm64` (Graviton; static musl).
    #[value(name = "arm64", alias = "aarch64")]
    Arm64,
}

impl ArchArg {
    /// Returns the builder's target choice for this value.
    pub fn target(self) -> portkey_builder::TargetChoice {
        match self {
            ArchArg::X86_64 => portkey_builder::TargetChoice::Auto,
            ArchArg::Arm64 => portkey_builder::TargetChoice::Arm64,
        }
    }

    /// The name recorded in the project file; `None` for the default.
    pub fn recorded(self) -> Option<String> {
        (self == ArchArg::Arm64).then(|| "arm64".to_string())
    }
}

/// The `--size` values of `shake` and `mount`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum SizeArg {
    /// Panic messages without backtraces; std's symbolisation code is removed.
    Min,
    /// Keeps std's backtrace printer, which in the stripped image prints addresses only.
    Full,
}

impl SizeArg {
    /// Returns the shaker's size mode for this value.
    pub fn mode(self) -> SizeMode {
        match self {
            SizeArg::Min => SizeMode::Min,
            SizeArg::Full => SizeMode::Full,
        }
    }
}

#[derive(Debug, Args)]
pub struct WhyArgs {
    /// The symbol: its mangled name, its demangled path with or without the hash, or a part of
    /// the demangled path that only one symbol contains.
    pub symbol: String,

    /// The function whose image is explained, as a Rust path: `crate::module::function`.
    #[arg(long = "fn", value_name = "PATH")]
    pub function: String,

    /// Print the answer as JSON instead of one step per line.
    #[arg(long)]
    pub json: bool,

    #[command(flatten)]
    pub build: BuildArgs,
}

#[derive(Debug, Args)]
pub struct UnmountArgs {
    /// The function path that was mounted.
    pub function: String,

    /// Where to remove it from.
    #[arg(long, value_enum, default_value_t = Target::Local)]
    pub target: Target,

    #[command(flatten)]
    pub aws: AwsArgs,

    #[command(flatten)]
    pub project: ProjectArgs,
}

#[derive(Debug, Args)]
pub struct UpArgs {
    #[command(flatten)]
    pub backend: BackendArgs,

    #[command(flatten)]
    pub project: ProjectArgs,
}

#[derive(Debug, Args)]
pub struct ServeArgs {
    /// The root of the project whose `portkey.json` lists the mounts.
    #[arg(long, value_name = "DIR")]
    pub project: PathBuf,

    /// Where the backend keeps `server.json` and its log.
    #[arg(long, value_name = "DIR")]
    pub state_dir: PathBuf,

    /// The port to listen on; 0 picks any free port.
    #[arg(long, default_value_t = 0)]
    pub port: u16,

    /// The gateway's address.
    #[arg(long, value_name = "IP", default_value = "127.0.0.1", value_parser = parse_listen)]
    pub bind: std::net::IpAddr,

    /// `off` starts no instance before a request needs one, so every first request of a mount
    /// waits for its process to start (the benchmark suite measures cold starts this way).
    #[arg(long, value_enum, default_value_t = Switch::On, value_name = "ON|OFF")]
    pub prewarm: Switch,
}

/// An `on` or `off` value.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum Switch {
    On,
    Off,
}

/// Parses a `--listen` address: a loopback address, or the unspecified address of IPv4 or IPv6.
/// portkey's own commands reach the backend's control endpoints over loopback, which a gateway
/// bound to one other interface would not serve.
fn parse_listen(text: &str) -> Result<std::net::IpAddr, String> {
    let address: std::net::IpAddr = text
        .trim()
        .parse()
        .map_err(|_| format!("`{text}` is not an IP address; use 127.0.0.1, or 0.0.0.0 to accept other machines"))?;
    if address.is_loopback() || address.is_unspecified() {
        Ok(address)
    } else {
        Err(format!(
            "`{text}` is neither a loopback nor the unspecified address; use 0.0.0.0 (or ::) to accept \
             other machines, because portkey's own commands reach the backend over 127.0.0.1"
        ))
    }
}
